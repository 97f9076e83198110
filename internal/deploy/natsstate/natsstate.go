// Package natsstate keeps a fleet's deployment state in a NATS JetStream
// key-value bucket (the configuration's state: nats://HOST:PORT/BUCKET):
// the deployment records every replica writes and follows, the rollout
// lease, route claims, operators' commands and replicas' refusals. It
// implements deploy.Fleet; see docs/deploy.md, "Fleet".
//
// Keys of the bucket:
//
//	lease              the rollout lease (Lease)
//	dep.ID             a deployment record (JSON, deploy.Record)
//	claim.ROUTE        the deployment that last claimed a route (ROUTE base64url)
//	cmd.ID             an operator's command to deployment ID's rollout
//	refusal.ID.REPLICA a replica's refusal of deployment ID's version
package natsstate

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
)

// Options configure Open.
type Options struct {
	// Config is the parsed state key.
	Config gateway.StateConfig
	// Local, when set, also receives every record this replica writes,
	// with the digests its routes serve (the module store's references,
	// which its garbage collection keeps).
	Local deploy.Records
	// Logger; nil uses slog.Default().
	Logger *slog.Logger
}

// State is a fleet's deployment state in a JetStream key-value bucket. It
// implements deploy.Fleet.
type State struct {
	nc      *nats.Conn
	kv      jetstream.KeyValue
	replica string
	local   deploy.Records
	lease   *Lease
	log     *slog.Logger
	// reconnected is signalled when the connection comes back: a watch
	// does not survive a server restart, so it is started again.
	reconnected chan struct{}
}

var _ deploy.Fleet = (*State)(nil)

// claimStale is how long a claim naming a record not written yet still
// holds its route (its writer may have died between the two writes).
const claimStale = time.Minute

// Open connects to the NATS server, creating the bucket (file storage,
// the latest value of each key) when it does not exist.
func Open(ctx context.Context, opts Options) (*State, error) {
	c := opts.Config
	s := &State{replica: c.Replica, local: opts.Local, log: opts.Logger, reconnected: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.replica == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "gateway"
		}
		s.replica = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	nopts := []nats.Option{nats.Name("wasmward " + s.replica), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			s.log.Warn("NATS connection lost: serving the last applied state", "server", c.Server, "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			s.log.Info("NATS connection back: following the fleet's state again", "server", c.Server)
			select {
			case s.reconnected <- struct{}{}:
			default:
			}
		})}
	if c.Creds != "" {
		nopts = append(nopts, nats.UserCredentials(c.Creds))
	}
	nc, err := nats.Connect(c.Server, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.Server, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("JetStream on %s: %w", c.Server, err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: c.Bucket, History: 1, Storage: jetstream.FileStorage,
		Description: "wasmward deployment state"})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, c.Bucket)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("key-value bucket %q on %s: %w", c.Bucket, c.Server, err)
	}
	s.nc, s.kv = nc, kv
	s.lease = NewLease(kv, "lease", s.replica, c.LeaseTTL)
	return s, nil
}

// Close releases the lease (when held, by Run's end) and disconnects.
func (s *State) Close() { s.nc.Close() }

// Replica implements deploy.Fleet.
func (s *State) Replica() string { return s.replica }

// Leading implements deploy.Fleet.
func (s *State) Leading() bool { return s.lease.Held() }

// Lease is the rollout lease.
func (s *State) Lease() *Lease { return s.lease }

// Put implements deploy.Records: the record goes to the bucket (and to
// Options.Local, with the references).
func (s *State) Put(ctx context.Context, r deploy.Record, serving []string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("deployment record %s: %w", r.ID, err)
	}
	if _, err := s.kv.Put(ctx, "dep."+r.ID, b); err != nil {
		return fmt.Errorf("write deployment record %s: %w", r.ID, err)
	}
	if s.local != nil {
		if err := s.local.Put(ctx, r, serving); err != nil {
			return fmt.Errorf("local copy of deployment record %s: %w", r.ID, err)
		}
	}
	return nil
}

// List implements deploy.Records: every record, oldest change first.
func (s *State) List(ctx context.Context) ([]deploy.Record, error) {
	w, err := s.kv.Watch(ctx, "dep.>", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read the deployment records: %w", err)
	}
	defer w.Stop()
	var out []deploy.Record
	for e := range w.Updates() {
		if e == nil {
			break
		}
		var r deploy.Record
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, fmt.Errorf("deployment record %s: %w", e.Key(), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// claim is the value of claim.ROUTE.
type claim struct {
	ID string `json:"id"`
}

// Claim implements deploy.Fleet: the claim names the deployment; a
// deployment in progress (or, for a minute, one whose record is not
// written yet) holds its route.
func (s *State) Claim(ctx context.Context, route, id string) error {
	key := "claim." + base64.RawURLEncoding.EncodeToString([]byte(route))
	val, _ := json.Marshal(claim{ID: id})
	e, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if _, err := s.kv.Create(ctx, key, val); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("%w: another deployment of %s was requested at the same time", deploy.ErrConflict, route)
			}
			return fmt.Errorf("claim %s: %w", route, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("claim %s: %w", route, err)
	}
	var held claim
	_ = json.Unmarshal(e.Value(), &held)
	if held.ID != "" {
		d, err := s.kv.Get(ctx, "dep."+held.ID)
		switch {
		case err == nil:
			var r deploy.Record
			if json.Unmarshal(d.Value(), &r) == nil && !deploy.Final(r.State) {
				return fmt.Errorf("%w: deployment %s is in progress on %s; promote or roll it back first", deploy.ErrConflict, held.ID, route)
			}
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if time.Since(e.Created()) < claimStale {
				return fmt.Errorf("%w: deployment %s was requested on %s a moment ago", deploy.ErrConflict, held.ID, route)
			}
		default:
			return fmt.Errorf("claim %s: %w", route, err)
		}
	}
	if _, err := s.kv.Update(ctx, key, val, e.Revision()); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("%w: another deployment of %s was requested at the same time", deploy.ErrConflict, route)
		}
		return fmt.Errorf("claim %s: %w", route, err)
	}
	return nil
}

// message is the value of cmd.ID and refusal.ID.REPLICA.
type message struct {
	ID      string `json:"id"`
	Op      string `json:"op,omitempty"`
	Replica string `json:"replica"`
	Reason  string `json:"reason,omitempty"`
}

// Command implements deploy.Fleet.
func (s *State) Command(ctx context.Context, id, op string) error {
	b, _ := json.Marshal(message{ID: id, Op: op, Replica: s.replica})
	_, err := s.kv.Put(ctx, "cmd."+id, b)
	return err
}

// Refuse implements deploy.Fleet.
func (s *State) Refuse(ctx context.Context, id, reason string) error {
	b, _ := json.Marshal(message{ID: id, Replica: s.replica, Reason: reason})
	_, err := s.kv.Put(ctx, "refusal."+id+"."+hex.EncodeToString([]byte(s.replica)), b)
	return err
}

// Run implements deploy.Fleet. The lease is stepped alongside (and
// released when ctx ends); a lost watch (the server gone) is started again
// every second and at once after a reconnection (a watch does not survive
// a server restart); its first values, already applied, are delivered
// again.
func (s *State) Run(ctx context.Context, h deploy.FleetHandler) error {
	leases := make(chan bool, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.lease.Run(ctx, func(held bool) { leases <- held }, func(err error) { s.log.Warn("rollout lease", "err", err) })
	}()
	defer func() { <-done }()
	synced := false
	for {
		err := s.watch(ctx, h, leases, &synced)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errReconnected) {
			continue
		}
		s.log.Warn("watch of the fleet's state lost; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// errReconnected ends a watch when the connection came back.
var errReconnected = errors.New("reconnected")

func (s *State) watch(ctx context.Context, h deploy.FleetHandler, leases <-chan bool, synced *bool) error {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	var initial []jetstream.KeyValueEntry
	// Lease changes wait for the first values: a new holder must know
	// the deployments in progress before it decides.
	var lc <-chan bool
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.reconnected:
			return errReconnected
		case held := <-lc:
			h.Lease(held)
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the watch ended")
			}
			if e == nil {
				sort.Slice(initial, func(i, j int) bool { return initial[i].Revision() < initial[j].Revision() })
				for _, e := range initial {
					s.deliver(h, e)
				}
				initial, lc = nil, leases
				if !*synced {
					*synced = true
					h.Synced()
				}
				continue
			}
			if lc == nil {
				initial = append(initial, e)
				continue
			}
			s.deliver(h, e)
		}
	}
}

// deliver hands one entry to h; a value that does not decode is logged
// and skipped (the bucket is shared: a bad write must not stop a replica).
func (s *State) deliver(h deploy.FleetHandler, e jetstream.KeyValueEntry) {
	key := e.Key()
	switch {
	case strings.HasPrefix(key, "dep."):
		var r deploy.Record
		if err := json.Unmarshal(e.Value(), &r); err != nil || r.ID == "" || r.Route == "" {
			s.log.Error("undecodable deployment record in the fleet's state; skipped", "key", key, "revision", e.Revision())
			return
		}
		h.Record(r)
	case strings.HasPrefix(key, "cmd."), strings.HasPrefix(key, "refusal."):
		var m message
		if err := json.Unmarshal(e.Value(), &m); err != nil || m.ID == "" {
			s.log.Error("undecodable message in the fleet's state; skipped", "key", key, "revision", e.Revision())
			return
		}
		if strings.HasPrefix(key, "cmd.") {
			h.Command(m.ID, m.Op)
		} else {
			h.Refusal(m.ID, m.Replica, m.Reason)
		}
	}
}

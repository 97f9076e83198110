package natsstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/events/natstest"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// replica is a gateway with a deployment manager on a fleet's state, in
// this process (the race detector sees the fleet code; the process test
// in cmd/wasmward runs real gateway processes).
type replica struct {
	srv *gateway.Server
	m   *deploy.Manager
	st  *State
}

// active returns the digest of the version the replica serves to all or
// most requests, and the canary's ("" without).
func (r *replica) active(t *testing.T) (string, string) {
	a, c, _, err := r.srv.Versions("/svc")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	if c != nil {
		defer c.Release()
		return a.SHA256(), c.SHA256()
	}
	return a.SHA256(), ""
}

const fleetConfig = `
listen: 127.0.0.1:0
rate_limit: {requests_per_second: 0}
drain_delay: 0s
deploy:
  health_interval: 40ms
  window: 5s
  step_interval: 300ms
  min_requests: 10
  canary_steps: [10, 50, 100]
routes:
  - route: /svc
    module: dep_v1.wasm
    health: {path: "/svc?health"}
`

// modules writes the deployment fixtures into a directory.
func modules(t *testing.T) string {
	dir := t.TempDir()
	for _, n := range []string{"dep_v1", "dep_v2", "dep_broken", "dep_trap"} {
		if err := os.WriteFile(filepath.Join(dir, n+".wasm"), fixture.Bytes(t, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func startReplica(t *testing.T, dir, url, name string, refuse string) *replica {
	t.Helper()
	return startReplicaWith(t, dir, url, name, refuse, deploy.FileResolver(dir))
}

func startReplicaWith(t *testing.T, dir, url, name string, refuse string, resolve deploy.Resolver) *replica {
	t.Helper()
	yml := fleetConfig + "state: " + url + "/fleet?lease_ttl=1s&replica=" + name + "\n"
	cfg, err := gateway.ParseConfig([]byte(yml), name+".yaml", func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, p))
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	opts := gateway.Options{Logger: log}
	if refuse != "" {
		// This replica's trust policy refuses one module.
		opts.Verify = func(_ context.Context, r gateway.Route) (*policy.Policy, error) {
			if digest.SHA256Hex(r.Wasm) == refuse {
				return nil, &sandbox.Refusal{Violation: sandbox.Violation{Kind: sandbox.KindSignature, Detail: "not signed by a trusted key"}}
			}
			return nil, nil
		}
	}
	srv, err := gateway.New(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, Options{Config: cfg.State, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	m, err := deploy.New(ctx, deploy.Options{Server: srv, Rollout: cfg.Rollout, Resolve: resolve, Fleet: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{srv: srv, m: m, st: st}
	var once sync.Once
	t.Cleanup(func() { once.Do(r.close) })
	return r
}

func (r *replica) close() {
	r.m.Close()
	r.st.Close()
	r.srv.Close(context.Background())
}

// final waits for deployment id to reach a final state on r.
func final(t *testing.T, r *replica, id string) deploy.Record {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rec, err := r.m.Get(id)
		if err == nil && deploy.Final(rec.State) {
			return rec
		}
		if time.Now().After(end) {
			t.Fatalf("deployment %s not final on %s: %+v %v", id, r.st.Replica(), rec, err)
		}
	}
}

// A replica whose trust policy refuses the version being deployed keeps
// serving its old one, and the lease holder rolls the deployment back on
// every replica saying which replica refused. Two deployments of one
// route asked of two replicas at once: the route's claim lets one start.
func TestFleetReplicaRefusalAndClaim(t *testing.T) {
	dir := modules(t)
	url := natstest.Start(t)
	sha := func(n string) string { return digest.SHA256Hex(fixture.Bytes(t, n)) }
	r0 := startReplica(t, dir, url, "r0", "")
	for end := time.Now().Add(10 * time.Second); !r0.st.Leading(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) { // the first replica takes the free lease at its first step
			t.Fatal("r0 never took the free lease")
		}
	}
	r1 := startReplica(t, dir, url, "r1", sha("dep_v2"))
	r2 := startReplica(t, dir, url, "r2", "")
	reps := []*replica{r0, r1, r2}

	// Claims: two replicas, one route, at once.
	var wg sync.WaitGroup
	var started, conflicts atomic.Int32
	var ids [2]string
	for i, n := range []struct {
		r   *replica
		mod string
	}{{r0, "dep_trap.wasm"}, {r2, "dep_broken.wasm"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := n.r.m.Deploy(context.Background(), deploy.Request{Route: "/svc", Module: n.mod})
			switch {
			case err == nil:
				started.Add(1)
				ids[i] = rec.ID
			case errors.Is(err, deploy.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("deploy %s: %v", n.mod, err)
			}
		}()
	}
	wg.Wait()
	if started.Load() != 1 || conflicts.Load() != 1 {
		t.Fatalf("two deployments of one route at once: %d started, %d conflicts; want 1 and 1", started.Load(), conflicts.Load())
	}
	for _, id := range ids {
		if id != "" {
			final(t, r0, id)
		}
	}
	before, _ := r0.active(t)
	for _, r := range reps {
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if a, c := r.active(t); a == before && c == "" {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s does not converge on sha256:%s", r.st.Replica(), before[:12])
			}
		}
	}

	// A refusal by r1: r1 never serves the version; all roll back.
	var served atomic.Bool
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if a, c := r1.active(t); a == sha("dep_v2") || c == sha("dep_v2") {
				served.Store(true)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	rec, err := r2.m.Deploy(context.Background(), deploy.Request{Route: "/svc", Module: "dep_v2.wasm"})
	if err != nil {
		t.Fatal(err)
	}
	rec = final(t, r0, rec.ID)
	close(stop)
	<-watched
	if rec.State != deploy.RolledBack || !strings.Contains(rec.Reason, "replica r1 refused the version") || !strings.Contains(rec.Reason, "not signed by a trusted key") {
		t.Fatalf("deployment of a version r1 refuses: %s %q", rec.State, rec.Reason)
	}
	if served.Load() {
		t.Error("r1 served a version its trust policy refuses")
	}
	for _, r := range reps {
		got := final(t, r, rec.ID)
		if got.State != deploy.RolledBack {
			t.Errorf("%s: %s", r.st.Replica(), got.State)
		}
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if a, c := r.active(t); a == before && c == "" {
				break
			}
			if time.Now().After(end) {
				a, c := r.active(t)
				t.Fatalf("%s serves %s/%s after the rollback, want %s", r.st.Replica(), a, c, before)
			}
		}
	}
	// r1's routes say nothing is refused any more (it serves what the
	// fleet says), and who holds the lease.
	for _, r := range reps {
		rs := r.m.Routes()[0]
		if rs.Fleet == nil || rs.Fleet.Replica != r.st.Replica() || rs.Fleet.Leader != (r == r0) || rs.Fleet.Refused != "" {
			t.Errorf("%s: /v1/routes fleet = %+v", r.st.Replica(), rs.Fleet)
		}
	}
}

// A NATS server restart (same address, same storage) does not stop a
// replica from following the fleet's state: records written after it
// reach the watch.
func TestWatchResumesAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := func() *server.Server {
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats server not ready")
		}
		return s
	}
	srv := start()
	cfg, err := gateway.ParseState(fmt.Sprintf("nats://127.0.0.1:%d/fleet?replica=w", port))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := Open(context.Background(), Options{Config: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := make(chan string, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Run(ctx, deploy.FleetHandler{Record: func(r deploy.Record) { got <- r.ID }, Synced: func() {},
			Command: func(string, string) {}, Refusal: func(string, string, string) {}, Lease: func(bool) {}})
	}()
	defer func() { cancel(); <-done }()
	put := func(id string) {
		t.Helper()
		if err := st.Put(context.Background(), deploy.Record{ID: id, Route: "/svc", State: deploy.Succeeded, Steps: []deploy.Step{{}}}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case g := <-got:
			if g != id {
				t.Fatalf("watch delivered %s, want %s", g, id)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("record %s written but not delivered", id)
		}
	}
	put("d-1")
	srv.Shutdown()
	srv.WaitForShutdown()
	srv = start()
	defer srv.Shutdown()
	// Writes fail until the client has reconnected; then the record
	// written must reach the watch (after the already-seen d-1 again).
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := st.Put(context.Background(), deploy.Record{ID: "d-2", Route: "/svc", State: deploy.Succeeded, Steps: []deploy.Step{{}}}, nil); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no write after the restart")
		}
	}
	for end := time.After(15 * time.Second); ; {
		select {
		case g := <-got:
			if g == "d-2" {
				return
			}
		case <-end:
			t.Fatal("a record written after the server restart never reached the watch")
		}
	}
}

// A deployment written straight into the bucket, of an oci:// module:
// replicas whose store holds the record's digest serve it from there,
// verified, without a registry (none is reachable here), and /v1/routes
// still names the oci:// reference.
func TestFleetOCIModuleFromStoreByDigest(t *testing.T) {
	dir := modules(t)
	url := natstest.Start(t)
	v2 := fixture.Bytes(t, "dep_v2")
	const ref = "oci://127.0.0.1:1/team/svc:v2"
	var reps []*replica
	for i := range 2 {
		st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PutBlob(context.Background(), v2); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, startReplicaWith(t, dir, url, fmt.Sprintf("s%d", i), "", deploy.StoreResolver(st, dir, nil)))
	}
	for end := time.Now().Add(10 * time.Second); !reps[0].st.Leading() && !reps[1].st.Leading(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("no replica took the lease")
		}
	}
	v1, _ := reps[0].active(t)
	now := time.Now().UTC()
	rec := deploy.Record{ID: "d-" + now.Format("20060102T150405.000") + "-0000beef", Route: "/svc", Module: ref, SHA256: digest.SHA256Hex(v2),
		Strategy: deploy.Replace, State: deploy.Checking, Previous: v1, Created: now, Updated: now,
		Steps: []deploy.Step{{Time: now, State: deploy.Checking, Detail: "written to the bucket by a test"}}}
	if err := reps[0].st.Claim(context.Background(), "/svc", rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := reps[0].st.Put(context.Background(), rec, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if got := final(t, r, rec.ID); got.State != deploy.Succeeded {
			t.Fatalf("%s: %s %q", r.st.Replica(), got.State, got.Reason)
		}
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if a, c := r.active(t); a == rec.SHA256 && c == "" {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s does not serve the deployed version", r.st.Replica())
			}
		}
		if mod := r.m.Routes()[0].Versions[0].Module; mod != ref {
			t.Errorf("%s: the active version's module is %q, want %q", r.st.Replica(), mod, ref)
		}
	}
}

// An operator's rollback of a canary in progress, asked of a replica that
// does not hold the lease, goes to the holder, and the call returns the
// outcome: rolled back by an operator, everywhere.
func TestFleetOperatorRollbackForwarded(t *testing.T) {
	dir := modules(t)
	url := natstest.Start(t)
	r0 := startReplica(t, dir, url, "r0", "")
	for end := time.Now().Add(10 * time.Second); !r0.st.Leading(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("r0 never took the free lease")
		}
	}
	r1 := startReplica(t, dir, url, "r1", "")
	v1, _ := r0.active(t)
	rec, err := r1.m.Deploy(context.Background(), deploy.Request{Route: "/svc", Module: "dep_v2.wasm", CanaryPercent: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := r1.m.Rollback(ctx, rec.ID)
	if err != nil || got.State != deploy.RolledBack || got.Reason != "rolled back by an operator" {
		t.Fatalf("rollback through r1: %s %q %v", got.State, got.Reason, err)
	}
	for _, r := range []*replica{r0, r1} {
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if a, c := r.active(t); a == v1 && c == "" {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s does not serve the old version alone after the rollback", r.st.Replica())
			}
		}
	}
}

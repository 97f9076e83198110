package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/digest"
)

// Fleet is deployment state shared by a fleet of gateways (Options.Fleet):
// the records of every deployment, written by any replica and seen by
// all, and the rollout lease, which one replica at a time holds. The lease
// holder alone decides a rollout (its canary steps, health verdict and
// rollback) and writes each decision as a record; every replica, the
// holder included, serves what the latest record of each route says, after
// the same trust, scan and compile checks as a local deployment.
// internal/deploy/natsstate implements it on a NATS JetStream key-value
// bucket.
type Fleet interface {
	Records
	// Replica is this gateway's name in the fleet.
	Replica() string
	// Run calls h's functions, one at a time from one goroutine: first
	// Record for every record the fleet holds, oldest change first, then
	// Synced; then each record, command and refusal as any replica writes
	// it, and Lease whenever this replica gains or loses the lease. It
	// returns when ctx ends (reconnecting meanwhile).
	Run(ctx context.Context, h FleetHandler) error
	// Claim reserves route for deployment id with a compare-and-set: it
	// fails (wrapping ErrConflict) while another deployment of the route
	// is in progress.
	Claim(ctx context.Context, route, id string) error
	// Command asks the lease holder to roll back or promote deployment id.
	Command(ctx context.Context, id, op string) error
	// Refuse tells the lease holder this replica refused deployment id's
	// version, and why.
	Refuse(ctx context.Context, id, reason string) error
	// Leading reports whether this replica holds the lease now (it is
	// false once the lease may have expired, renewed or not).
	Leading() bool
}

// FleetHandler receives what Fleet.Run delivers.
type FleetHandler struct {
	Record  func(Record)
	Synced  func()
	Command func(id, op string)
	Refusal func(id, replica, reason string)
	Lease   func(leading bool)
}

// FleetStatus is a route's entry about the fleet in /v1/routes.
type FleetStatus struct {
	// Replica is the gateway answering; Leader whether it holds the
	// rollout lease.
	Replica string `json:"replica"`
	Leader  bool   `json:"leader"`
	// Refused names the deployment whose version this replica refused
	// (trust, scan or compile) and why: it serves its previous version
	// while the fleet's state says otherwise.
	Refused string `json:"refused,omitempty"`
}

// fleetSyncTimeout bounds how long a starting replica waits for the
// fleet's state before it gives up.
const fleetSyncTimeout = 30 * time.Second

// fleetMirror is what a replica keeps of the fleet beyond the records.
type fleetMirror struct {
	mu sync.Mutex
	// pending are versions prepared for deployments in progress that this
	// replica does not drive, by digest (one reference held each).
	pending map[string]*gateway.Version
	// cmds are operators' commands to deployments not driven here (yet):
	// a replica that adopts one later obeys it.
	cmds map[string]string
}

// startFleet follows the fleet's state: it returns once every record the
// fleet holds has been applied.
func (m *Manager) startFleet(ctx context.Context) error {
	m.mirror = &fleetMirror{pending: map[string]*gateway.Version{}, cmds: map[string]string{}}
	synced := make(chan struct{})
	var once sync.Once
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		err := m.fleet.Run(m.ctx, FleetHandler{
			Record: m.fleetRecord, Synced: func() { once.Do(func() { close(synced) }) },
			Command: m.fleetCommand, Refusal: m.fleetRefusal, Lease: m.fleetLease,
		})
		if err != nil && m.ctx.Err() == nil {
			m.log.Error("the fleet's state is no longer followed", "err", err)
		}
	}()
	t := time.NewTimer(fleetSyncTimeout)
	defer t.Stop()
	select {
	case <-synced:
		m.log.Info("fleet state applied", "replica", m.fleet.Replica())
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("the fleet's state was not read within %s", fleetSyncTimeout)
	}
}

// closeFleet releases the versions prepared ahead.
func (m *Manager) closeFleet() {
	if m.mirror == nil {
		return
	}
	m.mirror.mu.Lock()
	defer m.mirror.mu.Unlock()
	for sha, v := range m.mirror.pending {
		v.Release()
		delete(m.mirror.pending, sha)
	}
}

// addSorted adds a record another replica wrote, keeping m.order sorted
// by ID (IDs sort by time). m.mu is held.
func (m *Manager) addSorted(r *Record) {
	m.recs[r.ID] = r
	i := sort.SearchStrings(m.order, r.ID)
	m.order = append(m.order, "")
	copy(m.order[i+1:], m.order[i:])
	m.order[i] = r.ID
}

// driven returns the rollout of deployment id when this replica drives it.
// m.mu is held.
func (m *Manager) driven(id string) *rollout {
	r := m.recs[id]
	if r == nil {
		return nil
	}
	if rs := m.routes[r.Route]; rs != nil && rs.run != nil && rs.run.rec.ID == id {
		return rs.run
	}
	return nil
}

// fleetRecord takes a record from the fleet: a newer state of it (records
// only grow steps) is kept and applied; the lease holder adopts a
// deployment waiting for its checks.
func (m *Manager) fleetRecord(r Record) {
	m.mu.Lock()
	local := m.recs[r.ID]
	newer := local == nil || len(r.Steps) > len(local.Steps)
	if newer && m.driven(r.ID) == nil {
		if c := copyRecord(&r); local == nil {
			m.addSorted(&c)
		} else {
			*local = c
		}
	} else {
		newer = false
	}
	m.mu.Unlock()
	if newer {
		m.applyRecord(r)
	}
	m.maybeDrive(r.ID)
}

// applyRecord makes the route serve what record r says: the version it
// replaced while it is checked or after it failed, both while it is a
// canary, its own once it replaced the old one.
func (m *Manager) applyRecord(r Record) {
	if r.Strategy == Reload || r.Strategy == Restore {
		return
	}
	type want struct{ ref, sha string }
	var act, can want
	pct := 0
	switch r.State {
	case Refused:
		m.dropPending(r.SHA256)
		return
	case Checking:
		// Prepared ahead: a refusal reaches the lease holder before any
		// request reaches the version anywhere.
		m.mu.Lock()
		if rs := m.routes[r.Route]; rs != nil {
			rs.remote = r.ID
			if r.RetryFailed {
				delete(rs.failed, r.SHA256)
			}
		}
		m.mu.Unlock()
		if v, err := m.fleetVersion(r.Route, r.Module, r.SHA256); err != nil {
			m.refuseFleet(r, err)
		} else {
			v.Release()
		}
		return
	case CanaryRun:
		act, can, pct = want{r.PreviousModule, r.Previous}, want{r.Module, r.SHA256}, r.Percent
	case Observing, Succeeded:
		act = want{r.Module, r.SHA256}
	default: // failed, rolled back, interrupted, superseded
		act = want{r.PreviousModule, r.Previous}
	}
	if act.sha == "" {
		return
	}
	a, err := m.fleetVersion(r.Route, act.ref, act.sha)
	if err != nil {
		m.refuseFleet(r, err)
		return
	}
	defer a.Release()
	var c *gateway.Version
	if can.sha != "" {
		if c, err = m.fleetVersion(r.Route, can.ref, can.sha); err != nil {
			m.refuseFleet(r, err)
			return
		}
		defer c.Release()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.routes[r.Route]
	if rs == nil {
		return
	}
	if err := m.srv.SetVersions(r.Route, a, c, pct); err != nil {
		m.log.Error("fleet state not applied", "route", r.Route, "deployment", r.ID, "err", err)
		return
	}
	rs.refused = ""
	m.log.Info("fleet state applied", "route", r.Route, "deployment", r.ID, "state", r.State, "percent", pct)
	if !Final(r.State) {
		rs.remote = r.ID
		return
	}
	if rs.remote == r.ID {
		rs.remote = ""
	}
	m.dropPending(r.SHA256)
	m.mirror.mu.Lock()
	delete(m.mirror.cmds, r.ID)
	m.mirror.mu.Unlock()
	switch r.State {
	case Succeeded:
		if rs.activeDep != r.ID {
			if rs.previous != nil {
				rs.previous.Release()
			}
			rs.previous, rs.previousRef, rs.previousSHA, rs.previousDep = nil, r.PreviousModule, r.Previous, rs.activeDep
			rs.activeDep = r.ID
		}
	case Failed, RolledBack:
		rs.failed[r.SHA256] = r.ID
		if rs.activeDep == r.ID { // an operator rolled back the active deployment
			if rs.previous != nil {
				rs.previous.Release()
			}
			rs.activeDep, rs.previous, rs.previousRef, rs.previousSHA = rs.previousDep, nil, "", ""
		}
	}
	m.metrics.deployments.WithLabelValues(r.Route, r.State).Inc()
	m.srv.Event(audit.Event{Type: "deployment", Route: r.Route, Module: r.Module, SHA256: r.SHA256,
		Detail: fmt.Sprintf("deployment %s %s: applied from the fleet's state", r.ID, r.State)})
}

// fleetVersion returns a version of route for sha, with a reference for
// the caller: one the route serves or holds already, else one prepared
// from ref (resolved, its digest checked, trust, scan, compile).
func (m *Manager) fleetVersion(route, ref, sha string) (*gateway.Version, error) {
	if a, c, _, err := m.srv.Versions(route); err == nil {
		var out *gateway.Version
		for _, v := range []*gateway.Version{a, c} {
			if v != nil && out == nil && v.SHA256() == sha && v.Retain() {
				out = v
			}
			if v != nil {
				v.Release()
			}
		}
		if out != nil {
			return out, nil
		}
	}
	m.mu.Lock()
	if rs := m.routes[route]; rs != nil && rs.previous != nil && rs.previous.SHA256() == sha && rs.previous.Retain() {
		m.mu.Unlock()
		return rs.previous, nil
	}
	m.mu.Unlock()
	m.mirror.mu.Lock()
	if v := m.mirror.pending[sha]; v != nil && v.Route() == route && v.Retain() {
		m.mirror.mu.Unlock()
		return v, nil
	}
	m.mirror.mu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Minute)
	defer cancel()
	v, err := m.prepareFleet(ctx, route, ref, sha)
	if err != nil {
		return nil, err
	}
	v.Retain()
	m.keepPending(v)
	return v, nil
}

// keepPending keeps v (the caller's reference) as the version prepared
// ahead for its digest.
func (m *Manager) keepPending(v *gateway.Version) {
	m.mirror.mu.Lock()
	defer m.mirror.mu.Unlock()
	if old := m.mirror.pending[v.SHA256()]; old != nil {
		old.Release()
	}
	m.mirror.pending[v.SHA256()] = v
}

// prepareFleet prepares the version of a record: an oci:// module whose
// digest the store holds already (a shared store, or fetched before) is
// read from it by digest, verified, instead of fetched again; anything else
// (or a digest the store lacks) is resolved from the record's reference.
// Either way the bytes must hash to sha, and trust, scan and compile run on
// them.
func (m *Manager) prepareFleet(ctx context.Context, route, ref, sha string) (*gateway.Version, error) {
	if strings.HasPrefix(ref, "oci://") {
		if src, err := m.resolve(ctx, "sha256:"+sha); err == nil && digest.SHA256Hex(src.Wasm) == sha {
			src.Ref = ref
			return m.srv.Prepare(ctx, route, src)
		}
	}
	return m.prepare(ctx, route, ref, sha)
}

// dropPending releases the version prepared ahead for sha.
func (m *Manager) dropPending(sha string) {
	m.mirror.mu.Lock()
	defer m.mirror.mu.Unlock()
	if v := m.mirror.pending[sha]; v != nil {
		v.Release()
		delete(m.mirror.pending, sha)
	}
}

// refuseFleet records that this replica cannot serve what record r says:
// the route keeps serving what it serves (the refusal was audited by the
// gateway), and the lease holder is told while the deployment is in
// progress.
func (m *Manager) refuseFleet(r Record, err error) {
	m.log.Error("this replica refuses the fleet's version; it keeps serving its current one",
		"route", r.Route, "deployment", r.ID, "state", r.State, "err", err)
	m.mu.Lock()
	if rs := m.routes[r.Route]; rs != nil {
		rs.refused = r.ID + ": " + err.Error()
	}
	m.mu.Unlock()
	if Final(r.State) {
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	defer cancel()
	if err := m.fleet.Refuse(ctx, r.ID, err.Error()); err != nil {
		m.log.Error("refusal not sent to the lease holder", "deployment", r.ID, "err", err)
	}
}

// maybeDrive starts the rollout of deployment id when this replica holds
// the lease and the deployment waits for its checks.
func (m *Manager) maybeDrive(id string) {
	if !m.fleet.Leading() {
		return
	}
	m.mu.Lock()
	r := m.recs[id]
	if r == nil || r.State != Checking {
		m.mu.Unlock()
		return
	}
	rs := m.routes[r.Route]
	switch {
	case rs == nil:
		m.transition(r, Refused, fmt.Sprintf("the lease holder %s has no route %s", m.fleet.Replica(), r.Route))
	case rs.run != nil && rs.run.rec.ID == id:
		m.mu.Unlock()
		return
	case rs.run != nil:
		m.transition(r, Refused, fmt.Sprintf("deployment %s is in progress on %s", rs.run.rec.ID, r.Route))
	default:
		m.mu.Unlock()
		m.drive(id)
		return
	}
	m.persist(r)
	m.mu.Unlock()
}

// drive runs deployment id's rollout here: its version is prepared (the
// lease holder checks it too) and the rollout decides for the fleet.
func (m *Manager) drive(id string) {
	m.mu.Lock()
	r := m.recs[id]
	route, ref, sha := r.Route, r.Module, r.SHA256
	m.mu.Unlock()
	v, err := m.fleetVersion(route, ref, sha)
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.routes[route]
	if r.State != Checking || rs == nil || rs.run != nil || !m.fleet.Leading() {
		if v != nil {
			v.Release()
		}
		return
	}
	if err != nil {
		m.transition(r, Refused, err.Error())
		m.persist(r)
		m.metrics.deployments.WithLabelValues(route, Refused).Inc()
		return
	}
	active, _, _, err := m.srv.Versions(route)
	if err != nil {
		v.Release()
		return
	}
	r.Previous, r.PreviousModule = active.SHA256(), active.Ref()
	ro := &rollout{rec: r, v: v, old: active, ctl: make(chan string, 1), done: make(chan struct{}),
		refusal: make(chan string, 1), stop: make(chan struct{})}
	rs.run, rs.remote = ro, ""
	m.mirror.mu.Lock()
	if op, ok := m.mirror.cmds[id]; ok {
		ro.ctl <- op
		delete(m.mirror.cmds, id)
	}
	m.mirror.mu.Unlock()
	m.srv.Event(audit.Event{Type: "deployment", Route: route, Module: ref, SHA256: sha,
		Detail: fmt.Sprintf("deployment %s started (%s) by lease holder %s", id, strategyDetail(r), m.fleet.Replica())})
	m.wg.Add(1)
	go m.run(ro)
}

// fleetCommand delivers an operator's command to a rollout driven here.
func (m *Manager) fleetCommand(id, op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ro := m.driven(id); ro != nil {
		select {
		case ro.ctl <- op:
		default:
		}
		return
	}
	if r := m.recs[id]; r == nil || !Final(r.State) {
		m.mirror.mu.Lock()
		m.mirror.cmds[id] = op
		m.mirror.mu.Unlock()
	}
}

// fleetRefusal delivers a replica's refusal to a rollout driven here.
func (m *Manager) fleetRefusal(id, replica, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ro := m.driven(id); ro != nil {
		select {
		case ro.refusal <- fmt.Sprintf("replica %s refused the version: %s", replica, reason):
		default:
		}
	}
}

// fleetLease reacts to this replica gaining or losing the lease. Gained:
// deployments waiting for their checks are adopted, and a rollout its lost
// holder left in progress is interrupted (every replica goes back to the
// version it replaced: its health evidence went with the holder). Lost:
// the rollouts driven here stop deciding, and the route serves what it
// serves until the new holder's decision arrives.
func (m *Manager) fleetLease(leading bool) {
	m.log.Info("rollout lease", "replica", m.fleet.Replica(), "held", leading)
	m.mu.Lock()
	if !leading {
		for _, rs := range m.routes {
			if ro := rs.run; ro != nil && ro.stop != nil {
				ro.cancelled, ro.stopped = true, true
				close(ro.stop)
				rs.run, rs.remote = nil, ro.rec.ID
			}
		}
		m.mu.Unlock()
		return
	}
	var adopt []string
	var interrupted []Record
	for _, rs := range m.routes {
		if rs.remote == "" || rs.run != nil {
			continue
		}
		r := m.recs[rs.remote]
		switch {
		case r == nil || Final(r.State):
			rs.remote = ""
		case r.State == Checking:
			adopt = append(adopt, r.ID)
		default:
			m.transition(r, Interrupt, "the lease holder that ran it was lost; the version it replaced serves")
			m.persist(r)
			interrupted = append(interrupted, copyRecord(r))
		}
	}
	m.mu.Unlock()
	for _, r := range interrupted {
		m.applyRecord(r)
	}
	sort.Strings(adopt)
	for _, id := range adopt {
		m.maybeDrive(id)
	}
}

// deployFleet is Deploy on a fleet: the route is claimed in the fleet's
// state, the version checked here (a refusal answers at once), and the
// request written for the lease holder, which runs the rollout.
func (m *Manager) deployFleet(ctx context.Context, req Request, src gateway.ModuleSource, sha string) (Record, error) {
	m.mu.Lock()
	rs, active, rec, err := m.newDeployment(req, sha, "trust, scan and compile on "+m.fleet.Replica())
	if err != nil {
		m.mu.Unlock()
		return Record{}, err
	}
	active.Release()
	m.mu.Unlock()
	if err := m.fleet.Claim(ctx, req.Route, rec.ID); err != nil {
		return Record{}, err
	}
	v, perr := m.srv.Prepare(ctx, req.Route, src)
	if perr == nil {
		m.keepPending(v)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addSorted(rec)
	if perr != nil {
		m.transition(rec, Refused, perr.Error())
		m.persist(rec)
		m.metrics.deployments.WithLabelValues(req.Route, Refused).Inc()
		return *rec, fmt.Errorf("%w: %v", ErrRefused, perr)
	}
	if err := m.records.Put(ctx, copyRecord(rec), m.serving(req.Route)); err != nil {
		m.transition(rec, Refused, "the fleet's state cannot be written: "+err.Error())
		return *rec, fmt.Errorf("write the deployment to the fleet's state: %w", err)
	}
	rs.remote = rec.ID
	if req.RetryFailed {
		delete(rs.failed, sha)
	}
	return *rec, nil
}

// forward sends an operator's command for a deployment in progress that
// another replica drives, and waits until it is final.
func (m *Manager) forward(ctx context.Context, id, op string) (Record, error) {
	if err := m.fleet.Command(ctx, id, op); err != nil {
		return Record{}, fmt.Errorf("send %s of %s to the lease holder: %w", op, id, err)
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if r, err := m.Get(id); err != nil || Final(r.State) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return Record{}, fmt.Errorf("%s of %s: %w", op, id, ctx.Err())
		case <-t.C:
		}
	}
}

// releaseStopped releases what a rollout stopped by the loss of the lease
// held (a finished or cancelled rollout released it already).
func (m *Manager) releaseStopped(ro *rollout) {
	m.mu.Lock()
	stopped := ro.stopped
	m.mu.Unlock()
	if stopped {
		ro.old.Release()
		ro.v.Release()
	}
}

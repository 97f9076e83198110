// Package deploy changes what a running gateway serves: deployments of a
// new module version to a route, checked before any request reaches it
// (trust, scan, compile, a synthetic health check), rolled out all at once
// (replace) or to a growing share of requests (canary) while its live
// signals stay within thresholds, and rolled back automatically to the
// last healthy version when they do not. Deployment records persist, so
// history and failed versions survive a restart. The admin API that drives
// it is Manager.Handler; Client is its caller.
//
// See docs/deploy.md for the states and what each guarantees.
package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/store"
)

// Strategies.
const (
	Replace = "replace"
	Canary  = "canary"
	// Reload and Restore are the strategies of the records a configuration
	// reload and a restart write.
	Reload  = "reload"
	Restore = "restore"
)

// Deployment states. Checking, CanaryState and Observing are in progress;
// the rest are final.
const (
	Checking   = "checking"    // prepared; the synthetic check runs before any traffic
	CanaryRun  = "canary"      // a share of requests goes to the new version
	Observing  = "observing"   // replaced; watched for step_interval
	Succeeded  = "succeeded"   // the new version is active
	Refused    = "refused"     // trust, scan or compile refused the bytes; nothing changed
	Failed     = "failed"      // the synthetic check failed before any traffic
	RolledBack = "rolled_back" // served, breached (or an operator said so), back on the previous version
	Superseded = "superseded"  // a configuration reload replaced the route meanwhile
	Interrupt  = "interrupted" // the gateway stopped while it was in progress
)

// Final reports whether a deployment state is final.
func Final(state string) bool {
	switch state {
	case Checking, CanaryRun, Observing:
		return false
	}
	return true
}

// Errors the API maps to status codes (each returned wrapped).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrRefused  = errors.New("refused")
	ErrBadInput = errors.New("bad request")
	ErrReadOnly = errors.New("the admin API is read-only: the configuration names no admin_token_file")
	// ErrUntrusted is wrapped by a Resolver's error when the trust policy
	// refused what a reference names before its bytes were stored or
	// compiled (an OCI artefact published by no trusted key): the
	// deployment is recorded as refused and audited (module_refused, kind
	// signature).
	ErrUntrusted = errors.New("refused by the trust policy")
)

// Request asks for a deployment.
type Request struct {
	// Route is the route's label ("/api" or "/api/...").
	Route string `json:"route"`
	// Module is a module reference: a path (on the gateway's host),
	// sha256:HEX (a store digest) or oci://REGISTRY/REPO[:TAG][@sha256:...].
	Module string `json:"module"`
	// Strategy is replace or canary; empty means canary when
	// CanaryPercent is set, else replace.
	Strategy string `json:"strategy,omitempty"`
	// CanaryPercent is the canary's first share of requests (1 to 99).
	CanaryPercent int `json:"canary_percent,omitempty"`
	// RetryFailed deploys a version that failed or was rolled back on this
	// route before; without it such a deployment is refused.
	RetryFailed bool `json:"retry_failed,omitempty"`
}

// Record is one deployment, as stored and as the API returns it.
type Record struct {
	ID            string `json:"id"`
	Route         string `json:"route"`
	Module        string `json:"module"`
	SHA256        string `json:"sha256,omitempty"`
	Strategy      string `json:"strategy"`
	CanaryPercent int    `json:"canary_percent,omitempty"`
	RetryFailed   bool   `json:"retry_failed,omitempty"`
	// State is one of the state constants; Percent the canary's share now.
	State   string `json:"state"`
	Percent int    `json:"percent,omitempty"`
	// Reason says why a deployment was refused, failed or rolled back.
	Reason string `json:"reason,omitempty"`
	// Previous is the version the deployment replaced (its rollback
	// target), Base the route's configured module's digest when it began.
	Previous       string    `json:"previous,omitempty"`
	PreviousModule string    `json:"previous_module,omitempty"`
	Base           string    `json:"base,omitempty"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	// Steps are the deployment's transitions, oldest first.
	Steps []Step `json:"steps"`
}

// Step is one transition of a deployment.
type Step struct {
	Time   time.Time `json:"time"`
	State  string    `json:"state"`
	Detail string    `json:"detail,omitempty"`
}

// Records persists deployment records. Put replaces the record with the
// same ID and, in the same transaction, records the digests the record's
// route may serve or roll back to now (what the module store's GC keeps);
// List returns the records, oldest first.
type Records interface {
	Put(ctx context.Context, r Record, serving []string) error
	List(ctx context.Context) ([]Record, error)
}

// Resolver turns a module reference into the module's bytes and trust
// material. It is the one place references are understood.
type Resolver func(ctx context.Context, ref string) (gateway.ModuleSource, error)

// Options configure a Manager.
type Options struct {
	// Server is the gateway whose routes the manager changes.
	Server *gateway.Server
	// Rollout is the configuration's deploy block.
	Rollout gateway.Rollout
	// Resolve reads module references.
	Resolve Resolver
	// Records keeps the deployment history; nil keeps it in memory only.
	Records Records
	// Fleet, when set, is the state a fleet of gateways shares: records
	// go there (not to Records), and rollouts are decided by the replica
	// holding its lease. See Fleet.
	Fleet Fleet
	// Token is the admin API's bearer token; nil makes the API read-only.
	Token []byte
	// Reload reloads the configuration (POST /v1/reload, SIGHUP): it
	// loads and validates the file and calls Server.Reload.
	Reload func(ctx context.Context) (*gateway.ReloadResult, error)
	// Logger; nil uses slog.Default().
	Logger *slog.Logger
}

// Manager runs deployments on a gateway. Its methods are safe for
// concurrent use.
type Manager struct {
	srv     *gateway.Server
	ro      gateway.Rollout
	resolve Resolver
	records Records
	fleet   Fleet
	mirror  *fleetMirror
	token   []byte
	reload  func(ctx context.Context) (*gateway.ReloadResult, error)
	log     *slog.Logger
	metrics *deployMetrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the route states and the records in memory, and
	// serializes every change of what a route serves.
	mu     sync.Mutex
	routes map[string]*routeState
	recs   map[string]*Record
	order  []string // record IDs, oldest first
}

// routeState is what the manager knows of a route beyond what it serves.
type routeState struct {
	activeDep string // the deployment that made the active version active
	// previous is the rollback target of the active version: a compiled
	// version (a reference held) or only its reference after a restart.
	previous    *gateway.Version
	previousRef string
	previousSHA string
	previousDep string
	// base is the configured module's digest.
	base   string
	failed map[string]string // digest -> the deployment that failed it
	run    *rollout
	// remote is the deployment in progress that another replica of the
	// fleet drives; refused says why this replica does not serve what
	// the fleet's state says.
	remote  string
	refused string
}

// rollout is a deployment in progress.
type rollout struct {
	rec  *Record
	v    *gateway.Version
	old  *gateway.Version // the active version it replaces (reference held)
	ctl  chan string      // "rollback", "promote"
	done chan struct{}
	// cancelled by a reload: the route is no longer the rollout's.
	cancelled bool
	// refusal carries a fleet replica's refusal of the version; stop is
	// closed (and stopped set) when this replica lost the fleet's lease:
	// the rollout stops deciding, without a word.
	refusal chan string
	stop    chan struct{}
	stopped bool
}

// New starts a manager: it reads the records (marking deployments that
// were in progress as interrupted), restores on each route the version its
// last successful deployment made active when the route's configured
// module is still the one that deployment replaced, and remembers the
// failed versions.
func New(ctx context.Context, opts Options) (*Manager, error) {
	m := &Manager{
		srv: opts.Server, ro: opts.Rollout, resolve: opts.Resolve, records: opts.Records, fleet: opts.Fleet, token: opts.Token,
		reload: opts.Reload, log: opts.Logger, routes: map[string]*routeState{}, recs: map[string]*Record{},
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.records == nil {
		m.records = &MemoryRecords{}
	}
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.metrics = newDeployMetrics(m)
	if err := m.srv.RegisterMetrics(m.metrics.collectors()...); err != nil {
		return nil, err
	}
	for _, label := range m.srv.RouteLabels() {
		m.routes[label] = m.newRouteState(label)
	}
	if m.fleet != nil {
		m.records = m.fleet
		if err := m.startFleet(ctx); err != nil {
			m.Close()
			return nil, fmt.Errorf("follow the fleet's state: %w", err)
		}
		return m, nil
	}
	list, err := m.records.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("read deployment records: %w", err)
	}
	for i := range list {
		r := list[i]
		m.recs[r.ID] = &r
		m.order = append(m.order, r.ID)
	}
	for _, id := range m.order {
		r := m.recs[id]
		if !Final(r.State) {
			m.transition(r, Interrupt, "the gateway stopped while the deployment was in progress; the version it replaced serves")
			m.persist(r)
		}
		rs := m.routes[r.Route]
		if rs == nil {
			continue
		}
		if r.RetryFailed {
			delete(rs.failed, r.SHA256)
		}
		if r.State == Failed || r.State == RolledBack {
			rs.failed[r.SHA256] = r.ID
		}
	}
	for label, rs := range m.routes {
		if err := m.restore(ctx, label, rs); err != nil {
			m.log.Warn("deployed version not restored; the configured module serves", "route", label, "err", err)
		}
	}
	return m, nil
}

func (m *Manager) newRouteState(label string) *routeState {
	rs := &routeState{failed: map[string]string{}}
	if a, c, _, err := m.srv.Versions(label); err == nil {
		rs.base = a.SHA256()
		a.Release()
		if c != nil {
			c.Release()
		}
	}
	return rs
}

// restore makes active the version of the route's last successful
// deployment, when the configured module is the one it replaced.
func (m *Manager) restore(ctx context.Context, label string, rs *routeState) error {
	var last *Record
	for _, id := range m.order {
		r := m.recs[id]
		if r.Route != label {
			continue
		}
		switch {
		case r.Strategy == Reload:
			last = nil // the configuration changed the route after it
		case r.State == Succeeded:
			last = r
		}
	}
	if last == nil || last.SHA256 == rs.base || last.Base != rs.base {
		return nil
	}
	if _, failed := rs.failed[last.SHA256]; failed {
		return nil
	}
	v, err := m.prepare(ctx, label, last.Module, last.SHA256)
	if err != nil {
		return err
	}
	defer v.Release()
	if err := m.srv.SetVersions(label, v, nil, 0); err != nil {
		return err
	}
	rs.activeDep = last.ID
	rs.previousRef, rs.previousSHA, rs.previousDep = last.PreviousModule, last.Previous, ""
	m.log.Info("deployed version restored", "route", label, "deployment", last.ID, "sha256", last.SHA256)
	return nil
}

// prepare resolves ref and prepares it on route, checking the digest when
// want is set.
func (m *Manager) prepare(ctx context.Context, route, ref, want string) (*gateway.Version, error) {
	src, err := m.resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	if want != "" {
		if digest.SHA256Hex(src.Wasm) != want {
			return nil, fmt.Errorf("resolve %s: the module's digest is no longer %s", ref, want)
		}
	}
	return m.srv.Prepare(ctx, route, src)
}

// Close stops the rollouts in progress (their records say interrupted;
// what each route serves stays as it is) and releases the versions held.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
	m.closeFleet()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rs := range m.routes {
		if rs.previous != nil {
			rs.previous.Release()
			rs.previous = nil
		}
	}
}

// Deploy starts a deployment. The module is resolved, checked (trust,
// scan) and compiled before Deploy returns: a refusal returns the record
// (state refused) with an error wrapping ErrRefused, and the route keeps
// serving what it served. Otherwise the rollout continues in the
// background; Get follows it.
func (m *Manager) Deploy(ctx context.Context, req Request) (Record, error) {
	if err := m.check(&req); err != nil {
		return Record{}, err
	}
	src, err := m.resolve(ctx, req.Module)
	switch {
	case errors.Is(err, ErrUntrusted):
		return m.refuseResolved(req, "signature", err)
	case errors.Is(err, store.ErrDigestMismatch):
		return m.refuseResolved(req, "digest", err)
	}
	if err != nil {
		return Record{}, fmt.Errorf("%w: resolve %s: %v", ErrBadInput, req.Module, err)
	}
	sha := digest.SHA256Hex(src.Wasm)
	if m.fleet != nil {
		return m.deployFleet(ctx, req, src, sha)
	}

	m.mu.Lock()
	rs, active, rec, err := m.newDeployment(req, sha, "trust, scan and compile")
	if err != nil {
		m.mu.Unlock()
		return Record{}, err
	}
	// The route is reserved while the module is prepared: a second
	// deployment waits for no lock, it is told of this one.
	ro := &rollout{rec: rec, old: active, ctl: make(chan string, 1), done: make(chan struct{})}
	rs.run = ro
	m.add(rec)
	if req.RetryFailed {
		delete(rs.failed, sha)
	}
	m.mu.Unlock()

	v, err := m.srv.Prepare(ctx, req.Route, src)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		rs.run = nil
		active.Release()
		close(ro.done)
		m.transition(rec, Refused, err.Error())
		m.persist(rec)
		m.metrics.deployments.WithLabelValues(req.Route, Refused).Inc()
		return *rec, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	ro.v = v
	m.srv.Event(audit.Event{Type: "deployment", Route: req.Route, Module: req.Module, SHA256: sha,
		Detail: fmt.Sprintf("deployment %s started (%s)", rec.ID, strategyDetail(rec))})
	m.persist(rec)
	m.wg.Add(1)
	go m.run(ro)
	return *rec, nil
}

// newDeployment checks that req (whose module hashes to sha) may start
// on its route and returns the route's state, its active version (a
// reference for the caller) and the new record, state checking. m.mu is
// held.
func (m *Manager) newDeployment(req Request, sha, detail string) (*routeState, *gateway.Version, *Record, error) {
	rs := m.routes[req.Route]
	if rs == nil {
		return nil, nil, nil, fmt.Errorf("%w: route %q", ErrNotFound, req.Route)
	}
	if rs.run != nil {
		return nil, nil, nil, fmt.Errorf("%w: deployment %s is in progress on %s; promote or roll it back first", ErrConflict, rs.run.rec.ID, req.Route)
	}
	if id, failed := rs.failed[sha]; failed && !req.RetryFailed {
		return nil, nil, nil, fmt.Errorf("%w: version sha256:%s failed on %s (deployment %s); deploy it again with retry_failed (--retry-failed) or promote that deployment", ErrConflict, sha, req.Route, id)
	}
	active, _, _, err := m.srv.Versions(req.Route)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	if active.SHA256() == sha {
		active.Release()
		return nil, nil, nil, fmt.Errorf("%w: sha256:%s is already active on %s", ErrConflict, sha, req.Route)
	}
	now := time.Now().UTC()
	return rs, active, &Record{
		ID: newID(now), Route: req.Route, Module: req.Module, SHA256: sha, Strategy: req.Strategy,
		CanaryPercent: req.CanaryPercent, RetryFailed: req.RetryFailed, State: Checking,
		Previous: active.SHA256(), PreviousModule: active.Ref(), Base: rs.base, Created: now, Updated: now,
		Steps: []Step{{Time: now, State: Checking, Detail: detail}},
	}, nil
}

// refuseResolved records and audits (module_refused, kind) a deployment
// whose module was refused while it was resolved: by the trust policy
// (kind signature) or because the content fetched did not match its digest
// (kind digest). Nothing was stored or compiled and the route serves what
// it served.
func (m *Manager) refuseResolved(req Request, kind string, err error) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.routes[req.Route]
	if rs == nil {
		return Record{}, fmt.Errorf("%w: route %q", ErrNotFound, req.Route)
	}
	now := time.Now().UTC()
	rec := &Record{ID: newID(now), Route: req.Route, Module: req.Module, Strategy: req.Strategy, CanaryPercent: req.CanaryPercent,
		RetryFailed: req.RetryFailed, State: Checking, Base: rs.base, Created: now, Updated: now,
		Steps: []Step{{Time: now, State: Checking, Detail: "resolve and verify the publisher"}}}
	m.add(rec)
	reason := fmt.Sprintf("resolve %s: %v", req.Module, err)
	m.transition(rec, Refused, reason)
	m.srv.Event(audit.Event{Type: audit.TypeModuleRefused, Route: req.Route, Module: req.Module, Kind: kind, Detail: reason})
	m.metrics.deployments.WithLabelValues(req.Route, Refused).Inc()
	m.persist(rec)
	return *rec, fmt.Errorf("%w: %s", ErrRefused, reason)
}

func strategyDetail(r *Record) string {
	if r.Strategy == Canary {
		return fmt.Sprintf("canary from %d%%", r.CanaryPercent)
	}
	return r.Strategy
}

// check validates a request and fills in its strategy.
func (m *Manager) check(req *Request) error {
	if req.Route == "" || req.Module == "" {
		return fmt.Errorf("%w: route and module are required", ErrBadInput)
	}
	if req.Strategy == "" {
		req.Strategy = Replace
		if req.CanaryPercent != 0 {
			req.Strategy = Canary
		}
	}
	switch req.Strategy {
	case Replace:
		if req.CanaryPercent != 0 {
			return fmt.Errorf("%w: canary_percent is for the canary strategy", ErrBadInput)
		}
	case Canary:
		if req.CanaryPercent == 0 {
			req.CanaryPercent = m.ro.CanarySteps[0]
		}
		if req.CanaryPercent < 1 || req.CanaryPercent > 99 {
			return fmt.Errorf("%w: canary_percent %d is not 1 to 99", ErrBadInput, req.CanaryPercent)
		}
	default:
		return fmt.Errorf("%w: strategy %q is not replace or canary", ErrBadInput, req.Strategy)
	}
	return nil
}

// run drives a rollout to a final state.
func (m *Manager) run(ro *rollout) {
	defer m.wg.Done()
	defer close(ro.done)
	defer m.releaseStopped(ro)
	rec := ro.rec
	rc, _ := m.srv.RouteConfig(rec.Route)

	// The synthetic check, before any request reaches the version.
	if reason := m.probe(ro, rc.Health); reason != "" {
		m.finish(ro, Failed, "health check: "+reason, "health_check", nil)
		return
	}
	switch rec.Strategy {
	case Replace:
		before := ro.old.Signals(m.ro.Window)
		if !m.set(ro, ro.v, nil, 0, Observing, "all requests to the new version") {
			return
		}
		if m.watch(ro, rc.Health, func(time.Duration) gateway.Signals { return before }) {
			m.finish(ro, Succeeded, "", "", ro.v)
		}
	case Canary:
		steps := []int{rec.CanaryPercent}
		for _, p := range m.ro.CanarySteps {
			if p > rec.CanaryPercent && p < 100 {
				steps = append(steps, p)
			}
		}
		for _, p := range steps {
			if !m.set(ro, ro.old, ro.v, p, CanaryRun, fmt.Sprintf("%d%% of requests to the new version", p)) {
				return
			}
			if !m.watch(ro, rc.Health, ro.old.Signals) {
				return
			}
		}
		m.finish(ro, Succeeded, "", "", ro.v)
	}
}

// set changes what the rollout's route serves, unless the rollout was
// cancelled.
func (m *Manager) set(ro *rollout, active, canary *gateway.Version, percent int, state, detail string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ro.cancelled {
		return false
	}
	if err := m.srv.SetVersions(ro.rec.Route, active, canary, percent); err != nil {
		m.finishLocked(ro, RolledBack, "swap: "+err.Error(), "error", nil)
		return false
	}
	ro.rec.Percent = percent
	m.transition(ro.rec, state, detail)
	m.persist(ro.rec)
	return true
}

// watch watches the new version for step_interval: the synthetic check
// every health_interval and its live signals against the thresholds and
// against the previous version's (prev gives them for a span). It returns
// true when the step passed (or an operator promoted); otherwise the
// rollout has been finished.
func (m *Manager) watch(ro *rollout, hc gateway.HealthCheck, prev func(time.Duration) gateway.Signals) bool {
	start := time.Now()
	tick := time.NewTicker(m.ro.HealthInterval)
	defer tick.Stop()
	end := time.NewTimer(m.ro.StepInterval)
	defer end.Stop()
	for {
		select {
		case <-m.ctx.Done():
			m.finish(ro, Interrupt, "the gateway is stopping", "", nil)
			return false
		case <-ro.stop:
			return false
		case reason := <-ro.refusal:
			m.finish(ro, RolledBack, reason, "replica_refused", nil)
			return false
		case c := <-ro.ctl:
			switch c {
			case "promote":
				m.finish(ro, Succeeded, "promoted by an operator", "", ro.v)
			default:
				m.finish(ro, RolledBack, "rolled back by an operator", "operator", nil)
			}
			return false
		case <-tick.C:
			if reason := m.probe(ro, hc); reason != "" {
				m.finish(ro, RolledBack, "health check: "+reason, "health_check", nil)
				return false
			}
			span := min(m.ro.Window, time.Since(start))
			if reason, signal := m.breach(ro.v.Signals(span), prev(span)); reason != "" {
				m.finish(ro, RolledBack, reason, signal, nil)
				return false
			}
		case <-end.C:
			span := min(m.ro.Window, time.Since(start))
			if reason, signal := m.breach(ro.v.Signals(span), prev(span)); reason != "" {
				m.finish(ro, RolledBack, reason, signal, nil)
				return false
			}
			return true
		}
	}
}

// probe runs the route's synthetic check on the rollout's version: "" when
// it answered the expected status.
func (m *Manager) probe(ro *rollout, hc gateway.HealthCheck) string {
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	code, err := m.srv.Probe(ctx, ro.v, hc.Path)
	switch {
	case err != nil:
		return err.Error()
	case code != hc.Status:
		return fmt.Sprintf("GET %s answered %d, want %d", hc.Path, code, hc.Status)
	}
	return ""
}

// breach compares a new version's signals with the thresholds and the
// previous version's: it returns why it breached (and the signal's name)
// or "". Rates are judged once the window holds min_requests.
func (m *Manager) breach(cur, prev gateway.Signals) (string, string) {
	if cur.Requests < m.ro.MinRequests {
		return "", ""
	}
	judgePrev := prev.Requests >= m.ro.MinRequests
	// A violation or a trap is answered with a 5xx too: the specific
	// signals are judged first, so a rollback names what went wrong
	// (trap_rate, not error_rate) and each threshold keeps its meaning.
	for _, x := range []struct {
		name, signal string
		n, pn        int
		max          float64
	}{
		{"violation rate", "violation_rate", cur.Violations, prev.Violations, m.ro.MaxViolationRate},
		{"trap rate", "trap_rate", cur.Traps, prev.Traps, m.ro.MaxTrapRate},
		{"5xx rate", "error_rate", cur.Errors, prev.Errors, m.ro.MaxErrorRate},
	} {
		r, pr := cur.Rate(x.n), prev.Rate(x.pn)
		if r > x.max && (!judgePrev || r > pr*m.ro.Tolerance) {
			return fmt.Sprintf("%s %.3f over %d requests, above %.3f (previous version %.3f)", x.name, r, cur.Requests, x.max, pr), x.signal
		}
	}
	if m.ro.MaxP99 > 0 && cur.P99 > m.ro.MaxP99 && (!judgePrev || float64(cur.P99) > float64(prev.P99)*m.ro.Tolerance) {
		return fmt.Sprintf("p99 latency %s over %d requests, above %s (previous version %s)", cur.P99, cur.Requests, m.ro.MaxP99, prev.P99), "latency"
	}
	return "", ""
}

func (m *Manager) finish(ro *rollout, state, reason, signal string, active *gateway.Version) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finishLocked(ro, state, reason, signal, active)
}

// finishLocked ends a rollout: with active set (success) the new version
// stays active and the old one becomes the rollback target; otherwise the
// route serves the old version alone again (when the rollout still owns
// the route), and a failed or rolled-back version is remembered.
func (m *Manager) finishLocked(ro *rollout, state, reason, signal string, active *gateway.Version) {
	rec := ro.rec
	rs := m.routes[rec.Route]
	if ro.cancelled || rs == nil {
		return
	}
	if rs.run == ro {
		rs.run = nil
	}
	switch {
	case active != nil:
		if err := m.srv.SetVersions(rec.Route, active, nil, 0); err != nil {
			state, reason = RolledBack, "swap: "+err.Error()
			active = nil
		}
	case state != Interrupt:
		if err := m.srv.SetVersions(rec.Route, ro.old, nil, 0); err != nil {
			m.log.Error("rollback swap failed", "route", rec.Route, "deployment", rec.ID, "err", err)
		}
	}
	rec.Percent = 0
	m.transition(rec, state, reason)
	if active != nil {
		if rs.previous != nil {
			rs.previous.Release()
		}
		rs.previous, rs.previousRef, rs.previousSHA, rs.previousDep = ro.old, ro.old.Ref(), ro.old.SHA256(), rs.activeDep
		rs.activeDep = rec.ID
		ro.v.Release()
		m.srv.Event(audit.Event{Type: "deployment", Route: rec.Route, Module: rec.Module, SHA256: rec.SHA256,
			Detail: fmt.Sprintf("deployment %s succeeded", rec.ID)})
	} else {
		if state == Failed || state == RolledBack {
			rs.failed[rec.SHA256] = rec.ID
		}
		if state == RolledBack {
			m.metrics.rollbacks.WithLabelValues(rec.Route, signal).Inc()
			m.srv.Event(audit.Event{Type: "rollback", Route: rec.Route, Module: rec.Module, SHA256: rec.SHA256, Kind: signal,
				Detail: fmt.Sprintf("deployment %s rolled back to sha256:%s: %s", rec.ID, ro.old.SHA256(), reason)})
		} else if state == Failed {
			m.srv.Event(audit.Event{Type: "deployment", Route: rec.Route, Module: rec.Module, SHA256: rec.SHA256, Kind: signal,
				Detail: fmt.Sprintf("deployment %s failed before any request reached it: %s", rec.ID, reason)})
		}
		ro.old.Release()
		ro.v.Release()
	}
	m.metrics.deployments.WithLabelValues(rec.Route, state).Inc()
	m.persist(rec)
	m.log.Info("deployment finished", "deployment", rec.ID, "route", rec.Route, "state", state, "reason", reason)
}

// Rollback rolls back deployment id: one in progress goes back to the
// version it replaced; the route's active deployment is replaced by its
// rollback target. The version rolled back is remembered as failed.
func (m *Manager) Rollback(ctx context.Context, id string) (Record, error) {
	rec, rs, done, out, err := m.commandOrLock(ctx, id, "rollback")
	if done {
		return out, err
	}
	if rs == nil || rs.activeDep != id || rec.State != Succeeded {
		m.mu.Unlock()
		return Record{}, fmt.Errorf("%w: deployment %s is %s and not what %s serves; nothing to roll back", ErrConflict, id, rec.State, rec.Route)
	}
	if rs.previousSHA == "" {
		m.mu.Unlock()
		return Record{}, fmt.Errorf("%w: deployment %s has no previous version to roll back to", ErrConflict, id)
	}
	prev, prevRef, prevSHA, prevDep := rs.previous, rs.previousRef, rs.previousSHA, rs.previousDep
	m.mu.Unlock()
	if prev == nil || !prev.Retain() {
		if prev, err = m.prepare(ctx, rec.Route, prevRef, prevSHA); err != nil {
			return Record{}, fmt.Errorf("%w: rollback target %s: %v", ErrConflict, prevRef, err)
		}
	}
	defer prev.Release()
	m.mu.Lock()
	defer m.mu.Unlock()
	if rs.activeDep != id || rs.run != nil {
		return Record{}, fmt.Errorf("%w: %s changed meanwhile", ErrConflict, rec.Route)
	}
	if err := m.srv.SetVersions(rec.Route, prev, nil, 0); err != nil {
		return Record{}, fmt.Errorf("rollback %s: %w", id, err)
	}
	if rs.previous != nil {
		rs.previous.Release()
	}
	rs.previous, rs.previousRef, rs.previousSHA = nil, "", ""
	rs.activeDep = prevDep
	rs.failed[rec.SHA256] = rec.ID
	m.transition(rec, RolledBack, "rolled back by an operator")
	m.metrics.rollbacks.WithLabelValues(rec.Route, "operator").Inc()
	m.srv.Event(audit.Event{Type: "rollback", Route: rec.Route, Module: rec.Module, SHA256: rec.SHA256, Kind: "operator",
		Detail: fmt.Sprintf("deployment %s rolled back to sha256:%s by an operator", rec.ID, prevSHA)})
	m.persist(rec)
	return *rec, nil
}

// Promote promotes deployment id: a canary in progress becomes active at
// once; a deployment that failed or was rolled back is deployed again (a
// new deployment, returned) with retry_failed.
func (m *Manager) Promote(ctx context.Context, id string) (Record, error) {
	rec, _, done, out, err := m.commandOrLock(ctx, id, "promote")
	if done {
		return out, err
	}
	state, route, mod, strategy, pct := rec.State, rec.Route, rec.Module, rec.Strategy, rec.CanaryPercent
	m.mu.Unlock()
	if state != Failed && state != RolledBack {
		return Record{}, fmt.Errorf("%w: deployment %s is %s; only one in progress, failed or rolled back can be promoted", ErrConflict, id, state)
	}
	if strategy != Canary {
		strategy, pct = Replace, 0
	}
	return m.Deploy(ctx, Request{Route: route, Module: mod, Strategy: strategy, CanaryPercent: pct, RetryFailed: true})
}

// commandOrLock looks deployment id up. When it is in progress, the
// command goes to its rollout and done is true with the outcome; when it
// is not found, done is true with the error. Otherwise it returns with m.mu
// held, the record and its route's state.
func (m *Manager) commandOrLock(ctx context.Context, id, cmd string) (rec *Record, rs *routeState, done bool, out Record, err error) {
	m.mu.Lock()
	rec = m.recs[id]
	if rec == nil {
		m.mu.Unlock()
		return nil, nil, true, Record{}, fmt.Errorf("%w: deployment %q", ErrNotFound, id)
	}
	rs = m.routes[rec.Route]
	if rs != nil && rs.run != nil && rs.run.rec == rec {
		ro := rs.run
		m.mu.Unlock()
		out, err = m.command(ctx, ro, cmd)
		return nil, nil, true, out, err
	}
	if m.fleet != nil && !Final(rec.State) {
		m.mu.Unlock()
		out, err = m.forward(ctx, id, cmd)
		return nil, nil, true, out, err
	}
	return rec, rs, false, Record{}, nil
}

// command sends an operator's command to a rollout and waits for it to end.
func (m *Manager) command(ctx context.Context, ro *rollout, c string) (Record, error) {
	select {
	case ro.ctl <- c:
	default:
		return Record{}, fmt.Errorf("%w: deployment %s already has a command pending", ErrConflict, ro.rec.ID)
	}
	select {
	case <-ro.done:
	case <-ctx.Done():
		return Record{}, ctx.Err()
	}
	return m.Get(ro.rec.ID)
}

// Get returns deployment id.
func (m *Manager) Get(id string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[id]
	if r == nil {
		return Record{}, fmt.Errorf("%w: deployment %q", ErrNotFound, id)
	}
	return copyRecord(r), nil
}

// List returns the deployments (of route, when not ""), newest first.
func (m *Manager) List(route string) []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Record{}
	for i := len(m.order) - 1; i >= 0; i-- {
		r := m.recs[m.order[i]]
		if route == "" || r.Route == route {
			out = append(out, copyRecord(r))
		}
	}
	return out
}

func copyRecord(r *Record) Record {
	c := *r
	c.Steps = append([]Step(nil), r.Steps...)
	return c
}

// RouteStatus is a route's entry in the admin API's /v1/routes: what the
// gateway serves, the rollback target, the failed versions and the
// deployment in progress.
type RouteStatus struct {
	gateway.RouteInfo
	Deployment string `json:"deployment,omitempty"`
	// Fleet is there when the gateway is a replica of a fleet.
	Fleet *FleetStatus `json:"fleet,omitempty"`
}

// Routes returns the routes with every version state: active and canary
// (served), previous (the rollback target) and failed.
func (m *Manager) Routes() []RouteStatus {
	infos := m.srv.Routes()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RouteStatus, 0, len(infos))
	for _, ri := range infos {
		st := RouteStatus{RouteInfo: ri}
		if rs := m.routes[ri.Route]; rs != nil {
			for i := range st.Versions {
				switch st.Versions[i].State {
				case "active":
					st.Versions[i].Deployment = rs.activeDep
				case "canary":
					if rs.run != nil {
						st.Versions[i].Deployment = rs.run.rec.ID
					}
				}
			}
			if rs.run != nil {
				st.Deployment = rs.run.rec.ID
			} else if rs.remote != "" {
				st.Deployment = rs.remote
			}
			if m.fleet != nil {
				st.Fleet = &FleetStatus{Replica: m.fleet.Replica(), Leader: m.fleet.Leading(), Refused: rs.refused}
			}
			if rs.previousSHA != "" {
				st.Versions = append(st.Versions, gateway.VersionInfo{State: "previous", Module: rs.previousRef, SHA256: rs.previousSHA, Deployment: rs.previousDep})
			}
			var failed []gateway.VersionInfo
			for sha, id := range rs.failed {
				mod := ""
				if r := m.recs[id]; r != nil {
					mod = r.Module
				}
				failed = append(failed, gateway.VersionInfo{State: "failed", Module: mod, SHA256: sha, Deployment: id})
			}
			sort.Slice(failed, func(i, j int) bool { return failed[i].Deployment > failed[j].Deployment })
			st.Versions = append(st.Versions, failed...)
		}
		out = append(out, st)
	}
	return out
}

// ReloadConfig reloads the configuration (Options.Reload) with the
// manager's routes held still: a rollout on a route the reload changes or
// removes ends as superseded, and routes the reload changed get a record.
func (m *Manager) ReloadConfig(ctx context.Context) (*gateway.ReloadResult, error) {
	if m.reload == nil {
		return nil, fmt.Errorf("%w: reload is not available", ErrConflict)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	res, err := m.reload(ctx)
	if err != nil {
		m.log.Warn("configuration reload refused; nothing changed", "err", err)
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	now := time.Now().UTC()
	for _, label := range append(append([]string{}, res.Changed...), res.Removed...) {
		rs := m.routes[label]
		if rs == nil {
			continue
		}
		if ro := rs.run; ro != nil {
			m.transition(ro.rec, Superseded, "a configuration reload replaced the route")
			m.persist(ro.rec)
			ro.cancelled = true
			ro.old.Release()
			ro.v.Release()
		}
		if rs.previous != nil {
			rs.previous.Release()
		}
		delete(m.routes, label)
	}
	for _, label := range append(append([]string{}, res.Changed...), res.Added...) {
		rs := m.newRouteState(label)
		m.routes[label] = rs
		rc, _ := m.srv.RouteConfig(label)
		rec := &Record{ID: newID(now), Route: label, Module: rc.Module, SHA256: rs.base, Strategy: Reload, State: Succeeded,
			Base: rs.base, Created: now, Updated: now, Steps: []Step{{Time: now, State: Succeeded, Detail: "configuration reloaded"}}}
		rs.activeDep = rec.ID
		m.add(rec)
		m.persist(rec)
	}
	return res, nil
}

func (m *Manager) add(r *Record) {
	m.recs[r.ID] = r
	m.order = append(m.order, r.ID)
}

func (m *Manager) transition(r *Record, state, detail string) {
	now := time.Now().UTC()
	r.State, r.Updated = state, now
	if !Final(state) {
		detail = strings.TrimSpace(detail)
	} else if detail != "" {
		r.Reason = detail
	}
	r.Steps = append(r.Steps, Step{Time: now, State: state, Detail: detail})
}

// persist writes a record; a failure is logged (the deployment goes on:
// what the route serves matters more than its history).
func (m *Manager) persist(r *Record) {
	if m.fleet != nil && (r.Strategy == Reload || r.Strategy == Restore) {
		return // this replica's own configuration: not the fleet's state
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.records.Put(ctx, copyRecord(r), m.serving(r.Route)); err != nil {
		m.log.Error("deployment record not written", "deployment", r.ID, "err", err)
	}
}

// serving returns the digests route serves or may roll back to: active,
// canary, previous.
func (m *Manager) serving(route string) []string {
	var out []string
	if a, c, _, err := m.srv.Versions(route); err == nil {
		out = append(out, a.SHA256())
		a.Release()
		if c != nil {
			out = append(out, c.SHA256())
			c.Release()
		}
	}
	if rs := m.routes[route]; rs != nil && rs.previousSHA != "" {
		out = append(out, rs.previousSHA)
	}
	return out
}

// newID returns a deployment ID that sorts by time: the UTC time and 32
// random bits.
func newID(t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return "d-" + t.Format("20060102T150405.000") + "-" + hex.EncodeToString(b[:])
}

// MemoryRecords keeps records in memory (history lost at exit).
type MemoryRecords struct {
	mu   sync.Mutex
	recs []Record
}

// Put implements Records.
func (s *MemoryRecords) Put(_ context.Context, r Record, _ []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.recs {
		if s.recs[i].ID == r.ID {
			s.recs[i] = r
			return nil
		}
	}
	s.recs = append(s.recs, r)
	return nil
}

// List implements Records.
func (s *MemoryRecords) List(context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.recs...), nil
}

// deployMetrics are the deployment metrics on the gateway's registry.
type deployMetrics struct {
	m           *Manager
	rollbacks   *prometheus.CounterVec
	deployments *prometheus.CounterVec
	versionDesc *prometheus.Desc
}

func newDeployMetrics(m *Manager) *deployMetrics {
	return &deployMetrics{
		m: m,
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmward_rollbacks_total", Help: "Deployments rolled back, by route and the signal that breached (error_rate, violation_rate, trap_rate, latency, health_check, operator).",
		}, []string{"route", "signal"}),
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmward_deployments_total", Help: "Deployments ended, by route and final state.",
		}, []string{"route", "state"}),
		versionDesc: prometheus.NewDesc("wasmward_route_version",
			"The versions a route knows, by state (active, canary, previous, failed); the value is the percentage of requests it gets.",
			[]string{"route", "state", "sha256"}, nil),
	}
}

func (d *deployMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{d.rollbacks, d.deployments, d}
}

// Describe implements prometheus.Collector.
func (d *deployMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- d.versionDesc }

// Collect implements prometheus.Collector.
func (d *deployMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, r := range d.m.Routes() {
		for _, v := range r.Versions {
			pct := 0
			if v.State == "active" || v.State == "canary" {
				pct = v.Percent
			}
			ch <- prometheus.MustNewConstMetric(d.versionDesc, prometheus.GaugeValue, float64(pct), r.Route, v.State, v.SHA256)
		}
	}
}

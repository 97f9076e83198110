package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/tenant"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
	"github.com/wasmward/wasmward/scan"
)

// Version is one compiled module of a route: what the route table serves,
// what a deployment prepares and watches. A Version is reference counted:
// the route table holds one reference while it serves the version, every
// request one while its instance runs, and whoever prepared it one until
// it calls Release. The compiled module is closed when the last reference
// goes, so a swap never closes a module under a running instance.
type Version struct {
	s       *Server
	route   string // the route's label
	ref     string // the module reference as given
	sha     string
	mod     module
	name    string   // argv[0]
	env     []string // the variables that do not change between requests
	metered bool
	mem     int64         // what an instance reserves from memory_budget
	timeout time.Duration // the policy's timeout (client_closed judgement)
	limits  policy.Limits // the policy's limits (soft thresholds)
	iso     atomic.Pointer[isolation]
	refs    atomic.Int64
	closed  chan struct{}
	stats   window
}

// SHA256 is the hex SHA-256 of the module's bytes.
func (v *Version) SHA256() string { return v.sha }

// Ref is the module reference the version was prepared from (a path,
// sha256:HEX or oci://...).
func (v *Version) Ref() string { return v.ref }

// Route is the label of the route the version belongs to.
func (v *Version) Route() string { return v.route }

// Retain takes a reference for the caller. It returns false when the
// version was already closed (every reference released).
func (v *Version) Retain() bool {
	for {
		n := v.refs.Load()
		if n <= 0 {
			return false
		}
		if v.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release drops a reference; the last one closes the compiled module.
func (v *Version) Release() {
	if v.refs.Add(-1) == 0 {
		v.s.closeVersion(v)
	}
}

// Closed is closed once the version's compiled module has been closed.
func (v *Version) Closed() <-chan struct{} { return v.closed }

// InFlight is the number of requests running on the version now.
func (v *Version) inFlight() int64 { return v.stats.inFlight.Load() }

// Signals are a version's live health signals over a window of its most
// recent requests (synthetic health checks not included).
type Signals struct {
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors_5xx"`
	Violations int           `json:"violations"`
	Traps      int           `json:"traps"`
	P99        time.Duration `json:"p99_ns"`
}

// Rate returns n per request of s (0 without requests).
func (s Signals) Rate(n int) float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(n) / float64(s.Requests)
}

// Signals returns the version's signals over the requests that ended in
// the last d (at most the last windowSamples requests).
func (v *Version) Signals(d time.Duration) Signals { return v.stats.signals(time.Now().Add(-d)) }

// windowSamples bounds the requests a version's window remembers.
const windowSamples = 4096

type sample struct {
	end    int64 // unix nanoseconds
	dur    time.Duration
	status uint16
	kind   uint8 // 1 violation, 2 trap
}

// window is a ring of a version's most recent request outcomes.
type window struct {
	mu       sync.Mutex
	ring     [windowSamples]sample
	n        int // samples written, total
	inFlight atomic.Int64
}

// add records a request that ended at end after dur.
func (w *window) add(status int, evType string, end time.Time, dur time.Duration) {
	s := sample{end: end.UnixNano(), dur: dur, status: uint16(status)}
	switch evType {
	case audit.TypeViolation:
		s.kind = 1
	case audit.TypeTrap:
		s.kind = 2
	}
	w.mu.Lock()
	w.ring[w.n%windowSamples] = s
	w.n++
	w.mu.Unlock()
}

func (w *window) signals(since time.Time) Signals {
	cut := since.UnixNano()
	var out Signals
	durs := make([]time.Duration, 0, 256)
	w.mu.Lock()
	for i := 0; i < min(w.n, windowSamples); i++ {
		s := &w.ring[i]
		if s.end < cut {
			continue
		}
		out.Requests++
		if s.status >= 500 {
			out.Errors++
		}
		switch s.kind {
		case 1:
			out.Violations++
		case 2:
			out.Traps++
		}
		durs = append(durs, s.dur)
	}
	w.mu.Unlock()
	if len(durs) > 0 {
		sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
		out.P99 = durs[(len(durs)*99+99)/100-1]
	}
	return out
}

// versionSet is what a route serves: the active version and, during a
// canary rollout, the canary and the percentage of requests it gets.
type versionSet struct {
	active, canary *Version
	percent        uint64
}

// table is the route table: swapped whole by a reload.
type table struct {
	routes   []*route
	exact    map[string]*route
	prefixes []*route // longest first
	byLabel  map[string]*route
}

func newTable(routes []*route) *table {
	t := &table{routes: routes, exact: map[string]*route{}, byLabel: map[string]*route{}}
	for _, r := range routes {
		t.byLabel[r.label] = r
		if r.cfg.Prefix {
			t.prefixes = append(t.prefixes, r)
		} else {
			t.exact[r.cfg.Path] = r
		}
	}
	sort.SliceStable(t.prefixes, func(i, j int) bool { return len(t.prefixes[i].cfg.Path) > len(t.prefixes[j].cfg.Path) })
	return t
}

// pick returns the version a new request of the route runs on, with a
// reference taken, or nil when the route was replaced by a reload (the
// caller matches the request again). Canary requests are spread evenly:
// of every 100 requests, percent go to the canary.
func (rt *route) pick() *Version {
	for {
		if rt.retired.Load() {
			return nil
		}
		vs := rt.vs.Load()
		v := vs.active
		if vs.canary != nil && rt.rr.Add(1)%100 < vs.percent {
			v = vs.canary
		}
		if v.Retain() {
			return v
		}
		// Released between the load and the retain: the set was swapped.
	}
}

// ModuleSource is a module to prepare as a new version of a route.
type ModuleSource struct {
	// Ref is the reference as the operator gave it, for logs, the audit
	// trail and /v1/routes.
	Ref string
	// Wasm is the module's bytes.
	Wasm []byte
	// Trust is the module's trust material (files next to a path module).
	Trust RouteTrust
}

// Prepare checks and compiles a module as a new version of route (its
// label, "/x" or "/x/..."), under the route's configured policy: the trust
// gate (Options.Verify) and the scan gate (scan_fail_on) run on the bytes
// before the compiler sees them, and a refusal is audited. The version
// serves nothing until SetVersions names it; the caller owns one
// reference and must Release it.
func (s *Server) Prepare(ctx context.Context, route string, src ModuleSource) (*Version, error) {
	rt := s.tab.Load().byLabel[route]
	if rt == nil {
		return nil, fmt.Errorf("prepare: %w: %q", ErrNoRoute, route)
	}
	rc := rt.cfg
	rc.Module, rc.Wasm, rc.Trust = src.Ref, src.Wasm, src.Trust
	return s.prepare(ctx, rc, route)
}

// ErrNoRoute is returned (wrapped) for a route label the table does not have.
var ErrNoRoute = errors.New("no such route")

// prepare verifies, scans and compiles rc's module as a version of the
// route labelled label.
func (s *Server) prepare(ctx context.Context, rc Route, label string) (*Version, error) {
	sha := digest.SHA256Hex(rc.Wasm)
	if s.monitor != nil && s.monitor.Quarantined(sha) {
		s.event(audit.Event{Type: audit.TypeModuleRefused, Route: label, Module: rc.Module, SHA256: sha, Kind: "quarantined",
			Detail: "the module is quarantined; an operator must release it first"})
		return nil, fmt.Errorf("route %s: module %s refused: %w (release it first: wasmward quarantine release %.12s)", label, rc.Module, ErrQuarantined, sha)
	}
	if s.verify != nil {
		s.verifyMu.Lock() // New prepares routes concurrently; Verify is called one at a time
		p, err := s.verify(ctx, rc)
		s.verifyMu.Unlock()
		if err != nil {
			s.moduleRefused(audit.Event{Type: audit.TypeModuleRefused, Route: label, Module: rc.Module, SHA256: sha, Kind: string(sandbox.KindSignature), Detail: err.Error()})
			return nil, fmt.Errorf("route %s: module %s refused: %w", label, rc.Module, err)
		}
		if p != nil {
			rc.Policy = *p
		}
	}
	if s.cfg.ScanFailOn != "" && !s.fakeCompile {
		if err := s.scanGate(ctx, rc); err != nil {
			s.moduleRefused(audit.Event{Type: audit.TypeModuleRefused, Route: label, Module: rc.Module, SHA256: sha, Kind: "scan", Detail: err.Error()})
			return nil, fmt.Errorf("route %s: module %s refused: %w", label, rc.Module, err)
		}
	}
	// The policy's environment goes to the guest through Invocation.Env,
	// ahead of the CGI variables, instead of through the compiled module.
	// An early sandbox shared the compiled module's env slice between
	// concurrent runs, and two requests appending to it at once mixed their
	// variables (TestE2EPolicyEnvDoesNotMixRequests caught it). The sandbox
	// has fixed that; building the whole env per request keeps the gateway
	// independent of how the sandbox merges the two.
	pol := rc.Policy.Clone()
	policyEnv := pol.Capabilities.SortedEnv()
	pol.Capabilities.Env = nil
	mod, err := s.compile(ctx, rc.Wasm, pol)
	if err != nil {
		ev := audit.Event{Type: audit.TypeModuleRefused, Route: label, Module: rc.Module, SHA256: sha, Detail: err.Error()}
		var ref *sandbox.Refusal
		if errors.As(err, &ref) {
			ev.Kind = string(ref.Violation.Kind)
		}
		s.moduleRefused(ev)
		return nil, fmt.Errorf("route %s: compile %s: %w", label, rc.Module, err)
	}
	v := &Version{
		s:       s,
		route:   label,
		ref:     rc.Module,
		sha:     mod.SHA256(),
		mod:     mod,
		name:    path.Base(strings.ReplaceAll(rc.Module, "\\", "/")),
		metered: rc.Policy.Limits.Fuel > 0,
		mem:     instanceReserve(rc.Policy),
		timeout: rc.Policy.Limits.Timeout.Std(),
		limits:  rc.Policy.Limits,
		closed:  make(chan struct{}),
	}
	v.iso.Store(newIsolation())
	v.refs.Store(1)
	script := rc.Path
	if script == "" {
		script = "/"
	}
	v.env = append(policyEnv,
		"GATEWAY_INTERFACE=CGI/1.1",
		"SERVER_SOFTWARE=wasmward",
		"SCRIPT_NAME="+strings.TrimSuffix(rc.Path, "/"),
		"X_MATCHED_ROUTE="+label,
	)
	s.liveMu.Lock()
	s.live[v] = struct{}{}
	s.liveMu.Unlock()
	return v, nil
}

// scanGate refuses a module with a scan finding at or above scan_fail_on.
func (s *Server) scanGate(ctx context.Context, rc Route) error {
	sev, err := scan.ParseSeverity(s.cfg.ScanFailOn)
	if err != nil {
		return err
	}
	res := scan.Scan(ctx, rc.Module, rc.Wasm, scan.Options{Policy: &rc.Policy})
	first := res.Blocking(sev)
	if first == "" {
		return nil
	}
	return &sandbox.Refusal{Violation: sandbox.Violation{Kind: "scan",
		Detail: fmt.Sprintf("scan finding at or above scan_fail_on %s: %s", sev, first)}}
}

func (s *Server) closeVersion(v *Version) {
	s.liveMu.Lock()
	_, ok := s.live[v]
	delete(s.live, v)
	s.liveMu.Unlock()
	if !ok {
		return // closed by Server.Close
	}
	if err := v.mod.Close(context.Background()); err != nil {
		s.log.Warn("close compiled module", "route", v.route, "sha256", v.sha, "err", err)
	}
	close(v.closed)
	s.log.Info("version closed", "route", v.route, "sha256", v.sha)
}

// OpenVersions is the number of versions whose compiled module is open.
func (s *Server) OpenVersions() int {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	return len(s.live)
}

// SetVersions makes active (and canary, for percent of the route's
// requests, 0 to 100) what route serves, in one atomic swap: requests that
// arrive after it run on the new set, requests running finish on the
// version they started on, and a version no longer served is closed when
// its last request ends (and its last other reference is released).
func (s *Server) SetVersions(route string, active, canary *Version, percent int) error {
	if active == nil || (canary == nil && percent != 0) || percent < 0 || percent > 100 {
		return fmt.Errorf("set versions of %s: need an active version and a canary percentage of 0 to 100 with a canary", route)
	}
	s.tabMu.Lock()
	defer s.tabMu.Unlock()
	rt := s.tab.Load().byLabel[route]
	if rt == nil {
		return fmt.Errorf("set versions: %w: %q", ErrNoRoute, route)
	}
	for _, v := range []*Version{active, canary} {
		if v != nil && v.route != route {
			return fmt.Errorf("set versions of %s: the version was prepared for %s", route, v.route)
		}
	}
	if !active.Retain() {
		return fmt.Errorf("set versions of %s: version %s is closed", route, active.sha)
	}
	if canary != nil && !canary.Retain() {
		active.Release()
		return fmt.Errorf("set versions of %s: version %s is closed", route, canary.sha)
	}
	old := rt.vs.Swap(&versionSet{active: active, canary: canary, percent: uint64(percent)})
	old.release()
	return nil
}

func (vs *versionSet) release() {
	vs.active.Release()
	if vs.canary != nil {
		vs.canary.Release()
	}
}

// Versions returns what route serves now: the active version, the canary
// (nil when none) and its percentage, each with a reference taken that the
// caller must Release.
func (s *Server) Versions(route string) (active, canary *Version, percent int, err error) {
	s.tabMu.Lock()
	defer s.tabMu.Unlock()
	rt := s.tab.Load().byLabel[route]
	if rt == nil {
		return nil, nil, 0, fmt.Errorf("versions: %w: %q", ErrNoRoute, route)
	}
	vs := rt.vs.Load()
	vs.active.Retain()
	if vs.canary != nil {
		vs.canary.Retain()
	}
	return vs.active, vs.canary, int(vs.percent), nil
}

// RouteConfig returns the configuration of route (its label) as loaded.
func (s *Server) RouteConfig(route string) (Route, bool) {
	rt := s.tab.Load().byLabel[route]
	if rt == nil {
		return Route{}, false
	}
	return rt.cfg, true
}

// RouteLabels returns the labels of the routes, in configuration order.
func (s *Server) RouteLabels() []string {
	t := s.tab.Load()
	out := make([]string, len(t.routes))
	for i, r := range t.routes {
		out[i] = r.label
	}
	return out
}

// probeKey marks a synthetic health-check request: its context holds the
// version it must run on.
type probeKey struct{}

// Probe sends a synthetic GET request for target (a path with an optional
// query) through the gateway's request path, on version v whatever the
// route's version set says, and returns the response's status code. Probes
// pass the rate limit and are left out of the version's live signals.
func (s *Server) Probe(ctx context.Context, v *Version, target string) (int, error) {
	if !v.Retain() {
		return 0, fmt.Errorf("probe %s: version %s is closed", v.route, v.sha)
	}
	defer v.Release()
	req, err := http.NewRequestWithContext(context.WithValue(ctx, probeKey{}, v), http.MethodGet, "http://wasmward.probe"+target, nil)
	if err != nil {
		return 0, fmt.Errorf("probe %s: %w", v.route, err)
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = target
	w := &probeWriter{h: http.Header{}}
	s.serveHTTP(w, req)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.code, nil
}

type probeWriter struct {
	h    http.Header
	code int
}

func (p *probeWriter) Header() http.Header { return p.h }
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.code == 0 {
		p.code = http.StatusOK
	}
	return len(b), nil
}
func (p *probeWriter) WriteHeader(c int) {
	if p.code == 0 {
		p.code = c
	}
}

// ReloadResult says what a reload changed.
type ReloadResult struct {
	// Changed are the routes whose module or settings changed, with the
	// new version now active; Added and Removed the routes that appeared
	// and went.
	Changed, Added, Removed []string
	// Unchanged are the routes that kept what they served (a deployed
	// version included).
	Unchanged []string
}

// Reload applies a new configuration's routes. The configuration is
// validated whole first: settings other than the routes and their
// policies cannot change without a restart (an error names the first that
// differs), and every new or changed route's module is verified, scanned
// and compiled. Only when all of that succeeded is the route table swapped,
// in one step; on any error nothing changed. A route whose configuration
// and module bytes are unchanged keeps its versions, a deployed one
// included; a changed route serves its new module, and its old versions
// close when their last requests end.
func (s *Server) Reload(ctx context.Context, cfg *Config) (*ReloadResult, error) {
	if err := sameSettings(s.cfg, cfg); err != nil {
		return nil, fmt.Errorf("reload %s: %w", cfg.Source, err)
	}
	s.tabMu.Lock()
	defer s.tabMu.Unlock()
	old := s.tab.Load()
	res := &ReloadResult{}
	var routes []*route
	var fresh []*route
	fail := func(err error) (*ReloadResult, error) {
		for _, r := range fresh {
			r.vs.Load().release()
		}
		return nil, fmt.Errorf("reload %s: %w", cfg.Source, err)
	}
	for _, rc := range cfg.Routes {
		label := routeLabel(rc)
		if o := old.byLabel[label]; o != nil && sameRoute(o, rc) {
			routes = append(routes, o)
			res.Unchanged = append(res.Unchanged, label)
			continue
		}
		r, err := s.newRoute(ctx, rc)
		if err != nil {
			return fail(err)
		}
		fresh = append(fresh, r)
		routes = append(routes, r)
		if old.byLabel[label] != nil {
			res.Changed = append(res.Changed, label)
		} else {
			res.Added = append(res.Added, label)
		}
	}
	nt := newTable(routes)
	s.tab.Store(nt)
	for _, o := range old.routes {
		if nt.byLabel[o.label] == o {
			continue
		}
		if nt.byLabel[o.label] == nil {
			res.Removed = append(res.Removed, o.label)
		}
		o.retired.Store(true)
		o.vs.Load().release()
	}
	s.event(audit.Event{Type: "config_reloaded", Module: cfg.Source, Detail: fmt.Sprintf("%d routes: %d changed, %d added, %d removed",
		len(routes), len(res.Changed), len(res.Added), len(res.Removed))})
	return res, nil
}

func routeLabel(rc Route) string {
	if rc.Prefix {
		return rc.Path + "/..."
	}
	return rc.Path
}

// sameRoute reports whether a route and a route configuration serve the
// same module the same way.
func sameRoute(r *route, rc Route) bool {
	if r.origSHA != digest.SHA256Hex(rc.Wasm) {
		return false
	}
	rc.Wasm = nil
	return reflect.DeepEqual(r.cfg, rc)
}

// sameSettings returns an error naming the first setting other than the
// routes that differs between two configurations.
func sameSettings(a, b *Config) error {
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		switch t.Field(i).Name {
		case "Routes", "Source":
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return fmt.Errorf("%s changed: it takes a restart, not a reload", t.Field(i).Name)
		}
	}
	return nil
}

// newRoute prepares a route's configured module and builds its route.
func (s *Server) newRoute(ctx context.Context, rc Route) (*route, error) {
	tn, err := s.routeTenant(rc)
	if err != nil {
		return nil, err
	}
	v, err := s.prepare(ctx, rc, routeLabel(rc))
	if err != nil {
		return nil, err
	}
	return s.buildRoute(rc, tn, v), nil
}

// newRoutes is newRoute for every route of a configuration, in order,
// with up to GOMAXPROCS modules prepared (verified, scanned, compiled) at
// once: a start-up with many routes uses every core, and a compile cache
// loads its verified entries side by side. Routes are built, logged and
// audited in configuration order. The error is that of the first failing
// route in that order, returned once every preparation started has ended
// (none starts after a failure); the versions prepared stay live for
// Server.Close to close.
func (s *Server) newRoutes(ctx context.Context, rcs []Route) ([]*route, error) {
	tns := make([]*tenant.Tenant, len(rcs))
	for i, rc := range rcs {
		tn, err := s.routeTenant(rc)
		if err != nil {
			return nil, err
		}
		tns[i] = tn
	}
	vs := make([]*Version, len(rcs))
	errs := make([]error, len(rcs))
	var failed atomic.Bool
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, rc := range rcs {
		sem <- struct{}{}
		if failed.Load() {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if vs[i], errs[i] = s.prepare(ctx, rc, routeLabel(rc)); errs[i] != nil {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	routes := make([]*route, 0, len(rcs))
	for i, rc := range rcs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if vs[i] == nil {
			break // not started after a failure
		}
		routes = append(routes, s.buildRoute(rc, tns[i], vs[i]))
	}
	return routes, nil
}

// routeTenant is the tenant a route names; nil when it names none.
func (s *Server) routeTenant(rc Route) (*tenant.Tenant, error) {
	if rc.Tenant == "" {
		return nil, nil
	}
	tn := s.ten.sched.Tenant(rc.Tenant)
	if tn == nil {
		return nil, fmt.Errorf("route %s: no tenant %q (tenants change with a restart, not a reload)", routeLabel(rc), rc.Tenant)
	}
	return tn, nil
}

// buildRoute builds the route serving v, the version prepared for rc,
// and logs and audits it.
func (s *Server) buildRoute(rc Route, tn *tenant.Tenant, v *Version) *route {
	label := routeLabel(rc)
	sha := digest.SHA256Hex(rc.Wasm)
	rc.Wasm = nil
	r := &route{
		cfg:     rc,
		origSHA: sha,
		sem:     make(chan struct{}, rc.MaxConcurrency),
		tenant:  tn,
		m:       s.metrics.forRoute(label),
	}
	r.label = label
	r.vs.Store(&versionSet{active: v})
	for _, h := range rc.PassHeaders {
		sep := ", "
		if h == "cookie" {
			sep = "; "
		}
		r.pass = append(r.pass, passHeader{
			canon: http.CanonicalHeaderKey(h),
			env:   "HTTP_" + strings.ToUpper(strings.ReplaceAll(h, "-", "_")) + "=",
			sep:   sep,
		})
	}
	s.log.Info("route ready", "route", label, "module", rc.Module, "sha256", v.sha, "max_concurrency", rc.MaxConcurrency)
	s.event(audit.Event{Type: audit.TypeConfigLoaded, Route: label, Module: rc.Module, SHA256: v.sha})
	return r
}

// compileFunc compiles a module under a policy.
type compileFunc = func(ctx context.Context, bin []byte, p policy.Policy) (module, error)

package alert

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// State is an alert's state.
type State string

// The states of an alert. Inactive alerts are not listed; a resolved one
// is listed for a while after it resolved.
const (
	Inactive State = "inactive"
	Pending  State = "pending"
	Firing   State = "firing"
	Resolved State = "resolved"
)

// States are the states an alert is listed in, in order.
var States = []State{Pending, Firing, Resolved}

// Alert is one rule's alert for one module (digest) on one route.
type Alert struct {
	// ID names the alert: rule, route and module digest.
	ID       string   `json:"id"`
	Rule     string   `json:"rule"`
	Route    string   `json:"route"`
	SHA256   string   `json:"sha256"`
	Module   string   `json:"module,omitempty"`
	Signal   Signal   `json:"signal"`
	Kind     string   `json:"kind,omitempty"`
	Severity Severity `json:"severity"`
	Action   Action   `json:"action"`
	State    State    `json:"state"`
	// Since is when the alert entered State; ActiveAt when its condition
	// began to hold (pending), FiredAt and ResolvedAt when it fired and
	// resolved (zero until then).
	Since      time.Time `json:"since"`
	ActiveAt   time.Time `json:"active_at"`
	FiredAt    time.Time `json:"fired_at,omitzero"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Value is the signal's last value over the rule's window; Threshold
	// the value at which the condition holds.
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Window is the rule's window ("1m0s"; empty for findings).
	Window string `json:"window,omitempty"`
}

// Transition is an alert's change of state.
type Transition struct {
	Alert Alert `json:"alert"`
	From  State `json:"from"`
}

// SoftEvent is a soft-threshold breach of one run.
type SoftEvent struct {
	// Kind is one of the Soft* kinds; Name the host function for
	// host_calls.
	Kind  string
	Name  string
	Value float64
	// Threshold is the threshold breached, in Value's unit (percent,
	// milliseconds, fuel, calls).
	Threshold float64
}

// Sample is one finished run of a route's module.
type Sample struct {
	Route  string
	SHA256 string
	Module string
	// Status is the HTTP status the run produced (0: none, the client was
	// gone); Duration the request's time.
	Status   int
	Duration time.Duration
	// Violation is the violation kind when the run broke a limit; Trap is
	// true when it trapped.
	Violation string
	Trap      bool
	Soft      []SoftEvent
}

// Options configure an Engine.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// OnTransition, when set, is called for every transition, in order,
	// from the evaluating goroutine. It must not block for long: act
	// asynchronously.
	OnTransition func(Transition)
	// ResolvedRetention is how long resolved alerts stay listed (default
	// one hour; at most 1000 are kept).
	ResolvedRetention time.Duration
}

// counter slots of a series.
const (
	cReq = iota
	c5xx
	cTrap
	cViol
	cSoft
	cRefused
	cFixed
)

// latency histogram: bucket i holds durations up to histBase*histGrowth^i.
const (
	histBuckets = 80
	histBase    = 50 * time.Microsecond
	histGrowth  = 1.2
)

var histBounds = func() []time.Duration {
	b := make([]time.Duration, histBuckets)
	f := float64(histBase)
	for i := range b {
		b[i] = time.Duration(f)
		f *= histGrowth
	}
	return b
}()

type seriesKey struct{ route, sha string }

// series holds one route's module's counters in time buckets.
type series struct {
	mu       sync.Mutex
	module   string
	idx      []int64  // bucket number per slot
	cnt      []uint32 // slots x counters
	hist     []uint32 // slots x histBuckets (p99 rules only)
	last     int64    // bucket number of the last sample
	findings int
	hasFind  bool
}

type instance struct {
	a          Alert
	clearSince time.Time
	rule       int
}

// Engine evaluates the rules over the samples it is fed. Observe and
// Record are safe for concurrent use and cheap (a map lookup and a few
// counter increments under the series' lock); evaluation happens in Run's
// goroutine (or Evaluate), never on the caller's.
type Engine struct {
	rules []Rule
	res   time.Duration
	nb    int64
	nc    int
	kinds map[string]int // "violations/KIND" and "soft/KIND" -> counter slot
	ruleC []int          // the counter slot each rule counts
	hist  bool
	span  time.Duration // longest window + resolve period: how long a series is kept idle

	now      func() time.Time
	onTrans  func(Transition)
	keepDone time.Duration

	smu    sync.RWMutex
	series map[seriesKey]*series

	emitMu     sync.Mutex // orders the reports of transitions
	mu         sync.Mutex // guards alerts, subs, routeRules
	alerts     map[string]*instance
	routeRules map[string][]int
	subs       map[int]chan Transition
	nextSub    int
	dropped    atomic.Uint64

	kick chan struct{}
}

// NewEngine returns an engine for rules.
func NewEngine(rules []Rule, opts Options) *Engine {
	e := &Engine{
		rules: rules, kinds: map[string]int{}, now: opts.Now, onTrans: opts.OnTransition, keepDone: opts.ResolvedRetention,
		series: map[seriesKey]*series{}, alerts: map[string]*instance{}, routeRules: map[string][]int{},
		subs: map[int]chan Transition{}, kick: make(chan struct{}, 1),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.keepDone <= 0 {
		e.keepDone = time.Hour
	}
	e.nc = cFixed
	minOver, maxOver := time.Duration(0), time.Duration(0)
	for _, r := range rules {
		slot := -1
		switch r.Signal {
		case Violations:
			slot = cViol
		case Traps:
			slot = cTrap
		case Soft:
			slot = cSoft
		case Errors5xx:
			slot = c5xx
		case RefusedDeploys:
			slot = cRefused
		case P99:
			e.hist = true
		}
		if r.Kind != "" {
			k := string(r.Signal) + "/" + r.Kind
			if s, ok := e.kinds[k]; ok {
				slot = s
			} else {
				slot = e.nc
				e.kinds[k] = slot
				e.nc++
			}
		}
		e.ruleC = append(e.ruleC, slot)
		if r.Over > 0 {
			if minOver == 0 || r.Over < minOver {
				minOver = r.Over
			}
			maxOver = max(maxOver, r.Over)
		}
		e.span = max(e.span, r.Over+r.ResolveAfter+r.For)
	}
	if maxOver == 0 {
		maxOver = time.Second
		minOver = time.Second
	}
	// The bucket width: a thirtieth of the shortest window (so its sum is
	// off by at most a thirtieth), between 10ms and 1s, and no more than
	// 4096 buckets for the longest.
	e.res = min(max(minOver/30, 10*time.Millisecond), time.Second)
	if maxOver/e.res > 4096 {
		e.res = maxOver / 4096
	}
	e.nb = int64(maxOver/e.res) + 2
	return e
}

// Rules returns the engine's rules.
func (e *Engine) Rules() []Rule { return e.rules }

// Resolution is the width of the engine's time buckets: windows are
// counted to within one bucket.
func (e *Engine) Resolution() time.Duration { return e.res }

func (e *Engine) get(route, sha string, create bool) *series {
	k := seriesKey{route, sha}
	e.smu.RLock()
	s := e.series[k]
	e.smu.RUnlock()
	if s != nil || !create {
		return s
	}
	e.smu.Lock()
	defer e.smu.Unlock()
	if s = e.series[k]; s == nil {
		s = &series{idx: make([]int64, e.nb), cnt: make([]uint32, int(e.nb)*e.nc)}
		for i := range s.idx {
			s.idx[i] = -1
		}
		if e.hist {
			s.hist = make([]uint32, int(e.nb)*histBuckets)
		}
		e.series[k] = s
	}
	return s
}

// slot returns the counters of the bucket of time t, reset when the slot
// held an older bucket. Called with s.mu held.
func (e *Engine) slot(s *series, t time.Time) (cnt []uint32, hist []uint32) {
	b := t.UnixNano() / int64(e.res)
	i := b % e.nb
	cnt = s.cnt[int(i)*e.nc : int(i+1)*e.nc]
	if s.hist != nil {
		hist = s.hist[int(i)*histBuckets : int(i+1)*histBuckets]
	}
	if s.idx[i] != b {
		s.idx[i] = b
		clear(cnt)
		clear(hist)
	}
	s.last = max(s.last, b)
	return cnt, hist
}

// Observe records a finished run.
func (e *Engine) Observe(sm *Sample) {
	s := e.get(sm.Route, sm.SHA256, true)
	event := sm.Violation != "" || sm.Trap || len(sm.Soft) > 0 || sm.Status >= 500
	s.mu.Lock()
	if sm.Module != "" && s.module != sm.Module {
		s.module = sm.Module
	}
	cnt, hist := e.slot(s, e.now())
	cnt[cReq]++
	if sm.Status >= 500 {
		cnt[c5xx]++
	}
	if sm.Trap {
		cnt[cTrap]++
	}
	if sm.Violation != "" {
		cnt[cViol]++
		if len(e.kinds) > 0 {
			if k, ok := e.kinds["violations/"+sm.Violation]; ok {
				cnt[k]++
			}
		}
	}
	for i := range sm.Soft {
		cnt[cSoft]++
		if k, ok := e.kinds["soft/"+sm.Soft[i].Kind]; ok {
			cnt[k]++
		}
	}
	if hist != nil {
		j := sort.Search(histBuckets, func(i int) bool { return histBounds[i] >= sm.Duration })
		hist[min(j, histBuckets-1)]++
	}
	s.mu.Unlock()
	if event {
		e.Kick()
	}
}

// RecordRefused records a module refused for a route (trust, scan or
// compile, at deploy or reload).
func (e *Engine) RecordRefused(route, sha, module string) {
	s := e.get(route, sha, true)
	s.mu.Lock()
	if module != "" {
		s.module = module
	}
	cnt, _ := e.slot(s, e.now())
	cnt[cRefused]++
	s.mu.Unlock()
	e.Kick()
}

// SetFindings sets the number of dependency findings of a route's module.
func (e *Engine) SetFindings(route, sha, module string, n int) {
	s := e.get(route, sha, true)
	s.mu.Lock()
	if module != "" {
		s.module = module
	}
	s.findings, s.hasFind = n, true
	s.last = max(s.last, e.now().UnixNano()/int64(e.res))
	s.mu.Unlock()
	e.Kick()
}

// Reset forgets the samples of a route's module (a restart gives it a
// clean slate) and resolves its pending and firing alerts, so that they
// fire again, and act again, if the module misbehaves again.
func (e *Engine) Reset(route, sha string) {
	if s := e.get(route, sha, false); s != nil {
		s.mu.Lock()
		for i := range s.idx {
			s.idx[i] = -1
		}
		clear(s.cnt)
		clear(s.hist)
		s.mu.Unlock()
	}
	now := e.now()
	var out []Transition
	e.mu.Lock()
	for id, in := range e.alerts {
		if in.a.Route != route || in.a.SHA256 != sha {
			continue
		}
		from := in.a.State
		switch from {
		case Pending:
			in.a.State, in.a.Since = Inactive, now
			delete(e.alerts, id)
		case Firing:
			in.a.State, in.a.Since, in.a.ResolvedAt = Resolved, now, now
		default:
			continue
		}
		in.a.Value = 0
		out = append(out, Transition{Alert: in.a, From: from})
	}
	e.mu.Unlock()
	e.emit(out)
}

// Kick asks Run to evaluate soon.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Run evaluates the rules every bucket width (at least every 50ms, at most
// every second) and soon after each event, until ctx is done.
func (e *Engine) Run(ctx context.Context) {
	every := min(max(e.res, 50*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.kick:
		}
		e.Evaluate()
		// Coalesce a burst of events into one evaluation per 20ms.
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// value is a rule's signal over its window in series s at bucket b.
func (e *Engine) value(ri int, s *series, b int64) (v float64, cond, clearOK bool) {
	r := &e.rules[ri]
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Signal == Findings {
		v = float64(s.findings)
		return v, s.hasFind && v >= float64(r.Count), v < r.ResolveBelow
	}
	w := int64((r.Over + e.res - 1) / e.res)
	var req, n uint64
	var h [histBuckets]uint64
	for k := b - w + 1; k <= b; k++ {
		if k < 0 {
			continue
		}
		i := k % e.nb
		if s.idx[i] != k {
			continue
		}
		c := s.cnt[int(i)*e.nc : int(i+1)*e.nc]
		req += uint64(c[cReq])
		if slot := e.ruleC[ri]; slot >= 0 {
			n += uint64(c[slot])
		}
		if r.Signal == P99 {
			for j, x := range s.hist[int(i)*histBuckets : int(i+1)*histBuckets] {
				h[j] += uint64(x)
			}
		}
	}
	switch {
	case r.Signal == P99:
		if req == 0 {
			return 0, false, true
		}
		want, cum := uint64(math.Ceil(float64(req)*0.99)), uint64(0)
		for j := range h {
			cum += h[j]
			if cum >= want {
				v = float64(histBounds[j]) / float64(time.Millisecond)
				break
			}
		}
		return v, req >= uint64(r.MinRequests) && v > r.Above, v < r.ResolveBelow
	case r.Rate > 0:
		if req > 0 {
			v = float64(n) / float64(req)
		}
		return v, req >= uint64(r.MinRequests) && v >= r.Rate, v < r.ResolveBelow
	}
	v = float64(n)
	return v, v >= float64(r.Count), v < r.ResolveBelow
}

func (e *Engine) rulesFor(route string) []int {
	if rs, ok := e.routeRules[route]; ok {
		return rs
	}
	var rs []int
	for i := range e.rules {
		if e.rules[i].MatchRoute(route) {
			rs = append(rs, i)
		}
	}
	e.routeRules[route] = rs
	return rs
}

func alertID(rule, route, sha string) string {
	if len(sha) > 12 {
		sha = sha[:12]
	}
	return rule + " " + route + " " + sha
}

// Evaluate runs one evaluation of every rule over every series now, and
// reports the transitions.
func (e *Engine) Evaluate() {
	now := e.now()
	b := now.UnixNano() / int64(e.res)
	e.smu.RLock()
	keys := make([]seriesKey, 0, len(e.series))
	for k := range e.series {
		keys = append(keys, k)
	}
	e.smu.RUnlock()
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].sha < keys[j].sha
	})
	var out []Transition
	e.mu.Lock()
	seen := map[string]bool{}
	for _, k := range keys {
		s := e.get(k.route, k.sha, false)
		if s == nil {
			continue
		}
		s.mu.Lock()
		mod, last := s.module, s.last
		s.mu.Unlock()
		for _, ri := range e.rulesFor(k.route) {
			r := &e.rules[ri]
			v, cond, clr := e.value(ri, s, b)
			id := alertID(r.Name, k.route, k.sha)
			seen[id] = true
			out = e.step(out, id, ri, k, mod, v, cond, clr, now)
		}
		idle := time.Duration(b-last) * e.res
		if idle > e.span+e.res && !e.activeFor(k) {
			e.smu.Lock()
			delete(e.series, k)
			e.smu.Unlock()
		}
	}
	// Alerts whose series is gone: their signal is zero.
	for id, in := range e.alerts {
		if !seen[id] {
			out = e.step(out, id, in.rule, seriesKey{in.a.Route, in.a.SHA256}, in.a.Module, 0, false, true, now)
		}
	}
	e.expire(now)
	e.mu.Unlock()
	e.emit(out)
}

// emit reports transitions to the callback and the subscribers. Called
// without e.mu; emitMu keeps transitions in order across callers.
func (e *Engine) emit(out []Transition) {
	if len(out) == 0 {
		return
	}
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	e.mu.Lock()
	subs := make([]chan Transition, 0, len(e.subs))
	for _, c := range e.subs {
		subs = append(subs, c)
	}
	e.mu.Unlock()
	for _, t := range out {
		if e.onTrans != nil {
			e.onTrans(t)
		}
		for _, c := range subs {
			select {
			case c <- t:
			default:
				e.dropped.Add(1)
			}
		}
	}
}

// activeFor reports whether an alert of series k is pending or firing.
// Called with e.mu held.
func (e *Engine) activeFor(k seriesKey) bool {
	for _, in := range e.alerts {
		if in.a.Route == k.route && in.a.SHA256 == k.sha && (in.a.State == Pending || in.a.State == Firing) {
			return true
		}
	}
	return false
}

// step moves one alert's state machine. Called with e.mu held.
func (e *Engine) step(out []Transition, id string, ri int, k seriesKey, mod string, v float64, cond, clr bool, now time.Time) []Transition {
	r := &e.rules[ri]
	in := e.alerts[id]
	move := func(to State) {
		from := in.a.State
		in.a.State, in.a.Since = to, now
		switch to {
		case Firing:
			in.a.FiredAt = now
		case Resolved:
			in.a.ResolvedAt = now
		}
		out = append(out, Transition{Alert: in.a, From: from})
	}
	if in == nil || in.a.State == Resolved {
		if !cond {
			if in != nil {
				in.a.Value = v
			}
			return out
		}
		window := ""
		if r.Over > 0 {
			window = r.Over.String()
		}
		in = &instance{rule: ri, a: Alert{ID: id, Rule: r.Name, Route: k.route, SHA256: k.sha, Module: mod,
			Signal: r.Signal, Kind: r.Kind, Severity: r.Severity, Action: r.Action, State: Inactive,
			ActiveAt: now, Threshold: r.Threshold(), Window: window}}
		e.alerts[id] = in
		in.a.Value = v
		move(Pending)
		if r.For == 0 {
			move(Firing)
		}
		return out
	}
	in.a.Value = v
	if mod != "" {
		in.a.Module = mod
	}
	switch in.a.State {
	case Pending:
		switch {
		case !cond:
			move(Inactive)
			delete(e.alerts, id)
		case now.Sub(in.a.ActiveAt) >= r.For:
			move(Firing)
		}
	case Firing:
		if !clr || cond {
			in.clearSince = time.Time{}
			return out
		}
		if in.clearSince.IsZero() {
			in.clearSince = now
		}
		if now.Sub(in.clearSince) >= r.ResolveAfter {
			move(Resolved)
		}
	}
	return out
}

// expire drops resolved alerts older than the retention, and the oldest
// past 1000. Called with e.mu held.
func (e *Engine) expire(now time.Time) {
	var done []*instance
	for id, in := range e.alerts {
		if in.a.State != Resolved {
			continue
		}
		if now.Sub(in.a.ResolvedAt) > e.keepDone {
			delete(e.alerts, id)
			continue
		}
		done = append(done, in)
	}
	if len(done) > 1000 {
		sort.Slice(done, func(i, j int) bool { return done[i].a.ResolvedAt.Before(done[j].a.ResolvedAt) })
		for _, in := range done[:len(done)-1000] {
			delete(e.alerts, in.a.ID)
		}
	}
}

// Snapshot returns the alerts listed now (pending, firing and recently
// resolved), firing first, then pending, then resolved, each newest
// first.
func (e *Engine) Snapshot() []Alert {
	e.mu.Lock()
	out := make([]Alert, 0, len(e.alerts))
	for _, in := range e.alerts {
		out = append(out, in.a)
	}
	e.mu.Unlock()
	rank := map[State]int{Firing: 0, Pending: 1, Resolved: 2}
	sort.Slice(out, func(i, j int) bool {
		if rank[out[i].State] != rank[out[j].State] {
			return rank[out[i].State] < rank[out[j].State]
		}
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.After(out[j].Since)
		}
		return strings.Compare(out[i].ID, out[j].ID) < 0
	})
	return out
}

// Subscribe returns a channel that receives every transition from now on
// (buffered with buf places; a transition that finds it full is dropped
// for that subscriber and counted in Dropped, so a slow subscriber never
// holds the engine) and the function that ends the subscription and
// closes the channel.
func (e *Engine) Subscribe(buf int) (<-chan Transition, func()) {
	c := make(chan Transition, max(buf, 1))
	e.mu.Lock()
	id := e.nextSub
	e.nextSub++
	e.subs[id] = c
	e.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			// emitMu: no transition is being sent while c closes.
			e.emitMu.Lock()
			e.mu.Lock()
			delete(e.subs, id)
			e.mu.Unlock()
			close(c)
			e.emitMu.Unlock()
		})
	}
}

// Dropped is the number of transitions dropped for subscribers that were
// not keeping up.
func (e *Engine) Dropped() uint64 { return e.dropped.Load() }

// Package tenant is the gateway's admission control for many tenants on one
// process: a process-wide memory budget that every instance reserves its
// memory cap from before it is instantiated, per-tenant quotas (concurrent
// instances, memory, fuel per second, request rate, body and outbound bytes
// per second) and weighted fair queuing of the requests that wait when
// instances or memory are scarce. See docs/tenancy.md.
package tenant

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultName is the tenant of routes and requests that name none.
const DefaultName = "default"

// Defaults of a tenant's queue.
const (
	DefaultQueue        = 64
	DefaultQueueTimeout = time.Second
)

// Quotas bound one tenant. A zero field is no bound.
type Quotas struct {
	// Instances bounds the tenant's instances running at once.
	Instances int
	// Memory bounds the bytes of the memory budget the tenant holds
	// reserved at once.
	Memory int64
	// FuelPerSecond and FuelBurst are the tenant's fuel bucket: a run takes
	// fuel from it as it goes, and one that finds it empty is stopped with
	// a quota violation.
	FuelPerSecond uint64
	FuelBurst     uint64
	// RequestsPerSecond and RequestBurst bound the tenant's request rate.
	RequestsPerSecond float64
	RequestBurst      int
	// BodyBytesPerSecond bounds the request body bytes the tenant sends;
	// its burst is BodyBurst.
	BodyBytesPerSecond int64
	BodyBurst          int64
	// OutboundBytesPerSecond and OutboundBurst are the tenant's outbound
	// bucket: the bytes its guests send and receive through the network
	// capability are paid from it before they are sent or delivered
	// (Outbound), so no byte beyond it leaves the host. OutboundBurst 0 is
	// one second of the rate.
	OutboundBytesPerSecond int64
	OutboundBurst          int64
	// Queue is how many of the tenant's requests may wait for admission,
	// QueueTimeout how long each may wait.
	Queue        int
	QueueTimeout time.Duration
}

// Config is one tenant.
type Config struct {
	Name string
	// Weight is the tenant's share when requests wait: with two tenants
	// waiting, one of weight 3 is admitted three times as often as one of
	// weight 1.
	Weight int
	Quotas Quotas
	// Hosts are request host names (without port) that identify the tenant.
	Hosts []string
	// KeyHashes are SHA-256 hashes of the API keys that identify the
	// tenant. The keys themselves are never held.
	KeyHashes [][sha256.Size]byte
}

// Reasons a request is refused, for metrics and the audit log.
const (
	ReasonMemoryBudget = "memory_budget" // the process-wide budget (503)
	ReasonInstances    = "instances"     // the tenant's instance quota (429)
	ReasonMemoryQuota  = "memory_quota"  // the tenant's memory quota (429)
	ReasonQueueFull    = "queue_full"    // the tenant's queue is full
	ReasonRate         = "rate"          // the tenant's request rate (429)
	ReasonBodyRate     = "body_rate"     // the tenant's body bytes per second (429)
	ReasonFuel         = "fuel"          // the tenant's fuel bucket is empty (429)
	ReasonOutbound     = "outbound"      // the tenant's outbound bytes are spent (429)
)

// Refusal is why a request was not admitted: the reason, the HTTP status
// (429 when the tenant's own quota refused it, 503 when the process's
// budget did) and when to retry.
type Refusal struct {
	Reason     string
	Status     int
	RetryAfter time.Duration
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("tenant admission refused: %s (status %d)", r.Reason, r.Status)
}

// Scheduler admits instances against the memory budget and the tenants'
// quotas. It is safe for concurrent use.
type Scheduler struct {
	budget int64
	// maxInstances bounds instances of all tenants together (0: none).
	maxInstances int
	now          func() time.Time
	onReserve    func(int64)

	mu      sync.Mutex
	used    int64
	running int
	vtime   float64
	tenants []*Tenant
	byName  map[string]*Tenant
	byHost  map[string]*Tenant
	keyed   []*Tenant
}

// Options configure a Scheduler.
type Options struct {
	// MemoryBudget is the bytes all instances may reserve together.
	MemoryBudget int64
	// MaxInstances bounds the instances of all tenants together; 0 none.
	MaxInstances int
	// Now is the clock of the token buckets (time.Now when nil).
	Now func() time.Time
	// OnReserve, when set, is called with the bytes reserved whenever
	// they change (under the scheduler's lock: it must be quick and must
	// not call back into the scheduler).
	OnReserve func(reserved int64)
}

// New returns a scheduler for the tenants; a tenant named DefaultName is
// added when none is.
func New(o Options, tenants []Config) (*Scheduler, error) {
	if o.MemoryBudget <= 0 {
		return nil, errors.New("tenant: the memory budget must be positive")
	}
	s := &Scheduler{budget: o.MemoryBudget, maxInstances: o.MaxInstances, now: o.Now, onReserve: o.OnReserve,
		byName: map[string]*Tenant{}, byHost: map[string]*Tenant{}}
	if s.now == nil {
		s.now = time.Now
	}
	for _, c := range tenants {
		if err := s.add(c); err != nil {
			return nil, err
		}
	}
	if s.byName[DefaultName] == nil {
		if err := s.add(Config{Name: DefaultName, Weight: 1}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Scheduler) add(c Config) error {
	if c.Name == "" {
		return errors.New("tenant: a tenant needs a name")
	}
	if s.byName[c.Name] != nil {
		return fmt.Errorf("tenant %q: defined twice", c.Name)
	}
	if c.Weight < 1 {
		c.Weight = 1
	}
	q := &c.Quotas
	if q.Queue <= 0 {
		q.Queue = DefaultQueue
	}
	if q.QueueTimeout <= 0 {
		q.QueueTimeout = DefaultQueueTimeout
	}
	if q.Memory > s.budget {
		q.Memory = s.budget
	}
	t := &Tenant{cfg: c, s: s}
	if q.RequestsPerSecond > 0 {
		t.reqLim = rate.NewLimiter(rate.Limit(q.RequestsPerSecond), max(q.RequestBurst, 1))
	}
	if q.BodyBytesPerSecond > 0 {
		t.bodyLim = rate.NewLimiter(rate.Limit(q.BodyBytesPerSecond), int(max(q.BodyBurst, q.BodyBytesPerSecond)))
	}
	if q.FuelPerSecond > 0 {
		burst := q.FuelBurst
		if burst == 0 {
			burst = q.FuelPerSecond
		}
		t.fuel = NewBucket(float64(q.FuelPerSecond), float64(burst), s.now)
	}
	if q.OutboundBytesPerSecond > 0 {
		burst := q.OutboundBurst
		if burst == 0 {
			burst = q.OutboundBytesPerSecond
		}
		t.net = NewBucket(float64(q.OutboundBytesPerSecond), float64(burst), s.now)
	}
	for _, h := range c.Hosts {
		if o := s.byHost[h]; o != nil {
			return fmt.Errorf("tenant %q: host %q is also tenant %q's", c.Name, h, o.cfg.Name)
		}
		s.byHost[h] = t
	}
	if len(c.KeyHashes) > 0 {
		s.keyed = append(s.keyed, t)
	}
	s.tenants = append(s.tenants, t)
	s.byName[c.Name] = t
	return nil
}

// Budget reports the memory budget and the bytes reserved now.
func (s *Scheduler) Budget() (budget, reserved int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.budget, s.used
}

// Tenant returns the tenant named name, or nil.
func (s *Scheduler) Tenant(name string) *Tenant { return s.byName[name] }

// Tenants returns the tenants in configuration order (the default last
// when it was added).
func (s *Scheduler) Tenants() []*Tenant { return s.tenants }

// ByHost returns the tenant a host name identifies, or nil.
func (s *Scheduler) ByHost(host string) *Tenant { return s.byHost[host] }

// ByKey returns the tenant whose API key is key, or nil. The key is
// hashed and compared with every tenant's hashes in constant time: how
// long it takes says nothing about which hash, or how much of one, matched.
func (s *Scheduler) ByKey(key string) *Tenant {
	h := sha256.Sum256([]byte(key))
	var found *Tenant
	for _, t := range s.keyed {
		for i := range t.cfg.KeyHashes {
			if subtle.ConstantTimeCompare(h[:], t.cfg.KeyHashes[i][:]) == 1 && found == nil {
				found = t
			}
		}
	}
	return found
}

// Tenant is one tenant's admission state.
type Tenant struct {
	cfg Config
	s   *Scheduler

	reqLim  *rate.Limiter
	bodyLim *rate.Limiter
	fuel    *Bucket
	net     *Bucket

	// Under s.mu.
	running    int
	reserved   int64
	queue      []*waiter
	lastFinish float64

	admitted, queuedTotal atomic.Uint64
}

// Name returns the tenant's name.
func (t *Tenant) Name() string { return t.cfg.Name }

// Config returns the tenant's configuration.
func (t *Tenant) Config() Config { return t.cfg }

// Stats is a tenant's admission state now.
type Stats struct {
	Running     int
	Reserved    int64
	Queued      int
	Admitted    uint64
	QueuedTotal uint64
	// FuelLevel is the fuel in the tenant's bucket (0 without a fuel quota).
	FuelLevel float64
}

// Stats reports the tenant's admission state now.
func (t *Tenant) Stats() Stats {
	t.s.mu.Lock()
	st := Stats{Running: t.running, Reserved: t.reserved, Queued: len(t.queue)}
	t.s.mu.Unlock()
	st.Admitted, st.QueuedTotal = t.admitted.Load(), t.queuedTotal.Load()
	if t.fuel != nil {
		st.FuelLevel = t.fuel.Level()
	}
	return st
}

// Fuel returns the tenant's fuel bucket, nil without a fuel quota.
func (t *Tenant) Fuel() *Bucket { return t.fuel }

// Allow checks the tenant's request rate and body-bytes quotas and its
// fuel and outbound buckets for a request with body bytes of body, at now.
// It takes the request's tokens only when it admits it.
func (t *Tenant) Allow(now time.Time, body int64, network bool) *Refusal {
	var req *rate.Reservation
	if t.reqLim != nil {
		req = t.reqLim.ReserveN(now, 1)
		if d := req.DelayFrom(now); !req.OK() || d > 0 {
			req.CancelAt(now)
			return &Refusal{Reason: ReasonRate, Status: http.StatusTooManyRequests, RetryAfter: d}
		}
	}
	ref := t.allowRest(now, body, network)
	if ref != nil && req != nil {
		req.CancelAt(now) // a request refused for another quota spends no request token
	}
	return ref
}

func (t *Tenant) allowRest(now time.Time, body int64, network bool) *Refusal {
	if t.fuel != nil {
		if d := t.fuel.Wait(); d > 0 {
			return &Refusal{Reason: ReasonFuel, Status: http.StatusTooManyRequests, RetryAfter: d}
		}
	}
	if network && t.net != nil {
		if d := t.net.Wait(); d > 0 {
			return &Refusal{Reason: ReasonOutbound, Status: http.StatusTooManyRequests, RetryAfter: d}
		}
	}
	return t.AllowBody(now, body)
}

// AllowBody checks a body whose length was not declared, once it is in,
// against the tenant's body-bytes quota.
func (t *Tenant) AllowBody(now time.Time, body int64) *Refusal {
	if t.bodyLim == nil || body <= 0 {
		return nil
	}
	r := t.bodyLim.ReserveN(now, int(min(body, int64(1<<62))))
	if d := r.DelayFrom(now); !r.OK() || d > 0 {
		r.CancelAt(now)
		if !r.OK() {
			d = time.Duration(float64(body) / float64(t.cfg.Quotas.BodyBytesPerSecond) * float64(time.Second))
		}
		return &Refusal{Reason: ReasonBodyRate, Status: http.StatusTooManyRequests, RetryAfter: d}
	}
	return nil
}

// Outbound returns the tenant's outbound bucket, nil without an outbound
// quota. A run pays its network bytes from it as it goes
// (sandbox.Invocation.Outbound).
func (t *Tenant) Outbound() *Bucket { return t.net }

// RetryAfter is how long until a run stopped by the tenant's fuel or
// outbound bucket may be retried: until both hold a token again.
func (t *Tenant) RetryAfter() time.Duration {
	var d time.Duration
	if t.fuel != nil {
		d = t.fuel.Wait()
	}
	if t.net != nil {
		d = max(d, t.net.Wait())
	}
	return d
}

// waiter is a request waiting in its tenant's queue.
type waiter struct {
	mem     int64
	start   float64 // virtual start tag
	finish  float64 // virtual finish tag: the WFQ order
	ready   chan struct{}
	granted bool
}

// Ticket is an admitted instance's reservation; Release gives it back.
type Ticket struct {
	t   *Tenant
	mem int64
	// Queued is how long the request waited for admission.
	Queued time.Duration
}

// Release gives the ticket's instance slot and memory back and admits
// whoever waits and now fits. It must be called exactly once per ticket
// Admit returned.
func (k Ticket) Release() {
	if k.t == nil {
		return
	}
	s := k.t.s
	s.mu.Lock()
	s.used -= k.mem
	s.running--
	k.t.running--
	k.t.reserved -= k.mem
	s.dispatch()
	if s.onReserve != nil {
		s.onReserve(s.used)
	}
	s.mu.Unlock()
}

// ownFits reports whether the tenant's own quotas leave room for an
// instance of mem bytes. Under s.mu.
func (t *Tenant) ownFits(mem int64) bool {
	q := &t.cfg.Quotas
	return (q.Instances == 0 || t.running < q.Instances) && (q.Memory == 0 || t.reserved+mem <= q.Memory)
}

// globalFits reports whether the process's budget leaves room. Under s.mu.
func (s *Scheduler) globalFits(mem int64) bool {
	return s.used+mem <= s.budget && (s.maxInstances == 0 || s.running < s.maxInstances)
}

func (s *Scheduler) grant(t *Tenant, mem int64) {
	s.used += mem
	s.running++
	t.running++
	t.reserved += mem
	t.admitted.Add(1)
	if s.onReserve != nil {
		s.onReserve(s.used)
	}
}

// dispatch admits waiting requests in weighted-fair order: among the
// tenants whose own quotas leave room for their first waiter, the waiter
// with the smallest finish tag goes first, when the budget has room for it.
// When it has not, nobody behind it overtakes it (a large request is not
// starved by small ones). Under s.mu.
func (s *Scheduler) dispatch() {
	for {
		var best *Tenant
		for _, t := range s.tenants {
			if len(t.queue) == 0 || !t.ownFits(t.queue[0].mem) {
				continue
			}
			if best == nil || t.queue[0].finish < best.queue[0].finish {
				best = t
			}
		}
		if best == nil {
			return
		}
		w := best.queue[0]
		if !s.globalFits(w.mem) {
			return
		}
		best.queue[0] = nil
		best.queue = best.queue[1:]
		s.vtime = w.start
		s.grant(best, w.mem)
		w.granted = true
		close(w.ready)
	}
}

// eligibleWaiting reports whether a tenant has a waiter its own quotas
// would let in (one that only the budget holds back). Under s.mu.
func (s *Scheduler) eligibleWaiting() bool {
	for _, t := range s.tenants {
		if len(t.queue) > 0 && t.ownFits(t.queue[0].mem) {
			return true
		}
	}
	return false
}

// tags assigns a request's virtual start and finish tags (self-clocked
// fair queuing: start at the later of the system's virtual time and the
// tenant's last finish, one request's cost divided by the weight).
func (t *Tenant) tags() (start, finish float64) {
	start = max(t.s.vtime, t.lastFinish)
	finish = start + 1/float64(t.cfg.Weight)
	t.lastFinish = finish
	return start, finish
}

// Admit reserves an instance slot and mem bytes of the memory budget for
// the tenant. When the tenant's quotas or the budget have no room, the
// request waits in the tenant's queue (FIFO within the tenant, weighted
// fair across tenants) until deadline, the tenant's queue timeout or ctx,
// whichever comes first. It returns the ticket to Release, or a *Refusal.
func (t *Tenant) Admit(ctx context.Context, mem int64, deadline time.Time) (Ticket, error) {
	s := t.s
	if mem > s.budget || (t.cfg.Quotas.Memory > 0 && mem > t.cfg.Quotas.Memory) {
		reason, status := ReasonMemoryBudget, http.StatusServiceUnavailable
		if mem <= s.budget {
			reason, status = ReasonMemoryQuota, http.StatusTooManyRequests
		}
		return Ticket{}, &Refusal{Reason: reason, Status: status, RetryAfter: time.Second}
	}
	s.mu.Lock()
	if len(t.queue) == 0 && t.ownFits(mem) && s.globalFits(mem) && !s.eligibleWaiting() {
		start, _ := t.tags()
		s.vtime = start
		s.grant(t, mem)
		s.mu.Unlock()
		return Ticket{t: t, mem: mem}, nil
	}
	if len(t.queue) >= t.cfg.Quotas.Queue {
		ref := t.blocked(mem, ReasonQueueFull)
		s.mu.Unlock()
		return Ticket{}, ref
	}
	w := &waiter{mem: mem, ready: make(chan struct{})}
	w.start, w.finish = t.tags()
	t.queue = append(t.queue, w)
	t.queuedTotal.Add(1)
	s.dispatch()
	if w.granted {
		s.mu.Unlock()
		return Ticket{t: t, mem: mem}, nil
	}
	s.mu.Unlock()

	begin := time.Now()
	until := begin.Add(t.cfg.Quotas.QueueTimeout)
	if !deadline.IsZero() && deadline.Before(until) {
		until = deadline
	}
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case <-w.ready:
	case <-timer.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		return Ticket{t: t, mem: mem, Queued: time.Since(begin)}, nil
	}
	t.remove(w)
	// Its place may have been what held others back.
	s.dispatch()
	return Ticket{}, t.blocked(mem, "")
}

// remove takes w out of the tenant's queue and gives back its virtual
// time, so that requests that gave up do not push the tenant's later ones
// back. Under s.mu.
func (t *Tenant) remove(w *waiter) {
	cost := 1 / float64(t.cfg.Weight)
	for i, x := range t.queue {
		if x != w {
			continue
		}
		copy(t.queue[i:], t.queue[i+1:])
		t.queue[len(t.queue)-1] = nil
		t.queue = t.queue[:len(t.queue)-1]
		for _, y := range t.queue[i:] {
			y.start -= cost
			y.finish -= cost
		}
		t.lastFinish -= cost
		return
	}
}

// blocked is the refusal of a request that could not be admitted: 429
// naming the tenant's quota when that is what holds it back, 503 naming the
// budget otherwise. reason, when set, replaces the reason (queue_full).
// Under s.mu.
func (t *Tenant) blocked(mem int64, reason string) *Refusal {
	r := &Refusal{Reason: ReasonMemoryBudget, Status: http.StatusServiceUnavailable, RetryAfter: time.Second}
	q := &t.cfg.Quotas
	switch {
	case q.Instances > 0 && t.running >= q.Instances:
		r.Reason, r.Status = ReasonInstances, http.StatusTooManyRequests
	case q.Memory > 0 && t.reserved+mem > q.Memory:
		r.Reason, r.Status = ReasonMemoryQuota, http.StatusTooManyRequests
	case t.s.maxInstances > 0 && t.s.running >= t.s.maxInstances && t.s.used+mem <= t.s.budget:
		r.Reason = ReasonInstances
	}
	if reason != "" {
		r.Reason = reason
	}
	return r
}

package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/internal/httpfield"
	"github.com/wasmward/wasmward/internal/netcap"
	"github.com/wasmward/wasmward/internal/tenant"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Tenancy is the multi-tenant part of a configuration: the tenants, the
// process-wide memory budget and instance bound. See docs/tenancy.md.
type Tenancy struct {
	// MemoryBudget is the bytes all instances reserve together
	// (memory_budget); BudgetSource says where it came from.
	MemoryBudget int64
	BudgetSource string
	// MaxInstances bounds the instances of all tenants together; 0 none.
	MaxInstances int
	// KeyHeader is the request header carrying a tenant's API key.
	KeyHeader string
	// BackgroundCPU runs long guest work at the idle CPU priority
	// (background_cpu; sandbox.Config.WithBackgroundCPU): on by default
	// when the file configures tenants, off otherwise.
	BackgroundCPU bool
	// Tenants as configured (the default tenant is added by the scheduler
	// when the file names none).
	Tenants []tenant.Config
}

// DefaultTenantKeyHeader is tenant_key_header when the file does not say.
const DefaultTenantKeyHeader = "X-Api-Key"

// InstanceOverhead is what an instance is charged against memory_budget
// beyond its linear memory cap: the tables the sandbox grants on top of
// the cap (64KiB) and the host's own per-instance structures (wazero's
// module instance, the run state, the stacks), rounded up.
const InstanceOverhead = 1 << 20

type fileTenant struct {
	Name         string     `yaml:"name"`
	Weight       *int       `yaml:"weight"`
	Hosts        []string   `yaml:"hosts"`
	APIKeyHashes []string   `yaml:"api_key_hashes"`
	APIKeysFile  string     `yaml:"api_keys_file"`
	Quotas       fileQuotas `yaml:"quotas"`
}

type fileQuotas struct {
	Instances              *int             `yaml:"instances"`
	Memory                 string           `yaml:"memory"`
	FuelPerSecond          *float64         `yaml:"fuel_per_second"`
	FuelBurst              *float64         `yaml:"fuel_burst"`
	RequestsPerSecond      *float64         `yaml:"requests_per_second"`
	RequestBurst           *int             `yaml:"request_burst"`
	BodyBytesPerSecond     *policy.Size     `yaml:"body_bytes_per_second"`
	BodyBurst              *policy.Size     `yaml:"body_burst"`
	OutboundBytesPerSecond *policy.Size     `yaml:"outbound_bytes_per_second"`
	OutboundBurst          *policy.Size     `yaml:"outbound_burst"`
	Queue                  *int             `yaml:"queue"`
	QueueTimeout           *policy.Duration `yaml:"queue_timeout"`
}

// instanceReserve is what an instance of a route under p reserves from
// memory_budget.
func instanceReserve(p policy.Policy) int64 {
	return int64(p.Limits.Memory) + InstanceOverhead
}

// applyTenancy reads memory_budget, max_instances, tenant_key_header and
// tenants, and checks every route's tenant and that its instances fit.
func applyTenancy(c *Config, f *file, root *yaml.Node, name, dir string) error {
	at := func(path ...any) string {
		n := root
		for _, k := range path {
			switch k := k.(type) {
			case string:
				if v := mappingValue(n, k); v != nil {
					n = v
				}
			case int:
				if n.Kind == yaml.SequenceNode && k < len(n.Content) {
					n = n.Content[k]
				}
			}
		}
		parts := make([]string, 0, len(path))
		for _, k := range path {
			switch k := k.(type) {
			case string:
				parts = append(parts, k)
			case int:
				parts[len(parts)-1] += "[" + strconv.Itoa(k) + "]"
			}
		}
		return fmt.Sprintf("%s:%d: %s", name, n.Line, strings.Join(parts, "."))
	}
	t := &c.Tenancy
	t.MemoryBudget, t.BudgetSource = tenant.DefaultBudget()
	if f.MemoryBudget != nil {
		if *f.MemoryBudget < 1<<20 || uint64(*f.MemoryBudget) > math.MaxInt64 {
			return fmt.Errorf("%s: %s is out of range (at least 1MiB)", at("memory_budget"), *f.MemoryBudget)
		}
		t.MemoryBudget, t.BudgetSource = int64(*f.MemoryBudget), "memory_budget"
	}
	if f.MaxInstances != nil {
		if *f.MaxInstances < 0 {
			return fmt.Errorf("%s: must not be negative (0: no bound)", at("max_instances"))
		}
		t.MaxInstances = *f.MaxInstances
	}
	t.BackgroundCPU = len(f.Tenants) > 0
	if f.BackgroundCPU != nil {
		t.BackgroundCPU = *f.BackgroundCPU
	}
	t.KeyHeader = DefaultTenantKeyHeader
	if f.TenantKeyHeader != "" {
		if !httpfield.Valid(f.TenantKeyHeader) {
			return fmt.Errorf("%s: %q is not a header name", at("tenant_key_header"), f.TenantKeyHeader)
		}
		t.KeyHeader = http.CanonicalHeaderKey(f.TenantKeyHeader)
	}
	names := map[string]int{}
	for i, ft := range f.Tenants {
		tc, err := parseTenant(ft, t.MemoryBudget, dir, func(key ...any) string {
			return at(append([]any{"tenants", i}, key...)...)
		})
		if err != nil {
			return err
		}
		if j, dup := names[tc.Name]; dup {
			return fmt.Errorf("%s: tenant %q is also tenants[%d]", at("tenants", i, "name"), tc.Name, j)
		}
		names[tc.Name] = i
		t.Tenants = append(t.Tenants, tc)
	}
	quota := func(n string) int64 {
		for _, tc := range t.Tenants {
			if tc.Name == n {
				return tc.Quotas.Memory
			}
		}
		return 0
	}
	for i, r := range c.Routes {
		where := at("routes", i)
		if _, ok := names[r.Tenant]; r.Tenant != "" && !ok && r.Tenant != tenant.DefaultName {
			return fmt.Errorf("%s.tenant: no tenant %q in tenants", where, r.Tenant)
		}
		need := instanceReserve(r.Policy)
		if need > t.MemoryBudget {
			return fmt.Errorf("%s: an instance reserves %s (its memory cap and %s overhead), more than memory_budget %s: it could never run",
				where, policy.Size(need), policy.Size(InstanceOverhead), policy.Size(t.MemoryBudget))
		}
		if q := quota(r.Tenant); q > 0 && need > q {
			return fmt.Errorf("%s: an instance reserves %s, more than tenant %q's memory quota %s: it could never run",
				where, policy.Size(need), r.Tenant, policy.Size(q))
		}
	}
	return nil
}

// parseTenant checks one tenants entry; at names a key of it.
func parseTenant(ft fileTenant, budget int64, dir string, at func(key ...any) string) (tenant.Config, error) {
	tc := tenant.Config{Name: ft.Name, Weight: 1}
	if ft.Name == "" || strings.ContainsFunc(ft.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) || len(ft.Name) > 64 {
		return tc, fmt.Errorf("%s: %q must be 1 to 64 of a-z, 0-9, '-', '_', '.'", at("name"), ft.Name)
	}
	if ft.Weight != nil {
		if *ft.Weight < 1 || *ft.Weight > 1000 {
			return tc, fmt.Errorf("%s: must be from 1 to 1000", at("weight"))
		}
		tc.Weight = *ft.Weight
	}
	for j, h := range ft.Hosts {
		h = strings.ToLower(h)
		if h == "" || strings.ContainsAny(h, ":/ \t\r\n\x00") {
			return tc, fmt.Errorf("%s: %q is not a host name (no port, no scheme)", at("hosts", j), ft.Hosts[j])
		}
		tc.Hosts = append(tc.Hosts, h)
	}
	for j, s := range ft.APIKeyHashes {
		h, ok := parseKeyHash(s)
		if !ok {
			// The value is not echoed: it may be a key pasted by mistake.
			return tc, fmt.Errorf("%s: not sha256:<64 hex digits> (the hash of a key, never the key)", at("api_key_hashes", j))
		}
		tc.KeyHashes = append(tc.KeyHashes, h)
	}
	if ft.APIKeysFile != "" {
		p := ft.APIKeysFile
		if dir != "" && !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		hs, err := readKeyHashes(p)
		if err != nil {
			return tc, fmt.Errorf("%s: %w", at("api_keys_file"), err)
		}
		tc.KeyHashes = append(tc.KeyHashes, hs...)
	}
	q, fq := &tc.Quotas, ft.Quotas
	count := func(key string, v *int, dst *int) error {
		if v != nil {
			if *v < 1 {
				return fmt.Errorf("%s: must be at least 1", at("quotas", key))
			}
			*dst = *v
		}
		return nil
	}
	rate := func(key string, v *float64) (float64, error) {
		if v == nil {
			return 0, nil
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) || *v <= 0 || *v > 1e18 {
			return 0, fmt.Errorf("%s: must be a finite number above 0", at("quotas", key))
		}
		return *v, nil
	}
	size := func(key string, v *policy.Size) (int64, error) {
		if v == nil {
			return 0, nil
		}
		if *v == 0 || uint64(*v) > math.MaxInt64/2 {
			return 0, fmt.Errorf("%s: %s is out of range", at("quotas", key), *v)
		}
		return int64(*v), nil
	}
	var err error
	for _, e := range []error{
		count("instances", fq.Instances, &q.Instances),
		count("request_burst", fq.RequestBurst, &q.RequestBurst),
		count("queue", fq.Queue, &q.Queue),
	} {
		if e != nil {
			return tc, e
		}
	}
	var fuel, burst float64
	if fuel, err = rate("fuel_per_second", fq.FuelPerSecond); err != nil {
		return tc, err
	}
	if burst, err = rate("fuel_burst", fq.FuelBurst); err != nil {
		return tc, err
	}
	q.FuelPerSecond, q.FuelBurst = uint64(fuel), uint64(burst)
	if q.RequestsPerSecond, err = rate("requests_per_second", fq.RequestsPerSecond); err != nil {
		return tc, err
	}
	if q.RequestBurst == 0 && q.RequestsPerSecond > 0 {
		q.RequestBurst = max(1, int(min(2*q.RequestsPerSecond, 1<<30)))
	}
	if q.BodyBytesPerSecond, err = size("body_bytes_per_second", fq.BodyBytesPerSecond); err != nil {
		return tc, err
	}
	if q.BodyBurst, err = size("body_burst", fq.BodyBurst); err != nil {
		return tc, err
	}
	if q.OutboundBytesPerSecond, err = size("outbound_bytes_per_second", fq.OutboundBytesPerSecond); err != nil {
		return tc, err
	}
	if q.OutboundBurst, err = size("outbound_burst", fq.OutboundBurst); err != nil {
		return tc, err
	}
	if fq.QueueTimeout != nil {
		if *fq.QueueTimeout <= 0 {
			return tc, fmt.Errorf("%s: must be greater than zero", at("quotas", "queue_timeout"))
		}
		q.QueueTimeout = fq.QueueTimeout.Std()
	}
	if m := strings.TrimSpace(fq.Memory); m != "" {
		if pct, ok := strings.CutSuffix(m, "%"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
			if err != nil || math.IsNaN(v) || v <= 0 || v > 100 {
				return tc, fmt.Errorf("%s: %q is not a percentage from 0 to 100", at("quotas", "memory"), m)
			}
			q.Memory = int64(float64(budget) * v / 100)
		} else {
			sz, err := policy.ParseSize(m)
			if err != nil || sz == 0 {
				return tc, fmt.Errorf("%s: %q is not a size (512MiB) or a share of memory_budget (25%%)", at("quotas", "memory"), m)
			}
			q.Memory = int64(min(uint64(sz), uint64(budget)))
		}
	}
	return tc, nil
}

// parseKeyHash parses "sha256:HEX".
func parseKeyHash(s string) ([sha256.Size]byte, bool) {
	var h [sha256.Size]byte
	x, ok := strings.CutPrefix(strings.TrimSpace(s), "sha256:")
	if !ok || len(x) != 2*sha256.Size {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(x)); err != nil {
		return h, false
	}
	return h, true
}

// readKeyHashes reads an api_keys_file: one sha256:HEX per line, blank
// lines and # comments ignored.
func readKeyHashes(path string) ([][sha256.Size]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read API key hashes: %w", err)
	}
	var out [][sha256.Size]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		h, ok := parseKeyHash(line)
		if !ok {
			return nil, fmt.Errorf("%s:%d: not sha256:<64 hex digits> (the hash of a key, never the key)", path, n)
		}
		out = append(out, h)
	}
	return out, nil
}

// tenancy is the server's admission state and per-tenant metrics.
type tenancy struct {
	sched     *tenant.Scheduler
	keyHeader string
	keyed     bool // some tenant has API keys
	m         map[*tenant.Tenant]*tenantMetrics
	budget    int64
	// The Go memory limit (see limitMemory): on once serving, never above
	// the one the process started with.
	limitOn    atomic.Bool
	startLimit int64

	requests   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	fuel       *prometheus.CounterVec
	background *prometheus.CounterVec
	queue      *prometheus.HistogramVec
}

type tenantMetrics struct {
	requests   prometheus.Counter
	fuel       prometheus.Counter
	background prometheus.Counter
	queue      prometheus.Observer
}

func newTenancy(cfg Tenancy, reg *prometheus.Registry) (*tenancy, error) {
	if cfg.MemoryBudget == 0 { // a Config built by hand, not by ParseConfig
		cfg.MemoryBudget, cfg.BudgetSource = tenant.DefaultBudget()
	}
	tn := &tenancy{keyHeader: cfg.KeyHeader, budget: cfg.MemoryBudget, m: map[*tenant.Tenant]*tenantMetrics{}}
	sched, err := tenant.New(tenant.Options{MemoryBudget: cfg.MemoryBudget, MaxInstances: cfg.MaxInstances, OnReserve: tn.limitMemory}, cfg.Tenants)
	if err != nil {
		return nil, err
	}
	tn.sched = sched
	if tn.keyHeader == "" {
		tn.keyHeader = DefaultTenantKeyHeader
	}
	tn.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_tenant_requests_total", Help: "Requests that reached a route, by tenant.",
	}, []string{"tenant"})
	tn.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_tenant_rejected_total", Help: "Requests refused or runs stopped by a tenant quota or the memory budget, by tenant and reason (rate, body_rate, fuel, outbound, instances, memory_quota, memory_budget, queue_full).",
	}, []string{"tenant", "reason"})
	tn.fuel = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_tenant_fuel_consumed_total", Help: "Fuel consumed by the guests of a tenant.",
	}, []string{"tenant"})
	tn.background = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_tenant_background_runs_total", Help: "Runs of a tenant's guests that moved to the background: they computed long or grew their memory past 16MiB, and finished at the idle CPU priority (background_cpu).",
	}, []string{"tenant"})
	tn.queue = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wasmward_tenant_queue_seconds", Help: "Time admitted requests waited in their tenant's queue, by tenant (0 for those admitted at once).",
		Buckets: []float64{0, .0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"tenant"})
	reg.MustRegister(tn.requests, tn.rejected, tn.fuel, tn.background, tn.queue, tn)
	for _, t := range sched.Tenants() {
		n := t.Name()
		tn.m[t] = &tenantMetrics{requests: tn.requests.WithLabelValues(n), fuel: tn.fuel.WithLabelValues(n),
			background: tn.background.WithLabelValues(n), queue: tn.queue.WithLabelValues(n)}
		if len(t.Config().KeyHashes) > 0 {
			tn.keyed = true
		}
	}
	return tn, nil
}

var (
	descReserved = prometheus.NewDesc("wasmward_tenant_memory_reserved_bytes", "Bytes of memory_budget the tenant's instances hold reserved now.", []string{"tenant"}, nil)
	descRunning  = prometheus.NewDesc("wasmward_tenant_instances", "Instances of the tenant running now.", []string{"tenant"}, nil)
	descQueued   = prometheus.NewDesc("wasmward_tenant_queued", "Requests of the tenant waiting for admission now.", []string{"tenant"}, nil)
	descBudget   = prometheus.NewDesc("wasmward_memory_budget_bytes", "The process-wide memory budget instances reserve their memory cap from (memory_budget).", nil, nil)
	descUsed     = prometheus.NewDesc("wasmward_memory_reserved_bytes", "Bytes of memory_budget reserved by running instances now.", nil, nil)
)

// Describe implements prometheus.Collector for the gauges read at scrape.
func (tn *tenancy) Describe(ch chan<- *prometheus.Desc) {
	ch <- descReserved
	ch <- descRunning
	ch <- descQueued
	ch <- descBudget
	ch <- descUsed
}

// Collect implements prometheus.Collector.
func (tn *tenancy) Collect(ch chan<- prometheus.Metric) {
	b, used := tn.sched.Budget()
	ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, float64(b))
	ch <- prometheus.MustNewConstMetric(descUsed, prometheus.GaugeValue, float64(used))
	for _, t := range tn.sched.Tenants() {
		st := t.Stats()
		ch <- prometheus.MustNewConstMetric(descReserved, prometheus.GaugeValue, float64(st.Reserved), t.Name())
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, float64(st.Running), t.Name())
		ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(st.Queued), t.Name())
	}
}

// identify returns the tenant of a request: the route's when it names
// one, else the tenant whose API key the request carries, else the one
// its host name belongs to, else the default tenant. A key that matches
// no tenant gives nil (the request is refused with 401). When a tenant has
// API keys, the key header is removed from the request: it never reaches a
// guest or a log. When none has, the header means nothing to the gateway.
func (tn *tenancy) identify(r *http.Request, rt *route) *tenant.Tenant {
	var key string
	if vs, ok := r.Header[tn.keyHeader]; ok && tn.keyed {
		if len(vs) > 0 {
			key = vs[0]
		}
		delete(r.Header, tn.keyHeader)
		if len(vs) != 1 || key == "" {
			return nil
		}
	}
	if rt.tenant != nil {
		return rt.tenant
	}
	if key != "" {
		return tn.sched.ByKey(key)
	}
	host := r.Host
	if strings.IndexByte(host, ':') >= 0 { // without one, SplitHostPort fails, allocating its error
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	if t := tn.sched.ByHost(strings.ToLower(host)); t != nil {
		return t
	}
	return tn.sched.Tenant(tenant.DefaultName)
}

// tenantGate identifies the request's tenant and checks the quotas that
// do not need an instance (request rate, body bytes, fuel and outbound
// buckets). When it refuses, it has answered and returns nil.
func (s *Server) tenantGate(w http.ResponseWriter, r *http.Request, rt *route, id string, client string, start time.Time) *tenant.Tenant {
	tn := s.ten.identify(r, rt)
	if tn == nil {
		s.refuse(rt, "tenant_key")
		s.event(audit.Event{Type: audit.TypeQuota, Route: rt.label, RequestID: id, Client: client, Kind: "tenant_key",
			Detail: "the request's API key matches no tenant"})
		s.reject(w, r, rt.m, rt, http.StatusUnauthorized, id, start)
		return nil
	}
	s.ten.m[tn].requests.Inc()
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		// The debug lines of the request name its tenant. The name rides
		// in the request's header map under a key no client can send (a
		// NUL is not a header character) and no guest is passed; it costs
		// an allocation, paid only when debug lines are written.
		r.Header[tenantLogKey] = []string{tn.Name()}
	}
	network := len(rt.cfg.Policy.Capabilities.Network.HTTP) > 0
	if ref := tn.Allow(start, max(r.ContentLength, 0), network); ref != nil {
		s.tenantRefused(w, r, rt, tn, ref, id, client, start)
		return nil
	}
	return tn
}

// tenantLogKey is where tenantGate leaves the tenant's name for the debug
// log lines.
const tenantLogKey = "\x00tenant"

// tenantOf is the tenant name the request's debug log lines carry ("" before
// the tenant is known).
func tenantOf(r *http.Request) string {
	if v := r.Header[tenantLogKey]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// tenantAdmit checks a body of unknown length against the tenant's body
// quota, then reserves an instance slot and the version's memory for the
// tenant, waiting in its queue. When it refuses, it has answered and
// returns false.
func (s *Server) tenantAdmit(w http.ResponseWriter, r *http.Request, rt *route, v *Version, tn *tenant.Tenant, st *reqState, id, client string, start, deadline time.Time) (tenant.Ticket, bool) {
	if r.ContentLength < 0 && len(st.body) > 0 {
		if ref := tn.AllowBody(time.Now(), int64(len(st.body))); ref != nil {
			s.tenantRefused(w, r, rt, tn, ref, id, client, start)
			return tenant.Ticket{}, false
		}
	}
	tk, err := tn.Admit(r.Context(), v.mem, deadline)
	if err != nil {
		ref, ok := err.(*tenant.Refusal)
		if !ok {
			ref = &tenant.Refusal{Reason: tenant.ReasonMemoryBudget, Status: http.StatusServiceUnavailable, RetryAfter: time.Second}
		}
		s.tenantRefused(w, r, rt, tn, ref, id, client, start)
		return tenant.Ticket{}, false
	}
	s.ten.m[tn].queue.Observe(tk.Queued.Seconds())
	st.quota, st.outbound = nil, nil
	if b := tn.Fuel(); b != nil {
		st.quota = b
	}
	if b := tn.Outbound(); b != nil {
		st.outbound = b
	}
	return tk, true
}

// tenantRefused answers a request a quota or the budget refused, with
// Retry-After, and counts and audits it.
func (s *Server) tenantRefused(w http.ResponseWriter, r *http.Request, rt *route, tn *tenant.Tenant, ref *tenant.Refusal, id, client string, start time.Time) {
	s.refuse(rt, "tenant_"+ref.Reason)
	s.ten.rejected.WithLabelValues(tn.Name(), ref.Reason).Inc()
	s.event(audit.Event{Type: audit.TypeQuota, Route: rt.label, Tenant: tn.Name(), RequestID: id, Client: client,
		Kind: ref.Reason, Detail: "refused with " + strconv.Itoa(ref.Status)})
	w.Header()["Retry-After"] = []string{retryAfter(ref.RetryAfter)}
	s.reject(w, r, rt.m, rt, ref.Status, id, start)
}

// tenantRan counts a finished run for its tenant: fuel and whether it
// moved to the background (metrics), and a
// quota stop (metrics), by the bucket that stopped it: outbound when the
// network capability denied a request or body for the quota, else fuel.
func (s *Server) tenantRan(tn *tenant.Tenant, rep *sandbox.Report) {
	if rep == nil {
		return
	}
	tm := s.ten.m[tn]
	tm.fuel.Add(float64(rep.FuelUsed))
	if rep.Background {
		tm.background.Inc()
	}
	if rep.Violation != nil && rep.Violation.Kind == sandbox.KindQuota {
		reason := tenant.ReasonFuel
		if rep.Network != nil && rep.Network.Denied[netcap.ReasonQuota] > 0 {
			reason = tenant.ReasonOutbound
		}
		s.ten.rejected.WithLabelValues(tn.Name(), reason).Inc()
	}
}

// TenantInfo is one entry of GET /v1/tenants. It carries no key material.
type TenantInfo struct {
	Name   string      `json:"name"`
	Weight int         `json:"weight"`
	Hosts  []string    `json:"hosts,omitempty"`
	APIKey bool        `json:"api_keys"`
	Quotas TenantQuota `json:"quotas"`
	// The state now.
	Instances      int     `json:"instances"`
	MemoryReserved int64   `json:"memory_reserved"`
	Queued         int     `json:"queued"`
	Admitted       uint64  `json:"admitted"`
	QueuedTotal    uint64  `json:"queued_total"`
	FuelLevel      float64 `json:"fuel_level,omitempty"`
}

// TenantQuota is a tenant's quotas in GET /v1/tenants (0: no bound).
type TenantQuota struct {
	Instances              int     `json:"instances"`
	Memory                 int64   `json:"memory"`
	FuelPerSecond          uint64  `json:"fuel_per_second"`
	RequestsPerSecond      float64 `json:"requests_per_second"`
	BodyBytesPerSecond     int64   `json:"body_bytes_per_second"`
	OutboundBytesPerSecond int64   `json:"outbound_bytes_per_second"`
	Queue                  int     `json:"queue"`
	QueueTimeoutMS         int64   `json:"queue_timeout_ms"`
}

// Tenants returns the tenants with their quotas and state now.
func (s *Server) Tenants() []TenantInfo {
	var out []TenantInfo
	for _, t := range s.ten.sched.Tenants() {
		c, st := t.Config(), t.Stats()
		q := c.Quotas
		out = append(out, TenantInfo{Name: c.Name, Weight: c.Weight, Hosts: c.Hosts, APIKey: len(c.KeyHashes) > 0,
			Quotas: TenantQuota{Instances: q.Instances, Memory: q.Memory, FuelPerSecond: q.FuelPerSecond,
				RequestsPerSecond: q.RequestsPerSecond, BodyBytesPerSecond: q.BodyBytesPerSecond,
				OutboundBytesPerSecond: q.OutboundBytesPerSecond, Queue: q.Queue, QueueTimeoutMS: q.QueueTimeout.Milliseconds()},
			Instances: st.Running, MemoryReserved: st.Reserved, Queued: st.Queued, Admitted: st.Admitted,
			QueuedTotal: st.QueuedTotal, FuelLevel: st.FuelLevel})
	}
	return out
}

func (s *Server) serveTenants(w http.ResponseWriter, _ *http.Request) {
	b, used := s.ten.sched.Budget()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(struct {
		MemoryBudget   int64        `json:"memory_budget"`
		MemoryReserved int64        `json:"memory_reserved"`
		Tenants        []TenantInfo `json:"tenants"`
	}{b, used, s.Tenants()})
}

// memoryLimitHeadroom is what the Go runtime's soft memory limit allows
// beyond the part of memory_budget that instances do not hold: the heap of
// the gateway itself, garbage not yet collected. See docs/tenancy.md.
const memoryLimitHeadroom = 128 << 20

// limitMemory keeps the Go runtime's soft memory limit at memory_budget
// plus headroom minus what instances hold reserved, never above the limit
// the process started with (GOMEMLIMIT). Linear memories live on the Go
// heap (small ones) or in their own mappings (large ones), so with this
// limit the heap, its garbage and the mappings together stay within
// memory_budget plus the headroom: the garbage collector runs before
// freed instance memory piles up. It is a soft limit: when the live heap
// alone exceeds it, the collector runs more often (at most half the CPU,
// the Go runtime's own bound) rather than failing.
func (tn *tenancy) limitMemory(reserved int64) {
	if !tn.limitOn.Load() {
		return
	}
	want := tn.budget + memoryLimitHeadroom - reserved
	if want > tn.startLimit {
		want = tn.startLimit
	}
	debug.SetMemoryLimit(want)
}

// startMemoryLimit turns limitMemory on (Serve calls it: the limit is the
// process's, so it is set only by a server that serves) and returns the
// function that turns it off and restores the limit.
func (tn *tenancy) startMemoryLimit(log *slog.Logger, source string) (stop func()) {
	tn.startLimit = debug.SetMemoryLimit(-1)
	tn.limitOn.Store(true)
	_, used := tn.sched.Budget()
	tn.limitMemory(used)
	log.LogAttrs(context.Background(), slog.LevelInfo, "memory budget", slog.Int64("memory_budget", tn.budget),
		slog.String("source", source), slog.Int64("go_memory_limit", min(tn.startLimit, tn.budget+memoryLimitHeadroom)))
	return func() {
		tn.limitOn.Store(false)
		debug.SetMemoryLimit(tn.startLimit)
	}
}

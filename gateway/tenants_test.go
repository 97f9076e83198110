package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/tenant"
)

func keyHash(k string) string {
	h := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(h[:])
}

func TestTenantConfig(t *testing.T) {
	c, err := parse(`
memory_budget: 1GiB
max_instances: 6
tenant_key_header: x-tenant-key
tenants:
  - name: acme
    weight: 3
    hosts: [ACME.example]
    api_key_hashes: [` + keyHash("k1") + `]
    quotas: {instances: 4, memory: 25%, fuel_per_second: 2e9, requests_per_second: 50, body_bytes_per_second: 1MiB, outbound_bytes_per_second: 64KiB, queue: 10, queue_timeout: 250ms}
  - name: beta
    quotas: {memory: 300MiB}
routes:
  - {route: /a, module: a.wasm, tenant: acme}
  - {route: /b, module: b.wasm}
`)
	if err != nil {
		t.Fatal(err)
	}
	ty := c.Tenancy
	if ty.MemoryBudget != 1<<30 || ty.BudgetSource != "memory_budget" || ty.MaxInstances != 6 || ty.KeyHeader != "X-Tenant-Key" {
		t.Errorf("tenancy %+v", ty)
	}
	if len(ty.Tenants) != 2 || c.Routes[0].Tenant != "acme" || c.Routes[1].Tenant != "" {
		t.Fatalf("tenants %+v routes %q %q", ty.Tenants, c.Routes[0].Tenant, c.Routes[1].Tenant)
	}
	a := ty.Tenants[0]
	want := tenant.Quotas{Instances: 4, Memory: 256 << 20, FuelPerSecond: 2e9, RequestsPerSecond: 50, RequestBurst: 100,
		BodyBytesPerSecond: 1 << 20, OutboundBytesPerSecond: 64 << 10, Queue: 10, QueueTimeout: 250 * time.Millisecond}
	if a.Name != "acme" || a.Weight != 3 || a.Quotas != want || len(a.Hosts) != 1 || a.Hosts[0] != "acme.example" || len(a.KeyHashes) != 1 {
		t.Errorf("acme %+v", a)
	}
	if b := ty.Tenants[1]; b.Weight != 1 || b.Quotas.Memory != 300<<20 {
		t.Errorf("beta %+v", b)
	}

	// Without tenants: the default budget, a fraction of the machine.
	c, err = parse("routes: [{route: /a, module: a.wasm}]\n")
	if err != nil {
		t.Fatal(err)
	}
	if def, _ := tenant.DefaultBudget(); c.Tenancy.MemoryBudget != def || len(c.Tenancy.Tenants) != 0 || c.Tenancy.KeyHeader != DefaultTenantKeyHeader {
		t.Errorf("defaults %+v", c.Tenancy)
	}
}

func TestTenantConfigErrors(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.WriteFile(keys, []byte("# acme\n"+keyHash("a")+"\n\nsecret-key-pasted\n"), 0o600)
	tests := []struct{ yml, want string }{
		{"memory_budget: 1KiB\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: memory_budget: 1KiB is out of range (at least 1MiB)"},
		{"max_instances: -1\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: max_instances: must not be negative"},
		{"tenant_key_header: 'a b'\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: tenant_key_header: \"a b\" is not a header name"},
		{"tenants: [{name: Acme}]\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: tenants[0].name: \"Acme\" must be 1 to 64 of"},
		{"tenants: [{name: a}, {name: a}]\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: tenants[1].name: tenant \"a\" is also tenants[0]"},
		{"tenants: [{name: a, weight: 0}]\nroutes: [{route: /a, module: a.wasm}]", "tenants[0].weight: must be from 1 to 1000"},
		{"tenants: [{name: a, hosts: ['a.example:80']}]\nroutes: [{route: /a, module: a.wasm}]", "tenants[0].hosts[0]: \"a.example:80\" is not a host name"},
		{"tenants: [{name: a, api_key_hashes: [my-secret-key]}]\nroutes: [{route: /a, module: a.wasm}]", "tenants[0].api_key_hashes[0]: not sha256:<64 hex digits>"},
		{"tenants: [{name: a, api_keys_file: " + keys + "}]\nroutes: [{route: /a, module: a.wasm}]", keys + ":4: not sha256:<64 hex digits>"},
		{"tenants: [{name: a, quotas: {instances: 0}}]\nroutes: [{route: /a, module: a.wasm}]", "tenants[0].quotas.instances: must be at least 1"},
		{"tenants: [{name: a, quotas: {memory: 120%}}]\nroutes: [{route: /a, module: a.wasm}]", "tenants[0].quotas.memory: \"120%\" is not a percentage"},
		{"tenants: [{name: a, quotas: {fuel_per_second: .nan}}]\nroutes: [{route: /a, module: a.wasm}]", "tenants[0].quotas.fuel_per_second: must be a finite number above 0"},
		{"tenants: [{name: a, quotas: {queue_timeout: 0s}}]\nroutes: [{route: /a, module: a.wasm}]", "tenants[0].quotas.queue_timeout: must be greater than zero"},
		{"tenants: [{name: a, quotaz: {}}]\nroutes: [{route: /a, module: a.wasm}]", `gw.yaml:1: unknown key "quotaz"`},
		{"routes: [{route: /a, module: a.wasm, tenant: nobody}]", "gw.yaml:1: routes[0].tenant: no tenant \"nobody\" in tenants"},
		{"memory_budget: 64MiB\nroutes: [{route: /a, module: a.wasm}]", "routes[0]: an instance reserves 129MiB (its memory cap and 1MiB overhead), more than memory_budget 64MiB"},
		{"tenants: [{name: a, quotas: {memory: 100MiB}}]\nroutes: [{route: /a, module: a.wasm, tenant: a}]", "routes[0]: an instance reserves 129MiB, more than tenant \"a\"'s memory quota 100MiB"},
	}
	for _, tc := range tests {
		_, err := parse(tc.yml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.yml, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "secret") && !strings.Contains(tc.yml, "secret") == false && strings.Contains(err.Error(), "secret-key") {
			t.Errorf("error echoes key material: %v", err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
}

const tenantCfg = `
listen: 127.0.0.1:0
rate_limit: {requests_per_second: 0}
request: {max_body: 64KiB, timeout: 5s}
tenants:
  - name: slow
    quotas: {requests_per_second: 1, request_burst: 2}
  - name: bodies
    quotas: {body_bytes_per_second: 100}
  - name: burner
    quotas: {fuel_per_second: 1, fuel_burst: 5000000}
  - name: single
    quotas: {instances: 1, queue: 1, queue_timeout: 500ms}
  - name: keyed
    api_key_hashes: [` + "KEYHASH" + `]
    hosts: [keyed.example]
routes:
  - route: /slow
    tenant: slow
    module: fixture:gw_hello
  - route: /bodies
    tenant: bodies
    module: fixture:gw_echo
  - route: /burn
    tenant: burner
    policy: {limits: {timeout: 4s}}
    module: fixture:gw_evil
  - route: /single
    tenant: single
    policy: {limits: {timeout: 1500ms}}
    module: fixture:gw_evil
  - route: /echo/...
    module: fixture:gw_echo
    pass_headers: [x-api-key, accept]
`

// Each quota answers with its status, a Retry-After, and is counted per
// tenant in the metrics and the audit log, with the tenant named.
func TestE2ETenantQuotas(t *testing.T) {
	dir := t.TempDir()
	yml := strings.ReplaceAll(tenantCfg, "KEYHASH", keyHash("the-key-of-keyed"))
	g := startGW(t, "audit_log: "+filepath.Join(dir, "audit.jsonl")+"\n"+yml)

	// Request rate: a burst of 2, then 429.
	for i, want := range []int{200, 200, 429} {
		if r := g.get("/slow"); r.status != want || (want == 429 && r.header.Get("Retry-After") != "1") {
			t.Errorf("/slow #%d: %d Retry-After %q, want %d", i, r.status, r.header.Get("Retry-After"), want)
		}
	}
	// Body bytes per second: 100 bytes, then 429 until they refill.
	if r := g.do("POST", "/bodies", strings.NewReader(strings.Repeat("x", 80))); r.status != 200 {
		t.Errorf("/bodies 80 bytes: %d", r.status)
	}
	if r := g.do("POST", "/bodies", strings.NewReader(strings.Repeat("x", 80))); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("/bodies 80 more bytes: %d %q, want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	// Fuel per second: a run that spends the tenant's bucket is stopped
	// with a quota violation (not fuel_exhausted) and answered 429; the
	// next request is refused before it runs.
	if r := g.get("/burn?loop"); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("/burn?loop: %d Retry-After %q, want 429, 1", r.status, r.header.Get("Retry-After"))
	}
	if r := g.get("/burn?spin=1"); r.status != 429 {
		t.Errorf("/burn right after: %d, want 429 (the bucket is empty)", r.status)
	}
	// Instances: one runs, one waits in the queue (then its queue timeout
	// passes: 429), the queue of one is full for a third (429).
	var wg sync.WaitGroup
	wg.Add(1)
	var first result
	go func() { defer wg.Done(); first = g.get("/single?loop") }()
	waitTenant(t, g, "single", func(ti TenantInfo) bool { return ti.Instances == 1 })
	var second result
	wg.Add(1)
	go func() { defer wg.Done(); second = g.get("/single?spin=1") }()
	waitTenant(t, g, "single", func(ti TenantInfo) bool { return ti.Queued == 1 })
	third := g.get("/single?spin=1")
	wg.Wait()
	if first.status != 504 || second.status != 429 || third.status != 429 {
		t.Errorf("/single: running %d, queued %d, third %d; want 504 (its 1.5s timeout), 429 (queue timeout), 429 (queue full)", first.status, second.status, third.status)
	}
	// API keys: the tenant of a known key; 401 for an unknown one; the
	// key never reaches the guest even on a route that passes the header.
	r := g.get("/echo/", "X-Api-Key", "the-key-of-keyed")
	if r.status != 200 || strings.Contains(r.body, "the-key-of-keyed") {
		t.Errorf("keyed request: %d, key reached the guest: %v", r.status, strings.Contains(r.body, "the-key-of-keyed"))
	}
	if r := g.get("/echo/", "X-Api-Key", "a-wrong-key"); r.status != 401 {
		t.Errorf("unknown key: %d, want 401", r.status)
	}
	hreq, _ := http.NewRequest("GET", g.url+"/echo/", nil)
	hreq.Host = "keyed.example"
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	_, m := adminGet(t, g, "/metrics")
	for series, want := range map[string]float64{
		`wasmward_tenant_rejected_total{reason="rate",tenant="slow"}`:          1,
		`wasmward_tenant_rejected_total{reason="body_rate",tenant="bodies"}`:   1,
		`wasmward_tenant_rejected_total{reason="fuel",tenant="burner"}`:        2,
		`wasmward_tenant_rejected_total{reason="instances",tenant="single"}`:   1,
		`wasmward_tenant_rejected_total{reason="queue_full",tenant="single"}`:  1,
		`wasmward_tenant_requests_total{tenant="keyed"}`:                       2,
		`wasmward_tenant_requests_total{tenant="slow"}`:                        3,
		`wasmward_tenant_memory_reserved_bytes{tenant="single"}`:               0,
		`wasmward_tenant_queue_seconds_count{tenant="slow"}`:                   2,
		`wasmward_violations_total{kind="fuel_exhausted",route="/burn"}`:       -1,
		`wasmward_guest_errors_total{kind="quota",route="/burn"}`:              1,
		`wasmward_tenant_fuel_consumed_total{tenant="burner"}`:                 5000000,
		`wasmward_tenant_rejected_total{reason="memory_budget",tenant="slow"}`: -1,
	} {
		if got := metricValue(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if v := metricValue(m, "wasmward_memory_budget_bytes"); v <= 0 {
		t.Errorf("wasmward_memory_budget_bytes = %v", v)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"type":"quota","route":"/slow","tenant":"slow"`, `"kind":"rate"`,
		`"type":"quota","route":"/bodies","tenant":"bodies"`, `"kind":"body_rate"`,
		`"type":"quota","route":"/burn","tenant":"burner"`, `"kind":"quota","detail":"the tenant's fuel quota is spent"`, `"kind":"fuel"`,
		`"type":"quota","route":"/single","tenant":"single"`, `"kind":"queue_full"`,
		`"type":"quota","route":"/echo/...","request_id"`, `"kind":"tenant_key"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	for _, secret := range []string{"the-key-of-keyed", "a-wrong-key"} {
		if strings.Contains(string(b), secret) || strings.Contains(g.logs.String(), secret) {
			t.Errorf("%s reached the audit log or the log", secret)
		}
	}
	// Every log line about a request names its tenant.
	for line := range strings.SplitSeq(g.logs.String(), "\n") {
		if strings.Contains(line, `"request_id"`) && strings.Contains(line, `"route":"/`) && !strings.Contains(line, `"tenant":"`) &&
			!strings.Contains(line, `"kind":"tenant_key"`) {
			t.Errorf("log line without its tenant: %s", line)
		}
	}
}

func adminGet(t *testing.T, g *gw, p string) (int, string) {
	t.Helper()
	resp, err := http.Get(g.admin + p)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitTenant(t *testing.T, g *gw, name string, cond func(TenantInfo) bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		for _, ti := range g.srv.Tenants() {
			if ti.Name == name && cond(ti) {
				return
			}
		}
	}
	t.Fatalf("tenant %s: condition not reached", name)
}

// GET /v1/tenants lists every tenant with its quotas and state, and no key
// material: neither keys nor their hashes.
func TestE2ETenantsEndpoint(t *testing.T) {
	h := keyHash("the-key-of-keyed")
	g := startGW(t, strings.ReplaceAll(tenantCfg, "KEYHASH", h))
	g.get("/slow")
	code, body := adminGet(t, g, "/v1/tenants")
	if code != 200 {
		t.Fatal(code)
	}
	if strings.Contains(body, strings.TrimPrefix(h, "sha256:")) || strings.Contains(body, "the-key") {
		t.Errorf("key material in /v1/tenants: %s", body)
	}
	var out struct {
		MemoryBudget int64        `json:"memory_budget"`
		Tenants      []TenantInfo `json:"tenants"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, ti := range out.Tenants {
		names = append(names, ti.Name)
	}
	if strings.Join(names, ",") != "slow,bodies,burner,single,keyed,default" || out.MemoryBudget <= 0 {
		t.Fatalf("tenants %v budget %d", names, out.MemoryBudget)
	}
	if s := out.Tenants[0]; s.Admitted != 1 || s.Quotas.RequestsPerSecond != 1 || s.Instances != 0 {
		t.Errorf("slow: %+v", s)
	}
	if k := out.Tenants[4]; !k.APIKey || len(k.Hosts) != 1 {
		t.Errorf("keyed: %+v", k)
	}
}

// The outbound-bytes quota end to end: a tenant whose guest fetches from a
// local server through the network capability is answered 200 while its
// bucket pays for every byte; the run whose response body the bucket
// cannot pay for is stopped with a quota violation (429, Retry-After);
// later requests are refused before they run (429 outbound). The server
// counts what reaches it: never a request byte beyond the bucket.
func TestE2EOutboundQuota(t *testing.T) {
	const body = 200 // the server's response
	var mu sync.Mutex
	var served, servedBytes int // requests and the bytes netcap charges for them
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		servedBytes += len("http://"+r.Host+r.URL.RequestURI()) + len(r.Method)
		mu.Unlock()
		io.WriteString(w, strings.Repeat("z", body))
	}))
	defer srv.Close()
	upstream := srv.URL + "/data"
	req := len(upstream) + len("GET") // what one fetch sends, as netcap counts it
	// The bucket pays for two whole fetches, a third request and 50 bytes
	// of its body; it refills at 1 byte/s.
	burst := 2*(req+body) + req + 50
	fetch, err := filepath.Abs(filepath.Join("..", "examples", "fetch.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	g := startGW(t, fmt.Sprintf(`audit_log: %s
tenants:
  - name: netty
    quotas: {outbound_bytes_per_second: 1, outbound_burst: %d}
routes:
  - route: /fetch
    module: %s
    tenant: netty
    policy:
      limits: {timeout: 5s, network: {requests: 4, response_bytes: 1MiB, request_timeout: 2s}}
      capabilities:
        network:
          http: [{url: "%s/", methods: [GET], allow_private: true}]
`, filepath.Join(dir, "audit.jsonl"), burst, fetch, srv.URL))

	start := time.Now()
	var got []result
	for range 5 {
		got = append(got, g.get("/fetch?url="+upstream))
	}
	// The bucket refills 1 byte a second: within a second the third body
	// is cut at exactly 50 bytes and the fourth and fifth requests find
	// it empty. (On a machine so slow that it took longer, a refilled
	// byte may run the fourth guest, which the bucket then stops before
	// its request leaves: still 429, still nothing sent.)
	fast := time.Since(start) < 900*time.Millisecond
	want := "upstream status 200\n" + strings.Repeat("z", body)
	for i, r := range got {
		switch {
		case i < 2 && (r.status != 200 || r.body != want):
			t.Errorf("fetch #%d: %d %q, want 200 and the upstream body", i+1, r.status, r.body)
		case i >= 2 && (r.status != 429 || r.header.Get("Retry-After") != "1"):
			t.Errorf("fetch #%d: %d Retry-After %q, want 429 with Retry-After 1", i+1, r.status, r.header.Get("Retry-After"))
		}
	}
	mu.Lock()
	if served != 3 || servedBytes != 3*req || servedBytes > burst {
		t.Errorf("the server received %d requests, %d bytes; want 3 requests, %d bytes (the bucket holds %d)", served, servedBytes, 3*req, burst)
	}
	mu.Unlock()

	_, m := adminGet(t, g, "/metrics")
	series := map[string]float64{
		`wasmward_tenant_requests_total{tenant="netty"}`:                     5,
		`wasmward_tenant_rejected_total{reason="outbound",tenant="netty"}`:   3, // one stopped run, two refusals
		`wasmward_refused_total{reason="tenant_outbound",route="/fetch"}`:    2,
		`wasmward_guest_errors_total{kind="quota",route="/fetch"}`:           1,
		`wasmward_net_denied_total{reason="quota",route="/fetch"}`:           1,
		`wasmward_net_requests_total{host="127.0.0.1",route="/fetch"}`:       3,
		`wasmward_net_response_bytes_total{host="127.0.0.1",route="/fetch"}`: 2*body + 50,
		`wasmward_tenant_queue_seconds_count{tenant="netty"}`:                3,  // the runs admitted
		`wasmward_tenant_rejected_total{reason="fuel",tenant="netty"}`:       -1, // absent
		`wasmward_violations_total{kind="quota",route="/fetch"}`:             -1, // not the module's fault
		`wasmward_net_denied_total{reason="budget",route="/fetch"}`:          -1,
	}
	if !fast {
		// The fourth (or fifth) guest may have run and been stopped
		// before sending: counted as a quota stop, not a refusal.
		for _, s := range []string{`wasmward_net_denied_total{reason="quota",route="/fetch"}`, `wasmward_guest_errors_total{kind="quota",route="/fetch"}`,
			`wasmward_refused_total{reason="tenant_outbound",route="/fetch"}`, `wasmward_net_response_bytes_total{host="127.0.0.1",route="/fetch"}`,
			`wasmward_tenant_queue_seconds_count{tenant="netty"}`} {
			delete(series, s)
		}
	}
	for s, want := range series {
		if v := metricValue(m, s); v != want {
			t.Errorf("%s = %v, want %v", s, v, want)
		}
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var stopped, refused, denied int
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var ev struct{ Type, Route, Tenant, Kind, Detail string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		switch {
		case ev.Type == "quota" && ev.Kind == "quota":
			stopped++
			if ev.Route != "/fetch" || ev.Tenant != "netty" || ev.Detail != "the tenant's outbound bytes are spent" {
				t.Errorf("quota stop record %+v", ev)
			}
		case ev.Type == "quota" && ev.Kind == "outbound":
			refused++
			if ev.Route != "/fetch" || ev.Tenant != "netty" || ev.Detail != "refused with 429" {
				t.Errorf("outbound refusal record %+v", ev)
			}
		case ev.Type == "net_denied":
			denied++
			if ev.Kind != "quota" || ev.Tenant != "netty" || ev.Detail != "127.0.0.1: response body beyond the tenant's outbound bytes" && fast {
				t.Errorf("net_denied record %+v", ev)
			}
		}
	}
	if fast && (stopped != 1 || refused == 0 || denied != 1) || stopped == 0 || denied == 0 {
		t.Errorf("audit: %d quota stops, %d outbound refusals, %d net denials; want 1, at least 1 (they aggregate), 1 in\n%s", stopped, refused, denied, b)
	}
}

// background_cpu (docs/tenancy.md, "CPU between tenants"): on by default
// when tenants are configured, off without them, and the file's value
// wins. End to end, through a gateway that creates its own sandbox
// runtime: a long request moves to the background (counted per tenant),
// a hello does not, and nothing moves when the setting is off.
//
// The test binary's main goroutine keeps the first thread, as
// cmd/wasmward's does (init below): a run found there would not move.
func TestE2EBackgroundCPU(t *testing.T) {
	const routes = `
routes:
  - route: /spin
    module: fixture:gw_evil
    policy: {limits: {timeout: 10s}}
  - route: /hello
    module: fixture:gw_hello
`
	const tenants = `
tenants:
  - name: default
`
	tests := []struct {
		name, yml string
		on        bool
	}{
		{"tenants", tenants, true},
		{"no tenants", "", false},
		{"tenants, off", tenants + "background_cpu: false\n", false},
		{"no tenants, on", "background_cpu: true\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yml := "listen: 127.0.0.1:0\nrate_limit: {requests_per_second: 0}\n" + tc.yml + routes
			cfg, err := parse(yml)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Tenancy.BackgroundCPU != tc.on {
				t.Fatalf("Tenancy.BackgroundCPU = %v, want %v", cfg.Tenancy.BackgroundCPU, tc.on)
			}
			g := startGWWith(t, yml, nil)
			if r := g.get("/hello"); r.status != 200 {
				t.Fatalf("/hello: %d %s", r.status, r.body)
			}
			const series = `wasmward_tenant_background_runs_total{tenant="default"}`
			if _, m := adminGet(t, g, "/metrics"); metricValue(m, series) != 0 {
				t.Fatalf("a hello request moved to the background: %s = %v", series, metricValue(m, series))
			}
			if r := g.get("/spin?spin=2"); r.status != 200 || r.body != "spun\n" {
				t.Fatalf("/spin: %d %q", r.status, r.body)
			}
			want := 0.0
			if tc.on && runtime.GOOS == "linux" {
				want = 1
			}
			if _, m := adminGet(t, g, "/metrics"); metricValue(m, series) != want {
				t.Errorf("%s = %v after one long request, want %v", series, metricValue(m, series), want)
			}
		})
	}

	// A value that is not a boolean is refused with its line.
	if _, err := parse("background_cpu: sometimes\nroutes: [{route: /a, module: a.wasm}]\n"); err == nil || !strings.Contains(err.Error(), "gw.yaml:1:") || !strings.Contains(err.Error(), "into bool") {
		t.Errorf("background_cpu: sometimes: %v", err)
	}
}

// The main goroutine keeps the process's first thread to itself, as
// cmd/wasmward's does: a sandbox run cannot move to the background there
// (sandbox.Config.WithBackgroundCPU).
func init() { runtime.LockOSThread() }

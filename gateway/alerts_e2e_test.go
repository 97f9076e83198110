package gateway_test

// End-to-end tests of the alert machinery over real HTTP: a real gateway
// with real fixture modules, the monitor (internal/monitor) installed as
// `wasmward serve` installs it, and the admin API.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/alert"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/monitor"
	"github.com/wasmward/wasmward/internal/notify"
	"github.com/wasmward/wasmward/sandbox"
)

var (
	alertRTOnce sync.Once
	alertRT     *sandbox.Runtime
)

// agw is a gateway with its monitor, serving on loopback.
type agw struct {
	t      *testing.T
	srv    *gateway.Server
	mon    *monitor.Monitor
	url    string
	admin  string
	token  string
	audit  string
	cancel context.CancelFunc
	done   chan error
}

// startAlerting serves yml (fixture:NAME names a fixture; STATE the state
// directory; AUDIT the audit log) with the monitor installed.
func startAlerting(t *testing.T, yml, state string, opts monitor.Options) *agw {
	t.Helper()
	alertRTOnce.Do(func() {
		var err error
		if alertRT, err = sandbox.New(context.Background(), sandbox.NewConfig()); err != nil {
			t.Fatal(err)
		}
	})
	dir := t.TempDir()
	g := &agw{t: t, done: make(chan error, 1), audit: filepath.Join(dir, "audit.log"), token: "tok-0123456789abcdef"}
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(g.token), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"gw_hello", "gw_evil", "gw_creep", "dep_v1", "sbom_dep"} {
		yml = strings.ReplaceAll(yml, "fixture:"+n, fixture.Path(t, n))
	}
	yml = strings.ReplaceAll(yml, "STATE", state)
	yml = strings.ReplaceAll(yml, "\t", "  ")
	yml = "drain_delay: 0\nrate_limit: {requests_per_second: 0}\naudit_log: " + g.audit + "\nadmin_token_file: " + tokFile + "\n" + yml
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := gateway.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.Open(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	g.srv, err = gateway.New(context.Background(), cfg, gateway.Options{Runtime: alertRT, Logger: logger, Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	opts.Server, opts.Config, opts.Token, opts.Logger, opts.Install = g.srv, cfg.Alerts, []byte(g.token), logger, true
	opts.Resolve = deploy.FileResolver(dir)
	if g.mon, err = monitor.New(opts); err != nil {
		t.Fatal(err)
	}
	for p, h := range g.mon.Handlers() {
		g.srv.HandleAdmin(p, h)
	}
	pub, _ := net.Listen("tcp", "127.0.0.1:0")
	adm, _ := net.Listen("tcp", "127.0.0.1:0")
	g.url, g.admin = "http://"+pub.Addr().String(), "http://"+adm.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.mon.Start(ctx)
	go func() { g.done <- g.srv.Serve(ctx, pub, adm) }()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		cancel()
		<-g.done
		g.mon.Close()
		g.srv.Close(context.Background())
		al.Close()
	})
	return g
}

type resp struct {
	status int
	header http.Header
	body   string
	took   time.Duration
}

func (g *agw) req(method, url, token string) resp {
	g.t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b), time.Since(start)}
}

func (g *agw) get(path string) resp { g.t.Helper(); return g.req("GET", g.url+path, "") }

// waitFor polls cond every 20ms for up to 10s.
func (g *agw) waitFor(what string, cond func() bool) {
	g.t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	g.t.Fatalf("timed out waiting for %s", what)
}

func (g *agw) alerts() monitor.AlertsAnswer {
	g.t.Helper()
	var a monitor.AlertsAnswer
	if err := json.Unmarshal([]byte(g.req("GET", g.admin+"/v1/alerts", "").body), &a); err != nil {
		g.t.Fatal(err)
	}
	return a
}

func (g *agw) firing(rule string) *alert.Alert {
	for _, a := range g.alerts().Alerts {
		if a.Rule == rule && a.State == alert.Firing {
			return &a
		}
	}
	return nil
}

func (g *agw) quarantined() []string {
	g.t.Helper()
	var q monitor.QuarantineAnswer
	if err := json.Unmarshal([]byte(g.req("GET", g.admin+"/v1/quarantine", "").body), &q); err != nil {
		g.t.Fatal(err)
	}
	var out []string
	for _, e := range q.Quarantined {
		out = append(out, e.SHA256)
	}
	return out
}

func (g *agw) metric(series string) float64 {
	g.t.Helper()
	body := g.req("GET", g.admin+"/metrics", "").body
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, series+" ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(l, series+" "), "%g", &v)
			return v
		}
	}
	return 0
}

// auditTypes counts the audit log's records by type (and kind).
func (g *agw) auditRecords(typ string) []audit.Event {
	g.t.Helper()
	b, _ := os.ReadFile(g.audit)
	var out []audit.Event
	for _, l := range strings.Split(string(b), "\n") {
		var e audit.Event
		if json.Unmarshal([]byte(l), &e) == nil && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// checkQuarantined503 checks a quarantined route's answer: 503, a
// Retry-After, the generic body naming the request ID.
func checkQuarantined503(t *testing.T, r resp) {
	t.Helper()
	id := r.header.Get("X-Request-Id")
	if r.status != 503 || r.header.Get("Retry-After") != "30" || id == "" ||
		r.body != fmt.Sprintf("503 Service Unavailable (request %s)\n", id) {
		t.Fatalf("quarantined route answered %d Retry-After %q body %q", r.status, r.header.Get("Retry-After"), r.body)
	}
}

// A handler creeping towards its memory cap: each run's peak is a soft
// event once it reaches 75% of the cap (the request itself still
// answers 200); three within the window fire the memory alert, which
// isolates the module: the route then answers 503, the quarantine and
// the metrics say so, and every step is in the audit log.
func TestAlertsMemoryCreepIsolates(t *testing.T) {
	state := t.TempDir()
	g := startAlerting(t, `
soft_thresholds: {memory_percent: 75}
alerting: {state_dir: STATE, retry_after: 30s}
alerts:
  - name: memory-creep
    when: {signal: soft, kind: memory, over: 30s, count: 3}
    severity: critical
    action: isolate
routes:
  - route: /creep
    module: fixture:gw_creep
    policy: {limits: {memory: 16MiB}}
  - route: /hello
    module: fixture:gw_hello
`, state, monitor.Options{})
	soft := 0
	for mb := 1; mb <= 14 && len(g.quarantined()) == 0; mb++ {
		r := g.get(fmt.Sprintf("/creep?mb=%d", mb))
		if r.status == 503 {
			break
		}
		if r.status != 200 || r.body != "creep ok\n" {
			t.Fatalf("mb=%d: %d %q (a soft threshold must not affect the request)", mb, r.status, r.body)
		}
		if mb >= 12 { // 12MiB of heap and the module's own: over 75% of 16MiB
			soft++
		}
		if mb < 10 && g.metric(`wasmward_soft_events_total{kind="memory",route="/creep"}`) != 0 {
			t.Fatalf("soft event at %d MiB of a 16MiB cap", mb)
		}
	}
	g.waitFor("quarantine", func() bool { return len(g.quarantined()) == 1 })
	a := g.firing("memory-creep")
	if a == nil || a.Route != "/creep" || a.Value < 3 || a.Action != alert.Isolate || a.Severity != alert.Critical {
		t.Fatalf("alert %+v; all %+v", a, g.alerts())
	}
	if q := g.quarantined(); q[0] != a.SHA256 {
		t.Fatalf("quarantined %v, alert on %s", q, a.SHA256)
	}
	checkQuarantined503(t, g.get("/creep?mb=1"))
	if r := g.get("/hello"); r.status != 200 {
		t.Fatalf("/hello: %d", r.status)
	}
	if n := g.metric(`wasmward_soft_events_total{kind="memory",route="/creep"}`); n < 3 {
		t.Fatalf("soft events metric %v", n)
	}
	if g.metric("wasmward_quarantined") != 1 || g.metric(`wasmward_alerts{rule="memory-creep",state="firing"}`) != 1 ||
		g.metric(`wasmward_alert_transitions_total{rule="memory-creep",state="firing"}`) != 1 {
		t.Fatal("alert metrics wrong")
	}
	if g.metric(`wasmward_refused_total{reason="quarantined",route="/creep"}`) < 1 {
		t.Fatal("refusal not counted")
	}
	g.waitFor("audit records", func() bool {
		return len(g.auditRecords(monitor.TypeSoft)) >= 1 && len(g.auditRecords(monitor.TypeQuarantine)) == 1 &&
			len(g.auditRecords(monitor.TypeAlert)) >= 1
	})
	if ev := g.auditRecords(monitor.TypeSoft)[0]; ev.Kind != "memory" || ev.Route != "/creep" || !strings.Contains(ev.Detail, "of the cap (soft threshold 75%)") {
		t.Fatalf("soft audit record %+v", ev)
	}
}

// A handler that violates repeatedly is isolated: a run of it in flight
// is ended at once (503, long before its own timeout), its route answers
// 503 while the other routes keep serving, and an operator's release
// (admin token) lets it serve again.
func TestAlertsRepeatedViolationsIsolate(t *testing.T) {
	g := startAlerting(t, `
request: {timeout: 20s}
alerting: {state_dir: STATE, retry_after: 30s}
alerts:
  - name: repeated-violations
    when: {signal: violations, over: 1m, count: 3}
    routes: [/evil/...]
    severity: high
    action: isolate
routes:
  - route: /evil/...
    module: fixture:gw_evil
    policy: {limits: {memory: 16MiB, timeout: 15s}}
  - route: /hello
    module: fixture:gw_hello
`, t.TempDir(), monitor.Options{})
	// A run in flight: it loops until its 15s timeout unless stopped.
	inflight := make(chan resp, 1)
	go func() { inflight <- g.get("/evil/x?loop") }()
	g.waitFor("the loop to run", func() bool {
		return g.metric(`wasmward_instances_in_flight{route="/evil/..."}`) == 1
	})
	for i := range 3 {
		if r := g.get("/evil/x?memory"); r.status != 502 {
			t.Fatalf("violation %d: %d", i, r.status)
		}
	}
	var stopped resp
	select {
	case stopped = <-inflight:
	case <-time.After(10 * time.Second):
		t.Fatal("the run in flight was not ended by the isolation")
	}
	checkQuarantined503(t, stopped)
	if stopped.took > 8*time.Second {
		t.Fatalf("the run in flight took %s", stopped.took)
	}
	sha := g.quarantined()[0]
	// The route answers 503 while /hello serves, concurrently.
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if r := g.get("/evil/x"); r.status != 503 || r.header.Get("Retry-After") == "" {
				bad.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			if r := g.get("/hello"); r.status != 200 {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d wrong answers while quarantined", bad.Load())
	}
	// Idempotent: more violations are impossible now, the alert fires once.
	g.waitFor("the quarantine's audit record", func() bool { return len(g.auditRecords(monitor.TypeQuarantine)) >= 1 })
	if n := len(g.auditRecords(monitor.TypeQuarantine)); n != 1 {
		t.Fatalf("%d quarantine records", n)
	}
	// Release: no token 401, wrong ID 404, then released.
	if r := g.req("POST", g.admin+"/v1/quarantine/"+sha+"/release", ""); r.status != 401 {
		t.Fatalf("release without token: %d", r.status)
	}
	if r := g.req("POST", g.admin+"/v1/quarantine/"+strings.Repeat("0", 64)+"/release", g.token); r.status != 404 {
		t.Fatalf("release of another: %d %s", r.status, r.body)
	}
	if r := g.req("POST", g.admin+"/v1/quarantine/"+sha[:12]+"/release", g.token); r.status != 200 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	if r := g.get("/evil/x?status418"); r.status != 418 {
		t.Fatalf("after release: %d", r.status)
	}
	g.waitFor("the release's audit record", func() bool { return len(g.auditRecords(monitor.TypeRelease)) == 1 })
	if rel := g.auditRecords(monitor.TypeRelease); len(rel) != 1 || rel[0].SHA256 != sha {
		t.Fatalf("release records %+v", rel)
	}
}

// restart recompiles a misbehaving module, at most restart.max times in
// restart.within; the next firing isolates it.
func TestAlertsRestartEscalation(t *testing.T) {
	g := startAlerting(t, `
alerting: {state_dir: STATE, retry_after: 30s, restart: {max: 2, within: 1m}}
alerts:
  - name: trap-restart
    when: {signal: traps, over: 1m, count: 2}
    routes: [/evil]
    severity: warning
    action: restart
routes:
  - route: /evil
    module: fixture:gw_evil
`, t.TempDir(), monitor.Options{})
	for round := 1; round <= 3; round++ {
		for range 2 {
			if r := g.get("/evil?trap"); r.status != 502 {
				t.Fatalf("round %d: trap answered %d", round, r.status)
			}
		}
		if round < 3 {
			g.waitFor(fmt.Sprintf("restart %d", round), func() bool {
				return g.metric(`wasmward_alert_actions_total{action="restart",outcome="done"}`) == float64(round)
			})
			if len(g.quarantined()) != 0 {
				t.Fatalf("round %d: isolated before the restarts ran out", round)
			}
			// Restarted: it serves, with a fresh window.
			if r := g.get("/evil?status418"); r.status != 418 {
				t.Fatalf("round %d: after restart %d", round, r.status)
			}
		}
	}
	g.waitFor("escalation to isolate", func() bool { return len(g.quarantined()) == 1 })
	checkQuarantined503(t, g.get("/evil?status418"))
	g.waitFor("the escalation's audit record", func() bool { return len(g.auditRecords(monitor.TypeAction)) == 3 })
	var details []string
	for _, e := range g.auditRecords(monitor.TypeAction) {
		details = append(details, e.Detail)
	}
	want := []string{"recompiled and swapped in (restart 1 of 2", "recompiled and swapped in (restart 2 of 2", "escalated to isolate: quarantined"}
	if len(details) != 3 {
		t.Fatalf("actions %q", details)
	}
	for i, w := range want {
		if !strings.Contains(details[i], w) {
			t.Fatalf("action %d: %q, want %q", i, details[i], w)
		}
	}
}

// receiver is a webhook receiver that checks every delivery's signature.
type receiver struct {
	t        *testing.T
	secret   []byte
	fail     atomic.Int32 // answer 503 to this many more deliveries
	stuck    chan struct{}
	mu       sync.Mutex
	bodies   [][]byte
	attempts atomic.Int32
	badSig   atomic.Int32
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.attempts.Add(1)
	if rc.stuck != nil {
		<-rc.stuck // never answers while the test runs
		return
	}
	b, _ := io.ReadAll(r.Body)
	if err := notify.Verify(rc.secret, r.Header.Get(notify.SignatureHeader), b, time.Now(), time.Minute); err != nil {
		rc.badSig.Add(1)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.fail.Add(-1) >= 0 {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, b)
	rc.mu.Unlock()
}

func (rc *receiver) got() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bodies)
}

func webhookGW(t *testing.T, rc *receiver, format string) *agw {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	rc.secret = []byte("webhook-secret-0123456789")
	if err := os.WriteFile(secretFile, append(rc.secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(rc)
	t.Cleanup(func() {
		if rc.stuck != nil {
			close(rc.stuck)
		}
		ts.Close()
	})
	return startAlerting(t, fmt.Sprintf(`
alerting:
  webhook: {url: %s/hook, secret_file: %s, format: %s, retries: 3, timeout: 30s}
alerts:
  - name: traps
    when: {signal: traps, over: 2s, count: 1}
    severity: info
    action: notify
routes:
  - route: /evil
    module: fixture:gw_evil
  - route: /hello
    module: fixture:gw_hello
`, ts.URL, secretFile, format), "", monitor.Options{WebhookBackoff: 50 * time.Millisecond})
}

// Webhook delivery: signed (the receiver verifies the HMAC over timestamp
// and body), retried after a failing receiver, in both formats; the alert
// fires and, once the window is quiet, resolves.
func TestAlertsWebhookDelivery(t *testing.T) {
	for _, format := range []string{"json", "alertmanager"} {
		t.Run(format, func(t *testing.T) {
			rc := &receiver{t: t}
			rc.fail.Store(2)
			g := webhookGW(t, rc, format)
			if r := g.get("/evil?trap"); r.status != 502 {
				t.Fatalf("trap: %d", r.status)
			}
			g.waitFor("firing and resolved notifications", func() bool { return len(rc.got()) == 2 })
			if rc.badSig.Load() != 0 || rc.attempts.Load() != 4 {
				t.Fatalf("bad signatures %d, attempts %d (want 2 failures retried + 2)", rc.badSig.Load(), rc.attempts.Load())
			}
			var states []string
			for _, b := range rc.got() {
				if format == "json" {
					var m notify.Message
					if err := json.Unmarshal(b, &m); err != nil || m.Version != "1" || m.Alert.Rule != "traps" || m.Alert.Route != "/evil" {
						t.Fatalf("json body %s: %v", b, err)
					}
					states = append(states, m.Status)
					continue
				}
				// Alertmanager's webhook payload, as its receivers decode it.
				var m struct {
					Version string `json:"version"`
					Status  string `json:"status"`
					Alerts  []struct {
						Status   string            `json:"status"`
						Labels   map[string]string `json:"labels"`
						StartsAt time.Time         `json:"startsAt"`
						EndsAt   time.Time         `json:"endsAt"`
					} `json:"alerts"`
				}
				if err := json.Unmarshal(b, &m); err != nil || m.Version != "4" || len(m.Alerts) != 1 ||
					m.Alerts[0].Labels["alertname"] != "traps" || m.Alerts[0].Labels["severity"] != "info" || m.Alerts[0].StartsAt.IsZero() {
					t.Fatalf("alertmanager body %s: %v", b, err)
				}
				if m.Status == "resolved" && !m.Alerts[0].EndsAt.After(m.Alerts[0].StartsAt) {
					t.Fatalf("resolved without endsAt: %s", b)
				}
				states = append(states, m.Status)
			}
			if strings.Join(states, ",") != "firing,resolved" {
				t.Fatalf("states %v", states)
			}
			if g.metric(`wasmward_webhook_notifications_total{result="retried"}`) != 2 || g.metric(`wasmward_webhook_notifications_total{result="sent"}`) != 2 {
				t.Fatal("webhook metrics wrong")
			}
		})
	}
}

// A receiver that never answers slows no request: with deliveries stuck
// (a 30s timeout) and more queued, requests take what they took before.
func TestAlertsStuckReceiverDoesNotSlowRequests(t *testing.T) {
	rc := &receiver{t: t, stuck: make(chan struct{})}
	g := webhookGW(t, rc, "json")
	median := func(path string, n int) (time.Duration, time.Duration) {
		var ds []time.Duration
		for range n {
			r := g.get(path)
			ds = append(ds, r.took)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2], ds[len(ds)-1]
	}
	before, _ := median("/hello", 30)
	for range 5 { // alerts fire; their notifications block on the receiver
		g.get("/evil?trap")
		time.Sleep(2100 * time.Millisecond / 5)
	}
	g.waitFor("a delivery to be stuck", func() bool { return rc.attempts.Load() >= 1 })
	during, worst := median("/hello", 30)
	t.Logf("/hello median %s before, %s with the receiver stuck (worst %s)", before, during, worst)
	// Requests waiting on the receiver would take its 30s timeout.
	if worst > 2*time.Second || during > 3*before+50*time.Millisecond {
		t.Fatalf("requests slowed: median %s -> %s, worst %s", before, during, worst)
	}
}

// alerts export --prometheus: the generated rule file decodes into the
// Prometheus rule-group shape, strictly, and every metric its expressions
// name is one the gateway (with the monitor) exports.
func TestAlertsPrometheusExportNamesRealMetrics(t *testing.T) {
	g := startAlerting(t, `
alerting: {state_dir: STATE}
alerts:
  - {name: v, when: {signal: violations, kind: memory_limit, over: 1m, count: 3}, routes: [/evil/...], severity: high, action: isolate}
  - {name: t, when: {signal: traps, over: 5m, rate: 0.1, min_requests: 20}, severity: warning, action: notify}
  - {name: s, when: {signal: soft, over: 1m, count: 5}, for: 30s, severity: info, action: notify}
  - {name: e, when: {signal: errors_5xx, over: 1m, count: 10}, severity: high, action: restart}
  - {name: p, when: {signal: p99_ms, over: 5m, above: 250}, severity: warning, action: rollback}
  - {name: f, when: {signal: findings}, severity: critical, action: isolate}
  - {name: r, when: {signal: refused_deploys, over: 10m, count: 2}, severity: warning, action: notify}
routes:
  - route: /evil/...
    module: fixture:gw_evil
  - route: /hello
    module: fixture:gw_hello
`, t.TempDir(), monitor.Options{})
	out, err := alert.MarshalPrometheusRules(alert.PrometheusRules(g.mon.Engine().Rules(), "wasmward"))
	if err != nil {
		t.Fatal(err)
	}
	var groups struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert         string            `yaml:"alert"`
				Expr          string            `yaml:"expr"`
				For           string            `yaml:"for"`
				KeepFiringFor string            `yaml:"keep_firing_for"`
				Labels        map[string]string `yaml:"labels"`
				Annotations   map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	dec.KnownFields(true)
	if err := dec.Decode(&groups); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(groups.Groups) != 1 || len(groups.Groups[0].Rules) != 7 {
		t.Fatalf("rule file:\n%s", out)
	}
	exported := g.srv.MetricNames()
	names := regexp.MustCompile(`\bwasmward_[a-z0-9_]+`)
	durRE := regexp.MustCompile(`^[0-9]+(ms|s|m|h)$`)
	for _, r := range groups.Groups[0].Rules {
		if r.Labels["severity"] == "" || (r.For != "" && !durRE.MatchString(r.For)) || (r.KeepFiringFor != "" && !durRE.MatchString(r.KeepFiringFor)) {
			t.Errorf("rule %+v", r)
		}
		if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
			t.Errorf("%s: unbalanced %s", r.Alert, r.Expr)
		}
		for _, n := range names.FindAllString(r.Expr, -1) {
			base := strings.TrimSuffix(n, "_bucket")
			if !slices.Contains(exported, base) {
				t.Errorf("%s: %s names %s, which the gateway does not export (it exports %v)", r.Alert, r.Expr, n, exported)
			}
		}
	}
	if want := `sum by (route) (increase(wasmward_violations_total{route=~"/evil(/.*)?",kind="memory_limit"}[1m])) >= 3`; groups.Groups[0].Rules[0].Expr != want {
		t.Fatalf("expr %q, want %q", groups.Groups[0].Rules[0].Expr, want)
	}
}

// rollback goes through the deployment machinery: a deployed version that
// violates is rolled back to the version it replaced (the deployment is
// then rolled_back), and the route serves the previous version again.
func TestAlertsRollbackThroughDeployments(t *testing.T) {
	g := startAlerting(t, `
deploy: {health_interval: 100ms, step_interval: 200ms, min_requests: 1000}
alerts:
  - name: bad-deploy
    when: {signal: violations, over: 1m, count: 2}
    routes: [/svc]
    severity: high
    action: rollback
routes:
  - route: /svc
    module: fixture:dep_v1
    policy: {limits: {memory: 16MiB}}
`, "", monitor.Options{})
	mgr, err := deploy.New(context.Background(), deploy.Options{Server: g.srv, Rollout: gateway.Rollout{HealthInterval: 100 * time.Millisecond,
		Window: time.Minute, MinRequests: 1000, MaxErrorRate: 1, MaxViolationRate: 1, MaxTrapRate: 1, Tolerance: 1000,
		CanarySteps: []int{100}, StepInterval: 200 * time.Millisecond}, Resolve: deploy.FileResolver("")})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	g.mon.SetDeployments(mgr)
	rec, err := mgr.Deploy(context.Background(), deploy.Request{Route: "/svc", Module: fixture.Path(t, "gw_evil"), Strategy: deploy.Replace})
	if err != nil {
		t.Fatal(err)
	}
	g.waitFor("the deployment to succeed", func() bool {
		r, _ := mgr.Get(rec.ID)
		return r.State == deploy.Succeeded
	})
	if r := g.get("/svc?status418"); r.status != 418 {
		t.Fatalf("deployed version: %d", r.status)
	}
	for range 2 {
		if r := g.get("/svc?memory"); r.status != 502 {
			t.Fatalf("violation: %d", r.status)
		}
	}
	g.waitFor("the rollback", func() bool {
		r, _ := mgr.Get(rec.ID)
		return r.State == deploy.RolledBack
	})
	if r := g.get("/svc?status418"); r.status != 200 || r.body != "v1\n" {
		t.Fatalf("after rollback: %d %q", r.status, r.body)
	}
	g.waitFor("the action's audit record", func() bool { return len(g.auditRecords(monitor.TypeAction)) == 1 })
	if ev := g.auditRecords(monitor.TypeAction)[0]; ev.Kind != "rollback" || !strings.Contains(ev.Detail, "deployment "+rec.ID+" rolled back") {
		t.Fatalf("action record %+v", ev)
	}
}

// findings: the served module's SBOM is matched against the OSV directory
// at start (none: no alert) and again when the directory changes (the
// advisories arrive: the alert fires, the gauge says how many).
func TestAlertsFindingsWhenOSVChanges(t *testing.T) {
	osv := t.TempDir()
	g := startAlerting(t, `
alerting: {osv_dir: `+osv+`, osv_poll: 100ms}
alerts:
  - {name: vulnerable, when: {signal: findings}, severity: critical, action: notify}
routes:
  - route: /dep
    module: fixture:sbom_dep
`, "", monitor.Options{})
	time.Sleep(500 * time.Millisecond)
	if a := g.alerts().Alerts; len(a) != 0 {
		t.Fatalf("alerts with no advisories: %+v", a)
	}
	src := filepath.Join("..", "sbom", "testdata", "osv")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(osv, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.waitFor("the findings alert", func() bool { return g.firing("vulnerable") != nil })
	a := g.firing("vulnerable")
	if a.Route != "/dep" || a.Value < 1 {
		t.Fatalf("alert %+v", a)
	}
	if v := g.metric(`wasmward_dependency_findings{route="/dep",sha256="` + a.SHA256 + `"}`); v != a.Value {
		t.Fatalf("findings gauge %v, alert value %v", v, a.Value)
	}
}

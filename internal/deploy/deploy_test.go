package deploy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/store"
)

const testToken = "0123456789abcdef-test-token"

// env is a gateway with a deployment manager, serving on loopback.
type env struct {
	dir      string
	srv      *gateway.Server
	m        *Manager
	pub      string // http://host:port
	admin    string
	client   *Client
	auditLog string
	al       *audit.Log
	stop     func()
}

// testConfig deploys fast: checks every 40ms, steps of 400ms.
const testConfig = `
listen: 127.0.0.1:0
rate_limit: {requests_per_second: 0}
drain_delay: 0s
shutdown_timeout: 5s
deploy:
  health_interval: 40ms
  window: 5s
  step_interval: 400ms
  min_requests: 10
  canary_steps: [10, 50, 100]
routes:
  - route: /svc
    module: dep_v1.wasm
    health: {path: "/svc?health"}
`

func newEnv(t *testing.T, cfgText string, token bool, st *store.Store) *env {
	t.Helper()
	return newEnvOCI(t, cfgText, token, st, nil)
}

// newEnvOCI is newEnv whose store resolves oci:// references with fetcher.
func newEnvOCI(t *testing.T, cfgText string, token bool, st *store.Store, fetcher store.Fetcher) *env {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"dep_v1", "dep_v2", "dep_broken", "dep_trap", "dep_violate", "dep_traplive", "dep_slow"} {
		if err := os.WriteFile(filepath.Join(dir, n+".wasm"), fixture.Bytes(t, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	load := gateway.LoadConfig
	if st != nil {
		load = func(p string) (*gateway.Config, error) {
			return gateway.LoadConfigWith(p, func(ref string) ([]byte, error) {
				res, err := st.Resolve(context.Background(), ref, store.ResolveOptions{BaseDir: dir})
				return res.Bytes, err
			})
		}
	}
	cfg, err := load(filepath.Join(dir, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, auditLog: filepath.Join(dir, "audit.log")}
	al, err := audit.Open(e.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	e.al = al
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := gateway.New(ctx, cfg, gateway.Options{Logger: log, Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	var tok []byte
	if token {
		tok = []byte(testToken)
	}
	var records Records
	resolve := FileResolver(dir)
	if st != nil {
		records, resolve = StoreRecords{S: st}, StoreResolver(st, dir, fetcher)
	}
	m, err := New(ctx, Options{Server: srv, Rollout: cfg.Rollout, Resolve: resolve, Records: records, Token: tok, Logger: log,
		Reload: func(ctx context.Context) (*gateway.ReloadResult, error) {
			c, err := load(filepath.Join(dir, "gateway.yaml"))
			if err != nil {
				return nil, err
			}
			return srv.Reload(ctx, c)
		}})
	if err != nil {
		t.Fatal(err)
	}
	for p, h := range m.Handlers() {
		srv.HandleAdmin(p, h)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ctx, pl, adl); close(done) }()
	e.srv, e.m = srv, m
	e.pub, e.admin = "http://"+pl.Addr().String(), "http://"+adl.Addr().String()
	e.client = &Client{URL: e.admin, Token: tok}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			m.Close()
			cancel()
			<-done
			srv.Close(context.Background())
			al.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

// get fetches the public path and returns the status and body.
func (e *env) get(t testing.TB, c *http.Client, p string) (int, string, error) {
	resp, err := c.Get(e.pub + p)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// load sends requests from n keep-alive clients until stopped, counting
// bodies and errors.
type load struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	bodies map[string]int
	errs   []string
	total  atomic.Int64
}

func (e *env) startLoad(t *testing.T, n int) *load {
	l := &load{stop: make(chan struct{}), bodies: map[string]int{}}
	for i := 0; i < n; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body, err := e.get(t, c, "/svc")
				l.total.Add(1)
				l.mu.Lock()
				if err != nil {
					l.errs = append(l.errs, err.Error())
				} else {
					l.bodies[strings.TrimSpace(body)+" "+http.StatusText(code)]++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) end() map[string]int {
	close(l.stop)
	l.wg.Wait()
	return l.bodies
}

func (e *env) wait(t *testing.T, id string) Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := e.client.Wait(ctx, id, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait for %s: %v", id, err)
	}
	return r
}

func (e *env) route(t *testing.T, label string) RouteStatus {
	t.Helper()
	rs, err := e.client.Routes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Route == label {
			return r
		}
	}
	t.Fatalf("route %s not in /v1/routes", label)
	return RouteStatus{}
}

func versionSHA(r RouteStatus, state string) []string {
	var out []string
	for _, v := range r.Versions {
		if v.State == state {
			out = append(out, v.SHA256)
		}
	}
	return out
}

func sha(t *testing.T, name string) string {
	return digest.SHA256Hex(fixture.Bytes(t, name))
}

func (e *env) auditText(t *testing.T) string {
	t.Helper()
	if err := e.al.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A replace deployment of a good version: checked, swapped, watched,
// succeeded; the replaced version is the rollback target, and an operator
// rollback brings it back and closes the rolled-back version's module.
func TestReplaceThenOperatorRollback(t *testing.T) {
	e := newEnv(t, testConfig, true, nil)
	rec, err := e.client.Deploy(context.Background(), Request{Route: "/svc", Module: "dep_v2.wasm"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != Checking || rec.Strategy != Replace {
		t.Fatalf("started as %s/%s", rec.State, rec.Strategy)
	}
	rec = e.wait(t, rec.ID)
	if rec.State != Succeeded {
		t.Fatalf("deployment %s: %s", rec.State, rec.Reason)
	}
	if _, body, _ := e.get(t, http.DefaultClient, "/svc"); body != "v2\n" {
		t.Fatalf("after deploy: %q", body)
	}
	r := e.route(t, "/svc")
	if a, p := versionSHA(r, "active"), versionSHA(r, "previous"); len(a) != 1 || a[0] != sha(t, "dep_v2") || len(p) != 1 || p[0] != sha(t, "dep_v1") {
		t.Fatalf("versions: %+v", r.Versions)
	}
	active, _, _, _ := e.srv.Versions("/svc")
	v2closed := active.Closed()
	active.Release()

	rb, err := e.client.RollbackRoute(context.Background(), "/svc")
	if err != nil {
		t.Fatal(err)
	}
	if rb.ID != rec.ID || rb.State != RolledBack {
		t.Fatalf("rollback: %s %s", rb.ID, rb.State)
	}
	if _, body, _ := e.get(t, http.DefaultClient, "/svc"); body != "v1\n" {
		t.Fatalf("after rollback: %q", body)
	}
	select {
	case <-v2closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the rolled-back version's compiled module was not closed")
	}
	if n := e.srv.OpenVersions(); n != 1 {
		t.Errorf("%d compiled versions open, want 1", n)
	}
	if f := versionSHA(e.route(t, "/svc"), "failed"); len(f) != 1 || f[0] != sha(t, "dep_v2") {
		t.Errorf("failed versions: %v", f)
	}
	if a := e.auditText(t); !strings.Contains(a, `"type":"rollback"`) || !strings.Contains(a, `"kind":"operator"`) {
		t.Errorf("no operator rollback in the audit log")
	}
}

// A canary of a version that passes the synthetic check but answers 500
// under real traffic is rolled back automatically on its 5xx rate, with an
// audit record and a metric; the same version is then refused until an
// operator retries it explicitly.
func TestCanaryBreachRollsBack(t *testing.T) {
	e := newEnv(t, testConfig, true, nil)
	l := e.startLoad(t, 4)
	rec, err := e.client.Deploy(context.Background(), Request{Route: "/svc", Module: "dep_broken.wasm", CanaryPercent: 50})
	if err != nil {
		t.Fatal(err)
	}
	rec = e.wait(t, rec.ID)
	time.Sleep(50 * time.Millisecond)
	bodies := l.end()
	if rec.State != RolledBack || !strings.Contains(rec.Reason, "5xx rate") {
		t.Fatalf("deployment %s: %s", rec.State, rec.Reason)
	}
	if bodies["broken Internal Server Error"] == 0 {
		t.Fatalf("the canary got no requests: %v", bodies)
	}
	for k := range bodies {
		if k != "v1 OK" && k != "broken Internal Server Error" {
			t.Errorf("unexpected answer %q", k)
		}
	}
	if len(l.errs) > 0 {
		t.Errorf("socket errors: %v", l.errs[:min(3, len(l.errs))])
	}
	// After the rollback only v1 answers.
	for i := 0; i < 20; i++ {
		if code, body, _ := e.get(t, http.DefaultClient, "/svc"); code != 200 || body != "v1\n" {
			t.Fatalf("after rollback: %d %q", code, body)
		}
	}
	if f := versionSHA(e.route(t, "/svc"), "failed"); len(f) != 1 || f[0] != sha(t, "dep_broken") {
		t.Errorf("failed versions: %v", f)
	}
	resp, err := http.Get(e.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(mb), `wasmward_rollbacks_total{route="/svc",signal="error_rate"} 1`) ||
		!strings.Contains(string(mb), `wasmward_route_version{route="/svc",sha256="`+sha(t, "dep_broken")+`",state="failed"} 0`) {
		t.Errorf("metrics lack the rollback:\n%s", grepLines(string(mb), "wasmward_r"))
	}
	if a := e.auditText(t); !strings.Contains(a, `"type":"rollback"`) || !strings.Contains(a, `"kind":"error_rate"`) {
		t.Errorf("no rollback record in the audit log")
	}

	// Not retried without an explicit say-so.
	_, err = e.client.Deploy(context.Background(), Request{Route: "/svc", Module: "dep_broken.wasm", CanaryPercent: 50})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, "failed") {
		t.Fatalf("redeploy of a failed version: %v", err)
	}
	again, err := e.client.Deploy(context.Background(), Request{Route: "/svc", Module: "dep_broken.wasm", CanaryPercent: 50, RetryFailed: true})
	if err != nil || !again.RetryFailed {
		t.Fatalf("retry_failed deploy: %v", err)
	}
	e.wait(t, again.ID)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Deployments that must never reach live traffic: a version failing the
// synthetic check, bytes the compiler or scan refuses. The route keeps
// serving v1 throughout, and each outcome is recorded.
func TestDeploymentsThatNeverServe(t *testing.T) {
	e := newEnv(t, testConfig, true, nil)
	if err := os.WriteFile(filepath.Join(e.dir, "junk.wasm"), []byte("not a module"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		module, state, reason string
		status                int
	}{
		{"dep_trap.wasm", Failed, "health check: GET /svc?health answered 502, want 200", 0},
		{"junk.wasm", Refused, "refused", http.StatusUnprocessableEntity},
		{"missing.wasm", "", "no such file", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.module, func(t *testing.T) {
			l := e.startLoad(t, 2)
			rec, err := e.client.Deploy(context.Background(), Request{Route: "/svc", Module: tc.module, CanaryPercent: 50})
			var ae *APIError
			switch {
			case tc.status != 0:
				if !errors.As(err, &ae) || ae.Status != tc.status || !strings.Contains(ae.Message, tc.reason) {
					t.Fatalf("deploy: %v, want HTTP %d", err, tc.status)
				}
				if tc.state != "" && (ae.Deployment == nil || ae.Deployment.State != tc.state) {
					t.Errorf("record: %+v", ae.Deployment)
				}
			case err != nil:
				t.Fatal(err)
			default:
				rec = e.wait(t, rec.ID)
				if rec.State != tc.state || rec.Reason != tc.reason {
					t.Errorf("deployment: %s %q", rec.State, rec.Reason)
				}
			}
			bodies := l.end()
			if len(bodies) != 1 || bodies["v1 OK"] == 0 || len(l.errs) > 0 {
				t.Errorf("answers during the deployment: %v, errors %v", bodies, l.errs)
			}
		})
	}
	if a := e.auditText(t); !strings.Contains(a, `"type":"module_refused"`) {
		t.Errorf("the refused module is not audited")
	}
}

// The admin API changes nothing without the token: read-only when none is
// configured, 401 for a wrong or missing one; reads stay open.
func TestAdminAuth(t *testing.T) {
	ro := newEnv(t, testConfig, false, nil)
	rw := newEnv(t, testConfig, true, nil)
	tests := []struct {
		name   string
		e      *env
		token  string
		status int
	}{
		{"no token configured", ro, testToken, http.StatusForbidden},
		{"missing token", rw, "", http.StatusUnauthorized},
		{"wrong token", rw, testToken + "x", http.StatusUnauthorized},
		{"prefix of the token", rw, testToken[:10], http.StatusUnauthorized},
		{"right token", rw, testToken, http.StatusAccepted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", tc.e.admin+"/v1/deployments", strings.NewReader(`{"route":"/svc","module":"dep_v2.wasm"}`))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d %s, want %d", resp.StatusCode, b, tc.status)
			}
			if strings.Contains(string(b), testToken) {
				t.Errorf("the answer carries the token")
			}
			for _, p := range []string{"/v1/routes", "/v1/deployments"} {
				if r, err := http.Get(tc.e.admin + p); err != nil || r.StatusCode != 200 {
					t.Errorf("GET %s: %v %v", p, err, r)
				} else {
					r.Body.Close()
				}
			}
		})
	}
}

// History survives a restart: a new manager on the same records sees the
// deployments, restores the deployed version and still refuses the failed
// one.
func TestRecordsSurviveRestart(t *testing.T) {
	recs, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, testConfig, true, recs)
	ok, err := e.client.Deploy(context.Background(), Request{Route: "/svc", Module: "dep_v2.wasm"})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(t, ok.ID)
	bad, err := e.client.Deploy(context.Background(), Request{Route: "/svc", Module: "dep_trap.wasm"})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(t, bad.ID)
	e.stop()

	e2 := newEnv(t, testConfig, true, recs)
	list, err := e2.client.Deployments(context.Background(), "/svc")
	if err != nil || len(list) != 2 || list[0].ID != bad.ID || list[0].State != Failed || list[1].State != Succeeded {
		t.Fatalf("history after restart: %v %+v", err, list)
	}
	if _, body, _ := e2.get(t, http.DefaultClient, "/svc"); body != "v2\n" {
		t.Errorf("after restart: %q, want the deployed v2", body)
	}
	_, err = e2.client.Deploy(context.Background(), Request{Route: "/svc", Module: "dep_trap.wasm"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("failed version after restart: %v", err)
	}
	// The store keeps the route's active version and its rollback target
	// from GC, and the same deploy by digest resolves from the store.
	var refs []store.Digest
	if err := recs.View(context.Background(), func(tx *store.Tx) error {
		refs, err = tx.Refs("route//svc")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || !slices.Contains(refs, store.Digest("sha256:"+sha(t, "dep_v1"))) || !slices.Contains(refs, store.Digest("sha256:"+sha(t, "dep_v2"))) {
		t.Errorf("store references of /svc: %v", refs)
	}
	if _, err := e2.client.RollbackRoute(context.Background(), "/svc"); err != nil {
		t.Fatal(err)
	}
	byDigest, err := e2.client.Deploy(context.Background(), Request{Route: "/svc", Module: "sha256:" + sha(t, "dep_v2"), RetryFailed: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := e2.wait(t, byDigest.ID); r.State != Succeeded {
		t.Errorf("deploy by digest: %s %s", r.State, r.Reason)
	}
}

// A reload is validated whole: a configuration with one bad route or a
// changed listen address changes nothing; a good one swaps the module.
func TestReload(t *testing.T) {
	e := newEnv(t, testConfig, true, nil)
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(e.dir, "gateway.yaml"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, cfg, want, err string
	}{
		{"bad second route", strings.Replace(testConfig, "module: dep_v1.wasm", "module: dep_v2.wasm", 1) +
			"  - {route: /other, module: missing.wasm}\n", "v1\n", "missing.wasm"},
		{"listen changed", strings.Replace(strings.Replace(testConfig, "module: dep_v1.wasm", "module: dep_v2.wasm", 1), "drain_delay: 0s", "drain_delay: 1s", 1), "v1\n", "DrainDelay changed"},
		{"junk module", strings.Replace(testConfig, "module: dep_v1.wasm", "module: gateway.yaml", 1), "v1\n", "refused"},
		{"good", strings.Replace(testConfig, "module: dep_v1.wasm", "module: dep_v2.wasm", 1), "v2\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.cfg)
			_, err := e.client.Reload(context.Background())
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("reload: %v, want %q", err, tc.err)
			}
			if _, body, _ := e.get(t, http.DefaultClient, "/svc"); body != tc.want {
				t.Errorf("serves %q, want %q", body, tc.want)
			}
		})
	}
	list := e.m.List("/svc")
	if len(list) != 1 || list[0].Strategy != Reload {
		t.Errorf("history: %+v", list)
	}
}

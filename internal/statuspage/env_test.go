package statuspage

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/monitor"
)

const testToken = "0123456789abcdef-status-token"

// testConfig deploys fast: checks every 40ms, a replaced version is
// watched for 300ms.
const testConfig = `
listen: 127.0.0.1:0
rate_limit: {requests_per_second: 0}
drain_delay: 0s
shutdown_timeout: 5s
alerting: {state_dir: STATE, retry_after: 30s}
alerts:
  - {name: repeated-traps, when: {signal: traps, over: 1m, count: 3}, routes: [/evil], severity: high, action: isolate}
deploy:
  health_interval: 40ms
  window: 5s
  step_interval: 300ms
  min_requests: 1000
routes:
  - route: /svc
    module: dep_v1.wasm
    health: {path: "/svc?health"}
  - route: /evil
    module: gw_evil.wasm
    policy: {limits: {memory: 16MiB}}
    soft_thresholds: {host_calls: {wasi_snapshot_preview1.fd_write: 1}}
`

// env is a gateway serving on loopback with the deployment manager and
// the status page on its admin listener.
type env struct {
	dir   string
	srv   *gateway.Server
	m     *deploy.Manager
	mon   *monitor.Monitor
	page  *Page
	pub   string
	admin string
	stop  func()
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"dep_v1", "dep_v2", "gw_evil"} {
		if err := os.WriteFile(filepath.Join(dir, n+".wasm"), fixture.Bytes(t, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgText := strings.ReplaceAll(testConfig, "STATE", filepath.Join(dir, "state"))
	if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := gateway.LoadConfig(filepath.Join(dir, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	al, err := audit.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.New(ctx, cfg, gateway.Options{Logger: log, Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	m, err := deploy.New(ctx, deploy.Options{Server: srv, Rollout: cfg.Rollout, Resolve: deploy.FileResolver(dir), Token: []byte(testToken), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for p, h := range m.Handlers() {
		srv.HandleAdmin(p, h)
	}
	mon, err := monitor.New(monitor.Options{Server: srv, Config: cfg.Alerts, Resolve: deploy.FileResolver(dir),
		Token: []byte(testToken), Logger: log, Install: true})
	if err != nil {
		t.Fatal(err)
	}
	for p, h := range mon.Handlers() {
		srv.HandleAdmin(p, h)
	}
	mon.SetDeployments(m)
	o.Server, o.Deploy, o.Monitor = srv, m, mon
	page, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for p, h := range page.Handlers() {
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
	mon.Start(ctx)
	done := make(chan struct{})
	go func() { srv.Serve(ctx, pl, adl); close(done) }()
	e := &env{dir: dir, srv: srv, m: m, mon: mon, page: page, pub: "http://" + pl.Addr().String(), admin: "http://" + adl.Addr().String()}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			page.Close()
			mon.Close()
			m.Close()
			srv.Close(context.Background())
			al.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

// get fetches a public path and returns its status.
func (e *env) get(t *testing.T, p string) int {
	t.Helper()
	resp, err := http.Get(e.pub + p)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// deployV2 replaces /svc's module with dep_v2 and waits until the
// deployment succeeded; it returns the deployment's ID.
func (e *env) deployV2(t *testing.T) string {
	t.Helper()
	rec, err := e.m.Deploy(context.Background(), deploy.Request{Route: "/svc", Module: "dep_v2.wasm", Strategy: "replace"})
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		r, err := e.m.Get(rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.State == deploy.Succeeded {
			return rec.ID
		}
		if deploy.Final(r.State) {
			t.Fatalf("deployment %s: %s (%s)", rec.ID, r.State, r.Reason)
		}
	}
	t.Fatalf("deployment %s did not succeed", rec.ID)
	return ""
}

// activeSHA is the digest /svc serves.
func (e *env) activeSHA(t *testing.T, route string) string {
	t.Helper()
	for _, r := range e.srv.Routes() {
		if r.Route == route {
			return r.SHA256
		}
	}
	t.Fatalf("no route %s", route)
	return ""
}

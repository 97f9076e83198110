package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/fixture"
)

// Deployments against `wasmward serve` as a real process, driven by the
// real `wasmward deploy`, `rollback` and `status` commands.

// deployConfig is a gateway whose deployments step fast: the synthetic
// check every 50ms, canary steps of 600ms, rates judged from 20 requests.
// The request timeout is generous: on a loaded 2-core machine a slow
// answer is not what these tests measure.
func deployConfig(t *testing.T, dir, module string) string {
	tok := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tok, []byte("wasmward-test-admin-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return `drain_delay: 0
rate_limit: {requests_per_second: 0}
request: {timeout: 30s}
admin_token_file: ` + tok + `
deploy:
  health_interval: 50ms
  window: 10s
  step_interval: 600ms
  min_requests: 20
  canary_steps: [10, 50, 100]
routes:
  - route: /svc
    module: ` + module + `
    health: {path: "/svc?health"}
`
}

// deployCLI runs a CLI command against p's admin listener with the token.
func (p *serveProc) deployCLI(t *testing.T, dir string, args ...string) cliResult {
	t.Helper()
	full := append([]string{args[0], "--admin", "http://" + p.admin}, args[1:]...)
	if args[0] != "status" {
		full = append(full, "--token-file", filepath.Join(dir, "admin.token"))
	}
	return runProcess(t, full...)
}

// loadResult is what the clients of a load run saw.
type loadResult struct {
	mu       sync.Mutex
	answers  map[string]int // "STATUS BODY"
	sockErrs []string
	total    int
}

// runLoad sends GET path from n keep-alive clients (one connection each)
// until stop is closed.
func runLoad(addr, path string, n int, stop <-chan struct{}) (*loadResult, *sync.WaitGroup) {
	res := &loadResult{answers: map[string]int{}}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
			c := &http.Client{Transport: tr, Timeout: time.Minute}
			defer tr.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("http://" + addr + path)
				var key string
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr != nil {
						err = rerr
					} else {
						key = resp.Status[:3] + " " + strings.TrimSpace(string(b))
					}
				}
				res.mu.Lock()
				res.total++
				if err != nil {
					res.sockErrs = append(res.sockErrs, err.Error())
				} else {
					res.answers[key]++
				}
				res.mu.Unlock()
			}
		}()
	}
	return res, &wg
}

func (p *serveProc) routeStatus(t *testing.T, route string) deploy.RouteStatus {
	t.Helper()
	var out struct {
		Routes []deploy.RouteStatus `json:"routes"`
	}
	if err := json.Unmarshal([]byte(fetch(t, "http://"+p.admin+"/v1/routes")), &out); err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Routes {
		if r.Route == route {
			return r
		}
	}
	t.Fatalf("no route %s", route)
	return deploy.RouteStatus{}
}

// Zero dropped requests: 32 keep-alive clients load the gateway through a
// replace deployment, a canary stepped to 100%, the automatic rollback of a
// broken canary and a SIGHUP reload that changes the route's module. No
// client sees a socket error, and the only non-2xx answers are the broken
// version's own 500s ("broken", written by the guest while it was the
// canary): none comes from a swap.
func TestDeployZeroDropUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	dir := t.TempDir()
	p := startServe(t, deployConfig(t, dir, fixture.Path(t, "dep_v1")), nil, "", "--store", filepath.Join(dir, "store"))
	stop := make(chan struct{})
	res, wg := runLoad(p.pub, "/svc", 32, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}()
	time.Sleep(300 * time.Millisecond)

	steps := []struct {
		name  string
		args  []string
		code  int
		state string
	}{
		{"replace with v2", []string{"deploy", "/svc", fixture.Path(t, "dep_v2")}, 0, deploy.Succeeded},
		{"canary of v1 to 100%", []string{"deploy", "/svc", fixture.Path(t, "dep_v1"), "--canary", "10%"}, 0, deploy.Succeeded},
		{"broken canary rolled back", []string{"deploy", "/svc", fixture.Path(t, "dep_broken"), "--canary", "10%"}, exitFailure, deploy.RolledBack},
	}
	for _, st := range steps {
		r := p.deployCLI(t, dir, append(st.args, "--json")...)
		var rec deploy.Record
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != st.code || rec.State != st.state {
			t.Fatalf("%s: exit %d, %s %q\n%s%s", st.name, r.code, rec.State, rec.Reason, r.stdout, r.stderr)
		}
	}
	// SIGHUP with the route's module changed to v2.
	cfg, err := os.ReadFile(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.cfg, []byte(strings.Replace(string(cfg), fixture.Path(t, "dep_v1"), fixture.Path(t, "dep_v2"), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(t, syscall.SIGHUP)
	for end := time.Now().Add(20 * time.Second); p.routeStatus(t, "/svc").SHA256 != digest.SHA256Hex(fixture.Bytes(t, "dep_v2")); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the reload never applied\n%s", p.stderrText())
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	t.Logf("%d requests: %v", res.total, res.answers)
	if len(res.sockErrs) > 0 {
		t.Errorf("%d socket errors, first: %s", len(res.sockErrs), res.sockErrs[0])
	}
	for k, n := range res.answers {
		switch k {
		case "200 v1", "200 v2", "500 broken":
		default:
			t.Errorf("%d answers %q", n, k)
		}
	}
	if res.answers["500 broken"] == 0 || res.answers["200 v1"] == 0 || res.answers["200 v2"] == 0 {
		t.Errorf("the load did not go through every version: %v", res.answers)
	}
	// Every version no longer served or held for rollback was closed.
	if !strings.Contains(p.stderrText(), "version closed") {
		t.Errorf("no compiled version was closed\n%s", p.stderrText())
	}
}

// The newcomer's flow against the real process: deploy a version that
// traps (it fails the synthetic check and never serves), deploy a broken
// canary under traffic (rolled back on its 5xx rate), see both in
// `wasmward status`, and find the history again after a restart on the
// same store.
func TestDeployBrokenVersionRolledBackE2E(t *testing.T) {
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	p := startServe(t, deployConfig(t, dir, fixture.Path(t, "dep_v1")), nil, "", "--store", storeDir)

	r := p.deployCLI(t, dir, "deploy", "/svc", fixture.Path(t, "dep_trap"))
	if r.code != exitFailure || !strings.Contains(r.stdout, "failed") || !strings.Contains(r.stderr, "answered 502, want 200") {
		t.Fatalf("deploy of a trapping version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	stop := make(chan struct{})
	_, wg := runLoad(p.pub, "/svc", 4, stop)
	r = p.deployCLI(t, dir, "deploy", "/svc", fixture.Path(t, "dep_broken"), "--canary", "50%")
	close(stop)
	wg.Wait()
	if r.code != exitFailure || !strings.Contains(r.stdout, "rolled_back") || !strings.Contains(r.stdout, "5xx rate") {
		t.Fatalf("deploy of a broken version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if body := fetch(t, "http://"+p.pub+"/svc"); body != "v1\n" {
		t.Errorf("after the rollback: %q", body)
	}
	// Not retried without --retry-failed.
	if r := p.deployCLI(t, dir, "deploy", "/svc", fixture.Path(t, "dep_broken")); r.code != exitFailure || !strings.Contains(r.stderr, "--retry-failed") {
		t.Errorf("redeploy of the failed version: exit %d %s", r.code, r.stderr)
	}
	// A change without the token is refused.
	if r := runProcess(t, "deploy", "/svc", fixture.Path(t, "dep_v2"), "--admin", "http://"+p.admin); r.code != exitUsage {
		t.Errorf("deploy without a token: exit %d %s", r.code, r.stderr)
	}

	checkStatus := func(p *serveProc) {
		t.Helper()
		r := p.deployCLI(t, dir, "status")
		if r.code != 0 {
			t.Fatalf("status: exit %d %s", r.code, r.stderr)
		}
		for _, want := range []string{"/svc", "active", "failed", "sha256:" + digest.SHA256Hex(fixture.Bytes(t, "dep_broken"))[:12],
			"rolled_back", "5xx rate", "health check: GET /svc?health answered 502"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("status lacks %q:\n%s", want, r.stdout)
			}
		}
	}
	checkStatus(p)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
	p2 := startServe(t, deployConfig(t, dir, fixture.Path(t, "dep_v1")), nil, "", "--store", storeDir)
	checkStatus(p2)
	p2.signal(t, syscall.SIGTERM)
	p2.wait(t, 15*time.Second)
	// The rollbacks are in the audit log.
	b, err := os.ReadFile(p.audit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"type":"rollback"`) {
		t.Errorf("no rollback record in the audit log")
	}
}

// The admin API listens only on the admin listener: the public one knows
// nothing of /v1/deployments.
func TestDeployAPINotOnPublicListener(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, deployConfig(t, dir, fixture.Path(t, "dep_v1")), nil, "", "--store", filepath.Join(dir, "store"))
	resp, err := http.Post("http://"+p.pub+"/v1/deployments", "application/json", strings.NewReader(`{}`))
	if err != nil {
		var ne net.Error
		if !errors.As(err, &ne) {
			t.Fatal(err)
		}
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("public POST /v1/deployments: %d", resp.StatusCode)
		}
	}
}

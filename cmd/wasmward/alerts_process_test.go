package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
)

type getResult struct {
	status int
	header http.Header
	body   string
}

func getURL(t *testing.T, url string) getResult {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return getResult{resp.StatusCode, resp.Header, string(b)}
}

// A module isolated by a rule stays quarantined across a restart of the
// real process (the quarantine lives in the state directory): the new
// process answers 503 for it from its first request, `quarantine ls`
// lists it, and only `quarantine release` (with the admin token) lets it
// serve again. `alerts export --prometheus` reads the same configuration.
func TestQuarantineSurvivesProcessRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway process twice")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	tok := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tok, []byte("process-test-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`drain_delay: 0
rate_limit: {requests_per_second: 0}
admin_token_file: %s
alerting: {state_dir: %s, retry_after: 7s}
alerts:
  - name: repeated-violations
    when: {signal: violations, over: 1m, count: 3}
    routes: [/evil/...]
    severity: high
    action: isolate
routes:
  - route: /evil/...
    module: %s
    policy: {limits: {memory: 16MiB}}
  - route: /hello
    module: %s
`, tok, state, fixture.Path(t, "gw_evil"), fixture.Path(t, "gw_hello"))

	p := startServe(t, cfg, nil, "")
	for i := range 3 {
		if r := getURL(t, "http://"+p.pub+"/evil/x?memory"); r.status != 502 {
			t.Fatalf("violation %d: %d", i, r.status)
		}
	}
	for end := time.Now().Add(10 * time.Second); getURL(t, "http://"+p.pub+"/evil/x?status418").status != 503; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not isolated\n%s", p.stderrText())
		}
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("first process exit %d\n%s", code, p.stderrText())
	}

	p2 := startServe(t, cfg, nil, "")
	r := getURL(t, "http://"+p2.pub+"/evil/x?status418")
	if r.status != 503 || r.header.Get("Retry-After") != "7" || !strings.HasPrefix(r.body, "503 Service Unavailable (request ") {
		t.Fatalf("after restart: %d %q %q", r.status, r.header.Get("Retry-After"), r.body)
	}
	p2.hello(t)
	admin := "http://" + p2.admin
	code, out, errs := runCLI(t, "", "quarantine", "ls", "--admin", admin)
	if code != 0 || !strings.Contains(out, "/evil/...") || !strings.Contains(out, "repeated-violations") {
		t.Fatalf("quarantine ls: %d %q %q", code, out, errs)
	}
	id := strings.Fields(out)[0]
	if code, _, errs := runCLI(t, "", "quarantine", "release", id, "--admin", admin); code != exitUsage || !strings.Contains(errs, "--token-file") {
		t.Fatalf("release without a token: %d %q", code, errs)
	}
	if code, out, errs := runCLI(t, "", "quarantine", "release", id, "--admin", admin, "--token-file", tok); code != 0 || !strings.HasPrefix(out, "released "+id) {
		t.Fatalf("release: %d %q %q", code, out, errs)
	}
	if r := getURL(t, "http://"+p2.pub+"/evil/x?status418"); r.status != 418 {
		t.Fatalf("after release: %d", r.status)
	}
	if code, _, errs := runCLI(t, "", "quarantine", "release", id, "--admin", admin, "--token-file", tok); code != exitFailure || !strings.Contains(errs, "not quarantined") {
		t.Fatalf("second release: %d %q", code, errs)
	}

	code, out, errs = runCLI(t, "", "alerts", "export", "--prometheus", "--config", p2.cfg)
	if code != 0 || !strings.Contains(out, "alert: repeated-violations") || !strings.Contains(out, `wasmward_violations_total{route=~"/evil(/.*)?"}[1m]`) {
		t.Fatalf("export: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "alerts", "export", "--config", p2.cfg); code != exitUsage || !strings.Contains(errs, "--prometheus") {
		t.Fatalf("export without a format: %d %q", code, errs)
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/fixture"
)

func gwCLI(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestServeQuickstart(t *testing.T) {
	cfg, err := loadServeConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.AdminListen != "127.0.0.1:9090" || len(cfg.Routes) != 2 {
		t.Fatalf("quickstart config %+v", cfg)
	}
	srv, err := gateway.New(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/hello?world")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "Hello from WebAssembly!") || !strings.Contains(string(b), "query: world") {
		t.Errorf("/hello: %d %q", resp.StatusCode, b)
	}
	resp, err = http.Post(ts.URL+"/echo/a/b", "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "method: POST\npath: /a/b\n") || !strings.Contains(string(b), "body: ping") {
		t.Errorf("/echo: %d %q", resp.StatusCode, b)
	}
}

func TestServeCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("routes:\n  - route: /a\n    modul: x.wasm\n"), 0o600)
	notWasm := filepath.Join(dir, "notwasm.yaml")
	os.WriteFile(filepath.Join(dir, "junk.wasm"), []byte("not a module"), 0o600)
	os.WriteFile(notWasm, []byte("audit_log: a.jsonl\nroutes: [{route: /a, module: junk.wasm}]\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"serve", "--config", bad}, exitUsage, bad + ":3: unknown key \"modul\""},
		{[]string{"serve", "--config", filepath.Join(dir, "none.yaml")}, exitUsage, "read config"},
		{[]string{"serve", "--config", notWasm}, exitRefused, "route /a: module junk.wasm refused: module refused: scan: scan finding at or above scan_fail_on critical: WW001"},
		{[]string{"serve", "--log-format", "xml"}, exitUsage, "--log-format"},
		{[]string{"serve", "extra"}, exitUsage, "unknown command"},
	} {
		code, _, stderr := gwCLI(context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d with %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
	// The refusal is in the audit log, and the log verifies.
	b, _ := os.ReadFile(filepath.Join(dir, "a.jsonl"))
	if !strings.Contains(string(b), `"type":"module_refused","route":"/a"`) {
		t.Errorf("audit log: %s", b)
	}
	if code, out, _ := gwCLI(context.Background(), "audit", "verify", filepath.Join(dir, "a.jsonl")); code != 0 || !strings.Contains(out, "intact, 1 records") {
		t.Errorf("verify: %d %q", code, out)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeCLIServesAndStops(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gw.yaml")
	os.WriteFile(cfg, []byte("audit_log: audit.jsonl\ndrain_delay: 0\nroutes:\n  - route: /hello\n    module: "+fixture.Path(t, "gw_hello")+"\n"), 0o600)
	pub, adm := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	type res struct {
		code           int
		stdout, stderr string
	}
	done := make(chan res, 1)
	go func() {
		c, o, e := gwCLI(ctx, "serve", "--config", cfg, "--listen", pub, "--admin-listen", adm, "--log-format", "json")
		done <- res{c, o, e}
	}()
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + pub + "/hello")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		break
	}
	if body != "hello from C\n" {
		t.Errorf("body %q", body)
	}
	if resp, err := http.Get("http://" + adm + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v", err)
	}
	cancel()
	r := <-done
	if r.code != 0 || !strings.Contains(r.stderr, `"msg":"audit log closed"`) {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}

	log := filepath.Join(dir, "audit.jsonl")
	if code, out, _ := gwCLI(context.Background(), "audit", "verify", log); code != 0 || !strings.Contains(out, "intact") || !strings.Contains(out, "anchored") {
		t.Fatalf("verify intact: %d %q", code, out)
	}
	b, _ := os.ReadFile(log)
	lines := strings.SplitAfter(string(b), "\n")
	// Tamper with the second record: line 3's prev no longer matches.
	lines[1] = strings.Replace(lines[1], `"type":"`, `"type":"x`, 1)
	os.WriteFile(log, []byte(strings.Join(lines, "")), 0o600)
	code, _, stderr := gwCLI(context.Background(), "audit", "verify", log)
	if code != 1 || !strings.Contains(stderr, log+":3: tampered") {
		t.Errorf("verify tampered: %d %q", code, stderr)
	}
	// Truncation is caught by the head sidecar, not without it.
	lines = strings.SplitAfter(string(b), "\n")
	os.WriteFile(log, []byte(strings.Join(lines[:len(lines)-2], "")), 0o600)
	if code, _, stderr := gwCLI(context.Background(), "audit", "verify", log); code != 1 || !strings.Contains(stderr, "truncated") {
		t.Errorf("verify truncated: %d %q", code, stderr)
	}
	if code, _, _ := gwCLI(context.Background(), "audit", "verify", "--no-anchor", log); code != 0 {
		t.Errorf("verify truncated without anchor: %d", code)
	}
	if code, _, _ := gwCLI(context.Background(), "audit", "verify", filepath.Join(dir, "missing")); code != 2 {
		t.Errorf("verify missing file: %d", code)
	}
}

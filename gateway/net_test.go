package gateway

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmward/wasmward/audit"
)

// TestE2ENetwork serves the bundled example (examples/fetch.yaml, with the
// demo API's port replaced by a test server's): the allowed API answers
// through the handler; a disallowed port, the cloud metadata address and a
// redirect to it are refused with 403, audited with their reason, counted
// in the metrics by host and reason, and never reach a server.
func TestE2ENetwork(t *testing.T) {
	var hits atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://169.254.169.254/latest/", http.StatusFound)
			return
		}
		io.WriteString(w, "hello from the API")
	}))
	defer api.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(100) }))
	defer other.Close()
	_, port, _ := net.SplitHostPort(api.Listener.Addr().String())
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())

	example, err := os.ReadFile(filepath.Join("..", "examples", "fetch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(example), "127.0.0.1:9000", "127.0.0.1:"+port)
	cfg = strings.ReplaceAll(cfg, "module: fetch.wasm", "module: "+filepath.Join("..", "examples", "fetch.wasm"))
	cfg = strings.ReplaceAll(cfg, "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0")
	cfg = strings.ReplaceAll(cfg, "admin_listen: 127.0.0.1:9090\n", "")
	abs, _ := filepath.Abs(filepath.Join("..", "examples", "fetch.wasm"))
	cfg = strings.ReplaceAll(cfg, filepath.Join("..", "examples", "fetch.wasm"), abs)
	g := startGW(t, "audit_log: audit.jsonl\n"+cfg)

	r := g.get("/fetch?url=http://127.0.0.1:" + port + "/hello")
	if r.status != 200 || r.body != "upstream status 200\nhello from the API" {
		t.Fatalf("allowed: %d %q", r.status, r.body)
	}
	for _, tc := range []struct{ url, kind, detail string }{
		{"http://127.0.0.1:" + otherPort + "/", "not_allowed", "http://127.0.0.1:" + otherPort + " is not in capabilities.network.http"},
		{"http://169.254.169.254/latest/meta-data/iam", "not_allowed", "http://169.254.169.254:80 is not in capabilities.network.http"},
		{"http://2852039166/latest/", "private_address", "numeric spelling of 169.254.169.254"},
		{"http://127.0.0.1:" + port + "/redirect", "redirect", "redirect target: http://169.254.169.254:80 is not in capabilities.network.http"},
	} {
		before := hits.Load()
		r := g.get("/fetch?url=" + tc.url)
		if r.status != 403 || r.body != "refused: error 7 (destination_not_allowed)\n" {
			t.Fatalf("%s: %d %q", tc.url, r.status, r.body)
		}
		if tc.kind != "redirect" && hits.Load() != before || hits.Load() >= 100 {
			t.Fatalf("%s reached a server", tc.url)
		}
		if !strings.Contains(g.logs.String(), `"kind":"`+tc.kind+`","detail":"`+tc.detail) {
			t.Fatalf("%s: no audit event %s: %s in\n%s", tc.url, tc.kind, tc.detail, g.logs.String())
		}
	}
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := string(mb)
	for _, want := range []string{
		`wasmward_net_requests_total{host="127.0.0.1",route="/fetch"} 2`,
		`wasmward_net_response_bytes_total{host="127.0.0.1",route="/fetch"} 18`,
		`wasmward_net_denied_total{reason="not_allowed",route="/fetch"} 2`,
		`wasmward_net_denied_total{reason="private_address",route="/fetch"} 1`,
		`wasmward_net_denied_total{reason="redirect",route="/fetch"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "meta-data") || strings.Contains(m, "/hello") {
		t.Error("metrics name a path")
	}
	g.stop()
	text, err := os.ReadFile(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(text), `"type":"`+audit.TypeNetDenied+`"`); n != 4 {
		t.Fatalf("%d net_denied records in the audit log, want 4:\n%s", n, text)
	}
}

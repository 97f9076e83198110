package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// TestRunNetwork: `wasmward run` grants outbound HTTP through the policy
// file, refuses what it does not list, prints each refusal with its reason
// and records it in the report.
func TestRunNetwork(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(`
limits: {timeout: 5s, network: {requests: 2}}
capabilities:
  network:
    http:
      - {url: "http://127.0.0.1:`+port+`/ping", allow_private: true}
      - {url: "http://10.0.0.1/"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fetch := fixture.Path(t, "net_fetch")
	report := filepath.Join(dir, "report.json")
	for _, tc := range []struct {
		name           string
		url            string
		code           int
		stdout, stderr string
	}{
		{"allowed", "http://127.0.0.1:" + port + "/ping", 0, "pong", "status=200 content-type=text/plain; charset=utf-8 bytes=4\n"},
		{"other path", "http://127.0.0.1:" + port + "/admin", 7, "",
			"req: error 7\nwasmward: outbound request refused (not_allowed): http://127.0.0.1:" + port + " is not in capabilities.network.http\n"},
		{"private", "http://10.0.0.1/", 7, "", "req: error 7\nwasmward: outbound request refused (private_address): 10.0.0.1 is private (RFC 1918)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "run", "--policy", pol, "--report", report, fetch, "--", tc.url)
			if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
				t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
			}
			rep := readReport(t, report)
			if tc.code == 0 && (rep.Network == nil || rep.Network.Hosts["127.0.0.1"] == nil || rep.Network.Hosts["127.0.0.1"].ResponseBytes != 4) {
				t.Fatalf("report network %+v", rep.Network)
			}
			if tc.code == 7 && (rep.Network == nil || len(rep.Network.Denials) != 1) {
				t.Fatalf("report network %+v", rep.Network)
			}
		})
	}
	// Without the grant the module is refused before it runs.
	code, _, stderr := runCLI(t, "", "run", fetch, "--", "http://127.0.0.1:"+port+"/ping")
	if code != exitRefused {
		t.Fatalf("no grant: exit %d, stderr %q", code, stderr)
	}
}

package gateway

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/audit"
)

// A client that hangs up while a well-behaved handler runs is the outcome
// client_closed: counted in wasmward_client_closed_total, never a violation
// of the route, never an audit violation record (before: each hang-up was a
// timeout violation, 20 hang-ups → 20 violations). The real sandbox stops
// the guest when the request's context is cancelled.
func TestClientHangUpIsClientClosed(t *testing.T) {
	g := startGW(t, `
rate_limit: {requests_per_second: 0}
request: {timeout: 20s}
audit_log: audit.jsonl
policy: {limits: {timeout: 20s}}
routes:
  - route: /evil
    module: fixture:gw_evil
`)
	const hangUps = 3
	for range hangUps {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", g.url+"/evil?spin=100000", nil) // minutes of work
		errc := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		g.waitInFlight(1)
		cancel()
		<-errc
		for end := time.Now().Add(5 * time.Second); g.srv.Routes()[0].InFlight != 0; {
			if time.Now().After(end) {
				t.Fatal("the run did not stop after its client hung up")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.srv.Routes()[0].Requests < hangUps && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ri := g.srv.Routes()[0]
	if ri.Requests != hangUps || ri.Violations != 0 || ri.Errors != 0 {
		t.Fatalf("route counters %+v, want %d requests and no violation or error", ri, hangUps)
	}
	// The metric is recorded when the handler returns, which may be just
	// after the route's counters move: poll it (bounded) rather than read
	// it once.
	var text string
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(g.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		if metricValue(text, `wasmward_client_closed_total{route="/evil"}`) >= hangUps || time.Now().After(end) {
			break
		}
	}
	if v := metricValue(text, `wasmward_client_closed_total{route="/evil"}`); v != hangUps {
		t.Errorf("client_closed metric %v, want %d", v, hangUps)
	}
	if strings.Contains(text, "wasmward_violations_total{") {
		t.Errorf("violations counted:\n%s", grepLines(text, "wasmward_violations_total"))
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(strings.NewReader(string(log))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), `"type":"violation"`) {
		t.Fatalf("audit log holds a violation for a client hang-up:\n%s", log)
	}
	// A guest that breaks a limit after its client left is still judged
	// (TestAdvClientDisconnectHidesViolation); this one only ran.
}

func grepLines(text, substr string) string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

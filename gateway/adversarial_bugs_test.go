//go:build bugs

// Adversarial gateway tests that fail today: each is a real bug (see the
// security review report). Run with `go test -tags bugs ./gateway -run TestAdvBug`.
package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/sandbox"
)

// BUG: the per-request state (stdin reader, stdout/stderr buffers) goes
// back to the pool when Run returns, but Module.Run documents that it may
// return while an abandoned guest is still inside a host call ("the
// goroutine, its instance and its pooled state stay alive until that call
// returns"). When that call returns, the guest keeps running straight-line
// code (calls are not fuel checks) and its fd_read/fd_write go to the
// buffers of whatever request reused the state: it reads another client's
// body and writes into another client's response. The fake module below
// does what the sandbox's abandoned guest does. Safe: a state whose run
// was abandoned (Run returned a timeout before the guest finished) is never
// reused, or the gateway hands Run writers it can revoke.
func TestAdvBugAbandonedRunPoisonsPooledState(t *testing.T) {
	leaked := make(chan string, 16)
	s := fakeServer(t, `
rate_limit: {requests_per_second: 0}
routes:
  - {route: /abandon, module: m.wasm}
  - {route: /victim, module: m.wasm}
`, nil)
	// Two routes, two behaviours, by the route's name in the invocation.
	for _, rt := range s.routes {
		rt := rt
		rt.mod = &fakeModule{run: func(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
			if rt.cfg.Path == "/abandon" {
				go func() { // the guest, still blocked in a host call
					time.Sleep(150 * time.Millisecond)
					b, _ := io.ReadAll(in.Stdin)
					leaked <- string(b)
					io.WriteString(in.Stdout, "Content-Type: text/plain\nSet-Cookie: session=attacker\n\nINJECTED")
				}()
				return &sandbox.Report{Outcome: sandbox.OutcomeViolation,
					Violation: &sandbox.Violation{Kind: sandbox.KindTimeout, Detail: "abandoned"}}, nil
			}
			time.Sleep(400 * time.Millisecond) // the victim's guest works a while
			b, _ := io.ReadAll(in.Stdin)
			io.WriteString(in.Stdout, "Content-Type: text/plain\n\nvictim got "+string(b))
			return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
		}}
	}
	base := advServe(t, s)
	var bad []string
	for i := 0; i < 4 && len(bad) == 0; i++ {
		resp, err := http.Post(base+"/abandon", "text/plain", strings.NewReader("attacker body"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = http.Post(base+"/victim", "text/plain", strings.NewReader("victim-secret-token"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "INJECTED") || resp.Header.Get("Set-Cookie") != "" || resp.StatusCode != 200 {
			bad = append(bad, "victim response: "+resp.Status+" "+string(b)+" cookie="+resp.Header.Get("Set-Cookie"))
		}
		select {
		case got := <-leaked:
			if strings.Contains(got, "victim") {
				bad = append(bad, "the abandoned guest read the victim's body: "+got)
			}
		case <-time.After(time.Second):
		}
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// BUG: when the client disconnects, serveHTTP returns before judging the
// run: a violation or trap the guest produced is never audited, logged, or
// counted (violations stay 0, wasmward_violations_total unchanged). A
// client that triggers a guest fault and hangs up hides it from the audit
// trail. Safe: the run is judged and audited whether or not the client is
// still there; only writing the response is skipped.
func TestAdvBugClientDisconnectHidesViolation(t *testing.T) {
	started := make(chan struct{}, 1)
	s := fakeServer(t, fakeCfg, func(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		started <- struct{}{}
		<-ctx.Done()
		return &sandbox.Report{Outcome: sandbox.OutcomeViolation,
			Violation: &sandbox.Violation{Kind: sandbox.KindMemoryLimit, Detail: "memory.grow denied"}}, nil
	})
	base := advServe(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/r", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	<-errc
	deadline := time.Now().Add(3 * time.Second)
	for s.Routes()[0].Requests == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ri := s.Routes()[0]; ri.Violations != 1 {
		t.Fatalf("memory_limit violation of a run whose client hung up was not counted: %+v", ri)
	}
}

// BUG (hardening): a request with both Content-Length and Transfer-Encoding
// is accepted (net/http drops Content-Length) and the connection stays
// open, so bytes after the chunked body are served as a second request.
// Behind a front end that frames by Content-Length this is CL.TE request
// smuggling (RFC 9112 section 6.3: such a message "ought to be handled as
// an error" and the server MUST close the connection). Safe: 400 or at
// least "Connection: close" and nothing after the body is served.
func TestAdvBugContentLengthAndTransferEncoding(t *testing.T) {
	ran := make(chan string, 4)
	s := fakeServer(t, `
rate_limit: {requests_per_second: 0}
routes:
  - {route: /r, module: m.wasm}
  - {route: /p/..., module: m.wasm}
`, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		for _, kv := range in.Env {
			if strings.HasPrefix(kv, "PATH_INFO=") {
				ran <- kv
			}
		}
		io.WriteString(in.Stdout, "Content-Type: text/plain\n\nok")
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	})
	base := advServe(t, s)
	out := advRaw(t, base, "POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"0\r\n\r\nGET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	close(ran)
	for kv := range ran {
		if strings.Contains(kv, "smuggled") {
			t.Fatalf("the bytes after the chunked body ran as a request (%s); responses:\n%s", kv, out)
		}
	}
}

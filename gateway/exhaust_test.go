package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/sandbox"
)

// Exhaustion tests: connections, body memory, shutdown, over real loopback
// sockets with small configured limits, so that they are fast and bounded.

// keepAlive opens a connection from local (nil: any) and does one request
// on it, leaving it open and idle.
func keepAlive(t *testing.T, addr string, local net.Addr) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 3 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	if resp := doOn(t, c, br, "/r"); resp == nil || resp.StatusCode != 200 {
		t.Fatalf("request on a fresh connection: %v", resp)
	}
	return c, br
}

// doOn sends GET path on c and reads the response; nil when the connection
// failed.
func doOn(t *testing.T, c net.Conn, br *bufio.Reader, path string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return nil
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// closedByServer reports whether the server closed c (a read returns EOF or
// a reset) within wait, and no byte came.
func closedByServer(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	n, err := c.Read(b[:])
	var ne net.Error
	if n > 0 || (errors.As(err, &ne) && ne.Timeout()) {
		return false
	}
	return err != nil
}

// busyConn opens a connection and sends half a request head: the
// connection holds a request, so it is never evicted.
func busyConn(t *testing.T, addr string, local net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 3 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET /r HTTP/1.1\r\nHost: x\r\n")
	return c
}

func metricsText(t *testing.T, admin string) string {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("admin /metrics: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

func healthz(t *testing.T, admin string) {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + admin + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin /healthz with the public listener saturated: %v %v", resp, err)
	}
	resp.Body.Close()
}

// waitOpen waits until the tracker of the public listener holds n
// connections (by the metric).
func waitOpen(t *testing.T, admin string, n int) {
	t.Helper()
	var v float64
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if v = metricValue(metricsText(t, admin), `wasmward_connections_open{listener="public"}`); v == float64(n) {
			return
		}
	}
	t.Fatalf("public connections open: %v, want %d", v, n)
}

// Connection limits: idle keep-alive connections past connections.max are
// evicted oldest first and new clients served; when every connection holds
// a request, new ones are closed without a reply; the per-client limit
// applies to one peer address only; the admin listener answers throughout
// (before: no limit, and 20,000 idle connections exhausted the descriptors
// for both listeners).
func TestConnectionLimits(t *testing.T) {
	const max = 8
	sv := serveFake(t, fmt.Sprintf(`
rate_limit: {requests_per_second: 0}
request: {timeout: 3s}
connections: {max: %d, max_per_client: 3, idle_timeout: 30s, idle_timeout_under_pressure: 30s}
trusted_proxies: [127.0.0.9]
routes:
  - {route: /r, module: m.wasm}
`, max), exitOK("Content-Type: text/plain\n\nok"))
	local := func(i int) net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+i))} }

	t.Run("idle connections are evicted oldest first", func(t *testing.T) {
		var conns []net.Conn
		for i := range max {
			c, _ := keepAlive(t, sv.pub, local(i))
			conns = append(conns, c)
		}
		waitOpen(t, sv.admin, max)
		// Three more clients: each is served, and three idle connections
		// (the oldest by the server's clock) make room.
		var fresh []net.Conn
		for i := range 3 {
			c, _ := keepAlive(t, sv.pub, local(max+i))
			fresh = append(fresh, c)
		}
		closed := 0
		for _, c := range conns {
			if closedByServer(c, 300*time.Millisecond) {
				closed++
			}
		}
		if closed != 3 {
			t.Errorf("%d idle connections closed, want 3", closed)
		}
		waitOpen(t, sv.admin, max)
		if v := metricValue(metricsText(t, sv.admin), `wasmward_connections_evicted_total{reason="limit"}`); v != 3 {
			t.Errorf("limit evictions %v, want 3", v)
		}
		for _, c := range append(conns, fresh...) {
			c.Close()
		}
		waitOpen(t, sv.admin, 0)
	})

	t.Run("busy connections: the new one is closed without a reply", func(t *testing.T) {
		for i := range max {
			busyConn(t, sv.pub, local(i))
		}
		waitOpen(t, sv.admin, max)
		c, err := net.Dial("tcp", sv.pub)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
		if !closedByServer(c, 2*time.Second) {
			t.Fatal("connection past the limit was not closed")
		}
		healthz(t, sv.admin)
		m := metricsText(t, sv.admin)
		if v := metricValue(m, `wasmward_connections_refused_total{listener="public",reason="limit"}`); v < 1 {
			t.Errorf("refused metric %v", v)
		}
		if v := metricValue(m, `wasmward_connections_open{listener="public"}`); v != max {
			t.Errorf("open %v, want %d", v, max)
		}
	})
}

func TestConnectionLimitPerClient(t *testing.T) {
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
request: {timeout: 3s}
connections: {max: 50, max_per_client: 3}
trusted_proxies: [127.0.0.9]
routes:
  - {route: /r, module: m.wasm}
`, exitOK("Content-Type: text/plain\n\nok"))
	a := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 7)}
	for range 3 {
		busyConn(t, sv.pub, a)
	}
	waitOpen(t, sv.admin, 3)
	// A fourth busy connection from the same address is closed...
	c := busyConn(t, sv.pub, a)
	if !closedByServer(c, 2*time.Second) {
		t.Fatal("fourth connection of one client not closed")
	}
	// ...another address is served...
	other, br := keepAlive(t, sv.pub, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 8)})
	if resp := doOn(t, other, br, "/r"); resp == nil || resp.StatusCode != 200 {
		t.Fatalf("another client: %v", resp)
	}
	// ...and a trusted proxy has no per-client limit.
	proxy := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}
	for range 5 {
		keepAlive(t, sv.pub, proxy)
	}
	if v := metricValue(metricsText(t, sv.admin), `wasmward_connections_refused_total{listener="public",reason="client_limit"}`); v != 1 {
		t.Errorf("client_limit refusals %v, want 1", v)
	}
}

// Under pressure (more than three quarters of connections.max open), idle
// connections are closed after idle_timeout_under_pressure instead of
// idle_timeout; below it they stay.
func TestPressureIdleTimeout(t *testing.T) {
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
connections: {max: 8, idle_timeout: 30s, idle_timeout_under_pressure: 200ms}
routes:
  - {route: /r, module: m.wasm}
`, exitOK("Content-Type: text/plain\n\nok"))
	few := []net.Conn{}
	for range 2 {
		c, _ := keepAlive(t, sv.pub, nil)
		few = append(few, c)
	}
	for _, c := range few {
		if closedByServer(c, 700*time.Millisecond) {
			t.Fatal("idle connection closed without pressure")
		}
	}
	var many []net.Conn
	for range 5 { // 7 open > 6
		c, _ := keepAlive(t, sv.pub, nil)
		many = append(many, c)
	}
	// The two that were idle longest are closed within a few ticks, and
	// eviction stops once no more than three quarters are open.
	start := time.Now()
	for i, c := range few {
		if !closedByServer(c, 3*time.Second) {
			t.Fatalf("idle connection %d not closed under pressure", i)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
	// The metrics follow the close (the client may see it first).
	var evicted, open float64
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		m := metricsText(t, sv.admin)
		evicted = metricValue(m, `wasmward_connections_evicted_total{reason="pressure"}`)
		open = metricValue(m, `wasmward_connections_open{listener="public"}`)
		if evicted >= 2 && open <= 6 {
			break
		}
	}
	if evicted < 2 || open > 6 {
		t.Errorf("pressure evictions %v (want at least 2), open %v (want at most 6)", evicted, open)
	}
	_ = many
}

// smallRecvConn dials with a 4KiB receive buffer, so a client that does
// not read stops the server's writes quickly.
func smallRecvConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// budgetWatch samples the body budget in use until stop and returns the
// highest value seen.
func budgetWatch(s *Server) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if v := s.budget.inUse(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	return func() int64 { close(done); wg.Wait(); return peak.Load() }
}

func waitBudget(t *testing.T, s *Server, cond func(int64) bool, what string) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if cond(s.budget.inUse()) {
			return
		}
	}
	t.Fatalf("body budget in use %d: never %s", s.budget.inUse(), what)
}

// Stalled uploads hold only the bytes they sent, the bytes buffered across
// all requests never exceed request.body_budget, and a request that cannot
// get budget within body_budget_wait is refused with 503 + Retry-After
// (before: every stalled upload held its whole buffer, 400 × 1 MiB → 1.35 GB).
func TestBodyBudgetStalledUploads(t *testing.T) {
	const budget = 256 << 10
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
request: {max_body: 1MiB, timeout: 5s, body_budget: 256KiB, body_budget_wait: 100ms}
routes:
  - {route: /r, module: m.wasm}
`, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		n, _ := io.Copy(io.Discard, in.Stdin)
		fmt.Fprintf(in.Stdout, "Content-Type: text/plain\n\n%d", n)
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	})
	peak := budgetWatch(sv.s)
	// A stalled upload: 1MiB declared, 200KiB sent.
	stalled, err := net.Dial("tcp", sv.pub)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(stalled, "POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("a", 200<<10))
	waitBudget(t, sv.s, func(v int64) bool { return v >= 200<<10 }, "holding the stalled upload's bytes")
	if v := sv.s.budget.inUse(); v > budget {
		t.Fatalf("in use %d > budget", v)
	}
	post := func() (int, string, time.Duration) {
		start := time.Now()
		resp, err := http.Post("http://"+sv.pub+"/r", "text/plain", strings.NewReader(strings.Repeat("b", 100<<10)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After") + "|" + string(b), time.Since(start)
	}
	code, body, took := post()
	if code != 503 || !strings.HasPrefix(body, "1|503 Service Unavailable") || took < 90*time.Millisecond || took > 2*time.Second {
		t.Fatalf("with the budget held: %d %q after %v, want 503 with Retry-After after ~100ms", code, body, took)
	}
	stalled.Close()
	waitBudget(t, sv.s, func(v int64) bool { return v == 0 }, "back to zero after the stalled client left")
	if code, body, _ := post(); code != 200 || body != "|102400" {
		t.Fatalf("after the stalled upload left: %d %q", code, body)
	}
	if p := peak(); p > budget || p < 200<<10 {
		t.Fatalf("peak in use %d, want between 200KiB and the budget", p)
	}
	if v := metricValue(metricsText(t, sv.admin), "wasmward_body_budget_bytes"); v != 0 {
		t.Errorf("budget metric %v after the requests", v)
	}
}

// A client that does not read its response is dropped after
// response.write_timeout; while it holds its response buffer, other
// responses that cannot get budget are refused with 503 (before: 200
// clients that never read a 4 MB response held 846 MB).
func TestNonReadingClientDropped(t *testing.T) {
	// Larger than any loopback socket buffer the kernel would grant, so the
	// non-reader's response stays with the gateway.
	const out = 12<<20 - 100
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
request: {timeout: 10s, body_budget: 20MiB, body_budget_wait: 0}
response: {max_body: 12MiB, write_timeout: 300ms}
routes:
  - {route: /r, module: m.wasm}
`, exitOK("Content-Type: text/plain\n\n"+strings.Repeat("x", out-len("Content-Type: text/plain\n\n"))))
	peak := budgetWatch(sv.s)
	c := smallRecvConn(t, sv.pub)
	io.WriteString(c, "GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
	waitBudget(t, sv.s, func(v int64) bool { return v >= out-freeOutput }, "holding the unread response")
	start := time.Now()
	resp, err := http.Get("http://" + sv.pub + "/r")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("while the budget is held: %d, want 503", resp.StatusCode)
	}
	// The non-reader is dropped within write_timeout (plus scheduling).
	waitBudget(t, sv.s, func(v int64) bool { return v == 0 }, "freed after the write deadline")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("budget freed after %v", d)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, _ := io.Copy(io.Discard, c)
	if got >= out {
		t.Fatalf("the non-reading client got the whole response (%d bytes)", got)
	}
	resp, err = http.Get("http://" + sv.pub + "/r")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != int64(out-len("Content-Type: text/plain\n\n")) {
		t.Fatalf("after the drop: %d, %d bytes", resp.StatusCode, n)
	}
	if p := peak(); p > 20<<20 {
		t.Fatalf("peak in use %d over the budget", p)
	}
}

// The drain, step by step: /readyz 503 at once while requests are still
// served for drain_delay; then new connections are refused, a request on a
// kept-alive connection is answered with Connection: close, an in-flight
// run finishes, and the audit log ends with server_stop.
func TestDrainSequence(t *testing.T) {
	release := make(chan struct{})
	dir := t.TempDir()
	auditPath := dir + "/audit.jsonl"
	sv := serveFakeAudit(t, `
rate_limit: {requests_per_second: 0}
drain_delay: 400ms
shutdown_timeout: 5s
audit_log: `+auditPath+`
routes:
  - {route: /r, module: m.wasm}
  - {route: /slow, module: m.wasm}
`, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		for _, kv := range in.Env {
			if kv == "SCRIPT_NAME=/slow" {
				<-release
			}
		}
		io.WriteString(in.Stdout, "Content-Type: text/plain\n\nok")
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	})
	kept, br := keepAlive(t, sv.pub, nil)
	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get("http://" + sv.pub + "/slow")
		if err != nil {
			slow <- nil
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- resp
	}()
	waitInFlight(t, sv.s, 1)
	stopped := make(chan error, 1)
	go func() { stopped <- sv.stop() }()
	readyz := func() int {
		resp, err := http.Get("http://" + sv.admin + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for end := time.Now().Add(time.Second); readyz() != 503; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("/readyz never 503")
		}
	}
	// Within the drain delay: a new connection is still served, normally.
	if resp := doOnNew(t, sv.pub); resp == nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("during the drain delay: %v", resp)
	}
	time.Sleep(500 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", sv.pub, time.Second); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted after the drain delay")
	}
	if resp := doOn(t, kept, br, "/r"); resp == nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("kept-alive connection after the drain delay: %+v, want 200 with Connection: close", resp)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a run in flight", err)
	default:
	}
	close(release)
	if resp := <-slow; resp == nil || resp.StatusCode != 200 {
		t.Fatalf("in-flight request: %+v", resp)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("clean drain returned %v", err)
	}
	lastRecordIs(t, auditPath, "server_stop")
}

// Runs still going at the shutdown deadline are stopped, Serve says so, and
// nothing is recorded after server_stop.
func TestDrainDeadlineStopsRuns(t *testing.T) {
	dir := t.TempDir()
	auditPath := dir + "/audit.jsonl"
	stoppedRun := make(chan error, 1)
	sv := serveFakeAudit(t, `
rate_limit: {requests_per_second: 0}
drain_delay: 0
shutdown_timeout: 300ms
request: {timeout: 30s}
audit_log: `+auditPath+`
routes:
  - {route: /r, module: m.wasm}
`, func(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		<-ctx.Done()
		stoppedRun <- context.Cause(ctx)
		time.Sleep(100 * time.Millisecond) // judged after the connection closed
		return &sandbox.Report{Outcome: sandbox.OutcomeTrap, Trap: "late"}, nil
	})
	go http.Get("http://" + sv.pub + "/r")
	waitInFlight(t, sv.s, 1)
	start := time.Now()
	err := sv.stop()
	if err == nil || !strings.Contains(err.Error(), "still busy") {
		t.Fatalf("Serve: %v, want the forced-shutdown error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	select {
	case cause := <-stoppedRun:
		if !errors.Is(cause, errShutdown) && cause == nil {
			t.Fatalf("run stopped by %v", cause)
		}
	default:
		t.Fatal("the run was not stopped")
	}
	lastRecordIs(t, auditPath, "server_stop")
}

func doOnNew(t *testing.T, addr string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	return doOn(t, c, bufio.NewReader(c), "/r")
}

func waitInFlight(t *testing.T, s *Server, n int64) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); s.inflight.Load() != n; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("in flight %d, want %d", s.inflight.Load(), n)
		}
	}
}

func lastRecordIs(t *testing.T, path, typ string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `"type":"`+typ+`"`) {
		t.Fatalf("last audit record is not %s: %s\n(all: %s)", typ, last, b)
	}
	if n := strings.Count(string(b), `"type":"server_stop"`); n != 1 {
		t.Fatalf("%d server_stop records", n)
	}
}

// A stream_body route hands a declared-length body to the guest's stdin as
// it arrives: the guest reads the first half while the client still holds
// the second, and the body takes no body budget.
func TestStreamBodyToStdin(t *testing.T) {
	gotFirst := make(chan struct{})
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
request: {max_body: 1MiB, timeout: 5s, body_budget: 64KiB, body_budget_wait: 0}
routes:
  - {route: /s, module: m.wasm, stream_body: true}
`, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		if in.NonBlocking {
			return nil, errors.New("a streamed body must not run as NonBlocking")
		}
		buf := make([]byte, 256<<10)
		if _, err := io.ReadFull(in.Stdin, buf); err != nil {
			return nil, err
		}
		close(gotFirst)
		rest, _ := io.Copy(io.Discard, in.Stdin)
		var cl string
		for _, kv := range in.Env {
			if v, ok := strings.CutPrefix(kv, "CONTENT_LENGTH="); ok {
				cl = v
			}
		}
		fmt.Fprintf(in.Stdout, "Content-Type: text/plain\n\n%d %s", int64(len(buf))+rest, cl)
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	})
	peak := budgetWatch(sv.s)
	c, err := net.Dial("tcp", sv.pub)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 524288\r\n\r\n"+strings.Repeat("a", 256<<10))
	select {
	case <-gotFirst:
	case <-time.After(3 * time.Second):
		t.Fatal("the guest did not get the first half before the client sent the rest")
	}
	io.WriteString(c, strings.Repeat("b", 256<<10))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "524288 524288" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	// The 512KiB body went through with a 64KiB budget: nothing was
	// charged for it (the response's few bytes are).
	if p := peak(); p > 8<<10 {
		t.Fatalf("budget peak %d for a streamed body", p)
	}
}

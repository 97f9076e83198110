package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
)

// Chaos tests of `wasmward serve` as a real child process (the test binary
// re-executed as the CLI, see TestMain): signals, a broken log pipe, the
// process's own open-file limit.

// serveProc is a running `wasmward serve` child.
type serveProc struct {
	cmd        *exec.Cmd
	pub, admin string
	audit      string
	cfg        string // the configuration file
	done       chan struct{}
	stderr     *lockedBuffer // when not given a pipe
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe writes a configuration (cfg, plus an audit log and, when cfg
// has no routes, the hello route) and starts the CLI on it. wrap, when set, runs the CLI through
// `sh -c` with that shell prefix (for ulimit). stderr nil collects it.
func startServe(t *testing.T, cfg string, stderr *os.File, wrap string, extra ...string) *serveProc {
	t.Helper()
	dir := t.TempDir()
	p := &serveProc{pub: freePort(t), admin: freePort(t), audit: filepath.Join(dir, "audit.jsonl"), done: make(chan struct{})}
	cfgPath := filepath.Join(dir, "gw.yaml")
	yml := cfg + "\naudit_log: " + p.audit + "\n"
	if !strings.Contains(cfg, "routes:") {
		yml += "routes:\n  - route: /hello\n    module: " + fixture.Path(t, "gw_hello") + "\n"
	}
	p.cfg = cfgPath
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--config", cfgPath, "--listen", p.pub, "--admin-listen", p.admin}, extra...)
	if wrap != "" {
		p.cmd = exec.Command("/bin/sh", append([]string{"-c", wrap + ` && exec "$0" "$@"`, exe}, args...)...)
	} else {
		p.cmd = exec.Command(exe, args...)
	}
	p.cmd.Env = append(os.Environ(), "WASMWARD_TEST_CLI=1")
	if stderr != nil {
		p.cmd.Stderr = stderr
	} else {
		p.stderr = &lockedBuffer{}
		p.cmd.Stderr = p.stderr
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + p.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited early: %v\n%s", p.cmd.ProcessState, p.stderrText())
		default:
		}
		if time.Now().After(end) {
			t.Fatalf("serve never ready\n%s", p.stderrText())
		}
	}
	return p
}

func (p *serveProc) stderrText() string {
	if p.stderr == nil {
		return ""
	}
	return p.stderr.String()
}

func (p *serveProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code (-1 when a
// signal killed it).
func (p *serveProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("serve did not exit within %v\n%s", d, p.stderrText())
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *serveProc) hello(t *testing.T) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.pub + "/hello")
	if err != nil {
		t.Fatalf("GET /hello: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello from C\n" {
		t.Fatalf("GET /hello: %d %q", resp.StatusCode, b)
	}
}

// auditEndsWithStop checks the audit log: intact, one server_stop, last.
func (p *serveProc) auditEndsWithStop(t *testing.T) {
	t.Helper()
	if code, out, errOut := gwCLI(context.Background(), "audit", "verify", p.audit); code != 0 {
		t.Fatalf("audit verify: %d %s %s", code, out, errOut)
	}
	b, err := os.ReadFile(p.audit)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.Contains(lines[len(lines)-1], `"type":"server_stop"`) || strings.Count(string(b), `"type":"server_stop"`) != 1 {
		t.Fatalf("the audit log does not end with its one server_stop:\n%s", b)
	}
}

// SIGTERM under keep-alive load loses no request: every request fully sent
// gets its response (the last ones with Connection: close), /readyz goes
// 503 first, the process exits 0 and server_stop is the audit log's last
// record (before: 7-8 of 8 requests sent on idle keep-alive connections got
// no reply, and readiness flipped when the listener closed).
func TestServeSIGTERMUnderKeepAliveLoad(t *testing.T) {
	p := startServe(t, "rate_limit: {requests_per_second: 0}\ndrain_delay: 300ms\nshutdown_timeout: 5s", nil, "")
	const clients = 8
	var sent, answered, closing, lost atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range clients {
		c, err := net.Dial("tcp", p.pub)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			br := bufio.NewReader(c)
			for {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					return // not fully sent: not a lost request
				}
				sent.Add(1)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					lost.Add(1)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "hello from C\n" {
					lost.Add(1)
					return
				}
				answered.Add(1)
				if resp.Close {
					closing.Add(1)
					return // the server said it closes: a client moves on
				}
				select {
				case <-stop:
					return
				default:
				}
				// Idle a little now and then, like a real keep-alive client.
				if answered.Load()%7 == 0 {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(c)
	}
	time.Sleep(300 * time.Millisecond)
	p.signal(t, syscall.SIGTERM)
	// Readiness goes first, while the listener still accepts.
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 503 {
				break
			}
		}
		if time.Now().After(end) {
			t.Fatal("/readyz never 503 after SIGTERM")
		}
	}
	code := p.wait(t, 15*time.Second)
	close(stop)
	wg.Wait()
	t.Logf("sent %d, answered %d, closed by Connection: close %d", sent.Load(), answered.Load(), closing.Load())
	if lost.Load() != 0 || sent.Load() != answered.Load() {
		t.Fatalf("%d requests lost (sent %d, answered %d)\n%s", lost.Load(), sent.Load(), answered.Load(), p.stderrText())
	}
	if closing.Load() != clients {
		t.Errorf("%d of %d connections ended by Connection: close", closing.Load(), clients)
	}
	if code != 0 {
		t.Fatalf("exit %d after a clean drain\n%s", code, p.stderrText())
	}
	p.auditEndsWithStop(t)
}

// SIGHUP reloads the configuration (before: it killed the gateway with no
// stop record): an unchanged file changes nothing and the gateway goes on
// serving; SIGTERM still drains cleanly.
func TestServeSIGHUPReloads(t *testing.T) {
	p := startServe(t, "drain_delay: 0", nil, "")
	p.signal(t, syscall.SIGHUP)
	for end := time.Now().Add(5 * time.Second); !strings.Contains(p.stderrText(), "configuration reloaded"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no log line for the reload\n%s", p.stderrText())
		}
	}
	p.hello(t)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
	p.auditEndsWithStop(t)
}

// A broken stderr pipe does not kill the gateway: log writes fail with
// EPIPE and are dropped, requests are served, SIGTERM still drains cleanly
// (before: the next log line killed it with SIGPIPE).
func TestServeBrokenLogPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Debug level: every request writes an access log line.
	p := startServe(t, "drain_delay: 0\nrate_limit: {requests_per_second: 0}", w, "", "--log-level", "debug")
	w.Close()
	r.Close() // the log's reader is gone
	for range 20 {
		p.hello(t)
	}
	select {
	case <-p.done:
		t.Fatalf("serve died: %v", p.cmd.ProcessState)
	default:
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d (%v)", code, p.cmd.ProcessState)
	}
	p.auditEndsWithStop(t)
}

// Under a small open-file limit (ulimit -n 256, which the process cannot
// raise), a flood of idle connections and then of busy ones never takes the
// descriptors of the admin listener or the audit log: connections.max is
// lowered to fit, idle connections are evicted for new clients, busy ones
// past the limit are closed, /healthz answers throughout, and the public
// listener serves again once the flood lets go (before: EMFILE, and both
// listeners timed out).
func TestServeFDExhaustion(t *testing.T) {
	p := startServe(t, "drain_delay: 0\nrate_limit: {requests_per_second: 0}\nrequest: {timeout: 30s}", nil, "ulimit -n 256")
	if !strings.Contains(p.stderrText(), "connections.max lowered") {
		t.Fatalf("no warning about the lowered limit:\n%s", p.stderrText())
	}
	health := func(when string) {
		t.Helper()
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://" + p.admin + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: /healthz %v %v", when, resp, err)
		}
		resp.Body.Close()
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// 300 idle connections (more than the process could hold).
	for i := range 300 {
		c, err := net.DialTimeout("tcp", p.pub, 3*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	health("300 idle connections")
	p.hello(t)
	// 300 busy connections: half a request head each.
	for i := range 300 {
		c, err := net.DialTimeout("tcp", p.pub, 3*time.Second)
		if err != nil {
			t.Fatalf("dial busy %d: %v", i, err)
		}
		io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n")
		conns = append(conns, c)
	}
	health("300 busy connections")
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + p.pub + "/hello")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(end) {
			t.Fatalf("public listener did not recover: %v", err)
		}
	}
	m := fetch(t, "http://"+p.admin+"/metrics")
	if !strings.Contains(m, `wasmward_connections_refused_total{listener="public",reason="limit"}`) ||
		!strings.Contains(m, `wasmward_connections_evicted_total{reason="limit"}`) {
		t.Errorf("metrics lack refusals or evictions:\n%s", grepMetric(m, "wasmward_connections"))
	}
	if strings.Contains(p.stderrText(), "too many open files") {
		t.Errorf("the process ran out of descriptors:\n%s", p.stderrText())
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
	p.auditEndsWithStop(t)
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepMetric(text, prefix string) string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}

// vmHWM is the peak resident set of pid (Linux /proc), in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// 200 stalled uploads of 1MiB (900KiB sent each) raise the process's peak
// RSS by far less than their sum: the body budget (8MiB here) bounds what is
// buffered and the rest get 503 (before: 400 stalled 1MiB uploads held
// 1.35 GB). Non-reading clients: TestNonReadingClientDropped (gateway).
func TestServeMemoryUnderStalledClients(t *testing.T) {
	p := startServe(t, `drain_delay: 0
rate_limit: {requests_per_second: 0}
request: {max_body: 1MiB, timeout: 5s, body_budget: 8MiB, body_budget_wait: 100ms}
connections: {max_per_client: 1000}`, nil, "")
	base := vmHWM(t, p.cmd.Process.Pid)
	var wg sync.WaitGroup
	var conns sync.Map
	chunk := strings.Repeat("u", 900<<10)
	for i := range 200 {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", p.pub, 5*time.Second)
			if err != nil {
				return
			}
			conns.Store(i, c)
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"+chunk)
		}(i)
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	peak := vmHWM(t, p.cmd.Process.Pid)
	conns.Range(func(_, c any) bool { c.(net.Conn).Close(); return true })
	t.Logf("peak RSS %d MiB, before the flood %d MiB", peak>>20, base>>20)
	if grew := peak - base; grew > 96<<20 {
		t.Fatalf("peak RSS grew by %d MiB under 200 stalled uploads (180 MiB sent)", grew>>20)
	}
	// Once the uploads' connections are gone their budget comes back
	// (until then even a small response may get 503).
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + p.pub + "/hello")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(end) {
			t.Fatalf("not served after the flood: %v %v", resp, err)
		}
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderrText())
	}
}

// TestServeGCPacing: without GOGC in its environment serve sets the
// collector's target to 400; GOGC in the environment wins.
func TestServeGCPacing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	for _, tc := range []struct {
		name, wrap string
		want       float64
	}{
		{"default", "unset GOGC", 400},
		{"GOGC set", "export GOGC=150", 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startServe(t, "rate_limit: {requests_per_second: 0}\n", nil, tc.wrap)
			p.hello(t)
			v, err := strconv.ParseFloat(strings.TrimPrefix(grepMetric(fetch(t, "http://"+p.admin+"/metrics"), "go_gc_gogc_percent "), "go_gc_gogc_percent "), 64)
			if err != nil {
				t.Fatal(err)
			}
			if v != tc.want {
				t.Errorf("go_gc_gogc_percent %v, want %v", v, tc.want)
			}
		})
	}
}

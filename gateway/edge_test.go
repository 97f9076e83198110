package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Protocol edge tests over real loopback sockets, through Serve (the
// listener and connection layer included), with fake modules.

// served is a Server running Serve on loopback.
type served struct {
	s     *Server
	pub   string // host:port
	admin string
	logs  *syncBuffer
	stop  func() error
}

// serveFake builds a fake-module server from yml and serves it.
func serveFake(t *testing.T, yml string, fn func(context.Context, sandbox.Invocation) (*sandbox.Report, error)) *served {
	t.Helper()
	return serveFakeAudit(t, yml, fn)
}

// serveFakeAudit is serveFake that also opens the configuration's audit
// log (closed after the server stops).
func serveFakeAudit(t *testing.T, yml string, fn func(context.Context, sandbox.Invocation) (*sandbox.Report, error)) *served {
	t.Helper()
	if !strings.Contains(yml, "drain_delay:") {
		yml = "drain_delay: 0\n" + yml
	}
	cfg, err := ParseConfig([]byte(yml), "test.yaml", func(string) ([]byte, error) { return []byte("\x00asm"), nil }, "")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	var al *audit.Log
	if cfg.AuditLog != "" {
		if al, err = audit.OpenOptions(cfg.AuditLog, cfg.Audit); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { al.Close() })
	}
	s, err := New(context.Background(), cfg, Options{
		Audit:  al,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		compile: func(context.Context, []byte, policy.Policy) (module, error) {
			return &fakeModule{run: fn}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return serveServer(t, s, logs)
}

func serveServer(t *testing.T, s *Server, logs *syncBuffer) *served {
	t.Helper()
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pub, adm) }()
	var once sync.Once
	var serr error
	sv := &served{s: s, pub: pub.Addr().String(), admin: adm.Addr().String(), logs: logs}
	sv.stop = func() error {
		once.Do(func() {
			cancel()
			serr = <-done
		})
		return serr
	}
	t.Cleanup(func() { sv.stop() })
	return sv
}

// rawExchange writes req on a fresh connection and reads until the server
// closes it or wait passes. closed reports whether the server closed it.
func rawExchange(t *testing.T, addr, req string, wait time.Duration) (out string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	var ne net.Error
	timedOut := err != nil && errorAs(err, &ne) && ne.Timeout()
	return string(b), !timedOut
}

func errorAs(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// runRecorder is a fake guest that records each run's environment and
// answers 200 "ok".
type runRecorder struct {
	mu   sync.Mutex
	envs [][]string
}

func (rr *runRecorder) run(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
	rr.mu.Lock()
	rr.envs = append(rr.envs, append([]string(nil), in.Env...))
	rr.mu.Unlock()
	io.WriteString(in.Stdout, "Content-Type: text/plain\n\nok")
	return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
}

func (rr *runRecorder) runs() [][]string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([][]string(nil), rr.envs...)
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

const edgeCfg = `
rate_limit: {requests_per_second: 0}
request: {timeout: 2s}
routes:
  - {route: /r, module: m.wasm}
  - {route: /p/..., module: m.wasm, pass_headers: [cookie, user-agent]}
`

// RFC 9112 6.1: an HTTP/1.0 request with Transfer-Encoding is refused with
// 400 and the connection closed (before: net/http dropped the field, framed
// the body by Content-Length and served the request hidden in the chunk
// data on the same keep-alive connection).
func TestHTTP10TransferEncodingRefused(t *testing.T) {
	rr := &runRecorder{}
	sv := serveFake(t, edgeCfg, rr.run)
	smuggled := "GET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, req string
	}{
		{"TE and CL", "POST /r HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
		{"TE without CL", "POST /r HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"lower-case TE, CL 0", "POST /r HTTP/1.0\r\nConnection: keep-alive\r\ntransfer-encoding: identity\r\nContent-Length: 0\r\n\r\n" + smuggled},
		{"GET with TE, LF line ends", "GET /r HTTP/1.0\nConnection: keep-alive\nTransfer-Encoding: chunked\nContent-Length: 0\n\n" + smuggled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rr.runs())
			out, closed := rawExchange(t, sv.pub, tc.req, 3*time.Second)
			if !strings.HasPrefix(out, "HTTP/1.0 400 ") || strings.Count(out, "HTTP/1.") != 1 ||
				!strings.Contains(out, "\r\nConnection: close\r\n") || !closed {
				t.Fatalf("want one 400 with Connection: close and the connection closed (closed=%v), got:\n%s", closed, out)
			}
			if n := len(rr.runs()) - before; n != 0 {
				t.Fatalf("%d guest runs, want none", n)
			}
		})
	}
	// HTTP/1.0 keep-alive without Transfer-Encoding still works: two
	// pipelined requests, two answers.
	out, _ := rawExchange(t, sv.pub, "POST /r HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"+
		"GET /r HTTP/1.0\r\n\r\n", 3*time.Second)
	if strings.Count(out, "HTTP/1.0 200 ") != 2 {
		t.Fatalf("keep-alive HTTP/1.0 without TE: %s", out)
	}
}

func TestHeadScanner(t *testing.T) {
	for _, tc := range []struct {
		chunks []string
		want   bool
	}{
		{[]string{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"}, true},
		{[]string{"POST / HTT", "P/1.0\r\nTransfer-Enc", "oding: chunked\r\n\r\n"}, true},
		{[]string{"POST / HTTP/1.0\r\nX: 1\r\n\r\nTransfer-Encoding: chunked\r\n"}, false}, // after the head
		{[]string{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"}, false},
		{[]string{"POST /" + strings.Repeat("a", 5000) + " HTTP/1.0\r\n", "TRANSFER-ENCODING:x\r\n\r\n"}, true},
		{[]string{"X-A: GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"}, false},
	} {
		var s headScanner
		got := false
		for _, c := range tc.chunks {
			got = s.feed([]byte(c)) || got
		}
		if got != tc.want {
			t.Errorf("%q: %v, want %v", tc.chunks, got, tc.want)
		}
	}
}

var requestIDRE = regexp.MustCompile(`^[0-9a-f]{24}$`)

// net/http's own replies (unreadable request line, header block over the
// cap, unknown transfer coding, unsupported Expect) and OPTIONS * carry the
// security headers, Cache-Control: no-store and a request ID (before: none).
func TestEarlyRepliesCarrySecurityHeaders(t *testing.T) {
	rr := &runRecorder{}
	sv := serveFake(t, strings.Replace(edgeCfg, "request: {timeout: 2s}", "request: {timeout: 2s, max_header_bytes: 1KiB}", 1), rr.run)
	for _, tc := range []struct {
		name, req, status string
	}{
		{"bad request line", "GARBAGE\r\n\r\n", "400"},
		{"bad header line", "GET /r HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", "400"},
		{"header block too large", "GET /r HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 4<<10) + "\r\n\r\n", "431"},
		{"unknown transfer coding", "POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
		{"unsupported Expect", "POST /r HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", "417"},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := rawExchange(t, sv.pub, tc.req, 3*time.Second)
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
			if err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			if got := resp.Status[:3]; got != tc.status {
				t.Fatalf("status %s, want %s: %q", resp.Status, tc.status, out)
			}
			h := resp.Header
			for k, v := range DefaultSecurityHeaders() {
				if h.Get(k) != v {
					t.Errorf("%s: %q, want %q (%q)", k, h.Get(k), v, out)
				}
			}
			if id := h.Values("X-Request-Id"); len(id) != 1 || !requestIDRE.MatchString(id[0]) {
				t.Errorf("X-Request-Id %q", id)
			}
			if tc.status != "200" && h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", h.Get("Cache-Control"))
			}
		})
	}
	if n := len(rr.runs()); n != 0 {
		t.Fatalf("%d guest runs, want none", n)
	}
}

// CONNECT and TRACE are refused with 405 unless a route names them (before:
// CONNECT in authority form reached a catch-all route and got a 200 with a
// body).
func TestConnectAndTraceRefused(t *testing.T) {
	rr := &runRecorder{}
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
routes:
  - {route: /..., module: m.wasm}
  - {route: /trace, module: m.wasm, methods: [TRACE]}
`, rr.run)
	for _, tc := range []struct {
		name, req, status, allow string
		close                    bool
	}{
		{"CONNECT authority form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "405", defaultAllow, true},
		{"CONNECT to a path", "CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", "405", defaultAllow, true},
		{"TRACE on the catch-all", "TRACE /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "405", defaultAllow, true},
		{"TRACE on a route naming it", "TRACE /trace HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "200", "", true},
		{"GET on a route naming only TRACE", "GET /trace HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "405", "TRACE", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rr.runs())
			out, closed := rawExchange(t, sv.pub, tc.req, 3*time.Second)
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
			if err != nil {
				t.Fatalf("%v: %q", err, out)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.Status[:3] != tc.status || resp.Header.Get("Allow") != tc.allow || closed != tc.close {
				t.Fatalf("got %s Allow %q closed %v, want %s %q %v:\n%s", resp.Status, resp.Header.Get("Allow"), closed, tc.status, tc.allow, tc.close, out)
			}
			ran := len(rr.runs()) - before
			if tc.status == "405" && (ran != 0 || strings.Contains(string(b), "ok")) {
				t.Fatalf("guest ran %d times, body %q", ran, b)
			}
		})
	}
}

// CGI variables: X_RAW_PATH_INFO when the route's part is percent-encoded,
// HTTP_COOKIE joined with "; " (RFC 6265 5.4), CONTENT_LENGTH only with a
// body (RFC 3875 4.1.2), REMOTE_ADDR from a trusted proxy's
// X-Forwarded-For entry with a port.
func TestCGIVariablesEdgeCases(t *testing.T) {
	rr := &runRecorder{}
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
trusted_proxies: [127.0.0.1]
routes:
  - {route: /echo/..., module: m.wasm, pass_headers: [cookie]}
`, rr.run)
	for _, tc := range []struct {
		name, req string
		want      map[string]string // "" value: must be absent
	}{
		{"encoded route part", "GET /%65cho/a%2Fb/%7e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			map[string]string{"PATH_INFO": "/a/b/~", "X_RAW_PATH_INFO": "/a%2Fb/%7e", "CONTENT_LENGTH": ""}},
		{"plain route part", "GET /echo/a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			map[string]string{"PATH_INFO": "/a b", "X_RAW_PATH_INFO": "/a%20b"}},
		{"cookies joined", "GET /echo/ HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2; c=3\r\nConnection: close\r\n\r\n",
			map[string]string{"HTTP_COOKIE": "a=1; b=2; c=3"}},
		{"no body: no CONTENT_LENGTH", "POST /echo/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			map[string]string{"CONTENT_LENGTH": ""}},
		{"body", "POST /echo/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
			map[string]string{"CONTENT_LENGTH": "3"}},
		{"empty chunked body", "POST /echo/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
			map[string]string{"CONTENT_LENGTH": "0"}},
		{"XFF entry with a port", "GET /echo/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7:4711\r\nConnection: close\r\n\r\n",
			map[string]string{"REMOTE_ADDR": "203.0.113.7"}},
		{"XFF IPv6 entry with a port", "GET /echo/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1, [2001:db8::5]:443\r\nConnection: close\r\n\r\n",
			map[string]string{"REMOTE_ADDR": "2001:db8::5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rr.runs())
			out, _ := rawExchange(t, sv.pub, tc.req, 3*time.Second)
			runs := rr.runs()
			if !strings.HasPrefix(out, "HTTP/1.1 200 ") || len(runs) != before+1 {
				t.Fatalf("%q", out)
			}
			env := envMap(runs[before])
			for k, v := range tc.want {
				got, ok := env[k]
				if v == "" && ok {
					t.Errorf("%s=%q set, want unset", k, got)
				}
				if v != "" && got != v {
					t.Errorf("%s=%q, want %q", k, got, v)
				}
			}
		})
	}
}

// Guest response headers an edge proxy or the server acts on are dropped,
// one Content-Type is kept (an empty one falls back to octet-stream), and a
// 205 carries no body (before: all were forwarded, and a 205 body was sent).
func TestGuestResponseEdgeHeaders(t *testing.T) {
	out := map[string]string{
		"/r/edge":   "Content-Type: text/plain\nContent-Type: text/html\nX-Accel-Redirect: /internal\nX-Sendfile: /etc/passwd\nAlt-Svc: h3=\":1\"\nServer: guest\nDate: Thu, 01 Jan 1970 00:00:00 GMT\n\n<b>x</b>",
		"/r/empty":  "Content-Type:\n\n<b>x</b>",
		"/r/205":    "Status: 205\nContent-Type: text/plain\n\nbody that must not be sent",
		"/r/second": "Content-Type: text/plain\n\nsecond",
	}
	sv := serveFake(t, `
rate_limit: {requests_per_second: 0}
routes:
  - {route: /r/..., module: m.wasm}
`, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		for _, kv := range in.Env {
			if p, ok := strings.CutPrefix(kv, "PATH_INFO="); ok {
				io.WriteString(in.Stdout, out["/r"+p])
			}
		}
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	})
	c, err := net.Dial("tcp", sv.pub)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	get := func(path string) (*http.Response, string) {
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/r/edge")
	h := resp.Header
	if ct := h.Values("Content-Type"); len(ct) != 1 || ct[0] != "text/plain" || body != "<b>x</b>" {
		t.Errorf("Content-Type %q body %q", ct, body)
	}
	for _, k := range []string{"X-Accel-Redirect", "X-Sendfile", "Alt-Svc", "Server"} {
		if v := h.Values(k); len(v) != 0 {
			t.Errorf("%s forwarded: %q", k, v)
		}
	}
	if d := h.Values("Date"); len(d) != 1 || strings.Contains(d[0], "1970") {
		t.Errorf("Date %q", d)
	}
	resp, _ = get("/r/empty")
	if ct := resp.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/octet-stream" {
		t.Errorf("empty Content-Type: %q", ct)
	}
	// The 205's bytes on the wire: Content-Length 0 and nothing after the
	// head, so the next response on the connection is read intact.
	resp, body = get("/r/205")
	if resp.StatusCode != 205 || resp.ContentLength != 0 || body != "" {
		t.Errorf("205: length %d body %q", resp.ContentLength, body)
	}
	if resp, body = get("/r/second"); resp.StatusCode != 200 || body != "second" {
		t.Errorf("after the 205: %d %q", resp.StatusCode, body)
	}
}

// Request IDs are 96 random bits: unique, and consecutive ones share no
// counter (before: a per-process prefix and a sequence number).
func TestRequestIDsAreRandom(t *testing.T) {
	sv := serveFake(t, edgeCfg, exitOK("Content-Type: text/plain\n\nok"))
	seen := map[string]bool{}
	prev := ""
	for range 50 {
		resp, err := http.Get("http://" + sv.pub + "/r")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(id) || seen[id] {
			t.Fatalf("request ID %q (repeat: %v)", id, seen[id])
		}
		if prev != "" && id[:8] == prev[:8] {
			t.Fatalf("consecutive IDs %q and %q share a prefix", prev, id)
		}
		seen[id], prev = true, id
	}
}

package sandbox_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// testResolver answers names from a table; a name with several answers
// gives the next one at each lookup (the last one from then on).
type testResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   map[string]int
}

func (r *testResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	i := min(r.calls[host], len(a)-1)
	r.calls[host]++
	var out []net.IPAddr
	for _, s := range strings.Split(a[i], ",") {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

// netServer is a loopback HTTP server that counts the connections it
// accepts.
type netServer struct {
	*httptest.Server
	conns atomic.Int64
	port  string
	seen  atomic.Pointer[http.Request]
	body  atomic.Pointer[string]
}

func newNetServer(t *testing.T, tls bool) *netServer {
	s := &netServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bs := string(b)
		s.seen.Store(r)
		s.body.Store(&bs)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("X-Token"), b)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 1<<16)
		for i := 0; i < 16; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("y", 1<<16))
		for i := 0; i < 512; i++ { // 32 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	s.Server = httptest.NewUnstartedServer(mux)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	_, s.port, _ = net.SplitHostPort(s.Listener.Addr().String())
	return s
}

func netPolicy(rules ...policy.HTTPRule) policy.Policy {
	p := policy.Default()
	p.Limits.Timeout = policy.Duration(5 * time.Second)
	p.Capabilities.Network.HTTP = rules
	return p
}

func netRuntime(t *testing.T, r sandbox.Resolver) *sandbox.Runtime {
	t.Helper()
	rt, err := sandbox.New(context.Background(), sandbox.NewConfig().WithResolver(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

func denialReasons(rep *sandbox.Report) string {
	if rep.Network == nil {
		return ""
	}
	var out []string
	for _, d := range rep.Network.Denials {
		out = append(out, d.Reason+": "+d.Detail)
	}
	return strings.Join(out, "; ")
}

// TestNetAllowed: a request the policy allows works from a C and a Go
// guest, and the report counts it per host.
func TestNetAllowed(t *testing.T) {
	srv := newNetServer(t, false)
	res := &testResolver{answers: map[string][]string{"api.test": {"127.0.0.1"}}}
	rt := netRuntime(t, res)
	p := netPolicy(policy.HTTPRule{URL: "http://api.test:" + srv.port + "/", Methods: []string{"GET", "POST"}, AllowPrivate: true})
	url := "http://api.test:" + srv.port + "/hello"
	for _, tc := range []struct {
		fixture, stdout, stderr string
	}{
		{"net_fetch", "hello", "status=200 content-type=text/plain bytes=5\n"},
		{"net_go", "status 200\nhello", ""},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			m := compile(t, rt, tc.fixture, p)
			r := run(t, m, sandbox.Invocation{Args: []string{url}})
			if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 || r.stdout != tc.stdout || r.stderr != tc.stderr {
				t.Fatalf("outcome %s exit %d violation %v\nstdout %q\nstderr %q", r.rep.Outcome, r.rep.ExitCode, r.rep.Violation, r.stdout, r.stderr)
			}
			n := r.rep.Network
			if n == nil || n.Requests != 1 || n.ResponseBytes != 5 || n.Hosts["api.test"] == nil ||
				n.Hosts["api.test"].Requests != 1 || n.Hosts["api.test"].ResponseBytes != 5 || len(n.Denials) != 0 {
				t.Fatalf("network report %+v", n)
			}
			if r.rep.HostCalls["wasi_experimental_http.req"] != 1 || r.rep.HostCalls["wasi_experimental_http.body_read"] < 2 {
				t.Fatalf("host calls %v", r.rep.HostCalls)
			}
		})
	}
	// Method, headers and body reach the server.
	m := compile(t, rt, "net_fetch", p)
	r := run(t, m, sandbox.Invocation{Args: []string{"-X", "POST", "-H", "x-token:abc", "-d", "payload", "http://api.test:" + srv.port + "/echo"}})
	if r.rep.ExitCode != 0 || r.stdout != "POST abc payload" {
		t.Fatalf("echo: exit %d stdout %q stderr %q", r.rep.ExitCode, r.stdout, r.stderr)
	}
	if got := r.rep.Network.RequestBytes; got != uint64(len("http://api.test:"+srv.port+"/echo")+len("POST")+len("x-token:abc\n")+len("payload")) {
		t.Fatalf("request bytes %d", got)
	}
}

// TestNetImportNeedsGrant: without capabilities.network.http the imports
// are refused at load, whatever the import patterns say.
func TestNetImportNeedsGrant(t *testing.T) {
	rt := newRuntime(t)
	p := policy.Default()
	p.Capabilities.Imports = []string{"*"}
	_, err := rt.Compile(context.Background(), fixture.Bytes(t, "net_fetch"), p)
	var ref *sandbox.Refusal
	if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindImportDenied ||
		!strings.Contains(ref.Violation.Detail, "wasi_experimental_http.") || !strings.Contains(ref.Violation.Detail, "grants no network access") {
		t.Fatalf("err = %v", err)
	}
}

// TestNetDenied: host, port, scheme, method, framing headers and private
// addresses in every spelling are refused with the ABI's error, audited
// with the reason, and never reach the server.
func TestNetDenied(t *testing.T) {
	srv := newNetServer(t, false)
	other := newNetServer(t, false)
	res := &testResolver{answers: map[string][]string{
		"api.test":      {"127.0.0.1"},
		"other.test":    {"127.0.0.1"},
		"metadata.test": {"169.254.169.254"},
		"mapped.test":   {"::ffff:10.1.2.3"},
		"mixed.test":    {"93.184.216.34,127.0.0.1"},
		"ula.test":      {"fd00::1"},
		"cgnat.test":    {"100.64.0.1"},
	}}
	rt := netRuntime(t, res)
	port := srv.port
	p := netPolicy(
		policy.HTTPRule{URL: "http://api.test:" + port + "/", AllowPrivate: true},
		policy.HTTPRule{URL: "http://127.0.0.1:" + port + "/"},
		policy.HTTPRule{URL: "http://[::1]:" + port + "/"},
		policy.HTTPRule{URL: "http://metadata.test:" + port + "/"},
		policy.HTTPRule{URL: "http://mapped.test:" + port + "/"},
		policy.HTTPRule{URL: "http://mixed.test:" + port + "/"},
		policy.HTTPRule{URL: "http://ula.test:" + port + "/"},
		policy.HTTPRule{URL: "http://cgnat.test:" + port + "/"},
	)
	m := compile(t, rt, "net_fetch", p)
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		reason string
		detail string
	}{
		{"host", []string{"http://other.test:" + port + "/hello"}, 7, "not_allowed", "http://other.test:" + port + " is not in capabilities.network.http"},
		{"port", []string{"http://api.test:" + other.port + "/hello"}, 7, "not_allowed", "is not in capabilities.network.http"},
		{"scheme https", []string{"https://api.test:" + port + "/hello"}, 7, "not_allowed", "is not in capabilities.network.http"},
		{"scheme file", []string{"file:///etc/passwd"}, 10, "", ""},
		{"scheme gopher", []string{"gopher://api.test:" + port + "/"}, 7, "not_allowed", "scheme gopher is not allowed"},
		{"method", []string{"-X", "DELETE", "http://api.test:" + port + "/hello"}, 7, "not_allowed", "method DELETE is not allowed"},
		{"method CONNECT", []string{"-X", "CONNECT", "http://api.test:" + port + "/hello"}, 7, "not_allowed", "never allowed"},
		{"invalid method", []string{"-X", "GE T", "http://api.test:" + port + "/hello"}, 8, "", ""},
		{"credentials", []string{"http://u:p@api.test:" + port + "/hello"}, 10, "", ""},
		{"dot segments", []string{"http://api.test:" + port + "/a/../hello"}, 10, "", ""},
		{"loopback literal", []string{"http://127.0.0.1:" + port + "/hello"}, 7, "private_address", "127.0.0.1 is loopback"},
		{"IPv6 loopback", []string{"http://[::1]:" + port + "/hello"}, 7, "private_address", "::1 is loopback"},
		{"decimal", []string{"http://2130706433:" + port + "/hello"}, 7, "private_address", "numeric spelling of 127.0.0.1"},
		{"octal", []string{"http://0177.0.0.1:" + port + "/hello"}, 7, "private_address", "numeric spelling of 127.0.0.1"},
		{"hex", []string{"http://0x7f000001:" + port + "/hello"}, 7, "private_address", "numeric spelling of 127.0.0.1"},
		{"hex dotted", []string{"http://0x7f.0.0.1:" + port + "/hello"}, 7, "private_address", "numeric spelling of 127.0.0.1"},
		{"short", []string{"http://127.1:" + port + "/hello"}, 7, "private_address", "numeric spelling of 127.0.0.1"},
		{"IPv4-mapped", []string{"http://[::ffff:127.0.0.1]:" + port + "/hello"}, 7, "private_address", "127.0.0.1 is loopback"},
		{"IPv4-mapped hex", []string{"http://[::ffff:7f00:1]:" + port + "/hello"}, 7, "private_address", "127.0.0.1 is loopback"},
		{"IPv4-compatible", []string{"http://[::127.0.0.1]:" + port + "/hello"}, 7, "not_allowed", "is not in capabilities.network.http"},
		{"metadata by name", []string{"http://metadata.test:" + port + "/latest/meta-data/"}, 7, "private_address", "metadata.test resolves to 169.254.169.254, link-local (cloud metadata)"},
		{"mapped by name", []string{"http://mapped.test:" + port + "/"}, 7, "private_address", "mapped.test resolves to 10.1.2.3, private (RFC 1918)"},
		{"mixed answer", []string{"http://mixed.test:" + port + "/"}, 7, "private_address", "resolves to 127.0.0.1, loopback"},
		{"ULA", []string{"http://ula.test:" + port + "/"}, 7, "private_address", "fd00::1, unique local"},
		{"CGNAT", []string{"http://cgnat.test:" + port + "/"}, 7, "private_address", "100.64.0.1, carrier-grade NAT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.conns.Load() + other.conns.Load()
			r := run(t, m, sandbox.Invocation{Args: tc.args})
			if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != tc.exit {
				t.Fatalf("outcome %s exit %d, want %d (stderr %q, denials %s)", r.rep.Outcome, r.rep.ExitCode, tc.exit, r.stderr, denialReasons(r.rep))
			}
			if got := srv.conns.Load() + other.conns.Load(); got != before {
				t.Fatalf("the server accepted %d connections", got-before)
			}
			if tc.reason == "" {
				return
			}
			n := r.rep.Network
			if n == nil || len(n.Denials) != 1 || n.Denials[0].Reason != tc.reason || !strings.Contains(n.Denials[0].Detail, tc.detail) || n.Denied[tc.reason] != 1 {
				t.Fatalf("denials %s, want %s: %s", denialReasons(r.rep), tc.reason, tc.detail)
			}
			if strings.Contains(n.Denials[0].Detail, "/hello") || strings.Contains(n.Denials[0].Detail, "meta-data") {
				t.Fatalf("a denial names the path: %s", n.Denials[0].Detail)
			}
		})
	}
}

// TestNetFramingHeaders: the guest cannot set the headers that frame the
// message or steer the connection.
func TestNetFramingHeaders(t *testing.T) {
	srv := newNetServer(t, false)
	rt := netRuntime(t, &testResolver{answers: map[string][]string{"api.test": {"127.0.0.1"}}})
	m := compile(t, rt, "net_fetch", netPolicy(policy.HTTPRule{URL: "http://api.test:" + srv.port + "/", AllowPrivate: true, Methods: []string{"POST"}}))
	for _, h := range []string{"Host:evil.test", "host:evil.test", "Transfer-Encoding:chunked", "Content-Length:0", "Connection:close",
		"Upgrade:websocket", "TE:trailers", "Trailer:x", "Proxy-Authorization:Basic eA==", "Keep-Alive:1", "x-ok:a\rb", "bad name:x"} {
		before := srv.conns.Load()
		r := run(t, m, sandbox.Invocation{Args: []string{"-X", "POST", "-H", h, "-d", "x", "http://api.test:" + srv.port + "/echo"}})
		if r.rep.ExitCode != 9 || srv.conns.Load() != before {
			t.Errorf("header %q: exit %d (want 9, invalid_encoding), connections %d", h, r.rep.ExitCode, srv.conns.Load()-before)
		}
	}
}

// TestNetRedirects: every hop is checked against the rules and the address
// rules; the number of hops is bounded.
func TestNetRedirects(t *testing.T) {
	srv := newNetServer(t, false)
	res := &testResolver{answers: map[string][]string{"api.test": {"127.0.0.1"}, "evil.test": {"127.0.0.1"}}}
	rt := netRuntime(t, res)
	port := srv.port
	p := netPolicy(
		policy.HTTPRule{URL: "http://api.test:" + port + "/", AllowPrivate: true},
		policy.HTTPRule{URL: "http://127.0.0.1:" + port + "/"}, // listed, but private addresses are denied
	)
	p.Limits.Network.Redirects = 2
	m := compile(t, rt, "net_fetch", p)
	base := "http://api.test:" + port
	for _, tc := range []struct {
		name   string
		to     string
		exit   int
		stdout string
		reason string
		detail string
	}{
		{"allowed hop", base + "/hello", 0, "hello", "", ""},
		{"disallowed host", "http://evil.test:" + port + "/hello", 7, "", "redirect", "redirect target: http://evil.test:" + port + " is not in capabilities.network.http"},
		{"private address", "http://127.0.0.1:" + port + "/hello", 7, "", "redirect", "redirect target: 127.0.0.1 is loopback"},
		{"decimal private", "http://2130706433:" + port + "/hello", 7, "", "redirect", "numeric spelling of 127.0.0.1"},
		{"scheme", "file:///etc/passwd", 7, "", "redirect", "redirect target"},
		{"too many", base + "/redirect?to=" + base + "/redirect?to=" + base + "/hello", 11, "", "redirect", "more than 2 redirects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, m, sandbox.Invocation{Args: []string{base + "/redirect?to=" + tc.to}})
			if r.rep.ExitCode != tc.exit || r.stdout != tc.stdout {
				t.Fatalf("exit %d stdout %q stderr %q denials %s", r.rep.ExitCode, r.stdout, r.stderr, denialReasons(r.rep))
			}
			if tc.reason == "" {
				return
			}
			d := r.rep.Network.Denials
			if len(d) != 1 || d[0].Reason != tc.reason || !strings.Contains(d[0].Detail, tc.detail) {
				t.Fatalf("denials %s, want %s: %s", denialReasons(r.rep), tc.reason, tc.detail)
			}
		})
	}
}

// TestNetBudgets: the response budget stops the body at exactly its size;
// the request budget refuses the request after the last allowed one.
func TestNetBudgets(t *testing.T) {
	srv := newNetServer(t, false)
	rt := netRuntime(t, &testResolver{answers: map[string][]string{"api.test": {"127.0.0.1"}}})
	p := netPolicy(policy.HTTPRule{URL: "http://api.test:" + srv.port + "/", AllowPrivate: true})
	p.Limits.Network.ResponseBytes = 100000
	p.Limits.Network.Requests = 2
	m := compile(t, rt, "net_fetch", p)

	r := run(t, m, sandbox.Invocation{Args: []string{"http://api.test:" + srv.port + "/big"}})
	if r.rep.ExitCode != 111 || len(r.stdout) != 100000 || r.rep.Network.ResponseBytes != 100000 {
		t.Fatalf("big: exit %d (want 111: body_read request_error), %d bytes delivered, report %d", r.rep.ExitCode, len(r.stdout), r.rep.Network.ResponseBytes)
	}
	if d := r.rep.Network.Denials; len(d) != 1 || d[0].Reason != "budget" || !strings.Contains(d[0].Detail, "100000 response bytes") {
		t.Fatalf("denials %s", denialReasons(r.rep))
	}
	r = run(t, m, sandbox.Invocation{Args: []string{"-n", "3", "http://api.test:" + srv.port + "/hello"}})
	if r.rep.ExitCode != 13 || r.stdout != "hellohello" || r.rep.Network.Requests != 2 || r.rep.Network.Denied["budget"] != 1 {
		t.Fatalf("requests: exit %d stdout %q report %+v", r.rep.ExitCode, r.stdout, r.rep.Network)
	}
	// Responses left open count against the open-response bound.
	p.Limits.Network.Requests = 20
	m = compile(t, rt, "net_fetch", p)
	r = run(t, m, sandbox.Invocation{Args: []string{"-k", "-n", "9", "http://api.test:" + srv.port + "/hello"}})
	if r.rep.ExitCode != 13 || r.rep.Network.Requests != 8 {
		t.Fatalf("open responses: exit %d report %+v", r.rep.ExitCode, r.rep.Network)
	}
}

// TestNetDeadline: a server that never answers holds the guest no longer
// than the run's deadline (a timeout violation) or the request timeout (an
// error the guest sees), measured on the real clock.
func TestNetDeadline(t *testing.T) {
	srv := newNetServer(t, false)
	rt := netRuntime(t, &testResolver{answers: map[string][]string{"api.test": {"127.0.0.1"}}})
	url := "http://api.test:" + srv.port + "/slow"

	p := netPolicy(policy.HTTPRule{URL: "http://api.test:" + srv.port + "/", AllowPrivate: true})
	p.Limits.Timeout = policy.Duration(time.Second)
	r := run(t, compile(t, rt, "net_fetch", p), sandbox.Invocation{Args: []string{url}})
	if r.rep.Outcome != sandbox.OutcomeViolation || r.rep.Violation.Kind != sandbox.KindTimeout {
		t.Fatalf("run deadline: outcome %s %v", r.rep.Outcome, r.rep.Violation)
	}
	if r.elapsed < time.Second || r.elapsed > time.Second+marginLoop {
		t.Fatalf("run deadline of 1s: returned after %s", r.elapsed)
	}

	p.Limits.Timeout = policy.Duration(10 * time.Second)
	p.Limits.Network.RequestTimeout = policy.Duration(300 * time.Millisecond)
	r = run(t, compile(t, rt, "net_fetch", p), sandbox.Invocation{Args: []string{url}})
	if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 11 {
		t.Fatalf("request timeout: outcome %s exit %d %v", r.rep.Outcome, r.rep.ExitCode, r.rep.Violation)
	}
	if r.elapsed < 300*time.Millisecond || r.elapsed > 300*time.Millisecond+marginLoop {
		t.Fatalf("request timeout of 300ms: returned after %s", r.elapsed)
	}
}

// TestNetTLS: https verifies the server against the system roots plus the
// operator's CA file, and never without verification.
func TestNetTLS(t *testing.T) {
	srv := newNetServer(t, true)
	rt := netRuntime(t, &testResolver{answers: map[string][]string{"example.com": {"127.0.0.1"}}})
	url := "https://example.com:" + srv.port + "/hello"
	p := netPolicy(policy.HTTPRule{URL: "https://example.com:" + srv.port + "/", AllowPrivate: true})

	r := run(t, compile(t, rt, "net_fetch", p), sandbox.Invocation{Args: []string{url}})
	if r.rep.ExitCode != 11 || srv.conns.Load() != 1 {
		t.Fatalf("unknown CA: exit %d (want 11), connections %d", r.rep.ExitCode, srv.conns.Load())
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Capabilities.Network.CAFile = ca
	r = run(t, compile(t, rt, "net_fetch", p), sandbox.Invocation{Args: []string{url}})
	if r.rep.ExitCode != 0 || r.stdout != "hello" {
		t.Fatalf("operator CA: exit %d stdout %q stderr %q", r.rep.ExitCode, r.stdout, r.stderr)
	}
	// A name the certificate does not carry fails verification.
	res := &testResolver{answers: map[string][]string{"other.example": {"127.0.0.1"}}}
	p.Capabilities.Network.HTTP = []policy.HTTPRule{{URL: "https://other.example:" + srv.port + "/", AllowPrivate: true}}
	r = run(t, compile(t, netRuntime(t, res), "net_fetch", p), sandbox.Invocation{Args: []string{"https://other.example:" + srv.port + "/hello"}})
	if r.rep.ExitCode != 11 {
		t.Fatalf("wrong name: exit %d", r.rep.ExitCode)
	}
	// A CA file that does not exist is the host's error at compile.
	p.Capabilities.Network.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := rt.Compile(context.Background(), fixture.Bytes(t, "net_fetch"), p); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("missing CA file: %v", err)
	}
}

// TestNetStreams: a 32 MiB body goes from the connection into guest memory
// without the host holding it: the host allocates a small fraction of it.
func TestNetStreams(t *testing.T) {
	srv := newNetServer(t, false)
	rt := netRuntime(t, &testResolver{answers: map[string][]string{"api.test": {"127.0.0.1"}}})
	p := netPolicy(policy.HTTPRule{URL: "http://api.test:" + srv.port + "/", AllowPrivate: true})
	p.Limits.Network.ResponseBytes = 64 << 20
	p.Limits.Output = 64 << 20
	m := compile(t, rt, "net_fetch", p)
	in := sandbox.Invocation{Args: []string{"http://api.test:" + srv.port + "/stream"}, Stdout: io.Discard}
	run(t, m, in) // warm up: pools, the connection, the instance
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := run(t, m, in)
	runtime.ReadMemStats(&after)
	if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 || r.rep.Network.ResponseBytes != 32<<20 {
		t.Fatalf("%s exit %d %v, %d bytes (stderr %q)", r.rep.Outcome, r.rep.ExitCode, r.rep.Violation, r.rep.Network.ResponseBytes, r.stderr)
	}
	// The server's side of the transfer allocates in this process too.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("host allocations for a 32 MiB body: %d bytes", alloc)
	if alloc > 4<<20 {
		t.Fatalf("the host allocated %d bytes to deliver a 32 MiB body", alloc)
	}
}

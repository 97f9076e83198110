package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// fakeModule runs a Go function in place of a guest.
type fakeModule struct {
	run func(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error)
}

func (f *fakeModule) Run(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
	return f.run(ctx, in)
}
func (f *fakeModule) SHA256() string                  { return strings.Repeat("ab", 32) }
func (f *fakeModule) Close(ctx context.Context) error { return nil }

func exitOK(out string) func(context.Context, sandbox.Invocation) (*sandbox.Report, error) {
	return func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		io.WriteString(in.Stdout, out)
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	}
}

// fakeServer builds a Server whose every route runs fn.
func fakeServer(t testing.TB, yml string, fn func(context.Context, sandbox.Invocation) (*sandbox.Report, error)) *Server {
	t.Helper()
	cfg, err := ParseConfig([]byte(yml), "test.yaml", func(string) ([]byte, error) { return []byte("\x00asm"), nil }, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		compile: func(context.Context, []byte, policy.Policy) (module, error) {
			return &fakeModule{run: fn}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const fakeCfg = `
rate_limit: {requests_per_second: 0}
routes:
  - {route: /r, module: m.wasm}
  - {route: /metered, module: m.wasm, policy: {limits: {fuel: 1000}}}
`

func TestOutcomeMapping(t *testing.T) {
	tests := []struct {
		name   string
		rep    *sandbox.Report
		err    error
		out    string
		status int
	}{
		{"ok", &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil, "Content-Type: a/b\n\nx", 200},
		{"trap", &sandbox.Report{Outcome: sandbox.OutcomeTrap, Trap: "SECRET trap text"}, nil, "Content-Type: a/b\n\nx", 502},
		{"timeout", &sandbox.Report{Outcome: sandbox.OutcomeViolation, Violation: &sandbox.Violation{Kind: sandbox.KindTimeout, Detail: "SECRET"}}, nil, "", 504},
		{"memory", &sandbox.Report{Outcome: sandbox.OutcomeViolation, Violation: &sandbox.Violation{Kind: sandbox.KindMemoryLimit}}, nil, "Content-Type: a/b\n\nx", 502},
		{"fuel", &sandbox.Report{Outcome: sandbox.OutcomeViolation, Violation: &sandbox.Violation{Kind: sandbox.KindFuelExhausted}}, nil, "", 502},
		{"output", &sandbox.Report{Outcome: sandbox.OutcomeViolation, Violation: &sandbox.Violation{Kind: sandbox.KindOutputLimit}}, nil, "", 502},
		{"refused", &sandbox.Report{Outcome: sandbox.OutcomeRefused, Violation: &sandbox.Violation{Kind: sandbox.KindImportDenied}}, nil, "", 502},
		{"exit 1 after a valid response", &sandbox.Report{Outcome: sandbox.OutcomeExit, ExitCode: 1}, nil, "Content-Type: a/b\n\nx", 502},
		{"host error", &sandbox.Report{}, errors.New("SECRET host failure"), "", 500},
		{"no report", nil, nil, "", 500},
		{"bad response", &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil, "SECRET body, no header", 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeServer(t, fakeCfg, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
				io.WriteString(in.Stdout, tc.out)
				io.WriteString(in.Stderr, "SECRET stderr")
				return tc.rep, tc.err
			})
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/r", nil))
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			if strings.Contains(w.Body.String(), "SECRET") {
				t.Errorf("body leaks: %q", w.Body)
			}
		})
	}
}

func TestFuelAndPeakMetrics(t *testing.T) {
	s := fakeServer(t, fakeCfg, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		io.WriteString(in.Stdout, "Status: 204\n\n")
		return &sandbox.Report{Outcome: sandbox.OutcomeExit, FuelUsed: 123, PeakMemoryBytes: 65536}, nil
	})
	for _, p := range []string{"/r", "/metered", "/metered"} {
		s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	w := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	m := w.Body.String()
	for series, want := range map[string]float64{
		`wasmward_fuel_consumed_total{route="/metered"}`:       246,
		`wasmward_fuel_consumed_total{route="/r"}`:             0,
		`wasmward_guest_memory_peak_bytes{route="/r"}`:         65536,
		`wasmward_requests_total{code="204",route="/r"}`:       1,
		`wasmward_requests_total{code="204",route="/metered"}`: 2,
	} {
		if got := metricValue(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

func TestInvocationIsCGI(t *testing.T) {
	var got sandbox.Invocation
	s := fakeServer(t, fakeCfg, func(_ context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		got = in
		got.Env = append([]string(nil), in.Env...)
		body, _ := io.ReadAll(in.Stdin)
		io.WriteString(in.Stdout, "Content-Type: text/plain\n\n"+string(body))
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	})
	w := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "http://example.test:8443/r?x=1", strings.NewReader("abc"))
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	s.Handler().ServeHTTP(w, req)
	if w.Body.String() != "abc" || got.Name != "m.wasm" || len(got.Args) != 0 {
		t.Fatalf("body %q name %q args %q", w.Body, got.Name, got.Args)
	}
	env := strings.Join(got.Env, "\n")
	for _, want := range []string{"SERVER_NAME=example.test", "SERVER_PORT=8443", "CONTENT_LENGTH=3", "QUERY_STRING=x=1", "X_FULL_URL=http://example.test:8443/r?x=1"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	if strings.Contains(env, "c2VjcmV0") {
		t.Error("Authorization reached the guest")
	}
}

func TestConcurrencyCapNeverQueues(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	s := fakeServer(t, `
rate_limit: {requests_per_second: 0}
routes: [{route: /r, module: m.wasm, max_concurrency: 2}]
`, func(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
		started <- struct{}{}
		<-release
		io.WriteString(in.Stdout, "Status: 204\n\n")
		return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
	})
	done := make(chan int, 2)
	for range 2 {
		go func() {
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/r", nil))
			done <- w.Code
		}()
	}
	<-started
	<-started
	for range 5 {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/r", nil))
		if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("over the cap: %d", w.Code)
		}
	}
	close(release)
	if a, b := <-done, <-done; a != 204 || b != 204 {
		t.Errorf("held requests: %d %d", a, b)
	}
	if ri := s.Routes()[0]; ri.Refused != 5 || ri.Requests != 7 || ri.InFlight != 0 {
		t.Errorf("route info %+v", ri)
	}
}

func TestClientLimiterEvicts(t *testing.T) {
	l := newClientLimiter(RateLimit{RequestsPerSecond: 1, Burst: 1, MaxClients: 3})
	now := time.Unix(1000, 0)
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	if ok, _ := l.allow(a("10.0.0.1"), now); !ok {
		t.Fatal("first request refused")
	}
	ok, wait := l.allow(a("10.0.0.1"), now)
	if ok || wait != time.Second {
		t.Fatalf("second request: %v %v", ok, wait)
	}
	for _, ip := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		l.allow(a(ip), now)
	}
	if n := l.size(); n != 3 {
		t.Errorf("tracking %d clients, want 3", n)
	}
	// 10.0.0.1 was the least recently seen and was forgotten.
	if ok, _ := l.allow(a("10.0.0.1"), now); !ok {
		t.Error("evicted client still limited")
	}
	// IPv6 clients share a bucket per /64.
	l.allow(a("2001:db8::1"), now)
	if ok, _ := l.allow(a("2001:db8::ffff"), now); ok {
		t.Error("a second address in the same /64 got a fresh bucket")
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:5", []string{"1.2.3.4"}, "192.0.2.1"},          // untrusted peer: XFF ignored
		{"10.1.1.1:5", nil, "10.1.1.1"},                            // trusted, no XFF
		{"10.1.1.1:5", []string{"1.2.3.4"}, "1.2.3.4"},             // one hop
		{"10.1.1.1:5", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},    // the client cannot choose
		{"10.1.1.1:5", []string{"1.2.3.4, 10.2.2.2"}, "1.2.3.4"},   // two trusted hops
		{"10.1.1.1:5", []string{"1.2.3.4", "10.2.2.2"}, "1.2.3.4"}, // split over lines
		{"10.1.1.1:5", []string{"junk, 10.2.2.2"}, "10.2.2.2"},     // malformed: stop at the last good
		{"10.1.1.1:5", []string{"10.3.3.3"}, "10.3.3.3"},           // all trusted: leftmost
		{"[::ffff:10.1.1.1]:5", []string{"1.2.3.4"}, "1.2.3.4"},    // mapped peer
		{"garbage", nil, "0.0.0.0"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(r, trusted).String(); got != tc.want {
			t.Errorf("%s %q: got %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestReadyzDuringShutdown(t *testing.T) {
	s := fakeServer(t, fakeCfg, exitOK("Status: 204\n\n"))
	w := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 200 {
		t.Fatal(w.Code)
	}
	s.ready.Store(false)
	w = httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("draining readyz = %d", w.Code)
	}
}

func TestHeadAndNoBodyStatuses(t *testing.T) {
	s := fakeServer(t, fakeCfg, exitOK("Content-Type: text/plain\n\nbody"))
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("HEAD", "/r", nil))
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "4" {
		t.Errorf("HEAD: %d %q %v", w.Code, w.Body, w.Header())
	}
}

// TestRequestPathAllocations bounds the gateway's own allocations per
// request (the fake module's report and write are 2 of them): the request
// ID and its header slice, the client address string, the CGI variables'
// one string, the guest header block's one string and the response
// header's one value array. None grows with the number of response fields,
// and a Host without a port costs none.
func TestRequestPathAllocations(t *testing.T) {
	for _, tc := range []struct {
		name, out, host string
	}{
		{"one field", "Content-Type: text/plain\n\nhello\n", "example.com"},
		{"six fields", "Content-Type: text/plain\nCache-Control: no-cache\nx-trace: 1\nETag: \"a\"\nSet-Cookie: a=1\nVary: Accept\n\nhello\n", "example.com"},
		{"host with port", "Content-Type: text/plain\n\nhello\n", "example.com:8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeServer(t, fakeCfg, exitOK(tc.out))
			h := s.Handler()
			req := httptest.NewRequest("GET", "/r", nil)
			req.Host = tc.host
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			n := testing.AllocsPerRun(200, func() {
				clear(w.h)
				h.ServeHTTP(w, req)
			})
			t.Logf("%.0f allocations per request", n)
			if n > 8 && !raceEnabled {
				t.Errorf("%.0f allocations per request, want at most 8", n)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

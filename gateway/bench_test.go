package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// BenchmarkGatewayHello is the whole request path through the handler (no
// network): rate limit, routing, env, a fresh instance, parsing, headers.
func BenchmarkGatewayHello(b *testing.B) {
	for _, name := range []string{"gw_hello", "gw_hello_go", "gw_reactor_go"} {
		b.Run(name, func(b *testing.B) {
			cfg, err := ParseConfig([]byte("rate_limit: {requests_per_second: 0}\nroutes: [{route: /h, module: m, max_concurrency: 4096}]"), "b.yaml",
				func(string) ([]byte, error) { return fixture.Bytes(b, name), nil }, "")
			if err != nil {
				b.Fatal(err)
			}
			s, err := New(context.Background(), cfg, Options{Runtime: runtimeFor(b), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			h := s.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/h", nil)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, req)
				}
			})
			// CPU per request, the garbage collector's included: what the
			// gateway costs the machine, less disturbed by other jobs than
			// ns/op.
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkSandboxRunHello is the sandbox's share: Module.Run alone (for
// the reactor, the call of its handler export on a fresh instance of its
// snapshot), with the median of the runs' wall times as p50-ns/op.
func BenchmarkSandboxRunHello(b *testing.B) {
	for _, name := range []string{"gw_hello", "gw_hello_go", "gw_reactor_go"} {
		b.Run(name, func(b *testing.B) {
			m, err := compileHandler(context.Background(), runtimeFor(b), fixture.Bytes(b, name), policy.Default())
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(context.Background())
			// The 19 variables of a typical gateway request.
			cgi := []string{"GATEWAY_INTERFACE=CGI/1.1", "SERVER_SOFTWARE=wasmward", "SCRIPT_NAME=/h", "X_MATCHED_ROUTE=/h",
				"REQUEST_METHOD=GET", "PATH_INFO=", "X_RAW_PATH_INFO=", "QUERY_STRING=", "CONTENT_LENGTH=0",
				"REMOTE_ADDR=127.0.0.1", "SERVER_PROTOCOL=HTTP/1.1", "CONTENT_TYPE=", "SERVER_NAME=127.0.0.1",
				"SERVER_PORT=8080", "X_FULL_URL=http://127.0.0.1:8080/h", "HTTP_ACCEPT=*/*", "HTTP_USER_AGENT=wrk"}
			for _, v := range []struct {
				name string
				env  []string
			}{{"no_env", nil}, {"cgi_env", cgi}} {
				b.Run(v.name, func(b *testing.B) {
					b.ReportAllocs()
					var mu sync.Mutex
					var times []time.Duration
					b.RunParallel(func(pb *testing.PB) {
						var out capBuffer
						var stdin bytes.Reader
						var mine []time.Duration
						for pb.Next() {
							out.reset(1 << 20)
							stdin.Reset(nil)
							start := time.Now()
							rep, err := m.Run(context.Background(), sandbox.Invocation{Env: v.env, Stdin: &stdin, Stdout: &out, NonBlocking: true})
							mine = append(mine, time.Since(start))
							if err != nil || rep.Outcome != sandbox.OutcomeExit || !bytes.HasSuffix(out.b, []byte("hello from Go\n")) && !bytes.HasSuffix(out.b, []byte("hello from C\n")) {
								b.Fatalf("%v %+v %q", err, rep, out.b)
							}
						}
						mu.Lock()
						times = append(times, mine...)
						mu.Unlock()
					})
					slices.Sort(times)
					if len(times) > 0 {
						b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns/op")
					}
				})
			}
		})
	}
}

// BenchmarkGatewayFakeModule is the gateway's own share: the whole handler
// with a module that writes a fixed response without any sandbox.
func BenchmarkGatewayFakeModule(b *testing.B) {
	s := fakeServer(b, fakeCfg, exitOK("Content-Type: text/plain\n\nhello\n"))
	h := s.Handler()
	req := httptest.NewRequest("GET", "/r", nil)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", "bench")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

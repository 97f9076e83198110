package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// BenchmarkGatewayHello is the whole request path through the handler (no
// network): rate limit, routing, env, a fresh instance, parsing, headers.
func BenchmarkGatewayHello(b *testing.B) {
	for _, name := range []string{"gw_hello", "gw_hello_go"} {
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
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/h", nil)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, req)
				}
			})
		})
	}
}

// BenchmarkSandboxRunHello is the sandbox's share: Module.Run alone.
func BenchmarkSandboxRunHello(b *testing.B) {
	for _, name := range []string{"gw_hello", "gw_hello_go"} {
		b.Run(name, func(b *testing.B) {
			m, err := runtimeFor(b).Compile(context.Background(), fixture.Bytes(b, name), policy.Default())
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
					b.RunParallel(func(pb *testing.PB) {
						var out capBuffer
						var stdin bytes.Reader
						for pb.Next() {
							out.reset(1 << 20)
							stdin.Reset(nil)
							if _, err := m.Run(context.Background(), sandbox.Invocation{Env: v.env, Stdin: &stdin, Stdout: &out, NonBlocking: true}); err != nil {
								b.Fatal(err)
							}
						}
					})
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

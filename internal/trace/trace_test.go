package trace

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/fixture"
)

const cfgYAML = `
listen: 127.0.0.1:0
drain_delay: 0
routes:
  - route: /hello
    module: HELLO
  - route: /evil
    module: EVIL
    policy: {limits: {memory: 16MiB}}
`

// serve starts a gateway on the test's tracer and returns its URL.
func serve(t *testing.T, tr gateway.Tracer) string {
	t.Helper()
	dir := t.TempDir()
	y := strings.NewReplacer("HELLO", fixture.Path(t, "gw_hello"), "EVIL", fixture.Path(t, "gw_evil")).Replace(cfgYAML)
	p := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := gateway.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.New(context.Background(), cfg, gateway.Options{Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close(context.Background()) })
	return hs.URL
}

func get(t *testing.T, url string, hdr map[string]string) int {
	t.Helper()
	return do(t, "GET", url, hdr)
}

func do(t *testing.T, method, url string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
)

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestSpans drives real requests through a gateway with an in-memory
// exporter and checks each trace's shape: a server span continuing the
// incoming traceparent, one child per phase in time order, the route,
// digest, status and outcome as attributes, and nothing of the request's
// query or header values.
func TestSpans(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		outcome  string
		kind     string
		phases   []string
		errSpan  bool
		sha256Of string
	}{
		{"ok", "GET", "/hello?secret-query", 200, "ok", "", []string{"queue", "instantiate", "run", "response"}, false, "gw_hello"},
		{"violation", "GET", "/evil?memory", 502, "violation", "memory_limit", []string{"queue", "instantiate", "run", "response"}, true, "gw_evil"},
		{"trap", "GET", "/evil?trap", 502, "trap", "trap", []string{"queue", "instantiate", "run", "response"}, true, "gw_evil"},
		{"unmatched", "GET", "/nowhere", 404, "refused", "", []string{"queue"}, false, ""},
		{"refused on a route", "TRACE", "/hello", 405, "refused", "", []string{"queue"}, false, ""},
	}
	rec := tracetest.NewSpanRecorder()
	url := serve(t, NewWithProcessor(rec, gateway.Tracing{SampleRatio: 1}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rec.Ended())
			st := do(t, tt.method, url+tt.path, map[string]string{
				"Traceparent": "00-" + parentTrace + "-" + parentSpan + "-01",
				"User-Agent":  "secret-header-value",
			})
			if st != tt.status {
				t.Fatalf("status %d, want %d", st, tt.status)
			}
			spans := rec.Ended()[before:]
			var root sdktrace.ReadOnlySpan
			for _, s := range spans {
				if s.SpanKind() == oteltrace.SpanKindServer {
					root = s
				}
			}
			route := strings.SplitN(tt.path, "?", 2)[0]
			if tt.name == "unmatched" {
				route = "unmatched"
			}
			if root == nil || root.Name() != tt.method+" "+route || len(spans) != len(tt.phases)+1 {
				t.Fatalf("spans %v: want a request span and %v", names(spans), tt.phases)
			}
			if got := root.SpanContext().TraceID().String(); got != parentTrace {
				t.Errorf("trace ID %s, want the incoming %s", got, parentTrace)
			}
			if got := root.Parent().SpanID().String(); got != parentSpan || !root.Parent().IsRemote() {
				t.Errorf("parent %s (remote %v), want the incoming span %s", got, root.Parent().IsRemote(), parentSpan)
			}
			a := attrs(root)
			if a["http.response.status_code"].AsInt64() != int64(tt.status) || a["wasmward.outcome"].AsString() != tt.outcome ||
				a["wasmward.violation.kind"].AsString() != tt.kind {
				t.Errorf("attributes %v: want status %d, outcome %s, kind %q", a, tt.status, tt.outcome, tt.kind)
			}
			if tt.sha256Of != "" {
				if want := sha(t, tt.sha256Of); a["wasmward.module.sha256"].AsString() != want {
					t.Errorf("module digest %q, want %s", a["wasmward.module.sha256"].AsString(), want)
				}
			}
			if (root.Status().Code == codes.Error) != tt.errSpan {
				t.Errorf("span status %v, want error %v", root.Status(), tt.errSpan)
			}
			// The phases: children of the request span, in order, inside it.
			var got []string
			prevEnd := root.StartTime()
			for _, s := range spans {
				if s == root {
					continue
				}
				got = append(got, s.Name())
				if s.Parent().SpanID() != root.SpanContext().SpanID() || s.SpanContext().TraceID() != root.SpanContext().TraceID() {
					t.Errorf("%s: parent %s, want the request span", s.Name(), s.Parent().SpanID())
				}
				if s.StartTime().Before(prevEnd) || s.EndTime().Before(s.StartTime()) || s.EndTime().After(root.EndTime()) {
					t.Errorf("%s: [%v, %v] is out of order within the request [%v, %v]", s.Name(), s.StartTime(), s.EndTime(), root.StartTime(), root.EndTime())
				}
				prevEnd = s.EndTime()
			}
			if strings.Join(got, ",") != strings.Join(tt.phases, ",") {
				t.Errorf("phases %v, want %v", got, tt.phases)
			}
			for _, s := range spans {
				for _, kv := range s.Attributes() {
					if v := kv.Value.String(); strings.Contains(v, "secret") {
						t.Errorf("%s: attribute %s=%q carries the request's query or header value", s.Name(), kv.Key, v)
					}
				}
			}
		})
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name())
	}
	return n
}

func sha(t *testing.T, name string) string {
	t.Helper()
	return digest.SHA256Hex(fixture.Bytes(t, name))
}

// TestSampling checks who decides what is traced: the ratio, and the
// incoming sampled flag only with follow_parent_sampling.
func TestSampling(t *testing.T) {
	sampled := "00-" + parentTrace + "-" + parentSpan + "-01"
	tests := []struct {
		name   string
		cfg    gateway.Tracing
		header string
		n      int
		min    int
		max    int
	}{
		{"ratio 0 ignores a sampled parent", gateway.Tracing{SampleRatio: 0}, sampled, 20, 0, 0},
		{"follow_parent_sampling honours it", gateway.Tracing{SampleRatio: 0, FollowParent: true}, sampled, 20, 20, 20},
		{"follow without a parent uses the ratio", gateway.Tracing{SampleRatio: 0, FollowParent: true}, "", 20, 0, 0},
		{"ratio 1 traces all", gateway.Tracing{SampleRatio: 1}, "", 20, 20, 20},
		// 400 draws at 0.5: outside [120, 280] has probability < 1e-15.
		{"ratio 0.5 traces about half", gateway.Tracing{SampleRatio: 0.5}, "", 400, 120, 280},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewWithProcessor(tracetest.NewSpanRecorder(), tt.cfg)
			r := httptest.NewRequest("GET", "/x", nil)
			if tt.header != "" {
				r.Header.Set("Traceparent", tt.header)
			}
			got := 0
			for range tt.n {
				if rt := tr.Begin(r, time.Now()); rt != nil {
					got++
					rt.End(&gateway.TraceRecord{Method: "GET", Outcome: "refused", Start: time.Now(), End: time.Now()})
				}
			}
			if got < tt.min || got > tt.max {
				t.Errorf("%d of %d traced, want %d to %d", got, tt.n, tt.min, tt.max)
			}
		})
	}
}

// TestOffStartsNothing: without an endpoint New returns nil and starts no
// goroutine (no exporter, no batch processor), and the gateway runs
// without a tracer.
func TestOffStartsNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	tr, err := New(context.Background(), gateway.Tracing{})
	if err != nil || tr != nil {
		t.Fatalf("New with no endpoint = %v, %v; want nil, nil", tr, err)
	}
	if after := runtime.NumGoroutine(); after != before {
		t.Fatalf("goroutines %d -> %d: tracing off started something", before, after)
	}
}

// TestExportOTLP sends a trace to a fake OTLP/HTTP collector through the
// real exporter: a POST of protobuf to /v1/traces when the endpoint names
// no path, flushed by Shutdown.
func TestExportOTLP(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	var sizes []int
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		sizes = append(sizes, len(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer col.Close()
	tr, err := New(context.Background(), gateway.Tracing{Endpoint: col.URL, SampleRatio: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, tr)
	if st := get(t, url+"/hello", nil); st != 200 {
		t.Fatalf("status %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) == 0 || paths[0] != "POST /v1/traces application/x-protobuf" || sizes[0] == 0 {
		t.Fatalf("collector got %v (sizes %v), want a protobuf POST to /v1/traces", paths, sizes)
	}
}

package gateway

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Tracing is the tracing block: where OpenTelemetry traces of requests go
// (OTLP over HTTP) and how many are sampled. The zero value exports none.
type Tracing struct {
	// Endpoint is the OTLP/HTTP collector's URL (http://HOST:4318, or a
	// full URL ending in /v1/traces); "" turns tracing off.
	Endpoint string
	// SampleRatio is the fraction of requests traced (0 to 1).
	SampleRatio float64
	// FollowParent traces a request whose incoming traceparent says it is
	// sampled, whatever the ratio. Off by default: the public listener's
	// clients would otherwise decide how much is traced.
	FollowParent bool
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// Timeout bounds one export to the collector.
	Timeout time.Duration
}

// Tracing defaults, applied when the block names an endpoint.
const (
	DefaultSampleRatio  = 0.01
	DefaultServiceName  = "wasmward"
	DefaultTraceTimeout = 10 * time.Second
	tracingKeys         = "endpoint, sample_ratio, follow_parent_sampling, service_name, timeout"
)

type fileTracing struct {
	Endpoint     string           `yaml:"endpoint"`
	SampleRatio  *float64         `yaml:"sample_ratio"`
	FollowParent bool             `yaml:"follow_parent_sampling"`
	ServiceName  string           `yaml:"service_name"`
	Timeout      *policy.Duration `yaml:"timeout"`
}

// applyTracing validates the tracing block into c.Tracing.
func applyTracing(c *Config, f *fileTracing, root *yaml.Node, name string) error {
	if f == nil {
		return nil
	}
	at := func(key string) string {
		n := mappingValue(root, "tracing")
		if v := mappingValue(n, key); v != nil {
			n = v
		}
		return fmt.Sprintf("%s:%d: tracing.%s", name, n.Line, key)
	}
	t := Tracing{Endpoint: f.Endpoint, SampleRatio: DefaultSampleRatio, FollowParent: f.FollowParent,
		ServiceName: DefaultServiceName, Timeout: DefaultTraceTimeout}
	if t.Endpoint == "" {
		return fmt.Errorf("%s: required when the tracing block is present (keys: %s)", at("endpoint"), tracingKeys)
	}
	u, err := url.Parse(t.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%s: %q is not an http:// or https:// URL with a host (and no credentials)", at("endpoint"), t.Endpoint)
	}
	if r := f.SampleRatio; r != nil {
		if math.IsNaN(*r) || *r < 0 || *r > 1 {
			return fmt.Errorf("%s: must be a ratio from 0 to 1", at("sample_ratio"))
		}
		t.SampleRatio = *r
	}
	if f.ServiceName != "" {
		t.ServiceName = f.ServiceName
	}
	if d := f.Timeout; d != nil {
		if *d <= 0 {
			return fmt.Errorf("%s: must be greater than zero", at("timeout"))
		}
		t.Timeout = d.Std()
	}
	c.Tracing = t
	return nil
}

// Tracer records the phases of each request for a tracing system
// (internal/trace does it with OpenTelemetry). It is Options.Tracer; nil,
// the default, traces nothing and costs nothing on the request path.
type Tracer interface {
	// Begin is called when a request arrives, with its arrival time. It
	// may continue a trace the request's headers carry (W3C traceparent).
	// It returns nil when the request is not traced (not sampled); then
	// the gateway records nothing more for it.
	Begin(r *http.Request, start time.Time) RequestTrace
}

// RequestTrace is one traced request. End is called once, after the
// response was written (or the client went away), with what happened.
type RequestTrace interface {
	End(rec *TraceRecord)
}

// TraceRecord is what the gateway tells a RequestTrace about a request:
// the route, the module digest, the outcome and when each phase began and
// ended. A phase that did not happen has zero times. It never carries a
// body, a header's value, a query or a path beyond the route.
type TraceRecord struct {
	// Method is the request's method; Route the route's label ("" when no
	// route matched); SHA256 the digest of the module version that ran.
	Method string
	Route  string
	SHA256 string
	// RequestID is the gateway's request ID (X-Request-Id).
	RequestID string
	// Status is the status code sent (0: none, the client went away).
	Status int
	// Outcome is ok, refused (no guest ran), violation, trap,
	// bad_response, host_error or client_closed; Kind is the violation
	// kind or the bad response's kind.
	Outcome string
	Kind    string
	// Start is the request's arrival; Admitted when it held an instance
	// slot (queue and admission ended); RunStart, Instantiated and RunEnd
	// bound the instantiation and the handler's run; End is when the
	// response was written.
	Start, Admitted, RunStart, Instantiated, RunEnd, End time.Time
}

// reqTrace is a traced request in flight: the record the handler fills in
// and the sandbox's timing of the run.
type reqTrace struct {
	t      RequestTrace
	rec    TraceRecord
	timing sandbox.Timing
}

// traceWriter records the status code of a traced request's response.
type traceWriter struct {
	http.ResponseWriter
	tr *reqTrace
}

func (w *traceWriter) WriteHeader(code int) {
	if w.tr.rec.Status == 0 {
		w.tr.rec.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *traceWriter) Write(b []byte) (int, error) {
	if w.tr.rec.Status == 0 {
		w.tr.rec.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *traceWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// beginTrace starts tracing r when a tracer is set and samples it.
func (s *Server) beginTrace(w http.ResponseWriter, r *http.Request, start time.Time, id string) (http.ResponseWriter, *reqTrace) {
	rt := s.tracer.Begin(r, start)
	if rt == nil {
		return w, nil
	}
	tr := &reqTrace{t: rt, rec: TraceRecord{Method: r.Method, RequestID: id, Start: start}}
	return &traceWriter{ResponseWriter: w, tr: tr}, tr
}

// end completes the record and hands it to the tracer.
func (tr *reqTrace) end() {
	rec := &tr.rec
	rec.End = time.Now()
	if !rec.RunStart.IsZero() {
		rec.Instantiated = rec.RunStart.Add(tr.timing.Instantiate)
		if rec.RunEnd.IsZero() {
			rec.RunEnd = rec.Instantiated.Add(tr.timing.Call)
		}
	}
	switch {
	case rec.Outcome != "":
	case rec.RunStart.IsZero():
		rec.Outcome = "refused"
	default:
		rec.Outcome = "ok"
	}
	tr.t.End(rec)
}

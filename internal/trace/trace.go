// Package trace exports OpenTelemetry traces of the gateway's requests over
// OTLP/HTTP. It implements gateway.Tracer: one server span per traced
// request with a child span per phase (queue, instantiate, run, response),
// continuing the W3C trace context (traceparent) the request carries.
//
// Tracing is off unless the configuration's tracing block names an
// endpoint: then New returns nil and creates no exporter and no goroutine.
// Spans carry the route, the module digest, the status, the outcome and the
// violation kind; never a body, a header's value, a query or a path beyond
// the route. Export is batched on a goroutine of its own with a bounded
// queue: a slow or absent collector drops spans, it never slows a request.
// See docs/alerts.md, "Traces".
package trace

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/version"
)

// MaxQueue bounds the spans waiting for export; past it spans are dropped.
const MaxQueue = 4096

// Tracer is a gateway.Tracer exporting to an OpenTelemetry span
// processor. Its methods are safe for concurrent use.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tr     oteltrace.Tracer
	prop   propagation.TraceContext
	ratio  float64
	follow bool
}

// New returns a Tracer exporting to cfg.Endpoint over OTLP/HTTP, or nil
// (and nothing started) when cfg.Endpoint is "". The exporter also honours
// the OTEL_EXPORTER_OTLP_HEADERS environment variable, the place for a
// collector's credentials (never the configuration file).
func New(ctx context.Context, cfg gateway.Tracing) (*Tracer, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing endpoint: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("start the OTLP trace exporter for %s: %w", u.Redacted(), err)
	}
	bsp := sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithMaxQueueSize(MaxQueue), sdktrace.WithExportTimeout(cfg.Timeout))
	return NewWithProcessor(bsp, cfg), nil
}

// NewWithProcessor returns a Tracer whose spans go to sp (an in-memory
// recorder in tests), sampled as cfg says; cfg.Endpoint is not used.
func NewWithProcessor(sp sdktrace.SpanProcessor, cfg gateway.Tracing) *Tracer {
	name := cfg.ServiceName
	if name == "" {
		name = gateway.DefaultServiceName
	}
	res := resource.NewSchemaless(attribute.String("service.name", name),
		attribute.String("service.version", version.Read().Version))
	// Sampling is decided in Begin (so that a request not traced costs
	// a random number); every span started here is recorded.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()))
	return &Tracer{tp: tp, tr: tp.Tracer("github.com/wasmward/wasmward/gateway"), ratio: cfg.SampleRatio, follow: cfg.FollowParent}
}

// Shutdown exports the spans still queued (within ctx) and stops the
// exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop the trace exporter: %w", err)
	}
	return nil
}

// Begin implements gateway.Tracer. A request is traced with probability
// SampleRatio, drawn here (not from the trace ID, which a client chooses);
// with FollowParent, also when its traceparent says sampled. A valid
// incoming traceparent becomes the request span's parent either way.
func (t *Tracer) Begin(r *http.Request, start time.Time) gateway.RequestTrace {
	sampled := t.ratio > 0 && (t.ratio >= 1 || rand.Float64() < t.ratio)
	if !sampled && !t.follow {
		return nil
	}
	ctx := context.Background()
	if _, ok := r.Header["Traceparent"]; ok {
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		sampled = sampled || oteltrace.SpanContextFromContext(ctx).IsSampled()
	}
	if !sampled {
		return nil
	}
	ctx, span := t.tr.Start(ctx, "request", oteltrace.WithTimestamp(start), oteltrace.WithSpanKind(oteltrace.SpanKindServer))
	return &request{t: t, ctx: ctx, span: span}
}

type request struct {
	t    *Tracer
	ctx  context.Context
	span oteltrace.Span
}

// End implements gateway.RequestTrace: the phases become child spans with
// the times the gateway recorded, then the request span ends.
func (q *request) End(rec *gateway.TraceRecord) {
	route := rec.Route
	if route == "" {
		route = "unmatched"
	}
	q.span.SetName(rec.Method + " " + route)
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, attribute.String("http.request.method", rec.Method), attribute.String("http.route", route),
		attribute.String("wasmward.request_id", rec.RequestID), attribute.String("wasmward.outcome", rec.Outcome))
	if rec.Status != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", rec.Status))
	}
	if rec.SHA256 != "" {
		attrs = append(attrs, attribute.String("wasmward.module.sha256", rec.SHA256))
	}
	if rec.Kind != "" {
		attrs = append(attrs, attribute.String("wasmward.violation.kind", rec.Kind))
	}
	q.span.SetAttributes(attrs...)
	admitted := rec.Admitted
	if admitted.IsZero() {
		admitted = rec.End
	}
	q.phase("queue", rec.Start, admitted)
	if !rec.RunStart.IsZero() {
		q.phase("instantiate", rec.RunStart, rec.Instantiated)
		q.phase("run", rec.Instantiated, rec.RunEnd)
		q.phase("response", rec.RunEnd, rec.End)
	}
	switch rec.Outcome {
	case "ok", "refused", "client_closed":
		if rec.Status >= 500 {
			q.span.SetStatus(codes.Error, rec.Outcome)
		}
	default: // the guest misbehaved or the host failed
		q.span.SetStatus(codes.Error, rec.Outcome)
	}
	q.span.End(oteltrace.WithTimestamp(rec.End))
}

func (q *request) phase(name string, from, to time.Time) {
	_, s := q.t.tr.Start(q.ctx, name, oteltrace.WithTimestamp(from), oteltrace.WithSpanKind(oteltrace.SpanKindInternal))
	s.End(oteltrace.WithTimestamp(to))
}

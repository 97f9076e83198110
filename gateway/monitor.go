package gateway

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/internal/alert"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Monitor watches the gateway's runs (the alert engine; see SetMonitor).
// The gateway calls it at three points only: before a run (Quarantined),
// after a run (Finished) and when it refuses a module (ModuleRefused).
// Every method must return quickly and never block.
type Monitor interface {
	// Quarantined reports whether no instance of the module with digest
	// sha (hex) may start: its requests are answered 503.
	Quarantined(sha string) bool
	// Finished is told of every run of a client request once it is judged
	// (synthetic health checks and runs whose client went away before
	// anything was wrong are not).
	Finished(r *RunResult)
	// ModuleRefused is told of a module refused for a route (trust, scan,
	// compile; at startup, reload or deploy).
	ModuleRefused(route, module, sha, kind string)
}

// RunResult is a finished run as the gateway judged it.
type RunResult struct {
	Route, Module, SHA256, RequestID, Client string
	// Status is the status the client got (or would have got, had it
	// stayed).
	Status int
	// Kind is the violation kind, "trap", or the bad-response kind; ""
	// for a valid response. EventType is the audit type of a failure
	// (violation, trap, bad_response, host_error), "" otherwise.
	Kind, EventType string
	// Duration is the request's time so far.
	Duration time.Duration
	// Report is the sandbox's report (nil when the sandbox gave none).
	Report *sandbox.Report
	// Limits are the policy limits the module ran under; Soft the route's
	// soft thresholds (nil: none).
	Limits policy.Limits
	Soft   *alert.Thresholds
}

// ErrQuarantined is the cause of a run stopped because its module was
// quarantined while it ran.
var ErrQuarantined = errors.New("the module was quarantined")

// SetMonitor installs the monitor. Call it before Serve and before any
// deployment: modules are checked against it from then on (a quarantined
// digest is refused by Prepare).
func (s *Server) SetMonitor(m Monitor) { s.monitor = m }

// StopRuns ends the runs in progress of every version whose module has
// digest sha (their context is cancelled with ErrQuarantined; the clients
// get 503). It returns the number of versions whose runs were stopped.
// The caller quarantines the digest first (Monitor.Quarantined), so that
// no new run starts.
func (s *Server) StopRuns(sha string) int {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	n := 0
	for v := range s.live {
		if v.sha == sha {
			old := v.iso.Swap(newIsolation())
			old.cancel()
			n++
		}
	}
	return n
}

// isolation is a version's "stop every run" switch.
type isolation struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newIsolation() *isolation {
	ctx, cancel := context.WithCancel(context.Background())
	return &isolation{ctx, cancel}
}

// admitMonitored sets up a run's isolation: it returns the run's context,
// cancelled with ErrQuarantined when the version's module is isolated
// while the run goes on, and the function that ends it; ok is false when
// the module is quarantined already. The hook is registered before the
// check so that a quarantine landing between the two still stops the run.
func (s *Server) admitMonitored(ctx context.Context, v *Version) (context.Context, func(), bool) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(v.iso.Load().ctx, func() { cancel(ErrQuarantined) })
	done := func() { stop(); cancel(nil) }
	if s.monitor.Quarantined(v.sha) {
		done()
		return nil, nil, false
	}
	return ctx, done, true
}

// quarantinedReply answers a request for a quarantined module: 503 with
// Retry-After and the generic body.
func (s *Server) quarantinedReply(w http.ResponseWriter, r *http.Request, rt *route, rm *routeMetrics, id string, start time.Time) {
	s.refuse(rt, "quarantined")
	w.Header()["Retry-After"] = []string{retryAfter(s.cfg.Alerts.RetryAfter)}
	s.reject(w, r, rm, rt, http.StatusServiceUnavailable, id, start)
}

// moduleRefused audits a refused module and tells the monitor.
func (s *Server) moduleRefused(ev audit.Event) {
	s.event(ev)
	if s.monitor != nil {
		s.monitor.ModuleRefused(ev.Route, ev.Module, ev.SHA256, ev.Kind)
	}
}

// finished tells the monitor of a judged run.
func (s *Server) finished(rt *route, v *Version, rep *sandbox.Report, id, client string, status int, kind, evType string, start time.Time) {
	s.monitor.Finished(&RunResult{Route: rt.label, Module: v.ref, SHA256: v.sha, RequestID: id, Client: client,
		Status: status, Kind: kind, EventType: evType, Duration: time.Since(start), Report: rep, Limits: v.limits, Soft: rt.cfg.Soft})
}

// MetricNames returns the names of the metric families the gateway's
// collectors and those added by RegisterMetrics export, whether or not
// they have a series yet, sorted: what a rule or a dashboard may name.
func (s *Server) MetricNames() []string {
	cs := s.metrics.extra
	seen := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		// Desc has no accessor: its String() is `Desc{fqName: "NAME", ...}`.
		str := d.String()
		if i := strings.Index(str, `fqName: "`); i >= 0 {
			rest := str[i+len(`fqName: "`):]
			if j := strings.IndexByte(rest, '"'); j > 0 {
				seen[rest[:j]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

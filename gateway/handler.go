package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway/internal/wagi"
	"github.com/wasmward/wasmward/sandbox"
)

// reqState is the per-request scratch space, pooled so that the request path
// allocates as little as possible.
type reqState struct {
	body   []byte
	stdin  bytes.Reader
	stdout capBuffer
	stderr capBuffer
	env    []string
	resp   wagi.Response
	// envBuf and envEnd lay out the request's CGI variables before they
	// become one string (see appendEnv).
	envBuf []byte
	envEnd []int
	// revoked marks a state a run may still hold (see serveHTTP): putState
	// drops it instead of pooling it.
	revoked bool
	// lease is the request's share of the body budget.
	lease lease
	// bodyLen is CONTENT_LENGTH: the body's length, -1 without a body.
	bodyLen int64
	// timing receives the run's phases when the request is traced.
	timing *sandbox.Timing
	// quota is the run's tenant fuel bucket, nil without a fuel quota.
	quota sandbox.FuelQuota
	// outbound is the run's tenant outbound bucket, nil without one.
	outbound sandbox.FuelQuota
}

// Buffers above this are dropped instead of pooled, so one large request
// does not pin memory.
const maxPooledBuffer = 256 << 10

func (s *Server) putState(st *reqState) {
	if st.revoked {
		return // the guest of an abandoned run may still use its buffers
	}
	if cap(st.body) > maxPooledBuffer {
		st.body = nil
	}
	st.body = st.body[:0]
	if cap(st.stdout.b) > maxPooledBuffer {
		st.stdout.b = nil
	}
	st.stdin.Reset(nil)
	clear(st.env)
	st.env = st.env[:0]
	if cap(st.envBuf) > maxPooledBuffer {
		st.envBuf = nil
	}
	st.envBuf, st.envEnd = st.envBuf[:0], st.envEnd[:0]
	st.resp.Reset()
	st.timing = nil
	s.states.Put(st)
}

// capBuffer collects a guest stream up to max bytes. Past it, writes fail
// (the guest sees EIO) and over is set. With a lease, the buffer's growth
// takes body budget first; when there is none, the write fails and starved
// is set.
type capBuffer struct {
	b       []byte
	max     int
	over    bool
	lease   *lease
	charged int // bytes of b's capacity accounted for: freeOutput, then what was taken from the lease
	starved bool
}

var (
	errResponseTooLarge = errors.New("response exceeds the gateway's cap")
	errNoBudget         = errors.New("the gateway's body budget is spent")
)

// freeOutput is the stdout capacity a request has without body budget, so
// that small responses are still served while large bodies hold the
// budget. Its total is bounded by the routes' concurrency caps.
const freeOutput = 16 << 10

func (c *capBuffer) reset(max int) {
	c.b, c.max, c.over, c.lease, c.charged, c.starved = c.b[:0], max, false, nil, freeOutput, false
}

func (c *capBuffer) Write(p []byte) (int, error) {
	n := min(len(p), max(c.max-len(c.b), 0))
	if need := len(c.b) + n; c.lease != nil && need > c.charged {
		capNow := cap(c.b)
		if need > capNow {
			capNow = min(max(2*cap(c.b), need, 4096), c.max)
		}
		if !c.lease.grow(context.Background(), int64(capNow-c.charged), time.Time{}) {
			c.starved = true
			return 0, errNoBudget
		}
		c.charged = capNow
		if capNow > cap(c.b) {
			nb := make([]byte, len(c.b), capNow)
			copy(nb, c.b)
			c.b = nb
		}
	}
	c.b = append(c.b, p[:n]...)
	if n < len(p) {
		c.over = true
		return n, errResponseTooLarge
	}
	return n, nil
}

// bodyStep is the first allocation for a request body of unknown length;
// the buffer doubles from there, each step taken from the body budget
// before it is allocated.
const bodyStep = 32 << 10

// readBody reads the request body into st.body, capped at max_body, taking
// body budget as the buffer grows (waiting at most body_budget_wait from
// the request's start). Only bytes that arrived are charged: a client that
// declares a large body and stalls holds what it sent, not what it
// declared. It returns 0 or the status to refuse with and the refusal
// reason for the metrics.
func (s *Server) readBody(r *http.Request, st *reqState, start time.Time) (int, string) {
	limit := s.cfg.Request.MaxBody + 1
	if r.ContentLength >= 0 {
		limit = r.ContentLength // net/http ends the body there
	}
	waitUntil := start.Add(s.cfg.Request.BodyWait)
	b := st.body[:0]
	var charged int64
	defer func() { st.body = b }()
	for {
		room := min(int64(cap(b)), limit)
		if int64(len(b)) == room {
			if room >= limit {
				break
			}
			newCap := min(max(2*int64(cap(b)), bodyStep), limit)
			if !st.lease.grow(r.Context(), newCap-charged, waitUntil) {
				return http.StatusServiceUnavailable, "body_budget"
			}
			charged, room = newCap, newCap
			nb := make([]byte, len(b), newCap)
			copy(nb, b)
			b = nb
		} else if room > charged {
			if !st.lease.grow(r.Context(), room-charged, waitUntil) {
				return http.StatusServiceUnavailable, "body_budget"
			}
			charged = room
		}
		n, err := r.Body.Read(b[len(b):room])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return http.StatusGatewayTimeout, string(sandbox.KindTimeout)
		}
		if err != nil {
			return http.StatusBadRequest, ""
		}
	}
	if int64(len(b)) > s.cfg.Request.MaxBody {
		return http.StatusRequestEntityTooLarge, "body_limit"
	}
	return 0, ""
}

// stderrKeep is how much of a guest's stderr is kept for the log.
const stderrKeep = 2048

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := s.requestID()
	var tr *reqTrace
	if s.tracer != nil {
		if w, tr = s.beginTrace(w, r, start, id); tr != nil {
			defer tr.end()
		}
	}
	h := w.Header()
	h["X-Request-Id"] = []string{id}
	if len(r.TransferEncoding) > 0 {
		// A chunked (or otherwise transfer-coded) request: close the
		// connection after the response, so that bytes a front end framed
		// differently (Content-Length next to Transfer-Encoding: CL.TE
		// smuggling) are never read as another request. Costs keep-alive
		// for such uploads only.
		h["Connection"] = connClose
	}
	client := clientAddr(r, s.cfg.TrustedProxies)
	probe, _ := r.Context().Value(probeKey{}).(*Version)

	if ok, wait := s.limiter.allow(client, start); probe == nil && !ok {
		s.metrics.rateLimited.Inc()
		h["Retry-After"] = []string{retryAfter(wait)}
		s.reject(w, r, s.unmatched, nil, http.StatusTooManyRequests, id, start)
		return
	}
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 && http10TE(r) {
		// HTTP/1.0 with Transfer-Encoding: net/http drops the field and
		// frames the body by Content-Length (or as empty), while a front end
		// may frame it as chunked; what one side takes for body the other
		// takes for the next request (RFC 9112 6.1). Refused, connection
		// closed.
		h["Connection"] = connClose
		s.reject(w, r, s.unmatched, nil, http.StatusBadRequest, id, start)
		return
	}
	if r.RequestURI == "*" {
		if r.Method == http.MethodOptions {
			// OPTIONS * asks about the server, not a route: answered here
			// (net/http's own answer carried none of the gateway's headers).
			s.setSecurity(h)
			h["Content-Length"] = []string{"0"}
			w.WriteHeader(http.StatusOK)
			s.unmatched.code(http.StatusOK)
			return
		}
		s.reject(w, r, s.unmatched, nil, http.StatusBadRequest, id, start)
		return
	}
	if hasDotSegment(r.URL.Path) {
		// "/echo/../auth/x" would route to /echo with PATH_INFO
		// "/../auth/x" while a guest or a front end resolving dot segments
		// sees /auth/x: refused (docs/gateway.md, "Paths").
		s.reject(w, r, s.unmatched, nil, http.StatusBadRequest, id, start)
		return
	}
	rt, pathInfo := s.match(r.URL.Path)
	if tr != nil && rt != nil {
		tr.rec.Route = rt.label
	}
	if !methodAllowed(rt, r.Method) {
		h["Allow"] = []string{allowList(rt)}
		if r.Method == http.MethodConnect {
			h["Connection"] = connClose // what follows may be tunnel bytes
		}
		rm := s.unmatched
		if rt != nil {
			rm = rt.m
			s.refuse(rt, "method")
		}
		s.reject(w, r, rm, rt, http.StatusMethodNotAllowed, id, start)
		return
	}
	if rt == nil {
		s.reject(w, r, s.unmatched, nil, http.StatusNotFound, id, start)
		return
	}
	rm := rt.m
	if s.auditAvailable() != nil {
		// audit.on_failure fail_closed and the log cannot be written: run
		// nothing whose events would go unrecorded.
		s.refuse(rt, "audit_unavailable")
		s.reject(w, r, rm, rt, http.StatusServiceUnavailable, id, start)
		return
	}
	if strings.IndexByte(r.URL.Path, 0) >= 0 {
		s.reject(w, r, rm, rt, http.StatusBadRequest, id, start)
		return
	}
	if n, size := headerSize(r); n > s.cfg.Request.MaxHeaders || size > s.cfg.Request.MaxHeaderBytes {
		s.refuse(rt, "header_limit")
		s.reject(w, r, rm, rt, http.StatusRequestHeaderFieldsTooLarge, id, start)
		return
	}
	if r.ContentLength > s.cfg.Request.MaxBody {
		s.refuse(rt, "body_limit")
		s.reject(w, r, rm, rt, http.StatusRequestEntityTooLarge, id, start)
		return
	}
	cs := client.String() // for the audit records and logs of what follows
	tn := s.tenantGate(w, r, rt, id, cs, start)
	if tn == nil {
		return // refused (docs/tenancy.md)
	}

	deadline := start.Add(s.cfg.Request.Timeout)
	st := s.states.Get().(*reqState)
	defer s.putState(st)

	// The body, whole and capped, before a slot is taken: a slow upload
	// must not hold an instance slot. The read deadline is the request's.
	// A route with stream_body takes a declared-length body as the guest
	// reads it instead (the slot is held while it arrives).
	st.lease.start(s.budget)
	defer st.lease.end()
	hasBody := r.Body != nil && r.Body != http.NoBody
	stream := hasBody && rt.cfg.StreamBody && r.ContentLength > 0
	st.bodyLen = -1
	if hasBody {
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(deadline)
	}
	if stream {
		st.bodyLen = r.ContentLength
	} else if hasBody {
		status, reason := s.readBody(r, st, start)
		st.bodyLen = int64(len(st.body))
		if status != 0 {
			if reason != "" {
				s.refuse(rt, reason)
			}
			if status == http.StatusServiceUnavailable {
				h["Retry-After"] = []string{"1"}
			}
			s.reject(w, r, rm, rt, status, id, start)
			return
		}
	}

	// The version is picked once the body is in: a slow upload holds no
	// version. A route replaced by a reload meanwhile is matched again.
	v := probe
	if v == nil {
		for v = rt.pick(); v == nil; v = rt.pick() {
			if rt, pathInfo = s.match(r.URL.Path); rt == nil {
				s.reject(w, r, s.unmatched, nil, http.StatusNotFound, id, start)
				return
			}
			rm = rt.m
		}
	} else if v.route != rt.label || !v.Retain() {
		s.reject(w, r, rm, rt, http.StatusNotFound, id, start)
		return
	}
	if tr != nil {
		tr.rec.Route, tr.rec.SHA256 = rt.label, v.sha
	}
	keep := false // a run the sandbox abandoned keeps its version open
	defer func() {
		if !keep {
			v.Release()
		}
	}()
	ctx := r.Context()
	if s.monitor != nil {
		// One check at admission: a quarantined module starts no instance,
		// and one quarantined while it runs is stopped (monitor.go).
		var done func()
		var ok bool
		if ctx, done, ok = s.admitMonitored(ctx, v); !ok {
			s.quarantinedReply(w, r, rt, rm, id, start)
			return
		}
		defer done()
	}

	tk, ok := s.tenantAdmit(w, r, rt, v, tn, st, id, cs, start, deadline)
	if !ok {
		return
	}
	defer func() {
		if !keep { // an abandoned guest may still hold its memory
			tk.Release()
		}
	}()
	select {
	case rt.sem <- struct{}{}:
	default:
		s.refuse(rt, "concurrency")
		h["Retry-After"] = []string{"1"}
		s.reject(w, r, rm, rt, http.StatusServiceUnavailable, id, start)
		return
	}
	// The request's deadline goes to the sandbox as Invocation.Deadline,
	// which costs nothing, where a context.WithDeadline per request cost a
	// timer and five allocations; ctx still ends the run if the client goes
	// away.
	s.appendEnv(st, r, rt, v, pathInfo, client)
	st.stdin.Reset(st.body)
	st.stdout.reset(s.respLim.MaxHeaderBytes + s.respLim.MaxBody)
	st.stdout.lease = &st.lease
	st.stderr.reset(stderrKeep)
	var stdin io.Reader
	if stream {
		stdin = r.Body
	}
	v.stats.inFlight.Add(1)
	if tr != nil {
		tr.rec.Admitted = time.Now()
		// A run the sandbox abandons may still write its timing: each
		// traced run gets its own, read only when the run returned.
		tr.rec.RunStart, st.timing = tr.rec.Admitted, new(sandbox.Timing)
	}
	rep, ran, err := s.run(ctx, rt, v, st, deadline, stdin)
	v.stats.inFlight.Add(-1)
	if tr != nil {
		tr.rec.RunEnd = ran
		if rep != nil && !rep.Abandoned {
			tr.timing = *st.timing
		}
	}
	if rep == nil || rep.Abandoned || (rep.Violation != nil && rep.Violation.Kind == sandbox.KindTimeout) {
		// Run may have returned while the guest still runs (the sandbox
		// abandoned it): never hand its stdin and buffers to another
		// request. Any timeout counts, whoever reported it; the cost is an
		// allocation on timeouts only.
		st.revoked = true
		keep = rep != nil && rep.Abandoned
	}
	var ctxErr error
	if !ran.Before(deadline) {
		ctxErr = context.DeadlineExceeded
	}
	s.tenantRan(tn, rep)
	if rep != nil {
		rm.observePeak(rep.PeakMemoryBytes)
		if v.metered {
			rm.fuel.Add(float64(rep.FuelUsed))
		}
		if rep.Network != nil {
			rm.observeNet(rep.Network)
			s.auditNet(rt, v, tn.Name(), rep.Network, id, cs)
		}
	}

	if s.monitor != nil && errors.Is(context.Cause(ctx), ErrQuarantined) {
		// Stopped by an isolation: the isolate action audited it.
		s.quarantinedReply(w, r, rt, rm, id, start)
		return
	}
	// A client that went away still gets its run judged, audited, logged
	// and counted; only the response is not written.
	gone := r.Context().Err() != nil
	if gone && s.clientClosed(v, rep, err, ctxErr) {
		// The client hung up while a well-behaved guest ran, and the
		// cancellation stopped it: the client's doing, not the route's.
		// Its own outcome and metric; no violation, no audit record.
		rt.requests.Add(1)
		s.metrics.clientGone.WithLabelValues(rt.label).Inc()
		if tr != nil {
			tr.rec.Outcome = "client_closed"
		}
		what := "client_closed"
		if s.forced.Load() {
			what = "shutdown" // stopped at the shutdown deadline
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "run stopped: "+strings.ReplaceAll(what, "_", " "), slog.String("request_id", id), slog.String("tenant", tn.Name()),
			slog.String("route", rt.label), slog.String("outcome", what))
		return
	}
	if st.stdout.starved {
		// The guest's output could not get body budget: the gateway is
		// short of memory, the guest did nothing wrong.
		s.refuse(rt, "body_budget")
		if tr != nil {
			tr.rec.Outcome, tr.rec.Kind = "refused", "body_budget"
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "response refused: body budget spent", slog.String("request_id", id), slog.String("route", rt.label),
			slog.String("tenant", tn.Name()))
		if gone {
			rt.requests.Add(1)
			return
		}
		h["Retry-After"] = []string{"1"}
		s.reject(w, r, rm, rt, http.StatusServiceUnavailable, id, start)
		return
	}
	status, kind, detail, evType := s.judge(rep, err, ctxErr, st)
	if tr != nil {
		tr.rec.Outcome, tr.rec.Kind = evType, kind
	}
	if status != 0 {
		if gone {
			detail += " (client gone)"
		}
		if probe == nil {
			now := time.Now()
			v.stats.add(status, evType, now, now.Sub(start))
		}
		ev := audit.Event{Type: evType, Route: rt.label, Tenant: tn.Name(), Module: v.ref, SHA256: v.sha,
			RequestID: id, Client: cs, Kind: kind, Detail: detail}
		if kind == string(sandbox.KindQuota) {
			h["Retry-After"] = []string{retryAfter(tn.RetryAfter())}
		}
		s.event(ev)
		if len(st.stderr.b) > 0 {
			s.log.LogAttrs(ctx, slog.LevelWarn, "guest stderr", slog.String("request_id", id), slog.String("tenant", tn.Name()),
				slog.String("route", rt.label), slog.String("stderr", string(st.stderr.b)))
		}
		if evType == audit.TypeViolation {
			rt.violations.Add(1)
			s.metrics.violations.WithLabelValues(rt.label, kind).Inc()
		}
		s.metrics.guestErrors.WithLabelValues(rt.label, kind).Inc()
		if s.monitor != nil && probe == nil {
			s.finished(rt, v, rep, id, ev.Client, status, kind, evType, start)
		}
		if gone {
			rt.requests.Add(1)
			rt.errors.Add(1)
			return
		}
		s.reject(w, r, rm, rt, status, id, start)
		return
	}
	if gone {
		rt.requests.Add(1)
		return
	}
	// One clock reading for the version's window, the duration metric and
	// the body's first write deadline (a clock read costs ~0.1 µs here).
	now := time.Now()
	if probe == nil {
		v.stats.add(st.resp.Status, "", now, now.Sub(start))
	}
	s.respond(w, r, rt, &st.resp, id, start, now)
	if s.monitor != nil && probe == nil {
		s.finished(rt, v, rep, id, "", st.resp.Status, "", "", start)
	}
}

// clientClosed reports whether a run whose client went away ended only
// because of that: a timeout the sandbox reported for the cancelled
// context, before the request's deadline and before the route's own
// timeout. A guest that broke any limit, trapped, answered badly or ran
// past its timeout is judged as usual, client gone or not.
func (s *Server) clientClosed(v *Version, rep *sandbox.Report, err, ctxErr error) bool {
	if err != nil || rep == nil || ctxErr != nil || rep.Outcome != sandbox.OutcomeViolation ||
		rep.Violation == nil || rep.Violation.Kind != sandbox.KindTimeout {
		return false
	}
	if lim := v.timeout; lim > 0 && time.Duration(rep.DurationMS*float64(time.Millisecond)) >= lim {
		return false
	}
	return true
}

// run runs the guest in the slot the caller took, and frees the slot even
// if Run were to panic. ran is when the run returned.
// A non-nil stdin (a streamed request body) replaces the buffered one; the
// run then may block on it, and the sandbox runs the guest under its
// watchdog.
func (s *Server) run(ctx context.Context, rt *route, v *Version, st *reqState, deadline time.Time, stdin io.Reader) (rep *sandbox.Report, ran time.Time, err error) {
	rm := rt.m
	rm.inFlight.Inc()
	start := time.Now()
	defer func() {
		ran = time.Now()
		rm.instance.Observe(ran.Sub(start).Seconds())
		rm.inFlight.Dec()
		<-rt.sem
	}()
	in := sandbox.Invocation{
		Name:     v.name,
		Env:      st.env,
		Stdin:    &st.stdin,
		Stdout:   &st.stdout,
		Stderr:   &st.stderr,
		Deadline: deadline,
		Timing:   st.timing,
		// The streams are the pooled in-memory buffers above.
		NonBlocking: true,
		Quota:       st.quota,
		Outbound:    st.outbound,
	}
	if stdin != nil {
		in.Stdin, in.NonBlocking = stdin, false
	}
	rep, err = v.mod.Run(ctx, in)
	return // ran is set by the deferred function
}

// judge turns a run into a failure status (0 when the guest's response is
// valid and parsed into st.resp), the kind and detail for the log and the
// audit event type.
func (s *Server) judge(rep *sandbox.Report, err, ctxErr error, st *reqState) (status int, kind, detail, evType string) {
	switch {
	case err != nil:
		return http.StatusInternalServerError, "host_error", err.Error(), audit.TypeHostError
	case rep == nil:
		return http.StatusInternalServerError, "host_error", "the sandbox returned no report", audit.TypeHostError
	case rep.Outcome == sandbox.OutcomeViolation && rep.Violation != nil && rep.Violation.Kind == sandbox.KindQuota:
		// The tenant's fuel per second is spent: the tenant's doing, to
		// retry later (docs/tenancy.md).
		return http.StatusTooManyRequests, string(rep.Violation.Kind), rep.Violation.Detail, audit.TypeQuota
	case rep.Outcome == sandbox.OutcomeViolation && rep.Violation != nil:
		if rep.Violation.Kind == sandbox.KindTimeout || errors.Is(ctxErr, context.DeadlineExceeded) {
			return http.StatusGatewayTimeout, string(rep.Violation.Kind), rep.Violation.Detail, audit.TypeViolation
		}
		return http.StatusBadGateway, string(rep.Violation.Kind), rep.Violation.Detail, audit.TypeViolation
	case rep.Outcome == sandbox.OutcomeTrap:
		return http.StatusBadGateway, "trap", rep.Trap, audit.TypeTrap
	case rep.Outcome != sandbox.OutcomeExit:
		d := string(rep.Outcome)
		if rep.Violation != nil {
			d += ": " + rep.Violation.Error()
		}
		return http.StatusBadGateway, string(rep.Outcome), d, audit.TypeBadResponse
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, string(sandbox.KindTimeout), "request deadline passed", audit.TypeViolation
	case rep.ExitCode != 0:
		return http.StatusBadGateway, "exit_status", "guest exited with status " + strconv.Itoa(rep.ExitCode), audit.TypeBadResponse
	case st.stdout.over:
		// Name the part that overflowed: the header block or the body.
		var pe *wagi.Error
		if errors.As(wagi.Parse(st.stdout.b, s.respLim, &st.resp), &pe) && pe.Kind != wagi.KindNoHeaderBlock && pe.Kind != wagi.KindBodyTooLarge {
			return http.StatusBadGateway, pe.Kind, pe.Error(), audit.TypeBadResponse
		}
		return http.StatusBadGateway, wagi.KindBodyTooLarge, "stdout exceeded " + strconv.Itoa(st.stdout.max) + " bytes", audit.TypeBadResponse
	}
	if perr := wagi.Parse(st.stdout.b, s.respLim, &st.resp); perr != nil {
		var pe *wagi.Error
		k := "bad_response"
		if errors.As(perr, &pe) {
			k = pe.Kind
		}
		return http.StatusBadGateway, k, perr.Error(), audit.TypeBadResponse
	}
	return 0, "", "", ""
}

// respond writes a validated guest response; now is the time it is
// measured at.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, rt *route, resp *wagi.Response, id string, start, now time.Time) {
	h := w.Header()
	idv := h["X-Request-Id"] // set first for early errors; the gateway's value wins
	delete(h, "X-Request-Id")
	// One backing array for the fields' value slices and Content-Length's:
	// one allocation, not one per field.
	vals := make([]string, len(resp.Header)+1)
	for k, f := range resp.Header {
		if vs, ok := h[f.Name]; ok {
			h[f.Name] = append(vs, f.Value) // a repeated name
			continue
		}
		vals[k] = f.Value
		h[f.Name] = vals[k : k+1 : k+1]
	}
	contentLength := vals[len(vals)-1 : len(vals) : len(vals)]
	if len(idv) != 1 || idv[0] != id {
		idv = []string{id}
	}
	h["X-Request-Id"] = idv
	if len(resp.Dropped) > 0 {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "dropped guest headers", slog.String("route", rt.label), slog.String("tenant", tenantOf(r)),
			slog.String("request_id", id), slog.Any("headers", resp.Dropped))
	}
	s.setSecurity(h)
	// No body with 204 and 304 (RFC 9110 15.3.5, 15.4.5) nor with 205
	// (15.3.6: "Content-Length: 0"); the guest's bytes are not sent.
	bodyAllowed := r.Method != http.MethodHead && resp.Status != http.StatusNoContent &&
		resp.Status != http.StatusNotModified && resp.Status != http.StatusResetContent
	if _, ok := h["Content-Type"]; !ok && len(resp.Body) > 0 && resp.Status != http.StatusResetContent {
		h["Content-Type"] = octetStream
	}
	switch {
	case resp.Status == http.StatusResetContent:
		contentLength[0] = "0"
		h["Content-Length"] = contentLength
	case bodyAllowed || r.Method == http.MethodHead:
		contentLength[0] = strconv.Itoa(len(resp.Body))
		h["Content-Length"] = contentLength
	}
	w.WriteHeader(resp.Status)
	if bodyAllowed {
		s.writeBody(w, r, resp.Body, now)
	}
	rt.requests.Add(1)
	rt.m.code(resp.Status)
	rt.m.duration.Observe(now.Sub(start).Seconds())
	s.access(r, rt.label, resp.Status, id, start)
}

// writeChunk is how much of a response must leave within write_timeout.
const writeChunk = 64 << 10

// writeBody writes b in chunks, each with a write deadline of
// write_timeout: a client that reads slowly keeps its connection, one that
// stops reading is dropped within write_timeout and its buffers (and body
// budget) are freed. now is the time of the first chunk's deadline.
func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, b []byte, now time.Time) {
	tc := connOf(r) // its deadline is what a ResponseController would set, without the allocation
	for first := true; len(b) > 0; first = false {
		n := min(len(b), writeChunk)
		if tc != nil {
			if !first {
				now = time.Now()
			}
			_ = tc.Conn.SetWriteDeadline(now.Add(s.cfg.Response.WriteTimeout))
		}
		if _, err := w.Write(b[:n]); err != nil {
			return
		}
		b = b[n:]
	}
}

// access logs one request at debug level; the check keeps it free when off.
func (s *Server) access(r *http.Request, route string, status int, id string, start time.Time) {
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("request_id", id), slog.String("tenant", tenantOf(r)),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)))
}

var (
	octetStream = []string{"application/octet-stream"}
	connClose   = []string{"close"}
)

// defaultAllow is the Allow field of a 405 from a route that names no
// methods: the usual ones (the guest decides what it does with each).
const defaultAllow = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

// methodAllowed reports whether rt (nil: no route matched) takes method:
// the route's methods when it names some, otherwise any but CONNECT and
// TRACE (RFC 9110 9.3.6 and 9.3.8: a CONNECT answered 2xx becomes a
// tunnel, a TRACE echoes credentials).
func methodAllowed(rt *route, method string) bool {
	if rt != nil && len(rt.cfg.Methods) > 0 {
		return slices.Contains(rt.cfg.Methods, method)
	}
	return method != http.MethodConnect && method != http.MethodTrace
}

func allowList(rt *route) string {
	if rt != nil && len(rt.cfg.Methods) > 0 {
		return strings.Join(rt.cfg.Methods, ", ")
	}
	return defaultAllow
}

// hasDotSegment reports whether the decoded path has a "." or ".." segment
// (RFC 3986 3.3), percent-encoded ones included since the path is decoded.
func hasDotSegment(p string) bool {
	for len(p) > 0 {
		i := strings.IndexByte(p, '/')
		seg := p
		if i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func (s *Server) setSecurity(h http.Header) {
	for _, p := range s.security {
		h[p.name] = p.value
	}
}

// reject answers with a generic error body that names only the status and
// the request ID.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, rm *routeMetrics, rt *route, status int, id string, start time.Time) {
	h := w.Header()
	s.setSecurity(h)
	h["Content-Type"] = textPlain
	h["Cache-Control"] = noStore
	body := strconv.Itoa(status) + " " + http.StatusText(status) + " (request " + id + ")\n"
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
	if rt != nil {
		rt.requests.Add(1)
		if status >= 500 {
			rt.errors.Add(1)
		}
	}
	rm.code(status)
	rm.duration.Observe(time.Since(start).Seconds())
	s.access(r, rm.label, status, id, start)
}

var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noStore   = []string{"no-store"}
)

func (s *Server) refuse(rt *route, reason string) {
	rt.refused.Add(1)
	s.metrics.refused.WithLabelValues(rt.label, reason).Inc()
}

// appendEnv sets st.env to the route's fixed variables and the request's
// CGI variables. The request's are laid out in st.envBuf and become one
// string, sliced: one allocation instead of one per variable.
func (s *Server) appendEnv(st *reqState, r *http.Request, rt *route, v *Version, pathInfo string, client netip.Addr) {
	b, ends := st.envBuf[:0], st.envEnd[:0]
	add := func(parts ...string) {
		for _, p := range parts {
			b = append(b, p...)
		}
		ends = append(ends, len(b))
	}
	add("REQUEST_METHOD=", r.Method)
	add("PATH_INFO=", pathInfo)
	add("X_RAW_PATH_INFO=", rawPathInfo(r, rt))
	add("QUERY_STRING=", r.URL.RawQuery)
	if st.bodyLen >= 0 {
		// RFC 3875 4.1.2: set if and only if the request has a body.
		b = append(b, "CONTENT_LENGTH="...)
		b = strconv.AppendInt(b, st.bodyLen, 10)
		ends = append(ends, len(b))
	}
	b = client.AppendTo(append(b, "REMOTE_ADDR="...))
	ends = append(ends, len(b))
	add("SERVER_PROTOCOL=", r.Proto)
	ct := ""
	if v := r.Header["Content-Type"]; len(v) > 0 {
		ct = v[0]
	}
	add("CONTENT_TYPE=", ct)
	host, port := hostPort(r)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	add("SERVER_NAME=", host)
	add("SERVER_PORT=", port)
	add("X_FULL_URL=", scheme, "://", r.Host, r.URL.RequestURI())
	for _, p := range rt.pass {
		if vs := r.Header[p.canon]; len(vs) > 0 {
			b = append(b, p.env...)
			for i, v := range vs {
				if i > 0 {
					b = append(b, p.sep...)
				}
				b = append(b, v...)
			}
			ends = append(ends, len(b))
		}
	}
	all := string(b)
	env := append(st.env[:0], v.env...)
	start := 0
	for _, end := range ends {
		env = append(env, all[start:end])
		start = end
	}
	st.env, st.envBuf, st.envEnd = env, b, ends
}

// rawPathInfo is the path below the route as the client sent it (percent
// encoding kept). The route's part of the escaped path is found by decoding
// it until len(route path) bytes came out, so an encoded route part
// (/%65cho/x for the route /echo) is cut as well as a plain one.
func rawPathInfo(r *http.Request, rt *route) string {
	raw := r.URL.EscapedPath()
	i, decoded := 0, 0
	for decoded < len(rt.cfg.Path) && i < len(raw) {
		if raw[i] == '%' && i+2 < len(raw) {
			i += 3
		} else {
			i++
		}
		decoded++
	}
	return raw[i:]
}

func hostPort(r *http.Request) (string, string) {
	if strings.IndexByte(r.Host, ':') >= 0 { // without one, SplitHostPort fails, allocating its error
		if h, p, err := net.SplitHostPort(r.Host); err == nil {
			return h, p
		}
	}
	if tc := connOf(r); tc != nil {
		return r.Host, tc.localPort() // kept per connection: no allocation per request
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(la.String()); err == nil {
			return r.Host, p
		}
	}
	return r.Host, ""
}

// headerSize counts request header lines and bytes as they were on the wire
// ("Name: value\r\n"), the Host line included.
func headerSize(r *http.Request) (n, size int) {
	for k, vs := range r.Header {
		for _, v := range vs {
			n++
			size += len(k) + len(v) + 4
		}
	}
	return n + 1, size + len("Host: \r\n") + len(r.Host)
}

func retryAfter(d time.Duration) string {
	sec := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(sec, 1), 10)
}

// requestID returns a random request ID: 96 bits from crypto/rand, so IDs
// say nothing about how many requests the gateway served or when (a
// counter would), and cannot be guessed.
func (s *Server) requestID() string {
	var b [12]byte
	rand.Read(b[:])
	var out [24]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg})
}

// RouteInfo is one entry of GET /v1/routes. Module and SHA256 are the
// active version's.
type RouteInfo struct {
	Route          string        `json:"route"`
	Module         string        `json:"module"`
	SHA256         string        `json:"sha256"`
	MaxConcurrency int           `json:"max_concurrency"`
	InFlight       int           `json:"in_flight"`
	Requests       uint64        `json:"requests"`
	Errors         uint64        `json:"errors"`
	Violations     uint64        `json:"violations"`
	Refused        uint64        `json:"refused"`
	Versions       []VersionInfo `json:"versions"`
}

// VersionInfo is a version a route serves, or (added by the deployment
// layer) one it keeps: State is active, canary, previous or failed.
type VersionInfo struct {
	State    string `json:"state"`
	Module   string `json:"module"`
	SHA256   string `json:"sha256"`
	Percent  int    `json:"percent,omitempty"`
	InFlight int64  `json:"in_flight"`
	// Deployment is the deployment that made it what it is, when one did.
	Deployment string `json:"deployment,omitempty"`
}

// Routes returns the routes with their counters and the versions they
// serve, in configuration order.
func (s *Server) Routes() []RouteInfo {
	t := s.tab.Load()
	out := make([]RouteInfo, 0, len(t.routes))
	for _, r := range t.routes {
		vs := r.vs.Load()
		ri := RouteInfo{
			Route: r.label, Module: vs.active.ref, SHA256: vs.active.sha, MaxConcurrency: r.cfg.MaxConcurrency,
			InFlight: len(r.sem), Requests: r.requests.Load(), Errors: r.errors.Load(),
			Violations: r.violations.Load(), Refused: r.refused.Load(),
		}
		ri.Versions = append(ri.Versions, VersionInfo{State: "active", Module: vs.active.ref, SHA256: vs.active.sha,
			Percent: 100 - int(vs.percent), InFlight: vs.active.inFlight()})
		if vs.canary != nil {
			ri.Versions = append(ri.Versions, VersionInfo{State: "canary", Module: vs.canary.ref, SHA256: vs.canary.sha,
				Percent: int(vs.percent), InFlight: vs.canary.inFlight()})
		}
		out = append(out, ri)
	}
	return out
}

func (s *Server) serveRoutes(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(struct {
		Routes []RouteInfo `json:"routes"`
	}{s.Routes()})
}

// auditNet writes one audit record per outbound request the network
// capability refused (the report lists the first 32 of a run; the audit
// log folds repeats into aggregated records).
func (s *Server) auditNet(rt *route, v *Version, tenant string, n *sandbox.NetworkReport, id, client string) {
	listed := uint64(0)
	for _, d := range n.Denials {
		detail := d.Detail
		if d.Host != "" && !strings.Contains(detail, d.Host) {
			detail = d.Host + ": " + detail
		}
		s.event(audit.Event{Type: audit.TypeNetDenied, Route: rt.label, Tenant: tenant, Module: v.ref, SHA256: v.sha,
			RequestID: id, Client: client, Kind: d.Reason, Detail: detail})
		listed++
	}
	if total := n.DeniedTotal(); total > listed {
		s.event(audit.Event{Type: audit.TypeNetDenied, Route: rt.label, Tenant: tenant, Module: v.ref, SHA256: v.sha,
			RequestID: id, Client: client, Kind: "more",
			Detail: strconv.FormatUint(total-listed, 10) + " more refused requests in this run"})
	}
}

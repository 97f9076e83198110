package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
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
	body   bytes.Buffer
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
}

// Buffers above this are dropped instead of pooled, so one large request
// does not pin memory.
const maxPooledBuffer = 256 << 10

func (s *Server) putState(st *reqState) {
	if st.revoked {
		return // the guest of an abandoned run may still use its buffers
	}
	if st.body.Cap() > maxPooledBuffer {
		st.body = bytes.Buffer{}
	}
	st.body.Reset()
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
	s.states.Put(st)
}

// capBuffer collects a guest stream up to max bytes. Past it, writes fail
// (the guest sees EIO) and over is set.
type capBuffer struct {
	b    []byte
	max  int
	over bool
}

var errResponseTooLarge = errors.New("response exceeds the gateway's cap")

func (c *capBuffer) reset(max int) { c.b, c.max, c.over = c.b[:0], max, false }

func (c *capBuffer) Write(p []byte) (int, error) {
	room := c.max - len(c.b)
	if len(p) <= room {
		c.b = append(c.b, p...)
		return len(p), nil
	}
	c.b = append(c.b, p[:max(room, 0)]...)
	c.over = true
	return max(room, 0), errResponseTooLarge
}

// stderrKeep is how much of a guest's stderr is kept for the log.
const stderrKeep = 2048

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := s.requestID()
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

	if ok, wait := s.limiter.allow(client, start); !ok {
		s.metrics.rateLimited.Inc()
		h["Retry-After"] = []string{retryAfter(wait)}
		s.reject(w, r, s.unmatched, nil, http.StatusTooManyRequests, id, start)
		return
	}
	rt, pathInfo := s.match(r.URL.Path)
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

	deadline := start.Add(s.cfg.Request.Timeout)
	st := s.states.Get().(*reqState)
	defer s.putState(st)

	// The body, whole and capped, before a slot is taken: a slow upload
	// must not hold an instance slot. The read deadline is the request's.
	if r.Body != nil && r.Body != http.NoBody {
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(deadline)
		_, err := st.body.ReadFrom(io.LimitReader(r.Body, s.cfg.Request.MaxBody+1))
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.refuse(rt, "timeout")
			s.reject(w, r, rm, rt, http.StatusGatewayTimeout, id, start)
			return
		case err != nil:
			s.reject(w, r, rm, rt, http.StatusBadRequest, id, start)
			return
		case int64(st.body.Len()) > s.cfg.Request.MaxBody:
			s.refuse(rt, "body_limit")
			s.reject(w, r, rm, rt, http.StatusRequestEntityTooLarge, id, start)
			return
		}
	}

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
	ctx := r.Context()
	s.appendEnv(st, r, rt, pathInfo, client)
	st.stdin.Reset(st.body.Bytes())
	st.stdout.reset(s.respLim.MaxHeaderBytes + s.respLim.MaxBody)
	st.stderr.reset(stderrKeep)
	rep, err := s.run(ctx, rt, st, deadline)
	if rep == nil || rep.Abandoned || (rep.Violation != nil && rep.Violation.Kind == sandbox.KindTimeout) {
		// Run may have returned while the guest still runs (the sandbox
		// abandoned it): never hand its stdin and buffers to another
		// request. Any timeout counts, whoever reported it; the cost is an
		// allocation on timeouts only.
		st.revoked = true
	}
	var ctxErr error
	if !time.Now().Before(deadline) {
		ctxErr = context.DeadlineExceeded
	}
	if rep != nil {
		rm.observePeak(rep.PeakMemoryBytes)
		if rt.metered {
			rm.fuel.Add(float64(rep.FuelUsed))
		}
	}

	// A client that went away still gets its run judged, audited, logged
	// and counted; only the response is not written.
	gone := r.Context().Err() != nil
	status, kind, detail, evType := s.judge(rep, err, ctxErr, st)
	if status != 0 {
		if gone {
			detail += " (client gone)"
		}
		ev := audit.Event{Type: evType, Route: rt.label, Module: rt.cfg.Module, SHA256: rt.sha,
			RequestID: id, Client: client.String(), Kind: kind, Detail: detail}
		s.event(ev)
		if len(st.stderr.b) > 0 {
			s.log.LogAttrs(ctx, slog.LevelWarn, "guest stderr", slog.String("request_id", id),
				slog.String("route", rt.label), slog.String("stderr", string(st.stderr.b)))
		}
		if evType == audit.TypeViolation {
			rt.violations.Add(1)
			s.metrics.violations.WithLabelValues(rt.label, kind).Inc()
		}
		s.metrics.guestErrors.WithLabelValues(rt.label, kind).Inc()
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
	s.respond(w, r, rt, &st.resp, id, start)
}

// run runs the guest in the slot the caller took, and frees the slot even
// if Run were to panic.
func (s *Server) run(ctx context.Context, rt *route, st *reqState, deadline time.Time) (*sandbox.Report, error) {
	rm := rt.m
	rm.inFlight.Inc()
	start := time.Now()
	defer func() {
		rm.instance.Observe(time.Since(start).Seconds())
		rm.inFlight.Dec()
		<-rt.sem
	}()
	return rt.mod.Run(ctx, sandbox.Invocation{
		Name:     rt.name,
		Env:      st.env,
		Stdin:    &st.stdin,
		Stdout:   &st.stdout,
		Stderr:   &st.stderr,
		Deadline: deadline,
		// The streams are the pooled in-memory buffers above.
		NonBlocking: true,
	})
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
	case rep.Outcome == sandbox.OutcomeViolation && rep.Violation != nil:
		if rep.Violation.Kind == sandbox.KindTimeout || errors.Is(ctxErr, context.DeadlineExceeded) {
			return http.StatusGatewayTimeout, rep.Violation.Kind, rep.Violation.Detail, audit.TypeViolation
		}
		return http.StatusBadGateway, rep.Violation.Kind, rep.Violation.Detail, audit.TypeViolation
	case rep.Outcome == sandbox.OutcomeTrap:
		return http.StatusBadGateway, "trap", rep.Trap, audit.TypeTrap
	case rep.Outcome != sandbox.OutcomeExit:
		d := rep.Outcome
		if rep.Violation != nil {
			d += ": " + rep.Violation.Error()
		}
		return http.StatusBadGateway, rep.Outcome, d, audit.TypeBadResponse
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, sandbox.KindTimeout, "request deadline passed", audit.TypeViolation
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

// respond writes a validated guest response.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, rt *route, resp *wagi.Response, id string, start time.Time) {
	h := w.Header()
	delete(h, "X-Request-Id") // set first for early errors; the gateway's value wins
	for _, f := range resp.Header {
		h[f.Name] = append(h[f.Name], f.Value)
	}
	h["X-Request-Id"] = []string{id}
	if len(resp.Dropped) > 0 {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "dropped guest headers", slog.String("route", rt.label),
			slog.String("request_id", id), slog.Any("headers", resp.Dropped))
	}
	for _, p := range s.security {
		h[p.name] = p.value
	}
	bodyAllowed := r.Method != http.MethodHead && resp.Status != http.StatusNoContent && resp.Status != http.StatusNotModified
	if _, ok := h["Content-Type"]; !ok && len(resp.Body) > 0 {
		h["Content-Type"] = octetStream
	}
	if bodyAllowed || r.Method == http.MethodHead {
		h["Content-Length"] = []string{strconv.Itoa(len(resp.Body))}
	}
	w.WriteHeader(resp.Status)
	if bodyAllowed {
		w.Write(resp.Body)
	}
	rt.requests.Add(1)
	rt.m.code(resp.Status)
	rt.m.duration.Observe(time.Since(start).Seconds())
	s.access(r, rt.label, resp.Status, id, start)
}

// access logs one request at debug level; the check keeps it free when off.
func (s *Server) access(r *http.Request, route string, status int, id string, start time.Time) {
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("request_id", id),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)))
}

var (
	octetStream = []string{"application/octet-stream"}
	connClose   = []string{"close"}
)

// reject answers with a generic error body that names only the status and
// the request ID.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, rm *routeMetrics, rt *route, status int, id string, start time.Time) {
	h := w.Header()
	for _, p := range s.security {
		h[p.name] = p.value
	}
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
func (s *Server) appendEnv(st *reqState, r *http.Request, rt *route, pathInfo string, client netip.Addr) {
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
	b = append(b, "CONTENT_LENGTH="...)
	b = strconv.AppendInt(b, int64(st.body.Len()), 10)
	ends = append(ends, len(b))
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
					b = append(b, ", "...)
				}
				b = append(b, v...)
			}
			ends = append(ends, len(b))
		}
	}
	all := string(b)
	env := append(st.env[:0], rt.env...)
	start := 0
	for _, end := range ends {
		env = append(env, all[start:end])
		start = end
	}
	st.env, st.envBuf, st.envEnd = env, b, ends
}

func rawPathInfo(r *http.Request, rt *route) string {
	raw := r.URL.EscapedPath()
	if strings.HasPrefix(raw, rt.cfg.Path) {
		return raw[len(rt.cfg.Path):]
	}
	return raw
}

func hostPort(r *http.Request) (string, string) {
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		return h, p
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

// requestID returns a process-unique request ID: a random per-process prefix
// and a sequence number.
func (s *Server) requestID() string {
	var b [32]byte
	out := append(b[:0], s.idPrefix...)
	out = append(out, '-')
	out = strconv.AppendUint(out, s.idSeq.Add(1), 10)
	return string(out)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg})
}

// RouteInfo is one entry of GET /v1/routes.
type RouteInfo struct {
	Route          string `json:"route"`
	Module         string `json:"module"`
	SHA256         string `json:"sha256"`
	MaxConcurrency int    `json:"max_concurrency"`
	InFlight       int    `json:"in_flight"`
	Requests       uint64 `json:"requests"`
	Errors         uint64 `json:"errors"`
	Violations     uint64 `json:"violations"`
	Refused        uint64 `json:"refused"`
}

// Routes returns the routes with their counters, in configuration order.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.routes))
	for _, r := range s.routes {
		out = append(out, RouteInfo{
			Route: r.label, Module: r.cfg.Module, SHA256: r.sha, MaxConcurrency: r.cfg.MaxConcurrency,
			InFlight: len(r.sem), Requests: r.requests.Load(), Errors: r.errors.Load(),
			Violations: r.violations.Load(), Refused: r.refused.Load(),
		})
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

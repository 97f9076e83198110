// Package gateway serves WebAssembly modules as HTTP handlers, one fresh
// instance per request, through the WAGI handler ABI (CGI over WASI): any
// WASI preview1 command module, in any language, is a handler.
//
// The request's metadata reaches the guest as CGI environment variables, its
// body as stdin; the guest's stdout is a CGI response (a header block, a
// blank line, the body). Where WAGI trusted the guest and the client, the
// gateway does not: request bodies, header counts and sizes and the whole
// request's time are capped; only allowlisted request headers reach a
// guest, credentials only when a route names them, the host's environment
// never; the guest's response headers are validated (no CR, LF or NUL, no
// invalid names, no framing or hop-by-hop fields, a valid status) and a
// guest that traps, breaks a limit or answers badly gives the client a
// generic error carrying a request ID, never the guest's stderr or trap
// message, which go to the log and the audit trail.
//
// Per route there is a concurrency cap (503 when full, no queue); per client
// a token-bucket rate limit (429). Operations live on a separate admin
// listener: /healthz, /readyz, /metrics (Prometheus) and /v1/routes.
//
// See docs/gateway.md for the design and its costs.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway/internal/wagi"
	"github.com/wasmward/wasmward/internal/tenant"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// module is what the gateway needs of a compiled module. *sandbox.Module
// satisfies it; unit tests substitute fakes.
type module interface {
	Run(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error)
	SHA256() string
	Close(ctx context.Context) error
}

// Options are the collaborators of a Server. The zero value works: a
// sandbox runtime of its own, the default logger, no audit file.
type Options struct {
	// Runtime compiles and runs the modules. When nil, New creates one with
	// sandbox.NewConfig() (with WithBackgroundCPU as the configuration
	// says: Tenancy.BackgroundCPU) and Close closes it. A Runtime given here
	// is used as it was configured.
	Runtime *sandbox.Runtime
	// Logger receives structured logs; nil uses slog.Default().
	Logger *slog.Logger
	// Audit receives security events; nil sends them to Logger only.
	Audit *audit.Log
	// Verify, when set, is called with each route's module before it is
	// compiled; an error refuses the module (audited) and fails New. This is
	// where signature verification (`serve --trust`) plugs in. A non-nil
	// policy it returns (an attested one) replaces the route's.
	Verify func(ctx context.Context, r Route) (*policy.Policy, error)
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin listener.
	Pprof bool
	// Tracer, when set, records the phases of each request (spans for
	// queue and admission, instantiation, the run and the response).
	Tracer Tracer

	// compile replaces the sandbox in unit tests.
	compile func(ctx context.Context, bin []byte, p policy.Policy) (module, error)
}

// Server is a running gateway configuration. Its handlers are safe for
// concurrent use.
type Server struct {
	cfg     *Config
	log     *slog.Logger
	audit   *audit.Log
	rt      *sandbox.Runtime
	ownsRT  bool
	pprof   bool
	metrics *metrics
	tracer  Tracer
	// observers receive every security event after it is recorded.
	observers []func(audit.Event)

	compile compileFunc
	// fakeCompile: unit tests compile with a fake; the scan gate, which
	// needs real modules, is off.
	fakeCompile bool
	verify      func(ctx context.Context, r Route) (*policy.Policy, error)
	verifyMu    sync.Mutex // Options.Verify is called one route at a time
	// tab is the route table; tabMu serializes its changes (requests only
	// load it).
	tab   atomic.Pointer[table]
	tabMu sync.Mutex
	// live are the versions whose compiled module is open.
	liveMu sync.Mutex
	live   map[*Version]struct{}
	// adminExt are handlers added to the admin listener (HandleAdmin).
	adminExt []adminHandler
	// monitor is the alert engine's hook (SetMonitor); nil: none.
	monitor Monitor

	unmatched *routeMetrics
	limiter   *clientLimiter
	security  []headerPair
	respLim   wagi.Limits
	states    sync.Pool

	budget *bodyBudget
	// ten is the tenants' admission (docs/tenancy.md).
	ten   *tenancy
	ready atomic.Bool
	// draining: responses carry Connection: close (the listener is closed).
	draining atomic.Bool
	// forced: the shutdown deadline passed and remaining runs were stopped.
	forced atomic.Bool
	// inflight counts requests inside the public handler.
	inflight atomic.Int64
	// stopMu guards stopped: once the server_stop record is written, no
	// other record follows it in the audit log.
	stopMu  sync.Mutex
	stopped bool

	closeOnce sync.Once
}

type headerPair struct {
	name  string
	value []string
}

// route is one configured route; what it serves is its version set.
type route struct {
	cfg     Route // as configured, without the module's bytes
	origSHA string
	label   string // the route as written, for metrics and logs
	vs      atomic.Pointer[versionSet]
	rr      atomic.Uint64 // spreads canary requests
	retired atomic.Bool   // replaced by a reload
	sem     chan struct{}
	tenant  *tenant.Tenant // the route's tenant: nil when the request decides
	pass    []passHeader
	m       *routeMetrics

	requests, errors, violations, refused atomic.Uint64
}

type adminHandler struct {
	pattern string
	h       http.Handler
}

type passHeader struct {
	canon string // canonical header name
	env   string // "HTTP_NAME="
	sep   string // between repeated fields: "; " for Cookie (RFC 6265 5.4), else ", "
}

// New compiles every route's module and returns a Server ready to serve.
// Nothing listens yet. Every module is checked (Options.Verify) and
// compiled before New returns, so a bad module fails startup, not a request.
// Modules are compiled up to GOMAXPROCS at a time; Options.Verify is
// called for one route at a time.
func New(ctx context.Context, cfg *Config, opts Options) (*Server, error) {
	s := &Server{
		cfg:       cfg,
		log:       opts.Logger,
		audit:     opts.Audit,
		rt:        opts.Runtime,
		pprof:     opts.Pprof,
		tracer:    opts.Tracer,
		metrics:   newMetrics(),
		limiter:   newClientLimiter(cfg.RateLimit),
		respLim:   wagi.Limits{MaxHeaderBytes: cfg.Response.MaxHeaderBytes, MaxHeaders: cfg.Response.MaxHeaders, MaxBody: cfg.Response.MaxBody},
		budget:    newBodyBudget(cfg.Request.BodyBudget),
		unmatched: nil,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.unmatched = s.metrics.forRoute("unmatched")
	ten, err := newTenancy(cfg.Tenancy, s.metrics.reg)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	s.ten = ten
	if s.audit != nil {
		s.metrics.registerAuditMetrics(s.audit)
	}
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wasmward_body_budget_bytes", Help: "Bytes of request and response bodies buffered now, against request.body_budget.",
	}, func() float64 { return float64(s.budget.inUse()) }))
	for k, v := range cfg.SecurityHeaders {
		s.security = append(s.security, headerPair{http.CanonicalHeaderKey(k), []string{v}})
	}
	sort.Slice(s.security, func(i, j int) bool { return s.security[i].name < s.security[j].name })
	s.states.New = func() any { return new(reqState) }

	s.compile, s.verify, s.live = opts.compile, opts.Verify, map[*Version]struct{}{}
	s.fakeCompile = opts.compile != nil
	if s.compile == nil {
		if s.rt == nil {
			rt, err := sandbox.New(ctx, sandbox.NewConfig().WithBackgroundCPU(cfg.Tenancy.BackgroundCPU))
			if err != nil {
				return nil, fmt.Errorf("start sandbox runtime: %w", err)
			}
			s.rt, s.ownsRT = rt, true
		}
		s.compile = func(ctx context.Context, bin []byte, p policy.Policy) (module, error) {
			return compileHandler(ctx, s.rt, bin, p)
		}
	}
	s.tab.Store(newTable(nil))
	routes, err := s.newRoutes(ctx, cfg.Routes)
	if err != nil {
		s.Close(ctx)
		return nil, err
	}
	s.tab.Store(newTable(routes))
	s.event(audit.Event{Type: audit.TypeConfigLoaded, Module: cfg.Source, Detail: fmt.Sprintf("%d routes", len(routes))})
	s.ready.Store(true)
	return s, nil
}

// match finds the route of a request path: an exact route first, then the
// longest prefix route. It returns the path info after the route's path.
func (s *Server) match(p string) (*route, string) {
	t := s.tab.Load()
	if r, ok := t.exact[p]; ok {
		return r, ""
	}
	for _, r := range t.prefixes {
		rp := r.cfg.Path
		if len(p) >= len(rp) && p[:len(rp)] == rp && (len(p) == len(rp) || p[len(rp)] == '/') {
			return r, p[len(rp):]
		}
	}
	return nil, ""
}

// event writes a security event to the audit log (when there is one) and
// the structured log.
func (s *Server) event(e audit.Event) {
	lvl := slog.LevelWarn
	if e.Type == audit.TypeConfigLoaded || e.Type == audit.TypeServerStart || e.Type == audit.TypeServerStop {
		lvl = slog.LevelInfo
	}
	if s.log.Enabled(context.Background(), lvl) {
		attrs := make([]slog.Attr, 0, 8)
		attrs = append(attrs, slog.String("type", e.Type))
		for _, kv := range [...][2]string{{"route", e.Route}, {"tenant", e.Tenant}, {"module", e.Module}, {"sha256", e.SHA256},
			{"request_id", e.RequestID}, {"client", e.Client}, {"kind", e.Kind}, {"detail", e.Detail}} {
			if kv[1] != "" {
				attrs = append(attrs, slog.String(kv[0], kv[1]))
			}
		}
		s.log.LogAttrs(context.Background(), lvl, "audit event", attrs...)
	}
	if s.audit != nil && !s.appendAudit(e) {
		return
	}
	for _, f := range s.observers {
		f(e)
	}
}

// appendAudit writes e to the audit log; false when the log is closed for
// the server's stop.
func (s *Server) appendAudit(e audit.Event) bool {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopped {
		s.log.Error("audit record after server_stop not written", "type", e.Type, "request_id", e.RequestID)
		return false
	}
	if err := s.audit.Append(e); err != nil {
		s.log.Error("audit log write failed", "err", err)
	}
	s.stopped = e.Type == audit.TypeServerStop
	return true
}

// Handler returns the public handler: the routes.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// AdminHandler returns the admin handler: /healthz, /readyz, /metrics,
// /v1/routes (and /debug/pprof/ with Options.Pprof).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	own := map[string]bool{}
	for _, e := range s.adminExt {
		mux.Handle(e.pattern, e.h)
		own[e.pattern] = true
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		if err := s.auditAvailable(); err != nil {
			http.Error(w, "audit log unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", s.metricsHandler())
	if !own["GET /v1/routes"] {
		mux.HandleFunc("GET /v1/routes", s.serveRoutes)
	}
	if !own["GET /v1/tenants"] {
		mux.HandleFunc("GET /v1/tenants", s.serveTenants)
	}
	if s.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// drainIdleGrace is how long, once the listener has closed, a keep-alive
// connection that holds no request is left open before it is closed: a
// client that sends on it now is served (with Connection: close) instead of
// finding it closed under its request.
const drainIdleGrace = time.Second

// errShutdown is the cause of the runs stopped at the shutdown deadline.
var errShutdown = errors.New("stopped at the shutdown deadline")

// Serve serves the public handler on pub and the admin handler on admin
// (nil: none) until ctx is done, then drains:
//
//  1. /readyz answers 503; the public listener keeps accepting and serving
//     for DrainDelay, so that load balancers stop sending;
//  2. the public listener closes and every response carries
//     Connection: close;
//  3. in-flight requests finish; connections that hold no request are
//     closed once nothing is in flight (and none before drainIdleGrace);
//  4. at ShutdownTimeout after step 2, runs still going are stopped and the
//     remaining connections closed;
//  5. the audit log is flushed and server_stop is written last.
//
// It returns nil after a clean drain, an error when the deadline forced it.
func (s *Server) Serve(ctx context.Context, pub, admin net.Listener) error {
	timeout := s.cfg.Request.Timeout
	cl := s.cfg.Connections
	defer s.ten.startMemoryLimit(s.log, s.cfg.Tenancy.BudgetSource)()
	pubT := newConnTracker(s.connLimit(), cl.MaxPerClient, cl.PressureIdleTimeout, s.cfg.TrustedProxies)
	pubT.rewrite = s.rewriteEarlyReply
	s.trackMetrics(pubT, "public")
	runCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(nil)
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	hs := &http.Server{
		Handler:           s.publicHandler(),
		ReadHeaderTimeout: timeout,
		// A backstop for net/http's own replies; responses of the gateway
		// set a deadline per chunk (write_timeout).
		WriteTimeout:                 timeout + s.cfg.Response.WriteTimeout,
		IdleTimeout:                  cl.IdleTimeout,
		MaxHeaderBytes:               s.cfg.Request.MaxHeaderBytes,
		ErrorLog:                     errLog,
		ConnState:                    pubT.connState,
		ConnContext:                  withConn,
		BaseContext:                  func(net.Listener) context.Context { return runCtx },
		DisableGeneralOptionsHandler: true,
	}
	pubL := pubT.listener(pub)
	go pubT.reap()
	defer pubT.stop()
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(pubL) }()
	var as *http.Server
	if admin != nil {
		adT := newConnTracker(cl.AdminMax, 0, cl.PressureIdleTimeout, nil)
		s.trackMetrics(adT, "admin")
		as = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
			IdleTimeout: cl.IdleTimeout, ErrorLog: errLog, ConnState: adT.connState}
		go func() { errc <- as.Serve(adT.listener(admin)) }()
	}
	s.event(audit.Event{Type: audit.TypeServerStart, Detail: "listening on " + pub.Addr().String()})
	s.log.Info("serving", "listen", pub.Addr().String(), "admin", addrString(admin), "max_connections", pubT.max)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.ready.Store(false)
	if serveErr == nil && s.cfg.DrainDelay > 0 {
		s.log.Info("draining: /readyz answers 503, still serving", "drain_delay", s.cfg.DrainDelay)
		select {
		case <-time.After(s.cfg.DrainDelay):
		case serveErr = <-errc:
		}
	}
	s.draining.Store(true)
	pubL.Close()
	s.log.Info("shutting down: listener closed, finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	drainStart := time.Now()
	deadline := drainStart.Add(s.cfg.ShutdownTimeout)
	for {
		if pubT.busy() == 0 && s.inflight.Load() == 0 {
			pubT.closeIdle(drainIdleGrace, drainStart)
		}
		if pubT.open() == 0 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var shutErr error
	if n := pubT.open(); n > 0 {
		s.forced.Store(true)
		stopRuns(errShutdown)
		hs.Close()
		shutErr = fmt.Errorf("shutdown: %d connections still busy after %s; their runs were stopped", n, s.cfg.ShutdownTimeout)
	}
	// Handlers of stopped runs return once their guest has stopped.
	for end := time.Now().Add(5 * time.Second); s.inflight.Load() > 0 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	hs.Close()
	if as != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		if err := as.Shutdown(sctx); err != nil {
			as.Close()
		}
		cancel()
	}
	// Everything the requests recorded reaches the file before the stop
	// record, which is the last one.
	if s.audit != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.audit.Sync(sctx); err != nil {
			shutErr = errors.Join(shutErr, err)
		}
		s.event(audit.Event{Type: audit.TypeServerStop})
		if err := s.audit.Sync(sctx); err != nil {
			shutErr = errors.Join(shutErr, err)
		}
	} else {
		s.event(audit.Event{Type: audit.TypeServerStop})
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(fmt.Errorf("serve: %w", serveErr), shutErr)
	}
	return shutErr
}

// publicHandler wraps the routes for the public listener: it counts the
// request in flight, marks its connection as inside the handler (so that
// what it writes is never taken for one of net/http's own replies), sets
// Connection: close while draining and flushes the response before the
// handler returns.
func (s *Server) publicHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		tc := connOf(r)
		if tc != nil {
			tc.inHandler.Store(true)
			defer tc.inHandler.Store(false)
		}
		if s.draining.Load() {
			w.Header()["Connection"] = connClose
		}
		s.serveHTTP(w, r)
		if tc != nil {
			_ = http.NewResponseController(w).Flush()
		}
	})
}

func (s *Server) trackMetrics(t *connTracker, listener string) {
	open := s.metrics.connOpen.WithLabelValues(listener)
	t.onOpen = func(d int) { open.Add(float64(d)) }
	t.onRefuse = func(reason string) { s.metrics.connRefused.WithLabelValues(listener, reason).Inc() }
	t.onEvict = func(reason string) { s.metrics.connEvicted.WithLabelValues(reason).Inc() }
}

// fdReserve is the file descriptors kept out of the public connection
// budget: the admin listener's connections, the audit log, module and cache
// files, the runtime's own.
func (s *Server) fdReserve() int { return s.cfg.Connections.AdminMax + 128 }

// connLimit is connections.max, lowered when the process's open-file limit
// could not hold it with the reserve: public connections must never take
// the descriptors the admin listener and the audit log need.
func (s *Server) connLimit() int {
	max := s.cfg.Connections.Max
	soft, ok := openFileLimit()
	if !ok {
		return max
	}
	if room := int(min(soft, uint64(1<<30))) - s.fdReserve(); room < max {
		lowered := maxInt(room, 1)
		s.log.Warn("connections.max lowered to fit the open-file limit", "configured", max, "max", lowered, "nofile", soft)
		return lowered
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// rewriteEarlyReply adds the security headers, a request ID and
// Cache-Control: no-store to a reply net/http wrote on its own (a request
// it could not read: 400, 431, 501; 417 for an Expect it does not
// support), and logs it. A reply that already has a request ID is the
// gateway's and is returned as is.
func (s *Server) rewriteEarlyReply(b []byte) []byte {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 || bytes.Contains(b[:end], []byte("\r\nX-Request-Id:")) {
		return b
	}
	id := s.requestID()
	nb := make([]byte, 0, len(b)+256)
	nb = append(nb, b[:end]...)
	for _, p := range s.security {
		nb = append(nb, "\r\n"...)
		nb = append(nb, p.name...)
		nb = append(nb, ": "...)
		nb = append(nb, p.value[0]...)
	}
	if !bytes.Contains(b[:end], []byte("\r\nCache-Control:")) {
		nb = append(nb, "\r\nCache-Control: no-store"...)
	}
	nb = append(nb, "\r\nX-Request-Id: "...)
	nb = append(nb, id...)
	nb = append(nb, b[end:]...)
	line := b[:bytes.IndexByte(b, '\r')]
	if len(line) >= 12 {
		if code, err := strconv.Atoi(string(line[9:12])); err == nil {
			s.unmatched.code(code)
		}
	}
	s.log.LogAttrs(context.Background(), slog.LevelDebug, "request refused by net/http", slog.String("request_id", id),
		slog.String("status", string(line)))
	return nb
}

// ListenAndServe listens on the configured addresses and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	pub, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	var admin net.Listener
	if s.cfg.AdminListen != "" {
		if admin, err = lc.Listen(ctx, "tcp", s.cfg.AdminListen); err != nil {
			pub.Close()
			return fmt.Errorf("listen admin %s: %w", s.cfg.AdminListen, err)
		}
	}
	return s.Serve(ctx, pub, admin)
}

// HandleAdmin adds a handler to the admin listener (a net/http ServeMux
// pattern, "POST /v1/deployments"). A pattern the gateway serves itself
// ("GET /v1/routes") is replaced. Call it before Serve.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.adminExt = append(s.adminExt, adminHandler{pattern, h})
}

// RegisterMetrics adds collectors to the gateway's /metrics registry.
func (s *Server) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := s.metrics.reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
		s.metrics.extra = append(s.metrics.extra, c)
	}
	return nil
}

// Observe calls f with every security event the gateway records (the
// events of the audit log), after it is recorded, on the goroutine that
// recorded it: f must not block. Call it before Serve.
func (s *Server) Observe(f func(audit.Event)) { s.observers = append(s.observers, f) }

// Event writes a security event to the audit log (when there is one) and
// the structured log, as the gateway's own events are.
func (s *Server) Event(e audit.Event) { s.event(e) }

// Close releases the compiled modules and, when New created it, the
// sandbox runtime. Call it after Serve returns.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.liveMu.Lock()
		live := s.live
		s.live = map[*Version]struct{}{}
		s.liveMu.Unlock()
		for v := range live {
			err = errors.Join(err, v.mod.Close(ctx))
			close(v.closed)
		}
		if s.ownsRT && s.rt != nil {
			err = errors.Join(err, s.rt.Close(ctx))
		}
	})
	return err
}

func addrString(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

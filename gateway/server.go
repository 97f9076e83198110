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
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway/internal/wagi"
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
	// sandbox.NewConfig() and Close closes it.
	Runtime *sandbox.Runtime
	// Logger receives structured logs; nil uses slog.Default().
	Logger *slog.Logger
	// Audit receives security events; nil sends them to Logger only.
	Audit *audit.Log
	// Verify, when set, is called with each route's module before it is
	// compiled; an error refuses the module (audited) and fails New. This is
	// where signature verification (`serve --trust`) plugs in.
	Verify func(ctx context.Context, r Route) error
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin listener.
	Pprof bool

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

	routes    []*route
	exact     map[string]*route
	prefixes  []*route // longest first
	unmatched *routeMetrics
	limiter   *clientLimiter
	security  []headerPair
	respLim   wagi.Limits
	states    sync.Pool

	idPrefix string
	idSeq    atomic.Uint64
	ready    atomic.Bool

	closeOnce sync.Once
}

type headerPair struct {
	name  string
	value []string
}

// route is one configured route with its compiled module.
type route struct {
	cfg     Route
	label   string // the route as written, for metrics and logs
	mod     module
	sha     string
	name    string // argv[0]
	sem     chan struct{}
	metered bool
	pass    []passHeader
	env     []string // the variables that do not change between requests
	m       *routeMetrics

	requests, errors, violations, refused atomic.Uint64
}

type passHeader struct {
	canon string // canonical header name
	env   string // "HTTP_NAME="
}

// New compiles every route's module and returns a Server ready to serve.
// Nothing listens yet. Every module is checked (Options.Verify) and
// compiled before New returns, so a bad module fails startup, not a request.
func New(ctx context.Context, cfg *Config, opts Options) (*Server, error) {
	s := &Server{
		cfg:       cfg,
		log:       opts.Logger,
		audit:     opts.Audit,
		rt:        opts.Runtime,
		pprof:     opts.Pprof,
		metrics:   newMetrics(),
		exact:     map[string]*route{},
		limiter:   newClientLimiter(cfg.RateLimit),
		respLim:   wagi.Limits{MaxHeaderBytes: cfg.Response.MaxHeaderBytes, MaxHeaders: cfg.Response.MaxHeaders, MaxBody: cfg.Response.MaxBody},
		idPrefix:  randomPrefix(),
		unmatched: nil,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.unmatched = s.metrics.forRoute("unmatched")
	if s.audit != nil {
		s.metrics.registerAuditMetrics(s.audit)
	}
	for k, v := range cfg.SecurityHeaders {
		s.security = append(s.security, headerPair{http.CanonicalHeaderKey(k), []string{v}})
	}
	sort.Slice(s.security, func(i, j int) bool { return s.security[i].name < s.security[j].name })
	s.states.New = func() any { return new(reqState) }

	compile := opts.compile
	if compile == nil {
		if s.rt == nil {
			rt, err := sandbox.New(ctx, sandbox.NewConfig())
			if err != nil {
				return nil, fmt.Errorf("start sandbox runtime: %w", err)
			}
			s.rt, s.ownsRT = rt, true
		}
		compile = func(ctx context.Context, bin []byte, p policy.Policy) (module, error) {
			m, err := s.rt.Compile(ctx, bin, p)
			if err != nil {
				return nil, err
			}
			return m, nil
		}
	}
	for _, rc := range cfg.Routes {
		rt, err := s.addRoute(ctx, rc, compile, opts.Verify)
		if err != nil {
			s.Close(ctx)
			return nil, err
		}
		s.routes = append(s.routes, rt)
	}
	sort.SliceStable(s.prefixes, func(i, j int) bool { return len(s.prefixes[i].cfg.Path) > len(s.prefixes[j].cfg.Path) })
	s.event(audit.Event{Type: audit.TypeConfigLoaded, Module: cfg.Source, Detail: fmt.Sprintf("%d routes", len(s.routes))})
	s.ready.Store(true)
	return s, nil
}

func (s *Server) addRoute(ctx context.Context, rc Route, compile func(context.Context, []byte, policy.Policy) (module, error), verify func(context.Context, Route) error) (*route, error) {
	label := rc.Path
	if rc.Prefix {
		label += "/..."
	}
	if verify != nil {
		if err := verify(ctx, rc); err != nil {
			s.event(audit.Event{Type: audit.TypeModuleRefused, Route: label, Module: rc.Module, SHA256: sha256Hex(rc.Wasm), Kind: "signature", Detail: err.Error()})
			return nil, fmt.Errorf("route %s: module %s refused: %w", label, rc.Module, err)
		}
	}
	// The policy's environment goes to the guest through Invocation.Env,
	// ahead of the CGI variables, instead of through the compiled module.
	// An early sandbox shared the compiled module's env slice between
	// concurrent runs, and two requests appending to it at once mixed their
	// variables (TestE2EPolicyEnvDoesNotMixRequests caught it). The sandbox
	// has fixed that; building the whole env per request keeps the gateway
	// independent of how the sandbox merges the two.
	pol := rc.Policy.Clone()
	policyEnv := pol.Capabilities.SortedEnv()
	pol.Capabilities.Env = nil
	mod, err := compile(ctx, rc.Wasm, pol)
	if err != nil {
		ev := audit.Event{Type: audit.TypeModuleRefused, Route: label, Module: rc.Module, SHA256: sha256Hex(rc.Wasm), Detail: err.Error()}
		var ref *sandbox.Refusal
		if errors.As(err, &ref) {
			ev.Kind = ref.Violation.Kind
		}
		s.event(ev)
		return nil, fmt.Errorf("route %s: compile %s: %w", label, rc.Module, err)
	}
	r := &route{
		cfg:     rc,
		label:   label,
		mod:     mod,
		sha:     mod.SHA256(),
		name:    path.Base(strings.ReplaceAll(rc.Module, "\\", "/")),
		sem:     make(chan struct{}, rc.MaxConcurrency),
		metered: rc.Policy.Limits.Fuel > 0,
		m:       s.metrics.forRoute(label),
	}
	for _, h := range rc.PassHeaders {
		r.pass = append(r.pass, passHeader{
			canon: http.CanonicalHeaderKey(h),
			env:   "HTTP_" + strings.ToUpper(strings.ReplaceAll(h, "-", "_")) + "=",
		})
	}
	script := rc.Path
	if script == "" {
		script = "/"
	}
	r.env = append(policyEnv,
		"GATEWAY_INTERFACE=CGI/1.1",
		"SERVER_SOFTWARE=wasmward",
		"SCRIPT_NAME="+strings.TrimSuffix(rc.Path, "/"),
		"X_MATCHED_ROUTE="+label,
	)
	if rc.Prefix {
		s.prefixes = append(s.prefixes, r)
	} else {
		s.exact[rc.Path] = r
	}
	s.log.Info("route ready", "route", label, "module", rc.Module, "sha256", r.sha, "max_concurrency", rc.MaxConcurrency)
	s.event(audit.Event{Type: audit.TypeConfigLoaded, Route: label, Module: rc.Module, SHA256: r.sha})
	return r, nil
}

// match finds the route of a request path: an exact route first, then the
// longest prefix route. It returns the path info after the route's path.
func (s *Server) match(p string) (*route, string) {
	if r, ok := s.exact[p]; ok {
		return r, ""
	}
	for _, r := range s.prefixes {
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
		for _, kv := range [...][2]string{{"route", e.Route}, {"module", e.Module}, {"sha256", e.SHA256},
			{"request_id", e.RequestID}, {"client", e.Client}, {"kind", e.Kind}, {"detail", e.Detail}} {
			if kv[1] != "" {
				attrs = append(attrs, slog.String(kv[0], kv[1]))
			}
		}
		s.log.LogAttrs(context.Background(), lvl, "audit event", attrs...)
	}
	if s.audit != nil {
		if err := s.audit.Append(e); err != nil {
			s.log.Error("audit log write failed", "err", err)
		}
	}
}

// Handler returns the public handler: the routes.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// AdminHandler returns the admin handler: /healthz, /readyz, /metrics,
// /v1/routes (and /debug/pprof/ with Options.Pprof).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
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
	mux.HandleFunc("GET /v1/routes", s.serveRoutes)
	if s.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Serve serves the public handler on pub and the admin handler on admin
// (nil: none) until ctx is done, then shuts down gracefully: it stops
// accepting, marks itself not ready, and waits up to the configured
// ShutdownTimeout for in-flight requests to finish before closing the rest.
// It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, pub, admin net.Listener) error {
	timeout := s.cfg.Request.Timeout
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: timeout,
		WriteTimeout:      timeout + time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    s.cfg.Request.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	servers := []*http.Server{hs}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(pub) }()
	if admin != nil {
		as := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: hs.ErrorLog}
		servers = append(servers, as)
		go func() { errc <- as.Serve(admin) }()
	}
	s.event(audit.Event{Type: audit.TypeServerStart, Detail: "listening on " + pub.Addr().String()})
	s.log.Info("serving", "listen", pub.Addr().String(), "admin", addrString(admin))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.ready.Store(false)
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	var shutErr error
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			shutErr = errors.Join(shutErr, fmt.Errorf("shutdown: %w", err))
			srv.Close()
		}
	}
	s.event(audit.Event{Type: audit.TypeServerStop})
	if s.audit != nil {
		if err := s.audit.Sync(sctx); err != nil {
			shutErr = errors.Join(shutErr, err)
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(fmt.Errorf("serve: %w", serveErr), shutErr)
	}
	return shutErr
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

// Close releases the compiled modules and, when New created it, the
// sandbox runtime. Call it after Serve returns.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		for _, r := range s.routes {
			err = errors.Join(err, r.mod.Close(ctx))
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

func randomPrefix() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

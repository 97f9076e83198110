package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/quickstart"
	"github.com/wasmward/wasmward/internal/statuspage"
	"github.com/wasmward/wasmward/internal/trace"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
	"github.com/wasmward/wasmward/trust"
)

type serveFlags struct {
	config      string
	listen      string
	adminListen string
	auditLog    string
	logFormat   string
	logLevel    string
	cache       cacheFlags
	legacyCache string
	pprof       bool
	store       string
	trust       trustFlags
}

func newServeCmd(s streams) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--config FILE]",
		Short: "Serve WebAssembly modules as HTTP handlers, one fresh instance per request",
		Long: `Serve WASI command modules as HTTP handlers through the WAGI ABI (CGI over
WASI): the request arrives as environment variables and stdin, the response
is a CGI header block and body on stdout. Each request runs in a fresh
instance of a module compiled once, under the route's policy.

With no --config, serves the built-in quickstart: /hello and /echo/... on
127.0.0.1:8080, admin (healthz, readyz, metrics, /v1/routes) on 127.0.0.1:9090.
The configuration is validated and every module compiled before anything
listens. SIGTERM or SIGINT drains: /readyz answers 503 for drain_delay while
requests are still served, then the listener closes, in-flight requests
finish (shutdown_timeout), the audit log is flushed and server_stop written
last; exit 0 after a clean drain.

SIGHUP (or POST /v1/reload on the admin listener) reloads the configuration:
it is validated whole and every changed module checked and compiled before
anything changes. Deployments (wasmward deploy, the admin API's
/v1/deployments) change a route's module at runtime, health-checked, with
automatic rollback; with --store (or $WASMWARD_STORE) routes may name
sha256: and oci:// modules and the deployment history survives restarts.
See docs/gateway.md and docs/deploy.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.trust.check(cmd.Flags()); err != nil {
				return err
			}
			return serve(cmd.Context(), s, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "gateway configuration (YAML); default: the built-in quickstart")
	fl.StringVar(&f.listen, "listen", "", "public address, overriding the configuration's listen")
	fl.StringVar(&f.adminListen, "admin-listen", "", "admin address, overriding admin_listen (\"off\" disables it)")
	fl.StringVar(&f.auditLog, "audit-log", "", "audit log file, overriding audit_log")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.cache.register(fl)
	fl.StringVar(&f.legacyCache, "compilation-cache", "", "same as --cache-dir")
	_ = fl.MarkDeprecated("compilation-cache", "use --cache-dir")
	fl.BoolVar(&f.pprof, "pprof", false, "serve /debug/pprof/ on the admin listener")
	fl.StringVar(&f.store, "store", "", "module store directory (default $WASMWARD_STORE; none: path modules only, deployment history in memory)")
	f.trust.register(fl)
	return cmd
}

// serveGCPercent is the garbage collector's target when GOGC is not set.
// The gateway's live heap is a few MB while every request allocates a fresh
// instance, so Go's default (100) collects hundreds of times a second; 400
// lets the heap reach five times the live set between collections (tens of
// MB) for a quarter of the collections. GOGC in the environment wins.
const serveGCPercent = 400

func serve(ctx context.Context, s streams, f *serveFlags) error {
	if _, set := os.LookupEnv("GOGC"); !set {
		old := debug.SetGCPercent(serveGCPercent)
		defer debug.SetGCPercent(old)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageErr("--log-level: %q is not debug, info, warn or error", f.logLevel)
	}
	var logger *slog.Logger
	switch f.logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: level}))
	case "json":
		logger = slog.New(slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: level}))
	default:
		return usageErr("--log-format: %q is not text or json", f.logFormat)
	}

	// A broken log pipe (stderr's reader gone) must not kill the gateway:
	// with SIGPIPE ignored a write to it fails with EPIPE, which the
	// logger drops, and serving goes on.
	signal.Ignore(syscall.SIGPIPE)
	// SIGHUP is caught from the start: before the reloader is ready it is
	// logged and ignored instead of killing the process unrecorded.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if nofile, err := gateway.RaiseOpenFileLimit(); err != nil {
		logger.Warn("could not raise the open-file limit", "nofile", nofile, "err", err)
	}

	if f.store == "" {
		f.store = os.Getenv("WASMWARD_STORE")
	}
	var st *moduleStore
	if f.store != "" {
		var pol *trust.Policy
		if f.trust.policy != "" {
			var err error
			if pol, err = trust.LoadPolicy(f.trust.policy); err != nil {
				return withCode(exitUsage, err)
			}
		}
		var err error
		if st, err = openStore(f.store, pol); err != nil {
			return withCode(exitUsage, err)
		}
	}
	load := func() (*gateway.Config, error) {
		cfg, err := loadServeConfig(f.config, st)
		if err != nil {
			return nil, err
		}
		if f.listen != "" {
			cfg.Listen = f.listen
		}
		switch f.adminListen {
		case "":
		case gateway.AdminOff:
			cfg.AdminListen = ""
		default:
			cfg.AdminListen = f.adminListen
		}
		if f.auditLog != "" {
			cfg.AuditLog = f.auditLog
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return withCode(exitUsage, err)
	}

	var al *audit.Log
	if cfg.AuditLog != "" {
		opts := cfg.Audit
		opts.Logger = logger
		if al, err = audit.OpenOptions(cfg.AuditLog, opts); err != nil {
			return withCode(exitFailure, err)
		}
		defer func() {
			if err := al.Close(); err != nil {
				logger.Error("close audit log", "err", err)
			} else {
				h := al.Head()
				logger.Info("audit log closed", "path", cfg.AuditLog, "seq", h.Seq, "head", h.Hash)
			}
		}()
	}
	if f.cache.dir == "" {
		f.cache.dir = f.legacyCache
	}
	rcfg, err := f.cache.apply(sandbox.NewConfig().WithBackgroundCPU(cfg.Tenancy.BackgroundCPU), cfg.CacheDir, cfg.CacheKey, func(w sandbox.CacheWarning) {
		logger.Warn("compile cache entry rejected, deleted and recompiled", "path", w.Path, "sha256", w.SHA256, "reason", w.Reason)
		if al != nil {
			_ = al.Append(audit.Event{Type: audit.TypeCacheRejected, SHA256: w.SHA256, Detail: w.Path + ": " + w.Reason})
		}
	})
	if err != nil {
		return err
	}
	rt, err := sandbox.New(ctx, rcfg)
	if err != nil {
		return withCode(exitFailure, err)
	}
	if err := rt.BackgroundErr(); err != nil {
		logger.Warn("background_cpu is on but not in effect: long guest work stays at the normal CPU priority", "err", err)
	} else if cfg.Tenancy.BackgroundCPU {
		// A decision the operator should see: on a machine shared with
		// other busy processes, long guests then get only their leftovers.
		logger.Info("long guest work runs at the idle CPU priority (background_cpu; docs/tenancy.md): on a machine whose other processes keep every core busy, set background_cpu: false")
	}
	defer closeBounded(rt.Close)

	verify, err := serveVerifier(f, logger)
	if err != nil {
		return err
	}
	tracer, err := trace.New(ctx, cfg.Tracing)
	if err != nil {
		return withCode(exitFailure, err)
	}
	gopts := gateway.Options{Runtime: rt, Logger: logger, Audit: al, Pprof: f.pprof, Verify: verify}
	if tracer != nil {
		gopts.Tracer = tracer
		defer closeBounded(tracer.Shutdown)
	}
	srv, err := gateway.New(ctx, cfg, gopts)
	if err != nil {
		// A module refused by the trust gate exits 126, as `run` does; a
		// trust file the configuration names but that cannot be read is a
		// usage error, as it is for run.
		var ee *exitError
		if errors.As(err, &ee) && ee.code == exitUsage {
			return withCode(exitUsage, err)
		}
		return withCode(exitRefused, err)
	}
	defer closeBounded(srv.Close)
	// The alert monitor first: deployments are checked against its
	// quarantine from their start.
	mon, err := startMonitor(srv, cfg, f, st, logger)
	if err != nil {
		return err
	}
	mgr, stopDeployments, err := startDeployments(ctx, srv, cfg, st, f, load, logger)
	if err != nil {
		return err
	}
	defer stopDeployments()
	mon.SetDeployments(mgr)
	page, err := statuspage.New(ctx, statuspage.Options{Server: srv, Deploy: mgr, Monitor: mon})
	if err != nil {
		return withCode(exitFailure, err)
	}
	defer page.Close()
	for p, h := range page.Handlers() {
		srv.HandleAdmin(p, h)
	}
	mon.Start(ctx)
	defer mon.Close()
	hupDone := make(chan struct{})
	defer close(hupDone)
	go func() {
		for {
			select {
			case <-hup:
				logger.Info("SIGHUP: reloading the configuration")
				if res, err := mgr.ReloadConfig(ctx); err == nil {
					logger.Info("configuration reloaded", "changed", res.Changed, "added", res.Added, "removed", res.Removed)
				}
			case <-hupDone:
				return
			}
		}
	}()
	fmt.Fprintf(s.err, "wasmward: serving %s on http://%s", cfg.Source, cfg.Listen)
	if cfg.AdminListen != "" {
		fmt.Fprintf(s.err, " (admin http://%s)", cfg.AdminListen)
	}
	fmt.Fprintln(s.err)
	if f.config == "" {
		fmt.Fprintf(s.err, "wasmward: try: curl http://%s/hello\n", cfg.Listen)
	}
	if err := srv.ListenAndServe(ctx); err != nil {
		return withCode(exitFailure, err)
	}
	return nil
}

// loadServeConfig reads --config, or the built-in quickstart when it is "".
// With a store, modules are read through it (sha256: and oci:// too).
func loadServeConfig(path string, st *moduleStore) (*gateway.Config, error) {
	if path == "" {
		return quickstart.Config()
	}
	if st == nil {
		return gateway.LoadConfig(path)
	}
	return loadConfigStore(path, st)
}

// startDeployments starts the deployment manager on srv and mounts the
// admin API; stop stops it (and leaves the fleet, with a state: URL). The
// admin token is read once, here.
func startDeployments(ctx context.Context, srv *gateway.Server, cfg *gateway.Config, st *moduleStore, f *serveFlags,
	load func() (*gateway.Config, error), logger *slog.Logger) (m *deploy.Manager, stop func(), err error) {
	var token []byte
	if cfg.AdminTokenFile != "" {
		if token, err = deploy.ReadToken(cfg.AdminTokenFile); err != nil {
			return nil, nil, withCode(exitUsage, err)
		}
	}
	dir := ""
	if f.config != "" {
		dir = filepath.Dir(f.config)
	}
	opts := deploy.Options{Server: srv, Rollout: cfg.Rollout, Resolve: deploy.FileResolver(dir), Token: token, Logger: logger,
		Reload: func(ctx context.Context) (*gateway.ReloadResult, error) {
			c, err := load()
			if err != nil {
				return nil, err
			}
			return srv.Reload(ctx, c)
		}}
	if st != nil {
		opts.Records, opts.Resolve = storeDeployments(st, dir)
	} else if !cfg.State.Shared() {
		logger.Warn("no module store (--store): deployment history is kept in memory only, and modules must be paths")
	}
	leave := func() {}
	if cfg.State.Shared() {
		if opts.Fleet, leave, err = joinFleet(ctx, cfg.State, opts.Records, logger); err != nil {
			return nil, nil, withCode(exitFailure, err)
		}
	}
	if m, err = deploy.New(ctx, opts); err != nil {
		leave()
		return nil, nil, withCode(exitFailure, err)
	}
	for p, h := range m.Handlers() {
		srv.HandleAdmin(p, h)
	}
	return m, func() { m.Close(); leave() }, nil
}

// serveVerifier returns the gateway's module check for --trust: each
// route's module, with the trust material its route names (or that lies
// next to it), is admitted by the trust gate before it is compiled, as `run
// --trust` admits a module. A route with an attestation runs under the
// attested policy bounded by the route's (policy.Attested: limits only
// tighten, attested mounts need the route's host directories). Nil without
// --trust.
func serveVerifier(f *serveFlags, log *slog.Logger) (func(context.Context, gateway.Route) (*policy.Policy, error), error) {
	if f.trust.policy == "" {
		return nil, nil
	}
	g, err := f.trust.open()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, r gateway.Route) (*policy.Policy, error) {
		t := r.Trust
		m, err := g.ReadMaterial(r.Wasm, t.Name, trust.Files{Module: t.ModuleFile, Attestation: t.Attestation, Signature: t.Signature, Bundle: t.Bundle})
		if err != nil {
			return nil, withCode(exitUsage, err) // the configuration names a file that is not there
		}
		adm, err := admitModule(ctx, g, m, func(u string) {
			log.Warn("cosign bundle part not verified", "route", r.Path, "module", t.ModuleFile, "unverified", u)
		})
		if err != nil || !adm.Attested {
			return nil, err
		}
		p, err := policy.Attested(adm.Policy, r.Policy)
		if err != nil {
			var ce *policy.CapabilityError
			if errors.As(err, &ce) {
				return nil, &sandbox.Refusal{Violation: sandbox.Violation{Kind: sandbox.KindCapabilityDenied, Detail: ce.Detail}}
			}
			return nil, err
		}
		rc, ac := r.Policy.Capabilities, adm.Policy.Capabilities
		if !slices.Equal(rc.Imports, ac.Imports) || !slices.Equal(rc.Args, ac.Args) || !maps.Equal(rc.Env, ac.Env) || rc.Clock != ac.Clock || rc.Random != ac.Random {
			log.Warn("attested module: the route's capabilities other than mounts are replaced by the attested ones", "route", r.Path, "module", adm.Name)
		}
		return &p, nil
	}, nil
}

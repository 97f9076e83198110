package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/examples"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/sandbox"
)

type serveFlags struct {
	config      string
	listen      string
	adminListen string
	auditLog    string
	logFormat   string
	logLevel    string
	cacheDir    string
	pprof       bool
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
listens. SIGTERM or SIGINT stops accepting, lets in-flight requests finish
(shutdown_timeout) and flushes the audit log. See docs/gateway.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), s, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "gateway configuration (YAML); default: the built-in quickstart")
	fl.StringVar(&f.listen, "listen", "", "public address, overriding the configuration's listen")
	fl.StringVar(&f.adminListen, "admin-listen", "", "admin address, overriding admin_listen (\"off\" disables it)")
	fl.StringVar(&f.auditLog, "audit-log", "", "audit log file, overriding audit_log")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.cacheDir, "compilation-cache", "", "keep compiled modules in DIR across restarts")
	fl.BoolVar(&f.pprof, "pprof", false, "serve /debug/pprof/ on the admin listener")
	return cmd
}

func serve(ctx context.Context, s streams, f *serveFlags) error {
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

	cfg, err := loadServeConfig(f.config)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	switch f.adminListen {
	case "":
	case "off":
		cfg.AdminListen = ""
	default:
		cfg.AdminListen = f.adminListen
	}
	if f.auditLog != "" {
		cfg.AuditLog = f.auditLog
	}

	var al *audit.Log
	if cfg.AuditLog != "" {
		if al, err = audit.Open(cfg.AuditLog); err != nil {
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
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(f.cacheDir))
	if err != nil {
		return withCode(exitFailure, err)
	}
	defer rt.Close(context.WithoutCancel(ctx))

	// Signature verification (`serve --trust FILE`) plugs in here as
	// gateway.Options.Verify once the trust package offers a verifier.
	srv, err := gateway.New(ctx, cfg, gateway.Options{Runtime: rt, Logger: logger, Audit: al, Pprof: f.pprof})
	if err != nil {
		return withCode(exitRefused, err)
	}
	defer srv.Close(context.WithoutCancel(ctx))
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
func loadServeConfig(path string) (*gateway.Config, error) {
	if path != "" {
		return gateway.LoadConfig(path)
	}
	qs := examples.Quickstart()
	data, err := fs.ReadFile(qs, "quickstart.yaml")
	if err != nil {
		return nil, fmt.Errorf("quickstart: %w", err)
	}
	return gateway.ParseConfig(data, examples.QuickstartName, func(p string) ([]byte, error) {
		return fs.ReadFile(qs, strings.TrimPrefix(p, "./"))
	}, "")
}

package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/alert"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/monitor"
	"github.com/wasmward/wasmward/internal/quarantine"
)

// startMonitor builds the alert monitor of srv (soft thresholds, rules,
// quarantine, webhook) and mounts its admin API. It is installed on the
// gateway only when the configuration has something for it to do (rules,
// soft thresholds or a state directory), so a gateway without alerting
// pays nothing per request.
func startMonitor(srv *gateway.Server, cfg *gateway.Config, f *serveFlags, st *moduleStore, logger *slog.Logger) (*monitor.Monitor, error) {
	var token []byte
	if cfg.AdminTokenFile != "" {
		var err error
		if token, err = deploy.ReadToken(cfg.AdminTokenFile); err != nil {
			return nil, withCode(exitUsage, err)
		}
	}
	dir := ""
	if f.config != "" {
		dir = filepath.Dir(f.config)
	}
	resolve := deploy.FileResolver(dir)
	if st != nil {
		_, resolve = storeDeployments(st, dir)
	}
	ext := ""
	if cfg.AdminListen != "" {
		ext = "http://" + cfg.AdminListen + "/v1/alerts"
	}
	m, err := monitor.New(monitor.Options{Server: srv, Config: cfg.Alerts, Resolve: resolve, Token: token, Logger: logger,
		ExternalURL: ext, Install: alertingConfigured(cfg)})
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	for p, h := range m.Handlers() {
		srv.HandleAdmin(p, h)
	}
	return m, nil
}

// alertingConfigured reports whether cfg asks for any monitoring.
func alertingConfigured(cfg *gateway.Config) bool {
	if len(cfg.Alerts.Rules) > 0 || cfg.Alerts.StateDir != "" {
		return true
	}
	for _, r := range cfg.Routes {
		if r.Soft != nil {
			return true
		}
	}
	return false
}

func newAlertsCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List a running gateway's alerts, or export its rules for Prometheus",
		Long: `Alert rules live in the gateway configuration's alerts list (docs/alerts.md).
"alerts ls" lists what a running gateway's engine holds (pending, firing and
recently resolved alerts); "alerts export --prometheus" turns the rules of a
configuration into a Prometheus rule file over the metrics the gateway exports.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAlertsLsCmd(s), newAlertsExportCmd(s))
	return cmd
}

func newAlertsLsCmd(s streams) *cobra.Command {
	var (
		af      adminFlags
		state   string
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List a running gateway's alerts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client(false)
			if err != nil {
				return err
			}
			p := "/v1/alerts"
			if state != "" {
				p += "?state=" + url.QueryEscape(state)
			}
			var ans monitor.AlertsAnswer
			if err := c.Call(cmd.Context(), http.MethodGet, p, nil, &ans); err != nil {
				return adminErr(s, err, jsonOut)
			}
			if jsonOut {
				return printJSON(s, ans)
			}
			if len(ans.Alerts) == 0 {
				fmt.Fprintln(s.out, "no alerts")
			}
			for _, a := range ans.Alerts {
				fmt.Fprintf(s.out, "%-8s  %-8s  %s  %s  %.12s  %s=%g (threshold %g)  since %s  action %s\n", a.State, a.Severity, a.Rule, a.Route,
					a.SHA256, a.Signal, a.Value, a.Threshold, a.Since.UTC().Format(time.RFC3339), a.Action)
			}
			return nil
		},
	}
	af.register(cmd.Flags(), false)
	cmd.Flags().StringVar(&state, "state", "", "only alerts in this state: pending, firing or resolved")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the admin API's answer as JSON")
	return cmd
}

func newAlertsExportCmd(s streams) *cobra.Command {
	var (
		config string
		prom   bool
		group  string
	)
	cmd := &cobra.Command{
		Use:   "export --prometheus --config FILE",
		Short: "Export a configuration's alert rules as Prometheus alerting rules",
		Long: `Print the alert rules of --config as a Prometheus rule file (groups of
alerting rules) over the metrics the gateway exports, for a Prometheus that
scrapes the gateway's /metrics. The same definitions drive the gateway's own
engine; the translation is per route, and the resolve period becomes
keep_firing_for (docs/alerts.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !prom {
				return usageErr("export: --prometheus is the only format (give it)")
			}
			if config == "" {
				return usageErr("export: --config: the gateway configuration is required")
			}
			cfg, err := gateway.LoadConfigWith(config, func(string) ([]byte, error) { return nil, nil })
			if err != nil {
				return withCode(exitUsage, err)
			}
			b, err := alert.MarshalPrometheusRules(alert.PrometheusRules(cfg.Alerts.Rules, group))
			if err != nil {
				return withCode(exitFailure, err)
			}
			_, err = s.out.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "gateway configuration (YAML) whose alerts to export")
	cmd.Flags().BoolVar(&prom, "prometheus", false, "Prometheus rule file format")
	cmd.Flags().StringVar(&group, "group", "wasmward", "the rule group's name")
	return cmd
}

func newQuarantineCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List and release the modules a running gateway has quarantined",
		Long: `A module isolated by an alert rule (action: isolate) is quarantined by its
digest: no instance of it starts and its routes answer 503, across restarts,
until an operator releases it. "quarantine ls" lists them; "quarantine release
ID" (the digest or its first 12+ hex digits; needs the admin token) ends one.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newQuarantineLsCmd(s), newQuarantineReleaseCmd(s))
	return cmd
}

func newQuarantineLsCmd(s streams) *cobra.Command {
	var (
		af      adminFlags
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List quarantined modules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client(false)
			if err != nil {
				return err
			}
			var ans monitor.QuarantineAnswer
			if err := c.Call(cmd.Context(), http.MethodGet, "/v1/quarantine", nil, &ans); err != nil {
				return adminErr(s, err, jsonOut)
			}
			if jsonOut {
				return printJSON(s, ans)
			}
			if len(ans.Quarantined) == 0 {
				fmt.Fprintln(s.out, "no quarantined modules")
			}
			for _, e := range ans.Quarantined {
				printEntry(s, e)
			}
			return nil
		},
	}
	af.register(cmd.Flags(), false)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the admin API's answer as JSON")
	return cmd
}

func newQuarantineReleaseCmd(s streams) *cobra.Command {
	var (
		af      adminFlags
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "release ID",
		Short: "Release a quarantined module (its digest or first 12+ hex digits)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(true)
			if err != nil {
				return err
			}
			var e quarantine.Entry
			if err := c.Call(cmd.Context(), http.MethodPost, "/v1/quarantine/"+url.PathEscape(args[0])+"/release", nil, &e); err != nil {
				return adminErr(s, err, jsonOut)
			}
			if jsonOut {
				return printJSON(s, e)
			}
			fmt.Fprint(s.out, "released ")
			printEntry(s, e)
			return nil
		},
	}
	af.register(cmd.Flags(), true)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the released entry as JSON")
	return cmd
}

func printEntry(s streams, e quarantine.Entry) {
	fmt.Fprintf(s.out, "%.12s  %s  %s  since %s  rule %s: %s\n", e.SHA256, e.Route, e.Module, e.Since.UTC().Format(time.RFC3339), e.Rule, e.Reason)
}

func printJSON(s streams, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.out, "%s\n", b)
	return err
}

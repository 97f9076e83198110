package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/safetext"
)

// adminFlags are the flags of the commands that call a gateway's admin API.
type adminFlags struct {
	url       string
	tokenFile string
}

func (a *adminFlags) register(fl *pflag.FlagSet, token bool) {
	fl.StringVar(&a.url, "admin", "http://127.0.0.1:9090", "the gateway's admin listener URL")
	if token {
		fl.StringVar(&a.tokenFile, "token-file", "", "file holding the admin bearer token (default $WASMWARD_ADMIN_TOKEN_FILE)")
	}
}

// client returns the admin API client; a token file that cannot be read is
// a usage error. The token itself never reaches an error message.
func (a *adminFlags) client(needToken bool) (*deploy.Client, error) {
	c := &deploy.Client{URL: a.url}
	tf := a.tokenFile
	if tf == "" {
		tf = os.Getenv("WASMWARD_ADMIN_TOKEN_FILE")
	}
	if tf == "" {
		if needToken {
			return nil, usageErr("--token-file: the admin API needs the bearer token for changes")
		}
		return c, nil
	}
	b, err := os.ReadFile(tf)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--token-file: %w", err))
	}
	c.Token = []byte(strings.TrimSpace(string(b)))
	return c, nil
}

func newDeployCmd(s streams) *cobra.Command {
	var (
		af          adminFlags
		canary      string
		noWait      bool
		retryFailed bool
		jsonOut     bool
	)
	cmd := &cobra.Command{
		Use:   "deploy ROUTE MODULE",
		Short: "Deploy a module version to a route of a running gateway, health-checked",
		Long: `Deploy MODULE to ROUTE (its label, "/api" or "/api/...") of the gateway whose
admin listener is --admin. MODULE is a path (made absolute here; the gateway
reads it), sha256:HEX (a module in the gateway's store) or
oci://REGISTRY/REPO[:TAG][@sha256:...].

The gateway checks the module (trust policy, scan policy, compile) before any
request reaches it, runs the route's synthetic health check, then replaces
the active version (default) or, with --canary N%, sends N% of requests to it
and steps the share up while its live signals stay healthy. A breach rolls
back to the previous version automatically; the version is then refused
until deployed again with --retry-failed (or its deployment promoted).

Waits for the outcome unless --no-wait: exit 0 when the deployment
succeeded, 1 when it failed or was rolled back, 126 when the module was
refused. See docs/deploy.md.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(true)
			if err != nil {
				return err
			}
			req := deploy.Request{Route: args[0], Module: args[1], RetryFailed: retryFailed}
			if !gateway.IsModuleRef(args[1]) {
				var err error
				if req.Module, err = filepath.Abs(args[1]); err != nil {
					return withCode(exitUsage, err)
				}
			}
			if canary != "" {
				p, err := strconv.Atoi(strings.TrimSuffix(canary, "%"))
				if err != nil || p < 1 || p > 99 {
					return usageErr("--canary: %q is not a percentage from 1%% to 99%%", canary)
				}
				req.Strategy, req.CanaryPercent = deploy.Canary, p
			}
			ctx := cmd.Context()
			rec, err := c.Deploy(ctx, req)
			if err != nil {
				return adminErr(s, err, jsonOut)
			}
			fmt.Fprintf(s.err, "wasmward: deployment %s of %s to %s started (%s)\n", rec.ID, rec.Module, rec.Route, rec.Strategy)
			if !noWait {
				rec, err = c.Wait(ctx, rec.ID, 250*time.Millisecond, func(r deploy.Record) {
					line := r.State
					if r.Percent > 0 {
						line += fmt.Sprintf(" %d%%", r.Percent)
					}
					fmt.Fprintf(s.err, "wasmward: %s: %s\n", r.ID, line)
				})
				if err != nil {
					return withCode(exitFailure, err)
				}
			}
			if err := printRecord(s.out, rec, jsonOut); err != nil {
				return err
			}
			switch rec.State {
			case deploy.Failed, deploy.RolledBack, deploy.Superseded, deploy.Interrupt:
				return withCode(exitFailure, fmt.Errorf("deployment %s %s: %s", rec.ID, strings.ReplaceAll(rec.State, "_", " "), rec.Reason))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	af.register(fl, true)
	fl.StringVar(&canary, "canary", "", "canary rollout starting at this share of requests (10%)")
	fl.BoolVar(&noWait, "no-wait", false, "return once the deployment started instead of waiting for its outcome")
	fl.BoolVar(&retryFailed, "retry-failed", false, "deploy a version that failed or was rolled back on this route before")
	fl.BoolVar(&jsonOut, "json", false, "print the deployment record as JSON")
	return cmd
}

func newRollbackCmd(s streams) *cobra.Command {
	var (
		af      adminFlags
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "rollback ROUTE",
		Short: "Roll back a route's latest deployment to the version it replaced",
		Long: `Roll back what ROUTE's latest deployment did: one in progress stops and the
version it replaced serves alone again; a finished one is replaced by the
version it replaced. The rolled-back version is remembered as failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(true)
			if err != nil {
				return err
			}
			rec, err := c.RollbackRoute(cmd.Context(), args[0])
			if err != nil {
				return adminErr(s, err, jsonOut)
			}
			return printRecord(s.out, rec, jsonOut)
		},
	}
	af.register(cmd.Flags(), true)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the deployment record as JSON")
	return cmd
}

func newStatusCmd(s streams) *cobra.Command {
	var (
		af      adminFlags
		jsonOut bool
		history int
	)
	cmd := &cobra.Command{
		Use:   "status [ROUTE]",
		Short: "Show what a running gateway serves and its deployment history",
		Long: `Show each route's versions (active, canary with its share, previous: the
rollback target, failed) and its latest deployments, from the admin API.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client(false)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			routes, err := c.Routes(ctx)
			if err != nil {
				return adminErr(s, err, jsonOut)
			}
			route := ""
			if len(args) == 1 {
				route = args[0]
			}
			deps, err := c.Deployments(ctx, route)
			if err != nil {
				return adminErr(s, err, jsonOut)
			}
			return printStatus(s.out, routes, deps, route, history, jsonOut)
		},
	}
	af.register(cmd.Flags(), false)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print routes and deployments as JSON")
	cmd.Flags().IntVar(&history, "history", 10, "deployments shown per route")
	return cmd
}

// adminErr turns an admin API error into the command's exit: a refused
// module exits 126 (as run and serve do), a transport error 1, the rest 1
// with the API's message.
func adminErr(s streams, err error, jsonOut bool) error {
	var ae *deploy.APIError
	if errors.As(err, &ae) {
		if ae.Deployment != nil {
			printRecord(s.out, *ae.Deployment, jsonOut)
		}
		if ae.Status == 422 {
			return withCode(exitRefused, err)
		}
		if ae.Status == 400 {
			return withCode(exitUsage, err)
		}
	}
	return withCode(exitFailure, err)
}

func printRecord(w io.Writer, r deploy.Record, jsonOut bool) error {
	if jsonOut {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	fmt.Fprintf(w, "%s  %s  %s  %s  %s\n", r.ID, r.Route, r.State, r.Strategy, r.Module)
	if r.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", safetext.OneLine(r.Reason))
	}
	return nil
}

func printStatus(w io.Writer, routes []deploy.RouteStatus, deps []deploy.Record, only string, history int, jsonOut bool) error {
	if jsonOut {
		b, err := json.MarshalIndent(struct {
			Routes      []deploy.RouteStatus `json:"routes"`
			Deployments []deploy.Record      `json:"deployments"`
		}{routes, deps}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, r := range routes {
		if only != "" && r.Route != only {
			continue
		}
		fmt.Fprintf(w, "%s\n", r.Route)
		for _, v := range r.Versions {
			share := ""
			if v.State == "active" || v.State == "canary" {
				share = fmt.Sprintf(" %d%%", v.Percent)
			}
			dep := ""
			if v.Deployment != "" {
				dep = "  (" + v.Deployment + ")"
			}
			fmt.Fprintf(w, "  %-8s sha256:%.12s%s  %s%s\n", v.State, v.SHA256, share, safetext.OneLine(v.Module), dep)
		}
		n := 0
		for _, d := range deps {
			if d.Route != r.Route || n >= history {
				continue
			}
			if n == 0 {
				fmt.Fprintf(w, "  history:\n")
			}
			n++
			fmt.Fprintf(w, "    %s  %-11s %-8s sha256:%.12s  %s\n", d.Updated.Format(time.RFC3339), d.State, d.Strategy, d.SHA256, safetext.OneLine(d.Module))
			if d.Reason != "" {
				fmt.Fprintf(w, "      %s\n", safetext.OneLine(d.Reason))
			}
		}
	}
	return nil
}

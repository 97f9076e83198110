package main

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/version"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sbom"
	"github.com/wasmward/wasmward/scan"
)

// newScanCmd builds `wasmward scan MODULE... [--policy FILE] [--format
// text|json|sarif] [--fail-on SEVERITY] [--allow-threads] [--validate]
// [--osv DIR]`. Exit status: 0 when no finding reaches --fail-on, 1 when one
// does, 2 for usage errors and unreadable files.
func newScanCmd(s streams) *cobra.Command {
	var policyFile, format, failOn, osvDir string
	var allowThreads, validate bool
	cmd := &cobra.Command{
		Use:   "scan MODULE...",
		Short: "Check modules against a policy and report findings (text, JSON or SARIF)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			threshold, err := scan.ParseSeverity(failOn)
			if err != nil {
				return usageErr("--fail-on: %v", err)
			}
			switch format {
			case "text", "json", "sarif":
			default:
				return usageErr("--format: unknown format %q: want text, json or sarif", format)
			}
			opts := scan.Options{AllowThreads: allowThreads, Validate: validate}
			if policyFile != "" {
				p, err := policy.Load(policyFile)
				if err != nil {
					return withCode(exitUsage, err)
				}
				opts.Policy = &p
			}
			if osvDir != "" {
				db, err := sbom.LoadOSV(osvDir)
				if err != nil {
					return withCode(exitUsage, err)
				}
				opts.Advisories = db
			}
			// Check every file is readable before scanning any, so that a
			// typo is a usage error, not a partial report.
			results := make([]*scan.Result, 0, len(args))
			for _, path := range args {
				bin, err := readModuleFile(path)
				if err != nil {
					return withCode(exitUsage, fmt.Errorf("%s: %w", path, err))
				}
				results = append(results, scan.Scan(cmd.Context(), path, bin, opts))
			}
			w := bufio.NewWriter(s.out)
			switch format {
			case "json":
				err = scan.WriteJSON(w, results, version.Read().Version)
			case "sarif":
				err = scan.WriteSARIF(w, results, version.Read().Version)
			default:
				err = scan.WriteText(w, results)
			}
			if err := flushReport(w, err); err != nil {
				return err
			}
			for _, r := range results {
				if r.AtLeast(threshold) {
					return withCode(exitFailure, nil)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "policy file (default: the built-in secure default policy)")
	f.StringVar(&format, "format", "text", "output format: text, json or sarif")
	f.StringVar(&failOn, "fail-on", "high", "exit 1 when a finding has this severity or higher: info, low, medium, high or critical")
	f.BoolVar(&allowThreads, "allow-threads", false, "accept shared memory and atomics (report them as info, not high)")
	f.BoolVar(&validate, "validate", false, "also compile each module with wazero and report rejections (slower)")
	f.StringVar(&osvDir, "osv", "", "directory of OSV JSON advisories to match the module's components against")
	return cmd
}

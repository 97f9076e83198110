package main

import (
	"bufio"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/bench"
	"github.com/wasmward/wasmward/internal/check"
	"github.com/wasmward/wasmward/internal/fuzz"
	"github.com/wasmward/wasmward/internal/version"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sbom"
	"github.com/wasmward/wasmward/scan"
	"github.com/wasmward/wasmward/trust"
)

// newCheckCmd builds `wasmward check MODULE [--policy FILE] [--trust FILE]
// [--osv DIR] [--bench N] [--fuzz DURATION] [--format text|json|sarif]`.
// Exit status like scan: 0 when no finding reaches --fail-on, 1 when one
// does, 2 for usage errors and unreadable inputs.
func newCheckCmd(s streams) *cobra.Command {
	var policyFile, trustFile, osvDir, format, failOn, target, corpus string
	var benchN int
	var fuzzFor time.Duration
	var seed uint64
	cmd := &cobra.Command{
		Use:   "check MODULE",
		Short: "The whole pipeline: validate, imports, SBOM+OSV, scan, signatures, bench and fuzz, one report",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			threshold, err := scan.ParseSeverity(failOn)
			if err != nil {
				return usageErr("--fail-on: %v", err)
			}
			switch format {
			case "text", "json", "sarif":
			default:
				return usageErr("--format: unknown format %q: want text, json or sarif", format)
			}
			if benchN < 0 || fuzzFor < 0 {
				return usageErr("--bench and --fuzz must not be negative")
			}
			t, err := fuzz.ParseTarget(target)
			if err != nil {
				return usageErr("--target: %v", err)
			}
			opt := check.Options{Path: path, Policy: policy.Default(), Bench: benchN, Fuzz: fuzzFor, Target: t, Seed: seed, FuzzDir: corpus}
			if policyFile != "" {
				if opt.Policy, err = policy.Load(policyFile); err != nil {
					return withCode(exitUsage, err)
				}
			}
			if osvDir != "" {
				if opt.Advisories, err = sbom.LoadOSV(osvDir); err != nil {
					return withCode(exitUsage, err)
				}
			}
			if trustFile != "" {
				if opt.Gate, err = trust.OpenGate(trust.GateConfig{TrustPolicy: trustFile}); err != nil {
					return withCode(exitUsage, err)
				}
			}
			bin, err := readModuleFile(path)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", path, err))
			}
			if fuzzFor > 0 && corpus == "" {
				opt.FuzzDir = strings.TrimSuffix(filepath.Base(path), ".wasm") + ".fuzz"
			}
			rep, err := check.Run(cmd.Context(), bin, opt)
			if err != nil {
				return withCode(exitFailure, err)
			}
			w := bufio.NewWriter(s.out)
			results := []*scan.Result{rep.Scan}
			switch format {
			case "json":
				err = writeJSON(w, rep)
			case "sarif":
				err = scan.WriteSARIF(w, results, version.Read().Version)
			default:
				err = scan.WriteText(w, results)
				if err == nil && rep.Signature != "" {
					fmt.Fprintf(w, "  signature: verified, module %s\n", rep.Signature)
				}
				if err == nil && rep.Bench != nil {
					fmt.Fprintln(w)
					err = bench.WriteText(w, path, rep.Bench)
				}
				if err == nil && rep.Fuzz != nil {
					fmt.Fprintf(w, "\nfuzz: %d executions (%.0f/s), corpus %d, %d features, %d finding(s)\n",
						rep.Fuzz.Executions, rep.Fuzz.ExecsPerSecond(), rep.Fuzz.Corpus, rep.Fuzz.Features, len(rep.Fuzz.Findings))
				}
			}
			if err := flushReport(w, err); err != nil {
				return err
			}
			if rep.Scan.AtLeast(threshold) {
				return withCode(exitFailure, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "policy file (default: the built-in secure default policy)")
	f.StringVar(&trustFile, "trust", "", "verify the module's signatures against this trust policy (refusal: WW801)")
	f.StringVar(&osvDir, "osv", "", "directory of OSV JSON advisories to match the module's components against")
	f.IntVar(&benchN, "bench", 0, "also benchmark the module for this many iterations (a failing run: WW802)")
	f.DurationVar(&fuzzFor, "fuzz", 0, "also fuzz the module for this long (findings: WW811-WW814)")
	f.StringVar(&target, "target", "request", "what --bench and --fuzz drive: request (a WAGI handler), stdin, or invoke:NAME")
	f.StringVar(&corpus, "corpus", "", "fuzzing corpus directory; crashes go to DIR/crashes (default: MODULE-NAME.fuzz)")
	f.Uint64Var(&seed, "seed", 1, "fuzzing seed")
	f.StringVar(&format, "format", "text", "output format: text, json or sarif")
	f.StringVar(&failOn, "fail-on", "high", "exit 1 when a finding has this severity or higher: info, low, medium, high or critical")
	return cmd
}

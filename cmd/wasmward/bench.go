package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/bench"
	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/policy"
)

// newBenchCmd builds `wasmward bench MODULE [--iterations N] [--warmup N]
// [--invoke NAME -- args | --request FILE | --stdin FILE] [--compare
// OTHER.wasm [--fail-if-slower 5%]] [--json]`. Exit status: 0, 1 when the
// module fails a run or --fail-if-slower holds, 2 for usage errors and
// unreadable inputs.
func newBenchCmd(s streams) *cobra.Command {
	var policyFile, invoke, requestFile, stdinFile, compare, failIfSlower string
	var iterations, warmup, compileSamples int
	var seed uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench MODULE [-- args]",
		Short: "Measure compile, instantiate and run time, fuel and peak memory under the policy",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, guestArgs := args[0], args[1:]
			if dash := cmd.ArgsLenAtDash(); dash > 1 {
				return usageErr("bench takes one module; arguments go after --")
			}
			if requestFile != "" && (stdinFile != "" || invoke != "") {
				return usageErr("--request cannot be combined with --stdin or --invoke")
			}
			if failIfSlower != "" && compare == "" {
				return usageErr("--fail-if-slower needs --compare")
			}
			threshold, err := parsePercent(failIfSlower)
			if err != nil {
				return usageErr("--fail-if-slower: %v", err)
			}
			opt := bench.Options{Policy: policy.Default(), Iterations: iterations, Warmup: warmup,
				CompileSamples: compileSamples, Seed: seed,
				Workload: bench.Workload{Function: invoke, Args: guestArgs}}
			if iterations < 1 || warmup < 0 || compileSamples < 0 {
				return usageErr("--iterations must be at least 1, --warmup and --compile-samples not negative")
			}
			if policyFile != "" {
				if opt.Policy, err = policy.Load(policyFile); err != nil {
					return withCode(exitUsage, err)
				}
			}
			if requestFile != "" {
				data, err := os.ReadFile(requestFile)
				if err != nil {
					return withCode(exitUsage, fmt.Errorf("--request: %w", err))
				}
				if opt.Workload.Request, err = wagireq.Parse(data); err != nil {
					return withCode(exitUsage, fmt.Errorf("--request %s: %w", requestFile, err))
				}
			}
			if stdinFile != "" {
				if opt.Workload.Stdin, err = os.ReadFile(stdinFile); err != nil {
					return withCode(exitUsage, fmt.Errorf("--stdin: %w", err))
				}
			}
			bin, err := readModuleFile(module)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", module, err))
			}
			w := bufio.NewWriter(s.out)
			if compare == "" {
				res, err := bench.Run(cmd.Context(), bin, opt)
				if err != nil {
					return withCode(benchExit(err), err)
				}
				if asJSON {
					err = writeJSON(w, res)
				} else {
					err = bench.WriteText(w, module, res)
				}
				return flushReport(w, err)
			}
			other, err := readModuleFile(compare)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", compare, err))
			}
			c, err := bench.Compare(cmd.Context(), bin, other, opt)
			if err != nil {
				return withCode(benchExit(err), err)
			}
			if asJSON {
				err = writeJSON(w, c)
			} else {
				err = bench.WriteComparison(w, module, compare, c)
			}
			if err := flushReport(w, err); err != nil {
				return err
			}
			if failIfSlower != "" && c.Slower(threshold) {
				return withCode(exitFailure, fmt.Errorf("%s is slower than %s by more than %s: x%.3f (95%% CI %.3f .. %.3f)",
					module, compare, failIfSlower, c.Ratio, c.Low, c.High))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "policy file (default: the built-in secure default policy); its limits stay on")
	f.IntVar(&iterations, "iterations", 100, "measured iterations")
	f.IntVar(&warmup, "warmup", 5, "iterations run first and not measured")
	f.IntVar(&compileSamples, "compile-samples", 0, "compilations measured, each in a fresh runtime (default: min(iterations, 5))")
	f.StringVar(&invoke, "invoke", "", "call this export with the numeric arguments after -- instead of _start")
	f.StringVar(&requestFile, "request", "", "an HTTP/1.1 request file: run the module as a WAGI handler of that request")
	f.StringVar(&stdinFile, "stdin", "", "file given as standard input to every iteration")
	f.StringVar(&compare, "compare", "", "a baseline module: run both interleaved and print MODULE/baseline with a 95% bootstrap interval")
	f.StringVar(&failIfSlower, "fail-if-slower", "", "with --compare: exit 1 when MODULE is slower by more than this (5%) with 95% confidence")
	f.Uint64Var(&seed, "seed", 1, "seed of the bootstrap resampling")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}

// benchExit is the exit status of a failed benchmark: 2 for a workload
// the caller got wrong (no such export, wrong arguments), 1 otherwise.
func benchExit(err error) int {
	if errors.Is(err, bench.ErrWorkload) {
		return exitUsage
	}
	return exitFailure
}

// parsePercent parses "5%" or "5" as 0.05 ("" is 0).
func parsePercent(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 1000 {
		return 0, fmt.Errorf("invalid percentage %q: want a number like 5%%", s)
	}
	return v / 100, nil
}

func writeJSON(w *bufio.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// flushReport flushes a report writer, mapping a failure to exit 1.
func flushReport(w *bufio.Writer, err error) error {
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return withCode(exitFailure, fmt.Errorf("write report: %w", err))
	}
	return nil
}

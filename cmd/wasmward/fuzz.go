package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/fuzz"
	"github.com/wasmward/wasmward/policy"
)

// newFuzzCmd builds `wasmward fuzz MODULE [--duration 300s] [--target
// request|invoke:NAME|stdin] [--corpus DIR] [--seed N] [-j N]`. Exit status:
// 0 when nothing was found, 1 when something was (written to
// DIR/crashes), 2 for usage errors and unreadable inputs.
func newFuzzCmd(s streams) *cobra.Command {
	var policyFile, target, corpus, timeout string
	var duration time.Duration
	var executions int64
	var seed uint64
	var workers int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fuzz MODULE",
		Short: "Coverage-guided fuzzing of a module under its policy; findings go to DIR/crashes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			module := args[0]
			t, err := fuzz.ParseTarget(target)
			if err != nil {
				return usageErr("--target: %v", err)
			}
			if workers < 1 || executions < 0 || duration < 0 {
				return usageErr("-j must be at least 1, --executions and --duration not negative")
			}
			if duration == 0 && executions == 0 {
				return usageErr("set --duration or --executions: a fuzzing run needs a bound")
			}
			p := policy.Default()
			if policyFile != "" {
				if p, err = policy.Load(policyFile); err != nil {
					return withCode(exitUsage, err)
				}
			}
			d, err := policy.ParseDuration(timeout)
			if err != nil {
				return usageErr("--timeout: %v", err)
			}
			if d < p.Limits.Timeout {
				p.Limits.Timeout = d
			}
			bin, err := readModuleFile(module)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", module, err))
			}
			if corpus == "" {
				corpus = strings.TrimSuffix(filepath.Base(module), ".wasm") + ".fuzz"
			}
			if !cmd.Flags().Changed("seed") {
				var b [8]byte
				_, _ = rand.Read(b[:])
				seed = binary.LittleEndian.Uint64(b[:]) >> 1
			}
			fmt.Fprintf(s.err, "fuzz: %s, target %s, seed %d, corpus %s, %d worker(s)\n", module, t, seed, corpus, workers)
			res, err := fuzz.Run(cmd.Context(), bin, fuzz.Options{Target: t, Policy: p, Duration: duration,
				Executions: executions, Seed: seed, Workers: workers, Dir: corpus, Module: module,
				PolicyFile: policyFile, Progress: s.err})
			if err != nil {
				return withCode(exitUsage, err)
			}
			w := bufio.NewWriter(s.out)
			if asJSON {
				err = writeJSON(w, res)
			} else {
				fmt.Fprintf(w, "%d executions in %s (%.0f/s), corpus %d, %d features of %d sites, %d finding(s)\n",
					res.Executions, res.Elapsed.Round(time.Millisecond), res.ExecsPerSecond(), res.Corpus, res.Features, res.Sites, len(res.Findings))
				for _, f := range res.Findings {
					fmt.Fprintf(w, "%s (%d hits): %s\n  at function %d offset %#x; input %s\n  reproduce: %s\n", f.Key, f.Hits, f.Detail, f.Func, f.Offset, f.File, f.Repro)
				}
			}
			if err := flushReport(w, err); err != nil {
				return err
			}
			if len(res.Findings) > 0 {
				return withCode(exitFailure, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "policy file (default: the built-in secure default policy); its limits stay on")
	f.DurationVar(&duration, "duration", 300*time.Second, "stop after this long (0: only --executions bounds the run)")
	f.Int64Var(&executions, "executions", 0, "stop after this many executions (0: no bound; with --seed, a run is reproducible)")
	f.StringVar(&target, "target", "request", "what an input is: request (a WAGI handler's HTTP request), stdin, or invoke:NAME (an export's numeric arguments)")
	f.StringVar(&corpus, "corpus", "", "corpus directory: seeds, kept inputs, and findings in DIR/crashes (default: MODULE-NAME.fuzz)")
	f.Uint64Var(&seed, "seed", 0, "random seed; the same seed and --executions give the same findings (default: random, printed)")
	f.IntVarP(&workers, "jobs", "j", 1, "inputs run in parallel")
	f.StringVar(&timeout, "timeout", "1s", "deadline per input (the policy's timeout when that is shorter)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

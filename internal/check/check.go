// Package check is the pipeline of `wasmward check` as one call: decode and
// validate, imports against the policy, SBOM and OSV, the scan rules,
// signature verification under a trust policy, and optionally a benchmark
// and a coverage-guided fuzzing run. Every finding, whatever stage made
// it, is a scan.Finding in one scan.Result, so one SARIF report carries
// them all.
package check

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/wasmward/wasmward/internal/bench"
	"github.com/wasmward/wasmward/internal/fuzz"
	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sbom"
	"github.com/wasmward/wasmward/scan"
	"github.com/wasmward/wasmward/trust"
)

// Options configures Run.
type Options struct {
	// Path names the module (the SARIF artifact, the trust caller name).
	Path string
	// Policy is the policy the module is checked against and run under.
	Policy policy.Policy
	// Advisories, when set, are matched against the SBOM (WW702).
	Advisories *sbom.Database
	// Gate, when set, verifies the module's signatures (WW801).
	Gate *trust.Gate
	// Bench is the number of benchmark iterations (0: no benchmark).
	Bench int
	// Fuzz is the fuzzing time (0: no fuzzing); FuzzDir its corpus
	// directory ("": in memory); Target what the benchmark and the fuzzer
	// drive; Seed the fuzzer's seed.
	Fuzz    time.Duration
	FuzzDir string
	Target  fuzz.Target
	Seed    uint64
}

// Report is what Run found.
type Report struct {
	// Scan holds every finding of every stage.
	Scan *scan.Result `json:"scan"`
	// Signature is who signed the module when a trust policy admitted it.
	Signature string        `json:"signature,omitempty"`
	Bench     *bench.Result `json:"bench,omitempty"`
	Fuzz      *fuzz.Result  `json:"fuzz,omitempty"`
}

// Run checks bin. Errors are the host's (a cancelled context, a fuzzing
// corpus that cannot be written); everything about the module is a finding.
func Run(ctx context.Context, bin []byte, opt Options) (*Report, error) {
	p := opt.Policy
	res := scan.Scan(ctx, opt.Path, bin, scan.Options{Policy: &p, Advisories: opt.Advisories, Validate: true})
	rep := &Report{Scan: res}
	whole := scan.Location{Offset: -1, Function: -1}
	if opt.Gate != nil {
		m, err := opt.Gate.ReadMaterial(bin, "", trust.Files{Module: opt.Path})
		if err != nil {
			return nil, fmt.Errorf("check: trust material: %w", err)
		}
		adm, err := opt.Gate.Admit(ctx, m)
		var re *trust.RefusedError
		switch {
		case errors.As(err, &re):
			res.Add(finding(scan.RuleSignature, whole, "%v", re))
		case err != nil:
			return nil, fmt.Errorf("check: verify: %w", err)
		default:
			rep.Signature = fmt.Sprintf("%s (%s)", adm.Name, adm.NameSource)
		}
	}
	if res.AtLeast(scan.Critical) {
		// It does not decode or validate: nothing can run.
		return rep, ctx.Err()
	}
	if opt.Bench > 0 {
		w := bench.Workload{Function: opt.Target.Function}
		if opt.Target.Kind == fuzz.Request {
			w.Request = &wagireq.Request{Method: "GET", Path: "/"}
		}
		b, err := bench.Run(ctx, bin, bench.Options{Policy: p, Iterations: opt.Bench, Warmup: min(opt.Bench, 5), Workload: w})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Add(finding(scan.RuleBenchmarkFailed, whole, "%v", err))
		}
		rep.Bench = b
	}
	if opt.Fuzz > 0 {
		fr, err := fuzz.Run(ctx, bin, fuzz.Options{Target: opt.Target, Policy: p, Duration: opt.Fuzz, Seed: opt.Seed,
			Dir: opt.FuzzDir, Module: opt.Path})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The module cannot be fuzzed (refused by the policy, no such
			// export): the benchmark or the scan says why.
			res.Add(finding(scan.RuleBenchmarkFailed, whole, "fuzzing could not start: %v", err))
		} else {
			rep.Fuzz = fr
			for _, f := range fr.Findings {
				res.Add(fuzzFinding(f))
			}
		}
	}
	return rep, nil
}

func finding(rule string, loc scan.Location, format string, args ...any) scan.Finding {
	r, _ := scan.LookupRule(rule)
	return scan.Finding{RuleID: rule, Severity: r.Severity, Title: r.Title, Message: fmt.Sprintf(format, args...),
		Location: loc, Remediation: r.Remediation}
}

// fuzzFinding maps a fuzzer finding to its rule, located at the basic
// block where the run stopped.
func fuzzFinding(f *fuzz.Finding) scan.Finding {
	rule := scan.RuleFuzzTrap
	switch f.Kind {
	case "violation":
		rule = scan.RuleFuzzViolation
	case "invalid_response":
		rule = scan.RuleFuzzInvalidResp
	case "exit":
		rule = scan.RuleFuzzExitStatus
	}
	loc := scan.Location{Section: "code", Offset: f.Offset, Function: int64(f.Func)}
	msg := f.Detail
	if f.Violation != "" {
		msg = f.Violation + ": " + msg
	}
	msg += "; reproduce: " + f.Repro
	if f.File != "" {
		msg += " (input " + filepath.ToSlash(f.File) + ")"
	}
	return finding(rule, loc, "%s", msg)
}

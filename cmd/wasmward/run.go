package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/atomicfile"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
	"github.com/wasmward/wasmward/trust"
)

// runFlags are the flags of `wasmward run`; set ones override the policy file.
type runFlags struct {
	policyFile   string
	memory       string
	timeout      string
	output       string
	dirs         []string
	env          []string
	allowImports []string
	invoke       string
	report       string
	fuel         uint64
	stackDepth   uint32
	stdin        string

	cache cacheFlags

	// Trust: verified before anything is compiled.
	trust       trustFlags
	name        string
	attestation string
	sig         string
	bundle      string
}

func newRunCmd(s streams) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run MODULE [flags] [-- guest args]",
		Short: "Run a WebAssembly module under a policy",
		Long: `Run a WASI preview1 command module (its _start) or, with --invoke, one
exported function, under a policy: a memory cap per instance, a wall-clock
deadline, output caps, optional fuel, a call-depth bound, confined mounts,
an import allowlist and, when the policy file grants it, outbound HTTP to
the endpoints it lists (docs/network.md; each refused request is printed).
Flags override the policy file.

With --trust FILE the module's embedded signatures are verified against the
trust policy before it is compiled; with --attestation FILE too, the module
runs under the policy its publisher signed for this exact binary: operator
flags may then only tighten limits, and each attested mount must be given a
host directory by --dir or --policy (see docs/trust.md). --state FILE keeps
the highest version accepted per module name and refuses older ones unless
--allow-downgrade.

Exit status: the guest's own exit code when it exits; 126 when the module is
refused before it runs; 134 when the guest traps; 137 when wasmward stopped it
for a limit; 2 for usage errors.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runModule(cmd, s, &f, args[0], args[1:])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policyFile, "policy", "", "policy file (YAML)")
	fl.StringVar(&f.memory, "memory", "", "linear memory cap per instance, e.g. 64MiB")
	fl.StringVar(&f.timeout, "timeout", "", "wall-clock deadline, e.g. 2s")
	fl.StringVar(&f.output, "output-limit", "", "cap of stdout and of stderr, each, e.g. 1MiB")
	fl.StringArrayVar(&f.dirs, "dir", nil, "mount HOST:GUEST[:ro] (repeatable)")
	fl.StringArrayVar(&f.env, "env", nil, "guest environment variable K=V (repeatable)")
	fl.StringArrayVar(&f.allowImports, "allow-import", nil, "also allow imports matching module.name PATTERN (repeatable)")
	fl.StringVar(&f.invoke, "invoke", "", "call this exported function (numeric args after --) instead of _start")
	fl.StringVar(&f.report, "report", "", "write the run report (JSON) to FILE")
	fl.Uint64Var(&f.fuel, "fuel", 0, "fuel budget (0: unmetered; the deadline still holds)")
	fl.StringVar(&f.stdin, "stdin", "", "the guest's standard input: none, inherit (wasmward's own) or file:PATH (default: the policy's, none)")
	fl.Uint32Var(&f.stackDepth, "stack-depth", 0, "maximum nested guest calls")
	f.trust.register(fl)
	fl.StringVar(&f.name, "name", "", "module name for the trust policy and the version state, where the policy allows caller names and the module carries no signed name (default: file base name without .wasm)")
	fl.StringVar(&f.attestation, "attestation", "", "run under this signed capability manifest (needs --trust)")
	fl.StringVar(&f.sig, "sig", "", "detached cosign signature of the module (default MODULE.sig when the trust policy accepts cosign signatures)")
	f.cache.register(fl)
	fl.StringVar(&f.bundle, "bundle", "", "Sigstore bundle of the module (default MODULE.bundle when the trust policy accepts cosign signatures)")
	alias(fl, "output", "output-limit")
	return cmd
}

// buildPolicy loads the policy file (or the default) and applies the flags.
func buildPolicy(cmd *cobra.Command, f *runFlags) (policy.Policy, error) {
	p := policy.Default()
	if f.policyFile != "" {
		var err error
		if p, err = policy.Load(f.policyFile); err != nil {
			return p, err
		}
	}
	if err := applyFlags(cmd, f, &p); err != nil {
		return p, err
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	if d := p.Limits.StackDepth; d > sandbox.MaxStackDepth {
		return p, fmt.Errorf("%s: stack_depth %d: the engine's stack holds at most %d nested calls (of the smallest functions)", f.policyFile, d, sandbox.MaxStackDepth)
	}
	return p, nil
}

// applyFlags sets the fields of p that flags were given for.
func applyFlags(cmd *cobra.Command, f *runFlags, p *policy.Policy) error {
	fl := cmd.Flags()
	if fl.Changed("memory") {
		v, err := policy.ParseSize(f.memory)
		if err != nil {
			return fmt.Errorf("--memory: %w", err)
		}
		p.Limits.Memory = v
	}
	if fl.Changed("timeout") {
		v, err := policy.ParseDuration(f.timeout)
		if err != nil {
			return fmt.Errorf("--timeout: %w", err)
		}
		p.Limits.Timeout = v
	}
	if changed(fl, "output-limit") {
		v, err := policy.ParseSize(f.output)
		if err != nil {
			return fmt.Errorf("--output-limit: %w", err)
		}
		p.Limits.Output = v
	}
	if fl.Changed("stdin") {
		p.Capabilities.Stdin = f.stdin // checked by Validate
	}
	if fl.Changed("fuel") {
		p.Limits.Fuel = f.fuel
	}
	if fl.Changed("stack-depth") {
		if f.stackDepth > sandbox.MaxStackDepth {
			return fmt.Errorf("--stack-depth %d: the engine's stack holds at most %d nested calls (of the smallest functions)", f.stackDepth, sandbox.MaxStackDepth)
		}
		p.Limits.StackDepth = f.stackDepth
	}
	for _, d := range f.dirs {
		m, err := policy.ParseMount(d)
		if err != nil {
			return fmt.Errorf("--dir: %w", err)
		}
		p.Capabilities.Mounts = append(p.Capabilities.Mounts, m)
	}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--env %q: want K=V", kv)
		}
		if p.Capabilities.Env == nil {
			p.Capabilities.Env = map[string]string{}
		}
		p.Capabilities.Env[k] = v
	}
	p.Capabilities.Imports = append(p.Capabilities.Imports, f.allowImports...)
	return nil
}

// checkTrustFlags refuses flag combinations that would silently mean
// nothing, or that would hand a signed module capabilities its publisher
// did not sign for.
func checkTrustFlags(cmd *cobra.Command, f *runFlags, guestArgs []string) error {
	fl := cmd.Flags()
	if err := f.trust.check(fl, "name", "attestation", "sig", "bundle"); err != nil {
		return err
	}
	if fl.Changed("name") && f.name == "" {
		return usageErr("--name: empty module name")
	}
	if f.attestation == "" {
		return nil
	}
	const why = "with --attestation the module gets the capabilities its publisher signed; add them to the attested policy instead"
	switch {
	case len(f.env) > 0:
		return usageErr("--env: %s", why)
	case len(f.allowImports) > 0:
		return usageErr("--allow-import: %s", why)
	case len(guestArgs) > 0 && f.invoke == "":
		return usageErr("guest arguments: %s", why)
	}
	return nil
}

// operatorCeiling is the operator's side of an attested run: the policy
// file's limits as ceilings and its mounts (policy.ParseCeiling), then the flags.
func operatorCeiling(cmd *cobra.Command, f *runFlags) (policy.Policy, error) {
	p := policy.Ceiling()
	if f.policyFile != "" {
		data, err := os.ReadFile(f.policyFile)
		if err != nil {
			return p, fmt.Errorf("read policy: %w", err)
		}
		if p, err = policy.ParseCeiling(data, f.policyFile); err != nil {
			return p, err
		}
		p.ResolvePaths(filepath.Dir(f.policyFile))
	}
	if err := applyFlags(cmd, f, &p); err != nil {
		return p, err
	}
	return p, p.Validate()
}

func runModule(cmd *cobra.Command, s streams, f *runFlags, path string, guestArgs []string) error {
	ctx := cmd.Context()
	// A reader that goes away must not kill the process silently (status
	// 141): a write to a broken pipe fails instead, and the run ends with
	// its own status and message.
	signal.Ignore(syscall.SIGPIPE)
	if err := checkTrustFlags(cmd, f, guestArgs); err != nil {
		return err
	}
	var (
		p   policy.Policy
		err error
	)
	if f.attestation == "" {
		p, err = buildPolicy(cmd, f)
	} else {
		p, err = operatorCeiling(cmd, f)
	}
	if err != nil {
		return withCode(exitUsage, err)
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("read module: %w", err))
	}
	name := path
	refused := func(r *sandbox.Refusal) error {
		if werr := writeReport(f.report, sandbox.RefusedReport(name, sandbox.SHA256Hex(bin), r), nil); werr != nil {
			return withCode(exitFailure, werr)
		}
		return withCode(exitRefused, r)
	}
	var info *trustInfo
	if f.trust.policy != "" {
		g, err := f.trust.open()
		if err != nil {
			return err
		}
		m, err := g.ReadMaterial(bin, f.name, trust.Files{Module: path, Attestation: f.attestation, Signature: f.sig, Bundle: f.bundle})
		if err != nil {
			return withCode(exitUsage, err)
		}
		adm, err := admitModule(ctx, g, m, func(u string) { fmt.Fprintf(s.err, "wasmward: warning: the bundle carries %s\n", u) })
		var r *sandbox.Refusal
		switch {
		case errors.As(err, &r):
			return refused(r)
		case err != nil:
			return err
		}
		info = newTrustInfo(adm)
		if adm.Attested {
			if p, err = policy.Attested(adm.Policy, p); err != nil {
				var ce *policy.CapabilityError
				if errors.As(err, &ce) {
					return refused(&sandbox.Refusal{Violation: sandbox.Violation{Kind: sandbox.KindCapabilityDenied, Detail: ce.Detail}})
				}
				return withCode(exitUsage, err)
			}
		}
	}
	rcfg, err := f.cache.apply(sandbox.NewConfig().WithStdin(s.in), "", "", func(w sandbox.CacheWarning) {
		fmt.Fprintf(s.err, "wasmward: warning: compile cache entry %s rejected, deleted and recompiled: %s\n", w.Path, w.Reason)
	})
	if err != nil {
		return err
	}
	rt, err := sandbox.New(ctx, rcfg)
	if err != nil {
		return withCode(exitFailure, err)
	}
	// Closing never waits long for what the deadline abandoned (a compile
	// still running, a guest stuck in a host call): the process exits and
	// takes them with it.
	defer closeBounded(rt.Close)

	// Compiling an untrusted module is bounded by the run's deadline too: a
	// compile that outlives it is refused (violation timeout).
	cctx, cancel := context.WithTimeout(ctx, p.Limits.Timeout.Std())
	mod, err := rt.Compile(cctx, bin, p)
	cancel()
	var refusal *sandbox.Refusal
	switch {
	case errors.As(err, &refusal):
		return refused(refusal)
	case err != nil:
		return withCode(exitUsage, err)
	}
	defer closeBounded(mod.Close)

	in := sandbox.Invocation{Name: name, Stdout: s.out, Stderr: s.err, Function: f.invoke}
	var sig sandbox.Signature
	if f.invoke != "" {
		var ok bool
		if sig, ok = mod.Export(f.invoke); !ok {
			return usageErr("--invoke: the module exports no function %q", f.invoke)
		}
		if len(guestArgs) != len(sig.Params) {
			return usageErr("--invoke %s: takes %d arguments, got %d", f.invoke, len(sig.Params), len(guestArgs))
		}
		for i, a := range guestArgs {
			v, err := sandbox.EncodeValue(sig.Params[i], a)
			if err != nil {
				return usageErr("--invoke %s: argument %d: %v", f.invoke, i+1, err)
			}
			in.Params = append(in.Params, v)
		}
	} else {
		in.Args = guestArgs
	}

	// The guest's output and wasmward's own last lines may meet a pipe
	// nobody drains: writes to the host's streams give up at the run's
	// deadline, and the lines after the run get a short grace.
	setStreamDeadline(s, time.Now().Add(p.Limits.Timeout.Std()))
	rep, err := mod.Run(ctx, in)
	setStreamDeadline(s, time.Now().Add(streamGrace))
	if err != nil {
		if errors.Is(err, sandbox.ErrInvoke) {
			return withCode(exitUsage, err)
		}
		return withCode(exitFailure, err)
	}
	if werr := writeReport(f.report, rep, info); werr != nil {
		return withCode(exitFailure, werr)
	}
	printDenials(s.err, rep.Network)
	switch rep.Outcome {
	case sandbox.OutcomeExit:
		for _, r := range sandbox.FormatResults(sig, rep.Results) {
			fmt.Fprintln(s.out, r)
		}
		switch {
		case rep.ExitCode == 0:
			return nil
		case rep.ExitCode < 0 || rep.ExitCode > 255:
			// A process status has 8 bits: 256 would read as success.
			return withCode(exitFailure, fmt.Errorf("guest exited with status %d, which does not fit an exit status", rep.ExitCode))
		}
		return withCode(rep.ExitCode, nil)
	case sandbox.OutcomeTrap:
		return withCode(exitTrap, fmt.Errorf("guest trapped: %s", rep.Trap))
	case sandbox.OutcomeViolation:
		return withCode(exitViolated, fmt.Errorf("guest stopped: %s", rep.Violation.Error()))
	default:
		return withCode(exitFailure, fmt.Errorf("unexpected outcome %q", rep.Outcome))
	}
}

// closeGrace bounds how long `run` waits, when it closes the runtime and
// the module, for work the deadline abandoned; streamGrace how long its
// last lines may take to write.
const (
	closeGrace  = 100 * time.Millisecond
	streamGrace = 250 * time.Millisecond
)

// closeBounded calls a Close method with a context that ends after
// closeGrace, never with the signal context: an abandoned guest or
// compilation must not keep the process alive.
func closeBounded(closeFn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	_ = closeFn(ctx)
}

// setStreamDeadline bounds the writes to the process's standard streams
// (see internal/hostio) when they support it; in-memory streams of tests
// do not block and are left alone.
func setStreamDeadline(s streams, t time.Time) {
	for _, w := range []io.Writer{s.out, s.err} {
		if d, ok := w.(interface{ SetDeadline(time.Time) }); ok {
			d.SetDeadline(t)
		}
	}
}

// runReport is the JSON of --report: the sandbox report, plus what the trust
// check found when --trust was given.
type runReport struct {
	*sandbox.Report
	Trust *trustInfo `json:"trust,omitempty"`
}

// trustInfo is the "trust" object of a run report.
type trustInfo struct {
	// Name is the module name the trust policy was evaluated for.
	Name string `json:"name"`
	// NameSource is where the name came from: "signed" (a wasmward.name
	// section), "attestation" (its subject) or "caller" (--name or the file
	// name, where the policy allows it).
	NameSource string `json:"name_source"`
	// Signed is false only for an unsigned module let through by
	// require_signature: false.
	Signed bool `json:"signed"`
	// Signers are the names of the trusted keys that signed the module.
	Signers []string `json:"signers"`
	// Version is the module's signed version ("" when unversioned).
	Version string `json:"version,omitempty"`
	// AttestedBy are the names of the keys that signed the attestation the
	// module ran under; absent without --attestation.
	AttestedBy []string `json:"attested_by,omitempty"`
}

func newTrustInfo(adm trust.Admission) *trustInfo {
	ti := &trustInfo{Name: adm.Name, NameSource: adm.NameSource, Signed: adm.Signature.Signed, Signers: []string{}, Version: adm.Signature.Version}
	for _, sg := range adm.Signature.Signers {
		ti.Signers = append(ti.Signers, sg.Name)
	}
	if adm.Attested {
		for _, sg := range adm.Attestation.Signers {
			ti.AttestedBy = append(ti.AttestedBy, sg.Name)
		}
	}
	return ti
}

// writeReport writes the report to path (nothing when path is empty)
// atomically, with the trust object when info is not nil.
func writeReport(path string, rep *sandbox.Report, info *trustInfo) error {
	if path == "" {
		return nil
	}
	if info == nil {
		return rep.WriteFile(path)
	}
	data, err := json.MarshalIndent(runReport{Report: rep, Trust: info}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// printDenials writes one line per outbound request the network capability
// refused (the report lists the first 32 of a run, with the count of all).
func printDenials(w io.Writer, n *sandbox.NetworkReport) {
	if n == nil {
		return
	}
	for _, d := range n.Denials {
		fmt.Fprintf(w, "wasmward: outbound request refused (%s): %s\n", d.Reason, d.Detail)
	}
	if more := n.DeniedTotal() - uint64(len(n.Denials)); more > 0 {
		fmt.Fprintf(w, "wasmward: %d more outbound requests refused (see the report)\n", more)
	}
}

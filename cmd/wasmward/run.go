package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
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
}

func newRunCmd(s streams) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run MODULE [flags] [-- guest args]",
		Short: "Run a WebAssembly module under a policy",
		Long: `Run a WASI preview1 command module (its _start) or, with --invoke, one
exported function, under a policy: a memory cap per instance, a wall-clock
deadline, output caps, optional fuel, a call-depth bound, confined mounts and
an import allowlist. Flags override the policy file.

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
	fl.StringVar(&f.output, "output", "", "cap of stdout and of stderr, each, e.g. 1MiB")
	fl.StringArrayVar(&f.dirs, "dir", nil, "mount HOST:GUEST[:ro] (repeatable)")
	fl.StringArrayVar(&f.env, "env", nil, "guest environment variable K=V (repeatable)")
	fl.StringArrayVar(&f.allowImports, "allow-import", nil, "also allow imports matching module.name PATTERN (repeatable)")
	fl.StringVar(&f.invoke, "invoke", "", "call this exported function (numeric args after --) instead of _start")
	fl.StringVar(&f.report, "report", "", "write the run report (JSON) to FILE")
	fl.Uint64Var(&f.fuel, "fuel", 0, "fuel budget (0: unmetered; the deadline still holds)")
	fl.Uint32Var(&f.stackDepth, "stack-depth", 0, "maximum nested guest calls")
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
	fl := cmd.Flags()
	if fl.Changed("memory") {
		v, err := policy.ParseSize(f.memory)
		if err != nil {
			return p, fmt.Errorf("--memory: %w", err)
		}
		p.Limits.Memory = v
	}
	if fl.Changed("timeout") {
		v, err := policy.ParseDuration(f.timeout)
		if err != nil {
			return p, fmt.Errorf("--timeout: %w", err)
		}
		p.Limits.Timeout = v
	}
	if fl.Changed("output") {
		v, err := policy.ParseSize(f.output)
		if err != nil {
			return p, fmt.Errorf("--output: %w", err)
		}
		p.Limits.Output = v
	}
	if fl.Changed("fuel") {
		p.Limits.Fuel = f.fuel
	}
	if fl.Changed("stack-depth") {
		p.Limits.StackDepth = f.stackDepth
	}
	for _, d := range f.dirs {
		m, err := policy.ParseMount(d)
		if err != nil {
			return p, fmt.Errorf("--dir: %w", err)
		}
		p.Capabilities.Mounts = append(p.Capabilities.Mounts, m)
	}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return p, fmt.Errorf("--env %q: want K=V", kv)
		}
		if p.Capabilities.Env == nil {
			p.Capabilities.Env = map[string]string{}
		}
		p.Capabilities.Env[k] = v
	}
	p.Capabilities.Imports = append(p.Capabilities.Imports, f.allowImports...)
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

func runModule(cmd *cobra.Command, s streams, f *runFlags, path string, guestArgs []string) error {
	ctx := cmd.Context()
	p, err := buildPolicy(cmd, f)
	if err != nil {
		return withCode(exitUsage, err)
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("read module: %w", err))
	}
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithStdin(s.in))
	if err != nil {
		return withCode(exitFailure, err)
	}
	defer rt.Close(ctx)

	name := path
	mod, err := rt.Compile(ctx, bin, p)
	var refusal *sandbox.Refusal
	switch {
	case errors.As(err, &refusal):
		rep := sandbox.RefusedReport(name, sha256Hex(bin), refusal)
		if werr := writeReport(f.report, rep); werr != nil {
			return withCode(exitFailure, werr)
		}
		return withCode(exitRefused, refusal)
	case err != nil:
		return withCode(exitUsage, err)
	}
	defer mod.Close(ctx)

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

	rep, err := mod.Run(ctx, in)
	if err != nil {
		if errors.Is(err, sandbox.ErrInvoke) {
			return withCode(exitUsage, err)
		}
		return withCode(exitFailure, err)
	}
	if werr := writeReport(f.report, rep); werr != nil {
		return withCode(exitFailure, werr)
	}
	switch rep.Outcome {
	case sandbox.OutcomeExit:
		for i, r := range rep.Results {
			t := sandbox.ValueOther
			if i < len(sig.Results) {
				t = sig.Results[i]
			}
			fmt.Fprintln(s.out, sandbox.FormatValue(t, r))
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

func writeReport(path string, rep *sandbox.Report) error {
	if path == "" {
		return nil
	}
	return rep.WriteFile(path)
}

func sha256Hex(b []byte) string { return sandbox.SHA256Hex(b) }

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// errUnmetered is returned by the sandbox variant when the sandbox ran a
// module without metering it: its figures would not measure fuel.
var errUnmetered = errors.New("the sandbox ran the module unmetered (fuel_used 0): its numbers would not measure fuel")

// sandboxVariant runs modules through wasmward's sandbox, the way `wasmward
// run` does: a policy with a large fuel budget and a generous timeout, so that
// both fuel and deadline are armed.
type sandboxVariant struct {
	rt *sandbox.Runtime
	p  policy.Policy
}

func newSandbox(ctx context.Context) (variant, error) {
	rt, err := sandbox.New(ctx, sandbox.NewConfig())
	if err != nil {
		return nil, err
	}
	p := policy.Default()
	p.Limits.Fuel = benchFuel
	p.Limits.Timeout = policy.Duration(benchDeadline)
	return &sandboxVariant{rt: rt, p: p}, nil
}

func (v *sandboxVariant) name() string { return "wasmward" }

func (v *sandboxVariant) close(ctx context.Context) error { return v.rt.Close(ctx) }

func (v *sandboxVariant) compile(ctx context.Context, bin []byte) (runner, error) {
	m, err := v.rt.Compile(ctx, bin, v.p)
	if err != nil {
		return nil, err
	}
	return &sandboxRunner{m: m}, nil
}

type sandboxRunner struct {
	m    *sandbox.Module
	used uint64
}

func (r *sandboxRunner) run(ctx context.Context, args []string, stdout io.Writer) error {
	var stderr limitedBuffer
	rep, err := r.m.Run(ctx, sandbox.Invocation{Name: "bench", Args: args, Stdout: stdout, Stderr: &stderr})
	if err != nil {
		return err
	}
	if rep.Outcome != sandbox.OutcomeExit || rep.ExitCode != 0 {
		return fmt.Errorf("outcome %s, exit code %d, violation %v, trap %q, stderr %q",
			rep.Outcome, rep.ExitCode, rep.Violation, rep.Trap, stderr.String())
	}
	if rep.FuelUsed == 0 {
		return errUnmetered
	}
	r.used = rep.FuelUsed
	return nil
}

func (r *sandboxRunner) fuel() uint64 { return r.used }

func (r *sandboxRunner) close(ctx context.Context) error { return r.m.Close(ctx) }

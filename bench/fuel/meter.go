package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmward/wasmward/internal/meter"
)

// The metered variants' limits: large enough never to stop the suite, so
// that both mechanisms are armed and only their cost is measured.
const (
	benchFuel     = 1_000_000_000_000
	benchDeadline = 10 * time.Minute
	// fuelSlice is how much fuel one call of the fuel host function hands
	// out (the sandbox's slice); the deadline is checked at every refill.
	fuelSlice = 1 << 20
)

// meterVariant runs modules instrumented by internal/meter (fuel and call
// depth) on a plain wazero compiler runtime, with a host fuel function that
// refills in slices from the run's budget and checks the run's deadline at
// every refill: the metering the sandbox does, without the rest of the
// sandbox (policy checks, WASI call counting, memory pool, output caps). The
// difference between this variant and the sandbox's is the sandbox's own cost.
type meterVariant struct{}

func newMeter(context.Context) (variant, error) { return meterVariant{}, nil }

func (meterVariant) name() string { return "meter" }

func (meterVariant) close(context.Context) error { return nil }

func (meterVariant) compile(ctx context.Context, bin []byte) (runner, error) {
	metered, err := meter.Instrument(bin, meter.Options{})
	if err != nil {
		return nil, err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	_, err = rt.NewHostModuleBuilder(meter.ImportModule).
		NewFunctionBuilder().
		WithGoFunction(api.GoFunc(fuelHost), []api.ValueType{api.ValueTypeI64}, []api.ValueType{api.ValueTypeI64}).
		Export(meter.FuelFunc).
		NewFunctionBuilder().
		WithGoFunction(api.GoFunc(stackHost), nil, nil).
		Export(meter.StackFunc).
		Instantiate(ctx)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate %s host module: %w", meter.ImportModule, err)
	}
	cm, err := rt.CompileModule(ctx, metered)
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &meterRunner{rt: rt, cm: cm}, nil
}

type meterRunner struct {
	rt   wazero.Runtime
	cm   wazero.CompiledModule
	used uint64
}

// fuelState is one run's budget, reached by the host functions through the
// context.
type fuelState struct {
	left     uint64 // budget not yet handed out
	given    uint64 // handed out so far, debts included
	deadline time.Time
}

type fuelKey struct{}

var (
	errFuelExhausted = errors.New("fuel exhausted")
	errDeadline      = errors.New("deadline exceeded")
	errStack         = errors.New("call depth limit")
)

// fuelHost is meter.FuelFunc: settle the debt (stack[0] < 0) and hand out the
// next slice, or stop the guest.
func fuelHost(ctx context.Context, stack []uint64) {
	st := ctx.Value(fuelKey{}).(*fuelState)
	if time.Now().After(st.deadline) {
		panic(errDeadline)
	}
	debt := uint64(-int64(stack[0]))
	want := debt + fuelSlice
	if want > st.left {
		panic(errFuelExhausted)
	}
	st.left -= want
	st.given += want
	stack[0] = fuelSlice
}

func stackHost(context.Context, []uint64) { panic(errStack) }

func (r *meterRunner) run(ctx context.Context, args []string, stdout io.Writer) error {
	st := &fuelState{left: benchFuel, deadline: time.Now().Add(benchDeadline)}
	ctx = context.WithValue(ctx, fuelKey{}, st)
	var stderr limitedBuffer
	mc := wazero.NewModuleConfig().WithName("").WithArgs(append([]string{"bench"}, args...)...).
		WithStdout(stdout).WithStderr(&stderr).WithStartFunctions() // _start is called below, to read the counter after
	mod, err := r.rt.InstantiateModule(ctx, r.cm, mc)
	if err != nil {
		return err
	}
	defer mod.Close(ctx)
	_, err = mod.ExportedFunction("_start").Call(ctx)
	if err = exitOK(err); err != nil && stderr.Len() > 0 {
		err = fmt.Errorf("%w (stderr: %q)", err, stderr.String())
	}
	left := int64(mod.ExportedGlobal(meter.FuelGlobal).Get())
	r.used = uint64(int64(st.given) - left)
	return err
}

// dumpInstrumented writes each program as internal/meter instruments it to
// dir/NAME.wasm.
func dumpInstrumented(progs []program, dir string, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range progs {
		bin, err := wasmFS.ReadFile("wasm/" + p.name + ".wasm")
		if err != nil {
			return err
		}
		out, err := meter.Instrument(bin, meter.Options{})
		if err != nil {
			return fmt.Errorf("instrument %s: %w", p.name, err)
		}
		path := filepath.Join(dir, p.name+".wasm")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(log, "wrote %s (%d -> %d bytes)\n", path, len(bin), len(out))
	}
	return nil
}

func (r *meterRunner) fuel() uint64 { return r.used }

func (r *meterRunner) close(ctx context.Context) error { return r.rt.Close(ctx) }

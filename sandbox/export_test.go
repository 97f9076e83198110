package sandbox

import (
	"context"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
)

// SetFuelSlice changes how much fuel one refuel hands out, for tests that
// prove the budget is exact whatever the slice.
func SetFuelSlice(r *Runtime, n int64) { r.fuelSlice = n }

// CheckBudget is checkBudget, for tests that check modules the policy
// would refuse for other reasons (imports).
func CheckBudget(mod *wasm.Module, p policy.Policy) error {
	_, err := checkBudget(mod, p)
	return err
}

// InstrumentForBench instruments bin as Compile does under the default
// policy, without the budget check.
func InstrumentForBench(bin []byte) ([]byte, error) {
	return instrument(bin, 0, uint64(policy.DefaultMemory))
}

// CompilePlain compiles bin with a fresh wazero compiler runtime and
// returns the bytes allocated meanwhile.
func CompilePlain(tb testing.TB, bin []byte) uint64 {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer r.Close(ctx)
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	cm, err := r.CompileModule(ctx, bin)
	runtime.ReadMemStats(&b)
	if err != nil {
		tb.Fatal(err)
	}
	_ = cm.Close(ctx)
	return b.TotalAlloc - a.TotalAlloc
}

// Instantiations is how many instances of m were created (Run reuses
// clean ones).
func Instantiations(m *Module) int64 { return m.instances.Load() }

// Reusable reports whether Run may reuse m's instances, and why not.
func Reusable(m *Module) (bool, string) { return m.reuse.ok, m.reuse.why }

// SetIdleBudget sets the most bytes r's idle instances may be charged.
func SetIdleBudget(r *Runtime, n int64) { r.idleBudget = n }

// IdleBytes is what the idle instances of r are charged against its idle
// budget.
func IdleBytes(r *Runtime) int64 { return r.idleBytes.Load() }

// MaxIdle is the most idle run states a module keeps; IdleOverhead what an
// idle instance is charged beyond its memory and tables.
func MaxIdle() int { return maxIdle() }

const IdleOverhead = idleOverhead

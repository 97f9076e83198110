package meter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmward/wasmward/internal/fixture"
)

var (
	errFuelExhausted = errors.New("fuel exhausted")
	errDeadline      = errors.New("deadline exceeded")
	errStackLimit    = errors.New("stack limit")
)

// testHost is a "wasmward" host module the way the sandbox is meant to write
// one: it hands out fuel in slices from a budget, checks a deadline at every
// refill, and stops the guest by panicking.
type testHost struct {
	mu        sync.Mutex
	slice     int64
	budget    int64 // total fuel the run may consume
	handedOut int64 // fuel given to the guest so far (debts paid included)
	refills   int
	deadline  time.Time // zero: none
}

func (h *testHost) fuel(_ context.Context, counter int64) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refills++
	if !h.deadline.IsZero() && time.Now().After(h.deadline) {
		panic(errDeadline)
	}
	debt := -counter
	if h.handedOut+debt > h.budget {
		panic(errFuelExhausted)
	}
	give := min(h.slice, h.budget-h.handedOut-debt)
	h.handedOut += debt + give
	return give
}

// consumed is the fuel the guest used: everything handed out minus what is
// left in the module's counter (negative when it ended in debt).
func (h *testHost) consumed(m api.Module) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handedOut - int64(m.ExportedGlobal(FuelGlobal).Get())
}

var engines = map[string]func() wazero.RuntimeConfig{
	"compiler":    wazero.NewRuntimeConfigCompiler,
	"interpreter": wazero.NewRuntimeConfigInterpreter,
}

// instantiate instruments the fixture name with opt and instantiates it
// with host on a fresh runtime of the given engine.
func instantiate(t *testing.T, engine, name string, opt Options, host *testHost) api.Module {
	t.Helper()
	return instantiateWith(t, engine, name, opt, host, false)
}

func instantiateWith(t *testing.T, engine, name string, opt Options, host *testHost, closeOnDone bool) api.Module {
	t.Helper()
	return instantiateBytes(t, engine, fixture.Bytes(t, name), opt, host, closeOnDone)
}

func instantiateBytes(t *testing.T, engine string, bin []byte, opt Options, host *testHost, closeOnDone bool) api.Module {
	t.Helper()
	ctx := context.Background()
	out, err := Instrument(bin, opt)
	if err != nil {
		t.Fatalf("instrument: %v", err)
	}
	cfg := engines[engine]().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall | experimental.CoreFeaturesExceptionHandling)
	if closeOnDone {
		cfg = cfg.WithCloseOnContextDone(true)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	_, err = r.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().WithFunc(host.fuel).Export(FuelFunc).
		NewFunctionBuilder().WithFunc(func(context.Context) { panic(errStackLimit) }).Export(StackFunc).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instantiate instrumented module: %v", err)
	}
	return m
}

func call(t *testing.T, m api.Module, fn string, args ...uint64) ([]uint64, error) {
	t.Helper()
	f := m.ExportedFunction(fn)
	if f == nil {
		t.Fatalf("no export %q", fn)
	}
	return f.Call(context.Background(), args...)
}

func ample() *testHost { return &testHost{slice: 1000, budget: 1 << 62} }

// TestExactCost checks the cost model on fixtures whose cost is computed by
// hand (see meter_cost.wat), on both engines.
func TestExactCost(t *testing.T) {
	pow2 := func(n int) int64 { return int64(1) << n }
	tests := []struct {
		fn   string
		arg  uint64
		want int64
	}{
		{"count", 0, 9*1 + 3},
		{"count", 1, 9*1 + 3},
		{"count", 10, 9*10 + 3},
		{"count", 100000, 9*100000 + 3},
		{"sum", 0, 6},
		{"sum", 10, 12*10 + 6},
		{"sum", 1000, 12*1000 + 6},
		{"tree", 0, 22*pow2(0) - 16},
		{"tree", 5, 22*pow2(5) - 16},
		{"tree", 12, 22*pow2(12) - 16},
		{"fill", 0, 5},
		{"fill", 15, 5},
		{"fill", 16, 5 + 1},
		{"fill", 65536, 5 + 4096},
		{"grow", 0, 3},
		{"grow", 2, 3 + 2*4096},
		{"grow", 1 << 20, 3 + (1<<20)*4096}, // fails (returns -1), still charged
	}
	for engine := range engines {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%s(%d)", engine, tc.fn, tc.arg), func(t *testing.T) {
				host := ample()
				m := instantiate(t, engine, "meter_cost", Options{}, host)
				if _, err := call(t, m, tc.fn, tc.arg); err != nil {
					t.Fatal(err)
				}
				if got := host.consumed(m); got != tc.want {
					t.Errorf("consumed %d, want %d", got, tc.want)
				}
			})
		}
	}
}

// TestDeterministic runs the same calls repeatedly on both engines, with
// different slice sizes, and requires identical fuel every time.
func TestDeterministic(t *testing.T) {
	calls := []struct {
		fn  string
		arg uint64
	}{{"count", 777}, {"sum", 333}, {"tree", 9}, {"fill", 40000}, {"count", 5}}
	var want []int64
	for _, slice := range []int64{1, 7, 1000, 1 << 40} {
		for engine := range engines {
			for run := range 3 {
				host := &testHost{slice: slice, budget: 1 << 62}
				m := instantiate(t, engine, "meter_cost", Options{}, host)
				var got []int64
				for _, c := range calls {
					if _, err := call(t, m, c.fn, c.arg); err != nil {
						t.Fatal(err)
					}
					got = append(got, host.consumed(m))
				}
				if want == nil {
					want = got
				} else if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s slice=%d run %d: cumulative fuel %v, first run %v", engine, slice, run, got, want)
				}
			}
		}
	}
}

// TestFuelStopsExponentialCallTree: the anchor case that plain wazero's
// context check never stops (no loop at all) is stopped by fuel, within
// what one function's straight-line code can overdraw.
func TestFuelStopsExponentialCallTree(t *testing.T) {
	for engine := range engines {
		t.Run(engine, func(t *testing.T) {
			const budget = 5_000_000
			host := &testHost{slice: 10_000, budget: budget}
			m := instantiate(t, engine, "meter_cost", Options{}, host)
			_, err := call(t, m, "tree", 62)
			if !errors.Is(err, errFuelExhausted) {
				t.Fatalf("tree(62): %v, want %v", err, errFuelExhausted)
			}
			if got := host.consumed(m); got < budget-10_000 || got > budget+100 {
				t.Errorf("consumed %d, want within a slice of the budget %d", got, budget)
			}
		})
	}
}

// TestDeadlineStopsSpin: the host checks the wall clock in the refill
// callback, so an infinite loop stops soon after the deadline.
func TestDeadlineStopsSpin(t *testing.T) {
	for engine := range engines {
		t.Run(engine, func(t *testing.T) {
			host := &testHost{slice: 100_000, budget: 1 << 62, deadline: time.Now().Add(50 * time.Millisecond)}
			m := instantiateWith(t, engine, "meter_cost", Options{}, host, true)
			start := time.Now()
			// Safety net only: if metering failed to stop the loop, wazero's
			// own context check ends the call with a different error.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := m.ExportedFunction("spin").Call(ctx)
			if !errors.Is(err, errDeadline) {
				t.Fatalf("spin: %v, want %v", err, errDeadline)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("stopped after %v", d)
			}
		})
	}
}

// TestBulkChargedBeforeRunning: a memory.fill the budget cannot pay for
// stops before it writes.
func TestBulkChargedBeforeRunning(t *testing.T) {
	host := &testHost{slice: 100, budget: 1000}
	m := instantiate(t, "compiler", "meter_cost", Options{}, host)
	_, err := call(t, m, "fill", 65536) // costs 4101
	if !errors.Is(err, errFuelExhausted) {
		t.Fatalf("fill: %v, want %v", err, errFuelExhausted)
	}
	if b, ok := m.Memory().Read(0, 1); !ok || b[0] != 0 {
		t.Errorf("memory written before the charge: %v", b)
	}
}

// TestDepthBound checks the exact bound: StackDepth nested frames run, one
// more calls StackFunc.
func TestDepthBound(t *testing.T) {
	for engine := range engines {
		for _, depth := range []uint32{1, 5, 1000} {
			t.Run(fmt.Sprintf("%s/%d", engine, depth), func(t *testing.T) {
				m := instantiate(t, engine, "meter_depth", Options{StackDepth: depth}, ample())
				// rec(n) nests n+1 frames.
				if _, err := call(t, m, "rec", uint64(depth-1)); err != nil {
					t.Fatalf("rec(%d) = %d frames: %v", depth-1, depth, err)
				}
				if got := int32(m.ExportedGlobal(DepthGlobal).Get()); got != int32(depth) {
					t.Fatalf("depth counter %d after return, want %d", got, depth)
				}
				if _, err := call(t, m, "rec", uint64(depth)); !errors.Is(err, errStackLimit) {
					t.Fatalf("rec(%d) = %d frames: %v, want %v", depth, depth+1, err, errStackLimit)
				}
			})
		}
	}
}

// TestDepthRestoredOnEveryExit calls functions that leave by return, by br
// and br_table to the function label, directly and through a table, many
// more times than the depth bound: any exit that forgot to give its frame
// back would exhaust it.
func TestDepthRestoredOnEveryExit(t *testing.T) {
	for engine := range engines {
		t.Run(engine, func(t *testing.T) {
			const depth = 3
			m := instantiate(t, engine, "meter_depth", Options{StackDepth: depth}, ample())
			res, err := call(t, m, "many", 1000)
			if err != nil {
				t.Fatal(err)
			}
			// The uninstrumented module computes the reference result.
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, engines[engine]())
			defer r.Close(ctx)
			orig, err := r.Instantiate(ctx, fixture.Bytes(t, "meter_depth"))
			if err != nil {
				t.Fatal(err)
			}
			wantRes, err := orig.ExportedFunction("many").Call(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			want := uint32(wantRes[0])
			if uint32(res[0]) != want {
				t.Errorf("many(1000) = %d, want %d", uint32(res[0]), want)
			}
			if got := int32(m.ExportedGlobal(DepthGlobal).Get()); got != depth {
				t.Errorf("depth counter %d, want %d", got, depth)
			}
		})
	}
}

// TestTailCallsRunInConstantDepth: return_call and return_call_indirect
// give the frame back first, so 100000 tail calls fit in a depth of 2.
func TestTailCallsRunInConstantDepth(t *testing.T) {
	for engine := range engines {
		t.Run(engine, func(t *testing.T) {
			m := instantiate(t, engine, "meter_tailcall", Options{StackDepth: 2}, ample())
			for fn, want := range map[string]uint64{"tc": 42, "tci": 43} {
				res, err := call(t, m, fn, 100000)
				if err != nil {
					t.Fatalf("%s: %v", fn, err)
				}
				if res[0] != want {
					t.Errorf("%s = %d, want %d", fn, res[0], want)
				}
				if got := int32(m.ExportedGlobal(DepthGlobal).Get()); got != 2 {
					t.Errorf("%s: depth counter %d, want 2", fn, got)
				}
			}
		})
	}
}

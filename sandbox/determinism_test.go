package sandbox_test

import (
	"context"
	"testing"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// TestFuelDeterministicAcrossEngines: the same module and input consume the
// same fuel on every run and with both of wazero's engines, and half that
// budget stops the guest with fuel_exhausted on both, reporting the whole
// budget as used. (Exhaustion is detected at charge points that check: loop
// headers, function entries and bulk operations; a budget a few units short
// may let the guest finish the straight-line code after the last check.)
func TestFuelDeterministicAcrossEngines(t *testing.T) {
	ctx := context.Background()
	engines := map[string]sandbox.Engine{"compiler": sandbox.EngineCompiler, "interpreter": sandbox.EngineInterpreter}
	cases := []struct {
		fixture string
		args    []string
	}{
		{"sb_tool", []string{"hello"}},
		{"sb_tool", []string{"malloc", "8"}},
		{"gw_echo", nil},
	}
	p := policy.Default()
	p.Limits.Fuel = 1 << 40
	used := map[int]uint64{}
	for name, e := range engines {
		rt, err := sandbox.New(ctx, sandbox.NewConfig().WithEngine(e))
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range cases {
			m := compile(t, rt, tc.fixture, p)
			for round := range 3 {
				r := run(t, m, sandbox.Invocation{Args: tc.args})
				if r.rep.Violation != nil || r.rep.FuelUsed == 0 {
					t.Fatalf("%s %s %v: %+v", name, tc.fixture, tc.args, r.rep)
				}
				if want, ok := used[i]; ok && r.rep.FuelUsed != want {
					t.Errorf("%s %s %v round %d: fuel_used %d, want %d", name, tc.fixture, tc.args, round, r.rep.FuelUsed, want)
				}
				used[i] = r.rep.FuelUsed
			}
			short := p.Clone()
			short.Limits.Fuel = used[i] / 2
			ms := compile(t, rt, tc.fixture, short)
			r := run(t, ms, sandbox.Invocation{Args: tc.args})
			if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindFuelExhausted || r.rep.FuelUsed != used[i]/2 {
				t.Errorf("%s %s %v with fuel %d: %+v", name, tc.fixture, tc.args, used[i]/2, r.rep)
			}
		}
		rt.Close(ctx)
	}
}

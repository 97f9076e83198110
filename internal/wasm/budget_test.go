package wasm_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/internal/wasm"
)

// decodeAlloc decodes b and returns the bytes Decode allocated.
func decodeAlloc(b []byte) (*wasm.Module, uint64, error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := wasm.Decode(b)
	runtime.ReadMemStats(&after)
	return m, after.TotalAlloc - before.TotalAlloc, err
}

// Hostile shapes of many tiny entries made Decode allocate 16-240 times
// the module's size (a 600 KB file of empty custom sections: 142 MB). Each
// is now refused with ErrDecodeBudget (the name section's defect is
// recorded in NamesErr), having allocated less than twice the budget; the
// same shapes at a realistic size decode.
func TestDecodeBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bin      []byte
		refused  bool // Decode fails with ErrDecodeBudget
		namesErr bool // NamesErr is ErrDecodeBudget
	}{
		{"empty custom sections", synth.ManySections(400_000), true, false},
		{"empty types", synth.EmptyTypes(1_000_000), true, false},
		{"empty passive data segments", synth.PassiveData(1_000_000), true, false},
		{"one type of 4M parameters", synth.WideType(4_000_000), true, false},
		{"names of 2M functions", synth.FunctionNames(2_000_000), false, true},
		{"a few custom sections", synth.ManySections(1_000), false, false},
		{"a few types", synth.EmptyTypes(1_000), false, false},
		{"a few segments", synth.PassiveData(1_000), false, false},
		{"a type of 1000 parameters", synth.WideType(1_000), false, false},
		{"names of 1000 functions", synth.FunctionNames(1_000), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, alloc, err := decodeAlloc(tc.bin)
			budget := wasm.DecodeBudget(len(tc.bin))
			if tc.refused {
				var we *wasm.Error
				if !errors.Is(err, wasm.ErrDecodeBudget) || !errors.As(err, &we) {
					t.Fatalf("err = %v, want ErrDecodeBudget", err)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if m != nil && tc.namesErr != errors.Is(m.NamesErr, wasm.ErrDecodeBudget) {
				t.Fatalf("NamesErr = %v, want ErrDecodeBudget: %v", m.NamesErr, tc.namesErr)
			}
			if alloc > 2*budget {
				t.Fatalf("%d-byte module: Decode allocated %d bytes, above twice its budget of %d", len(tc.bin), alloc, budget)
			}
			t.Logf("%d bytes, allocated %d (%.1fx), budget %d: %v", len(tc.bin), alloc, float64(alloc)/float64(len(tc.bin)), budget, err)
		})
	}
}

func TestDecodeBudgetFormula(t *testing.T) {
	for _, tc := range []struct {
		size int
		want uint64
	}{{0, 16 << 20}, {1 << 20, 20 << 20}, {-1, 16 << 20}} {
		if got := wasm.DecodeBudget(tc.size); got != tc.want {
			t.Errorf("DecodeBudget(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

package meter

import (
	"errors"
	"testing"

	"github.com/wasmward/wasmward/internal/wasm"
)

// ehModule builds (with internal/wasm's encoder; wat2wasm 1.0.32 has no
// try_table) a module whose export "catcher" k runs k rounds of: call a
// function that recurses 5 times and then throws; catch it with try_table
// catch_all. It returns 1.
func ehModule(t *testing.T) []byte {
	t.Helper()
	i32 := []wasm.ValType{wasm.I32}
	m := &wasm.Module{
		Types: []wasm.FuncType{
			{Params: i32},               // 0: thrower
			{Params: i32, Results: i32}, // 1: catcher
			{},                          // 2: tag
		},
		Functions: []uint32{0, 1},
		Tags:      []wasm.Tag{{Attribute: 0, Type: 2}},
		Exports:   []wasm.Export{{Name: "catcher", Kind: wasm.ExternFunc, Index: 1}},
		Code: []wasm.Func{
			{Body: wasm.Expr{Code: []byte{
				0x20, 0x00, // local.get 0
				0x04, 0x40, // if
				0x20, 0x00, 0x41, 0x01, 0x6b, // local.get 0; i32.const 1; i32.sub
				0x10, 0x00, // call 0
				0x05,       // else
				0x08, 0x00, // throw 0
				0x0b, // end
				0x0b, // end
			}}},
			{Body: wasm.Expr{Code: []byte{
				0x03, 0x40, // loop
				0x02, 0x40, // block
				0x1f, 0x40, 0x01, 0x02, 0x00, // try_table (catch_all 0)
				0x41, 0x05, 0x10, 0x00, // i32.const 5; call 0
				0x0b,                                     // end
				0x0b,                                     // end (the catch lands here)
				0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, // local.get 0; i32.const 1; i32.sub; local.tee 0
				0x0d, 0x00, // br_if 0 (the loop)
				0x0b,       // end
				0x41, 0x01, // i32.const 1
				0x0b,
			}}},
		},
	}
	bin, err := wasm.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestDepthResetWhereExceptionIsCaught: an exception unwinds frames without
// running their restores; the catching function sets the counter back to
// its own level where the catch lands, so catching a throw through 6 frames
// 1000 times in one call under a bound of 10 never exhausts it.
func TestDepthResetWhereExceptionIsCaught(t *testing.T) {
	bin := ehModule(t)
	for engine := range engines {
		t.Run(engine, func(t *testing.T) {
			const depth = 10
			m := instantiateBytes(t, engine, bin, Options{StackDepth: depth}, ample(), false)
			res, err := call(t, m, "catcher", 1000)
			if err != nil {
				t.Fatal(err)
			}
			if res[0] != 1 {
				t.Fatalf("catcher = %d, want 1", res[0])
			}
			if got := int32(m.ExportedGlobal(DepthGlobal).Get()); got != depth {
				t.Errorf("depth counter %d, want %d", got, depth)
			}
			// Under a bound of 6, the 7 frames (catcher + 6) are one too many.
			m = instantiateBytes(t, engine, bin, Options{StackDepth: 6}, ample(), false)
			if _, err := call(t, m, "catcher", 1); !errors.Is(err, errStackLimit) {
				t.Errorf("catcher under a bound of 6: %v, want %v", err, errStackLimit)
			}
		})
	}
}

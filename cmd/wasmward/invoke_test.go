package main

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmward/wasmward/internal/wasm"
)

// mixedResults is a module exporting
//
//	mixed: () -> (v128, i64, f32, f64, funcref, externref)
//	refs:  () -> (funcref, funcref, funcref, externref)
//
// mixed returns the bytes 0..15, -5, 1.5, -2.25, ref.func 0 and a null
// externref; refs returns ref.func 1, ref.func 0, ref.func 1 and null.
func mixedResults(t *testing.T) []byte {
	t.Helper()
	v128 := []byte{0xfd, 0x0c}
	for i := range 16 {
		v128 = append(v128, byte(i))
	}
	var f32, f64 [4 + 4]byte
	binary.LittleEndian.PutUint32(f32[:4], math.Float32bits(1.5))
	binary.LittleEndian.PutUint64(f64[:], math.Float64bits(-2.25))
	mixed := append(append([]byte{}, v128...), 0x42, 0x7b) // i64.const -5
	mixed = append(append(mixed, 0x43), f32[:4]...)
	mixed = append(append(mixed, 0x44), f64[:]...)
	mixed = append(mixed, 0xd2, 0, 0xd0, 0x6f, 0x0b) // ref.func 0, ref.null extern
	refs := []byte{0xd2, 1, 0xd2, 0, 0xd2, 1, 0xd0, 0x6f, 0x0b}
	m := &wasm.Module{
		Types: []wasm.FuncType{
			{Results: []wasm.ValType{wasm.V128, wasm.I64, wasm.F32, wasm.F64, wasm.FuncRef, wasm.ExternRef}},
			{Results: []wasm.ValType{wasm.FuncRef, wasm.FuncRef, wasm.FuncRef, wasm.ExternRef}},
		},
		Functions: []uint32{0, 1},
		Exports: []wasm.Export{
			{Name: "mixed", Kind: wasm.ExternFunc, Index: 0},
			{Name: "refs", Kind: wasm.ExternFunc, Index: 1},
		},
		Elements: []wasm.Element{{Flags: 3, Mode: wasm.ModeDeclarative, Type: wasm.FuncRef, Funcs: []uint32{0, 1}}},
		Code:     []wasm.Func{{Body: wasm.Expr{Code: mixed}}, {Body: wasm.Expr{Code: refs}}},
	}
	b, err := wasm.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInvokeResultsByType (issue 9, leak 11): every result is printed by
// its own type. Before, a v128 (two slots in wazero's encoding) shifted
// every later result onto the wrong type, and references printed as host
// pointers.
func TestInvokeResultsByType(t *testing.T) {
	mod := filepath.Join(t.TempDir(), "mixed.wasm")
	if err := os.WriteFile(mod, mixedResults(t), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		export, stdout string
	}{
		{"mixed", "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n-5\n1.5\n-2.25\nfuncref#1\nnull\n"},
		// wazero may return a new reference value for each ref.func, so
		// the numbering says which values were equal, not which function.
		{"refs", "funcref#1\nfuncref#2\nfuncref#3\nnull\n"},
	}
	for _, tc := range tests {
		t.Run(tc.export, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "run", "--invoke", tc.export, mod)
			if code != exitOK || stdout != tc.stdout {
				t.Fatalf("exit %d, stdout %q (stderr %q), want 0 and %q", code, stdout, stderr, tc.stdout)
			}
		})
	}
}

// TestInvokeReportHasNoHostPointers: a reference result is its opaque
// number in the report too.
func TestInvokeReportHasNoHostPointers(t *testing.T) {
	dir := t.TempDir()
	mod, rep := filepath.Join(dir, "mixed.wasm"), filepath.Join(dir, "r.json")
	if err := os.WriteFile(mod, mixedResults(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "", "run", "--invoke", "refs", "--report", rep, mod); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := readReport(t, rep).Results
	if len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2] != 3 || got[3] != 0 {
		t.Errorf("report results %v, want [1 2 3 0]", got)
	}
}

package wasm

import (
	"bytes"
	"reflect"
	"sort"
	"testing"
	"unsafe"

	"github.com/wasmward/wasmward/internal/fixture"
)

// wasm3Fixtures are the WebAssembly 3.0 modules under internal/fixture/src/wat
// (assembled by wasm-tools, validated with binaryen's wasm-opt
// --all-features), with the features Decode must report.
var wasm3Fixtures = []struct {
	name  string
	feats Features
}{
	{"w3_gc", FeatureGC | FeatureReferenceTypes | FeatureTypedFuncRefs | FeatureExtendedConst | FeatureBulkMemory},
	{"w3_funcref", FeatureTypedFuncRefs | FeatureReferenceTypes | FeatureTailCall | FeatureBulkMemory},
	{"w3_exn", FeatureExceptions | FeatureMultiValue | FeatureReferenceTypes},
	{"w3_exn_legacy", FeatureExceptions | FeatureLegacyExceptions},
	{"w3_mem64", FeatureMemory64 | FeatureMultiMemory | FeatureThreads | FeatureBulkMemory | FeatureReferenceTypes | FeatureSIMD},
	{"w3_relaxed", FeatureSIMD | FeatureRelaxedSIMD},
	{"w3_extconst", FeatureExtendedConst},
}

// TestWasm3Fixtures decodes every WebAssembly 3.0 fixture: the features are
// exactly those the module uses, the module re-encodes to the same bytes
// (wasm-tools writes minimal LEB128), every instruction of every body and
// constant expression re-encodes to its own bytes, and Sections agrees.
func TestWasm3Fixtures(t *testing.T) {
	for _, tc := range wasm3Fixtures {
		t.Run(tc.name, func(t *testing.T) {
			bin := fixture.Bytes(t, tc.name)
			m, err := Decode(bin)
			if err != nil {
				t.Fatal(err)
			}
			if m.Features != tc.feats {
				t.Errorf("Features = %s, want %s", m.Features, tc.feats)
			}
			out, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, bin) {
				t.Fatalf("Encode(Decode(b)) differs from b (%d vs %d bytes)", len(out), len(bin))
			}
			for _, e := range allExprs(m) {
				checkInstrBytes(t, e)
			}
			secs, err := Sections(bin)
			if err != nil || len(secs) != len(m.Sections) {
				t.Fatalf("Sections: %d, %v; Decode: %d", len(secs), err, len(m.Sections))
			}
		})
	}
}

// allExprs returns every function body and constant expression of m.
func allExprs(m *Module) []Expr {
	var es []Expr
	for i := range m.Code {
		es = append(es, m.Code[i].Body)
	}
	for i := range m.Globals {
		es = append(es, m.Globals[i].Init)
	}
	for i := range m.Tables {
		if m.Tables[i].Init != nil {
			es = append(es, *m.Tables[i].Init)
		}
	}
	for i := range m.Elements {
		if m.Elements[i].Mode == ModeActive {
			es = append(es, m.Elements[i].Offset)
		}
		es = append(es, m.Elements[i].Exprs...)
	}
	for i := range m.Data {
		if m.Data[i].Mode == ModeActive {
			es = append(es, m.Data[i].Offset)
		}
	}
	return es
}

// checkInstrBytes re-encodes each instruction of e alone and compares it
// with the instruction's bytes in the input.
func checkInstrBytes(t *testing.T, e Expr) {
	t.Helper()
	ir := e.Instrs()
	ir.open = true
	var in Instr
	for ir.Next(&in) {
		got, err := AppendInstr(nil, &in)
		if err != nil {
			t.Fatalf("offset %#x: %v", e.Offset+in.Start, err)
		}
		if want := e.Code[in.Start:in.End]; !bytes.Equal(got, want) {
			t.Fatalf("offset %#x: %s re-encodes to % x, want % x", e.Offset+in.Start, in.Op, got, want)
		}
	}
	if ir.Err() != nil {
		t.Fatal(ir.Err())
	}
}

// TestWasm3Coverage checks that the fixtures use every instruction of the
// proposals WebAssembly 3.0 added (so the round trip above covers each
// opcode's immediates), and decodes them into the fields Instr documents.
func TestWasm3Coverage(t *testing.T) {
	seen := map[Opcode]bool{}
	for _, tc := range wasm3Fixtures {
		m, err := Decode(fixture.Bytes(t, tc.name))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range allExprs(m) {
			ir := e.Instrs()
			ir.open = true
			var in Instr
			for ir.Next(&in) {
				seen[in.Op] = true
			}
		}
	}
	var want []Opcode
	for i := range opsGC {
		want = append(want, Opcode(PrefixGC)<<16|Opcode(i))
	}
	for i := range opsRelaxedSIMD {
		want = append(want, Opcode(PrefixSIMD)<<16|Opcode(0x100+i))
	}
	want = append(want, OpRefEq, OpCallRef, OpReturnCallRef, OpRefAsNonNull, OpBrOnNull, OpBrOnNonNull,
		OpReturnCall, OpReturnCallIndirect, OpTryTable, OpThrow, OpThrowRef, OpTry, OpCatch, OpCatchAll,
		OpRethrow, OpDelegate)
	var missing []string
	for _, op := range want {
		if !seen[op] {
			missing = append(missing, op.String())
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("no fixture uses %v", missing)
	}
}

// TestWasm3Structure checks the decoded shape of the GC types, the
// reference types, and the 64-bit memories and tables.
func TestWasm3Structure(t *testing.T) {
	m, err := Decode(fixture.Bytes(t, "w3_gc"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.RecGroups, []RecGroup{{First: 0, Count: 2}}) {
		t.Errorf("RecGroups = %v", m.RecGroups)
	}
	var types []string
	for _, ty := range m.Types {
		types = append(types, ty.String())
	}
	wantTypes := []string{
		"sub struct { i32, mut (ref null 0) }",
		"struct { i32, mut (ref null 0), i8, mut i16 } <: 0",
		"array mut i8",
		"array mut i16",
		"array mut anyref",
		"struct { mut f64, mut i64 }",
		"((ref 0)) -> (i32)",
		"sub () -> ()",
		"() -> () <: 7",
		"(anyref, eqref, i31ref, structref, arrayref, nullref, nullexternref, nullfuncref, funcref, externref, " +
			"(ref any), (ref eq), (ref i31), (ref struct), (ref array), (ref none), (ref noextern), (ref nofunc), (ref func), (ref extern), " +
			"(ref null 0), (ref 0), (ref null 6), (ref 6)) -> ()",
		"(anyref, externref) -> (i32)",
	}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("types:\n got %q\nwant %q", types, wantTypes)
	}
	if ty := m.Types[1]; !ty.Sub || !ty.Final || ty.Kind != TypeStruct || ty.IsPlainFunc() {
		t.Errorf("type 1 = %+v", ty)
	}
	if !m.Types[6].IsPlainFunc() || m.Types[7].IsPlainFunc() {
		t.Error("IsPlainFunc")
	}
	if s := unsafe.Sizeof(FuncType{}); s != 104 {
		t.Errorf("FuncType is %d bytes, want 104 (docs/decoder.md)", s)
	}

	m, err = Decode(fixture.Bytes(t, "w3_mem64"))
	if err != nil {
		t.Fatal(err)
	}
	mems := []Limits{m.Imports[0].Memory.Limits, m.Memories[0].Limits, m.Memories[1].Limits}
	wantMems := []Limits{{Min: 1, Max: 2, HasMax: true}, {Min: 1, Max: 65536, HasMax: true, Is64: true},
		{Min: 1, Max: 16, HasMax: true, Shared: true, Is64: true}}
	if !reflect.DeepEqual(mems, wantMems) {
		t.Errorf("memories = %+v, want %+v", mems, wantMems)
	}
	if l := m.Tables[0].Limits; !l.Is64 || l.Min != 4 || m.Tables[1].Limits.Is64 {
		t.Errorf("tables = %+v", m.Tables)
	}
	if d := m.Data[0]; d.Memory != 1 || d.Flags != 2 {
		t.Errorf("data 0 = %+v", d)
	}
	if v, ok := m.Data[0].Offset.ConstInt(); !ok || v != 0x1_0000_0000 {
		t.Errorf("data 0 offset = %d, %v", v, ok)
	}
	// The i64.store to memory 1 at an offset above 4 GiB.
	ir := m.Code[0].Body.Instrs()
	var in Instr
	for ir.Next(&in) && in.Op != OpI64Store {
	}
	if in.Op != OpI64Store || in.Mem != (MemArg{Align: 3, Offset: 0x1_0000_0008, Memory: 1}) {
		t.Errorf("i64.store = %+v", in.Mem)
	}
}

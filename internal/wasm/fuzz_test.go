package wasm

import (
	"errors"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// FuzzDecode checks that no input makes the decoder panic, that every
// failure is an *Error with an offset inside the input, and that whatever
// decodes re-encodes (module and instructions) to something that decodes to
// the same shape. Seeds: testdata/fuzz/FuzzDecode plus the fixtures.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"wasm_features", "wasm_names", "comp_hello"} {
		f.Add(fixture.Bytes(f, name))
	}
	for _, tc := range wasm3Fixtures {
		f.Add(fixture.Bytes(f, tc.name))
	}
	f.Add(mod(typeVoid, funcOne, body(0x02, 0x40, 0x0e, 1, 0, 0, 0x0b, 0x0b)))
	f.Add(richModule(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, serr := Sections(b)
		m, err := Decode(b)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if we.Offset < 0 || we.Offset > len(b) {
				t.Fatalf("error offset %d outside input of %d bytes", we.Offset, len(b))
			}
			return
		}
		if serr != nil || len(secs) != len(m.Sections) {
			t.Fatalf("Decode succeeded but Sections: %d, %v", len(secs), serr)
		}
		var in Instr
		for i := range m.Code {
			ir := m.Code[i].Body.Instrs()
			var buf []byte
			for ir.Next(&in) {
				if buf, err = AppendInstr(buf, &in); err != nil {
					t.Fatal(err)
				}
			}
			if ir.Err() != nil {
				t.Fatalf("body %d decoded in Decode but not by its reader: %v", i, ir.Err())
			}
			re := NewInstrReader(buf, 0)
			for re.Next(&in) {
			}
			if re.Err() != nil {
				t.Fatalf("body %d re-encoded does not decode: %v", i, re.Err())
			}
		}
		out, err := Encode(m)
		if err != nil {
			return // e.g. rec groups or flags a caller could not have built
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded module does not decode: %v", err)
		}
		if len(m2.Code) != len(m.Code) || len(m2.Types) != len(m.Types) || len(m2.Imports) != len(m.Imports) ||
			len(m2.Data) != len(m.Data) || len(m2.Elements) != len(m.Elements) || len(m2.Globals) != len(m.Globals) {
			t.Fatalf("re-encoded module has a different shape")
		}
	})
}

// richModule builds a module exercising encodings the fixtures lack: rec
// groups, typed references, a table initializer, every element and data
// segment form, tags, try_table, tail calls and a producers section.
func richModule(tb testing.TB) []byte {
	ref0 := ValType{Code: RefNull, Heap: 0}
	instrs := []Instr{
		{Op: OpTryTable, Block: BlockType{Kind: BlockEmpty}, Catches: []Catch{{Kind: CatchTag, Tag: 0, Label: 0}, {Kind: CatchAllRef, Label: 0}}},
		{Op: OpI32Const, I32: 1},
		{Op: OpThrow, Index: 0},
		{Op: OpEnd},
		{Op: OpRefFunc, Index: 0},
		{Op: OpRefAsNonNull},
		{Op: OpBrOnNull, Index: 0},
		{Op: OpCallRef, Index: 0},
		{Op: OpBlock, Block: BlockType{Kind: BlockIndex, Index: 1}},
		{Op: OpEnd},
		{Op: OpMemoryInit, Index: 0, Index2: 0},
		{Op: OpTableInit, Index: 1, Index2: 0},
		{Op: OpI64AtomicRmw32CmpxchgU, Mem: MemArg{Align: 2, Offset: 1 << 20}},
		{Op: OpI8x16Shuffle, V128: make([]byte, 16)},
		{Op: OpV128Load8Lane, Mem: MemArg{Align: 0, Offset: 3}, Lane: 15},
		{Op: OpF64Const, F64: 0x7ff8000000000001},
		{Op: OpReturnCallIndirect, Index: 0, Index2: 0},
		{Op: OpEnd},
	}
	var code []byte
	for i := range instrs {
		var err error
		if code, err = AppendInstr(code, &instrs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	i32c := func(v int32) Expr {
		b, _ := AppendInstr(nil, &Instr{Op: OpI32Const, I32: v})
		return Expr{Code: append(b, byte(OpEnd))}
	}
	refFunc := Expr{Code: []byte{byte(OpRefFunc), 0, byte(OpEnd)}}
	var prod []byte
	prod = AppendU32(prod, 1)
	prod = AppendName(prod, "sdk")
	prod = AppendU32(prod, 1)
	prod = AppendName(AppendName(prod, "wasmward"), "0.1")
	m := &Module{
		Types:     []FuncType{{}, {Params: []ValType{I32, ref0}, Results: []ValType{I64, F32}}},
		RecGroups: []RecGroup{{First: 1, Count: 1}},
		Functions: []uint32{0},
		Tables:    []Table{{Elem: FuncRef, Limits: Limits{Min: 1, Max: 10, HasMax: true}, Init: &refFunc}},
		Memories:  []Memory{{Limits: Limits{Min: 1, Max: 1, HasMax: true, Shared: true}}},
		Tags:      []Tag{{Type: 0}},
		Globals:   []Global{{Type: GlobalType{Val: V128, Mutable: true}, Init: Expr{Code: append([]byte{0xfd, 0x0c}, append(make([]byte, 16), byte(OpEnd))...)}}},
		Exports:   []Export{{Name: "f", Kind: ExternFunc}, {Name: "tag", Kind: ExternTag}},
		Elements: []Element{
			{Flags: 1, Mode: ModePassive, Type: FuncRef, Funcs: []uint32{0}},
			{Flags: 2, Table: 0, Offset: i32c(0), Type: FuncRef, Funcs: []uint32{0}},
			{Flags: 3, Mode: ModeDeclarative, Type: FuncRef, Funcs: []uint32{0}},
			{Flags: 4, Offset: i32c(0), Type: FuncRef, Exprs: []Expr{refFunc}},
			{Flags: 5, Mode: ModePassive, Type: FuncRef, Exprs: []Expr{refFunc}},
			{Flags: 6, Offset: i32c(0), Type: FuncRef, Exprs: []Expr{refFunc}},
			{Flags: 7, Mode: ModeDeclarative, Type: FuncRef, Exprs: []Expr{refFunc}},
		},
		HasDataCount: true,
		DataCount:    2,
		Code:         []Func{{Locals: []LocalDecl{{Count: 2, Type: ExternRef}}, Body: Expr{Code: code}}},
		Data:         []Data{{Flags: 1, Mode: ModePassive, Init: []byte("abc")}, {Flags: 2, Memory: 0, Offset: i32c(8), Init: []byte("d")}},
		Sections:     []Section{{ID: SectionCustom, Name: "producers", Raw: AppendCustomSection(nil, "producers", prod)}},
	}
	out, err := Encode(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// FuzzDecodeComponent checks that no input makes DecodeComponent panic, that
// every failure is an *Error with an offset inside the input, and that the
// offsets it reports (entries, core modules) are inside the input.
func FuzzDecodeComponent(f *testing.F) {
	f.Add(fixture.Bytes(f, "comp_hello"))
	f.Add([]byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0, 10, 6, 1, 0, 1, 'a', 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeComponent(b)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if we.Offset < 0 || we.Offset > len(b) {
				t.Fatalf("error offset %d outside input of %d bytes", we.Offset, len(b))
			}
			return
		}
		for _, m := range c.AllModules() {
			if m.Offset < 0 || m.Offset+m.Size > len(b) || (m.Module == nil) == (m.Err == nil) {
				t.Fatalf("module %+v in %d bytes", m, len(b))
			}
			var we *Error
			if m.Err != nil && (!errors.As(m.Err, &we) || we.Offset < m.Offset || we.Offset > m.Offset+m.Size) {
				t.Fatalf("module error %v outside the module at %d+%d", m.Err, m.Offset, m.Size)
			}
		}
		for _, e := range append(append([]ComponentExtern(nil), c.Imports...), c.Exports...) {
			if e.Offset < HeaderSize || e.Offset >= len(b) {
				t.Fatalf("extern %+v outside input of %d bytes", e, len(b))
			}
		}
	})
}

package wasm

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmward/wasmward/internal/fixture"
)

var hdr = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// mod builds a module from a header and raw sections.
func mod(sections ...[]byte) []byte {
	out := append([]byte(nil), hdr...)
	for _, s := range sections {
		out = append(out, s...)
	}
	return out
}

func sec(id SectionID, payload ...byte) []byte { return AppendSection(nil, id, payload) }

// typeVoid is a type section with one type: func() -> ().
var typeVoid = sec(SectionType, 1, 0x60, 0, 0)

// body builds a code section with one function with no locals.
func body(code ...byte) []byte {
	fn := append([]byte{0}, code...)
	p := AppendU32([]byte{1}, uint32(len(fn)))
	return sec(SectionCode, append(p, fn...)...)
}

var funcOne = sec(SectionFunction, 1, 0)

func TestSections(t *testing.T) {
	custom := AppendCustomSection(nil, "abc", []byte{9, 8})
	bin := mod(typeVoid, custom)
	secs, err := Sections(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 2 {
		t.Fatalf("got %d sections", len(secs))
	}
	ty, cu := secs[0], secs[1]
	if ty.ID != SectionType || ty.Offset != 8 || ty.PayloadOffset != 10 || !bytes.Equal(ty.Raw, typeVoid) ||
		!bytes.Equal(ty.Payload, []byte{1, 0x60, 0, 0}) || ty.End() != 14 {
		t.Errorf("type section: %+v", ty)
	}
	if cu.ID != SectionCustom || cu.Name != "abc" || cu.Offset != 14 || cu.PayloadOffset != 16 ||
		cu.DataOffset != 20 || !bytes.Equal(cu.Data, []byte{9, 8}) || !bytes.Equal(cu.Raw, custom) ||
		!bytes.Equal(cu.Payload, []byte{3, 'a', 'b', 'c', 9, 8}) {
		t.Errorf("custom section: %+v", cu)
	}
	// Raw slices are views into the input.
	if &cu.Raw[0] != &bin[14] {
		t.Error("Raw does not alias the input")
	}
}

func TestHeader(t *testing.T) {
	component := []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}
	tests := []struct {
		name    string
		bin     []byte
		kind    Kind
		err     error
		offset  int
		decodes bool
	}{
		{"empty", nil, KindUnknown, ErrUnexpectedEnd, 0, false},
		{"short magic", []byte{0, 'a', 's'}, KindUnknown, ErrUnexpectedEnd, 3, false},
		{"bad magic", []byte("\x7fELF\x01\x00\x00\x00"), KindUnknown, ErrNotWasm, 0, false},
		{"short version", []byte{0, 'a', 's', 'm', 1, 0}, KindUnknown, ErrUnexpectedEnd, 6, false},
		{"version 2", []byte{0, 'a', 's', 'm', 2, 0, 0, 0}, KindUnknown, ErrVersion, 4, false},
		{"module", hdr, KindModule, nil, 0, true},
		{"component", component, KindComponent, ErrComponent, 4, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if k := KindOf(tc.bin); k != tc.kind {
				t.Errorf("KindOf = %v, want %v", k, tc.kind)
			}
			if IsComponent(tc.bin) != (tc.kind == KindComponent) {
				t.Error("IsComponent wrong")
			}
			_, err := Decode(tc.bin)
			if tc.decodes {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var we *Error
			if !errors.As(err, &we) || !errors.Is(err, tc.err) || we.Offset != tc.offset {
				t.Fatalf("Decode error = %v, want %v at %#x", err, tc.err, tc.offset)
			}
		})
	}
	// Sections splits components too.
	bin := append(append([]byte(nil), component...), AppendCustomSection(nil, "x", nil)...)
	secs, err := Sections(bin)
	if err != nil || len(secs) != 1 || secs[0].Name != "x" {
		t.Fatalf("Sections(component) = %v, %v", secs, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		bin    []byte
		offset int
		err    error
		msg    string
	}{
		{"section size past end", mod([]byte{1, 5, 1}), 8, ErrMalformed, "type section: malformed: size 5 exceeds the 1 bytes left"},
		{"section size truncated", mod([]byte{1, 0x80}), 10, ErrUnexpectedEnd, "section size: unexpected end"},
		{"overlong size", mod([]byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), 9, ErrLEB, "section size"},
		{"5th byte too big", mod([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x1f}), 9, ErrLEB, ""},
		{"unknown section", mod(sec(14)), 8, ErrMalformed, "unknown section id 14"},
		{"out of order", mod(funcOne, typeVoid), 12, ErrMalformed, "type section: malformed: out of order or duplicate"},
		{"duplicate", mod(typeVoid, typeVoid), 14, ErrMalformed, "out of order"},
		{"tag after global", mod(sec(SectionGlobal, 0), sec(SectionTag, 0)), 11, ErrMalformed, "tag section"},
		{"trailing bytes in section", mod(sec(SectionType, 0, 7)), 11, ErrMalformed, "1 bytes left after"},
		{"type count too big", mod(sec(SectionType, 0xff, 0xff, 0xff, 0xff, 0x0f)), 10, ErrMalformed, "count 4294967295 exceeds"},
		{"bad type form", mod(sec(SectionType, 1, 0x5d, 0, 0)), 11, ErrMalformed, "unknown type form 0x5d"},
		{"struct field bad mutability", mod(sec(SectionType, 1, 0x5f, 1, 0x78, 2)), 14, ErrMalformed, "invalid mutability 0x02"},
		{"array of unknown storage type", mod(sec(SectionType, 1, 0x5e, 0x76, 0)), 12, ErrMalformed, "unknown value type 0x76"},
		{"packed type as a param", mod(sec(SectionType, 1, 0x60, 1, 0x78, 0)), 13, ErrMalformed, "unknown value type 0x78"},
		{"sub without a type", mod(sec(SectionType, 1, 0x50, 0)), 13, ErrUnexpectedEnd, "type section: unexpected end"},
		{"rec group count too big", mod(sec(SectionType, 1, 0x4e, 9, 0x5f, 0)), 12, ErrMalformed, "count 9 exceeds"},
		{"unknown abstract heap type", mod(sec(SectionType, 1, 0x60, 1, 0x63, 0x68, 0)), 14, ErrMalformed, "unknown heap type -24"},
		{"br_on_cast bad flags", mod(typeVoid, funcOne, body(0xfb, 0x18, 4, 0, 0x6e, 0x6e, 0x0b)), 25, ErrMalformed, "br_on_cast: invalid cast flags 0x04"},
		{"ref.test unknown heap type", mod(typeVoid, funcOne, body(0xfb, 0x14, 0x68, 0x0b)), 25, ErrMalformed, "unknown heap type -24"},
		{"array.new_data without datacount", mod(typeVoid, funcOne, body(0xfb, 0x09, 0, 0, 0x0b)), 23, ErrMalformed, "data count section required by array.new_data"},
		{"unknown GC opcode", mod(typeVoid, funcOne, body(0xfb, 0x1f, 0x0b)), 23, ErrMalformed, "unknown opcode opcode(0xfb 0x1f)"},
		{"unknown relaxed SIMD opcode", mod(typeVoid, funcOne, body(0xfd, 0x94, 0x02, 0x0b)), 23, ErrMalformed, "unknown opcode opcode(0xfd 0x114)"},
		{"bad value type", mod(sec(SectionType, 1, 0x60, 1, 0x55, 0)), 13, ErrMalformed, "unknown value type 0x55"},
		{"import truncated", mod(sec(SectionImport, 1, 1, 'a', 5, 'b', 'c')), 14, ErrUnexpectedEnd, "wasm: offset 0xe: import section: unexpected end"},
		{"import bad utf8", mod(sec(SectionImport, 1, 1, 0xff, 0, 0, 0)), 11, ErrMalformed, "not valid UTF-8"},
		{"import bad kind", mod(sec(SectionImport, 1, 1, 'a', 1, 'b', 9, 0)), 15, ErrMalformed, "unknown import kind 0x09"},
		{"memory bad flags", mod(sec(SectionMemory, 1, 8, 0)), 11, ErrMalformed, "invalid limits flags 0x08"},
		{"shared table", mod(sec(SectionTable, 1, 0x70, 3, 0, 1)), 12, ErrMalformed, "invalid limits flags 0x03"},
		{"global bad mut", mod(sec(SectionGlobal, 1, 0x7f, 2, 0x41, 0, 0x0b)), 12, ErrMalformed, "invalid mutability"},
		{"const expr missing end", mod(sec(SectionGlobal, 1, 0x7f, 0, 0x41, 0)), 15, ErrUnexpectedEnd, "global section: constant expression: unexpected end"},
		{"export bad kind", mod(sec(SectionExport, 1, 1, 'e', 5, 0)), 13, ErrMalformed, "unknown export kind 0x05"},
		{"elem bad flags", mod(sec(SectionElement, 1, 8, 0, 0)), 11, ErrMalformed, "invalid element segment flags 8"},
		{"data bad flags", mod(sec(SectionData, 1, 3, 0)), 11, ErrMalformed, "invalid data segment flags 3"},
		{"data past end", mod(sec(SectionData, 1, 1, 5, 1, 2)), 13, ErrUnexpectedEnd, ""},
		{"function without code", mod(typeVoid, funcOne), 14, ErrMalformed, "function and code section have inconsistent lengths (1, 0)"},
		{"data count mismatch", mod(sec(SectionDataCount, 1)), 11, ErrMalformed, "data count and data section have inconsistent lengths (1, 0)"},
		{"unknown opcode", mod(typeVoid, funcOne, body(0x01, 0xff, 0x0b)), 24, ErrMalformed, "unknown opcode opcode(0xff)"},
		{"unknown prefixed opcode", mod(typeVoid, funcOne, body(0xfc, 0x20, 0x0b)), 23, ErrMalformed, "unknown opcode opcode(0xfc 0x20)"},
		{"missing end", mod(typeVoid, funcOne, body(0x01)), 24, ErrUnexpectedEnd, "instruction: unexpected end"},
		{"bytes after end", mod(typeVoid, funcOne, body(0x0b, 0x01)), 24, ErrMalformed, "1 bytes after the final end"},
		{"else at top level", mod(typeVoid, funcOne, body(0x05, 0x0b)), 23, ErrMalformed, "else outside a block"},
		{"memory.init without datacount", mod(typeVoid, funcOne, body(0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0, 0x0b)), 29, ErrMalformed, "data count section required by memory.init"},
		{"body size past end", mod(typeVoid, funcOne, sec(SectionCode, 1, 9, 0, 0x0b)), 22, ErrUnexpectedEnd, ""},
		{"too many locals", mod(typeVoid, funcOne, sec(SectionCode, 1, 14, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b)), 34, ErrMalformed, "too many locals"},
		{"i32.const overlong", mod(typeVoid, funcOne, body(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b)), 24, ErrLEB, ""},
		{"i32.const unused bits", mod(typeVoid, funcOne, body(0x41, 0x80, 0x80, 0x80, 0x80, 0x70, 0x0b)), 24, ErrLEB, ""},
		{"custom name past end", mod([]byte{0, 2, 5, 'a'}), 11, ErrUnexpectedEnd, "custom section name"},
		{"fence reserved byte", mod(typeVoid, funcOne, body(0xfe, 0x03, 0x01, 0x0b)), 25, ErrMalformed, "reserved byte 0x01"},
		{"bad catch kind", mod(typeVoid, funcOne, body(0x1f, 0x40, 1, 7, 0, 0x0b, 0x0b)), 26, ErrMalformed, "unknown catch kind 0x07"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.bin)
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("Decode error = %v (%T), want *Error", err, err)
			}
			if !errors.Is(err, tc.err) || we.Offset != tc.offset || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Decode error = %q (offset %#x), want %v at %#x containing %q", err, we.Offset, tc.err, tc.offset, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "wasm: offset 0x") {
				t.Fatalf("error %q lacks the offset prefix", err)
			}
		})
	}
}

func TestLEB(t *testing.T) {
	u := []uint64{0, 1, 63, 64, 127, 128, 16383, 16384, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	for _, v := range u {
		b := AppendU64(nil, v)
		r := reader{buf: b}
		got, err := r.u64("")
		if err != nil || got != v || !r.eof() {
			t.Errorf("u64 %d: %d %v", v, got, err)
		}
		r = reader{buf: b}
		g32, err := r.u32("")
		if (v <= math.MaxUint32) != (err == nil) || (err == nil && uint64(g32) != v) {
			t.Errorf("u32 %d: %d %v", v, g32, err)
		}
	}
	s := []int64{0, 1, -1, 63, 64, -64, -65, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1,
		1<<32 - 1, -(1 << 32), 1 << 32, math.MaxInt64, math.MinInt64}
	for _, v := range s {
		b := AppendS64(nil, v)
		for _, bits := range []int{32, 33, 64} {
			r := reader{buf: b}
			got, err := r.sN(bits, "")
			fits := v >= -(1<<(bits-1)) && (bits == 64 || v < 1<<(bits-1))
			if fits != (err == nil) || (err == nil && (got != v || !r.eof())) {
				t.Errorf("s%d %d (% x): got %d, %v", bits, v, b, got, err)
			}
		}
	}
	// Non-minimal but in-range encodings are accepted (the spec allows
	// padding up to the maximum length).
	r := reader{buf: []byte{0x80, 0x80, 0x80, 0x80, 0x00}}
	if v, err := r.u32(""); err != nil || v != 0 {
		t.Errorf("padded u32: %d %v", v, err)
	}
	r = reader{buf: []byte{0xff, 0xff, 0xff, 0xff, 0x7f}}
	if v, err := r.s32(""); err != nil || v != -1 {
		t.Errorf("padded s32 -1: %d %v", v, err)
	}
}

func TestInstrReader(t *testing.T) {
	code := []byte{
		0x02, 0x40, // block
		0x0e, 2, 0, 1, 0, // br_table 0 1 default 0
		0x0b,       // end
		0x41, 0x7f, // i32.const -1
		0x42, 0x80, 0x01, // i64.const 128
		0x28, 2, 0x90, 0x03, // i32.load align=2 offset=400
		0x10, 0x85, 0x01, // call 133
		0x11, 3, 0, // call_indirect type 3 table 0
		0xfd, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // v128.const
		0xfd, 0x1b, 2, // i32x4.extract_lane 2
		0xfe, 0x1e, 2, 16, // i32.atomic.rmw.add align=2 offset=16
		0xfc, 0x0a, 0, 0, // memory.copy 0 0
		0xd0, 0x70, // ref.null func
		0x1c, 1, 0x7f, // select (result i32)
		0x43, 0, 0, 0x80, 0x3f, // f32.const 1
		0x0b,
	}
	ir := NewInstrReader(code, 100)
	var in Instr
	type want struct {
		op         Opcode
		start, end int
		check      func(*Instr) bool
	}
	wants := []want{
		{OpBlock, 0, 2, func(i *Instr) bool { return i.Block.Kind == BlockEmpty }},
		{OpBrTable, 2, 7, func(i *Instr) bool { return reflect.DeepEqual(i.Targets, []uint32{0, 1}) && i.Index == 0 }},
		{OpEnd, 7, 8, nil},
		{OpI32Const, 8, 10, func(i *Instr) bool { return i.I32 == -1 }},
		{OpI64Const, 10, 13, func(i *Instr) bool { return i.I64 == 128 }},
		{OpI32Load, 13, 17, func(i *Instr) bool { return i.Mem == MemArg{Align: 2, Offset: 400} }},
		{OpCall, 17, 20, func(i *Instr) bool { return i.Index == 133 }},
		{OpCallIndirect, 20, 23, func(i *Instr) bool { return i.Index == 3 && i.Index2 == 0 }},
		{OpV128Const, 23, 41, func(i *Instr) bool { return i.V128[0] == 1 && i.V128[15] == 16 }},
		{OpI32x4ExtractLane, 41, 44, func(i *Instr) bool { return i.Lane == 2 }},
		{OpI32AtomicRmwAdd, 44, 48, func(i *Instr) bool { return i.Mem == MemArg{Align: 2, Offset: 16} }},
		{OpMemoryCopy, 48, 52, func(i *Instr) bool { return i.Index == 0 && i.Index2 == 0 }},
		{OpRefNull, 52, 54, func(i *Instr) bool { return i.Heap == HeapFunc }},
		{OpSelectT, 54, 57, func(i *Instr) bool { return reflect.DeepEqual(i.Types, []ValType{I32}) }},
		{OpF32Const, 57, 62, func(i *Instr) bool { return i.F32Value() == 1 }},
		{OpEnd, 62, 63, nil},
	}
	for n, w := range wants {
		if !ir.Next(&in) {
			t.Fatalf("instr %d: Next false: %v", n, ir.Err())
		}
		if in.Op != w.op || in.Start != w.start || in.End != w.end || (w.check != nil && !w.check(&in)) {
			t.Fatalf("instr %d: got %s [%d,%d) %+v, want %s [%d,%d)", n, in.Op, in.Start, in.End, in, w.op, w.start, w.end)
		}
	}
	if ir.Next(&in) || ir.Err() != nil {
		t.Fatalf("after end: %v", ir.Err())
	}
	wantF := FeatureSIMD | FeatureThreads | FeatureBulkMemory | FeatureReferenceTypes
	if ir.Features() != wantF {
		t.Errorf("features %s, want %s", ir.Features(), wantF)
	}
	// Errors carry the module offset.
	ir = NewInstrReader([]byte{0x41}, 100)
	if ir.Next(&in) {
		t.Fatal("truncated i32.const decoded")
	}
	var we *Error
	if !errors.As(ir.Err(), &we) || we.Offset != 101 {
		t.Fatalf("err %v", ir.Err())
	}
}

func TestOpcodeNames(t *testing.T) {
	for _, tc := range []struct {
		op   Opcode
		name string
	}{
		{OpI32Add, "i32.add"}, {OpMemoryCopy, "memory.copy"}, {OpI8x16Shuffle, "i8x16.shuffle"},
		{OpMemoryAtomicNotify, "memory.atomic.notify"}, {OpSelectT, "select"}, {OpReturnCallRef, "return_call_ref"},
		{OpTryTable, "try_table"}, {Opcode(0xff), "opcode(0xff)"},
	} {
		if tc.op.String() != tc.name {
			t.Errorf("%#x: %q, want %q", uint16(tc.op), tc.op.String(), tc.name)
		}
	}
	if OpMemoryCopy.Prefix() != PrefixMisc || OpMemoryCopy.Sub() != 10 || OpI32Add.Prefix() != 0 {
		t.Error("Prefix/Sub")
	}
}

func TestFixtureFeatures(t *testing.T) {
	m, err := Decode(fixture.Bytes(t, "wasm_features"))
	if err != nil {
		t.Fatal(err)
	}
	want := FeatureMutableGlobals | FeatureSignExt | FeatureSatFloatToInt | FeatureMultiValue | FeatureBulkMemory |
		FeatureReferenceTypes | FeatureSIMD | FeatureThreads | FeatureTailCall
	if m.Features != want {
		t.Errorf("features %s, want %s", m.Features, want)
	}
	if len(m.Imports) != 2 || m.Imports[1].Kind != ExternMemory ||
		m.Imports[1].Memory.Limits != (Limits{Min: 1, Max: 2, HasMax: true, Shared: true}) {
		t.Errorf("imports %+v", m.Imports)
	}
	if len(m.Elements) != 2 || m.Elements[0].Mode != ModeActive || !reflect.DeepEqual(m.Elements[0].Funcs, []uint32{0, 1}) ||
		m.Elements[1].Mode != ModePassive {
		t.Errorf("elements %+v", m.Elements)
	}
	if len(m.Data) != 1 || string(m.Data[0].Init) != "hello" || m.Data[0].Mode != ModePassive {
		t.Errorf("data %+v", m.Data)
	}
	if m.Globals[0].Init.Code[0] != byte(OpI64Const) {
		t.Errorf("global init % x", m.Globals[0].Init.Code)
	}
}

func TestNamesAndProducers(t *testing.T) {
	m, err := Decode(fixture.Bytes(t, "wasm_names"))
	if err != nil {
		t.Fatal(err)
	}
	if m.NamesErr != nil || m.Names == nil || m.Names.Module != "named" || !m.Names.HasModule {
		t.Fatalf("names %+v %v", m.Names, m.NamesErr)
	}
	wantFuncs := []NameAssoc{{0, "proc_exit"}, {1, "first"}, {2, "second"}, {3, "init"}}
	if !reflect.DeepEqual(m.Names.Functions, wantFuncs) {
		t.Errorf("function names %+v", m.Names.Functions)
	}
	if len(m.Names.Locals) == 0 {
		t.Fatal("no local names")
	}
	var firstLocals []NameAssoc
	for _, l := range m.Names.Locals {
		if l.Index == 1 {
			firstLocals = l.Names
		}
	}
	if !reflect.DeepEqual(firstLocals, []NameAssoc{{0, "a"}, {1, "tmp"}}) {
		t.Errorf("locals of first: %+v", firstLocals)
	}
	if !m.HasStart || m.Start != 3 {
		t.Errorf("start %v %d", m.HasStart, m.Start)
	}

	// Producers: built by hand.
	var p []byte
	p = AppendU32(p, 2)
	p = AppendName(p, "language")
	p = AppendU32(p, 1)
	p = AppendName(AppendName(p, "Go"), "go1.26")
	p = AppendName(p, "processed-by")
	p = AppendU32(p, 2)
	p = AppendName(AppendName(p, "clang"), "14")
	p = AppendName(AppendName(p, "wasm-opt"), "")
	bin := mod(AppendCustomSection(nil, "producers", p))
	m, err = Decode(bin)
	if err != nil || m.ProducersErr != nil {
		t.Fatal(err, m.ProducersErr)
	}
	want := &Producers{Fields: []ProducerField{
		{"language", []ProducerValue{{"Go", "go1.26"}}},
		{"processed-by", []ProducerValue{{"clang", "14"}, {"wasm-opt", ""}}},
	}}
	if !reflect.DeepEqual(m.Producers, want) {
		t.Errorf("producers %+v", m.Producers)
	}
	// A malformed producers or name section does not fail Decode.
	m, err = Decode(mod(AppendCustomSection(nil, "producers", []byte{5}), AppendCustomSection(nil, "name", []byte{1, 9})))
	if err != nil || m.Producers != nil || m.ProducersErr == nil || m.Names != nil || m.NamesErr == nil {
		t.Fatalf("malformed custom sections: %v %+v", err, m)
	}
}

// TestEncodeAddImport does what the fuel meter does: add a function import
// to a module (shifting the function index space), rewrite every function
// index, and re-encode. The result must run in wazero with the same results.
func TestEncodeAddImport(t *testing.T) {
	bin := fixture.Bytes(t, "wasm_names")
	m, err := Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	// New type and import: env.charge(i64).
	ti := uint32(len(m.Types))
	m.Types = append(m.Types, FuncType{Params: []ValType{I64}})
	imported := uint32(0)
	for _, im := range m.Imports {
		if im.Kind == ExternFunc {
			imported++
		}
	}
	m.Imports = append(m.Imports, Import{Module: "env", Name: "charge", Kind: ExternFunc, TypeIndex: ti})
	shift := func(f uint32) uint32 {
		if f >= imported {
			return f + 1
		}
		return f
	}
	for i := range m.Code {
		code, err := RemapFuncs(nil, m.Code[i].Body, shift)
		if err != nil {
			t.Fatal(err)
		}
		// Charge 7 units at function entry.
		pre, _ := AppendInstr(nil, &Instr{Op: OpI64Const, I64: 7})
		pre, _ = AppendInstr(pre, &Instr{Op: OpCall, Index: imported})
		m.Code[i].Body.Code = append(pre, code...)
	}
	for i := range m.Exports {
		if m.Exports[i].Kind == ExternFunc {
			m.Exports[i].Index = shift(m.Exports[i].Index)
		}
	}
	m.Start = shift(m.Start)
	for i := range m.Names.Functions {
		m.Names.Functions[i].Index = shift(m.Names.Functions[i].Index)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Names == nil || m2.Names.Functions[1] != (NameAssoc{2, "first"}) {
		t.Errorf("names not re-encoded: %+v", m2.Names)
	}

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	var charged int64
	_, err = rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(n int64) { charged += n }).Export("charge").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.NewHostModuleBuilder("wasi_snapshot_preview1").NewFunctionBuilder().
		WithFunc(func(int32) {}).Export("proc_exit").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := inst.ExportedFunction("second").Call(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// start ($init) + second + first: three charges of 7.
	if res[0] != 7 || charged != 21 {
		t.Fatalf("second() = %d, charged %d; want 7, 21", res[0], charged)
	}
}

func TestEncodeRoundTripExact(t *testing.T) {
	// Modules written with minimal LEB128 re-encode byte for byte.
	for _, name := range []string{"wasm_features", "wasm_names"} {
		bin := fixture.Bytes(t, name)
		m, err := Decode(bin)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, bin) {
			t.Errorf("%s: Encode(Decode(b)) != b (%d vs %d bytes)", name, len(out), len(bin))
		}
	}
}

func TestGoBinaryCompilesAfterRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a multi-megabyte module")
	}
	bin := fixture.Bytes(t, "wasm_gohello")
	m, err := Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Force re-encoding of every body through the instruction encoder.
	for i := range m.Code {
		var out []byte
		ir := m.Code[i].Body.Instrs()
		var in Instr
		for ir.Next(&in) {
			if out, err = AppendInstr(out, &in); err != nil {
				t.Fatal(err)
			}
		}
		if ir.Err() != nil {
			t.Fatal(ir.Err())
		}
		m.Code[i].Body.Code = out
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesThreads))
	defer rt.Close(ctx)
	if _, err := rt.CompileModule(ctx, out); err != nil {
		t.Fatal(err)
	}
}

func TestRichModule(t *testing.T) {
	bin := richModule(t)
	m, err := Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := FeatureMultiValue | FeatureBulkMemory | FeatureReferenceTypes | FeatureSIMD | FeatureThreads |
		FeatureTailCall | FeatureExceptions | FeatureTypedFuncRefs
	if m.Features != want {
		t.Errorf("features %s, want %s", m.Features, want)
	}
	if len(m.RecGroups) != 1 || len(m.Types) != 2 || m.Types[1].Params[1] != (ValType{Code: RefNull, Heap: 0}) {
		t.Errorf("types %+v groups %+v", m.Types, m.RecGroups)
	}
	if len(m.Elements) != 7 || m.Elements[2].Mode != ModeDeclarative || len(m.Elements[6].Exprs) != 1 {
		t.Errorf("elements %+v", m.Elements)
	}
	if m.Tables[0].Init == nil || m.Producers == nil || m.Producers.Fields[0].Values[0].Version != "0.1" {
		t.Errorf("table init / producers missing")
	}
	out, err := Encode(m)
	if err != nil || !bytes.Equal(out, bin) {
		t.Fatalf("re-encode differs: %v", err)
	}
}

func TestModuleHelpers(t *testing.T) {
	m, err := Decode(fixture.Bytes(t, "wasm_names"))
	if err != nil {
		t.Fatal(err)
	}
	if n := m.ImportCount(ExternFunc); n != 1 {
		t.Errorf("ImportCount = %d", n)
	}
	if ti, ok := m.FuncTypeIndex(0); !ok || len(m.Types[ti].Params) != 1 {
		t.Errorf("FuncTypeIndex(0) = %d %v", ti, ok)
	}
	if ti, ok := m.FuncTypeIndex(1); !ok || len(m.Types[ti].Results) != 1 {
		t.Errorf("FuncTypeIndex(1) = %d %v", ti, ok)
	}
	if _, ok := m.FuncTypeIndex(4); ok {
		t.Error("FuncTypeIndex(4) found")
	}
	if s := m.CustomSections("name"); len(s) != 1 {
		t.Errorf("CustomSections(name) = %d", len(s))
	}
	for _, tc := range []struct {
		code []byte
		v    int64
		ok   bool
	}{
		{[]byte{0x41, 0x7f, 0x0b}, -1, true},
		{[]byte{0x42, 0x80, 0x01, 0x0b}, 128, true},
		{[]byte{0x23, 0, 0x0b}, 0, false},
		{[]byte{0x41, 1, 0x41, 2, 0x6a, 0x0b}, 0, false},
		{[]byte{0x41}, 0, false},
	} {
		v, ok := Expr{Code: tc.code}.ConstInt()
		if v != tc.v || ok != tc.ok {
			t.Errorf("% x: ConstInt = %d %v", tc.code, v, ok)
		}
	}
}

func TestEncodeAddsNameSection(t *testing.T) {
	m, err := Decode(mod(typeVoid, funcOne, body(0x0b)))
	if err != nil {
		t.Fatal(err)
	}
	m.Names = &Names{Module: "m", HasModule: true, Functions: []NameAssoc{{0, "f"}}}
	m.Sections = append(m.Sections, Section{ID: SectionCustom, Name: "name"})
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(out)
	if err != nil || m2.Names == nil || m2.Names.Module != "m" || m2.Names.Functions[0].Name != "f" {
		t.Fatalf("names: %+v %v %v", m2.Names, err, m2.NamesErr)
	}
	// The name section comes after the code section it followed.
	if last := m2.Sections[len(m2.Sections)-1]; last.Name != "name" {
		t.Fatalf("last section %s %q", last.ID, last.Name)
	}
}

func TestExportOffsets(t *testing.T) {
	// header 0..8, type section 8..14, function section 14..18, export
	// section at 18: id, size, count, then entries at 21 and 25.
	exports := sec(SectionExport, 2, 1, 'a', byte(ExternFunc), 0, 2, 'b', 'c', byte(ExternFunc), 0)
	bin := mod(typeVoid, funcOne, exports, body(0x0b))
	m, err := Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := []Export{{Name: "a", Kind: ExternFunc, Offset: 21}, {Name: "bc", Kind: ExternFunc, Offset: 25}}
	if !reflect.DeepEqual(m.Exports, want) {
		t.Fatalf("exports = %+v, want %+v", m.Exports, want)
	}
	for _, e := range m.Exports {
		if n := int(bin[e.Offset]); string(bin[e.Offset+1:e.Offset+1+n]) != e.Name {
			t.Errorf("entry at %d does not start with the name %q", e.Offset, e.Name)
		}
	}
}

// TestDataSize guards the layout of Data: a Go module has up to 100000 data
// segments, so each 8 bytes is 0.8 MB of a scan's peak memory.
func TestDataSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(Data{}) != 72 {
		t.Errorf("sizeof(Data) = %d, want 72", unsafe.Sizeof(Data{}))
	}
}

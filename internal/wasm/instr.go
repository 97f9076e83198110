package wasm

import (
	"math"
	"strconv"
)

// Opcode identifies an instruction. Single-byte opcodes are their byte; an
// opcode behind a prefix byte (0xFB GC, 0xFC misc, 0xFD SIMD, 0xFE atomics)
// is prefix<<16 | sub-opcode (sub-opcodes are LEB128 u32s in the binary;
// every known one is below 0x10000, relaxed SIMD's 0x100-0x113 included).
type Opcode uint32

// Prefix bytes.
const (
	PrefixGC     byte = 0xFB
	PrefixMisc   byte = 0xFC
	PrefixSIMD   byte = 0xFD
	PrefixAtomic byte = 0xFE
)

// Prefix returns the prefix byte of o, or 0 for a single-byte opcode.
func (o Opcode) Prefix() byte { return byte(o >> 16) }

// Sub returns the sub-opcode of a prefixed opcode, or the opcode byte.
func (o Opcode) Sub() uint32 { return uint32(o & 0xFFFF) }

type immKind uint8

const (
	immNone         immKind = iota
	immBlock                // block type
	immTryTable             // block type, catch vector
	immLabel                // label index
	immBrTable              // label vector, default label
	immFunc                 // function index
	immCallIndirect         // type index, table index
	immType                 // type index
	immTag                  // tag index
	immSelectT              // value type vector
	immLocal                // local index
	immGlobal               // global index
	immTable                // table index
	immMemArg               // memarg
	immMem                  // memory index
	immI32                  // s32
	immI64                  // s64
	immF32                  // 4 bytes
	immF64                  // 8 bytes
	immHeap                 // heap type (s33)
	immMemInit              // data index, memory index
	immData                 // data index
	immMemCopy              // memory index, memory index
	immTableInit            // element index, table index
	immElem                 // element index
	immTableCopy            // table index, table index
	immV128                 // 16 bytes
	immShuffle              // 16 lane bytes
	immLane                 // 1 lane byte
	immMemArgLane           // memarg, lane byte
	immFence                // one reserved 0x00 byte
	immTypeField            // type index, field index (struct.get/set)
	immTypeCount            // type index, u32 length (array.new_fixed)
	immTypeData             // type index, data index
	immTypeElem             // type index, element index
	immTypeType             // type index, type index (array.copy)
	immCast                 // cast flags, label, heap type, heap type (br_on_cast)
)

type opDesc struct {
	name string
	imm  immKind
	feat Features
}

func (o Opcode) desc() *opDesc {
	var d *opDesc
	sub := int(o & 0xFFFF)
	switch o >> 16 {
	case 0:
		if o < 0x100 {
			d = &opsPlain[o]
		}
	case Opcode(PrefixGC):
		if sub < len(opsGC) {
			d = &opsGC[sub]
		}
	case Opcode(PrefixMisc):
		if sub < len(opsMisc) {
			d = &opsMisc[sub]
		}
	case Opcode(PrefixSIMD):
		if sub < len(opsSIMD) {
			d = &opsSIMD[sub]
		} else if sub-0x100 < len(opsRelaxedSIMD) {
			d = &opsRelaxedSIMD[sub-0x100]
		}
	case Opcode(PrefixAtomic):
		if sub < len(opsAtomic) {
			d = &opsAtomic[sub]
		}
	}
	if d == nil || d.name == "" {
		return nil
	}
	return d
}

// Known reports whether o is an instruction this package decodes.
func (o Opcode) Known() bool { return o.desc() != nil }

// String returns the text-format name ("i32.add", "memory.copy"), or a hex
// form for unknown opcodes ("opcode(0xff)", "opcode(0xfc 0x20)").
func (o Opcode) String() string {
	if d := o.desc(); d != nil {
		return d.name
	}
	if p := o.Prefix(); p != 0 {
		return "opcode(0x" + strconv.FormatUint(uint64(p), 16) + " 0x" + strconv.FormatUint(uint64(o.Sub()), 16) + ")"
	}
	return "opcode(0x" + strconv.FormatUint(uint64(o), 16) + ")"
}

// Feature returns the proposal o belongs to (0 for WebAssembly 1.0).
func (o Opcode) Feature() Features {
	if d := o.desc(); d != nil {
		return d.feat
	}
	return 0
}

// BlockKind says which form a block type has.
type BlockKind uint8

// Block type forms.
const (
	BlockEmpty BlockKind = iota // 0x40: no parameters, no results
	BlockValue                  // one result of type Val
	BlockIndex                  // the function type Index
)

// BlockType is the type of block, loop, if, try and try_table.
type BlockType struct {
	Kind  BlockKind
	Val   ValType
	Index uint32
}

// MemArg is the memory immediate of loads, stores and atomics. Align is the
// alignment exponent; Memory is the memory index (non-zero only with the
// multi-memory encoding, bit 6 of the alignment field).
type MemArg struct {
	Align  uint32
	Offset uint64
	Memory uint32
}

// Catch kinds of try_table.
const (
	CatchTag    byte = 0x00 // catch tag label
	CatchTagRef byte = 0x01 // catch_ref tag label
	CatchAll    byte = 0x02 // catch_all label
	CatchAllRef byte = 0x03 // catch_all_ref label
)

// Catch is one clause of try_table. Tag is meaningful for CatchTag and
// CatchTagRef.
type Catch struct {
	Kind  byte
	Tag   uint32
	Label uint32
}

// Instr is one decoded instruction. Which immediate fields are set depends
// on Op:
//
//   - Block: block, loop, if, try, try_table.
//   - Index: the first index immediate: label (br, br_if, br_on_null,
//     br_on_non_null, br_on_cast, br_on_cast_fail, rethrow, delegate; for
//     br_table the default label), function (call, return_call, ref.func),
//     type (call_indirect, return_call_indirect, call_ref, return_call_ref,
//     struct.* and array.* of GC), local, global, table
//     (table.get/set/size/grow/fill; table.copy destination), memory
//     (memory.size/grow/fill; memory.copy destination), tag (throw, catch),
//     data (memory.init, data.drop), element (table.init, elem.drop).
//   - Index2: the second index: table of call_indirect and
//     return_call_indirect, table of table.init, source of table.copy,
//     memory of memory.init, source of memory.copy, field of struct.get/set,
//     length of array.new_fixed, data segment of array.new_data and
//     array.init_data, element segment of array.new_elem and
//     array.init_elem, source type of array.copy.
//   - Targets: br_table's labels without the default; Types: select's
//     value types; Catches: try_table's clauses. These three alias a buffer
//     of the InstrReader and are valid until its next call to Next.
//   - Mem: loads, stores, lane loads/stores, atomics.
//   - I32, I64: i32.const, i64.const. F32, F64: the raw bits of f32.const
//     and f64.const.
//   - Heap: the heap type (s33 as in [ValType.Heap]) of ref.null, ref.test
//     and ref.cast, the source type of br_on_cast(_fail); Heap2 the target
//     type of br_on_cast(_fail); CastFlags their flags byte (bit 0: the
//     source is nullable, bit 1: the target is).
//   - V128: v128.const's value or i8x16.shuffle's lanes (aliases the input).
//   - Lane: lane index of extract/replace_lane and lane loads/stores.
//
// Start and End are the instruction's byte range [Start, End) relative to
// the start of the expression's code (for a function, Func.Body.Code, which
// begins after the local declarations). Fields that Op does not use hold
// unspecified values: Next does not clear them.
type Instr struct {
	Op         Opcode
	Start, End int

	Block   BlockType
	Index   uint32
	Index2  uint32
	Targets []uint32
	Types   []ValType
	Catches []Catch
	Mem     MemArg
	I32     int32
	I64     int64
	F32     uint32
	F64     uint64
	Heap    int64
	Heap2   int64
	V128    []byte
	Lane    byte
	// CastFlags is br_on_cast's flags byte.
	CastFlags byte
}

// F32Value returns F32 as a float32.
func (in *Instr) F32Value() float32 { return math.Float32frombits(in.F32) }

// F64Value returns F64 as a float64.
func (in *Instr) F64Value() float64 { return math.Float64frombits(in.F64) }

// InstrReader decodes the instructions of one expression lazily. It stops
// after the `end` that closes the expression; bytes after it are an error.
// The zero value is an empty reader; create one with [Expr.Instrs] or
// [NewInstrReader]. An InstrReader does not allocate per instruction (its
// br_table/select/try_table buffers grow to the largest seen and are
// reused).
type InstrReader struct {
	r       reader
	depth   int
	done    bool
	err     error
	feats   Features
	targets []uint32
	types   []ValType
	catches []Catch
	// open allows bytes after the final end (constant expressions inside
	// a section, whose length is not known in advance).
	open bool
}

// Reset points ir at the expression e, keeping the buffers it has grown, so
// one reader can walk many bodies without allocating.
func (ir *InstrReader) Reset(e Expr) {
	ir.reset(e.Code, e.Offset)
	ir.feats = 0
}

// reset points ir at a new expression, keeping its buffers.
func (ir *InstrReader) reset(code []byte, offset int) {
	ir.r = reader{buf: code, base: offset}
	ir.depth = 0
	ir.done = false
	ir.err = nil
	ir.open = false
}

// NewInstrReader returns a reader over code, an expression ending with
// `end`. offset is code's offset in the module, used in errors.
func NewInstrReader(code []byte, offset int) InstrReader {
	return InstrReader{r: reader{buf: code, base: offset}}
}

// Instrs returns a reader over e's instructions.
func (e Expr) Instrs() InstrReader { return NewInstrReader(e.Code, e.Offset) }

// Err returns the error that stopped Next, or nil at a clean end.
func (ir *InstrReader) Err() error { return ir.err }

// Features returns the proposals used by the instructions read so far.
func (ir *InstrReader) Features() Features { return ir.feats }

// Offset returns the reader's position relative to the start of the code.
func (ir *InstrReader) Offset() int { return ir.r.pos }

// Depth returns the current block nesting depth (0 = function level).
func (ir *InstrReader) Depth() int { return ir.depth }

// Next decodes the next instruction into in and reports whether there was
// one. It returns false at the end of the expression or on error (see Err).
// Fields of in that Op does not use (see [Instr]) are left with unspecified
// values.
func (ir *InstrReader) Next(in *Instr) bool {
	if ir.done {
		return false
	}
	r := &ir.r
	pos := r.pos
	buf := r.buf
	if pos >= len(buf) {
		ir.fail(errAt(r.off(), "instruction", ErrUnexpectedEnd))
		return false
	}
	// Fast paths for the common shapes: no immediate, or one immediate of
	// a single LEB128 byte. Everything else goes through decode.
	b := buf[pos]
	switch fastKind[b] {
	case fastNone:
		in.Op = Opcode(b)
		in.Start, in.End = pos, pos+1
		r.pos = pos + 1
		ir.feats |= opsPlain[b].feat
		return true
	case fastIndex:
		if pos+1 < len(buf) && buf[pos+1] < 0x80 {
			in.Op = Opcode(b)
			in.Index = uint32(buf[pos+1])
			in.Start, in.End = pos, pos+2
			r.pos = pos + 2
			ir.feats |= opsPlain[b].feat
			return true
		}
	case fastI32:
		if pos+1 < len(buf) && buf[pos+1] < 0x80 {
			in.Op = Opcode(b)
			in.I32 = int32(int8(buf[pos+1]<<1) >> 1)
			in.Start, in.End = pos, pos+2
			r.pos = pos + 2
			return true
		}
	case fastMem:
		if pos+2 < len(buf) && buf[pos+1] < 0x40 && buf[pos+2] < 0x80 {
			in.Op = Opcode(b)
			in.Mem = MemArg{Align: uint32(buf[pos+1]), Offset: uint64(buf[pos+2])}
			in.Start, in.End = pos, pos+3
			r.pos = pos + 3
			return true
		}
	}
	if err := ir.decode(in); err != nil {
		ir.fail(err)
		return false
	}
	return true
}

const (
	fastSlow uint8 = iota
	fastNone
	fastIndex
	fastI32
	fastMem
)

// fastKind classifies single-byte opcodes for Next's fast paths.
var fastKind = func() (t [256]uint8) {
	for i := range opsPlain {
		d := &opsPlain[i]
		if d.name == "" {
			continue
		}
		switch op := Opcode(i); d.imm {
		case immNone:
			if op != OpEnd && op != OpElse && op != OpCatchAll {
				t[i] = fastNone
			}
		case immLabel, immFunc, immType, immTag, immLocal, immGlobal, immTable, immMem:
			if op != OpCatch && op != OpDelegate {
				t[i] = fastIndex
			}
		case immI32:
			t[i] = fastI32
		case immMemArg:
			t[i] = fastMem
		}
	}
	return t
}()

func (ir *InstrReader) fail(err error) {
	ir.err = err
	ir.done = true
}

const whereInstr = "instruction"

func (ir *InstrReader) decode(in *Instr) error {
	r := &ir.r
	start := r.pos
	b := r.buf[r.pos]
	r.pos++
	op := Opcode(b)
	var d *opDesc
	if b >= PrefixGC && b <= PrefixAtomic {
		sub, err := r.u32(whereInstr)
		if err != nil {
			return err
		}
		if sub > 0xFFFF {
			return errfAt(r.base+start, whereInstr, "unknown opcode 0x%02x 0x%x", b, sub)
		}
		op = Opcode(b)<<16 | Opcode(sub)
		d = op.desc()
	} else {
		d = &opsPlain[b]
		if d.name == "" {
			d = nil
		}
	}
	if d == nil {
		return errfAt(r.base+start, whereInstr, "unknown opcode %s", op)
	}
	in.Op = op
	in.Start = start
	ir.feats |= d.feat
	var err error
	switch d.imm {
	case immNone:
		switch op {
		case OpEnd:
			if ir.depth == 0 {
				ir.done = true
				if !r.eof() && !ir.open {
					in.End = r.pos
					return errfAt(r.off(), whereInstr, "%d bytes after the final end", r.remaining())
				}
			} else {
				ir.depth--
			}
		case OpElse, OpCatchAll:
			if ir.depth == 0 {
				return errfAt(r.base+start, whereInstr, "%s outside a block", op)
			}
		}
	case immBlock:
		err = ir.blockType(&in.Block)
		ir.depth++
	case immTryTable:
		if err = ir.blockType(&in.Block); err != nil {
			return err
		}
		err = ir.catchVec(in)
		ir.depth++
	case immLabel, immFunc, immType, immTag, immLocal, immGlobal, immTable, immMem, immData, immElem:
		in.Index, err = r.u32(whereInstr)
		if op == OpCatch && ir.depth == 0 {
			return errfAt(r.base+start, whereInstr, "catch outside a block")
		}
		if op == OpDelegate {
			// delegate ends a try block.
			if ir.depth == 0 {
				return errfAt(r.base+start, whereInstr, "delegate outside a block")
			}
			ir.depth--
		}
	case immBrTable:
		err = ir.brTable(in)
	case immCallIndirect, immMemInit, immMemCopy, immTableInit, immTableCopy,
		immTypeField, immTypeCount, immTypeData, immTypeElem, immTypeType:
		if in.Index, err = r.u32(whereInstr); err != nil {
			return err
		}
		in.Index2, err = r.u32(whereInstr)
	case immCast:
		err = ir.cast(in)
	case immSelectT:
		err = ir.selectTypes(in)
	case immMemArg:
		err = ir.memArg(&in.Mem)
	case immMemArgLane:
		if err = ir.memArg(&in.Mem); err != nil {
			return err
		}
		in.Lane, err = r.byte(whereInstr)
	case immI32:
		in.I32, err = r.s32(whereInstr)
	case immI64:
		in.I64, err = r.s64(whereInstr)
	case immF32:
		var bs []byte
		if bs, err = r.bytes(4, whereInstr); err == nil {
			in.F32 = uint32(bs[0]) | uint32(bs[1])<<8 | uint32(bs[2])<<16 | uint32(bs[3])<<24
		}
	case immF64:
		var bs []byte
		if bs, err = r.bytes(8, whereInstr); err == nil {
			in.F64 = uint64(bs[0]) | uint64(bs[1])<<8 | uint64(bs[2])<<16 | uint64(bs[3])<<24 |
				uint64(bs[4])<<32 | uint64(bs[5])<<40 | uint64(bs[6])<<48 | uint64(bs[7])<<56
		}
	case immHeap:
		in.Heap, err = ir.heapType()
	case immV128, immShuffle:
		in.V128, err = r.bytes(16, whereInstr)
	case immLane:
		in.Lane, err = r.byte(whereInstr)
	case immFence:
		var z byte
		if z, err = r.byte(whereInstr); err == nil && z != 0 {
			return errfAt(r.off()-1, whereInstr, "atomic.fence: reserved byte 0x%02x, want 0x00", z)
		}
	}
	in.End = r.pos
	return err
}

func (ir *InstrReader) blockType(bt *BlockType) error {
	r := &ir.r
	if r.eof() {
		return errAt(r.off(), "block type", ErrUnexpectedEnd)
	}
	b := r.buf[r.pos]
	switch {
	case b == 0x40:
		r.pos++
		*bt = BlockType{Kind: BlockEmpty}
		return nil
	case b >= 0x40 && b < 0x80:
		// A one-byte negative s33: a value type.
		vt, err := readValType(r, "block type")
		if err != nil {
			return err
		}
		ir.noteValType(vt)
		*bt = BlockType{Kind: BlockValue, Val: vt}
		return nil
	}
	start := r.off()
	v, err := r.s33("block type")
	if err != nil {
		return err
	}
	if v < 0 {
		return errfAt(start, "block type", "invalid block type %d", v)
	}
	ir.feats |= FeatureMultiValue
	*bt = BlockType{Kind: BlockIndex, Index: uint32(v)}
	return nil
}

func (ir *InstrReader) noteValType(vt ValType) { ir.feats |= valTypeFeature(vt) }

func valTypeFeature(vt ValType) Features {
	switch vt.Code {
	case CodeV128:
		return FeatureSIMD
	case CodeFuncRef, CodeExternRef:
		return FeatureReferenceTypes
	case CodeExnRef:
		return FeatureExceptions
	case RefNull, Ref:
		f := FeatureTypedFuncRefs | FeatureReferenceTypes | heapFeature(vt.Heap)
		return f
	case CodeI8, CodeI16:
		return FeatureGC
	}
	if vt.IsRef() {
		// The abbreviations of GC's abstract heap types (anyref, ...).
		return FeatureReferenceTypes | heapFeature(int64(vt.Code)-0x80)
	}
	return 0
}

// heapFeature is the proposal a heap type belongs to: a type index is
// typed function references (GC when it names a struct or array type, which
// the type section already recorded), exn exception handling, the other
// abstract types beyond func and extern GC.
func heapFeature(h int64) Features {
	switch {
	case h >= 0:
		return FeatureTypedFuncRefs
	case h == HeapFunc || h == HeapExtern:
		return 0
	case h == HeapExn:
		return FeatureExceptions
	case h == HeapNoExn:
		return FeatureExceptions | FeatureGC
	}
	return FeatureGC
}

func (ir *InstrReader) heapType() (int64, error) {
	r := &ir.r
	start := r.off()
	h, err := r.s33("heap type")
	if err != nil {
		return 0, err
	}
	if !knownHeap(h) {
		return 0, errfAt(start, "heap type", "unknown heap type %d", h)
	}
	ir.feats |= heapFeature(h)
	return h, nil
}

// cast reads br_on_cast's immediates: flags, label, two heap types.
func (ir *InstrReader) cast(in *Instr) error {
	r := &ir.r
	start := r.off()
	f, err := r.byte(whereInstr)
	if err != nil {
		return err
	}
	if f > 3 {
		return errfAt(start, whereInstr, "%s: invalid cast flags 0x%02x", in.Op, f)
	}
	in.CastFlags = f
	if in.Index, err = r.u32(whereInstr); err != nil {
		return err
	}
	if in.Heap, err = ir.heapType(); err != nil {
		return err
	}
	in.Heap2, err = ir.heapType()
	return err
}

func (ir *InstrReader) memArg(m *MemArg) error {
	r := &ir.r
	a, err := r.u32("memarg")
	if err != nil {
		return err
	}
	m.Memory = 0
	if a&0x40 != 0 {
		a &^= 0x40
		if m.Memory, err = r.u32("memarg"); err != nil {
			return err
		}
		ir.feats |= FeatureMultiMemory
	}
	m.Align = a
	m.Offset, err = r.u64("memarg")
	return err
}

// maxVec bounds vector lengths against the bytes left, so a hostile count
// cannot make the reader allocate more than the input could hold.
func (ir *InstrReader) vecLen(where string, minElem int) (int, error) {
	r := &ir.r
	start := r.off()
	n, err := r.u32(where)
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minElem) > uint64(r.remaining()) {
		return 0, errfAt(start, where, "count %d exceeds the bytes left", n)
	}
	return int(n), nil
}

func (ir *InstrReader) brTable(in *Instr) error {
	n, err := ir.vecLen("br_table", 1)
	if err != nil {
		return err
	}
	t := ir.targets[:0]
	if cap(t) < n {
		// n is bounded by the bytes left (vecLen): one allocation of the
		// right size instead of growing through every power of two.
		t = make([]uint32, 0, n)
	}
	for range n {
		l, err := ir.r.u32("br_table")
		if err != nil {
			return err
		}
		t = append(t, l)
	}
	ir.targets = t
	in.Targets = t
	in.Index, err = ir.r.u32("br_table")
	return err
}

func (ir *InstrReader) selectTypes(in *Instr) error {
	n, err := ir.vecLen("select", 1)
	if err != nil {
		return err
	}
	ts := ir.types[:0]
	for range n {
		vt, err := readValType(&ir.r, "select")
		if err != nil {
			return err
		}
		ir.noteValType(vt)
		ts = append(ts, vt)
	}
	ir.types = ts
	in.Types = ts
	return nil
}

func (ir *InstrReader) catchVec(in *Instr) error {
	r := &ir.r
	n, err := ir.vecLen("try_table", 2)
	if err != nil {
		return err
	}
	cs := ir.catches[:0]
	for range n {
		start := r.off()
		k, err := r.byte("try_table")
		if err != nil {
			return err
		}
		var c Catch
		c.Kind = k
		switch k {
		case CatchTag, CatchTagRef:
			if c.Tag, err = r.u32("try_table"); err != nil {
				return err
			}
		case CatchAll, CatchAllRef:
		default:
			return errfAt(start, "try_table", "unknown catch kind 0x%02x", k)
		}
		if c.Label, err = r.u32("try_table"); err != nil {
			return err
		}
		cs = append(cs, c)
	}
	ir.catches = cs
	in.Catches = cs
	return nil
}

// readValType reads a value type (including typed references and the
// abbreviations of GC's abstract reference types).
func readValType(r *reader, where string) (ValType, error) {
	start := r.off()
	b, err := r.byte(where)
	if err != nil {
		return ValType{}, err
	}
	switch b {
	case CodeI32, CodeI64, CodeF32, CodeF64, CodeV128:
		return ValType{Code: b}, nil
	case RefNull, Ref:
		hs := r.off()
		h, err := r.s33(where)
		if err != nil {
			return ValType{}, err
		}
		if !knownHeap(h) {
			return ValType{}, errfAt(hs, where, "unknown heap type %d", h)
		}
		return ValType{Code: b, Heap: h}, nil
	}
	if knownHeap(int64(b) - 0x80) {
		return ValType{Code: b}, nil
	}
	return ValType{}, errfAt(start, where, "unknown value type 0x%02x", b)
}

// readStorageType reads a struct field's or array element's storage type:
// a value type or a packed i8/i16.
func readStorageType(r *reader, where string) (ValType, error) {
	if !r.eof() && (r.buf[r.pos] == CodeI8 || r.buf[r.pos] == CodeI16) {
		r.pos++
		return ValType{Code: r.buf[r.pos-1]}, nil
	}
	return readValType(r, where)
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

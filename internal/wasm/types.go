package wasm

import "strings"

// ValType is a value type (or, in a struct field or array element, a
// storage type). Code is the type's binary code; for the reference types
// written with a heap type (Code is [RefNull] or [Ref]) Heap holds the heap
// type as the s33 it is encoded as: a type index (>= 0) or a negative
// abstract heap type ([HeapFunc], [HeapAny], ...). The one-byte
// abbreviations (funcref, anyref, nullref, ...) keep their own Code, so a
// type re-encodes as it was written.
type ValType struct {
	Code byte
	Heap int64
}

// Value type codes.
const (
	CodeI32       byte = 0x7F
	CodeI64       byte = 0x7E
	CodeF32       byte = 0x7D
	CodeF64       byte = 0x7C
	CodeV128      byte = 0x7B
	CodeI8        byte = 0x78 // packed storage type (GC struct fields, array elements)
	CodeI16       byte = 0x77 // packed storage type
	CodeFuncRef   byte = 0x70
	CodeExternRef byte = 0x6F
	CodeExnRef    byte = 0x69
	// The abbreviations of the GC proposal: (ref null any), (ref null eq), ...
	CodeAnyRef        byte = 0x6E
	CodeEqRef         byte = 0x6D
	CodeI31Ref        byte = 0x6C
	CodeStructRef     byte = 0x6B
	CodeArrayRef      byte = 0x6A
	CodeNullRef       byte = 0x71 // (ref null none)
	CodeNullExternRef byte = 0x72 // (ref null noextern)
	CodeNullFuncRef   byte = 0x73 // (ref null nofunc)
	CodeNullExnRef    byte = 0x74 // (ref null noexn)
	// RefNull prefixes a nullable typed reference: (ref null ht).
	RefNull byte = 0x63
	// Ref prefixes a non-nullable typed reference: (ref ht).
	Ref byte = 0x64
)

// Abstract heap types as s33 values (their byte code read as signed LEB128).
const (
	HeapNoExn    int64 = -0x0C // 0x74
	HeapNoFunc   int64 = -0x0D // 0x73
	HeapNoExtern int64 = -0x0E // 0x72
	HeapNone     int64 = -0x0F // 0x71
	HeapFunc     int64 = -0x10 // 0x70
	HeapExtern   int64 = -0x11 // 0x6F
	HeapAny      int64 = -0x12 // 0x6E
	HeapEq       int64 = -0x13 // 0x6D
	HeapI31      int64 = -0x14 // 0x6C
	HeapStruct   int64 = -0x15 // 0x6B
	HeapArray    int64 = -0x16 // 0x6A
	HeapExn      int64 = -0x17 // 0x69
)

// knownHeap reports whether h is a type index or a known abstract heap type.
func knownHeap(h int64) bool { return h >= 0 || h >= HeapExn && h <= HeapNoExn }

// Common value types.
var (
	I32       = ValType{Code: CodeI32}
	I64       = ValType{Code: CodeI64}
	F32       = ValType{Code: CodeF32}
	F64       = ValType{Code: CodeF64}
	V128      = ValType{Code: CodeV128}
	FuncRef   = ValType{Code: CodeFuncRef}
	ExternRef = ValType{Code: CodeExternRef}
	ExnRef    = ValType{Code: CodeExnRef}
)

// IsRef reports whether t is a reference type.
func (t ValType) IsRef() bool {
	switch t.Code {
	case RefNull, Ref:
		return true
	case CodeI32, CodeI64, CodeF32, CodeF64, CodeV128, CodeI8, CodeI16:
		return false
	}
	return knownHeap(int64(t.Code) - 0x80)
}

var heapNames = [...]string{"noexn", "nofunc", "noextern", "none", "func", "extern", "any", "eq", "i31", "struct", "array", "exn"}

// String returns the text-format name of t: "i32", "funcref", "anyref",
// "(ref null 3)", "(ref eq)", the packed "i8"/"i16".
func (t ValType) String() string {
	switch t.Code {
	case CodeI32:
		return "i32"
	case CodeI64:
		return "i64"
	case CodeF32:
		return "f32"
	case CodeF64:
		return "f64"
	case CodeV128:
		return "v128"
	case CodeI8:
		return "i8"
	case CodeI16:
		return "i16"
	case RefNull:
		return "(ref null " + heapString(t.Heap) + ")"
	case Ref:
		return "(ref " + heapString(t.Heap) + ")"
	case CodeNullRef:
		return "nullref"
	case CodeNullExternRef, CodeNullFuncRef, CodeNullExnRef:
		return "null" + heapString(int64(t.Code) - 0x80)[2:] + "ref" // noextern -> nullexternref
	}
	if h := int64(t.Code) - 0x80; knownHeap(h) {
		return heapString(h) + "ref"
	}
	return "unknown"
}

func heapString(h int64) string {
	if h >= 0 {
		return itoa(uint64(h))
	}
	if i := h - HeapNoExn; i <= 0 && -i < int64(len(heapNames)) {
		return heapNames[-i]
	}
	return "unknown"
}

// TypeKind is the kind of composite type a type section entry defines.
type TypeKind uint8

// Composite type kinds.
const (
	TypeFunc   TypeKind = iota // 0x60
	TypeStruct                 // 0x5F (GC)
	TypeArray                  // 0x5E (GC)
)

// FieldType is a struct field or an array's element type: a storage type
// (a value type, or the packed [CodeI8]/[CodeI16]) and its mutability.
type FieldType struct {
	Type    ValType
	Mutable bool
}

// FuncType is one entry of the type index space. The name is WebAssembly
// 1.0's, where every type was a function type (Params, Results); with GC
// (WebAssembly 3.0) an entry may also be a struct type (Fields) or an array
// type (Fields holds the one element type), as Kind says, and may be
// declared with supertypes.
//
// The fields are ordered so that the struct is 104 bytes (a type entry can
// be 2 bytes of input).
type FuncType struct {
	Params  []ValType
	Results []ValType
	// Fields are a struct's fields, or an array's one element type.
	Fields []FieldType
	// Supers lists the declared supertypes of a subtype (see Sub).
	Supers []uint32
	Kind   TypeKind
	// Sub is set when the entry was written as a subtype (0x50 sub, or
	// 0x4F sub final when Final). An entry without Sub is final and has no
	// supertypes.
	Sub   bool
	Final bool
}

// IsPlainFunc reports whether t is a function type written without a
// subtype declaration: the only kind of type WebAssembly 1.0 and 2.0 have.
func (t *FuncType) IsPlainFunc() bool { return t.Kind == TypeFunc && !t.Sub }

// RecGroup is a recursive type group: Count function types starting at
// type index First.
type RecGroup struct {
	First uint32
	Count uint32
}

// Limits are the limits of a table or memory.
type Limits struct {
	Min    uint64
	Max    uint64 // valid when HasMax
	HasMax bool
	Shared bool // threads proposal (memories only)
	Is64   bool // memory64 proposal: 64-bit indices
}

// Table is a table type; Init is the optional initializer expression of the
// typed function references proposal (0x40 0x00 prefix), nil when absent.
type Table struct {
	Elem   ValType
	Limits Limits
	Init   *Expr
}

// Memory is a memory type.
type Memory struct {
	Limits Limits
}

// GlobalType is the type of a global.
type GlobalType struct {
	Val     ValType
	Mutable bool
}

// Global is a defined global.
type Global struct {
	Type GlobalType
	Init Expr
}

// Tag is an exception tag (exception handling proposal). Attribute is 0
// (exception).
type Tag struct {
	Attribute byte
	Type      uint32
}

// ExternKind is the kind of an import or export.
type ExternKind byte

// Extern kinds.
const (
	ExternFunc   ExternKind = 0
	ExternTable  ExternKind = 1
	ExternMemory ExternKind = 2
	ExternGlobal ExternKind = 3
	ExternTag    ExternKind = 4
)

// String returns "func", "table", "memory", "global" or "tag".
func (k ExternKind) String() string {
	switch k {
	case ExternFunc:
		return "func"
	case ExternTable:
		return "table"
	case ExternMemory:
		return "memory"
	case ExternGlobal:
		return "global"
	case ExternTag:
		return "tag"
	}
	return "unknown"
}

// Import is one import. Which of the descriptor fields is meaningful depends
// on Kind: TypeIndex for functions and tags (Tag also holds the tag), Table,
// Memory, or Global.
type Import struct {
	Module    string
	Name      string
	Kind      ExternKind
	TypeIndex uint32
	Table     Table
	Memory    Memory
	Global    GlobalType
	Tag       Tag
	// Offset is the offset of the import entry in the input (0 if built).
	Offset int
}

// Export is one export.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
	// Offset is the offset of the export entry (its name's length) in the
	// input (0 if built).
	Offset int
}

// SegmentMode is the mode of an element or data segment.
type SegmentMode byte

// Segment modes.
const (
	ModeActive SegmentMode = iota
	ModePassive
	ModeDeclarative
)

// Element is an element segment. Flags is the segment's encoding (0..7) and
// decides how Encode writes it: flags 0-3 carry function indices in Funcs,
// flags 4-7 carry expressions in Exprs. Table and Offset are meaningful for
// active segments; Type is the element type (funcref for flags 0-3).
type Element struct {
	Flags  uint32
	Mode   SegmentMode
	Table  uint32
	Offset Expr
	Type   ValType
	Funcs  []uint32
	Exprs  []Expr
}

// Data is a data segment. Flags is 0 (active, memory 0), 1 (passive) or 2
// (active, explicit memory). Init aliases the input.
//
// The fields are ordered (and Flags is a byte) so that the struct is 72
// bytes, not 80: the Go linker emits up to 100000 segments per module.
type Data struct {
	Init       []byte
	Offset     Expr
	InitOffset int // offset of Init in the input
	Memory     uint32
	Flags      uint8
	Mode       SegmentMode
}

// LocalDecl declares Count locals of type Type.
type LocalDecl struct {
	Count uint32
	Type  ValType
}

// Expr is an expression: a sequence of instructions ending with the `end`
// that closes it. Code aliases the input (or a caller-built buffer); Offset
// is the offset of Code[0] in the input and is used for error offsets.
type Expr struct {
	Code   []byte
	Offset int
}

// Func is one entry of the code section. Encode writes its body from Locals
// and Body.Code, so a caller replaces a body by changing those two.
type Func struct {
	// Offset is the offset of the entry's size LEB128 in the input.
	Offset int
	// Raw is the entry's body as in the file (after the size): local
	// declarations followed by the code.
	Raw    []byte
	Locals []LocalDecl
	// Body is the function's instructions, ending with `end`.
	Body Expr
}

// NameAssoc maps an index to a name.
type NameAssoc struct {
	Index uint32
	Name  string
}

// IndirectNames is a name map for the function Index (e.g. its locals).
type IndirectNames struct {
	Index uint32
	Names []NameAssoc
}

// NameSubsection is a name-section subsection kept raw.
type NameSubsection struct {
	ID      byte
	Payload []byte
}

// Names is the decoded "name" custom section. Subsections other than
// module (0), function (1) and local (2) are kept raw in Other, in order.
type Names struct {
	Module    string
	HasModule bool
	Functions []NameAssoc
	Locals    []IndirectNames
	Other     []NameSubsection
}

// ProducerValue is one (name, version) pair of a producers field.
type ProducerValue struct {
	Name    string
	Version string
}

// ProducerField is one field of the producers section: "language",
// "processed-by" or "sdk" (other names are kept too).
type ProducerField struct {
	Name   string
	Values []ProducerValue
}

// Producers is the decoded "producers" custom section.
type Producers struct {
	Fields []ProducerField
}

// Module is a decoded core module. Slices alias the input given to Decode.
type Module struct {
	// Sections lists every section in file order, with raw bytes.
	Sections []Section

	Types []FuncType
	// RecGroups lists the recursive type groups (0x4E) of the type section
	// in order; Types holds their members flat, as the type index space
	// does. Types outside every group are plain entries.
	RecGroups []RecGroup

	Imports      []Import
	Functions    []uint32 // type index of each defined function
	Tables       []Table
	Memories     []Memory
	Tags         []Tag
	Globals      []Global
	Exports      []Export
	Start        uint32 // valid when HasStart
	HasStart     bool
	Elements     []Element
	DataCount    uint32 // valid when HasDataCount
	HasDataCount bool
	Code         []Func
	Data         []Data

	// Names is the decoded name section; nil when absent or when it did not
	// decode (a malformed name section does not fail Decode; NamesErr says
	// why).
	Names    *Names
	NamesErr error
	// Producers is the decoded producers section; nil when absent or
	// malformed (ProducersErr says why).
	Producers    *Producers
	ProducersErr error

	// Features lists the proposals the module uses beyond WebAssembly 1.0.
	Features Features
}

// ImportCount returns the number of imports of kind k (the size of the
// imported part of that index space).
func (m *Module) ImportCount(k ExternKind) int {
	n := 0
	for i := range m.Imports {
		if m.Imports[i].Kind == k {
			n++
		}
	}
	return n
}

// FuncTypeIndex returns the type index of function idx in the function
// index space (imports first), and false if there is no such function.
func (m *Module) FuncTypeIndex(idx uint32) (uint32, bool) {
	for i := range m.Imports {
		if m.Imports[i].Kind == ExternFunc {
			if idx == 0 {
				return m.Imports[i].TypeIndex, true
			}
			idx--
		}
	}
	if uint64(idx) < uint64(len(m.Functions)) {
		return m.Functions[idx], true
	}
	return 0, false
}

// CustomSections returns the custom sections called name, in file order.
func (m *Module) CustomSections(name string) []Section {
	var out []Section
	for i := range m.Sections {
		if m.Sections[i].ID == SectionCustom && m.Sections[i].Name == name {
			out = append(out, m.Sections[i])
		}
	}
	return out
}

// ConstInt returns the value of an expression that is a single i32.const
// or i64.const (the usual segment offset), and false otherwise (e.g. a
// global.get or an extended-const expression).
func (e Expr) ConstInt() (int64, bool) {
	ir := e.Instrs()
	var in Instr
	if !ir.Next(&in) {
		return 0, false
	}
	var v int64
	switch in.Op {
	case OpI32Const:
		v = int64(in.I32)
	case OpI64Const:
		v = in.I64
	default:
		return 0, false
	}
	if !ir.Next(&in) || in.Op != OpEnd || ir.Next(&in) || ir.Err() != nil {
		return 0, false
	}
	return v, true
}

// String formats a function type as "(i32, i64) -> (f32)", a struct type as
// "struct { i32, mut i8 }", an array type as "array mut f64", each with
// " <: 2, 3" for declared supertypes (and "sub " for an open one).
func (t FuncType) String() string {
	var b strings.Builder
	if t.Sub && !t.Final {
		b.WriteString("sub ")
	}
	switch t.Kind {
	case TypeStruct:
		b.WriteString("struct {")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte(' ')
			writeField(&b, f)
		}
		b.WriteString(" }")
	case TypeArray:
		b.WriteString("array")
		for _, f := range t.Fields {
			b.WriteByte(' ')
			writeField(&b, f)
		}
	default:
		b.WriteByte('(')
		for i, v := range t.Params {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.String())
		}
		b.WriteString(") -> (")
		for i, v := range t.Results {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.String())
		}
		b.WriteByte(')')
	}
	for i, s := range t.Supers {
		if i == 0 {
			b.WriteString(" <: ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(itoa(uint64(s)))
	}
	return b.String()
}

func writeField(b *strings.Builder, f FieldType) {
	if f.Mutable {
		b.WriteString("mut ")
	}
	b.WriteString(f.Type.String())
}

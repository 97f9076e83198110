package wasm

import "fmt"

// Encode writes m as a binary module. Known sections are written from the
// struct fields in canonical order, each only when it has content (a start
// section when HasStart, a data count section when HasDataCount); function
// bodies are written from Func.Locals and Func.Body.Code. Custom sections
// are copied raw from m.Sections, each after the known section it followed
// in the input; the (first) "name" section is instead re-encoded from
// m.Names when that is non-nil. Names are written only where a name section
// was: to add one, append a Section{ID: SectionCustom, Name: "name"} to
// m.Sections. Numbers are written in minimal LEB128, so the output of
// Encode(Decode(b)) equals b only when b was minimally encoded. Encode
// checks nothing beyond what it needs to write (e.g. Flags values); pass the
// result to a validator.
func Encode(m *Module) ([]byte, error) {
	size := HeaderSize
	for i := range m.Sections {
		size += len(m.Sections[i].Raw) + 8
	}
	e := encoder{m: m, out: make([]byte, 0, size+size/16)}
	e.out = append(e.out, moduleHeader[:]...)
	next := 1 // next canonical position not yet written
	namesDone := false
	for i := range m.Sections {
		s := &m.Sections[i]
		if s.ID == SectionCustom {
			if s.Name == "name" && m.Names != nil && !namesDone {
				namesDone = true
				e.scratch = appendNames(e.scratch[:0], m.Names)
				e.out = AppendCustomSection(e.out, "name", e.scratch)
			} else {
				e.out = append(e.out, s.Raw...)
			}
			continue
		}
		if int(s.ID) >= len(sectionOrder) {
			return nil, fmt.Errorf("wasm: encode: unknown section id %d", s.ID)
		}
		ord := sectionOrder[s.ID]
		for ; next <= ord; next++ {
			if err := e.section(next); err != nil {
				return nil, err
			}
		}
	}
	for ; next <= len(orderedIDs)-1; next++ {
		if err := e.section(next); err != nil {
			return nil, err
		}
	}
	return e.out, nil
}

// orderedIDs[i] is the section at canonical position i (1-based).
var orderedIDs = [...]SectionID{0, SectionType, SectionImport, SectionFunction, SectionTable,
	SectionMemory, SectionTag, SectionGlobal, SectionExport, SectionStart, SectionElement,
	SectionDataCount, SectionCode, SectionData}

type encoder struct {
	m       *Module
	out     []byte
	scratch []byte
}

func (e *encoder) section(pos int) error {
	m := e.m
	id := orderedIDs[pos]
	b := e.scratch[:0]
	switch id {
	case SectionType:
		if len(m.Types) == 0 {
			return nil
		}
		var err error
		if b, err = appendTypes(b, m.Types, m.RecGroups); err != nil {
			return err
		}
	case SectionImport:
		if len(m.Imports) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Imports)))
		for i := range m.Imports {
			im := &m.Imports[i]
			b = AppendName(b, im.Module)
			b = AppendName(b, im.Name)
			b = append(b, byte(im.Kind))
			switch im.Kind {
			case ExternFunc:
				b = AppendU32(b, im.TypeIndex)
			case ExternTable:
				b = appendTable(b, &im.Table)
			case ExternMemory:
				b = appendLimits(b, im.Memory.Limits)
			case ExternGlobal:
				b = appendGlobalType(b, im.Global)
			case ExternTag:
				b = append(b, im.Tag.Attribute)
				b = AppendU32(b, im.Tag.Type)
			default:
				return fmt.Errorf("wasm: encode: import %d: unknown kind %d", i, im.Kind)
			}
		}
	case SectionFunction:
		if len(m.Functions) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Functions)))
		for _, t := range m.Functions {
			b = AppendU32(b, t)
		}
	case SectionTable:
		if len(m.Tables) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Tables)))
		for i := range m.Tables {
			b = appendTable(b, &m.Tables[i])
		}
	case SectionMemory:
		if len(m.Memories) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Memories)))
		for _, mem := range m.Memories {
			b = appendLimits(b, mem.Limits)
		}
	case SectionTag:
		if len(m.Tags) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Tags)))
		for _, t := range m.Tags {
			b = append(b, t.Attribute)
			b = AppendU32(b, t.Type)
		}
	case SectionGlobal:
		if len(m.Globals) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Globals)))
		for i := range m.Globals {
			b = appendGlobalType(b, m.Globals[i].Type)
			b = append(b, m.Globals[i].Init.Code...)
		}
	case SectionExport:
		if len(m.Exports) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Exports)))
		for _, x := range m.Exports {
			b = AppendName(b, x.Name)
			b = append(b, byte(x.Kind))
			b = AppendU32(b, x.Index)
		}
	case SectionStart:
		if !m.HasStart {
			return nil
		}
		b = AppendU32(b, m.Start)
	case SectionElement:
		if len(m.Elements) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Elements)))
		for i := range m.Elements {
			var err error
			if b, err = appendElement(b, &m.Elements[i]); err != nil {
				return fmt.Errorf("wasm: encode: element %d: %w", i, err)
			}
		}
	case SectionDataCount:
		if !m.HasDataCount {
			return nil
		}
		b = AppendU32(b, m.DataCount)
	case SectionCode:
		if len(m.Code) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Code)))
		for i := range m.Code {
			f := &m.Code[i]
			n := uleb32Len(uint32(len(f.Locals))) + len(f.Body.Code)
			for _, l := range f.Locals {
				n += uleb32Len(l.Count) + valTypeLen(l.Type)
			}
			b = AppendU32(b, uint32(n))
			b = AppendLocals(b, f.Locals)
			b = append(b, f.Body.Code...)
		}
	case SectionData:
		if len(m.Data) == 0 {
			return nil
		}
		b = AppendU32(b, uint32(len(m.Data)))
		for i := range m.Data {
			d := &m.Data[i]
			flags := d.Flags
			if flags == 0 && d.Memory != 0 {
				flags = 2
			}
			b = AppendU32(b, uint32(flags))
			switch flags {
			case 0:
				b = append(b, d.Offset.Code...)
			case 1:
			case 2:
				b = AppendU32(b, d.Memory)
				b = append(b, d.Offset.Code...)
			default:
				return fmt.Errorf("wasm: encode: data %d: invalid flags %d", i, flags)
			}
			b = AppendU32(b, uint32(len(d.Init)))
			b = append(b, d.Init...)
		}
	}
	e.scratch = b
	e.out = AppendSection(e.out, id, b)
	return nil
}

func appendTypes(b []byte, types []FuncType, groups []RecGroup) ([]byte, error) {
	entries := len(types)
	for _, g := range groups {
		if uint64(g.First)+uint64(g.Count) > uint64(len(types)) {
			return nil, fmt.Errorf("wasm: encode: rec group [%d,+%d) outside the %d types", g.First, g.Count, len(types))
		}
		entries += 1 - int(g.Count)
	}
	b = AppendU32(b, uint32(entries))
	appendFunc := func(t *FuncType) { b = appendSubType(b, t) }
	gi := 0
	for i := 0; i <= len(types); i++ {
		for gi < len(groups) && int(groups[gi].First) == i {
			g := groups[gi]
			gi++
			b = append(b, 0x4E)
			b = AppendU32(b, g.Count)
			for j := g.First; j < g.First+g.Count; j++ {
				appendFunc(&types[j])
			}
			i += int(g.Count)
		}
		if i < len(types) {
			appendFunc(&types[i])
		}
	}
	if gi != len(groups) {
		return nil, fmt.Errorf("wasm: encode: rec groups overlap or are out of order")
	}
	return b, nil
}

// appendSubType appends one type definition (with its sub/sub final
// declaration when t.Sub).
func appendSubType(b []byte, t *FuncType) []byte {
	if t.Sub {
		if t.Final {
			b = append(b, 0x4F)
		} else {
			b = append(b, 0x50)
		}
		b = AppendU32(b, uint32(len(t.Supers)))
		for _, s := range t.Supers {
			b = AppendU32(b, s)
		}
	}
	switch t.Kind {
	case TypeStruct:
		b = append(b, 0x5F)
		b = AppendU32(b, uint32(len(t.Fields)))
		for _, f := range t.Fields {
			b = appendField(b, f)
		}
	case TypeArray:
		b = append(b, 0x5E)
		var f FieldType
		if len(t.Fields) > 0 {
			f = t.Fields[0]
		}
		b = appendField(b, f)
	default:
		b = append(b, 0x60)
		b = appendValTypes(b, t.Params)
		b = appendValTypes(b, t.Results)
	}
	return b
}

func appendField(b []byte, f FieldType) []byte {
	b = AppendValType(b, f.Type)
	if f.Mutable {
		return append(b, 1)
	}
	return append(b, 0)
}

func uleb32Len(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func valTypeLen(t ValType) int {
	if t.Code == RefNull || t.Code == Ref {
		return 1 + len(AppendS64(make([]byte, 0, 10), t.Heap))
	}
	return 1
}

// AppendSection appends a section with the given ID and payload.
func AppendSection(dst []byte, id SectionID, payload []byte) []byte {
	dst = append(dst, byte(id))
	dst = AppendU32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// AppendCustomSection appends a custom section called name with content data.
func AppendCustomSection(dst []byte, name string, data []byte) []byte {
	dst = append(dst, byte(SectionCustom))
	dst = AppendU32(dst, uint32(uleb32Len(uint32(len(name)))+len(name)+len(data)))
	dst = AppendName(dst, name)
	return append(dst, data...)
}

// AppendValType appends the encoding of t.
func AppendValType(dst []byte, t ValType) []byte {
	dst = append(dst, t.Code)
	if t.Code == RefNull || t.Code == Ref {
		dst = AppendS64(dst, t.Heap)
	}
	return dst
}

func appendValTypes(dst []byte, ts []ValType) []byte {
	dst = AppendU32(dst, uint32(len(ts)))
	for _, t := range ts {
		dst = AppendValType(dst, t)
	}
	return dst
}

// AppendLocals appends a function body's local declarations (count, then
// each declaration).
func AppendLocals(dst []byte, locals []LocalDecl) []byte {
	dst = AppendU32(dst, uint32(len(locals)))
	for _, l := range locals {
		dst = AppendU32(dst, l.Count)
		dst = AppendValType(dst, l.Type)
	}
	return dst
}

// AppendBlockType appends the encoding of bt.
func AppendBlockType(dst []byte, bt BlockType) []byte {
	switch bt.Kind {
	case BlockValue:
		return AppendValType(dst, bt.Val)
	case BlockIndex:
		return AppendS64(dst, int64(bt.Index))
	}
	return append(dst, 0x40)
}

func appendLimits(dst []byte, l Limits) []byte {
	var flags byte
	if l.HasMax {
		flags |= 1
	}
	if l.Shared {
		flags |= 2
	}
	if l.Is64 {
		flags |= 4
	}
	dst = append(dst, flags)
	dst = AppendU64(dst, l.Min)
	if l.HasMax {
		dst = AppendU64(dst, l.Max)
	}
	return dst
}

func appendTable(dst []byte, t *Table) []byte {
	if t.Init != nil {
		dst = append(dst, 0x40, 0x00)
	}
	dst = AppendValType(dst, t.Elem)
	dst = appendLimits(dst, t.Limits)
	if t.Init != nil {
		dst = append(dst, t.Init.Code...)
	}
	return dst
}

func appendGlobalType(dst []byte, g GlobalType) []byte {
	dst = AppendValType(dst, g.Val)
	if g.Mutable {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendElement(b []byte, el *Element) ([]byte, error) {
	flags := el.Flags
	if flags > 7 {
		return nil, fmt.Errorf("invalid flags %d", flags)
	}
	if el.Table != 0 && flags&3 == 0 {
		flags |= 2
	}
	b = AppendU32(b, flags)
	if flags&3 == 2 {
		b = AppendU32(b, el.Table)
	}
	if flags&1 == 0 {
		b = append(b, el.Offset.Code...)
	}
	if flags&4 == 0 {
		if flags&3 != 0 {
			b = append(b, 0x00)
		}
		b = AppendU32(b, uint32(len(el.Funcs)))
		for _, f := range el.Funcs {
			b = AppendU32(b, f)
		}
		return b, nil
	}
	if flags&3 != 0 {
		b = AppendValType(b, el.Type)
	}
	b = AppendU32(b, uint32(len(el.Exprs)))
	for _, x := range el.Exprs {
		b = append(b, x.Code...)
	}
	return b, nil
}

func appendNames(b []byte, n *Names) []byte {
	var sub []byte
	if n.HasModule {
		sub = AppendName(sub[:0], n.Module)
		b = appendSub(b, 0, sub)
	}
	if len(n.Functions) > 0 {
		sub = appendNameMap(sub[:0], n.Functions)
		b = appendSub(b, 1, sub)
	}
	if len(n.Locals) > 0 {
		sub = AppendU32(sub[:0], uint32(len(n.Locals)))
		for _, l := range n.Locals {
			sub = AppendU32(sub, l.Index)
			sub = appendNameMap(sub, l.Names)
		}
		b = appendSub(b, 2, sub)
	}
	for _, o := range n.Other {
		b = appendSub(b, o.ID, o.Payload)
	}
	return b
}

func appendSub(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = AppendU32(b, uint32(len(payload)))
	return append(b, payload...)
}

func appendNameMap(b []byte, m []NameAssoc) []byte {
	b = AppendU32(b, uint32(len(m)))
	for _, a := range m {
		b = AppendU32(b, a.Index)
		b = AppendName(b, a.Name)
	}
	return b
}

// AppendInstr appends the encoding of in (opcode and the immediates its
// opcode takes; see [Instr]). Start and End are ignored. It returns an error
// for an unknown opcode.
func AppendInstr(dst []byte, in *Instr) ([]byte, error) {
	d := in.Op.desc()
	if d == nil {
		return dst, fmt.Errorf("wasm: encode: unknown opcode %s", in.Op)
	}
	if p := in.Op.Prefix(); p != 0 {
		dst = append(dst, p)
		dst = AppendU32(dst, in.Op.Sub())
	} else {
		dst = append(dst, byte(in.Op))
	}
	switch d.imm {
	case immBlock:
		dst = AppendBlockType(dst, in.Block)
	case immTryTable:
		dst = AppendBlockType(dst, in.Block)
		dst = AppendU32(dst, uint32(len(in.Catches)))
		for _, c := range in.Catches {
			dst = append(dst, c.Kind)
			if c.Kind == CatchTag || c.Kind == CatchTagRef {
				dst = AppendU32(dst, c.Tag)
			}
			dst = AppendU32(dst, c.Label)
		}
	case immLabel, immFunc, immType, immTag, immLocal, immGlobal, immTable, immMem, immData, immElem:
		dst = AppendU32(dst, in.Index)
	case immBrTable:
		dst = AppendU32(dst, uint32(len(in.Targets)))
		for _, t := range in.Targets {
			dst = AppendU32(dst, t)
		}
		dst = AppendU32(dst, in.Index)
	case immCallIndirect, immMemInit, immMemCopy, immTableInit, immTableCopy,
		immTypeField, immTypeCount, immTypeData, immTypeElem, immTypeType:
		dst = AppendU32(dst, in.Index)
		dst = AppendU32(dst, in.Index2)
	case immCast:
		dst = append(dst, in.CastFlags)
		dst = AppendU32(dst, in.Index)
		dst = AppendS64(dst, in.Heap)
		dst = AppendS64(dst, in.Heap2)
	case immSelectT:
		dst = appendValTypes(dst, in.Types)
	case immMemArg:
		dst = appendMemArg(dst, in.Mem)
	case immMemArgLane:
		dst = appendMemArg(dst, in.Mem)
		dst = append(dst, in.Lane)
	case immI32:
		dst = AppendS32(dst, in.I32)
	case immI64:
		dst = AppendS64(dst, in.I64)
	case immF32:
		v := in.F32
		dst = append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	case immF64:
		v := in.F64
		dst = append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
			byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
	case immHeap:
		dst = AppendS64(dst, in.Heap)
	case immV128, immShuffle:
		if len(in.V128) != 16 {
			return dst, fmt.Errorf("wasm: encode: %s needs 16 bytes, have %d", in.Op, len(in.V128))
		}
		dst = append(dst, in.V128...)
	case immLane:
		dst = append(dst, in.Lane)
	case immFence:
		dst = append(dst, 0)
	}
	return dst, nil
}

func appendMemArg(dst []byte, m MemArg) []byte {
	if m.Memory != 0 {
		dst = AppendU32(dst, m.Align|0x40)
		dst = AppendU32(dst, m.Memory)
	} else {
		dst = AppendU32(dst, m.Align)
	}
	return AppendU64(dst, m.Offset)
}

// RemapFuncs returns a copy of the expression code with every function
// index immediate (call, return_call, ref.func) replaced by remap(index).
// Other instructions are copied byte for byte. It is what adding function
// imports needs for bodies and constant expressions.
func RemapFuncs(dst []byte, e Expr, remap func(uint32) uint32) ([]byte, error) {
	ir := e.Instrs()
	var in Instr
	last := 0
	for ir.Next(&in) {
		switch in.Op {
		case OpCall, OpReturnCall, OpRefFunc:
			dst = append(dst, e.Code[last:in.Start]...)
			in.Index = remap(in.Index)
			dst, _ = AppendInstr(dst, &in)
			last = in.End
		}
	}
	if err := ir.Err(); err != nil {
		return nil, err
	}
	return append(dst, e.Code[last:ir.Offset()]...), nil
}

package wasm

import "errors"

// canonical order of the known sections (tag sits between memory and global).
var sectionOrder = [...]int{
	SectionType: 1, SectionImport: 2, SectionFunction: 3, SectionTable: 4, SectionMemory: 5,
	SectionTag: 6, SectionGlobal: 7, SectionExport: 8, SectionStart: 9, SectionElement: 10,
	SectionDataCount: 11, SectionCode: 12, SectionData: 13,
}

// Decode decodes the core module bin. It checks the binary grammar of every
// section and every function body (not types: see the package doc), decodes
// the name and producers custom sections (whose errors are kept in
// Module.NamesErr/ProducersErr, not returned), and records Module.Features.
// A component binary yields an error wrapping ErrComponent. The Module's
// slices alias bin.
func Decode(bin []byte) (*Module, error) {
	k, err := checkHeader(bin)
	if err != nil {
		return nil, err
	}
	if k == KindComponent {
		return nil, errAt(4, "header", ErrComponent)
	}
	d := decoder{m: &Module{}}
	m := d.m
	r := reader{buf: bin, pos: HeaderSize, alloc: newAllocBudget(len(bin))}
	// The sections slice is allocated once (appending would allocate
	// several times its final size), for the sections the budget allows.
	m.Sections = make([]Section, 0, min(countSections(bin), int(r.alloc.left/sectionSize)+1))
	last := 0
	var funcSection *Section
	for !r.eof() {
		s, err := nextSection(&r)
		if err != nil {
			return nil, err
		}
		chargeAs := "section"
		if s.ID == SectionCustom {
			chargeAs = "custom section"
		}
		if err := r.charge(sectionSize, s.Offset, chargeAs); err != nil {
			return nil, err
		}
		m.Sections = append(m.Sections, s)
		if s.ID == SectionCustom {
			continue
		}
		if int(s.ID) >= len(sectionOrder) {
			return nil, errfAt(s.Offset, "section", "unknown section id %d", s.ID)
		}
		ord := sectionOrder[s.ID]
		if ord <= last {
			return nil, errfAt(s.Offset, s.ID.String()+" section", "out of order or duplicate")
		}
		last = ord
		sr := r.sub(s.Payload, s.PayloadOffset)
		where := s.ID.String() + " section"
		switch s.ID {
		case SectionType:
			err = d.types(&sr, where)
		case SectionImport:
			err = d.imports(&sr, where)
		case SectionFunction:
			err = d.functions(&sr, where)
			sc := s
			funcSection = &sc
		case SectionTable:
			err = d.tables(&sr, where)
		case SectionMemory:
			err = d.memories(&sr, where)
		case SectionTag:
			err = d.tags(&sr, where)
		case SectionGlobal:
			err = d.globals(&sr, where)
		case SectionExport:
			err = d.exports(&sr, where)
		case SectionStart:
			m.Start, err = sr.u32(where)
			m.HasStart = true
		case SectionElement:
			err = d.elements(&sr, where)
		case SectionDataCount:
			m.DataCount, err = sr.u32(where)
			m.HasDataCount = true
			m.Features |= FeatureBulkMemory
		case SectionCode:
			err = d.code(&sr, where)
		case SectionData:
			err = d.data(&sr, where)
		}
		if err != nil {
			return nil, err
		}
		if !sr.eof() {
			return nil, errfAt(sr.off(), where, "%d bytes left after the section's content", sr.remaining())
		}
	}
	if len(m.Functions) != len(m.Code) {
		off := len(bin)
		if funcSection != nil {
			off = funcSection.Offset
		}
		return nil, errfAt(off, "code section", "function and code section have inconsistent lengths (%d, %d)",
			len(m.Functions), len(m.Code))
	}
	if m.HasDataCount && uint64(m.DataCount) != uint64(len(m.Data)) {
		return nil, errfAt(len(bin), "data section", "data count and data section have inconsistent lengths (%d, %d)",
			m.DataCount, len(m.Data))
	}
	if d.needDataCount && !m.HasDataCount {
		return nil, errfAt(d.needDataCountAt, "code section", "data count section required by %s", d.needDataCountOp)
	}
	d.moduleFeatures()
	for i := range m.Sections {
		s := &m.Sections[i]
		if s.ID != SectionCustom {
			continue
		}
		switch s.Name {
		case "name":
			if m.Names == nil && m.NamesErr == nil {
				m.Names, m.NamesErr = decodeNames(s.Data, s.DataOffset, r.alloc)
			}
		case "producers":
			if m.Producers == nil && m.ProducersErr == nil {
				m.Producers, m.ProducersErr = decodeProducers(s.Data, s.DataOffset, r.alloc)
			}
		}
	}
	return m, nil
}

type decoder struct {
	m               *Module
	importedGlobals uint32
	ir              InstrReader
	in              Instr
	needDataCount   bool
	needDataCountAt int
	needDataCountOp Opcode
}

// count reads a vector length and checks that at least minElem bytes per
// element remain, so hostile counts cannot cause huge allocations.
func count(r *reader, where string, minElem int) (int, error) {
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

func (d *decoder) valTypes(r *reader, where string) ([]ValType, error) {
	n, err := vec[ValType](r, where, 1)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]ValType, n)
	for i := range out {
		if out[i], err = readValType(r, where); err != nil {
			return nil, err
		}
		d.m.Features |= valTypeFeature(out[i])
	}
	return out, nil
}

func (d *decoder) types(r *reader, where string) error {
	n, err := vec[FuncType](r, where, 2)
	if err != nil {
		return err
	}
	d.m.Types = make([]FuncType, 0, n)
	for range n {
		if !r.eof() && r.buf[r.pos] == 0x4E {
			r.pos++
			members, err := vec[FuncType](r, where, 2)
			if err != nil {
				return err
			}
			d.m.RecGroups = append(d.m.RecGroups, RecGroup{First: uint32(len(d.m.Types)), Count: uint32(members)})
			for range members {
				if err := d.subType(r, where); err != nil {
					return err
				}
			}
			continue
		}
		if err := d.subType(r, where); err != nil {
			return err
		}
	}
	return nil
}

// subType reads one type definition: a composite type, optionally behind
// a sub (0x50) or sub final (0x4F) declaration with its supertypes.
func (d *decoder) subType(r *reader, where string) error {
	var t FuncType
	if !r.eof() && (r.buf[r.pos] == 0x50 || r.buf[r.pos] == 0x4F) {
		t.Sub, t.Final = true, r.buf[r.pos] == 0x4F
		r.pos++
		d.m.Features |= FeatureGC
		var err error
		if t.Supers, err = d.funcIndices(r, where); err != nil {
			return err
		}
	}
	start := r.off()
	form, err := r.byte(where)
	if err != nil {
		return err
	}
	switch form {
	case 0x60:
		if t.Params, err = d.valTypes(r, where); err != nil {
			return err
		}
		if t.Results, err = d.valTypes(r, where); err != nil {
			return err
		}
		if len(t.Results) > 1 {
			d.m.Features |= FeatureMultiValue
		}
	case 0x5F:
		t.Kind = TypeStruct
		n, err := vec[FieldType](r, where, 2)
		if err != nil {
			return err
		}
		t.Fields = make([]FieldType, n)
		for i := range t.Fields {
			if t.Fields[i], err = d.fieldType(r, where); err != nil {
				return err
			}
		}
	case 0x5E:
		t.Kind = TypeArray
		f, err := d.fieldType(r, where)
		if err != nil {
			return err
		}
		t.Fields = []FieldType{f}
	default:
		return errfAt(start, where, "unknown type form 0x%02x (want func 0x60, struct 0x5f or array 0x5e)", form)
	}
	if t.Kind != TypeFunc {
		d.m.Features |= FeatureGC
	}
	d.m.Types = append(d.m.Types, t)
	return nil
}

func (d *decoder) fieldType(r *reader, where string) (FieldType, error) {
	vt, err := readStorageType(r, where)
	if err != nil {
		return FieldType{}, err
	}
	d.m.Features |= valTypeFeature(vt)
	start := r.off()
	mut, err := r.byte(where)
	if err != nil {
		return FieldType{}, err
	}
	if mut > 1 {
		return FieldType{}, errfAt(start, where, "invalid mutability 0x%02x", mut)
	}
	return FieldType{Type: vt, Mutable: mut == 1}, nil
}

func (d *decoder) limits(r *reader, where string, memory bool) (Limits, error) {
	start := r.off()
	flags, err := r.byte(where)
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	if flags > 7 || (!memory && flags&2 != 0) {
		return l, errfAt(start, where, "invalid limits flags 0x%02x", flags)
	}
	l.HasMax = flags&1 != 0
	l.Shared = flags&2 != 0
	l.Is64 = flags&4 != 0
	if l.Is64 {
		d.m.Features |= FeatureMemory64
	}
	read := func() (uint64, error) {
		if l.Is64 {
			return r.u64(where)
		}
		v, err := r.u32(where)
		return uint64(v), err
	}
	if l.Min, err = read(); err != nil {
		return l, err
	}
	if l.HasMax {
		if l.Max, err = read(); err != nil {
			return l, err
		}
	}
	return l, nil
}

func (d *decoder) tableType(r *reader, where string) (Table, error) {
	var t Table
	if !r.eof() && r.buf[r.pos] == 0x40 {
		start := r.off()
		r.pos++
		z, err := r.byte(where)
		if err != nil {
			return t, err
		}
		if z != 0 {
			return t, errfAt(start, where, "table initializer prefix 0x40 0x%02x, want 0x40 0x00", z)
		}
		t.Init = &Expr{}
		d.m.Features |= FeatureTypedFuncRefs
	}
	start := r.off()
	vt, err := readValType(r, where)
	if err != nil {
		return t, err
	}
	if !vt.IsRef() {
		return t, errfAt(start, where, "table element type %s is not a reference type", vt)
	}
	t.Elem = vt
	if vt.Code != CodeFuncRef {
		d.m.Features |= valTypeFeature(vt)
	}
	if t.Limits, err = d.limits(r, where, false); err != nil {
		return t, err
	}
	if t.Init != nil {
		if *t.Init, err = d.constExpr(r, where); err != nil {
			return t, err
		}
	}
	return t, nil
}

func (d *decoder) globalType(r *reader, where string) (GlobalType, error) {
	vt, err := readValType(r, where)
	if err != nil {
		return GlobalType{}, err
	}
	d.m.Features |= valTypeFeature(vt)
	start := r.off()
	mut, err := r.byte(where)
	if err != nil {
		return GlobalType{}, err
	}
	if mut > 1 {
		return GlobalType{}, errfAt(start, where, "invalid mutability 0x%02x", mut)
	}
	return GlobalType{Val: vt, Mutable: mut == 1}, nil
}

func (d *decoder) tag(r *reader, where string) (Tag, error) {
	start := r.off()
	a, err := r.byte(where)
	if err != nil {
		return Tag{}, err
	}
	if a != 0 {
		return Tag{}, errfAt(start, where, "invalid tag attribute 0x%02x", a)
	}
	t, err := r.u32(where)
	d.m.Features |= FeatureExceptions
	return Tag{Attribute: a, Type: t}, err
}

func (d *decoder) imports(r *reader, where string) error {
	n, err := vec[Import](r, where, 4)
	if err != nil {
		return err
	}
	d.m.Imports = make([]Import, n)
	for i := range d.m.Imports {
		im := &d.m.Imports[i]
		im.Offset = r.off()
		if im.Module, err = r.name(where); err != nil {
			return err
		}
		if im.Name, err = r.name(where); err != nil {
			return err
		}
		start := r.off()
		k, err := r.byte(where)
		if err != nil {
			return err
		}
		im.Kind = ExternKind(k)
		switch im.Kind {
		case ExternFunc:
			im.TypeIndex, err = r.u32(where)
		case ExternTable:
			im.Table, err = d.tableType(r, where)
		case ExternMemory:
			im.Memory.Limits, err = d.limits(r, where, true)
		case ExternGlobal:
			im.Global, err = d.globalType(r, where)
			d.importedGlobals++
			if im.Global.Mutable {
				d.m.Features |= FeatureMutableGlobals
			}
		case ExternTag:
			im.Tag, err = d.tag(r, where)
			im.TypeIndex = im.Tag.Type
		default:
			return errfAt(start, where, "unknown import kind 0x%02x", k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) functions(r *reader, where string) error {
	n, err := vec[uint32](r, where, 1)
	if err != nil {
		return err
	}
	d.m.Functions = make([]uint32, n)
	for i := range d.m.Functions {
		if d.m.Functions[i], err = r.u32(where); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) tables(r *reader, where string) error {
	n, err := vec[Table](r, where, 2)
	if err != nil {
		return err
	}
	d.m.Tables = make([]Table, n)
	for i := range d.m.Tables {
		if d.m.Tables[i], err = d.tableType(r, where); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) memories(r *reader, where string) error {
	n, err := vec[Memory](r, where, 2)
	if err != nil {
		return err
	}
	d.m.Memories = make([]Memory, n)
	for i := range d.m.Memories {
		if d.m.Memories[i].Limits, err = d.limits(r, where, true); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) tags(r *reader, where string) error {
	n, err := vec[Tag](r, where, 2)
	if err != nil {
		return err
	}
	d.m.Tags = make([]Tag, n)
	for i := range d.m.Tags {
		if d.m.Tags[i], err = d.tag(r, where); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) globals(r *reader, where string) error {
	n, err := vec[Global](r, where, 3)
	if err != nil {
		return err
	}
	d.m.Globals = make([]Global, n)
	for i := range d.m.Globals {
		g := &d.m.Globals[i]
		if g.Type, err = d.globalType(r, where); err != nil {
			return err
		}
		if g.Init, err = d.constExpr(r, where); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) exports(r *reader, where string) error {
	n, err := vec[Export](r, where, 3)
	if err != nil {
		return err
	}
	d.m.Exports = make([]Export, n)
	for i := range d.m.Exports {
		e := &d.m.Exports[i]
		e.Offset = r.off()
		if e.Name, err = r.name(where); err != nil {
			return err
		}
		start := r.off()
		k, err := r.byte(where)
		if err != nil {
			return err
		}
		if k > byte(ExternTag) {
			return errfAt(start, where, "unknown export kind 0x%02x", k)
		}
		e.Kind = ExternKind(k)
		if e.Index, err = r.u32(where); err != nil {
			return err
		}
		if e.Kind == ExternTag {
			d.m.Features |= FeatureExceptions
		}
	}
	return nil
}

// constExpr reads a constant expression (up to and including its final end)
// at r.
func (d *decoder) constExpr(r *reader, where string) (Expr, error) {
	// Fast path for the usual `i32.const n end` / `i64.const n end`.
	if r.remaining() >= 3 && (r.buf[r.pos] == byte(OpI32Const) || r.buf[r.pos] == byte(OpI64Const)) {
		save := r.pos
		r.pos++
		var err error
		if r.buf[save] == byte(OpI32Const) {
			_, err = r.s32(where)
		} else {
			_, err = r.s64(where)
		}
		if err == nil && !r.eof() && r.buf[r.pos] == byte(OpEnd) {
			r.pos++
			return Expr{Code: r.buf[save:r.pos:r.pos], Offset: r.base + save}, nil
		}
		r.pos = save
	}
	ir := &d.ir
	ir.reset(r.buf[r.pos:], r.off())
	ir.open = true
	ir.feats = 0
	for ir.Next(&d.in) {
		switch d.in.Op {
		case OpI32Add, OpI32Sub, OpI32Mul, OpI64Add, OpI64Sub, OpI64Mul:
			d.m.Features |= FeatureExtendedConst
		case OpGlobalGet:
			// Reading a defined (not imported) global came with GC.
			if d.in.Index >= d.importedGlobals {
				d.m.Features |= FeatureGC
			}
		}
	}
	if err := ir.Err(); err != nil {
		var we *Error
		if errors.As(err, &we) && we.Where == whereInstr {
			we.Where = where + ": constant expression"
		}
		return Expr{}, err
	}
	d.m.Features |= ir.feats
	n := ir.r.pos
	e := Expr{Code: r.buf[r.pos : r.pos+n : r.pos+n], Offset: r.off()}
	r.pos += n
	return e, nil
}

func (d *decoder) funcIndices(r *reader, where string) ([]uint32, error) {
	n, err := vec[uint32](r, where, 1)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, n)
	for i := range out {
		if out[i], err = r.u32(where); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *decoder) elements(r *reader, where string) error {
	n, err := vec[Element](r, where, 3)
	if err != nil {
		return err
	}
	d.m.Elements = make([]Element, n)
	for i := range d.m.Elements {
		e := &d.m.Elements[i]
		start := r.off()
		if e.Flags, err = r.u32(where); err != nil {
			return err
		}
		if e.Flags > 7 {
			return errfAt(start, where, "invalid element segment flags %d", e.Flags)
		}
		if e.Flags != 0 {
			d.m.Features |= FeatureBulkMemory
		}
		switch {
		case e.Flags&1 == 0:
			e.Mode = ModeActive
		case e.Flags&2 == 0:
			e.Mode = ModePassive
		default:
			e.Mode = ModeDeclarative
		}
		if e.Flags&3 == 2 {
			if e.Table, err = r.u32(where); err != nil {
				return err
			}
			if e.Table != 0 {
				d.m.Features |= FeatureReferenceTypes
			}
		}
		if e.Mode == ModeActive {
			if e.Offset, err = d.constExpr(r, where); err != nil {
				return err
			}
		}
		exprs := e.Flags&4 != 0
		e.Type = FuncRef
		if e.Flags&3 != 0 {
			ks := r.off()
			if exprs {
				if e.Type, err = readValType(r, where); err != nil {
					return err
				}
				if !e.Type.IsRef() {
					return errfAt(ks, where, "element type %s is not a reference type", e.Type)
				}
				d.m.Features |= valTypeFeature(e.Type)
			} else {
				k, err := r.byte(where)
				if err != nil {
					return err
				}
				if k != 0 {
					return errfAt(ks, where, "invalid element kind 0x%02x", k)
				}
			}
		}
		if !exprs {
			if e.Funcs, err = d.funcIndices(r, where); err != nil {
				return err
			}
			continue
		}
		cnt, err := vec[Expr](r, where, 1)
		if err != nil {
			return err
		}
		e.Exprs = make([]Expr, cnt)
		for j := range e.Exprs {
			if e.Exprs[j], err = d.constExpr(r, where); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *decoder) code(r *reader, where string) error {
	n, err := vec[Func](r, where, 2)
	if err != nil {
		return err
	}
	d.m.Code = make([]Func, n)
	ir := &d.ir
	for i := range d.m.Code {
		f := &d.m.Code[i]
		f.Offset = r.off()
		size, err := r.u32(where)
		if err != nil {
			return err
		}
		bodyStart := r.off()
		body, err := r.bytes(int(size), where)
		if err != nil {
			return err
		}
		f.Raw = body
		br := r.sub(body, bodyStart)
		ndecl, err := vec[LocalDecl](&br, where, 2)
		if err != nil {
			return err
		}
		if ndecl > 0 {
			f.Locals = make([]LocalDecl, ndecl)
		}
		var total uint64
		for j := range f.Locals {
			if f.Locals[j].Count, err = br.u32(where); err != nil {
				return err
			}
			total += uint64(f.Locals[j].Count)
			if total > 0xFFFFFFFF {
				return errfAt(br.off(), where, "too many locals")
			}
			if f.Locals[j].Type, err = readValType(&br, where); err != nil {
				return err
			}
			d.m.Features |= valTypeFeature(f.Locals[j].Type)
		}
		f.Body = Expr{Code: body[br.pos:], Offset: br.off()}
		ir.reset(f.Body.Code, f.Body.Offset)
		for ir.Next(&d.in) {
			if needsDataCount(d.in.Op) && !d.needDataCount {
				d.needDataCount = true
				d.needDataCountAt = f.Body.Offset + d.in.Start
				d.needDataCountOp = d.in.Op
			}
		}
		if err := ir.Err(); err != nil {
			return err
		}
	}
	d.m.Features |= ir.feats
	return nil
}

// needsDataCount reports whether op names a data segment in a function
// body, which requires the data count section.
func needsDataCount(op Opcode) bool {
	switch op {
	case OpMemoryInit, OpDataDrop, OpArrayNewData, OpArrayInitData:
		return true
	}
	return false
}

func (d *decoder) data(r *reader, where string) error {
	n, err := vec[Data](r, where, 2)
	if err != nil {
		return err
	}
	d.m.Data = make([]Data, n)
	for i := range d.m.Data {
		ds := &d.m.Data[i]
		start := r.off()
		flags, err := r.u32(where)
		if err != nil {
			return err
		}
		switch flags {
		case 0:
			ds.Mode = ModeActive
		case 1:
			ds.Mode = ModePassive
			d.m.Features |= FeatureBulkMemory
		case 2:
			ds.Mode = ModeActive
			if ds.Memory, err = r.u32(where); err != nil {
				return err
			}
			if ds.Memory != 0 {
				d.m.Features |= FeatureMultiMemory
			}
		default:
			return errfAt(start, where, "invalid data segment flags %d", flags)
		}
		ds.Flags = uint8(flags)
		if ds.Mode == ModeActive {
			if ds.Offset, err = d.constExpr(r, where); err != nil {
				return err
			}
		}
		size, err := r.u32(where)
		if err != nil {
			return err
		}
		ds.InitOffset = r.off()
		if ds.Init, err = r.bytes(int(size), where); err != nil {
			return err
		}
	}
	return nil
}

// moduleFeatures adds the features implied by the module's structure.
func (d *decoder) moduleFeatures() {
	m := d.m
	var tables, mems int
	for i := range m.Imports {
		switch m.Imports[i].Kind {
		case ExternTable:
			tables++
			if m.Imports[i].Table.Elem.Code != CodeFuncRef {
				m.Features |= FeatureReferenceTypes
			}
		case ExternMemory:
			mems++
			m.Features |= memFeatures(m.Imports[i].Memory.Limits)
		}
	}
	for i := range m.Memories {
		m.Features |= memFeatures(m.Memories[i].Limits)
	}
	tables += len(m.Tables)
	mems += len(m.Memories)
	if tables > 1 {
		m.Features |= FeatureReferenceTypes
	}
	if mems > 1 {
		m.Features |= FeatureMultiMemory
	}
	if len(m.Tags) > 0 {
		m.Features |= FeatureExceptions
	}
	for i := range m.Exports {
		e := &m.Exports[i]
		if e.Kind != ExternGlobal {
			continue
		}
		if g, ok := m.global(e.Index); ok && g.Mutable {
			m.Features |= FeatureMutableGlobals
		}
	}
	// Multi-value blocks: a block type naming a function type with
	// parameters or more than one result. The body scan flagged every
	// type-index block as multi-value; that is exact enough for reporting
	// (MVP blocks cannot use a type index).
}

func memFeatures(l Limits) Features {
	var f Features
	if l.Shared {
		f |= FeatureThreads
	}
	if l.Is64 {
		f |= FeatureMemory64
	}
	return f
}

// global returns the type of global idx in the global index space.
func (m *Module) global(idx uint32) (GlobalType, bool) {
	for i := range m.Imports {
		if m.Imports[i].Kind == ExternGlobal {
			if idx == 0 {
				return m.Imports[i].Global, true
			}
			idx--
		}
	}
	if uint64(idx) < uint64(len(m.Globals)) {
		return m.Globals[idx].Type, true
	}
	return GlobalType{}, false
}

package meter

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
)

// Instrument returns a copy of the core module bin that charges fuel and
// bounds its call depth, as described in the package documentation and
// docs/metering.md. It does not modify bin.
//
// For a module wazero accepts and within the bounds of opt, the output is
// accepted too and computes the same results (the spec-suite differential
// test checks this), apart from calling the added imports and table.grow
// failing (-1, table unchanged, DeniedGlobal set) past MaxTableElements. It refuses, with a
// one-line error saying what and where, a module that does not decode, uses
// an index outside its own index spaces (which instrumentation would
// otherwise make valid and point at the meter's own state), uses the legacy
// exception-handling encoding or 64-bit memories, or already uses the
// wasmward namespace (ErrAlreadyMetered); and, with a *LimitError, a module
// with a function nested deeper than MaxNesting or a defined table whose
// minimum exceeds MaxTableElements. Beyond indices it checks structure, not
// types: an invalid module yields an output the compiler rejects.
func Instrument(bin []byte, opt Options) ([]byte, error) {
	out, _, err := instrument(bin, opt, false)
	return out, err
}

// InstrumentCoverage is Instrument plus edge-coverage counters and
// comparison-operand slots (see coverage.go and docs/metering.md,
// "Coverage mode"): the output also exports LastSiteGlobal, the counter
// globals (CounterGlobal) and the comparison slots' globals (CmpGlobals);
// the Map lists the sites in order of their ids and the slots. Fuel costs
// are the same as Instrument's: the counters and slots are not charged.
func InstrumentCoverage(bin []byte, opt Options) ([]byte, *Map, error) {
	return instrument(bin, opt, true)
}

func instrument(bin []byte, opt Options, cov bool) ([]byte, *Map, error) {
	depth := opt.StackDepth
	if depth == 0 {
		depth = policy.DefaultStackDepth
	}
	if depth > math.MaxInt32 {
		return nil, nil, fmt.Errorf("instrument: stack depth %d exceeds %d", depth, math.MaxInt32)
	}
	maxNesting := opt.MaxNesting
	if maxNesting == 0 {
		maxNesting = DefaultMaxNesting
	}
	maxTable := opt.MaxTableElements
	if maxTable == 0 {
		maxTable = DefaultMaxTableElements
	}
	m, err := wasm.Decode(bin)
	if err != nil {
		return nil, nil, fmt.Errorf("instrument: decode module: %w", err)
	}
	if err := checkSupported(m); err != nil {
		return nil, nil, fmt.Errorf("instrument: %w", err)
	}
	for i, t := range m.Tables {
		if t.Limits.Min > uint64(maxTable) {
			return nil, nil, fmt.Errorf("instrument: %w", &LimitError{What: "table elements", Limit: maxTable, Func: -1, Table: int64(i) + int64(importedTables(m)), Offset: -1})
		}
	}

	lay := &layout{}
	var importedGlobals uint32
	for _, im := range m.Imports {
		switch im.Kind {
		case wasm.ExternFunc:
			lay.importedFuncs++
		case wasm.ExternGlobal:
			importedGlobals++
		}
	}
	lay.fuelFunc = lay.importedFuncs
	lay.stackFunc = lay.importedFuncs + 1
	lay.fuelGlobal = importedGlobals + uint32(len(m.Globals))
	lay.depthGlobal = lay.fuelGlobal + 1
	lay.deniedGlobal = lay.fuelGlobal + 2
	lay.tablesGlobal = lay.fuelGlobal + 3
	lay.memoryGlobal = lay.fuelGlobal + 4
	budget := opt.MemoryBudget
	if budget == 0 || budget > 1<<62 {
		budget = 1 << 62
	}
	// What the defined tables and memories hold once instantiated.
	var tableBytes, memoryBytes uint64
	for _, t := range m.Tables {
		tableBytes += t.Limits.Min << tableElemShift
	}
	for _, mem := range m.Memories {
		memoryBytes += mem.Limits.Min * wasmPageSize
	}
	if uint64(len(m.Functions))+uint64(lay.importedFuncs)+2 > math.MaxUint32 {
		return nil, nil, errors.New("instrument: too many functions")
	}

	// Function bodies first: they read m.Types and may add block types.
	if len(m.Code) != len(m.Functions) {
		return nil, nil, fmt.Errorf("instrument: %d function bodies for %d functions", len(m.Code), len(m.Functions))
	}
	rw := &bodyRewriter{lay: lay, types: m.Types, maxNesting: maxNesting, maxTable: maxTable, budget: budget, limits: limits{
		types:   uint32(len(m.Types)),
		funcs:   lay.importedFuncs + uint32(len(m.Functions)),
		globals: lay.fuelGlobal,
	}}
	// A module that can catch exceptions keeps the counter in the global:
	// frames a throw unwinds could not write a cached counter back.
	rw.cached = !m.Features.Has(wasm.FeatureExceptions)
	if cov {
		// The table and memory globals always exist in coverage mode, so
		// the coverage globals' indices are fixed before any body is
		// rewritten.
		rw.cov = newCoverage(m, lay.fuelGlobal+5)
	}
	if err := checkModuleIndices(m, &rw.limits); err != nil {
		return nil, nil, fmt.Errorf("instrument: %w", err)
	}
	for i := range m.Code {
		rw.fn = lay.importedFuncs + uint32(i)
		if err := instrumentFunc(m, rw, i); err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				le.Func = int64(lay.importedFuncs) + int64(i)
				return nil, nil, fmt.Errorf("instrument: %w", le)
			}
			return nil, nil, fmt.Errorf("instrument: function %d: %w", lay.importedFuncs+uint32(i), err)
		}
	}

	// The imports, globals and exports the host contract names.
	fuelType := typeIndex(m, wasm.FuncType{Params: []wasm.ValType{wasm.I64}, Results: []wasm.ValType{wasm.I64}})
	stackType := typeIndex(m, wasm.FuncType{})
	m.Imports = append(m.Imports,
		wasm.Import{Module: ImportModule, Name: FuelFunc, Kind: wasm.ExternFunc, TypeIndex: fuelType},
		wasm.Import{Module: ImportModule, Name: StackFunc, Kind: wasm.ExternFunc, TypeIndex: stackType},
	)
	m.Globals = append(m.Globals,
		wasm.Global{Type: wasm.GlobalType{Val: wasm.I64, Mutable: true}, Init: constExpr(opI64Const, 0)},
		wasm.Global{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: constExpr(opI32Const, int64(int32(depth)))},
		wasm.Global{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: constExpr(opI32Const, 0)},
	)
	if rw.grows || cov {
		m.Globals = append(m.Globals,
			wasm.Global{Type: wasm.GlobalType{Val: wasm.I64, Mutable: true}, Init: constExpr(opI64Const, int64(min(tableBytes, 1<<62)))},
			wasm.Global{Type: wasm.GlobalType{Val: wasm.I64, Mutable: true}, Init: constExpr(opI64Const, int64(min(memoryBytes, 1<<62)))},
		)
	}

	// Every other reference to a defined function moves up by two.
	for i := range m.Exports {
		if m.Exports[i].Kind == wasm.ExternFunc {
			m.Exports[i].Index = lay.funcIndex(m.Exports[i].Index)
		}
	}
	m.Exports = append(m.Exports,
		wasm.Export{Name: FuelGlobal, Kind: wasm.ExternGlobal, Index: lay.fuelGlobal},
		wasm.Export{Name: DepthGlobal, Kind: wasm.ExternGlobal, Index: lay.depthGlobal},
		wasm.Export{Name: DeniedGlobal, Kind: wasm.ExternGlobal, Index: lay.deniedGlobal},
	)
	if rw.grows {
		m.Exports = append(m.Exports,
			wasm.Export{Name: TablesGlobal, Kind: wasm.ExternGlobal, Index: lay.tablesGlobal},
			wasm.Export{Name: MemoryGlobal, Kind: wasm.ExternGlobal, Index: lay.memoryGlobal},
		)
	}
	if cov {
		rw.cov.addGlobals(m)
	}
	if m.HasStart {
		m.Start = lay.funcIndex(m.Start)
	}
	for i := range m.Globals {
		if m.Globals[i].Init, err = rewriteConstExpr(lay, m.Globals[i].Init); err != nil {
			return nil, nil, fmt.Errorf("instrument: global %d: %w", i, err)
		}
	}
	for i := range m.Tables {
		if t := m.Tables[i].Init; t != nil {
			e, err := rewriteConstExpr(lay, *t)
			if err != nil {
				return nil, nil, fmt.Errorf("instrument: table %d: %w", i, err)
			}
			m.Tables[i].Init = &e
		}
	}
	for i := range m.Elements {
		el := &m.Elements[i]
		funcs := make([]uint32, len(el.Funcs))
		for j, f := range el.Funcs {
			funcs[j] = lay.funcIndex(f)
		}
		el.Funcs = funcs
		exprs := make([]wasm.Expr, len(el.Exprs))
		for j, e := range el.Exprs {
			if exprs[j], err = rewriteConstExpr(lay, e); err != nil {
				return nil, nil, fmt.Errorf("instrument: element segment %d: %w", i, err)
			}
		}
		el.Exprs = exprs
	}
	addReset(m, lay, importedGlobals, stackType)
	rewriteNames(m, lay)

	out, err := wasm.Encode(m)
	if err != nil {
		return nil, nil, fmt.Errorf("instrument: encode module: %w", err)
	}
	if cov {
		return out, &Map{Sites: rw.cov.sites, Cmp32: rw.cov.n32, Cmp64: rw.cov.n64}, nil
	}
	return out, nil, nil
}

// addReset appends ResetFunc, of type () -> () (type index typ), last in
// the function index space: for every mutable defined global (the meter's
// included), its initialiser's constant expression, which is a valid
// function body prefix (global.get reads only immutable globals there),
// then a global.set of it. Call after the initialisers' function indices
// were moved.
func addReset(m *wasm.Module, lay *layout, importedGlobals, typ uint32) {
	var body []byte
	for i, g := range m.Globals {
		if !g.Type.Mutable || len(g.Init.Code) == 0 {
			continue
		}
		body = append(body, g.Init.Code[:len(g.Init.Code)-1]...) // without its end
		body = wasm.AppendU32(append(body, opGlobalSet), importedGlobals+uint32(i))
	}
	body = append(body, opEnd)
	idx := lay.importedFuncs + 2 + uint32(len(m.Functions))
	m.Functions = append(m.Functions, typ)
	m.Code = append(m.Code, wasm.Func{Body: wasm.Expr{Code: body}})
	m.Exports = append(m.Exports, wasm.Export{Name: ResetFunc, Kind: wasm.ExternFunc, Index: idx})
}

// importedTables counts the module's table imports (defined tables come
// after them in the table index space).
func importedTables(m *wasm.Module) int {
	n := 0
	for _, im := range m.Imports {
		if im.Kind == wasm.ExternTable {
			n++
		}
	}
	return n
}

// checkSupported refuses what Instrument cannot meter correctly.
func checkSupported(m *wasm.Module) error {
	if m.Features.Has(wasm.FeatureLegacyExceptions) {
		return errors.New("legacy exception handling (try/catch/delegate) is not supported")
	}
	if m.Features.Has(wasm.FeatureGC) {
		// br_on_cast and br_on_cast_fail are branches the rewriter does
		// not track; wazero does not run GC anyway.
		return errors.New("GC (struct and array types, 0xFB instructions) is not supported")
	}
	for i, mem := range m.Memories {
		if mem.Limits.Is64 {
			return fmt.Errorf("memory %d: 64-bit memories are not supported", i)
		}
	}
	for _, im := range m.Imports {
		if im.Module == ImportModule && (im.Name == FuelFunc || im.Name == StackFunc || im.Kind != wasm.ExternFunc) {
			return fmt.Errorf("import %q %q: %w", im.Module, im.Name, ErrAlreadyMetered)
		}
		if im.Kind == wasm.ExternMemory && im.Memory.Limits.Is64 {
			return fmt.Errorf("import %q %q: 64-bit memories are not supported", im.Module, im.Name)
		}
	}
	for _, ex := range m.Exports {
		if ex.Name == FuelGlobal || ex.Name == DepthGlobal || ex.Name == DeniedGlobal || ex.Name == TablesGlobal || ex.Name == MemoryGlobal || ex.Name == ResetFunc ||
			strings.HasPrefix(ex.Name, coveragePrefix) {
			return fmt.Errorf("export %q: %w", ex.Name, ErrAlreadyMetered)
		}
	}
	return nil
}

// checkModuleIndices refuses a module whose sections use an index outside
// the original index spaces (see limits).
func checkModuleIndices(m *wasm.Module, lim *limits) error {
	for i, t := range m.Types {
		for _, v := range append(append([]wasm.ValType(nil), t.Params...), t.Results...) {
			if err := lim.checkValType(v); err != nil {
				return fmt.Errorf("type %d: %w", i, err)
			}
		}
	}
	for _, im := range m.Imports {
		var err error
		switch im.Kind {
		case wasm.ExternFunc:
			if im.TypeIndex >= lim.types {
				err = fmt.Errorf("unknown type %d", im.TypeIndex)
			}
		case wasm.ExternGlobal:
			err = lim.checkValType(im.Global.Val)
		case wasm.ExternTable:
			err = lim.checkValType(im.Table.Elem)
		case wasm.ExternTag:
			if im.TypeIndex >= lim.types || im.Tag.Type >= lim.types {
				err = fmt.Errorf("unknown type %d", max(im.TypeIndex, im.Tag.Type))
			}
		}
		if err != nil {
			return fmt.Errorf("import %q %q: %w", im.Module, im.Name, err)
		}
	}
	for i, tag := range m.Tags {
		if tag.Type >= lim.types {
			return fmt.Errorf("tag %d: unknown type %d", i, tag.Type)
		}
	}
	for i, ti := range m.Functions {
		if ti >= lim.types {
			return fmt.Errorf("function %d: unknown type %d", i, ti)
		}
	}
	for i, t := range m.Tables {
		if err := lim.checkValType(t.Elem); err != nil {
			return fmt.Errorf("table %d: %w", i, err)
		}
		if t.Init != nil {
			if err := lim.checkConstExpr(*t.Init); err != nil {
				return fmt.Errorf("table %d: %w", i, err)
			}
		}
	}
	for i, g := range m.Globals {
		if err := lim.checkValType(g.Type.Val); err != nil {
			return fmt.Errorf("global %d: %w", i, err)
		}
		if err := lim.checkConstExpr(g.Init); err != nil {
			return fmt.Errorf("global %d: %w", i, err)
		}
	}
	for _, ex := range m.Exports {
		if (ex.Kind == wasm.ExternFunc && ex.Index >= lim.funcs) || (ex.Kind == wasm.ExternGlobal && ex.Index >= lim.globals) {
			return fmt.Errorf("export %q: unknown %s %d", ex.Name, ex.Kind, ex.Index)
		}
	}
	if m.HasStart && m.Start >= lim.funcs {
		return fmt.Errorf("start: unknown function %d", m.Start)
	}
	for i, el := range m.Elements {
		if err := lim.checkValType(el.Type); err != nil {
			return fmt.Errorf("element segment %d: %w", i, err)
		}
		for _, f := range el.Funcs {
			if f >= lim.funcs {
				return fmt.Errorf("element segment %d: unknown function %d", i, f)
			}
		}
		exprs := el.Exprs
		if el.Mode == wasm.ModeActive {
			exprs = append([]wasm.Expr{el.Offset}, exprs...)
		}
		for _, e := range exprs {
			if err := lim.checkConstExpr(e); err != nil {
				return fmt.Errorf("element segment %d: %w", i, err)
			}
		}
	}
	for i, d := range m.Data {
		if d.Mode == wasm.ModeActive {
			if err := lim.checkConstExpr(d.Offset); err != nil {
				return fmt.Errorf("data segment %d: %w", i, err)
			}
		}
	}
	return nil
}

// checkConstExpr checks the global and function indices of a constant
// expression.
func (lim *limits) checkConstExpr(e wasm.Expr) error {
	ir := e.Instrs()
	var in wasm.Instr
	for ir.Next(&in) {
		switch in.Op {
		case wasm.OpGlobalGet:
			if in.Index >= lim.globals {
				return fmt.Errorf("unknown global %d", in.Index)
			}
		case wasm.OpRefFunc:
			if in.Index >= lim.funcs {
				return fmt.Errorf("unknown function %d", in.Index)
			}
		case wasm.OpRefNull:
			if in.Heap >= 0 && uint64(in.Heap) >= uint64(lim.types) {
				return fmt.Errorf("unknown type %d", in.Heap)
			}
		}
	}
	return ir.Err()
}

// instrumentFunc rewrites the body of defined function i in place.
func instrumentFunc(m *wasm.Module, rw *bodyRewriter, i int) error {
	ti := m.Functions[i]
	if int(ti) >= len(m.Types) {
		return fmt.Errorf("type index %d out of range", ti)
	}
	ft := m.Types[ti]
	f := &m.Code[i]
	rw.limits.locals = uint64(len(ft.Params))
	for _, l := range f.Locals {
		rw.limits.locals += uint64(l.Count)
		if err := rw.limits.checkValType(l.Type); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	}
	hasBulk, err := rw.analyze(f.Body.Code, f.Body.Offset)
	if err != nil {
		return err
	}
	// Scratch locals go after the existing ones, so no index moves.
	next := uint64(len(ft.Params))
	for _, l := range f.Locals {
		next += uint64(l.Count)
	}
	if next+3 > math.MaxUint32 {
		return errors.New("too many locals")
	}
	s := scratch{fuel: uint32(next), depth: uint32(next + 1), n: uint32(next + 2)}
	locals := make([]wasm.LocalDecl, 0, len(f.Locals)+3)
	locals = append(locals, f.Locals...)
	locals = append(locals, wasm.LocalDecl{Count: 1, Type: wasm.I64}, wasm.LocalDecl{Count: 1, Type: wasm.I32})
	if hasBulk {
		locals = append(locals, wasm.LocalDecl{Count: 1, Type: wasm.I32})
	}
	wrapper := blockTypeFor(m, ft.Results)
	code := rw.emit(make([]byte, 0, len(f.Body.Code)*2+64), f.Body.Code, f.Body.Offset, wrapper, s)
	f.Locals = locals
	f.Body = wasm.Expr{Code: code, Offset: f.Body.Offset}
	return nil
}

// blockTypeFor encodes a block type with no parameters and the given
// results, adding a function type when more than one result needs it.
func blockTypeFor(m *wasm.Module, results []wasm.ValType) []byte {
	switch len(results) {
	case 0:
		return []byte{blockEmpty}
	case 1:
		return wasm.AppendValType(nil, results[0])
	}
	idx := typeIndex(m, wasm.FuncType{Results: results})
	return wasm.AppendS64(nil, int64(idx))
}

// typeIndex returns the index of a function type equal to ft, appending one
// if there is none. Only plain function types outside multi-type rec groups
// count: a subtype or a rec group member is a different type (GC's
// iso-recursive equivalence), and a struct or array type is no function
// type at all.
func typeIndex(m *wasm.Module, ft wasm.FuncType) uint32 {
	inGroup := make(map[int]bool)
	for _, g := range m.RecGroups {
		if g.Count > 1 {
			for i := g.First; i < g.First+g.Count; i++ {
				inGroup[int(i)] = true
			}
		}
	}
	for i, t := range m.Types {
		if t.IsPlainFunc() && !inGroup[i] && slices.Equal(t.Params, ft.Params) && slices.Equal(t.Results, ft.Results) {
			return uint32(i)
		}
	}
	m.Types = append(m.Types, ft)
	return uint32(len(m.Types) - 1)
}

// constExpr is the constant expression `op v end` (op i32.const/i64.const).
func constExpr(op byte, v int64) wasm.Expr {
	return wasm.Expr{Code: append(wasm.AppendS64([]byte{op}, v), opEnd)}
}

// rewriteConstExpr moves the function indices of ref.func in e.
func rewriteConstExpr(lay *layout, e wasm.Expr) (wasm.Expr, error) {
	code, err := wasm.RemapFuncs(make([]byte, 0, len(e.Code)+4), e, lay.funcIndex)
	if err != nil {
		return e, err
	}
	return wasm.Expr{Code: code, Offset: e.Offset}, nil
}

// rewriteNames moves function indices in the name section and names the two
// imports. The labels subsection (3) is dropped: the wrapper block renumbers
// labels. A name section that did not decode is dropped: its indices
// cannot be moved, and names are not needed to run.
func rewriteNames(m *wasm.Module, lay *layout) {
	if m.Names == nil {
		secs := m.Sections[:0:0]
		for _, s := range m.Sections {
			if s.ID == wasm.SectionCustom && s.Name == "name" {
				continue
			}
			secs = append(secs, s)
		}
		m.Sections = secs
		return
	}
	n := m.Names
	funcs := make([]wasm.NameAssoc, 0, len(n.Functions)+2)
	added := false
	addImports := func() {
		if !added {
			funcs = append(funcs,
				wasm.NameAssoc{Index: lay.fuelFunc, Name: ImportModule + "." + FuelFunc},
				wasm.NameAssoc{Index: lay.stackFunc, Name: ImportModule + "." + StackFunc})
			added = true
		}
	}
	for _, a := range n.Functions {
		if a.Index >= lay.importedFuncs {
			addImports()
		}
		funcs = append(funcs, wasm.NameAssoc{Index: lay.funcIndex(a.Index), Name: a.Name})
	}
	addImports()
	n.Functions = funcs
	locals := make([]wasm.IndirectNames, len(n.Locals))
	for i, l := range n.Locals {
		locals[i] = wasm.IndirectNames{Index: lay.funcIndex(l.Index), Names: l.Names}
	}
	n.Locals = locals
	other := n.Other[:0:0]
	for _, s := range n.Other {
		if s.ID != 3 {
			other = append(other, s)
		}
	}
	n.Other = other
}

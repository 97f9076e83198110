package scan

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"

	"github.com/wasmward/wasmward/internal/engine"
	"github.com/wasmward/wasmward/internal/wasm"
)

// The rules about what the runtime can execute: WW003 (a proposal `run`
// does not execute), WW004 (a component), and --validate (WW002).

// unsupported reports the proposals the module uses that `run` does not
// execute (WW003), at the first place one is used. It returns what wazero
// cannot compile at all, so validation is skipped for those.
func (s *scanner) unsupported() wasm.Features {
	u := engine.Check(s.m.Features)
	if !u.Any() {
		return 0
	}
	all := u.NotCompiled | u.NotEnabled
	loc := s.featureLocation(all)
	msg := fmt.Sprintf("The module uses %s: `wasmward run` refuses it. It is not malformed.", u)
	if u.NotCompiled != 0 && s.opts.Validate {
		msg += fmt.Sprintf(" --validate did not compile it: %s cannot.", engine.Name)
	}
	s.add(RuleUnsupported, Medium, loc, "%s", msg)
	return u.NotCompiled
}

// featureLocation finds the first use of a proposal in f: a memory or
// table declaration, a type definition, or an instruction.
func (s *scanner) featureLocation(f wasm.Features) Location {
	m := s.m
	loc := Location{Offset: -1, Function: -1}
	memories := 0
	limitsUse := func(l wasm.Limits) bool {
		memories++
		return f.Has(wasm.FeatureMemory64) && l.Is64 || f.Has(wasm.FeatureThreads) && l.Shared ||
			f.Has(wasm.FeatureMultiMemory) && memories > 1
	}
	for _, im := range m.Imports {
		if im.Kind == wasm.ExternMemory && limitsUse(im.Memory.Limits) ||
			im.Kind == wasm.ExternTable && f.Has(wasm.FeatureMemory64) && im.Table.Limits.Is64 {
			return Location{Section: "import", Offset: im.Offset, Function: -1}
		}
	}
	if f.Has(wasm.FeatureGC) {
		for _, t := range m.Types {
			if t.Kind != wasm.TypeFunc || t.Sub {
				return Location{Section: "type", Offset: s.sectionOffset(wasm.SectionType), Function: -1}
			}
		}
	}
	for _, t := range m.Tables {
		if f.Has(wasm.FeatureMemory64) && t.Limits.Is64 {
			return Location{Section: "table", Offset: s.sectionOffset(wasm.SectionTable), Function: -1}
		}
	}
	for _, mem := range m.Memories {
		if limitsUse(mem.Limits) {
			return Location{Section: "memory", Offset: s.sectionOffset(wasm.SectionMemory), Function: -1}
		}
	}
	var ir wasm.InstrReader
	var in wasm.Instr
	for i := range m.Code {
		body := m.Code[i].Body
		ir.Reset(body)
		for ir.Next(&in) {
			if in.Op.Feature()&f != 0 {
				idx := uint32(s.nImpFunc + i)
				return s.funcLoc("code", body.Offset+in.Start, idx)
			}
		}
	}
	return loc
}

// validate compiles the module with wazero's interpreter, with every
// proposal wazero implements (engine.CoreFeatures), so only real
// rejections remain: WW002.
func (s *scanner) validate(ctx context.Context) {
	cfg := wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(engine.CoreFeatures).WithMemoryLimitPages(65536)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, s.bin)
	if err != nil {
		s.add(RuleValidate, Critical, Location{Offset: -1, Function: -1}, "wazero rejects the module: %v.", err)
		return
	}
	cm.Close(ctx)
}

// component describes a component binary (WW004), and reports as WW001 a
// component that does not decode or a core module inside it that does not.
func (s *scanner) component() {
	c, err := wasm.DecodeComponent(s.bin)
	if err != nil {
		s.decodeFailed("component", err)
		return
	}
	mods := c.AllModules()
	var b strings.Builder
	fmt.Fprintf(&b, "The binary is a WebAssembly component (component model), not a core module: `wasmward run` does not run components yet. It holds %d core module(s)", len(mods))
	if n := countComponents(c); n > 0 {
		fmt.Fprintf(&b, " and %d nested component(s)", n)
	}
	fmt.Fprintf(&b, "; imports: %s; exports: %s.", externList(c.Imports), externList(c.Exports))
	s.add(RuleComponent, Medium, Location{Offset: 0, Function: -1}, "%s", b.String())
	for i, cm := range mods {
		if cm.Err != nil {
			s.decodeFailed(fmt.Sprintf("core module %d of the component", i), cm.Err)
		}
	}
}

func countComponents(c *wasm.Component) int {
	n := len(c.Components)
	for _, nc := range c.Components {
		n += countComponents(nc.Component)
	}
	return n
}

func externList(es []wasm.ComponentExtern) string {
	if len(es) == 0 {
		return "none"
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%s %q", e.Kind, e.Name)
	}
	return strings.Join(parts, ", ")
}

// decodeFailed reports err, a decoding error of what (the module, the
// component, one of its core modules), as WW001 at its offset.
func (s *scanner) decodeFailed(what string, err error) {
	loc := Location{Offset: -1, Function: -1}
	var we *wasm.Error
	if errors.As(err, &we) {
		loc.Offset = we.Offset
		loc.Section, _, _ = strings.Cut(we.Where, " section")
	}
	if errors.Is(err, wasm.ErrDecodeBudget) {
		s.add(RuleDecode, Critical, loc, "The %s was not decoded: %v. No real module comes near this budget: the bytes are shaped to exhaust the memory of whatever decodes them.", what, err)
		return
	}
	s.add(RuleDecode, Critical, loc, "The %s does not decode: %v.", what, err)
}

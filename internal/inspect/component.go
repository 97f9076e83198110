package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/internal/wasm"
)

// ComponentReport describes a component binary (component model, layer 1):
// its sections, imports and exports, and every core module it holds
// (nested components' included). It is plain data, marshalled as is for
// `wasmward inspect --json`; Kind is always "component", which tells it
// from a module's Report.
type ComponentReport struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Size int    `json:"size"`
	// Note says what wasmward does with it.
	Note       string            `json:"note"`
	Sections   []Section         `json:"sections"`
	Imports    []ComponentExtern `json:"imports"`
	Exports    []ComponentExtern `json:"exports"`
	Modules    []CoreModule      `json:"coreModules"`
	Components int               `json:"nestedComponents"`
}

// ComponentExtern is one import or export of the component.
type ComponentExtern struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Offset int    `json:"offset"`
}

// CoreModule summarises one core module inside a component.
type CoreModule struct {
	Index  int `json:"index"`
	Offset int `json:"offset"`
	Size   int `json:"size"`
	// Nested is true for a module of a nested component.
	Nested    bool     `json:"nested"`
	Imports   []string `json:"imports"` // "module.name"
	Exports   []string `json:"exports"`
	Functions int      `json:"functions"` // defined functions
	Features  []string `json:"features"`
	// Error says why the module does not decode ("" when it does).
	Error string `json:"error,omitempty"`
}

// ComponentNote is ComponentReport.Note.
const ComponentNote = "a WebAssembly component: wasmward run does not run components yet"

// InspectComponent describes c, decoded from bin by wasm.DecodeComponent.
func InspectComponent(name string, bin []byte, c *wasm.Component) *ComponentReport {
	r := &ComponentReport{Name: name, Kind: "component", Size: len(bin), Note: ComponentNote,
		Sections: []Section{}, Imports: []ComponentExtern{}, Exports: []ComponentExtern{}, Modules: []CoreModule{}}
	for _, s := range c.Sections {
		sec := Section{ID: wasm.ComponentSectionName(s.ID), Offset: s.Offset, Size: len(s.Raw)}
		if s.ID == wasm.SectionCustom {
			sec.Name = s.Name
		}
		r.Sections = append(r.Sections, sec)
	}
	for _, e := range c.Imports {
		r.Imports = append(r.Imports, ComponentExtern(e))
	}
	for _, e := range c.Exports {
		r.Exports = append(r.Exports, ComponentExtern(e))
	}
	add := func(mods []wasm.ComponentModule, nested bool) {
		for _, cm := range mods {
			m := CoreModule{Index: len(r.Modules), Offset: cm.Offset, Size: cm.Size, Nested: nested,
				Imports: []string{}, Exports: []string{}, Features: []string{}}
			if cm.Err != nil {
				m.Error = cm.Err.Error()
			} else {
				for _, im := range cm.Module.Imports {
					m.Imports = append(m.Imports, im.Module+"."+im.Name)
				}
				for _, ex := range cm.Module.Exports {
					m.Exports = append(m.Exports, ex.Name)
				}
				m.Functions = len(cm.Module.Functions)
				if f := cm.Module.Features.Names(); f != nil {
					m.Features = f
				}
			}
			r.Modules = append(r.Modules, m)
		}
	}
	add(c.Modules, false)
	var nested func(c *wasm.Component)
	nested = func(c *wasm.Component) {
		for _, n := range c.Components {
			r.Components++
			add(n.Modules, true)
			nested(n.Component)
		}
	}
	nested(c)
	return r
}

// WriteText writes the report for people; every string from the binary is
// escaped (no control byte reaches the terminal).
func (r *ComponentReport) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = safetext.Escape(s)
			}
		}
		fmt.Fprintf(b, format, args...)
	}
	p("component %s: %d bytes (%s)\n", r.Name, r.Size, r.Note)
	p("\nsections:\n")
	p("  %-14s %10s %10s  %s\n", "id", "offset", "size", "name")
	for _, s := range r.Sections {
		p("  %-14s %#10x %10d  %s\n", s.ID, s.Offset, s.Size, s.Name)
	}
	p("\nimports (%d):\n", len(r.Imports))
	for _, e := range r.Imports {
		p("  %-9s %s\n", e.Kind, e.Name)
	}
	p("\nexports (%d):\n", len(r.Exports))
	for _, e := range r.Exports {
		p("  %-9s %s\n", e.Kind, e.Name)
	}
	p("\ncore modules (%d, %d nested components):\n", len(r.Modules), r.Components)
	for _, m := range r.Modules {
		where := ""
		if m.Nested {
			where = ", in a nested component"
		}
		p("  %d: %d bytes at %#x%s\n", m.Index, m.Size, m.Offset, where)
		if m.Error != "" {
			p("     does not decode: %s\n", m.Error)
			continue
		}
		p("     %d functions; imports: %s; exports: %s; features: %s\n", m.Functions, list(m.Imports), list(m.Exports), list(m.Features))
	}
	return b.Flush()
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

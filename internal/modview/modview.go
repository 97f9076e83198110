// Package modview presents a module decoded by internal/wasm as the
// sbom.Decoded interface (whose methods use only standard types), so that
// sbom's public API takes no internal type and scan, which has already
// decoded the module, does not decode it a second time.
package modview

import "github.com/wasmward/wasmward/internal/wasm"

// View is a decoded module seen through sbom.Decoded's methods.
type View struct{ m *wasm.Module }

// Of returns the view of m; m must not be modified while the view is used.
func Of(m *wasm.Module) View { return View{m} }

// EachProducer calls fn for each entry of the producers section.
func (v View) EachProducer(fn func(field, name, version string)) {
	if v.m.Producers == nil {
		return
	}
	for _, f := range v.m.Producers.Fields {
		for _, p := range f.Values {
			fn(f.Name, p.Name, p.Version)
		}
	}
}

// EachCustom calls fn for each custom section in module order: its name,
// the offset of the section (its ID byte), the offset of its content
// (after the name) and the content.
func (v View) EachCustom(fn func(name string, sectionOffset, contentOffset int, content []byte)) {
	for _, s := range v.m.Sections {
		if s.ID == wasm.SectionCustom {
			fn(s.Name, s.Offset, s.DataOffset, s.Data)
		}
	}
}

// EachData calls fn for each data segment: the offset of its bytes in the
// module and the bytes.
func (v View) EachData(fn func(offset int, init []byte)) {
	for _, d := range v.m.Data {
		fn(d.InitOffset, d.Init)
	}
}

// EachImport calls fn for each import's module and name.
func (v View) EachImport(fn func(module, name string)) {
	for _, im := range v.m.Imports {
		fn(im.Module, im.Name)
	}
}

// EachExport calls fn for each export's name.
func (v View) EachExport(fn func(name string)) {
	for _, e := range v.m.Exports {
		fn(e.Name)
	}
}

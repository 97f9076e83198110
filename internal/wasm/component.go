package wasm

import "errors"

// Component section IDs (component model binary format, layer 1). ID 0 is
// custom, as in core modules.
const (
	CompSectionCoreModule   SectionID = 1
	CompSectionCoreInstance SectionID = 2
	CompSectionCoreType     SectionID = 3
	CompSectionComponent    SectionID = 4
	CompSectionInstance     SectionID = 5
	CompSectionAlias        SectionID = 6
	CompSectionType         SectionID = 7
	CompSectionCanon        SectionID = 8
	CompSectionStart        SectionID = 9
	CompSectionImport       SectionID = 10
	CompSectionExport       SectionID = 11
	CompSectionValue        SectionID = 12
)

// maxComponentNesting bounds how deep components may nest inside each
// other, so a hostile binary cannot drive DecodeComponent's recursion
// arbitrarily deep.
const maxComponentNesting = 64

// Component is what DecodeComponent reads of a component: its sections,
// its imports and exports, and its core modules, each decoded with Decode.
// Types, instances, aliases and canonical functions are split into sections
// but not decoded.
type Component struct {
	// Sections lists every section in file order, with raw bytes and
	// component section IDs.
	Sections []Section
	Imports  []ComponentExtern
	Exports  []ComponentExtern
	// Modules are the core modules of this component, in file order.
	Modules []ComponentModule
	// Components are the nested components, in file order.
	Components []*NestedComponent
}

// NestedComponent is a component defined inside another (section 4).
type NestedComponent struct {
	// Offset is the offset of its header in the outermost input.
	Offset int
	*Component
}

// ComponentModule is a core module embedded in a component.
type ComponentModule struct {
	// Offset and Size locate the module's bytes (header included) in the
	// outermost input.
	Offset, Size int
	// Module is the decoded module (its offsets are relative to Offset),
	// nil when it does not decode; Err then says why, with the offset in
	// the outermost input.
	Module *Module
	Err    error
}

// ComponentExtern is one import or export of a component.
type ComponentExtern struct {
	Name string
	// Kind is what is imported or exported: "func", "instance",
	// "component", "type", "value", "module" (a core module), or for
	// exports of core items "core func" and so on.
	Kind string
	// Offset is the offset of the entry in the outermost input.
	Offset int
}

// AllModules returns the core modules of c and of every nested component,
// depth first in file order.
func (c *Component) AllModules() []ComponentModule {
	out := append([]ComponentModule(nil), c.Modules...)
	for _, n := range c.Components {
		out = append(out, n.AllModules()...)
	}
	return out
}

// DecodeComponent decodes the component bin: the framing of every section,
// the import and export sections in full, and each core module with Decode
// (a module that does not decode is recorded in its ComponentModule, not
// returned as an error). Nested components are decoded the same way. The
// error, for a malformed component or a core module binary, is an *Error
// with the offset in bin; a core module yields one wrapping ErrNotComponent.
func DecodeComponent(bin []byte) (*Component, error) {
	k, err := checkHeader(bin)
	if err != nil {
		return nil, err
	}
	if k != KindComponent {
		return nil, errAt(4, "header", ErrNotComponent)
	}
	return decodeComponent(bin, 0, 0)
}

// ErrNotComponent means DecodeComponent was given a core module.
var ErrNotComponent = errors.New("a core module, not a component")

func decodeComponent(bin []byte, base, depth int) (*Component, error) {
	if depth > maxComponentNesting {
		return nil, errfAt(base, "component", "components nested deeper than %d", maxComponentNesting)
	}
	if _, err := checkHeader(bin); err != nil {
		var we *Error
		if errors.As(err, &we) {
			we.Offset += base
		}
		return nil, err
	}
	c := &Component{}
	r := reader{buf: bin, pos: HeaderSize, base: base}
	for !r.eof() {
		s, err := nextSection(&r)
		if err != nil {
			return nil, err
		}
		c.Sections = append(c.Sections, s)
		where := ComponentSectionName(s.ID) + " section"
		sr := reader{buf: s.Payload, base: s.PayloadOffset}
		switch s.ID {
		case CompSectionCoreModule:
			cm := ComponentModule{Offset: s.PayloadOffset, Size: len(s.Payload)}
			if KindOf(s.Payload) != KindModule {
				return nil, errfAt(s.PayloadOffset, where, "not a core module")
			}
			cm.Module, cm.Err = Decode(s.Payload)
			var we *Error
			if errors.As(cm.Err, &we) {
				we.Offset += s.PayloadOffset
			}
			c.Modules = append(c.Modules, cm)
			continue
		case CompSectionComponent:
			if KindOf(s.Payload) != KindComponent {
				return nil, errfAt(s.PayloadOffset, where, "not a component")
			}
			n, err := decodeComponent(s.Payload, s.PayloadOffset, depth+1)
			if err != nil {
				return nil, err
			}
			c.Components = append(c.Components, &NestedComponent{Offset: s.PayloadOffset, Component: n})
			continue
		case CompSectionImport, CompSectionExport:
			// A component may have several import and export sections
			// (wasm-tools writes one after each run of type definitions).
			var es []ComponentExtern
			if es, err = componentExterns(&sr, where, s.ID == CompSectionExport); s.ID == CompSectionExport {
				c.Exports = append(c.Exports, es...)
			} else {
				c.Imports = append(c.Imports, es...)
			}
		default:
			if s.ID > CompSectionValue {
				return nil, errfAt(s.Offset, "section", "unknown component section id %d", s.ID)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if !sr.eof() {
			return nil, errfAt(sr.off(), where, "%d bytes left after the section's content", sr.remaining())
		}
	}
	return c, nil
}

// ComponentSectionName names a component section ID ("core module",
// "import", ...), or "unknown".
func ComponentSectionName(id SectionID) string {
	names := [...]string{"custom", "core module", "core instance", "core type", "component", "instance",
		"alias", "type", "canon", "start", "import", "export", "value"}
	if int(id) < len(names) {
		return names[id]
	}
	return "unknown"
}

// componentExterns reads an import or export section. Both start with a
// name (importname'/exportname'); an import then has an externdesc, an
// export a sortidx and an optional externdesc.
func componentExterns(r *reader, where string, export bool) ([]ComponentExtern, error) {
	// An entry is at least a name prefix, an empty name and two bytes.
	n, err := count(r, where, 4)
	if err != nil {
		return nil, err
	}
	out := make([]ComponentExtern, n)
	for i := range out {
		e := &out[i]
		e.Offset = r.off()
		if e.Name, err = externName(r, where); err != nil {
			return nil, err
		}
		if !export {
			if e.Kind, err = externDesc(r, where); err != nil {
				return nil, err
			}
			continue
		}
		if e.Kind, err = sortIdx(r, where); err != nil {
			return nil, err
		}
		start := r.off()
		opt, err := r.byte(where)
		if err != nil {
			return nil, err
		}
		switch opt {
		case 0:
		case 1:
			if _, err := externDesc(r, where); err != nil {
				return nil, err
			}
		default:
			return nil, errfAt(start, where, "invalid optional type ascription 0x%02x", opt)
		}
	}
	return out, nil
}

// externName reads an importname'/exportname': 0x00 name (plain), 0x01 name
// versionsuffix, or 0x02 name vec(attribute), each attribute a tag byte
// and a name (the encodings wasm-tools has written over time).
func externName(r *reader, where string) (string, error) {
	start := r.off()
	tag, err := r.byte(where)
	if err != nil {
		return "", err
	}
	name, err := r.name(where)
	if err != nil {
		return "", err
	}
	switch tag {
	case 0:
	case 1:
		if _, err := r.nameBytes(where); err != nil {
			return "", err
		}
	case 2:
		n, err := count(r, where, 2)
		if err != nil {
			return "", err
		}
		for range n {
			as := r.off()
			a, err := r.byte(where)
			if err != nil {
				return "", err
			}
			if a > 2 {
				return "", errfAt(as, where, "unknown name attribute 0x%02x", a)
			}
			if _, err := r.nameBytes(where); err != nil {
				return "", err
			}
		}
	default:
		return "", errfAt(start, where, "unknown name encoding 0x%02x", tag)
	}
	return name, nil
}

// externDesc reads an externdesc and returns its kind.
func externDesc(r *reader, where string) (string, error) {
	start := r.off()
	k, err := r.byte(where)
	if err != nil {
		return "", err
	}
	var kind string
	switch k {
	case 0x00:
		s, err := r.byte(where)
		if err != nil {
			return "", err
		}
		if s != 0x11 {
			return "", errfAt(start, where, "core extern 0x%02x, want a module (0x11)", s)
		}
		kind = "module"
	case 0x01:
		kind = "func"
	case 0x02:
		// valuebound: 0x00 valueidx | 0x01 valtype (an s33).
		b, err := r.byte(where)
		if err != nil {
			return "", err
		}
		switch b {
		case 0:
			_, err = r.u32(where)
		case 1:
			_, err = r.s33(where)
		default:
			return "", errfAt(r.off()-1, where, "invalid value bound 0x%02x", b)
		}
		return "value", err
	case 0x03:
		// typebound: 0x00 typeidx (eq) | 0x01 (sub resource).
		b, err := r.byte(where)
		if err != nil {
			return "", err
		}
		switch b {
		case 0:
			_, err = r.u32(where)
		case 1:
		default:
			return "", errfAt(r.off()-1, where, "invalid type bound 0x%02x", b)
		}
		return "type", err
	case 0x04:
		kind = "component"
	case 0x05:
		kind = "instance"
	default:
		return "", errfAt(start, where, "unknown extern kind 0x%02x", k)
	}
	_, err = r.u32(where)
	return kind, err
}

// sortIdx reads a sortidx and returns the sort's name.
func sortIdx(r *reader, where string) (string, error) {
	start := r.off()
	s, err := r.byte(where)
	if err != nil {
		return "", err
	}
	var kind string
	switch s {
	case 0x00:
		cs, err := r.byte(where)
		if err != nil {
			return "", err
		}
		core := map[byte]string{0x00: "core func", 0x01: "core table", 0x02: "core memory", 0x03: "core global",
			0x04: "core tag", 0x10: "core type", 0x11: "module", 0x12: "core instance"}[cs]
		if core == "" {
			return "", errfAt(start+1, where, "unknown core sort 0x%02x", cs)
		}
		kind = core
	case 0x01:
		kind = "func"
	case 0x02:
		kind = "value"
	case 0x03:
		kind = "type"
	case 0x04:
		kind = "component"
	case 0x05:
		kind = "instance"
	default:
		return "", errfAt(start, where, "unknown sort 0x%02x", s)
	}
	_, err = r.u32(where)
	return kind, err
}

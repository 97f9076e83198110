// Package inspect describes a decoded WebAssembly module for people and
// tools: its sections with offsets and sizes, imports grouped by module,
// exports, memories, tables, globals, start function, data segments, custom
// sections, the producers section, the proposals it uses, and a size profile
// of its largest functions (what twiggy's "top" shows), named from the name
// section when there is one.
package inspect

import (
	"sort"

	"github.com/wasmward/wasmward/internal/wasm"
)

// Report is the description of one module. It is plain data, marshalled as
// is for `wasmward inspect --json`.
type Report struct {
	Name      string        `json:"name"`
	Size      int           `json:"size"`
	Sections  []Section     `json:"sections"`
	Imports   []ImportGroup `json:"imports"`
	Exports   []Export      `json:"exports"`
	Memories  []Memory      `json:"memories"`
	Tables    []Table       `json:"tables"`
	Types     TypeCounts    `json:"types"`
	Globals   []Global      `json:"globals"`
	Start     *Func         `json:"start,omitempty"`
	Functions struct {
		Imported int `json:"imported"`
		Defined  int `json:"defined"`
		// CodeBytes is the total size of the function bodies.
		CodeBytes int `json:"codeBytes"`
	} `json:"functions"`
	Data struct {
		Segments int           `json:"segments"`
		Bytes    int           `json:"bytes"`
		List     []DataSegment `json:"list"`
	} `json:"data"`
	Custom    []Custom   `json:"custom"`
	Producers []Producer `json:"producers"`
	Features  []string   `json:"features"`
	// Largest are the largest function bodies, biggest first.
	Largest []FuncSize `json:"largest"`
	// NamesError says why a present name section did not decode.
	NamesError string `json:"namesError,omitempty"`
}

// Section is one section as in the file.
type Section struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"` // custom sections only
	Offset int    `json:"offset"`
	Size   int    `json:"size"` // whole section: id byte, size and payload
	Count  int    `json:"count,omitempty"`
}

// ImportGroup holds the imports from one module name, in file order.
type ImportGroup struct {
	Module string   `json:"module"`
	Items  []Import `json:"items"`
}

// Import is one import.
type Import struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Type describes it: a signature for functions, limits for memories
	// and tables, the value type for globals.
	Type   string `json:"type"`
	Offset int    `json:"offset"`
}

// Export is one export.
type Export struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Index uint32 `json:"index"`
	// Target is the function's name from the name section, if any.
	Target string `json:"target,omitempty"`
}

// Memory is one memory, imported or defined; sizes are in 64 KiB pages.
type Memory struct {
	Index    int     `json:"index"`
	Imported bool    `json:"imported"`
	Min      uint64  `json:"min"`
	Max      *uint64 `json:"max,omitempty"`
	Shared   bool    `json:"shared"`
	Memory64 bool    `json:"memory64"`
}

// Table is one table.
type Table struct {
	Index    int     `json:"index"`
	Imported bool    `json:"imported"`
	Elem     string  `json:"elem"`
	Min      uint64  `json:"min"`
	Max      *uint64 `json:"max,omitempty"`
	// IndexType is "i64" for a 64-bit table (memory64), else "i32".
	IndexType string `json:"indexType"`
}

// TypeCounts counts the type section's entries by kind (struct and array
// types come with GC) and its recursive groups.
type TypeCounts struct {
	Func      int `json:"func"`
	Struct    int `json:"struct"`
	Array     int `json:"array"`
	RecGroups int `json:"recGroups"`
	// Subtypes counts entries declared with supertypes or open to subtyping.
	Subtypes int `json:"subtypes"`
}

// Global is one global.
type Global struct {
	Index    int    `json:"index"`
	Imported bool   `json:"imported"`
	Type     string `json:"type"`
	Mutable  bool   `json:"mutable"`
}

// Func names a function.
type Func struct {
	Index uint32 `json:"index"`
	Name  string `json:"name,omitempty"`
}

// DataSegment is one data segment.
type DataSegment struct {
	Index  int    `json:"index"`
	Mode   string `json:"mode"` // "active" or "passive"
	Memory uint32 `json:"memory"`
	Offset int    `json:"offset"` // of its bytes in the file
	Size   int    `json:"size"`
}

// Custom is one custom section.
type Custom struct {
	Name   string `json:"name"`
	Offset int    `json:"offset"`
	Size   int    `json:"size"` // content after the name
}

// Producer is one producers-section entry.
type Producer struct {
	Field   string `json:"field"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// FuncSize is one line of the size profile.
type FuncSize struct {
	Func
	Offset int `json:"offset"`
	// Size is the code-section entry: size prefix, locals and body.
	Size    int     `json:"size"`
	Percent float64 `json:"percent"` // of the whole module
}

// DefaultTop is how many functions the size profile lists by default.
const DefaultTop = 10

// Inspect describes m, decoded from bin by wasm.Decode. top bounds the size
// profile (DefaultTop when <= 0).
func Inspect(name string, bin []byte, m *wasm.Module, top int) *Report {
	if top <= 0 {
		top = DefaultTop
	}
	names := FuncNames(m)
	r := &Report{Name: name, Size: len(bin), Sections: []Section{}, Imports: []ImportGroup{}, Exports: []Export{},
		Memories: []Memory{}, Tables: []Table{}, Globals: []Global{}, Custom: []Custom{}, Producers: []Producer{},
		Features: m.Features.Names(), Largest: []FuncSize{}}
	for i := range m.Types {
		switch m.Types[i].Kind {
		case wasm.TypeStruct:
			r.Types.Struct++
		case wasm.TypeArray:
			r.Types.Array++
		default:
			r.Types.Func++
		}
		if m.Types[i].Sub {
			r.Types.Subtypes++
		}
	}
	r.Types.RecGroups = len(m.RecGroups)
	if r.Features == nil {
		r.Features = []string{}
	}
	if m.NamesErr != nil {
		r.NamesError = m.NamesErr.Error()
	}
	counts := map[wasm.SectionID]int{
		wasm.SectionType: len(m.Types), wasm.SectionImport: len(m.Imports), wasm.SectionFunction: len(m.Functions),
		wasm.SectionTable: len(m.Tables), wasm.SectionMemory: len(m.Memories), wasm.SectionGlobal: len(m.Globals),
		wasm.SectionExport: len(m.Exports), wasm.SectionElement: len(m.Elements), wasm.SectionCode: len(m.Code),
		wasm.SectionData: len(m.Data), wasm.SectionTag: len(m.Tags),
	}
	for _, s := range m.Sections {
		sec := Section{ID: s.ID.String(), Name: s.Name, Offset: s.Offset, Size: len(s.Raw), Count: counts[s.ID]}
		r.Sections = append(r.Sections, sec)
		if s.ID == wasm.SectionCustom {
			r.Custom = append(r.Custom, Custom{Name: s.Name, Offset: s.Offset, Size: len(s.Data)})
		}
	}

	group := map[string]int{}
	var nFunc, nMem, nTable, nGlobal int
	for _, im := range m.Imports {
		it := Import{Name: im.Name, Kind: im.Kind.String(), Offset: im.Offset}
		switch im.Kind {
		case wasm.ExternFunc:
			nFunc++
			it.Type = sigString(m, im.TypeIndex)
		case wasm.ExternMemory:
			it.Type = limitsString(im.Memory.Limits)
			r.Memories = append(r.Memories, memoryOf(nMem, true, im.Memory.Limits))
			nMem++
		case wasm.ExternTable:
			it.Type = im.Table.Elem.String() + " " + limitsString(im.Table.Limits)
			r.Tables = append(r.Tables, tableOf(nTable, true, im.Table))
			nTable++
		case wasm.ExternGlobal:
			it.Type = globalString(im.Global)
			r.Globals = append(r.Globals, Global{Index: nGlobal, Imported: true, Type: im.Global.Val.String(), Mutable: im.Global.Mutable})
			nGlobal++
		case wasm.ExternTag:
			it.Type = sigString(m, im.Tag.Type)
		}
		gi, ok := group[im.Module]
		if !ok {
			gi = len(r.Imports)
			group[im.Module] = gi
			r.Imports = append(r.Imports, ImportGroup{Module: im.Module})
		}
		r.Imports[gi].Items = append(r.Imports[gi].Items, it)
	}
	for _, mem := range m.Memories {
		r.Memories = append(r.Memories, memoryOf(nMem, false, mem.Limits))
		nMem++
	}
	for _, t := range m.Tables {
		r.Tables = append(r.Tables, tableOf(nTable, false, t))
		nTable++
	}
	for _, g := range m.Globals {
		r.Globals = append(r.Globals, Global{Index: nGlobal, Type: g.Type.Val.String(), Mutable: g.Type.Mutable})
		nGlobal++
	}
	for _, e := range m.Exports {
		ex := Export{Name: e.Name, Kind: e.Kind.String(), Index: e.Index}
		if e.Kind == wasm.ExternFunc {
			ex.Target = names[e.Index]
		}
		r.Exports = append(r.Exports, ex)
	}
	if m.HasStart {
		r.Start = &Func{Index: m.Start, Name: names[m.Start]}
	}
	r.Functions.Imported = nFunc
	r.Functions.Defined = len(m.Code)
	r.Data.Segments = len(m.Data)
	r.Data.List = make([]DataSegment, 0, len(m.Data))
	for i, d := range m.Data {
		mode := "active"
		if d.Mode == wasm.ModePassive {
			mode = "passive"
		}
		r.Data.Bytes += len(d.Init)
		r.Data.List = append(r.Data.List, DataSegment{Index: i, Mode: mode, Memory: d.Memory, Offset: d.InitOffset, Size: len(d.Init)})
	}
	if m.Producers != nil {
		for _, f := range m.Producers.Fields {
			for _, v := range f.Values {
				r.Producers = append(r.Producers, Producer{Field: f.Name, Name: v.Name, Version: v.Version})
			}
		}
	}

	sizes := make([]FuncSize, len(m.Code))
	for i, f := range m.Code {
		idx := uint32(nFunc + i)
		sz := EntrySize(f)
		r.Functions.CodeBytes += sz
		sizes[i] = FuncSize{Func: Func{Index: idx, Name: names[idx]}, Offset: f.Offset, Size: sz}
	}
	sort.SliceStable(sizes, func(i, j int) bool { return sizes[i].Size > sizes[j].Size })
	if len(sizes) > top {
		sizes = sizes[:top]
	}
	for i := range sizes {
		if len(bin) > 0 {
			sizes[i].Percent = float64(sizes[i].Size) * 100 / float64(len(bin))
		}
	}
	r.Largest = sizes
	return r
}

// EntrySize is the size of a code-section entry: its size prefix and body.
func EntrySize(f wasm.Func) int { return len(wasm.AppendU32(nil, uint32(len(f.Raw)))) + len(f.Raw) }

// FuncNames maps function indices to names: from the name section, and for
// functions it does not name, the first export name, or "module.name" for an
// imported function.
func FuncNames(m *wasm.Module) map[uint32]string {
	out := map[uint32]string{}
	if m.Names != nil {
		for _, n := range m.Names.Functions {
			out[n.Index] = n.Name
		}
	}
	for _, e := range m.Exports {
		if _, ok := out[e.Index]; !ok && e.Kind == wasm.ExternFunc {
			out[e.Index] = e.Name
		}
	}
	idx := uint32(0)
	for _, im := range m.Imports {
		if im.Kind != wasm.ExternFunc {
			continue
		}
		if _, ok := out[idx]; !ok {
			out[idx] = im.Module + "." + im.Name
		}
		idx++
	}
	return out
}

// ImportedFuncs counts the imported functions, which come first in the
// function index space.
func ImportedFuncs(m *wasm.Module) int {
	n := 0
	for _, im := range m.Imports {
		if im.Kind == wasm.ExternFunc {
			n++
		}
	}
	return n
}

func memoryOf(i int, imported bool, l wasm.Limits) Memory {
	mem := Memory{Index: i, Imported: imported, Min: l.Min, Shared: l.Shared, Memory64: l.Is64}
	if l.HasMax {
		mx := l.Max
		mem.Max = &mx
	}
	return mem
}

func tableOf(i int, imported bool, t wasm.Table) Table {
	tb := Table{Index: i, Imported: imported, Elem: t.Elem.String(), Min: t.Limits.Min, IndexType: "i32"}
	if t.Limits.Is64 {
		tb.IndexType = "i64"
	}
	if t.Limits.HasMax {
		mx := t.Limits.Max
		tb.Max = &mx
	}
	return tb
}

package inspect

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/internal/wasm"
)

// WriteText writes the report for people. Data segments are summarised
// (count, total, the largest five); the JSON form lists every one.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	// Every string printed comes from the module (names, custom sections,
	// producers) or is escaped harmlessly: no control byte reaches the
	// terminal.
	p := func(format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = safetext.Escape(s)
			}
		}
		fmt.Fprintf(b, format, args...)
	}
	p("module %s: %d bytes\n", r.Name, r.Size)
	if len(r.Features) > 0 {
		p("features: %s\n", strings.Join(r.Features, ", "))
	} else {
		p("features: none beyond WebAssembly 1.0\n")
	}
	if len(r.Producers) > 0 {
		p("producers:\n")
		for _, pr := range r.Producers {
			p("  %-13s %s %s\n", pr.Field, pr.Name, pr.Version)
		}
	}
	p("\nsections:\n")
	p("  %-10s %10s %10s %8s  %s\n", "id", "offset", "size", "count", "name")
	for _, s := range r.Sections {
		cnt := ""
		if s.Count > 0 {
			cnt = strconv.Itoa(s.Count)
		}
		p("  %-10s %#10x %10d %8s  %s\n", s.ID, s.Offset, s.Size, cnt, s.Name)
	}
	p("\nimports (%d modules):\n", len(r.Imports))
	for _, g := range r.Imports {
		p("  %s (%d)\n", g.Module, len(g.Items))
		for _, it := range g.Items {
			p("    %-6s %s %s\n", it.Kind, it.Name, it.Type)
		}
	}
	p("\nexports (%d):\n", len(r.Exports))
	for _, e := range r.Exports {
		t := ""
		if e.Target != "" && e.Target != e.Name {
			t = " (" + e.Target + ")"
		}
		p("  %-6s %s -> %d%s\n", e.Kind, e.Name, e.Index, t)
	}
	p("\nmemories (%d):\n", len(r.Memories))
	for _, m := range r.Memories {
		p("  %d%s: min %d pages, max %s%s%s\n", m.Index, importedTag(m.Imported), m.Min, maxString(m.Max),
			flag(m.Shared, ", shared"), flag(m.Memory64, ", memory64"))
	}
	p("tables (%d):\n", len(r.Tables))
	for _, t := range r.Tables {
		p("  %d%s: %s min %d, max %s, index %s\n", t.Index, importedTag(t.Imported), t.Elem, t.Min, maxString(t.Max), t.IndexType)
	}
	if ty := r.Types; ty.Struct+ty.Array+ty.RecGroups+ty.Subtypes > 0 {
		p("types: %d func, %d struct, %d array, %d subtypes, %d rec groups\n", ty.Func, ty.Struct, ty.Array, ty.Subtypes, ty.RecGroups)
	}
	mut := 0
	for _, g := range r.Globals {
		if g.Mutable {
			mut++
		}
	}
	p("globals: %d (%d mutable)\n", len(r.Globals), mut)
	if r.Start != nil {
		p("start function: %d %s\n", r.Start.Index, r.Start.Name)
	} else {
		p("start function: none\n")
	}
	p("functions: %d imported, %d defined, %d bytes of code\n", r.Functions.Imported, r.Functions.Defined, r.Functions.CodeBytes)
	p("data: %d segments, %d bytes\n", r.Data.Segments, r.Data.Bytes)
	if len(r.Data.List) > 0 {
		big := append([]DataSegment(nil), r.Data.List...)
		sortSegments(big)
		if len(big) > 5 {
			big = big[:5]
		}
		for _, d := range big {
			p("  segment %d (%s, memory %d): %d bytes at %#x\n", d.Index, d.Mode, d.Memory, d.Size, d.Offset)
		}
	}
	p("\ncustom sections (%d):\n", len(r.Custom))
	for _, c := range r.Custom {
		p("  %-24s %10d bytes at %#x\n", c.Name, c.Size, c.Offset)
	}
	if r.NamesError != "" {
		p("  (name section did not decode: %s)\n", r.NamesError)
	}
	p("\nlargest functions:\n")
	p("  %10s %7s  %s\n", "bytes", "%", "function")
	for _, f := range r.Largest {
		n := f.Name
		if n == "" {
			n = "func[" + strconv.FormatUint(uint64(f.Index), 10) + "]"
		}
		p("  %10d %6.2f%%  %s\n", f.Size, f.Percent, n)
	}
	return b.Flush()
}

// sortSegments moves the five largest segments to the front, largest first
// (a partial selection: Go binaries have up to 100000 segments and only five
// are shown).
func sortSegments(s []DataSegment) {
	for i := 0; i < len(s) && i < 5; i++ {
		m := i
		for j := i + 1; j < len(s); j++ {
			if s[j].Size > s[m].Size {
				m = j
			}
		}
		s[i], s[m] = s[m], s[i]
	}
}

func importedTag(b bool) string {
	if b {
		return " (imported)"
	}
	return ""
}

func flag(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func maxString(m *uint64) string {
	if m == nil {
		return "none"
	}
	return strconv.FormatUint(*m, 10)
}

func limitsString(l wasm.Limits) string {
	s := "min " + strconv.FormatUint(l.Min, 10)
	if l.HasMax {
		s += " max " + strconv.FormatUint(l.Max, 10)
	}
	if l.Shared {
		s += " shared"
	}
	if l.Is64 {
		s += " i64"
	}
	return s
}

func globalString(g wasm.GlobalType) string {
	if g.Mutable {
		return "(mut " + g.Val.String() + ")"
	}
	return g.Val.String()
}

// sigString formats the signature of type index ti.
func sigString(m *wasm.Module, ti uint32) string {
	if int(ti) >= len(m.Types) {
		return "type[" + strconv.FormatUint(uint64(ti), 10) + "]"
	}
	return m.Types[ti].String()
}

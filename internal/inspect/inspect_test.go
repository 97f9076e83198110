package inspect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

func inspectFixture(t *testing.T, name string) (*Report, []byte) {
	t.Helper()
	bin := fixture.Bytes(t, name)
	m, err := wasm.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	return Inspect(name+".wasm", bin, m, 0), bin
}

func TestInspectImportsAndSections(t *testing.T) {
	r, bin := inspectFixture(t, "scan_imports")
	if len(r.Imports) != 2 || r.Imports[0].Module != "env" || len(r.Imports[0].Items) != 1 ||
		r.Imports[1].Module != "wasi_snapshot_preview1" || len(r.Imports[1].Items) != 8 {
		t.Fatalf("imports = %+v", r.Imports)
	}
	if it := r.Imports[0].Items[0]; it.Name != "exfiltrate" || it.Kind != "func" || it.Type != "(i32, i32) -> ()" {
		t.Errorf("import = %+v", it)
	}
	end := 8
	for _, s := range r.Sections {
		if s.Offset != end {
			t.Errorf("section %s at %d, want %d", s.ID, s.Offset, end)
		}
		end = s.Offset + s.Size
	}
	if end != len(bin) {
		t.Errorf("sections end at %d of %d", end, len(bin))
	}
	if r.Functions.Imported != 9 || r.Functions.Defined != 1 || r.Start != nil {
		t.Errorf("functions = %+v, start %v", r.Functions, r.Start)
	}
}

func TestInspectMemoryFeaturesStart(t *testing.T) {
	r, _ := inspectFixture(t, "scan_threads")
	if len(r.Memories) != 1 || !r.Memories[0].Shared || r.Memories[0].Max == nil || *r.Memories[0].Max != 1 ||
		strings.Join(r.Features, ",") != "threads" {
		t.Errorf("memories %+v features %v", r.Memories, r.Features)
	}
	r, _ = inspectFixture(t, "scan_start")
	if r.Start == nil || r.Start.Name != "init" {
		t.Errorf("start = %+v", r.Start)
	}
	r, _ = inspectFixture(t, "scan_exports")
	if len(r.Globals) != 2 || !r.Globals[0].Mutable || r.Globals[1].Mutable || len(r.Tables) != 1 || r.Tables[0].Elem != "funcref" ||
		len(r.Exports) != 4 {
		t.Errorf("globals %+v tables %+v exports %+v", r.Globals, r.Tables, r.Exports)
	}
}

func TestInspectGo(t *testing.T) {
	r, bin := inspectFixture(t, "sbom_dep")
	if len(r.Producers) != 2 || r.Producers[0].Field != "language" || r.Producers[0].Name != "Go" {
		t.Errorf("producers = %+v", r.Producers)
	}
	if len(r.Largest) != DefaultTop {
		t.Fatalf("largest = %d", len(r.Largest))
	}
	for i, f := range r.Largest {
		if f.Name == "" || f.Size <= 0 || (i > 0 && f.Size > r.Largest[i-1].Size) {
			t.Errorf("largest[%d] = %+v", i, f)
		}
		// The entry at Offset starts with its size LEB128.
		if n, _, _ := wasm.ReadU32(bin[f.Offset:]); EntrySize(wasm.Func{Raw: make([]byte, n)}) != f.Size {
			t.Errorf("largest[%d]: size %d does not match the entry at %#x", i, f.Size, f.Offset)
		}
	}
	total := 0
	for _, d := range r.Data.List {
		total += d.Size
	}
	if total != r.Data.Bytes || r.Data.Segments != len(r.Data.List) || r.Data.Segments == 0 {
		t.Errorf("data = %d segments, %d bytes, list sum %d", r.Data.Segments, r.Data.Bytes, total)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"producers:", "processed-by  Go cmd/compile", "largest functions:", "wasi_snapshot_preview1 (", "memories (1):"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

func TestFuncNamesFallback(t *testing.T) {
	// scan_cprog has no name section: exports name what they can.
	r, _ := inspectFixture(t, "scan_cprog")
	found := false
	for _, f := range r.Largest {
		if f.Name == "_start" && f.Index == r.Exports[1].Index {
			found = true
		}
	}
	if !found {
		t.Errorf("largest = %+v", r.Largest)
	}
	m, err := wasm.Decode(fixture.Bytes(t, "scan_imports"))
	if err != nil {
		t.Fatal(err)
	}
	if n := FuncNames(m); n[0] != "env.exfiltrate" || n[8] != "wasi_snapshot_preview1.fd_write" || n[9] != "_start" {
		t.Errorf("names = %v", n)
	}
}

// TestInspectWasm3 checks what inspect shows of WebAssembly 3.0 modules: the
// index type of 64-bit tables and memories, and GC's type kinds.
func TestInspectWasm3(t *testing.T) {
	r, _ := inspectFixture(t, "w3_mem64")
	if len(r.Tables) != 2 || r.Tables[0].IndexType != "i64" || r.Tables[1].IndexType != "i32" {
		t.Errorf("tables = %+v", r.Tables)
	}
	if len(r.Memories) != 3 || r.Memories[0].Memory64 || !r.Memories[1].Memory64 || !r.Memories[2].Memory64 {
		t.Errorf("memories = %+v", r.Memories)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  0: funcref min 4, max none, index i64\n", "  1: externref min 1, max none, index i32\n",
		"  1: min 1 pages, max 65536, memory64\n", "features: bulk-memory, reference-types, simd, threads, memory64, multi-memory\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	r, _ = inspectFixture(t, "w3_gc")
	if want := (TypeCounts{Func: 5, Struct: 3, Array: 3, RecGroups: 1, Subtypes: 4}); r.Types != want {
		t.Errorf("types = %+v, want %+v", r.Types, want)
	}
	text.Reset()
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "types: 5 func, 3 struct, 3 array, 4 subtypes, 1 rec groups\n") {
		t.Errorf("text:\n%s", text.String())
	}
}

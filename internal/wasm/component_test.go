package wasm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// TestDecodeComponent decodes a real component (comp_hello, assembled by
// wasm-tools; `jco wit` prints its world): imports from two import
// sections, exports, the two core modules and the nested component's, with
// offsets in the file.
func TestDecodeComponent(t *testing.T) {
	bin := fixture.Bytes(t, "comp_hello")
	c, err := DecodeComponent(bin)
	if err != nil {
		t.Fatal(err)
	}
	type ext struct{ Name, Kind string }
	var imps, exps []ext
	for _, e := range c.Imports {
		imps = append(imps, ext{e.Name, e.Kind})
		if e.Offset <= HeaderSize || e.Offset >= len(bin) || !strings.Contains(string(bin[e.Offset:]), e.Name) {
			t.Errorf("import %q at %d", e.Name, e.Offset)
		}
	}
	for _, e := range c.Exports {
		exps = append(exps, ext{e.Name, e.Kind})
	}
	if want := []ext{{"wasi:cli/environment@0.2.0", "instance"}, {"log", "func"}}; !reflect.DeepEqual(imps, want) {
		t.Errorf("imports = %v, want %v", imps, want)
	}
	if want := []ext{{"run", "func"}, {"double", "func"}, {"inner", "instance"}}; !reflect.DeepEqual(exps, want) {
		t.Errorf("exports = %v, want %v", exps, want)
	}
	mods := c.AllModules()
	if len(c.Modules) != 2 || len(c.Components) != 1 || len(mods) != 3 {
		t.Fatalf("%d modules, %d components, %d in all", len(c.Modules), len(c.Components), len(mods))
	}
	var exports []string
	for _, m := range mods {
		if m.Err != nil || KindOf(bin[m.Offset:m.Offset+m.Size]) != KindModule {
			t.Fatalf("module at %d: %v", m.Offset, m.Err)
		}
		for _, e := range m.Module.Exports {
			exports = append(exports, e.Name)
		}
	}
	if want := []string{"memory", "run", "double", "noop"}; !reflect.DeepEqual(exports, want) {
		t.Errorf("core module exports = %v, want %v", exports, want)
	}
	if n := c.Components[0]; KindOf(bin[n.Offset:]) != KindComponent || n.Modules[0].Offset <= n.Offset {
		t.Errorf("nested component at %d, its module at %d", n.Offset, n.Modules[0].Offset)
	}
	if _, err := Decode(bin); !errors.Is(err, ErrComponent) {
		t.Errorf("Decode(component) = %v, want ErrComponent", err)
	}
	if _, err := DecodeComponent(fixture.Bytes(t, "w3_gc")); !errors.Is(err, ErrNotComponent) {
		t.Errorf("DecodeComponent(module) = %v, want ErrNotComponent", err)
	}
}

var compHeader = []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0}

func comp(sections ...[]byte) []byte {
	b := append([]byte(nil), compHeader...)
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

// TestDecodeComponentErrors: malformed components fail with the offset in
// the input; a core module that does not decode is recorded, not fatal.
func TestDecodeComponentErrors(t *testing.T) {
	nest := func(inner []byte, depth int) []byte {
		for range depth {
			inner = comp(AppendSection(nil, CompSectionComponent, inner))
		}
		return inner
	}
	tests := []struct {
		name   string
		bin    []byte
		offset int
		msg    string
	}{
		{"import name encoding", comp(sec(CompSectionImport, 1, 7, 1, 'a', 1, 0)), 11, "unknown name encoding 0x07"},
		{"import extern kind", comp(sec(CompSectionImport, 1, 0, 1, 'a', 9, 0)), 14, "unknown extern kind 0x09"},
		{"import core extern not a module", comp(sec(CompSectionImport, 1, 0, 1, 'a', 0, 0x10, 0)), 14, "want a module"},
		{"import count", comp(sec(CompSectionImport, 100, 0)), 10, "count 100 exceeds"},
		{"export sort", comp(sec(CompSectionExport, 1, 0, 1, 'a', 9, 0, 0)), 14, "unknown sort 0x09"},
		{"export core sort", comp(sec(CompSectionExport, 1, 0, 1, 'a', 0, 0x20, 0, 0)), 15, "unknown core sort 0x20"},
		{"export ascription", comp(sec(CompSectionExport, 1, 0, 1, 'a', 1, 0, 5)), 16, "invalid optional type ascription"},
		{"trailing bytes", comp(sec(CompSectionExport, 0, 1)), 11, "1 bytes left"},
		{"unknown section", comp(sec(13)), 8, "unknown component section id 13"},
		{"core module section holds a component", comp(AppendSection(nil, CompSectionCoreModule, compHeader)), 10, "not a core module"},
		{"component section holds a module", comp(AppendSection(nil, CompSectionComponent, hdr)), 10, "not a component"},
		{"section past end", comp([]byte{1, 9, 0}), 8, "size 9 exceeds"},
		{"nested too deep", nest(comp(), maxComponentNesting+2), 0, "nested deeper than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeComponent(tc.bin)
			var we *Error
			if !errors.As(err, &we) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error = %v, want one containing %q", err, tc.msg)
			}
			if tc.offset > 0 && we.Offset != tc.offset {
				t.Fatalf("error %q at offset %d, want %d", err, we.Offset, tc.offset)
			}
		})
	}
	// A core module that does not decode: its error carries the offset in
	// the component.
	bad := append(append([]byte(nil), hdr...), 1, 5, 1)
	c, err := DecodeComponent(comp(AppendSection(nil, CompSectionCoreModule, bad)))
	if err != nil {
		t.Fatal(err)
	}
	var we *Error
	if len(c.Modules) != 1 || c.Modules[0].Module != nil || !errors.As(c.Modules[0].Err, &we) || we.Offset != 10+8 {
		t.Fatalf("modules = %+v", c.Modules)
	}
}

// TestDecodeToolchainComponent decodes what wit-component makes of a real
// WASI preview1 program (comp_hello_cmd: examples/hello.wasm with the
// preview1 command adapter): the 15 WASI 0.2 instance imports, the
// wasi:cli/run export, and four core modules, the first of which is the
// original program byte for byte.
func TestDecodeToolchainComponent(t *testing.T) {
	bin := fixture.Bytes(t, "comp_hello_cmd")
	c, err := DecodeComponent(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Imports) != 15 {
		t.Errorf("%d imports, want 15", len(c.Imports))
	}
	for _, im := range c.Imports {
		if im.Kind != "instance" || !strings.HasPrefix(im.Name, "wasi:") || !strings.HasSuffix(im.Name, "@0.2.12") {
			t.Errorf("import %+v", im)
		}
	}
	if len(c.Exports) != 1 || c.Exports[0].Name != "wasi:cli/run@0.2.12" || c.Exports[0].Kind != "instance" {
		t.Errorf("exports = %+v", c.Exports)
	}
	mods := c.AllModules()
	if len(mods) != 4 {
		t.Fatalf("%d core modules, want 4", len(mods))
	}
	for i, m := range mods {
		if m.Err != nil {
			t.Errorf("core module %d: %v", i, m.Err)
		}
	}
	orig, err := os.ReadFile(filepath.Join(fixture.Dir(), "..", "..", "examples", "hello.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if got := bin[mods[0].Offset : mods[0].Offset+mods[0].Size]; !bytes.Equal(got, orig) {
		t.Errorf("core module 0 (%d bytes) is not examples/hello.wasm (%d bytes)", len(got), len(orig))
	}
}

package inspect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

// TestInspectComponent: the component's imports, exports and core modules
// (nested ones marked), and names from the binary escaped in the text form.
func TestInspectComponent(t *testing.T) {
	bin := fixture.Bytes(t, "comp_hello")
	c, err := wasm.DecodeComponent(bin)
	if err != nil {
		t.Fatal(err)
	}
	r := InspectComponent("comp_hello.wasm", bin, c)
	if r.Kind != "component" || len(r.Imports) != 2 || len(r.Exports) != 3 || len(r.Modules) != 3 || r.Components != 1 ||
		r.Modules[0].Nested || !r.Modules[2].Nested || strings.Join(r.Modules[0].Imports, ",") != "host.log" {
		t.Fatalf("report = %+v", r)
	}
	end := wasm.HeaderSize
	for _, s := range r.Sections {
		if s.Offset != end {
			t.Fatalf("section %s at %#x, want %#x", s.ID, s.Offset, end)
		}
		end += s.Size
	}
	if end != len(bin) {
		t.Fatalf("sections end at %d of %d", end, len(bin))
	}

	// An import named with terminal escapes.
	name := "evil\x1b[2J\x07"
	imp := append([]byte{1, 0, byte(len(name))}, name...)
	imp = append(imp, 0x01, 0) // func, type 0
	evil := append([]byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0}, wasm.AppendSection(nil, wasm.CompSectionImport, imp)...)
	c, err = wasm.DecodeComponent(evil)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := InspectComponent("evil.wasm", evil, c).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(text.Bytes(), "\x1b\x07") || !strings.Contains(text.String(), "func      evil") {
		t.Fatalf("text:\n%q", text.String())
	}
}

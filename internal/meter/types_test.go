package meter

import (
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

// TestImportTypeNotFromRecGroup: the fuel and stack imports need the plain
// types (i64) -> (i64) and () -> (). A function type inside a rec group of
// several types is a different type (iso-recursive equivalence), so
// Instrument must add plain ones instead of reusing those.
func TestImportTypeNotFromRecGroup(t *testing.T) {
	types := []byte{1,
		0x4e, 2, 0x60, 1, 0x7e, 1, 0x7e, 0x60, 0, 0, // rec { (i64)->(i64), ()->() }
	}
	bin := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	bin = wasm.AppendSection(bin, wasm.SectionType, types)
	bin = wasm.AppendSection(bin, wasm.SectionFunction, []byte{1, 1})
	bin = wasm.AppendSection(bin, wasm.SectionCode, []byte{1, 2, 0, 0x0b})
	out, err := Instrument(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasm.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{FuelFunc: "(i64) -> (i64)", StackFunc: "() -> ()"}
	for _, im := range m.Imports {
		if im.Module != ImportModule {
			continue
		}
		ti := int(im.TypeIndex)
		if ti < 2 || ti >= len(m.Types) || !m.Types[ti].IsPlainFunc() || m.Types[ti].String() != want[im.Name] {
			t.Errorf("import %s has type %d (%s), want a new plain %s", im.Name, ti, m.Types[min(ti, len(m.Types)-1)], want[im.Name])
		}
	}
}

// TestRefusesGC: the rewriter does not know GC's branches (br_on_cast), so
// Instrument refuses GC modules instead of metering them wrongly.
func TestRefusesGC(t *testing.T) {
	_, err := Instrument(fixture.Bytes(t, "w3_gc"), Options{})
	if err == nil || !strings.Contains(err.Error(), "GC (struct and array types, 0xFB instructions) is not supported") {
		t.Fatalf("Instrument(w3_gc) = %v", err)
	}
}

package scan

import (
	"context"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// appendCustom appends a custom section to a module.
func appendCustom(bin []byte, name string, data []byte) []byte {
	payload := append([]byte{byte(len(name))}, name...)
	payload = append(payload, data...)
	out := append(append([]byte(nil), bin...), 0, byte(len(payload)))
	return append(out, payload...)
}

func TestMalformedNameSection(t *testing.T) {
	// A function-names subsection claiming 0x7f bytes it does not have.
	bin := appendCustom(fixture.Bytes(t, "scan_exports"), "name", []byte{1, 0x7f, 0})
	r := Scan(context.Background(), "x.wasm", bin, Options{})
	f := find(r, RuleBadMetadata)
	if len(f) != 1 || f[0].Severity != Medium || f[0].Location.Offset <= 0 {
		t.Fatalf("findings = %+v", r.Findings)
	}
}

// FuzzScan checks that Scan never panics and that its results keep their
// invariants whatever the input.
func FuzzScan(f *testing.F) {
	for _, n := range []string{"scan_start", "scan_miner", "scan_imports", "scan_threads", "scan_packed", "sbom_cargo", "sbom_cargo_cycle"} {
		f.Add(fixture.Bytes(f, n))
	}
	f.Fuzz(func(t *testing.T, bin []byte) {
		r := Scan(context.Background(), "fuzz.wasm", bin, Options{})
		for i, fd := range r.Findings {
			if _, ok := LookupRule(fd.RuleID); !ok {
				t.Fatalf("unknown rule %s", fd.RuleID)
			}
			if fd.Location.Offset > len(bin) {
				t.Fatalf("%s: offset %d beyond %d bytes", fd.RuleID, fd.Location.Offset, len(bin))
			}
			if i > 0 && r.Findings[i-1].Severity < fd.Severity {
				t.Fatal("findings not sorted by severity")
			}
		}
	})
}

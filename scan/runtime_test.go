package scan

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

// TestRuntimeSupport: WebAssembly 3.0 modules are never malformed (WW001);
// what `run` cannot execute is WW003 (medium) at the first use, with the
// reason; --validate compiles with every proposal wazero implements, so
// exnref, typed function references, tail calls and extended constants
// validate (they used to be WW002 "exception-handling is disabled"), and a
// module wazero cannot compile is not compiled (no WW002).
func TestRuntimeSupport(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		msg     string // WW003's message contains it; "" means no WW003
		section string
		offset  int
		fn      int64
	}{
		{"w3_exn", "", "", 0, 0},
		{"w3_funcref", "", "", 0, 0},
		{"w3_extconst", "", "", 0, 0},
		{"w3_gc", "uses gc (not implemented by wazero v1.12.0)", "type", 0x8, -1},
		{"w3_relaxed", "uses relaxed-simd (not implemented by wazero v1.12.0)", "code", 0x2a, 0},                                                  // i8x16.relaxed_swizzle
		{"w3_exn_legacy", "uses legacy-exceptions (not implemented by wazero v1.12.0)", "code", 0x37, 0},                                          // try
		{"w3_mem64", "uses memory64, multi-memory (not implemented by wazero v1.12.0); threads (not enabled by wasmward run)", "table", 0x25, -1}, // the 64-bit table comes first
	} {
		for _, validate := range []bool{false, true} {
			t.Run(tc.fixture, func(t *testing.T) {
				r := scanFixture(t, tc.fixture, Options{Validate: validate})
				for _, f := range r.Findings {
					t.Logf("%s %s %s: %s", f.RuleID, f.Severity, f.Location, f.Message)
				}
				if len(find(r, RuleDecode)) != 0 || len(find(r, RuleValidate)) != 0 {
					t.Fatal("a valid WebAssembly 3.0 module is reported malformed or invalid")
				}
				u := find(r, RuleUnsupported)
				if tc.msg == "" {
					if len(u) != 0 {
						t.Fatalf("WW003 on a module run executes")
					}
					return
				}
				if len(u) != 1 || u[0].Severity != Medium || !strings.Contains(u[0].Message, tc.msg) {
					t.Fatalf("WW003 = %+v, want one medium finding containing %q", u, tc.msg)
				}
				if l := u[0].Location; l.Section != tc.section || l.Offset != tc.offset || l.Function != tc.fn {
					t.Errorf("location = %+v, want %s at %#x, function %d", l, tc.section, tc.offset, tc.fn)
				}
				if got := strings.Contains(u[0].Message, "--validate did not compile it"); got != validate {
					t.Errorf("message %q: says validation was skipped: %v, want %v", u[0].Message, got, validate)
				}
			})
		}
	}
}

// TestComponent: a component is WW004 (medium), listing its core modules,
// imports and exports, not WW001 with a rebuild remedy; a core module
// inside it that does not decode is WW001 at its offset in the file.
func TestComponent(t *testing.T) {
	bin := fixture.Bytes(t, "comp_hello")
	r := Scan(context.Background(), "comp_hello.wasm", bin, Options{Validate: true})
	if len(r.Findings) != 1 || r.Findings[0].RuleID != RuleComponent || r.Findings[0].Severity != Medium {
		t.Fatalf("findings = %+v", r.Findings)
	}
	f := r.Findings[0]
	for _, want := range []string{"WebAssembly component", "does not run components yet", "3 core module(s) and 1 nested component(s)",
		`imports: instance "wasi:cli/environment@0.2.0", func "log"`, `exports: func "run", func "double", instance "inner"`} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q lacks %q", f.Message, want)
		}
	}
	if f.Title != "WebAssembly component" || strings.Contains(f.Remediation, "conforming toolchain") {
		t.Errorf("finding = %+v", f)
	}

	// What wit-component makes of a real WASI program: WW004 only.
	r = scanFixture(t, "comp_hello_cmd", Options{Validate: true})
	if len(r.Findings) != 1 || r.Findings[0].RuleID != RuleComponent ||
		!strings.Contains(r.Findings[0].Message, `4 core module(s) and 1 nested component(s); imports: instance "wasi:cli/environment@0.2.12"`) ||
		!strings.Contains(r.Findings[0].Message, `exports: instance "wasi:cli/run@0.2.12".`) {
		t.Fatalf("findings = %+v", r.Findings)
	}

	// Break the first core module's type section (its first section, at
	// offset 8 of the module) by claiming a longer size than it has.
	c, err := wasm.DecodeComponent(bin)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), bin...)
	at := c.Modules[0].Offset + 8
	if bad[at] != byte(wasm.SectionType) {
		t.Fatalf("byte %#x at %#x is not a type section", bad[at], at)
	}
	bad[at+1] = 0x7f
	r = Scan(context.Background(), "bad.wasm", bad, Options{})
	d := find(r, RuleDecode)
	if len(d) != 1 || d[0].Location.Offset != at || !strings.Contains(d[0].Message, "core module 0 of the component does not decode") ||
		len(find(r, RuleComponent)) != 1 {
		t.Fatalf("findings = %+v", r.Findings)
	}
}

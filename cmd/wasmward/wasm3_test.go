package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// TestWasm3CLI drives the real commands over WebAssembly 3.0 modules and a
// component: nothing valid is malformed, what run cannot execute is said so
// (and is not clean), components are described, not rejected.
func TestWasm3CLI(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // in stdout+stderr
		not  []string
	}{
		{"validate exnref", []string{"scan", "--validate", "--fail-on", "critical", fixture.Path(t, "w3_exn")}, 0, []string{"WW101"}, []string{"WW002", "WW001", "WW003"}},
		{"validate typed function references", []string{"scan", "--validate", fixture.Path(t, "w3_funcref")}, 0, nil, []string{"WW002", "WW001", "WW003"}},
		{"gc not supported", []string{"scan", "--validate", fixture.Path(t, "w3_gc")}, 0,
			[]string{"WW003", "gc (not implemented by wazero v1.12.0)"}, []string{"WW001", "WW002"}},
		{"memory64 is not clean", []string{"scan", "--fail-on", "medium", fixture.Path(t, "w3_mem64")}, 1,
			[]string{"WW003", "memory64"}, []string{"WW001"}},
		{"component scanned", []string{"scan", "--validate", fixture.Path(t, "comp_hello")}, 0,
			[]string{"WW004", "WebAssembly component", "does not run components yet"}, []string{"WW001", "rebuild"}},
		{"component not clean", []string{"scan", "--fail-on", "medium", fixture.Path(t, "comp_hello")}, 1, []string{"WW004"}, nil},
		{"inspect component", []string{"inspect", fixture.Path(t, "comp_hello")}, 0,
			[]string{"component comp_hello.wasm", "wasmward run does not run components yet", "instance  wasi:cli/environment@0.2.0",
				"core modules (3, 1 nested components)", "imports: host.log; exports: memory, run"}, nil},
		{"inspect gc", []string{"inspect", fixture.Path(t, "w3_gc")}, 0, []string{"features: bulk-memory, reference-types, extended-const, typed-function-references, gc\n", "types: 5 func, 3 struct"}, nil},
		{"inspect table64", []string{"inspect", fixture.Path(t, "w3_mem64")}, 0, []string{"funcref min 4, max none, index i64"}, nil},
		{"sbom gc", []string{"sbom", fixture.Path(t, "w3_gc")}, 0, []string{`"bomFormat": "CycloneDX"`}, nil},
		{"run gc", []string{"run", fixture.Path(t, "w3_gc")}, 126, []string{"not supported by the runtime: gc (not implemented by wazero v1.12.0)"}, nil},
		{"run component", []string{"run", fixture.Path(t, "comp_hello_cmd")}, 126, []string{"a WebAssembly component, not a core module (wasmward run does not run components yet)"}, nil},
		{"run relaxed simd", []string{"run", fixture.Path(t, "w3_relaxed")}, 126, []string{"not supported by the runtime: relaxed-simd"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := scanRunCLI(t, tc.args...)
			all := out + errOut
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(all, n) {
					t.Errorf("output has %q:\n%s", n, all)
				}
			}
		})
	}
	code, out, _ := scanRunCLI(t, "inspect", "--json", fixture.Path(t, "comp_hello"))
	var rep struct {
		Kind    string
		Imports []struct{ Name, Kind string }
		Modules []struct{ Exports []string } `json:"coreModules"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Kind != "component" || len(rep.Imports) != 2 || len(rep.Modules) != 3 {
		t.Fatalf("inspect --json: exit %d, %+v\n%s", code, rep, out)
	}
}

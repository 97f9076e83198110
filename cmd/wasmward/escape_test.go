package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/sandbox"
)

// TestModuleNamesEscaped (issue 9, leak 10): a module whose import names
// carry ANSI escapes (clear the screen, home the cursor, print a fake
// success line) reaches no terminal with a control byte through any
// command: run's refusal line and report, inspect, scan.
func TestModuleNamesEscaped(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "ansi.wasm")
	bin := synth.Importer("env\x1b[2J\x1b[H", "x\rwasmward: verified\x1b[8m\u202e")
	if err := os.WriteFile(mod, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := filepath.Join(dir, "r.json")
	const escaped = `env\x1b[2J\x1b[H.x\x0dwasmward: verified\x1b[8m\u202e`
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr, escaped
	}{
		{"run", []string{"run", "--report", rep, mod}, exitRefused, "import " + escaped + " (func) is not allowed by the policy"},
		{"inspect", []string{"inspect", mod}, exitOK, `x\x0dwasmward: verified\x1b[8m\u202e`},
		{"scan", []string{"scan", mod}, -1, `env\x1b[2J\x1b[H`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if tc.code >= 0 && code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			all := stdout + stderr
			for i := 0; i < len(all); i++ {
				if c := all[i]; c == 0x1b || c == '\r' || c < 0x20 && c != '\n' {
					t.Fatalf("output carries control byte %#x at %d: %q", c, i, all)
				}
			}
			if strings.Contains(all, "\u202e") {
				t.Fatalf("output carries U+202E: %q", all)
			}
			if !strings.Contains(all, tc.want) {
				t.Errorf("output %q does not contain %q", all, tc.want)
			}
		})
	}
	got := readReport(t, rep)
	if got.Violation == nil || got.Violation.Kind != sandbox.KindImportDenied || !strings.Contains(got.Violation.Detail, escaped) {
		t.Errorf("report violation %+v, want import_denied naming %q", got.Violation, escaped)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/sandbox"
)

// TestRunCompileBombs runs the compile bombs of issue 9 (leaks 2 and 4)
// through the real process: each must be refused (126, invalid_module,
// a one-line reason) within a little CPU time and memory. Before, they
// crashed the process (out of memory, a Go stack trace, no report) or
// took 25-55 s and gigabytes.
func TestRunCompileBombs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, reason string
		bin          []byte
	}{
		{"2^32-6 i64 locals", "function 0: 4294967290 locals (parameters included), above the limit of 50000",
			synth.Module(1, []byte{0x0b}, synth.Locals(1<<32-6, 0x7e))},
		{"100M i64 locals", "function 0: 100000000 locals", synth.Module(1, []byte{0x0b}, synth.Locals(100_000_000, 0x7e))},
		{"200 functions x 1024 nested loops", "estimated compile time 43.262s for 200 functions, above the budget of 30s per module",
			synth.Module(200, synth.NestedLoops(1024), nil)},
		{"4000 loops over 1000 live locals", "function 0: estimated compile memory 914 MiB", synth.LoopsOverLocals(4000, 1000)},
		{"1M data segments", "data section at offset 0x8 declares 1000000 data segments, above the limit of 100000", synth.PassiveData(1_000_000)},
		{"200k custom sections", "more than 100000 sections", synth.ManySections(200_000)},
		{"br_table with 4M labels", "function 0: br_table at offset 0x2d has 4194305 labels, above the limit of 32768",
			synth.Module(1, synth.BrTable(1<<22), nil)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := filepath.Join(dir, "bomb"+string(rune('a'+i))+".wasm")
			rep := mod + ".json"
			if err := os.WriteFile(mod, tc.bin, 0o644); err != nil {
				t.Fatal(err)
			}
			r := runProcess(t, "run", "--timeout", "1s", "--report", rep, mod)
			if r.code != exitRefused {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitRefused, r.stderr)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 1 || !strings.Contains(r.stderr, tc.reason) {
				t.Errorf("stderr %q: want one line containing %q", r.stderr, tc.reason)
			}
			got := readReport(t, rep)
			if got.Violation == nil || got.Violation.Kind != sandbox.KindInvalidModule || !strings.Contains(got.Violation.Detail, tc.reason) {
				t.Errorf("report violation %+v, want invalid_module containing %q", got.Violation, tc.reason)
			}
			// The refusal reads the bytes and nothing more: a fraction of
			// a second of CPU and tens of MB (the br_table module is 4 MB).
			if r.cpu > 2*time.Second || r.maxRSS > 150<<20 {
				t.Errorf("process used %v of CPU and %d MB of RSS", r.cpu, r.maxRSS>>20)
			}
			t.Logf("exit %d after %v (CPU %v, RSS %d MB): %s", r.code, r.wall.Round(time.Millisecond), r.cpu, r.maxRSS>>20, strings.TrimSpace(r.stderr))
		})
	}
}

// TestStaticCommandsDecodeBudget: inspect, scan and sbom decode a module
// without running it, and had no bound on what decoding it costs: a
// 1.2 MB file of empty custom sections took inspect to 290 MB of RSS (and
// its Sections slice to 140 MB allocated). The decoder's budget
// (wasm.DecodeBudget, 16 MiB + 4 bytes per module byte) refuses it in one
// line (scan: one critical WW001 finding) at tens of MB.
func TestStaticCommandsDecodeBudget(t *testing.T) {
	dir := t.TempDir()
	const reason = "decoding would exceed the host memory budget"
	for _, m := range []struct {
		name string
		bin  []byte
	}{
		{"400k custom sections", synth.ManySections(400_000)},
		{"1M types", synth.EmptyTypes(1_000_000)},
	} {
		mod := filepath.Join(dir, strings.ReplaceAll(m.name, " ", "_")+".wasm")
		if err := os.WriteFile(mod, m.bin, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"inspect", mod}, {"inspect", "--json", mod}, {"scan", mod}, {"sbom", mod}} {
			t.Run(m.name+"/"+strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
				r := runProcess(t, args...)
				out := r.stderr
				if args[0] == "scan" {
					out = r.stdout
				}
				if r.code != exitFailure || !strings.Contains(out, reason) {
					t.Fatalf("exit %d, want %d with %q; stdout %q stderr %q", r.code, exitFailure, reason, r.stdout, r.stderr)
				}
				if args[0] != "scan" && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("stderr is not one line: %q", r.stderr)
				}
				if r.maxRSS > 100<<20 {
					t.Errorf("peak RSS %d MiB, want at most 100 MiB", r.maxRSS>>20)
				}
				t.Logf("exit %d, CPU %v, RSS %d MiB", r.code, r.cpu, r.maxRSS>>20)
			})
		}
	}
}

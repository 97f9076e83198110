package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// CompileBombs are the modules of issue 9 (leaks 2 and 4) that cost
// wazero's compiler gigabytes or minutes, each with a substring its
// refusal must contain. cmd/wasmward runs the same shapes through the real
// process.
func compileBombs() []struct {
	name, reason string
	bin          []byte
} {
	return []struct {
		name, reason string
		bin          []byte
	}{
		// 42 bytes: before, wazero allocated 32 GiB (Go out-of-memory crash).
		{"2^32-6 i64 locals", "function 0: 4294967290 locals (parameters included), above the limit of 50000",
			synth.Module(1, []byte{0x0b}, synth.Locals(1<<32-6, 0x7e))},
		// Before: 2.5 GB RSS.
		{"100M i64 locals", "function 0: 100000000 locals (parameters included), above the limit of 50000",
			synth.Module(1, []byte{0x0b}, synth.Locals(100_000_000, 0x7e))},
		// Before: the report at the 1 s deadline, the process exit at 25 s.
		{"200 functions x 1024 nested loops", "estimated compile time 43.262s for 200 functions, above the budget of 30s per module", synth.Module(200, synth.NestedLoops(1024), nil)},
		// Before: 55 s and 2 GB RSS.
		{"4000 loops over 1000 live locals", "function 0: estimated compile memory 914 MiB (12001 instructions, 1000 locals, 4000 loops", synth.LoopsOverLocals(4000, 1000)},
		// Before: 35 s and 7 GB RSS.
		// Counts the bytes allow but whose records would cost the
		// decoder tens of times the module's size: refused on the section
		// headers, before Decode.
		{"1M data segments", "data section at offset 0x8 declares 1000000 data segments, above the limit of 100000", synth.PassiveData(1_000_000)},
		{"200k custom sections", "more than 100000 sections", synth.ManySections(200_000)},
		{"br_table with 4M labels", "function 0: br_table at offset 0x2d has 4194305 labels, above the limit of 32768",
			synth.Module(1, synth.BrTable(1<<22), nil)},
		// One function nested too deep: by memory under the default cap;
		// under a 1 GiB cap the memory budget is 1 GiB, and the time
		// budget refuses it.
		{"8000 nested loops", "function 0: estimated compile memory 734 MiB", synth.Module(1, synth.NestedLoops(8000), nil)},
		{"7500 nested loops, 1GiB cap", "function 0: estimated compile time 11.", synth.Module(1, synth.NestedLoops(7500), nil)},
	}
}

// TestCompileBudgetRefuses: every compile bomb is refused invalid_module
// with its reason, quickly (the budget is checked on bytes, before the
// meter and the compiler).
func TestCompileBudgetRefuses(t *testing.T) {
	rt := advRuntime(t)
	for _, tc := range compileBombs() {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			p := policy.Default()
			if strings.HasSuffix(tc.name, "1GiB cap") {
				p.Limits.Memory = 1 << 30
			}
			m, err := rt.Compile(context.Background(), tc.bin, p)
			el := time.Since(start)
			if err == nil {
				_ = m.Close(context.Background())
				t.Fatalf("compiled in %v; want a refusal", el)
			}
			var ref *sandbox.Refusal
			if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindInvalidModule {
				t.Fatalf("want refusal invalid_module, got %v", err)
			}
			if d := ref.Violation.Detail; !strings.Contains(d, tc.reason) || strings.Contains(d, "\n") {
				t.Errorf("detail %q, want one line containing %q", d, tc.reason)
			}
			// Generous: the box the tests run on may be loaded; the
			// unloaded time is milliseconds (cmd/wasmward checks the
			// process's CPU time).
			if el > 10*time.Second {
				t.Errorf("refusal took %v", el)
			}
			t.Logf("%d bytes: %s (%v)", len(tc.bin), ref.Violation.Detail, el)
		})
	}
}

// TestCompileBudgetBoundaries: each structural limit accepts its value and
// refuses one more, so the limits are where the documentation says.
func TestCompileBudgetBoundaries(t *testing.T) {
	rt := advRuntime(t)
	brTable := func(labels int) []byte { return synth.Module(1, synth.BrTable(labels-1), nil) }
	withType := func(params, results int) []byte {
		ft := wasm.FuncType{Params: make([]wasm.ValType, params), Results: make([]wasm.ValType, results)}
		for i := range ft.Params {
			ft.Params[i] = wasm.I32
		}
		for i := range ft.Results {
			ft.Results[i] = wasm.I32
		}
		m, err := wasm.Decode(synth.Module(1, []byte{0x0b}, nil))
		if err != nil {
			t.Fatal(err)
		}
		m.Types = append(m.Types, ft)
		b, err := wasm.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		bin    []byte
		reason string // "" = compiles
	}{
		{"50000 locals", synth.Module(1, []byte{0x0b}, synth.Locals(50_000, 0x7f)), ""},
		{"50001 locals", synth.Module(1, []byte{0x0b}, synth.Locals(50_001, 0x7f)), "50001 locals (parameters included), above the limit of 50000"},
		{"br_table of 32768 labels", brTable(32768), ""},
		{"br_table of 32769 labels", brTable(32769), "has 32769 labels, above the limit of 32768"},
		{"1000 params", withType(1000, 0), ""},
		{"1001 params", withType(1001, 0), "type 1 has 1001 parameters, above the limit of 1000"},
		{"1001 results", withType(0, 1001), "type 1 has 1001 results, above the limit of 1000"},
		{"1000 nested loops", synth.Module(1, synth.NestedLoops(1000), nil), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := rt.Compile(context.Background(), tc.bin, policy.Default())
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_ = m.Close(context.Background())
				return
			}
			if err == nil {
				_ = m.Close(context.Background())
				t.Fatal("compiled; want a refusal")
			}
			var ref *sandbox.Refusal
			if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindInvalidModule || !strings.Contains(ref.Violation.Detail, tc.reason) {
				t.Fatalf("got %v, want invalid_module containing %q", err, tc.reason)
			}
		})
	}
}

// TestCompileBudgetAcceptsFixtures: the committed fixtures are within the
// budget under the default policy, the Go programs (2-3 MB, nesting in the
// thousands) included, as are the 64 MiB smallest memory caps.
func TestCompileBudgetAcceptsFixtures(t *testing.T) {
	small := policy.Default()
	small.Limits.Memory = 1 << 20
	for _, name := range []string{"sbom_dep", "gw_echo_go", "wasm_gohello", "gw_hello_go", "sb_tool", "fs_escape", "scan_cprog", "meter_spectest"} {
		t.Run(name, func(t *testing.T) {
			bin := fixture.Bytes(t, name)
			mod, err := wasm.Decode(bin)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []policy.Policy{policy.Default(), small} {
				if err := sandbox.CheckBudget(mod, p); err != nil {
					t.Fatalf("%s (%d bytes) refused under a %s cap: %v", name, len(bin), p.Limits.Memory, err)
				}
			}
		})
	}
}

// BenchmarkCompileCost measures what wazero's compiler spends per unit of
// each term of the compile cost model (sandbox/budget.go): compile the
// instrumented module and divide by the units. ns/unit is wall time per
// unit; B/unit bytes allocated per unit.
func BenchmarkCompileCost(b *testing.B) {
	liveLocals := 1000
	shapes := []struct {
		name  string
		units int
		bin   []byte
	}{
		{"local", 50_000, synth.Module(1, []byte{0x0b}, synth.Locals(50_000, 0x7e))},
		{"instr", 400_000, synth.Module(1, append(bytes.Repeat([]byte{0x41, 1, 0x1a}, 200_000), 0x0b), nil)},
		{"loop_x_block", 1000 * 1000, synth.Module(1, append(bytes.Repeat([]byte{0x03, 0x40, 0x0b}, 1000), 0x0b), nil)},
		{"loop_x_local", 200 * liveLocals, synth.LoopsOverLocals(200, liveLocals)},
		{"depth", 4000 * 3999 / 2, synth.Module(1, synth.NestedBlocks(4000), nil)},
		{"br_table_sq", 20_000 * 20_000, synth.Module(1, synth.BrTable(19_999), nil)},
		{"br_table_label", 20_000, synth.Module(1, synth.BrTable(19_999), nil)},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			bin, err := sandbox.InstrumentForBench(s.bin)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var bytesTotal uint64
			for b.Loop() {
				bytesTotal += sandbox.CompilePlain(b, bin)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.units), "ns/unit")
			b.ReportMetric(float64(bytesTotal)/float64(b.N)/float64(s.units), "B/unit")
		})
	}
}

// TestFormatResults: results are paired with their types across a v128's
// two slots, and equal references get the same number.
func TestFormatResults(t *testing.T) {
	sig := sandbox.Signature{Results: []sandbox.ValueType{sandbox.ValueV128, sandbox.ValueI32, sandbox.ValueFuncRef,
		sandbox.ValueExternRef, sandbox.ValueFuncRef, sandbox.ValueExternRef, sandbox.ValueF32}}
	raw := []uint64{0x0706050403020100, 0x0f0e0d0c0b0a0908, 0xffffffff, 0xc000123456, 0xc000abcdef, 0xc000123456, 0, 0x3fc00000}
	got := strings.Join(sandbox.FormatResults(sig, raw), "|")
	want := "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f|-1|funcref#1|externref#2|funcref#1|null|1.5"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Slots that do not fit the signature are printed raw, not invented
	// into typed values.
	if got := sandbox.FormatResults(sig, raw[:1]); len(got) != 1 || got[0] != "506097522914230528" {
		t.Errorf("one slot for a v128: %q", got)
	}
}

package meter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/wasm"
)

// nested returns depth nested empty block/loop/if instructions (for if, each
// preceded by i32.const 1) and their ends, without the function's end.
func nested(op byte, depth int) []byte {
	open := []byte{op, blockEmpty}
	if op == opIf {
		open = []byte{opI32Const, 1, opIf, blockEmpty}
	}
	return append(bytes.Repeat(open, depth), bytes.Repeat([]byte{opEnd}, depth)...)
}

// TestMaxNesting: a body nested exactly Options.MaxNesting deep is
// accepted, one level more is refused with a *LimitError naming the
// function and the offset of the instruction that opened one level too
// many.
func TestMaxNesting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opt   Options
		limit int
		op    byte
	}{
		{"default, blocks", Options{}, DefaultMaxNesting, opBlock},
		{"default, loops", Options{}, DefaultMaxNesting, opLoop},
		{"default, ifs", Options{}, DefaultMaxNesting, opIf},
		{"3, loops", Options{MaxNesting: 3}, 3, opLoop},
		{"1, blocks", Options{MaxNesting: 1}, 1, opBlock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Instrument(module(t, nested(tc.op, tc.limit), nil), tc.opt); err != nil {
				t.Fatalf("nesting %d refused: %v", tc.limit, err)
			}
			// Two functions (plus one import): the second is too deep.
			body := nested(tc.op, tc.limit+1)
			bin := module(t, body, func(m *wasm.Module) {
				m.Imports = []wasm.Import{{Module: "env", Name: "f", Kind: wasm.ExternFunc, TypeIndex: 0}}
				m.Functions = append(m.Functions, 0)
				m.Code = append([]wasm.Func{{Body: wasm.Expr{Code: []byte{opEnd}}}}, m.Code...)
			})
			_, err := Instrument(bin, tc.opt)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("nesting %d: error %v, want a *LimitError", tc.limit+1, err)
			}
			open := 2 // bytes per level: op, block type (if: i32.const 1 first)
			if tc.op == opIf {
				open = 4
			}
			// The body is the module's last bytes: body, then its end.
			wantOff := len(bin) - len(body) - 1 + tc.limit*open
			if tc.op == opIf {
				wantOff += 2 // the if itself, after its i32.const
			}
			want := LimitError{What: "control nesting", Limit: uint32(tc.limit), Func: 2, Table: -1, Offset: wantOff}
			if *le != want {
				t.Fatalf("got %+v, want %+v", *le, want)
			}
			if msg := fmt.Sprintf("instrument: function 2: offset %#x: control nesting exceeds the limit of %d", wantOff, tc.limit); err.Error() != msg {
				t.Fatalf("error %q, want %q", err, msg)
			}
		})
	}
}

// TestMaxNestingCompileTime: the deepest accepted nesting, instrumented,
// compiles quickly in wazero's compiler (quadratic in nesting: 8000 nested
// loops took 5-6 s). Loops are the worst case: each becomes four levels.
// docs/metering.md records the times.
func TestMaxNestingCompileTime(t *testing.T) {
	ctx := context.Background()
	compile := func(bin []byte) (time.Duration, error) {
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
		defer r.Close(ctx)
		start := time.Now()
		_, err := r.CompileModule(ctx, bin)
		return time.Since(start), err
	}
	for _, op := range []byte{opBlock, opLoop, opIf} {
		bin := module(t, nested(op, DefaultMaxNesting), nil)
		out, err := Instrument(bin, Options{})
		if err != nil {
			t.Fatal(err)
		}
		plain, err := compile(bin)
		if err != nil {
			t.Fatalf("opcode %#x: compile original: %v", op, err)
		}
		el, err := compile(out)
		if err != nil {
			t.Fatalf("opcode %#x: compile: %v", op, err)
		}
		t.Logf("opcode %#x nested %d deep: original compiled in %v; instrumented (%d bytes) in %v", op, DefaultMaxNesting, plain, len(out), el)
		if el > 5*time.Second {
			t.Errorf("opcode %#x nested %d deep: compile took %v", op, DefaultMaxNesting, el)
		}
	}
}

// TestMaxTableElements: a table.grow that would take a table past
// Options.MaxTableElements returns -1 (the spec's failure value), leaves
// the table unchanged and sets DeniedGlobal; grows up to the limit succeed,
// fill the new elements and leave DeniedGlobal at 0. Operands below the
// grow survive it (grow_twice). denied is DeniedGlobal after the step; the
// test resets it to 0 after each denial, as a host keeping the instance may.
func TestMaxTableElements(t *testing.T) {
	const neg1 = 0xffffffff
	type step struct {
		fn     string
		args   []uint64
		want   uint64
		denied uint64
	}
	for engine := range engines {
		t.Run(engine, func(t *testing.T) {
			m := instantiate(t, engine, "meter_tablegrow", Options{MaxTableElements: 10}, ample())
			denied, ok := m.ExportedGlobal(DeniedGlobal).(api.MutableGlobal)
			if !ok {
				t.Fatalf("no mutable %s global", DeniedGlobal)
			}
			for i, s := range []step{
				{"grow_funcs", []uint64{3}, 2, 0},
				{"size_funcs", nil, 5, 0},
				{"is_set", []uint64{4}, 1, 0},
				{"grow_funcs", []uint64{6}, neg1, 1}, // 5+6 > 10
				{"size_funcs", nil, 5, 0},
				{"grow_funcs", []uint64{0xfffffffe}, neg1, 1},
				{"grow_funcs", []uint64{0xffffffff}, neg1, 1},
				{"size_funcs", nil, 5, 0},
				{"grow_funcs", []uint64{5}, 5, 0}, // exactly the limit
				{"size_funcs", nil, 10, 0},
				{"is_set", []uint64{9}, 1, 0},
				{"grow_funcs", []uint64{0}, 10, 0},
				{"grow_funcs", []uint64{1}, neg1, 1},
				{"size_funcs", nil, 10, 0},
				{"grow_twice", []uint64{4, 7}, 0 + neg1, 1}, // 0, then 4+7 > 10
				{"size_externs", nil, 4, 0},
				{"grow_twice", []uint64{3, 3}, 4 + 7, 0},
				{"size_externs", nil, 10, 0},
				{"grow_externs", []uint64{1}, neg1, 1},
				{"size_externs", nil, 10, 0},
			} {
				res, err := call(t, m, s.fn, s.args...)
				if err != nil {
					t.Fatalf("step %d %s%v: %v", i, s.fn, s.args, err)
				}
				if got := uint32(res[0]); uint64(got) != s.want&0xffffffff {
					t.Fatalf("step %d %s%v = %d, want %d", i, s.fn, s.args, int32(got), int32(uint32(s.want)))
				}
				if got := denied.Get(); got != s.denied {
					t.Fatalf("step %d %s%v: %s = %d, want %d", i, s.fn, s.args, DeniedGlobal, got, s.denied)
				}
				denied.Set(0)
			}
		})
	}
}

// TestDefaultMaxTableElements: without the option, tables stop at
// DefaultMaxTableElements; defined tables declaring more are refused.
func TestDefaultMaxTableElements(t *testing.T) {
	m := instantiate(t, "interpreter", "meter_tablegrow", Options{}, ample())
	for _, s := range []struct {
		fn                string
		arg, want, denied uint64
	}{
		{"grow_externs", 0, 0, 0},
		{"grow_externs", DefaultMaxTableElements + 1, 0xffffffff, 1},
		{"grow_externs", DefaultMaxTableElements, 0, 1}, // nothing resets it
		{"grow_externs", 1, 0xffffffff, 1},
	} {
		res, err := call(t, m, s.fn, s.arg)
		if err != nil || uint32(res[0]) != uint32(s.want) {
			t.Fatalf("%s(%d) = %v, %v; want %d", s.fn, s.arg, res, err, int32(uint32(s.want)))
		}
		if got := m.ExportedGlobal(DeniedGlobal).Get(); got != s.denied {
			t.Fatalf("after %s(%d): %s = %d, want %d", s.fn, s.arg, DeniedGlobal, got, s.denied)
		}
	}

	for _, tc := range []struct {
		min   uint64
		opt   Options
		limit uint32 // 0: accepted
	}{
		{DefaultMaxTableElements, Options{}, 0},
		{DefaultMaxTableElements + 1, Options{}, DefaultMaxTableElements},
		{10, Options{MaxTableElements: 10}, 0},
		{11, Options{MaxTableElements: 10}, 10},
	} {
		bin := module(t, nil, func(m *wasm.Module) {
			m.Imports = []wasm.Import{{Module: "env", Name: "t", Kind: wasm.ExternTable, Table: wasm.Table{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 1 << 30}}}}
			m.Tables = []wasm.Table{{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 1}}, {Elem: wasm.ExternRef, Limits: wasm.Limits{Min: tc.min}}}
		})
		_, err := Instrument(bin, tc.opt)
		if tc.limit == 0 {
			if err != nil {
				t.Errorf("table of %d with %+v refused: %v", tc.min, tc.opt, err)
			}
			continue
		}
		var le *LimitError
		// Table 2: after the imported one and the first defined one.
		want := LimitError{What: "table elements", Limit: tc.limit, Func: -1, Table: 2, Offset: -1}
		if !errors.As(err, &le) || *le != want {
			t.Errorf("table of %d with %+v: error %v, want %+v", tc.min, tc.opt, err, want)
		}
	}
}

// TestMemoryBudget: TablesGlobal starts at the declared tables' bytes and
// grows with every successful table.grow; a grow that would take tables
// plus MemoryGlobal (which the host sets) past Options.MemoryBudget fails
// like one past MaxTableElements, and adds nothing.
func TestMemoryBudget(t *testing.T) {
	const neg1 = 0xffffffff
	for engine := range engines {
		t.Run(engine, func(t *testing.T) {
			// meter_tablegrow declares 2 funcref elements: 16 bytes.
			m := instantiate(t, engine, "meter_tablegrow", Options{MaxTableElements: 1000, MemoryBudget: 96}, ample())
			tables := m.ExportedGlobal(TablesGlobal)
			memory, ok := m.ExportedGlobal(MemoryGlobal).(api.MutableGlobal)
			if !ok || tables == nil {
				t.Fatal("no tables or memory global")
			}
			denied := m.ExportedGlobal(DeniedGlobal).(api.MutableGlobal)
			for i, s := range []struct {
				fn           string
				arg          uint64
				memory       uint64 // MemoryGlobal before the call
				want, tables uint64
				denied       uint64
			}{
				{"size_funcs", 0, 0, 2, 16, 0},
				{"grow_funcs", 5, 0, 2, 56, 0},
				{"grow_externs", 6, 0, neg1, 56, 1}, // 56 + 48 > 96
				{"grow_externs", 5, 0, 0, 96, 0},    // exactly the budget
				{"grow_funcs", 0, 0, 7, 96, 0},
				{"grow_funcs", 1, 0, neg1, 96, 1},
				{"grow_externs", 0, 8, neg1, 96, 1}, // memory counts too
				{"size_externs", 0, 8, 5, 96, 0},
			} {
				memory.Set(s.memory)
				var args []uint64
				if s.fn != "size_funcs" && s.fn != "size_externs" {
					args = []uint64{s.arg}
				}
				res, err := call(t, m, s.fn, args...)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if uint32(res[0]) != uint32(s.want) || tables.Get() != s.tables || denied.Get() != s.denied {
					t.Fatalf("step %d %s(%d): result %d, tables %d, denied %d; want %d, %d, %d", i, s.fn, s.arg,
						int32(uint32(res[0])), tables.Get(), denied.Get(), int32(uint32(s.want)), s.tables, s.denied)
				}
				denied.Set(0)
			}
		})
	}
}

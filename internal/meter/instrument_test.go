package meter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
)

// TestIndexShift checks every place a function index lives after the two
// imports are added, on a module with an import, a start function, an
// element segment, ref.func, exports and a name section.
func TestIndexShift(t *testing.T) {
	out, err := Instrument(fixture.Bytes(t, "meter_names"), Options{StackDepth: 77})
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasm.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	var imports []string
	for _, im := range m.Imports {
		ft := m.Types[im.TypeIndex]
		imports = append(imports, fmt.Sprintf("%s.%s%v->%v", im.Module, im.Name, ft.Params, ft.Results))
	}
	if want := []string{"env.log[i32]->[]", "wasmward.fuel[i64]->[i64]", "wasmward.stack_exhausted[]->[]"}; !reflect.DeepEqual(imports, want) {
		t.Errorf("imports %v, want %v", imports, want)
	}
	exports := map[string]string{}
	for _, ex := range m.Exports {
		exports[ex.Name] = fmt.Sprintf("%s %d", ex.Kind, ex.Index)
	}
	if want := map[string]string{"pair": "func 3", "main": "func 5", FuelGlobal: "global 1", DepthGlobal: "global 2", DeniedGlobal: "global 3", ResetFunc: "func 7"}; !reflect.DeepEqual(exports, want) {
		t.Errorf("exports %v, want %v", exports, want)
	}
	if !m.HasStart || m.Start != 6 {
		t.Errorf("start %d, want 6", m.Start)
	}
	if got := m.Elements[0].Funcs; !reflect.DeepEqual(got, []uint32{3, 4}) {
		t.Errorf("element funcs %v, want [3 4]", got)
	}
	if got := string(m.Globals[1].Init.Code) + string(m.Globals[2].Init.Code); got != "\x42\x00\x0b\x41\xcd\x00\x0b" {
		t.Errorf("global inits % x, want i64.const 0 / i32.const 77", got)
	}
	if m.Names == nil {
		t.Fatal("name section lost")
	}
	var names []string
	for _, n := range m.Names.Functions {
		names = append(names, fmt.Sprintf("%d:%s", n.Index, n.Name))
	}
	if want := []string{"0:log", "1:wasmward.fuel", "2:wasmward.stack_exhausted", "3:pair", "4:swap", "5:main", "6:init"}; !reflect.DeepEqual(names, want) {
		t.Errorf("function names %v, want %v", names, want)
	}
	var locals []string
	for _, l := range m.Names.Locals {
		for _, n := range l.Names {
			locals = append(locals, fmt.Sprintf("%d.%d:%s", l.Index, n.Index, n.Name))
		}
	}
	if want := []string{"3.0:x", "4.0:a", "4.1:b", "5.0:t"}; !reflect.DeepEqual(locals, want) {
		t.Errorf("local names %v, want %v", locals, want)
	}

	// The instrumented module runs and computes what the original does.
	ctx := context.Background()
	var logged []uint32
	run := func(bin []byte, metered bool) (uint64, []uint32) {
		logged = nil
		r := wazero.NewRuntime(ctx)
		defer r.Close(ctx)
		if _, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().
			WithFunc(func(_ context.Context, v uint32) { logged = append(logged, v) }).Export("log").
			Instantiate(ctx); err != nil {
			t.Fatal(err)
		}
		if metered {
			host := ample()
			if _, err := r.NewHostModuleBuilder(ImportModule).
				NewFunctionBuilder().WithFunc(host.fuel).Export(FuelFunc).
				NewFunctionBuilder().WithFunc(func(context.Context) { panic(errStackLimit) }).Export(StackFunc).
				Instantiate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		mod, err := r.Instantiate(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		res, err := mod.ExportedFunction("main").Call(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res[0], logged
	}
	wantRes, wantLog := run(fixture.Bytes(t, "meter_names"), false)
	gotRes, gotLog := run(out, true)
	if gotRes != wantRes || !reflect.DeepEqual(gotLog, wantLog) {
		t.Errorf("instrumented main = %d, log %v; original %d, log %v", gotRes, gotLog, wantRes, wantLog)
	}
}

// module builds a small module with internal/wasm's encoder: one function
// of type () -> () with the given body (without its final end), plus what
// edit adds.
func module(t *testing.T, body []byte, edit func(m *wasm.Module)) []byte {
	t.Helper()
	m := &wasm.Module{
		Types:     []wasm.FuncType{{}},
		Functions: []uint32{0},
		Code:      []wasm.Func{{Body: wasm.Expr{Code: append(append([]byte(nil), body...), 0x0b)}}},
	}
	if edit != nil {
		edit(m)
	}
	bin, err := wasm.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestRefuses covers what Instrument must not accept. The out-of-range
// index cases are hostile: each names the first index past the original
// ones, which after instrumentation would be the meter's own state (the
// fuel global, a scratch local, the wrapper block, an added type).
func TestRefuses(t *testing.T) {
	valid := module(t, nil, nil)
	tests := []struct {
		name    string
		bin     []byte
		opt     Options
		wantIs  error
		wantMsg string
	}{
		{name: "not wasm", bin: []byte("hello world"), wantMsg: "bad magic"},
		{name: "truncated", bin: valid[:len(valid)-3], wantMsg: "decode module"},
		{name: "empty", bin: nil, wantMsg: "decode module"},
		{name: "component", bin: []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0}, wantMsg: "component"},
		{name: "stack depth too large", bin: valid, opt: Options{StackDepth: math.MaxInt32 + 1}, wantMsg: "stack depth"},
		{
			name: "imports wasmward.fuel", wantIs: ErrAlreadyMetered,
			bin: module(t, nil, func(m *wasm.Module) {
				m.Imports = []wasm.Import{{Module: ImportModule, Name: FuelFunc, Kind: wasm.ExternFunc, TypeIndex: 0}}
			}),
		},
		{
			name: "imports wasmward.stack_exhausted", wantIs: ErrAlreadyMetered,
			bin: module(t, nil, func(m *wasm.Module) {
				m.Imports = []wasm.Import{{Module: ImportModule, Name: StackFunc, Kind: wasm.ExternFunc, TypeIndex: 0}}
			}),
		},
		{
			name: "exports wasmward.fuel", wantIs: ErrAlreadyMetered,
			bin: module(t, nil, func(m *wasm.Module) {
				m.Globals = []wasm.Global{{Type: wasm.GlobalType{Val: wasm.I64, Mutable: true}, Init: constExpr(opI64Const, 0)}}
				m.Exports = []wasm.Export{{Name: FuelGlobal, Kind: wasm.ExternGlobal, Index: 0}}
			}),
		},
		{
			name: "exports wasmward.denied", wantIs: ErrAlreadyMetered,
			bin: module(t, nil, func(m *wasm.Module) {
				m.Globals = []wasm.Global{{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: constExpr(opI32Const, 0)}}
				m.Exports = []wasm.Export{{Name: DeniedGlobal, Kind: wasm.ExternGlobal, Index: 0}}
			}),
		},
		{
			name: "sets the global past its own (the fuel counter)", wantMsg: "unknown global 0",
			// i64.const 1<<62; global.set 0
			bin: module(t, []byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xc0, 0x00, 0x24, 0x00}, nil),
		},
		{
			name: "writes the local past its own (the saved depth)", wantMsg: "unknown local 1",
			// i32.const 0; local.set 1 (function has no params, one i64 local)
			bin: module(t, []byte{0x41, 0x00, 0x21, 0x01}, func(m *wasm.Module) {
				m.Code[0].Locals = []wasm.LocalDecl{{Count: 1, Type: wasm.I64}}
			}),
		},
		{
			name: "branches past the function label (skipping the restore)", wantMsg: "unknown label 1",
			bin: module(t, []byte{0x0c, 0x01}, nil), // br 1
		},
		{
			name: "br_table past the function label", wantMsg: "unknown label 2",
			bin: module(t, []byte{0x02, 0x40, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x02, 0x0b}, nil), // block; br_table 0 2; end
		},
		{
			name: "exports the global past its own", wantMsg: `export "g": unknown global 0`,
			bin: module(t, nil, func(m *wasm.Module) {
				m.Exports = []wasm.Export{{Name: "g", Kind: wasm.ExternGlobal, Index: 0}}
			}),
		},
		{
			name: "calls an added type", wantMsg: "unknown type 1",
			bin: module(t, []byte{0x41, 0x00, 0x11, 0x01, 0x00}, func(m *wasm.Module) { // call_indirect type 1
				m.Tables = []wasm.Table{{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 1}}}
			}),
		},
		{
			name: "legacy exceptions",
			bin:  module(t, []byte{0x06, 0x40, 0x0b}, nil), // try; end
			// Decode may refuse it or Instrument does; either way it is refused.
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.bin, tc.opt)
			if err == nil {
				t.Fatalf("accepted (%d bytes out)", len(out))
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v, want %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestInstrumentTwiceRefused: the output already uses the namespace.
func TestInstrumentTwiceRefused(t *testing.T) {
	out, err := Instrument(fixture.Bytes(t, "meter_cost"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Instrument(out, Options{}); !errors.Is(err, ErrAlreadyMetered) {
		t.Fatalf("second Instrument: %v, want %v", err, ErrAlreadyMetered)
	}
}

// TestInputUnchanged: Instrument must not write into the caller's bytes.
func TestInputUnchanged(t *testing.T) {
	for _, name := range []string{"meter_cost", "meter_depth", "meter_names", "meter_tailcall"} {
		in := fixture.Bytes(t, name)
		orig := append([]byte(nil), in...)
		if _, err := Instrument(in, Options{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(in) != string(orig) {
			t.Errorf("%s: input modified", name)
		}
	}
}

// TestDefaultStackDepth: a zero Options bakes in the policy's default.
func TestDefaultStackDepth(t *testing.T) {
	m := instantiate(t, "interpreter", "meter_depth", Options{}, ample())
	if got := m.ExportedGlobal(DepthGlobal).Get(); got != policy.DefaultStackDepth {
		t.Errorf("%s = %d, want %d", DepthGlobal, got, policy.DefaultStackDepth)
	}
	if m.ExportedGlobal(FuelGlobal).Type() != api.ValueTypeI64 {
		t.Errorf("%s is not i64", FuelGlobal)
	}
	if g, ok := m.ExportedGlobal(DeniedGlobal).(api.MutableGlobal); !ok || g.Type() != api.ValueTypeI32 || g.Get() != 0 {
		t.Errorf("%s is not a mutable i32 starting at 0", DeniedGlobal)
	}
}

package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

func newRuntime(t *testing.T) *sandbox.Runtime {
	t.Helper()
	rt, err := sandbox.New(context.Background(), sandbox.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

type runResult struct {
	stdout string
	exit   int
	fuel   uint64
}

func run(t *testing.T, rt *sandbox.Runtime, bin []byte, args []string) runResult {
	t.Helper()
	p := policy.Default()
	p.Limits.Fuel = 1 << 40 // metered, so that the fuel of a run is reported
	mod, err := rt.Compile(context.Background(), bin, p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mod.Close(context.Background()) }()
	var out bytes.Buffer
	rep, err := mod.Run(context.Background(), sandbox.Invocation{Args: args, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != sandbox.OutcomeExit || rep.Violation != nil {
		t.Fatalf("run %v: outcome %s violation %v trap %q", args, rep.Outcome, rep.Violation, rep.Trap)
	}
	return runResult{stdout: out.String(), exit: rep.ExitCode, fuel: rep.FuelUsed}
}

// A snapshot of each C fixture behaves as the original does after its
// initialisation, on every input, and does not redo the initialisation: it
// says init ran once, and spends less fuel by at least what init cost.
func TestSnapshotBehavesLikeInitThenRun(t *testing.T) {
	rt := newRuntime(t)
	cases := []struct {
		fixture, init string
		inputs        [][]string
		want          string // in the output of the first input
	}{
		{"snap_heavy", "wizer.initialize", [][]string{nil, {"0", "148932"}, {"99999999"}}, "primes=148933 init_runs=1 checksum=967a181e"},
		{"snap_counter", "wizer-initialize", [][]string{nil, {"5"}, {"2000"}}, "counter=42 init_runs=1 greeting=hello from init #1"},
		{"snap_table", "wizer.initialize", [][]string{{"abc"}, {"", "wasmward"}}, "crc32(abc)=352441c2"},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			orig := fixture.Bytes(t, c.fixture)
			res, err := Snapshot(context.Background(), orig, Options{Runtime: rt})
			if err != nil {
				t.Fatal(err)
			}
			if res.InitFunc != c.init {
				t.Errorf("init func %q, want %q", res.InitFunc, c.init)
			}
			for i, in := range c.inputs {
				want, got := run(t, rt, orig, in), run(t, rt, res.Module, in)
				if got.stdout != want.stdout || got.exit != want.exit {
					t.Errorf("input %q: snapshot printed %q exit %d; original %q exit %d", in, got.stdout, got.exit, want.stdout, want.exit)
				}
				if i == 0 && !strings.Contains(got.stdout, c.want) {
					t.Errorf("input %q: output %q lacks %q", in, got.stdout, c.want)
				}
				if saved := int64(want.fuel) - int64(got.fuel); saved < int64(res.Init.FuelUsed)*9/10 {
					t.Errorf("input %q: the snapshot run used %d fuel, the original %d: it saved %d, init costs %d (init repeated?)", in, got.fuel, want.fuel, saved, res.Init.FuelUsed)
				}
			}
		})
	}
}

// Module building for the tests: one memory, globals $s and $g (mutable
// i32), and functions start (s += 1), _initialize (s += 10), the init
// export (g += 100, grows the memory by a page, stores 77 at 1000 and 5 at
// 70000) and get (s + g + mem[1000] + mem[70000]).
const (
	fnStart = iota
	fnInitialize
	fnInit
	fnGet
)

func onceModule() *wasm.Module {
	i32 := []wasm.ValType{wasm.I32}
	body := func(b ...byte) wasm.Func { return wasm.Func{Body: wasm.Expr{Code: b}} }
	return &wasm.Module{
		Types:     []wasm.FuncType{{}, {Results: i32}},
		Functions: []uint32{0, 0, 0, 1},
		Memories:  []wasm.Memory{{Limits: wasm.Limits{Min: 1, Max: 4, HasMax: true}}},
		Globals: []wasm.Global{
			{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: i32Const(0)},
			{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: i32Const(0)},
		},
		Exports: []wasm.Export{
			{Name: "_initialize", Kind: wasm.ExternFunc, Index: fnInitialize},
			{Name: "wizer.initialize", Kind: wasm.ExternFunc, Index: fnInit},
			{Name: "get", Kind: wasm.ExternFunc, Index: fnGet},
			{Name: "memory", Kind: wasm.ExternMemory, Index: 0},
		},
		Start: fnStart, HasStart: true,
		Code: []wasm.Func{
			body(0x23, 0, 0x41, 1, 0x6a, 0x24, 0, 0x0b),
			body(0x23, 0, 0x41, 10, 0x6a, 0x24, 0, 0x0b),
			body(0x23, 1, 0x41, 0xe4, 0x00, 0x6a, 0x24, 1,
				0x41, 1, 0x40, 0, 0x1a,
				0x41, 0xe8, 0x07, 0x41, 0xcd, 0x00, 0x36, 2, 0,
				0x41, 0xf0, 0xa2, 0x04, 0x41, 5, 0x36, 2, 0, 0x0b),
			body(0x23, 0, 0x23, 1, 0x6a, 0x41, 0xe8, 0x07, 0x28, 2, 0, 0x6a, 0x41, 0xf0, 0xa2, 0x04, 0x28, 2, 0, 0x6a, 0x0b),
		},
		Data: []wasm.Data{{Flags: 0, Mode: wasm.ModeActive, Offset: i32Const(2000), Init: []byte("seed")}},
	}
}

func encode(t *testing.T, m *wasm.Module) []byte {
	t.Helper()
	b, err := wasm.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func callGet(t *testing.T, rt *sandbox.Runtime, bin []byte, init string) uint64 {
	t.Helper()
	mod, err := rt.Compile(context.Background(), bin, policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mod.Close(context.Background()) }()
	in, err := mod.Instantiate(context.Background(), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	for _, f := range []string{init, "get"} {
		if f == "" {
			continue
		}
		var rep sandbox.CallReport
		if err := in.Call(context.Background(), &sandbox.Call{Function: f}, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Failed() {
			t.Fatalf("%s: %s", f, rep.Reason())
		}
		if f == "get" {
			return rep.Results[0]
		}
	}
	return 0
}

// The start function, _initialize and the init export each ran exactly
// once when the snapshot was made, and none of them runs again when the
// snapshot is instantiated: get sees s = 1 + 10, g = 100 and the stores.
func TestInitSideEffectsNotRepeated(t *testing.T) {
	rt := newRuntime(t)
	orig := encode(t, onceModule())
	const want = 1 + 10 + 100 + 77 + 5
	if got := callGet(t, rt, orig, "wizer.initialize"); got != want {
		t.Fatalf("original after init: get = %d, want %d", got, want)
	}
	res, err := Snapshot(context.Background(), orig, Options{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	if got := callGet(t, rt, res.Module, ""); got != want {
		t.Fatalf("snapshot: get = %d, want %d (an initialisation ran again or state was lost)", got, want)
	}
	m, err := wasm.Decode(res.Module)
	if err != nil {
		t.Fatal(err)
	}
	if m.HasStart {
		t.Error("the snapshot keeps the start function")
	}
	var names []string
	for _, x := range m.Exports {
		names = append(names, x.Name)
	}
	if strings.Join(names, ",") != "get,memory" {
		t.Errorf("exports %v, want [get memory]", names)
	}
	if l := m.Memories[0].Limits; l.Min != 2 || l.Max != 4 || !l.HasMax {
		t.Errorf("memory limits %+v, want min 2 (grown), max 4", l)
	}
	// The original active segment is an empty passive one (indices kept);
	// the state is in active segments: "seed" at 2000, 77 at 1000, 5 at
	// 70000 (1000 and 2000 are too far apart to merge).
	type seg struct {
		mode wasm.SegmentMode
		off  int64
		data string
	}
	var got []seg
	for _, d := range m.Data {
		off, _ := d.Offset.ConstInt()
		got = append(got, seg{d.Mode, off, string(d.Init)})
	}
	wantSegs := []seg{{wasm.ModePassive, 0, ""}, {wasm.ModeActive, 1000, "M"}, {wasm.ModeActive, 2000, "seed"}, {wasm.ModeActive, 70000, "\x05"}}
	if len(got) != len(wantSegs) {
		t.Fatalf("data segments %+v, want %+v", got, wantSegs)
	}
	for i := range got {
		if got[i] != wantSegs[i] {
			t.Errorf("segment %d = %+v, want %+v", i, got[i], wantSegs[i])
		}
	}
	for i, want := range []int64{11, 100} {
		if v, ok := m.Globals[i].Init.ConstInt(); !ok || v != want {
			t.Errorf("global %d initialiser = %d (%v), want %d", i, v, ok, want)
		}
	}
}

// Every mutable global type a snapshot captures keeps its exact value,
// bits included (a negative zero, a NaN payload, the i64 sign).
func TestGlobalValuesExact(t *testing.T) {
	rt := newRuntime(t)
	m := onceModule()
	m.HasStart = false
	f32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32([]byte{0x43}, v) }
	f64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64([]byte{0x44}, v) }
	m.Globals = append(m.Globals,
		wasm.Global{Type: wasm.GlobalType{Val: wasm.I64, Mutable: true}, Init: wasm.Expr{Code: []byte{0x42, 0, 0x0b}}},
		wasm.Global{Type: wasm.GlobalType{Val: wasm.F32, Mutable: true}, Init: wasm.Expr{Code: append(f32(0), 0x0b)}},
		wasm.Global{Type: wasm.GlobalType{Val: wasm.F64, Mutable: true}, Init: wasm.Expr{Code: append(f64(0), 0x0b)}},
	)
	const nan32 = 0x7fc01234
	code := []byte{0x42}
	code = wasm.AppendS64(code, math.MinInt64+5)
	code = append(code, 0x24, 2)
	code = append(append(code, f32(nan32)...), 0x24, 3)
	code = append(append(code, f64(math.Float64bits(math.Copysign(0, -1)))...), 0x24, 4)
	m.Code[fnInit] = wasm.Func{Body: wasm.Expr{Code: append(code, 0x0b)}}
	res, err := Snapshot(context.Background(), encode(t, m), Options{Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	out, err := wasm.Decode(res.Module)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := out.Globals[2].Init.ConstInt(); !ok || v != math.MinInt64+5 {
		t.Errorf("i64 global = %d, want %d", v, int64(math.MinInt64+5))
	}
	if got, want := out.Globals[3].Init.Code, append(f32(nan32), 0x0b); !bytes.Equal(got, want) {
		t.Errorf("f32 global initialiser % x, want % x", got, want)
	}
	if got, want := out.Globals[4].Init.Code, append(f64(math.Float64bits(math.Copysign(0, -1))), 0x0b); !bytes.Equal(got, want) {
		t.Errorf("f64 global initialiser % x, want % x", got, want)
	}
}

func TestRenames(t *testing.T) {
	rt := newRuntime(t)
	orig := encode(t, onceModule())
	cases := []struct {
		name    string
		renames map[string]string
		keep    bool
		want    string // exports, or the error
	}{
		{"rename", map[string]string{"value": "get"}, false, "value,memory"},
		{"overwrite", map[string]string{"get": "wizer.initialize"}, true, "get,memory"},
		{"keep init", nil, true, "wizer.initialize,get,memory"},
		{"missing source", map[string]string{"x": "nope"}, false, `rename x=nope: the module exports no function "nope"`},
		{"init removed", map[string]string{"x": "wizer.initialize"}, false, "the init export is removed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Snapshot(context.Background(), orig, Options{Runtime: rt, Renames: c.renames, KeepInitFunc: c.keep})
			if err != nil {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want ErrRefused containing %q", err, c.want)
				}
				return
			}
			m, err := wasm.Decode(res.Module)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, x := range m.Exports {
				names = append(names, x.Name)
			}
			if got := strings.Join(names, ","); got != c.want {
				t.Errorf("exports %s, want %s", got, c.want)
			}
		})
	}
}

// A Go reactor (-buildmode=c-shared) snapshotted after its _initialize (the
// Go runtime's start-up and package init) answers as the original does,
// and its runs no longer pay for the runtime's start-up.
func TestGoReactorAfterInitialize(t *testing.T) {
	rt := newRuntime(t)
	orig := fixture.Bytes(t, "snap_goreactor")
	res, err := Snapshot(context.Background(), orig, Options{Runtime: rt, InitFunc: "_initialize"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Init.FuelUsed != 0 {
		t.Errorf("_initialize was called again after instantiation (%d fuel)", res.Init.FuelUsed)
	}
	p := policy.Default()
	p.Limits.Fuel = 1 << 40
	type out struct {
		results []uint64
		fuel    uint64
	}
	invoke := func(bin []byte) out {
		mod, err := rt.Compile(context.Background(), bin, p)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = mod.Close(context.Background()) }()
		rep, err := mod.Run(context.Background(), sandbox.Invocation{Function: "next"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Outcome != sandbox.OutcomeExit || rep.Violation != nil {
			t.Fatalf("next: %s %v %s", rep.Outcome, rep.Violation, rep.Trap)
		}
		return out{rep.Results, rep.FuelUsed}
	}
	a, b := invoke(orig), invoke(res.Module)
	if len(a.results) != 1 || a.results[0] != 2 || len(b.results) != 1 || b.results[0] != 2 {
		t.Fatalf("next() = %v from the original, %v from the snapshot; want [2] (1*1 + 1)", a.results, b.results)
	}
	if b.fuel*100 > a.fuel {
		t.Errorf("a run of the snapshot used %d fuel, of the original %d: the Go runtime's start-up was not skipped", b.fuel, a.fuel)
	}
	m, err := wasm.Decode(res.Module)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range m.Exports {
		if x.Name == "_initialize" {
			t.Error("the snapshot still exports _initialize")
		}
	}
}

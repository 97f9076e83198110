package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// emitRuntime is a runtime whose host functions "emit" and "emit_to"
// record what the guest emits in the instance's data.
func emitRuntime(t *testing.T) *sandbox.Runtime {
	t.Helper()
	i32 := api.ValueTypeI32
	rec := func(_ context.Context, c sandbox.HostCall, stack []uint64) {
		out := c.Data().(*[]string)
		*out = append(*out, string(c.Read("emit", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))))
	}
	cfg := sandbox.NewConfig().WithHostFunctions(
		sandbox.HostFunction{Name: "emit", Params: []api.ValueType{i32, i32}, Fn: rec},
		sandbox.HostFunction{Name: "emit_to", Params: []api.ValueType{i32, i32, i32, i32}, Fn: rec,
			Grant: func(p policy.Policy) error {
				if len(p.Events.Subjects) == 0 {
					return errors.New("no subjects granted")
				}
				return nil
			}})
	rt, err := sandbox.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// TestInstanceCalls: an Instance keeps its globals and memory across
// calls, each call has its own fuel budget, and a trap breaks it.
func TestInstanceCalls(t *testing.T) {
	rt := emitRuntime(t)
	bin := fixture.Bytes(t, "ev_test")
	p := policy.Default()
	p.Limits.Fuel = 2_000_000
	if _, err := rt.Compile(context.Background(), bin, p); err == nil || !strings.Contains(err.Error(),
		"capability_denied: import wasmward.emit_to: no subjects granted") {
		t.Fatalf("compile without the grant: %v", err)
	}
	p.Events.Subjects = []string{">"}
	mod, err := rt.Compile(context.Background(), bin, p)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(context.Background())
	var out []string
	in, err := mod.Instantiate(context.Background(), "ev_test", &out)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	call := func(ev string) sandbox.CallReport {
		var rep sandbox.CallReport
		if err := in.Call(context.Background(), &sandbox.Call{Function: "alloc", Params: []uint64{uint64(len(ev))}}, &rep); err != nil {
			t.Fatal(err)
		}
		ptr := api.DecodeU32(rep.Results[0])
		in.Memory().Write(ptr, []byte(ev))
		if err := in.Call(context.Background(), &sandbox.Call{Function: "process_event", Params: []uint64{uint64(ptr), uint64(len(ev))}}, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	for i := 0; i < 3; i++ {
		// Each call may burn 1.8M units of a 2M budget: only per call.
		if rep := call("w:1"); rep.Failed() || rep.FuelUsed < 1_000_000 {
			t.Fatalf("call %d: %s, fuel %d", i, rep.Reason(), rep.FuelUsed)
		}
	}
	if rep := call("c:"); rep.Failed() {
		t.Fatal(rep.Reason())
	}
	if strings.Join(out, ",") != "w,w,w,4" {
		t.Fatalf("emitted %q, want w,w,w,4 (the count kept across calls)", out)
	}
	rep := call("t:")
	if rep.Outcome != sandbox.OutcomeTrap || in.Broken() == "" {
		t.Fatalf("trap: outcome %s broken %q", rep.Outcome, in.Broken())
	}
	err = in.Call(context.Background(), &sandbox.Call{Function: "alloc", Params: []uint64{1}}, &rep)
	if !errors.Is(err, sandbox.ErrInvoke) || !strings.Contains(err.Error(), "the instance is broken (trap: wasm error: unreachable)") {
		t.Fatalf("call after the trap: %v", err)
	}

}

package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// The reset function cannot be reached by a guest or a caller by name: a
// module that exports a function, global or memory called wasmward.reset
// (hoping the host would call its own code as the reset, leaving state
// behind) is refused at compile time, and an Instance refuses to call the
// meter's.
func TestReuseResetName(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t)
	for _, kind := range []wasm.ExternKind{wasm.ExternFunc, wasm.ExternGlobal} {
		m, err := wasm.Decode(synth.Module(1, []byte{0x0b}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if kind == wasm.ExternGlobal {
			m.Globals = append(m.Globals, wasm.Global{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: wasm.Expr{Code: []byte{0x41, 0, 0x0b}}})
		}
		m.Exports = append(m.Exports, wasm.Export{Name: "wasmward.reset", Kind: kind})
		bin, err := wasm.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rt.Compile(ctx, bin, policy.Default())
		var ref *sandbox.Refusal
		if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindInvalidModule || !strings.Contains(err.Error(), `export "wasmward.reset"`) {
			t.Errorf("a module exporting a %s named wasmward.reset: %v, want refused as invalid", kind, err)
		}
	}
	in, err := compile(t, rt, "sb_reuse", reusePolicy()).Instantiate(ctx, "sb_reuse", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	var rep sandbox.CallReport
	if err := in.Call(ctx, &sandbox.Call{Function: "wasmward.reset"}, &rep); !errors.Is(err, sandbox.ErrInvoke) || in.Exports("wasmward.reset") {
		t.Fatalf("Instance.Call of the reset function: %v", err)
	}
}

package sandbox

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Stopping a guest relies on wazero wrapping a host function's panic value
// with %w: errors.As must find the violation in the call's error.
func TestHostPanicIsWrapped(t *testing.T) {
	ctx := context.Background()
	for _, rc := range []wazero.RuntimeConfig{wazero.NewRuntimeConfigCompiler(), wazero.NewRuntimeConfigInterpreter()} {
		r := wazero.NewRuntimeWithConfig(ctx, rc)
		_, err := r.NewHostModuleBuilder("h").NewFunctionBuilder().
			WithGoFunction(api.GoFunc(func(context.Context, []uint64) {
				panic(&violationError{Kind: KindOutputLimit, Detail: "x"})
			}), nil, nil).Export("stop").Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// (module (import "h" "stop" (func)) (func (export "f") call 0))
		bin := []byte("\x00asm\x01\x00\x00\x00" +
			"\x01\x04\x01\x60\x00\x00" +
			"\x02\x0a\x01\x01h\x04stop\x00\x00" +
			"\x03\x02\x01\x00" +
			"\x07\x05\x01\x01f\x00\x01" +
			"\x0a\x06\x01\x04\x00\x10\x00\x0b")
		mod, err := r.Instantiate(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mod.ExportedFunction("f").Call(ctx)
		var v *violationError
		if !errors.As(err, &v) || v.Kind != KindOutputLimit {
			t.Errorf("errors.As(%v) found %+v", err, v)
		}
		_ = r.Close(ctx)
	}
}

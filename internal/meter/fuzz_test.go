package meter

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

// fuzzFeatures is everything wazero 1.12 can compile.
const fuzzFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall | experimental.CoreFeaturesExtendedConst |
	experimental.CoreFeaturesThreads | experimental.CoreFeaturesExceptionHandling | experimental.CoreFeaturesTypedFunctionReferences

// FuzzInstrument feeds modules through instrument-then-validate. Properties:
// Instrument never panics; it refuses what internal/wasm cannot decode; for
// the rest, whenever wazero accepts the input, Instrument
// accepts it (unless it already uses the wasmward namespace) and wazero
// accepts the output; when wazero refuses the input, it refuses the output
// too (instrumentation must not make an invalid module valid: the indices
// it adds are the meter's own state). The seed corpus is in
// testdata/fuzz/FuzzInstrument plus the meter fixtures.
func FuzzInstrument(f *testing.F) {
	for _, name := range []string{"meter_cost", "meter_depth", "meter_names", "meter_tailcall", "meter_spectest"} {
		f.Add(fixture.Bytes(f, name))
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(fuzzFeatures))
	f.Cleanup(func() { r.Close(ctx) })
	f.Fuzz(func(t *testing.T, bin []byte) {
		dm, err := wasm.Decode(bin)
		if err == nil && (dm.NamesErr != nil || hasOtherCustomSections(dm)) {
			// Custom sections do not matter to the meter (it copies them,
			// or drops a name section it cannot decode), and wazero 1.12
			// preallocates by the counts in a malformed name section.
			// Check the module without them.
			if bin, err = withoutCustomSections(bin); err != nil {
				t.Fatal(err)
			}
			_, err = wasm.Decode(bin)
		}
		if err != nil {
			// Malformed for internal/wasm (whose own tests compare it with
			// wazero's decoder): Instrument must refuse it. wazero 1.12 is
			// not asked: its decoder trusts declared counts and can spend
			// seconds and gigabytes on tiny hostile inputs (a 31-byte module
			// with an export count of 2^29 took 11 s), which is one more
			// reason to decode with internal/wasm before compiling.
			if _, err := Instrument(bin, Options{}); err == nil {
				t.Fatal("Instrument accepted a module internal/wasm cannot decode")
			}
			return
		}
		origErr, panicked := compileNoPanic(ctx, r, bin)
		out, err := Instrument(bin, Options{StackDepth: 100})
		if panicked {
			// wazero 1.12 panics on some invalid modules (a tag whose type
			// index is out of range); the meter must refuse them, so that
			// the sandbox never hands them to wazero.
			if err == nil {
				t.Fatalf("wazero panics on the module (%v), Instrument accepts it", origErr)
			}
			return
		}
		if err != nil {
			var le *LimitError
			if origErr == nil && !errors.Is(err, ErrAlreadyMetered) && !errors.As(err, &le) {
				t.Fatalf("wazero accepts the module, Instrument refuses it: %v", err)
			}
			return
		}
		instErr, panicked := compileNoPanic(ctx, r, out)
		if panicked {
			t.Fatalf("wazero panics on the instrumented module: %v", instErr)
		}
		switch {
		case origErr == nil && instErr != nil:
			t.Fatalf("wazero accepts the module but refuses the instrumented one: %v", instErr)
		case origErr != nil && instErr == nil && !hasTableInit(bin):
			// wazero 1.12 parses custom sections position-dependently (an
			// empty-named custom section is refused only at the end of the
			// file); the meter does not care about custom sections, so the
			// verdict that counts is on the module without them.
			if stripped, err := withoutCustomSections(bin); err == nil {
				if err, _ := compileNoPanic(ctx, r, stripped); err == nil {
					return
				}
			}
			t.Fatalf("wazero refuses the module (%v) but accepts the instrumented one", origErr)
		}
	})
}

// hasTableInit reports a table initializer expression, which wazero 1.12
// validates inconsistently (see specCommandSkips): the invalid-becomes-valid
// property is not checked for such modules.
func hasTableInit(bin []byte) bool {
	m, err := wasm.Decode(bin)
	if err != nil {
		return false
	}
	for _, t := range m.Tables {
		if t.Init != nil {
			return true
		}
	}
	return false
}

func withoutCustomSections(bin []byte) ([]byte, error) {
	secs, err := wasm.Sections(bin)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), bin[:wasm.HeaderSize]...)
	for _, s := range secs {
		if s.ID != wasm.SectionCustom {
			out = append(out, s.Raw...)
		}
	}
	return out, nil
}

func hasOtherCustomSections(m *wasm.Module) bool {
	for _, s := range m.Sections {
		if s.ID == wasm.SectionCustom && s.Name != "name" {
			return true
		}
	}
	return false
}

// compileNoPanic compiles bin, turning a panic of wazero into an error.
func compileNoPanic(ctx context.Context, r wazero.Runtime, bin []byte) (err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			err, panicked = fmt.Errorf("wazero panic: %v", p), true
		}
	}()
	cm, err := r.CompileModule(ctx, bin)
	if err == nil {
		cm.Close(ctx)
	}
	return err, false
}

package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

func sec(id wasm.SectionID, payload ...byte) []byte { return wasm.AppendSection(nil, id, payload) }

func mod(sections ...[]byte) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

// withBody is a module with one function of type () -> () and the given
// body (after an empty local declaration), with extra sections between the
// function and the code section.
func withBody(code []byte, extra ...[]byte) []byte {
	secs := [][]byte{sec(wasm.SectionType, 1, 0x60, 0, 0), sec(wasm.SectionFunction, 1, 0)}
	body := append([]byte{0}, code...)
	secs = append(append(secs, extra...), sec(wasm.SectionCode, append([]byte{1, byte(len(body))}, body...)...))
	return mod(secs...)
}

var v128Zero = append([]byte{0xfd, 0x0c}, make([]byte, 16)...)

// TestClaims checks what the package claims against wazero itself: a module
// using one proposal compiles with CoreFeatures exactly when Check says
// wazero implements it, and with RunCoreFeatures exactly when Check finds
// nothing unsupported.
func TestClaims(t *testing.T) {
	tests := []struct {
		name        string
		bin         []byte
		notCompiled wasm.Features
		notEnabled  wasm.Features
	}{
		{"mvp", withBody([]byte{0x0b}), 0, 0},
		{"simd", withBody(append(append([]byte{}, v128Zero...), 0x1a, 0x0b)), 0, 0},
		{"tail call", withBody([]byte{0x12, 0x00, 0x0b}), 0, 0},
		{"extended const", mod(sec(wasm.SectionGlobal, 1, 0x7f, 0, 0x41, 1, 0x41, 2, 0x6a, 0x0b)), 0, 0},
		{"exceptions (exnref)", withBody([]byte{0x1f, 0x40, 1, 0x02, 0, 0x08, 0, 0x0b, 0x0b}, sec(wasm.SectionTag, 1, 0, 0)), 0, 0},
		{"typed function references", withBody([]byte{0xd2, 0, 0x14, 0, 0x0b}, sec(wasm.SectionElement, 1, 3, 0, 1, 0)), 0, 0},
		{"threads: shared memory", mod(sec(wasm.SectionMemory, 1, 3, 1, 1)), 0, wasm.FeatureThreads},
		{"gc: struct type", mod(sec(wasm.SectionType, 1, 0x5f, 0)), wasm.FeatureGC, 0},
		{"gc: global.get of a defined global", mod(sec(wasm.SectionGlobal, 2, 0x7f, 0, 0x41, 1, 0x0b, 0x7f, 0, 0x23, 0, 0x0b)), wasm.FeatureGC, 0},
		{"gc: ref.i31", withBody([]byte{0x41, 0, 0xfb, 0x1c, 0x1a, 0x0b}), wasm.FeatureGC, 0},
		{"memory64", mod(sec(wasm.SectionMemory, 1, 4, 1)), wasm.FeatureMemory64, 0},
		{"table64", mod(sec(wasm.SectionTable, 1, 0x70, 4, 1)), wasm.FeatureMemory64, 0},
		{"multi-memory", mod(sec(wasm.SectionMemory, 2, 0, 1, 0, 1)), wasm.FeatureMultiMemory, 0},
		{"relaxed simd", withBody(append(append([]byte{}, v128Zero...), 0xfd, 0x81, 0x02, 0x1a, 0x0b)), wasm.FeatureRelaxedSIMD, 0},
		{"legacy exceptions", withBody([]byte{0x06, 0x40, 0x0b, 0x0b}), wasm.FeatureLegacyExceptions, 0},
	}
	ctx := context.Background()
	compiles := func(feats api.CoreFeatures, bin []byte) error {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(feats))
		defer rt.Close(ctx)
		_, err := rt.CompileModule(ctx, bin)
		return err
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := wasm.Decode(tc.bin)
			if err != nil {
				t.Fatal(err)
			}
			u := Check(m.Features)
			if u.NotCompiled != tc.notCompiled || u.NotEnabled != tc.notEnabled {
				t.Fatalf("Check(%s) = %+v (%s), want not compiled %s, not enabled %s", m.Features, u, u, tc.notCompiled, tc.notEnabled)
			}
			if err := compiles(CoreFeatures, tc.bin); (err == nil) != (u.NotCompiled == 0) {
				t.Fatalf("wazero with CoreFeatures: %v; Check says not compiled: %s", err, u.NotCompiled)
			}
			if err := compiles(RunCoreFeatures, tc.bin); (err == nil) != !u.Any() {
				t.Fatalf("wazero with RunCoreFeatures: %v; Check says unsupported: %s", err, u)
			}
		})
	}
}

// TestFixtures checks the same on the WebAssembly 3.0 fixtures.
func TestFixtures(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"w3_gc", "gc (not implemented by wazero v1.12.0)"},
		{"w3_funcref", ""},
		{"w3_exn", ""},
		{"w3_extconst", ""},
		{"w3_exn_legacy", "legacy-exceptions (not implemented by wazero v1.12.0)"},
		{"w3_relaxed", "relaxed-simd (not implemented by wazero v1.12.0)"},
		{"w3_mem64", "memory64, multi-memory (not implemented by wazero v1.12.0); threads (not enabled by wasmward run)"},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := fixture.Bytes(t, tc.name)
			m, err := wasm.Decode(bin)
			if err != nil {
				t.Fatal(err)
			}
			u := Check(m.Features)
			if u.String() != tc.want {
				t.Fatalf("Check(%s) = %q, want %q", m.Features, u, tc.want)
			}
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(RunCoreFeatures))
			defer rt.Close(ctx)
			if _, err := rt.CompileModule(ctx, bin); (err == nil) != !u.Any() {
				t.Fatalf("wazero: %v; Check: %q", err, u)
			}
		})
	}
}

// TestName keeps Name in step with the wazero version in go.mod.
func TestName(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "github.com/tetratelabs/wazero" {
			if want := "wazero " + f[1]; Name != want {
				t.Fatalf("Name = %q, go.mod has %q: re-check Compiled and CoreFeatures against the new version", Name, want)
			}
			return
		}
	}
	t.Fatal("wazero not in go.mod")
}

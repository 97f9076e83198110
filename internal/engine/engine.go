// Package engine says what the WebAssembly engine wasmward links (wazero, at
// the version in go.mod) compiles, and what `wasmward run` enables, in terms
// of the proposals internal/wasm detects ([wasm.Features]). It is the one
// place that knows: the sandbox configures its runtime from [RunCoreFeatures],
// and scan uses [Compiled] and [Run] to tell a module the runtime cannot
// execute ("not supported by the runtime") from an invalid one.
package engine

import (
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmward/wasmward/internal/wasm"
)

// Name is the engine and version the statements of this package are about.
const Name = "wazero v1.12.0"

// CoreFeatures is every proposal wazero compiles: WebAssembly 2.0, threads,
// tail calls, extended constant expressions, exception handling (exnref,
// not the legacy try/catch encoding) and typed function references (with
// rec groups of function types). scan --validate compiles with it.
const CoreFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst | experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// RunCoreFeatures is what `wasmward run` (package sandbox) enables:
// CoreFeatures without threads. Shared memory gives a guest a timer for
// cross-tenant side channels, and memory.atomic.wait blocks without using
// fuel (docs/metering.md).
const RunCoreFeatures = CoreFeatures &^ experimental.CoreFeaturesThreads

// Compiled is the set of detected proposals wazero compiles (CoreFeatures
// in wasm.Features terms). A module using any other (GC, memory64,
// multi-memory, relaxed SIMD, legacy exceptions) is refused by wazero
// whatever the configuration.
const Compiled = wasm.FeatureMutableGlobals | wasm.FeatureSignExt | wasm.FeatureSatFloatToInt |
	wasm.FeatureMultiValue | wasm.FeatureBulkMemory | wasm.FeatureReferenceTypes | wasm.FeatureSIMD |
	wasm.FeatureThreads | wasm.FeatureTailCall | wasm.FeatureExceptions | wasm.FeatureExtendedConst |
	wasm.FeatureTypedFuncRefs

// Run is the set of detected proposals `wasmward run` executes.
const Run = Compiled &^ wasm.FeatureThreads

// Unsupported describes the proposals a module uses that `run` does not
// execute. It is the zero value when there are none.
type Unsupported struct {
	// NotCompiled are proposals wazero does not implement.
	NotCompiled wasm.Features
	// NotEnabled are proposals wazero implements and `run` does not enable.
	NotEnabled wasm.Features
}

// Check returns what of f `run` cannot execute.
func Check(f wasm.Features) Unsupported {
	return Unsupported{NotCompiled: f &^ Compiled, NotEnabled: f & Compiled &^ Run}
}

// Any reports whether anything is unsupported.
func (u Unsupported) Any() bool { return u.NotCompiled|u.NotEnabled != 0 }

// String says what is unsupported and why, e.g. "gc, memory64 (not
// implemented by wazero v1.12.0); threads (not enabled by wasmward run)".
func (u Unsupported) String() string {
	var parts []string
	if u.NotCompiled != 0 {
		parts = append(parts, fmt.Sprintf("%s (not implemented by %s)", strings.Join(u.NotCompiled.Names(), ", "), Name))
	}
	if u.NotEnabled != 0 {
		parts = append(parts, fmt.Sprintf("%s (not enabled by wasmward run)", strings.Join(u.NotEnabled.Names(), ", ")))
	}
	return strings.Join(parts, "; ")
}

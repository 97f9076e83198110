package wasm

import "strings"

// Features is a set of WebAssembly proposals beyond 1.0 (MVP) that a module
// uses, as detected from its encoding and instructions.
type Features uint32

// Proposals detected by Decode.
const (
	// FeatureMutableGlobals: an imported or exported mutable global.
	FeatureMutableGlobals Features = 1 << iota
	// FeatureSignExt: i32.extend8_s and friends.
	FeatureSignExt
	// FeatureSatFloatToInt: non-trapping float-to-int (0xFC 0x00-0x07).
	FeatureSatFloatToInt
	// FeatureMultiValue: a function or block with more than one result,
	// or a block with parameters.
	FeatureMultiValue
	// FeatureBulkMemory: memory.copy/fill/init, data.drop, table.init/copy,
	// elem.drop, passive segments, the datacount section.
	FeatureBulkMemory
	// FeatureReferenceTypes: funcref/externref values, table.get/set/...,
	// multiple tables, ref.* instructions.
	FeatureReferenceTypes
	// FeatureSIMD: v128 and 0xFD instructions.
	FeatureSIMD
	// FeatureThreads: shared memories and 0xFE atomic instructions.
	FeatureThreads
	// FeatureTailCall: return_call, return_call_indirect (return_call_ref).
	FeatureTailCall
	// FeatureExceptions: tags, throw, throw_ref, try_table, exnref (and the
	// legacy try/catch/rethrow/delegate encoding).
	FeatureExceptions
	// FeatureExtendedConst: i32/i64 add/sub/mul in constant expressions.
	FeatureExtendedConst
	// FeatureTypedFuncRefs: (ref null? ht) types, call_ref, br_on_null,
	// ref.as_non_null, table initializers.
	FeatureTypedFuncRefs
	// FeatureMemory64: 64-bit memories.
	FeatureMemory64
	// FeatureMultiMemory: more than one memory.
	FeatureMultiMemory
	// FeatureLegacyExceptions: the pre-exnref try/catch encoding, which
	// wazero does not run.
	FeatureLegacyExceptions
	// FeatureGC: struct and array types, subtypes, the abstract heap types
	// beyond func/extern/exn (any, eq, i31, struct, array, none, ...),
	// packed i8/i16 fields, the 0xFB instructions and ref.eq.
	FeatureGC
	// FeatureRelaxedSIMD: the 0xFD 0x100-0x113 instructions.
	FeatureRelaxedSIMD
)

var featureNames = []string{
	"mutable-globals", "sign-extension", "nontrapping-float-to-int", "multi-value",
	"bulk-memory", "reference-types", "simd", "threads", "tail-call", "exception-handling",
	"extended-const", "typed-function-references", "memory64", "multi-memory",
	"legacy-exceptions", "gc", "relaxed-simd",
}

// Has reports whether every feature in o is in f.
func (f Features) Has(o Features) bool { return f&o == o }

// Names lists the features in f by their proposal names, in a fixed order.
func (f Features) Names() []string {
	var out []string
	for i, n := range featureNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String joins Names with commas ("" for none).
func (f Features) String() string { return strings.Join(f.Names(), ",") }

package sandbox

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmward/wasmward/internal/wasm"
)

// ValueType is the type of a parameter or result of an exported function.
type ValueType byte

// Value types of parameters and results; types wazero does not name are
// reported as ValueOther.
const (
	ValueOther ValueType = iota
	ValueI32
	ValueI64
	ValueF32
	ValueF64
	ValueV128      // two slots in wazero's encoding: low 64 bits first
	ValueFuncRef   // an opaque host reference; 0 is null
	ValueExternRef // an opaque host reference; 0 is null
)

// valueTypeCodes maps each ValueType but ValueOther to its binary type
// code, which is also wazero's api.ValueType. The names come from
// internal/wasm, the one decoder.
var valueTypeCodes = [...]byte{
	ValueI32:       wasm.CodeI32,
	ValueI64:       wasm.CodeI64,
	ValueF32:       wasm.CodeF32,
	ValueF64:       wasm.CodeF64,
	ValueV128:      wasm.CodeV128,
	ValueFuncRef:   wasm.CodeFuncRef,
	ValueExternRef: wasm.CodeExternRef,
}

// String returns "i32", "i64", "f32", "f64", "v128", "funcref",
// "externref" or "other".
func (t ValueType) String() string {
	if t == ValueOther || int(t) >= len(valueTypeCodes) {
		return "other"
	}
	return wasm.ValType{Code: valueTypeCodes[t]}.String()
}

// Slots returns how many uint64 values of wazero's encoding (Params,
// Report.Results) a value of type t takes: 2 for v128, 1 otherwise.
func (t ValueType) Slots() int {
	if t == ValueV128 {
		return 2
	}
	return 1
}

// valueTypeOf returns the ValueType of wazero's api.ValueType (a binary
// type code).
func valueTypeOf(t api.ValueType) ValueType {
	for v, c := range valueTypeCodes {
		if c != 0 && c == t {
			return ValueType(v)
		}
	}
	return ValueOther
}

// Signature is the type of an exported function.
type Signature struct {
	Params  []ValueType
	Results []ValueType
}

// Export returns the signature of the exported function name.
func (m *Module) Export(name string) (Signature, bool) {
	def, ok := m.exports[name]
	if !ok {
		return Signature{}, false
	}
	var s Signature
	for _, t := range def.ParamTypes() {
		s.Params = append(s.Params, valueTypeOf(t))
	}
	for _, t := range def.ResultTypes() {
		s.Results = append(s.Results, valueTypeOf(t))
	}
	return s, true
}

// EncodeValue parses the decimal text s as a value of type t in wazero's
// encoding (integers may be negative; floats use Go syntax).
func EncodeValue(t ValueType, s string) (uint64, error) {
	switch t {
	case ValueI32:
		if v, err := strconv.ParseInt(s, 0, 32); err == nil {
			return uint64(uint32(int32(v))), nil
		}
		v, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			return 0, fmt.Errorf("invalid i32 %q", s)
		}
		return v, nil
	case ValueI64:
		if v, err := strconv.ParseInt(s, 0, 64); err == nil {
			return uint64(v), nil
		}
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid i64 %q", s)
		}
		return v, nil
	case ValueF32:
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return 0, fmt.Errorf("invalid f32 %q", s)
		}
		return api.EncodeF32(float32(v)), nil
	case ValueF64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid f64 %q", s)
		}
		return api.EncodeF64(v), nil
	}
	return 0, fmt.Errorf("parameters of type %s cannot be given on the command line", t)
}

// opaqueRefs copies results (wazero's encoding of values of types ts),
// replacing each non-null reference, a host pointer, by its opaque number:
// 1 for the first distinct value, 2 for the next, and so on. A report
// never carries a host address.
func opaqueRefs(ts []api.ValueType, results []uint64) []uint64 {
	out := append([]uint64(nil), results...)
	var refs map[uint64]uint64
	i := 0
	for _, t := range ts {
		vt := valueTypeOf(t)
		if i >= len(out) {
			break
		}
		if (vt == ValueFuncRef || vt == ValueExternRef) && out[i] != 0 {
			if refs == nil {
				refs = map[uint64]uint64{}
			}
			n, ok := refs[out[i]]
			if !ok {
				n = uint64(len(refs) + 1)
				refs[out[i]] = n
			}
			out[i] = n
		}
		i += vt.Slots()
	}
	return out
}

// FormatResults formats the results of a function of signature sig, as
// Report.Results holds them (wazero's encoding: a v128 takes two slots),
// one string per result: FormatValue for numbers, a v128 as its 16 bytes
// in memory order ("00 01 ... 0f"), a reference as "null" or "funcref#N" /
// "externref#N", where N numbers the distinct non-null references of this
// call in order of appearance (Report.Results already holds these numbers
// in place of host pointers, which would disclose the host's address
// layout). Slots left over (a result list
// that does not match sig) are formatted as "other" values.
func FormatResults(sig Signature, results []uint64) []string {
	out := make([]string, 0, len(sig.Results))
	refs := map[uint64]int{}
	i := 0
	for _, t := range sig.Results {
		if i+t.Slots() > len(results) {
			break
		}
		switch t {
		case ValueV128:
			var b [16]byte
			binary.LittleEndian.PutUint64(b[:8], results[i])
			binary.LittleEndian.PutUint64(b[8:], results[i+1])
			out = append(out, fmt.Sprintf("% x", b[:]))
		case ValueFuncRef, ValueExternRef:
			v := results[i]
			if v == 0 {
				out = append(out, "null")
				break
			}
			n, ok := refs[v]
			if !ok {
				n = len(refs) + 1
				refs[v] = n
			}
			out = append(out, t.String()+"#"+strconv.Itoa(n))
		default:
			out = append(out, FormatValue(t, results[i]))
		}
		i += t.Slots()
	}
	for ; i < len(results); i++ {
		out = append(out, FormatValue(ValueOther, results[i]))
	}
	return out
}

// FormatValue formats the one-slot value v of type t as text: signed
// decimal for integers, shortest round-trip form for floats, unsigned
// decimal for anything else (use FormatResults for v128 and references).
func FormatValue(t ValueType, v uint64) string {
	switch t {
	case ValueI32:
		return strconv.FormatInt(int64(int32(uint32(v))), 10)
	case ValueI64:
		return strconv.FormatInt(int64(v), 10)
	case ValueF32:
		return strconv.FormatFloat(float64(math.Float32frombits(uint32(v))), 'g', -1, 32)
	case ValueF64:
		return strconv.FormatFloat(math.Float64frombits(v), 'g', -1, 64)
	}
	return strconv.FormatUint(v, 10)
}

// RefusedReport returns the Report of a module refused before it ran.
func RefusedReport(name string, sha256 string, r *Refusal) *Report {
	v := r.Violation
	return &Report{Module: name, SHA256: sha256, Outcome: OutcomeRefused, Violation: &v, HostCalls: map[string]uint64{}}
}

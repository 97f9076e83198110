package sandbox

import (
	"fmt"
	"math"
	"strconv"

	"github.com/tetratelabs/wazero/api"
)

// ValueType is the type of a parameter or result of an exported function.
type ValueType byte

// Value types of WebAssembly 1.0 numbers; others are reported as ValueOther.
const (
	ValueOther ValueType = iota
	ValueI32
	ValueI64
	ValueF32
	ValueF64
)

// String returns "i32", "i64", "f32", "f64" or "other".
func (t ValueType) String() string {
	switch t {
	case ValueI32:
		return "i32"
	case ValueI64:
		return "i64"
	case ValueF32:
		return "f32"
	case ValueF64:
		return "f64"
	}
	return "other"
}

func valueTypeOf(t api.ValueType) ValueType {
	switch t {
	case api.ValueTypeI32:
		return ValueI32
	case api.ValueTypeI64:
		return ValueI64
	case api.ValueTypeF32:
		return ValueF32
	case api.ValueTypeF64:
		return ValueF64
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

// FormatValue formats v of type t as text: signed decimal for integers,
// shortest round-trip form for floats.
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

package sandbox

import (
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// One mapping from ValueType to the binary type code serves both the names
// and the conversion from wazero's api.ValueType.
func TestValueTypes(t *testing.T) {
	for _, tc := range []struct {
		api  api.ValueType
		want ValueType
		name string
	}{
		{api.ValueTypeI32, ValueI32, "i32"},
		{api.ValueTypeI64, ValueI64, "i64"},
		{api.ValueTypeF32, ValueF32, "f32"},
		{api.ValueTypeF64, ValueF64, "f64"},
		{0x7b, ValueV128, "v128"},
		{0x70, ValueFuncRef, "funcref"},
		{api.ValueTypeExternref, ValueExternRef, "externref"},
		{0x69, ValueOther, "other"}, // exnref: wazero names no such value type
		{0, ValueOther, "other"},
	} {
		if got := valueTypeOf(tc.api); got != tc.want {
			t.Errorf("valueTypeOf(%#x) = %v, want %v", tc.api, got, tc.want)
		}
		if got := tc.want.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.want, got, tc.name)
		}
	}
	if got := ValueType(200).String(); got != "other" {
		t.Errorf("ValueType(200).String() = %q", got)
	}
}

package wasm

import (
	"errors"
	"fmt"
)

// Error is the error returned for malformed input. Offset is the byte offset
// in the decoded input (for instruction readers created with a base offset,
// in the enclosing module) at which decoding failed.
type Error struct {
	Offset int    // byte offset of the failure in the input
	Where  string // what was being decoded, e.g. "import section"
	Err    error  // the cause; often one of the Err* sentinels
}

// Error formats as "wasm: offset 0x1a3: import section: unexpected end".
func (e *Error) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("wasm: offset %#x: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("wasm: offset %#x: %s: %v", e.Offset, e.Where, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes, matched with errors.Is.
var (
	// ErrUnexpectedEnd means the input ended inside a construct.
	ErrUnexpectedEnd = errors.New("unexpected end")
	// ErrNotWasm means the input does not start with the "\0asm" magic.
	ErrNotWasm = errors.New("not a WebAssembly binary (bad magic)")
	// ErrVersion means the magic is right but the version/layer is unknown.
	ErrVersion = errors.New("unknown binary version")
	// ErrComponent means Decode was given a component (component model), not
	// a core module: DecodeComponent reads those; Sections splits both.
	ErrComponent = errors.New("a WebAssembly component, not a core module (wasmward run does not run components yet)")
	// ErrDecodeBudget means decoding the module would take more host
	// memory for its records than DecodeBudget allows for its size: a
	// hostile shape (hundreds of thousands of empty sections, types or
	// segments of a few bytes each), not a real module.
	ErrDecodeBudget = errors.New("decoding would exceed the host memory budget")
	// ErrLEB means an integer was over-long or out of range for its type.
	ErrLEB = errors.New("integer representation too long or out of range")
	// ErrMalformed is the cause for other grammar violations; the Error's
	// text says which.
	ErrMalformed = errors.New("malformed")
)

func errAt(off int, where string, err error) *Error {
	return &Error{Offset: off, Where: where, Err: err}
}

func errfAt(off int, where, format string, args ...any) *Error {
	return &Error{Offset: off, Where: where, Err: fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)}
}

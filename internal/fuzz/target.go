package fuzz

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/sandbox"
)

// Kind is what a fuzz input drives.
type Kind int

const (
	// Request: the module is a WAGI handler; an input is an HTTP request
	// (its file form: wagireq.Request.Marshal).
	Request Kind = iota
	// Stdin: the module is a command; an input is its standard input.
	Stdin
	// Invoke: an input is the little-endian bytes of an exported
	// function's numeric arguments.
	Invoke
)

// Target is what the fuzzer drives: Kind, and for Invoke the export.
type Target struct {
	Kind     Kind
	Function string
}

// ParseTarget parses "request", "stdin" or "invoke:NAME".
func ParseTarget(s string) (Target, error) {
	switch {
	case s == "request":
		return Target{Kind: Request}, nil
	case s == "stdin":
		return Target{Kind: Stdin}, nil
	case strings.HasPrefix(s, "invoke:") && len(s) > len("invoke:"):
		return Target{Kind: Invoke, Function: strings.TrimPrefix(s, "invoke:")}, nil
	}
	return Target{}, fmt.Errorf("unknown target %q: want request, stdin or invoke:NAME", s)
}

// String returns the form ParseTarget reads.
func (t Target) String() string {
	switch t.Kind {
	case Stdin:
		return "stdin"
	case Invoke:
		return "invoke:" + t.Function
	}
	return "request"
}

// ext is the file extension of inputs of the target.
func (t Target) ext() string {
	switch t.Kind {
	case Request:
		return ".http"
	case Invoke:
		return ".args"
	}
	return ".bin"
}

// params decodes an invoke input into arguments of sig: each parameter
// takes its size in bytes (4 or 8), little-endian, missing bytes zero.
func params(sig sandbox.Signature, data []byte) []uint64 {
	out := make([]uint64, 0, len(sig.Params))
	for _, t := range sig.Params {
		n := 8
		if t == sandbox.ValueI32 || t == sandbox.ValueF32 {
			n = 4
		}
		var buf [8]byte
		copy(buf[:n], data)
		data = data[min(n, len(data)):]
		v := binary.LittleEndian.Uint64(buf[:])
		if n == 4 {
			v = uint64(uint32(v))
		}
		out = append(out, v)
	}
	return out
}

// argText formats arguments the way `wasmward run --invoke` parses them.
func argText(sig sandbox.Signature, ps []uint64) []string {
	out := make([]string, len(ps))
	for i, v := range ps {
		switch sig.Params[i] {
		case sandbox.ValueI32:
			out[i] = strconv.FormatInt(int64(int32(uint32(v))), 10)
		case sandbox.ValueI64:
			out[i] = strconv.FormatInt(int64(v), 10)
		case sandbox.ValueF32:
			out[i] = strconv.FormatFloat(float64(api.DecodeF32(v)), 'g', -1, 32)
		case sandbox.ValueF64:
			out[i] = strconv.FormatFloat(math.Float64frombits(v), 'g', -1, 64)
		}
	}
	return out
}

// checkSignature refuses an export the fuzzer cannot feed.
func checkSignature(name string, sig sandbox.Signature) error {
	for _, t := range sig.Params {
		switch t {
		case sandbox.ValueI32, sandbox.ValueI64, sandbox.ValueF32, sandbox.ValueF64:
		default:
			return fmt.Errorf("export %q takes a %s parameter: only i32, i64, f32 and f64 can be fuzzed", name, t)
		}
	}
	return nil
}

// canonical returns the request input data in the form it is run and
// saved in (Parse of Marshal), so that a saved file replays exactly what
// ran; nil when data is no request.
func canonical(data []byte) (*wagireq.Request, []byte) {
	r, err := wagireq.Parse(data)
	if err != nil {
		return nil, nil
	}
	out := r.Marshal()
	r2, err := wagireq.Parse(out)
	if err != nil {
		return nil, nil
	}
	return r2, out
}

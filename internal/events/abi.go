// Package events feeds streams of events through sandboxed modules: the
// event ABI (docs/events.md), a Processor that keeps one instance across
// events under per-event and per-instance limits, the NDJSON and NATS
// JetStream sources and sinks, and the delivery loop that acks an event
// only once its outputs are published or it is dead-lettered.
package events

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/internal/wasm"
)

// Names of the event ABI.
const (
	// ExportMemory is the linear memory the host writes events into.
	ExportMemory = "memory"
	// ExportAlloc is alloc(len i32) -> ptr i32: room for an event of len bytes.
	ExportAlloc = "alloc"
	// ExportProcess is process_event(ptr i32, len i32) -> i32: 0 accepts
	// the event, anything else rejects it.
	ExportProcess = "process_event"
	// ExportInit is the optional init(), called once per instance.
	ExportInit = "init"

	// ImportEmit is wasmward.emit(ptr i32, len i32): one output message to
	// the sink's subject.
	ImportEmit = "emit"
	// ImportEmitTo is wasmward.emit_to(subj_ptr, subj_len, ptr, len i32):
	// one output message to a subject the policy's events.subjects allow.
	ImportEmitTo = "emit_to"
	// ImportKVGet is wasmward.kv_get(key_ptr, key_len, buf_ptr, buf_len i32)
	// -> i32: the value's length (copying at most buf_len bytes), or -1 when
	// the key has no value.
	ImportKVGet = "kv_get"
	// ImportKVPut is wasmward.kv_put(key_ptr, key_len, val_ptr, val_len i32)
	// -> i32: 0.
	ImportKVPut = "kv_put"
)

var i32 = api.ValueTypeI32

type signature struct {
	params, results []wasm.ValType
}

func (s signature) String() string {
	return wasm.FuncType{Params: s.params, Results: s.results}.String()
}

var abiExports = []struct {
	name     string
	sig      signature
	required bool
}{
	{ExportAlloc, signature{[]wasm.ValType{wasm.I32}, []wasm.ValType{wasm.I32}}, true},
	{ExportProcess, signature{[]wasm.ValType{wasm.I32, wasm.I32}, []wasm.ValType{wasm.I32}}, true},
	{ExportInit, signature{nil, nil}, false},
}

// ErrABI is wrapped by CheckABI's errors.
var ErrABI = errors.New("not an event processor")

// CheckABI refuses a module that does not export the event ABI: memory,
// alloc and process_event with their signatures, and init, when exported,
// as a function of no parameters and no results. The error names the
// export.
func CheckABI(bin []byte) error {
	mod, err := wasm.Decode(bin)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrABI, err)
	}
	exports := map[string]wasm.Export{}
	for _, ex := range mod.Exports {
		exports[ex.Name] = ex
	}
	if ex, ok := exports[ExportMemory]; !ok || ex.Kind != wasm.ExternMemory {
		return fmt.Errorf("%w: export %q: want a memory%s", ErrABI, ExportMemory, found(ex, ok))
	}
	for _, want := range abiExports {
		ex, ok := exports[want.name]
		if !ok {
			if want.required {
				return fmt.Errorf("%w: export %q: missing, want a function %s", ErrABI, want.name, want.sig)
			}
			continue
		}
		if ex.Kind != wasm.ExternFunc {
			return fmt.Errorf("%w: export %q: want a function %s%s", ErrABI, want.name, want.sig, found(ex, ok))
		}
		ti, ok := mod.FuncTypeIndex(ex.Index)
		if !ok || int(ti) >= len(mod.Types) {
			return fmt.Errorf("%w: export %q: function index %d out of range", ErrABI, want.name, ex.Index)
		}
		ft := mod.Types[ti]
		if !sameSig(ft.Params, want.sig.params) || !sameSig(ft.Results, want.sig.results) {
			return fmt.Errorf("%w: export %q: signature %s, want %s", ErrABI, want.name, ft, want.sig)
		}
	}
	return nil
}

func found(ex wasm.Export, ok bool) string {
	if !ok {
		return ", found none"
	}
	return ", found a " + strings.ToLower(safetext.Escape(ex.Kind.String()))
}

func sameSig(a, b []wasm.ValType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() {
			return false
		}
	}
	return true
}

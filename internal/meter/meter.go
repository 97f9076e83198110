// Package meter rewrites a WebAssembly module so that it pays for the work it
// does (fuel) and cannot nest calls deeper than a fixed bound (call depth),
// whatever engine later runs it.
//
// The instrumented module imports two functions from the host module
// ImportModule and exports three globals:
//
//	(import "wasmward" "fuel" (func (param i64) (result i64)))
//	(import "wasmward" "stack_exhausted" (func))
//	(global (export "wasmward.fuel") (mut i64) (i64.const 0))
//	(global (export "wasmward.depth") (mut i32) (i32.const StackDepth))
//	(global (export "wasmward.denied") (mut i32) (i32.const 0))
//	(global (export "wasmward.tables") (mut i64) (i64.const <declared table bytes>))  ;; only with table.grow
//	(global (export "wasmward.memory") (mut i64) (i64.const <declared memory bytes>))  ;; only with table.grow
//	(func (export "wasmward.reset") ...)  ;; every mutable defined global back to its initial value
//
// Fuel is charged per straight-line run of instructions; when the counter
// goes negative at a check point the module calls FuelFunc with the counter
// and stores the value it returns. The cost model and the exact placement of
// charges and checks are described in docs/metering.md.
package meter

import (
	"errors"
	"fmt"
)

// Names shared with the host (the sandbox) that runs instrumented modules.
const (
	// ImportModule is the module name of the two host functions an
	// instrumented module imports. Instrument refuses modules that already
	// import from it.
	ImportModule = "wasmward"

	// FuelFunc is the imported function (func (param i64) (result i64))
	// called at a check point when the fuel counter is negative. It receives
	// the counter (the debt, <0) and returns the new counter, which must be
	// >= 0 to let the guest continue without an immediate second call. The
	// host refills from the run's budget, or panics to stop the guest (fuel
	// exhausted, deadline passed).
	FuelFunc = "fuel"

	// StackFunc is the imported function (func) called when a call would nest
	// deeper than Options.StackDepth. The host must panic (stack limit
	// violation); if it returns, the guest traps with unreachable.
	StackFunc = "stack_exhausted"

	// FuelGlobal is the exported mutable i64 global holding the fuel left in
	// the current slice. It starts at 0, so the first charge calls FuelFunc.
	// After a run, fuel consumed = fuel handed out by FuelFunc - final value.
	FuelGlobal = "wasmward.fuel"

	// DepthGlobal is the exported mutable i32 global holding how many more
	// nested calls are allowed. It starts at Options.StackDepth. A trap
	// leaves it decremented by the frames it unwound; a host that keeps an
	// instance after a trap (tests do) may reset it to StackDepth.
	DepthGlobal = "wasmward.depth"

	// DeniedGlobal is the exported mutable i32 global that records a denied
	// table.grow. It starts at 0; a table.grow refused because it would take
	// a table past Options.MaxTableElements (it returns -1) sets it to 1,
	// and nothing sets it back. A host reads it after a run to report the
	// denial; a host that keeps an instance across runs may reset it to 0.
	DeniedGlobal = "wasmward.denied"

	// TablesGlobal is the exported mutable i64 global holding the bytes of
	// host memory the module's defined tables hold (8 per element). It
	// starts at their declared minimums; every table.grow that succeeds
	// adds to it. A host reads it to account tables against a memory cap.
	// It and MemoryGlobal exist only in modules with a table.grow: without
	// one, the tables keep their declared sizes.
	TablesGlobal = "wasmward.tables"

	// MemoryGlobal is the exported mutable i64 global holding the bytes of
	// the module's defined linear memories. It starts at their declared
	// minimums; the module never writes it: the host sets it whenever a
	// memory grows, so that table.grow can check Options.MemoryBudget.
	MemoryGlobal = "wasmward.memory"

	// ResetFunc is the exported function (func) that sets every mutable
	// global the module defines, the meter's own included, back to the
	// value its initialiser gives it: the initialisers' constant
	// expressions are its body, each followed by a global.set. A host that
	// reuses an instance across runs calls it between them. It is the last
	// function of the index space and appears in no table, so the guest's
	// own code cannot reach it (Instrument refuses indices outside the
	// original index spaces); it is not metered and calls nothing.
	ResetFunc = "wasmward.reset"
)

// wasmPageSize is the size of a linear memory page.
const wasmPageSize = 65536

// DefaultMaxNesting is the control nesting bound used when
// Options.MaxNesting is 0.
const DefaultMaxNesting = 1024

// DefaultMaxTableElements is the table size bound used when
// Options.MaxTableElements is 0 (8 MiB of host memory per table).
const DefaultMaxTableElements = 1 << 20

// Options configures Instrument.
type Options struct {
	// StackDepth is the maximum number of nested calls of functions defined
	// in the module; it is baked into the module. 0 means policy.DefaultStackDepth.
	StackDepth uint32

	// MaxNesting is the deepest control nesting (block, loop, if and
	// try_table open at once, in the original body) a function may have;
	// Instrument refuses a deeper function with a *LimitError. It bounds
	// the compile time of the output (wazero's compiler is quadratic in
	// nesting). 0 means DefaultMaxNesting.
	MaxNesting uint32

	// MaxTableElements bounds every table the module defines or grows.
	// Instrument refuses a defined table whose minimum size exceeds it
	// (*LimitError), and a table.grow that would take a table past it
	// fails as the spec allows: it returns -1, leaves the table as it
	// was, and sets DeniedGlobal to 1. 0 means DefaultMaxTableElements.
	MaxTableElements uint32

	// MemoryBudget, when not 0, bounds the host memory of tables and linear
	// memory together, in bytes: a table.grow that would take TablesGlobal
	// + MemoryGlobal + 8 bytes per new element past it fails like one past
	// MaxTableElements. The host bounds memory.grow the same way.
	MemoryBudget uint64
}

// LimitError is returned (wrapped) by Instrument for a module that exceeds
// a bound set by Options. A host maps it to a refusal of the module.
type LimitError struct {
	What   string // "control nesting" or "table elements"
	Limit  uint32 // the bound exceeded
	Func   int64  // function index (original module) where it was exceeded; -1 if not in code
	Table  int64  // table index (original module) whose declared size exceeds Limit; -1 if none
	Offset int    // byte offset in the module of the offending instruction or -1
}

// Error says what exceeded which limit, and where, in one line.
func (e *LimitError) Error() string {
	switch {
	case e.Table >= 0:
		return fmt.Sprintf("table %d: %s exceed the limit of %d", e.Table, e.What, e.Limit)
	case e.Offset >= 0:
		return fmt.Sprintf("function %d: offset %#x: %s exceeds the limit of %d", e.Func, e.Offset, e.What, e.Limit)
	}
	return fmt.Sprintf("function %d: %s exceeds the limit of %d", e.Func, e.What, e.Limit)
}

// ErrAlreadyMetered is returned (wrapped) by Instrument for a module that
// already imports FuelFunc or StackFunc (or anything but a function) from
// ImportModule, or already exports FuelGlobal,
// DepthGlobal, DeniedGlobal, TablesGlobal or MemoryGlobal: instrumenting twice would let the guest reach the host's
// metering functions directly.
var ErrAlreadyMetered = errors.New("module already uses the wasmward metering namespace")

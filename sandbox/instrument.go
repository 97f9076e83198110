package sandbox

import (
	"github.com/wasmward/wasmward/internal/meter"
	"github.com/wasmward/wasmward/internal/wasm"
)

// Bounds of the per-instance table budget (maxTableElements).
const (
	minTableElements = 1 << 10
	maxTableElems    = 1 << 24
)

// maxTableElements is the most elements any one table of an instance may
// hold under a memory limit of limit bytes: limit / 8 (a table element
// costs the host a pointer), at least 1024 so that small caps still run
// ordinary C programs, at most 1<<24 (128 MiB of host memory per table).
// Compile refuses a declared table minimum above it, and the instrumented
// table.grow fails (returns -1) past it.
func maxTableElements(limit uint64) uint32 {
	return uint32(min(max(limit/tableElemSize, minTableElements), maxTableElems))
}

// maxNesting is the control nesting the meter accepts. It is a backstop:
// the compile budget (checkBudget) bounds what nesting costs the compiler
// (the sum of depths) and refuses first. The meter's own default, 1024,
// refused real Go wasip1 programs (the Go compiler nests a block per
// resume point: 4161 levels in wasmward's own wasip1 build).
const maxNesting = 1 << 16

// Engine stack bound. wazero's compiler runs guests on a stack it grows on
// the Go heap until it passes 50,000,000 bytes, then traps with "stack
// overflow"; its interpreter allows 2000 frames whatever their size.
const (
	// engineStackBytes is the stack the compiler engine is trusted to
	// provide, a margin below its 50,000,000-byte ceiling.
	engineStackBytes = 48 << 20
	// frameOverhead is what a compiled frame costs beyond 8 bytes per
	// parameter and local: return address, frame pointer, spill area and
	// the meter's three scratch locals (measured: a one-parameter function
	// recursed over 1M deep within the ceiling).
	frameOverhead = 48 + 3*8
)

// MaxStackDepth is the largest limits.stack_depth the compiler engine can
// honour: the engine's stack divided by the smallest frame a function can
// have. A policy asking for more still runs (the bound actually enforced is
// lower, see Module.StackDepth), but `wasmward run` refuses it as a usage
// error, since it cannot mean what it says.
const MaxStackDepth = engineStackBytes / frameOverhead

// frameBytes estimates the compiler engine's frame for each function of mod
// and returns the largest: frameOverhead plus 8 bytes per parameter and
// local (live values beyond those are spilled into the same slots' order of
// magnitude; an estimate too low is still caught as the engine's own
// overflow, reported as stack_limit).
func frameBytes(mod *wasm.Module) uint64 {
	var most uint64
	for i, f := range mod.Code {
		n := uint64(0)
		if i < len(mod.Functions) && int(mod.Functions[i]) < len(mod.Types) {
			n = uint64(len(mod.Types[mod.Functions[i]].Params))
		}
		for _, l := range f.Locals {
			n += uint64(l.Count)
		}
		most = max(most, frameOverhead+8*n)
	}
	return max(most, frameOverhead)
}

// effectiveDepth is the call depth the sandbox enforces for mod: the
// policy's, or fewer when that many of mod's largest frames would not fit
// the engine's stack (compiler engine only; the interpreter's frame limit
// is reported as stack_limit when reached).
func effectiveDepth(mod *wasm.Module, depth uint32, engine Engine) uint32 {
	if engine == EngineInterpreter {
		return depth
	}
	fits := engineStackBytes / frameBytes(mod)
	return uint32(max(min(uint64(depth), fits), 1))
}

// instrument returns bin rewritten by internal/meter to charge fuel and bound
// call depth, control nesting (maxNesting) and table sizes (maxTableElements
// per table; tables and linear memory together within memLimit +
// tableAllowance). Every module is
// instrumented: the fuel callback is also where the deadline is checked, so
// even a policy without a fuel budget relies on it to stop code that never
// calls the host.
func instrument(bin []byte, depth uint32, memLimit uint64) ([]byte, error) {
	out, _, err := instrumentMode(bin, depth, memLimit, false)
	return out, err
}

// instrumentMode is instrument, with edge-coverage counters and comparison
// slots when coverage is set (it then returns where they are).
func instrumentMode(bin []byte, depth uint32, memLimit uint64, coverage bool) ([]byte, *meter.Map, error) {
	opt := meter.Options{
		StackDepth:       depth,
		MaxNesting:       maxNesting,
		MaxTableElements: maxTableElements(memLimit),
		MemoryBudget:     memLimit + tableAllowance,
	}
	if coverage {
		return meter.InstrumentCoverage(bin, opt)
	}
	out, err := meter.Instrument(bin, opt)
	return out, nil, err
}

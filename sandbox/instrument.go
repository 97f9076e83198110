package sandbox

import "github.com/wasmward/wasmward/internal/meter"

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

// instrument returns bin rewritten by internal/meter to charge fuel and bound
// call depth, control nesting (maxNesting) and table sizes (maxTableElements). Every module is
// instrumented: the fuel callback is also where the deadline is checked, so
// even a policy without a fuel budget relies on it to stop code that never
// calls the host.
func instrument(bin []byte, depth uint32, memLimit uint64) ([]byte, error) {
	return meter.Instrument(bin, meter.Options{
		StackDepth:       depth,
		MaxNesting:       maxNesting,
		MaxTableElements: maxTableElements(memLimit),
	})
}

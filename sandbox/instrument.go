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

// instrument returns bin rewritten by internal/meter to charge fuel and bound
// call depth, control nesting (meter.DefaultMaxNesting, which bounds the
// compiler's time) and table sizes (maxTableElements). Every module is
// instrumented: the fuel callback is also where the deadline is checked, so
// even a policy without a fuel budget relies on it to stop code that never
// calls the host.
func instrument(bin []byte, depth uint32, memLimit uint64) ([]byte, error) {
	return meter.Instrument(bin, meter.Options{
		StackDepth:       depth,
		MaxNesting:       meter.DefaultMaxNesting,
		MaxTableElements: maxTableElements(memLimit),
	})
}

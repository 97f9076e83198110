package sandbox

import "github.com/wasmward/wasmward/internal/meter"

// instrument returns bin rewritten by internal/meter to charge fuel and bound
// call depth. Every module is instrumented: the fuel callback is also where
// the deadline is checked, so even a policy without a fuel budget relies on
// it to stop code that never calls the host.
func instrument(bin []byte, depth uint32) ([]byte, error) {
	return meter.Instrument(bin, meter.Options{StackDepth: depth})
}

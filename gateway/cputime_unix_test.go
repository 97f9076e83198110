//go:build unix

package gateway

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the test process used so
// far, for benchmarks that report CPU per operation: on a shared machine it
// is disturbed far less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

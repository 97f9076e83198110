//go:build unix

package meter

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the test process has used (user + system). The
// timing bounds of Instrument's complexity tests compare it, not the wall
// clock: on a shared machine the wall clock measures the other tenants.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

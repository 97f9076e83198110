package sandbox

import "golang.org/x/sys/unix"

// idleThread gives the calling thread the idle scheduling policy.
func idleThread() error {
	a := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	return unix.SchedSetAttr(0, &a, 0)
}

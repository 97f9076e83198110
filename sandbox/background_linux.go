package sandbox

import "golang.org/x/sys/unix"

// mainThread reports whether the calling thread is the process's first.
func mainThread() bool { return unix.Gettid() == unix.Getpid() }

// idleThread gives the calling thread the idle scheduling policy.
func idleThread() error {
	a := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	return unix.SchedSetAttr(0, &a, 0)
}

package sandbox

import "runtime"

// BackgroundAfter is the fuel after which a run of a Runtime configured
// with Config.WithBackgroundCPU moves to the background: about 0.1-0.3 ms
// of guest work. Handlers that answer a request in less (the C hello uses
// 109 units, the Go reactor hello 86 000) never move.
const BackgroundAfter = 1 << 18

// demote moves the rest of the run to the background (Config.
// WithBackgroundCPU): its goroutine is locked to its OS thread, which gets
// the idle scheduling policy. The worker ends with the run, and with it the
// thread (runtime.LockOSThread: a goroutine that exits locked ends its
// thread), so no other goroutine ever runs on it. A run that may not move
// (on the caller's goroutine, or the Runtime is not configured so), has
// moved already, or whose thread refuses the policy stays as it is. A run
// on the process's main thread tries again at its next slice: Go cannot
// end that thread, and would park it forever with the idle policy.
func (st *runState) demote() {
	if !st.mayDemote || st.demoted {
		return
	}
	runtime.LockOSThread()
	if mainThread() {
		runtime.UnlockOSThread()
		return
	}
	st.mayDemote = false
	if err := idleThread(); err != nil {
		runtime.UnlockOSThread()
		st.m.rt.noBackground.Store(true)
		return
	}
	st.demoted = true
}

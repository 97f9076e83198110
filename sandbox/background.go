package sandbox

import "runtime"

// BackgroundErr reports why Config.WithBackgroundCPU is not in effect: New
// found that this process may not give a thread the idle scheduling policy
// (not Linux, or refused by the kernel or a seccomp filter), and runs stay
// in the foreground. nil when it is in effect or was not asked for.
func (r *Runtime) BackgroundErr() error { return r.backgroundErr }

// probeIdle gives a thread of its own the idle policy, as a run that moves
// to the background would, and ends the thread.
func probeIdle() error {
	errc := make(chan error, 1)
	go func() {
		// The goroutine ends locked, and its thread with it; on the main
		// thread (which Go cannot end) the policy is not tried.
		runtime.LockOSThread()
		if mainThread() {
			runtime.UnlockOSThread()
			errc <- nil
			return
		}
		errc <- idleThread()
	}()
	return <-errc
}

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
// moved already, or whose thread refuses the policy stays as it is.
//
// At most GOMAXPROCS-1 runs of a Runtime are in the background at once; a
// run beyond them, or on the process's main thread (which Go cannot end,
// and would park forever with the idle policy), tries again at its next
// slice. A background guest's goroutine holds its P while the kernel
// leaves its thread waiting for CPU nothing else wants; with every P held
// so, beside busy processes, the whole process stalled for seconds (a
// garbage collection 1-2.2 s, a 1 ms sleep up to 3 s). One P always stays
// with the foreground.
func (st *runState) demote() {
	if !st.mayDemote || st.demoted {
		return
	}
	rt := st.m.rt
	if rt.backgroundRuns.Add(1) > int32(runtime.GOMAXPROCS(0)-1) {
		rt.backgroundRuns.Add(-1)
		return
	}
	runtime.LockOSThread()
	if mainThread() {
		runtime.UnlockOSThread()
		rt.backgroundRuns.Add(-1)
		return
	}
	st.mayDemote = false
	if err := idleThread(); err != nil {
		runtime.UnlockOSThread()
		rt.backgroundRuns.Add(-1)
		rt.noBackground.Store(true)
		return
	}
	st.demoted = true
}

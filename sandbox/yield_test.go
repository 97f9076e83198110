package sandbox_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// A CPU-bound guest gives its P to a waiting goroutine at its next fuel
// slice (about a millisecond of guest work): compiled guest code is not
// preemptible, and without the yield Go's scheduler takes the P back only
// at a host call after ~10 ms (or at the run's end). With one P, a
// goroutine sleeping 1 ms while the guest spins wakes late by at most a
// slice or two; the median oversleep is asserted below 3 ms (it is ~10 ms
// or more without the yield).
func TestGuestYieldsItsP(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_loop", withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(20 * time.Second) }))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *sandbox.Report)
	go func() {
		rep, _ := m.Run(ctx, sandbox.Invocation{})
		done <- rep
	}()
	time.Sleep(20 * time.Millisecond) // the guest is spinning
	var late []time.Duration
	for range 40 {
		start := time.Now()
		time.Sleep(time.Millisecond)
		late = append(late, time.Since(start)-time.Millisecond)
	}
	cancel()
	rep := <-done
	if rep == nil || rep.Violation == nil || rep.Violation.Kind != sandbox.KindTimeout {
		t.Fatalf("the spinning guest ended with %+v, want stopped by the cancellation", rep)
	}
	if rep.FuelUsed < 10<<20 {
		t.Fatalf("the guest used %d fuel: it did not spin through the measurement", rep.FuelUsed)
	}
	slices.Sort(late)
	if med := late[len(late)/2]; med > 3*time.Millisecond {
		t.Errorf("a 1 ms sleep beside a spinning guest on one P overslept by %v at the median (max %v), want < 3ms", med, late[len(late)-1])
	}
}

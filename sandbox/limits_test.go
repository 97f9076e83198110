package sandbox_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// TestHostCallsChargedByWork: a host call costs fuel by the work it asks
// for (bytes, iovecs, subscriptions), charged before it runs, so a fuel
// budget stops a guest after a bounded amount of host work. Before, every
// call cost 2 (the call instruction): a budget of 10^6 allowed ~80 000
// random_get calls of 256 KiB (20 GiB of random bytes).
func TestHostCallsChargedByWork(t *testing.T) {
	rt := advRuntime(t)
	for _, tc := range []struct {
		name, fixture, function, call string
		fuel                          uint64
		maxCalls                      uint64 // fuel / cost of one call, + 1 for the call the charge stops
	}{
		// 64 + 256 KiB / 4 a call
		{"random_get 256KiB", "lim_random", "small", "random_get", 1_000_000, 1_000_000/(64+65536) + 1},
		// 64 + 64 per subscription (the memory.grow before costs 4096 a page)
		{"poll_oneoff 1M subscriptions", "lim_poll", "", "poll_oneoff", 200_000_000, 200_000_000/(64+64_000_000) + 1},
		// 64 + 8 per iovec + 64 KiB / 16 a call
		{"fd_write 64KiB", "sb_flood", "", "fd_write", 1_000_000, 1_000_000/(64+8+4096) + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := advPolicy(func(l *policy.Limits) {
				l.Fuel = tc.fuel
				l.Output = 1 << 30
				l.Timeout = policy.Duration(20 * time.Second)
			})
			m := advCompile(t, rt, fixture.Bytes(t, tc.fixture), p)
			r := advRun(t, m, sandbox.Invocation{Function: tc.function})
			advViolation(t, r.rep, sandbox.KindFuelExhausted)
			calls := r.rep.HostCalls["wasi_snapshot_preview1."+tc.call]
			if calls == 0 || calls > tc.maxCalls || r.rep.FuelUsed != tc.fuel {
				t.Errorf("%d calls (want 1..%d), fuel_used %d", calls, tc.maxCalls, r.rep.FuelUsed)
			}
		})
	}
}

// TestDeadlineDuringSetup: a deadline that passes while a large declared
// memory is set up ends the run as a timeout with a report. Before, the
// allocator's deadline check panicked out of instantiation, which wazero
// does not recover: "internal error", and Run returned an error.
func TestDeadlineDuringSetup(t *testing.T) {
	rt := advRuntime(t)
	m := advCompile(t, rt, fixture.Bytes(t, "lim_bigmem"), advPolicy(nil))
	for _, deadline := range []time.Time{time.Now(), time.Now().Add(time.Millisecond)} {
		rep, err := m.Run(t.Context(), sandbox.Invocation{Deadline: deadline})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		advViolation(t, rep, sandbox.KindTimeout)
		if !strings.HasPrefix(rep.Violation.Detail, "the caller's deadline passed") || rep.PeakMemoryBytes != 128<<20 {
			t.Errorf("detail %q, peak %d", rep.Violation.Detail, rep.PeakMemoryBytes)
		}
	}
	// The module still runs normally afterwards.
	r := advRun(t, m, sandbox.Invocation{Deadline: time.Now().Add(300 * time.Millisecond)})
	advViolation(t, r.rep, sandbox.KindTimeout)
	if r.rep.PeakMemoryBytes != 128<<20 {
		t.Errorf("peak %d", r.rep.PeakMemoryBytes)
	}
}

// TestStackBoundedByFrameSize: the depth enforced is what the engine's
// stack holds of the module's largest frame, so frames of 2000 live i64
// locals end in stack_limit before the engine overflows, whatever the
// policy's depth; on both engines the outcome is stack_limit, never a trap.
func TestStackBoundedByFrameSize(t *testing.T) {
	bin := synth.DeepFrames(2000)
	for _, engine := range []sandbox.Engine{sandbox.EngineCompiler, sandbox.EngineInterpreter} {
		for _, depth := range []uint32{100, policy.DefaultStackDepth, 600_000} {
			t.Run(fmt.Sprintf("%s/%d", engine, depth), func(t *testing.T) {
				rt, err := sandbox.New(t.Context(), sandbox.NewConfig().WithEngine(engine))
				if err != nil {
					t.Fatal(err)
				}
				defer rt.Close(t.Context())
				m := advCompile(t, rt, bin, advPolicy(func(l *policy.Limits) {
					l.StackDepth = depth
					l.Timeout = policy.Duration(60 * time.Second)
				}))
				want := depth
				if engine == sandbox.EngineCompiler {
					want = min(depth, 3131) // 48 MiB / (72 + 8*2000)
				}
				if m.StackDepth() != want {
					t.Errorf("enforced depth %d, want %d", m.StackDepth(), want)
				}
				r := advRun(t, m, sandbox.Invocation{})
				advViolation(t, r.rep, sandbox.KindStackLimit)
			})
		}
	}
}

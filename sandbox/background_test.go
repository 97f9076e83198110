//go:build linux

package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// threads returns how many threads this process has and how many of them
// have the idle scheduling policy (SCHED_IDLE, 5: field 41 of
// /proc/self/task/TID/stat).
func threads(t *testing.T) (all, idle int) {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil || len(stats) == 0 {
		t.Skipf("no /proc/self/task: %v", err)
	}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended meanwhile
		}
		all++
		if statPolicy(b) == "5" {
			idle++
		}
	}
	return all, idle
}

// statPolicy is the scheduling policy in a thread's /proc stat (field 41:
// "0" normal, "5" SCHED_IDLE), "" when the line is short. The fields are
// counted after the command name, which may hold spaces: the state is
// field 3, so the policy is the 39th after the name.
func statPolicy(stat []byte) string {
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) <= 38 {
		return ""
	}
	return f[38]
}

// waitNoIdle waits until no thread of the process has the idle policy.
func waitNoIdle(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, idle := threads(t); idle == 0 {
			return
		}
		if time.Now().After(deadline) {
			_, idle := threads(t)
			t.Fatalf("%d threads still have the idle policy 5 s after the runs ended", idle)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The test binary's main goroutine keeps the first thread, as
// cmd/wasmward's does: a run there would not move (background.go).
func init() { runtime.LockOSThread() }

func newBackgroundRuntime(t *testing.T, on bool) *sandbox.Runtime {
	t.Helper()
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithBackgroundCPU(on))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.BackgroundErr(); err != nil {
		t.Fatalf("BackgroundErr() = %v on Linux, want nil (the idle policy needs no privilege)", err)
	}
	waitNoIdle(t) // the thread New tried the policy on ends
	t.Cleanup(func() { _ = rt.Close(ctx) })
	return rt
}

// TestBackgroundCPU: with Config.WithBackgroundCPU a run moves to an
// idle-policy thread once it has used BackgroundAfter fuel or grows its
// memory past 16 MiB, and only then; the thread ends with the run; without
// the option nothing moves. Each case runs the same invocation with the
// option off and on and asserts the reports are the same but for
// Report.Background: where the guest runs changes when it gets a CPU, not
// what it does.
func TestBackgroundCPU(t *testing.T) {
	const timeout = 20 * time.Second
	tests := []struct {
		name    string
		fixture string
		env     []string
		limits  func(*policy.Limits)
		moves   bool
		kind    sandbox.Kind // the violation, "" none
		stdout  string
	}{
		{name: "short handler stays", fixture: "gw_hello", moves: false,
			stdout: "Content-Type: text/plain\n\nhello from C\n"},
		{name: "long computation moves", fixture: "gw_evil", env: []string{"QUERY_STRING=spin=1"}, moves: true,
			stdout: "Content-Type: text/plain\n\nspun\n"},
		{name: "fuel exhaustion after moving", fixture: "sb_loop", moves: true, kind: sandbox.KindFuelExhausted,
			limits: func(l *policy.Limits) { l.Fuel = 3 << 20 }},
		{name: "fuel exhaustion before moving", fixture: "sb_loop", moves: false, kind: sandbox.KindFuelExhausted,
			limits: func(l *policy.Limits) { l.Fuel = sandbox.BackgroundAfter / 2 }},
		{name: "memory growth moves", fixture: "adv_growfill", moves: true, kind: sandbox.KindMemoryLimit,
			limits: func(l *policy.Limits) { l.Memory = 17 << 20 }},
		{name: "memory bomb moves", fixture: "gw_evil", env: []string{"QUERY_STRING=memory"}, moves: true,
			kind: sandbox.KindMemoryLimit, limits: func(l *policy.Limits) { l.Memory = 17 << 20 }},
	}
	rts := map[bool]*sandbox.Runtime{false: newBackgroundRuntime(t, false), true: newBackgroundRuntime(t, true)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reps := map[bool]result{}
			for _, on := range []bool{false, true} {
				m := compile(t, rts[on], tc.fixture, withLimits(func(l *policy.Limits) {
					l.Timeout = policy.Duration(timeout)
					if tc.limits != nil {
						tc.limits(l)
					}
				}))
				r := run(t, m, sandbox.Invocation{Env: tc.env})
				reps[on] = r
				if want := on && tc.moves; r.rep.Background != want {
					t.Errorf("background %v: Report.Background = %v, want %v (fuel used %d)", on, r.rep.Background, want, r.rep.FuelUsed)
				}
				var kind sandbox.Kind
				if r.rep.Violation != nil {
					kind = r.rep.Violation.Kind
				}
				if kind != tc.kind {
					t.Errorf("background %v: violation %q (%+v), want %q", on, kind, r.rep.Violation, tc.kind)
				}
				if tc.stdout != "" && !strings.HasPrefix(r.stdout, tc.stdout) {
					t.Errorf("background %v: stdout %q, want it to start with %q", on, r.stdout, tc.stdout)
				}
			}
			off, on := reps[false].rep, reps[true].rep
			if off.FuelUsed != on.FuelUsed || off.PeakMemoryBytes != on.PeakMemoryBytes || off.Outcome != on.Outcome ||
				off.ExitCode != on.ExitCode || reps[false].stdout != reps[true].stdout {
				t.Errorf("the reports differ:\noff: %+v stdout %q\non:  %+v stdout %q", off, reps[false].stdout, on, reps[true].stdout)
			}
		})
	}
	waitNoIdle(t)
}

// loopsWatched runs n endless loops of m side by side for 300 ms, then
// cancels them, and returns the most idle-policy threads seen at once
// meanwhile and the runs' reports.
func loopsWatched(t *testing.T, m *sandbox.Module, n int) (most int, reps []*sandbox.Report) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *sandbox.Report, n)
	for range n {
		go func() {
			rep, _ := m.Run(ctx, sandbox.Invocation{})
			ch <- rep
		}()
	}
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; time.Sleep(2 * time.Millisecond) {
		if _, idle := threads(t); idle > most {
			most = idle
		}
	}
	cancel()
	for range n {
		rep := <-ch
		if rep == nil || rep.Violation == nil || rep.Violation.Kind != sandbox.KindTimeout {
			t.Fatalf("a loop ended with %+v, want stopped by the cancellation", rep)
		}
		reps = append(reps, rep)
	}
	return most, reps
}

// TestBackgroundWhileRunning watches the threads during a long run: an
// idle-policy thread exists while the guest computes (with the option),
// none exists without it, and none is left after either.
func TestBackgroundWhileRunning(t *testing.T) {
	waitNoIdle(t)
	for _, on := range []bool{false, true} {
		m := compile(t, newBackgroundRuntime(t, on), "sb_loop", withLimits(func(l *policy.Limits) {
			l.Timeout = policy.Duration(20 * time.Second)
		}))
		seen, reps := loopsWatched(t, m, 1)
		rep := reps[0]
		want := 0
		if on {
			want = 1
		}
		if seen != want || rep.Background != on {
			t.Errorf("background %v: %d idle-policy threads seen during the run, Report.Background %v; want %d, %v", on, seen, rep.Background, want, on)
		}
		waitNoIdle(t)
	}
}

// TestBackgroundLeavesOneP: at most GOMAXPROCS-1 runs are in the
// background at once, so one P always stays with the foreground (a
// background guest holds its P while it waits for CPU). With GOMAXPROCS
// 2, two long runs side by side: never two idle-policy threads at once;
// with GOMAXPROCS 1, no run moves.
func TestBackgroundLeavesOneP(t *testing.T) {
	waitNoIdle(t)
	m := compile(t, newBackgroundRuntime(t, true), "sb_loop", withLimits(func(l *policy.Limits) {
		l.Timeout = policy.Duration(20 * time.Second)
	}))
	for _, procs := range []int{2, 1} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			most, reps := loopsWatched(t, m, 2)
			moved := 0
			for _, rep := range reps {
				if rep.Background {
					moved++
				}
			}
			if most != procs-1 || (procs == 1 && moved != 0) {
				t.Errorf("GOMAXPROCS %d: %d runs in the background at once (%d of 2 moved), want %d", procs, most, moved, procs-1)
			}
			waitNoIdle(t)
		}()
	}
}

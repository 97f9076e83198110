//go:build linux

package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// selfPolicy is the scheduling policy of the calling thread (field 41 of
// its /proc stat: 0 normal, 5 SCHED_IDLE).
func selfPolicy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Skipf("no /proc/thread-self: %v", err)
	}
	return statPolicy(b)
}

// onLockedThread runs f on a goroutine locked to its own thread and
// returns f's error and that thread's policy after f. A thread found idle
// is not given back to the Go scheduler: its goroutine exits locked, which
// ends it.
func onLockedThread(t *testing.T, f func() error) (policy string, err error) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		err = f()
		policy = selfPolicy(t)
		if policy == "0" {
			runtime.UnlockOSThread()
		}
	}()
	<-done
	return policy, err
}

// TestBackgroundNeverOnCallersThread: with WithBackgroundCPU, a run that
// moves to the background does so on a worker's thread, never on the
// thread of the goroutine that called (which goes on serving others). The
// APIs that run guests on the caller's goroutine (Instance, Instantiate
// with a start function or a large memory, a run the Runtime could do
// inline) must leave the caller's thread as it was, and no thread of the
// process may keep the idle policy once they returned.
func TestBackgroundNeverOnCallersThread(t *testing.T) {
	ctx := context.Background()
	rt := newBackgroundRuntime(t, true)
	long := withLimits(func(l *policy.Limits) {
		l.Timeout = policy.Duration(20 * time.Second)
		l.Fuel = 8 * sandbox.BackgroundAfter
	})
	big := withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(20 * time.Second) })
	tests := []struct {
		name    string
		fixture string
		p       policy.Policy
		do      func(m *sandbox.Module) error
	}{
		{"Run with in-memory streams (moves, on a worker)", "sb_loop", long, func(m *sandbox.Module) error {
			var out bytes.Buffer
			rep, err := m.Run(ctx, sandbox.Invocation{Stdout: &out})
			if err != nil || rep.Violation == nil || rep.Violation.Kind != sandbox.KindFuelExhausted || !rep.Background {
				return fmt.Errorf("run: %v %+v, want fuel exhausted in the background", err, rep)
			}
			return nil
		}},
		{"Instance.Call of a long export", "sb_loop", long, func(m *sandbox.Module) error {
			in, err := m.Instantiate(ctx, "loop", nil)
			if err != nil {
				return err
			}
			defer in.Close(ctx)
			var rep sandbox.CallReport
			if err := in.Call(ctx, &sandbox.Call{Function: "_start"}, &rep); err != nil {
				return err
			}
			if rep.Violation == nil || rep.Violation.Kind != sandbox.KindFuelExhausted || rep.FuelUsed != 8*sandbox.BackgroundAfter {
				return fmt.Errorf("call: %+v, want its whole budget used", rep)
			}
			return nil
		}},
		{"Instantiate with a start function that loops", "adv_start_loop", long, func(m *sandbox.Module) error {
			_, err := m.Instantiate(ctx, "start", nil)
			var v *sandbox.Violation
			if !errors.Is(err, sandbox.ErrInstance) || !errors.As(err, &v) || v.Kind != sandbox.KindFuelExhausted {
				return fmt.Errorf("instantiate: %v, want the start function stopped by fuel", err)
			}
			return nil
		}},
		{"Instantiate of a 128 MiB memory", "lim_bigmem", big, func(m *sandbox.Module) error {
			in, err := m.Instantiate(ctx, "big", nil)
			if err != nil {
				return err
			}
			in.Close(ctx)
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, rt, tc.fixture, tc.p)
			p, err := onLockedThread(t, func() error { return tc.do(m) })
			if err != nil {
				t.Fatal(err)
			}
			if p != "0" {
				t.Errorf("the caller's thread has scheduling policy %s after the call, want 0 (normal)", p)
			}
			waitNoIdle(t)
		})
	}
}

// gate is a Stdout that blocks every write until it is opened.
type gate chan struct{}

func (g gate) Write(p []byte) (int, error) { <-g; return len(p), nil }

// TestBackgroundAbandonedRunEndsItsThread: a run that moved to the
// background and then blocks in the caller's writer past its deadline is
// abandoned by Run (Report.Abandoned); its idle-policy thread lives while
// the write blocks and ends when it returns.
func TestBackgroundAbandonedRunEndsItsThread(t *testing.T) {
	m := compile(t, newBackgroundRuntime(t, true), "gw_evil", withLimits(func(l *policy.Limits) {
		l.Timeout = policy.Duration(300 * time.Millisecond)
	}))
	waitNoIdle(t)
	g := make(gate)
	rep, err := m.Run(context.Background(), sandbox.Invocation{Env: []string{"QUERY_STRING=spin=2"}, Stdout: g})
	if err != nil || !rep.Abandoned || rep.Violation == nil || rep.Violation.Kind != sandbox.KindTimeout {
		t.Fatalf("run: %v %+v, want abandoned with a timeout", err, rep)
	}
	if _, idle := threads(t); idle != 1 {
		t.Fatalf("%d idle-policy threads while the abandoned run blocks in its write, want 1 (the run moved before it wrote)", idle)
	}
	close(g)
	waitNoIdle(t)
}

// TestBackgroundThreadsAfterManyRuns: a thousand long runs, eight at a
// time, then twenty one at a time (each of which moves), leave no thread
// with the idle policy and no more threads than before: each thread ends
// with its run.
func TestBackgroundThreadsAfterManyRuns(t *testing.T) {
	m := compile(t, newBackgroundRuntime(t, true), "sb_loop", withLimits(func(l *policy.Limits) {
		l.Timeout = policy.Duration(20 * time.Second)
		l.Fuel = 2 * sandbox.BackgroundAfter
	}))
	run(t, m, sandbox.Invocation{})
	waitNoIdle(t)
	before, _ := threads(t)
	var wg sync.WaitGroup
	var moved sync.Map
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 125 {
				rep, err := m.Run(context.Background(), sandbox.Invocation{})
				if err != nil || rep.Violation == nil || rep.Violation.Kind != sandbox.KindFuelExhausted {
					t.Errorf("run: %v %+v, want fuel exhausted", err, rep)
					return
				}
				if rep.Background {
					moved.Store(g, true)
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	moved.Range(func(any, any) bool { n++; return true })
	if n == 0 {
		// At most GOMAXPROCS-1 are in the background at once, so not
		// every goroutine need see one move; none seeing one is a bug.
		t.Fatal("no run of the 1000 moved to the background")
	}
	// One at a time (GOMAXPROCS-1 in the background at once), every run
	// moves.
	for range 20 {
		if r := run(t, m, sandbox.Invocation{}); !r.rep.Background || r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindFuelExhausted {
			t.Fatalf("a run past the threshold, alone: Report.Background %v, violation %+v (fuel %d)", r.rep.Background, r.rep.Violation, r.rep.FuelUsed)
		}
	}
	waitNoIdle(t)
	if after, _ := threads(t); after > before+4 {
		t.Errorf("the process went from %d to %d threads over 1000 long runs", before, after)
	}
}

// TestBackgroundSameReports runs every fixture with the option off and on,
// under a fuel budget that ends any loop long before its deadline (and a
// memory cap that keeps the work at the idle priority short: it crawls
// beside busy processes), and
// asserts the same report (but for the duration and Report.Background),
// the same output and the same error. A fixture whose two runs without the
// option already differ is left out. It failed for guests that trap (and
// sb_growbomb, whose refused growth ends in a trap): the fuel reported
// after a trap depends on where the grants fall, and the option made the
// first one smaller (BackgroundAfter instead of a whole slice).
func TestBackgroundSameReports(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(fixture.Dir(), "wasm", "*.wasm"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	p := withLimits(func(l *policy.Limits) {
		l.Timeout = policy.Duration(20 * time.Second)
		l.Fuel = 4 * sandbox.BackgroundAfter
		l.Memory = 17 << 20
	})
	p.Capabilities.Random = "seeded:7"
	rts := map[bool]*sandbox.Runtime{false: newBackgroundRuntime(t, false), true: newBackgroundRuntime(t, true)}
	type outcome struct {
		rep            sandbox.Report
		err            string
		stdout, stderr string
	}
	// do runs m once; moved is its Report.Background, which the outcome
	// leaves out with the duration.
	do := func(m *sandbox.Module) (r outcome, moved bool) {
		var o, e bytes.Buffer
		rep, err := m.Run(context.Background(), sandbox.Invocation{Stdout: &o, Stderr: &e,
			Stdin: strings.NewReader("input\n"), Args: []string{"a"}, Env: []string{"QUERY_STRING="}})
		r = outcome{rep: *rep, stdout: o.String(), stderr: e.String()}
		if err != nil {
			r.err = err.Error()
		}
		moved = rep.Background
		r.rep.DurationMS, r.rep.Background = 0, false
		return r, moved
	}
	compared, moved := 0, 0
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".wasm")
		t.Run(name, func(t *testing.T) {
			if name == "sb_sleep" {
				t.Skip("ends only at its deadline, which is long here (TestBackgroundCPU has deadlines)")
			}
			bin := fixture.Bytes(t, name)
			var ms [2]*sandbox.Module
			for i, on := range []bool{false, true} {
				m, err := rts[on].Compile(context.Background(), bin, p)
				if err != nil {
					t.Skipf("not compiled under the policy: %v", err)
				}
				t.Cleanup(func() { _ = m.Close(context.Background()) })
				ms[i] = m
			}
			off, _ := do(ms[0])
			if again, _ := do(ms[0]); !reflect.DeepEqual(off, again) {
				t.Skip("two runs without the option differ")
			}
			on, bg := do(ms[1])
			if bg {
				moved++
			}
			compared++
			if !reflect.DeepEqual(off, on) {
				t.Errorf("the option changed the run:\noff: %+v err %q stdout %q stderr %q\non:  %+v err %q stdout %q stderr %q",
					off.rep, off.err, off.stdout, off.stderr, on.rep, on.err, on.stdout, on.stderr)
			}
		})
	}
	t.Logf("%d fixtures compared, %d of them moved to the background", compared, moved)
	if moved < 5 {
		t.Errorf("only %d fixture runs moved to the background: the comparison does not exercise the option", moved)
	}
}

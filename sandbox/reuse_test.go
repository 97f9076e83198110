package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// reusePolicy is the policy of the reuse tests: a fuel budget (mode "f"
// exhausts it) and an output cap above the dump (mode "o" exceeds it).
func reusePolicy() policy.Policy {
	return withLimits(func(l *policy.Limits) {
		l.Fuel = 50_000_000
		l.Output = 1 << 20
		l.Timeout = policy.Duration(10 * time.Second)
	})
}

// dumpRun runs sb_reuse's dump on m and returns its stdout: all of linear
// memory, with every global stored at 64.
func dumpRun(t *testing.T, m *sandbox.Module) []byte {
	t.Helper()
	r := run(t, m, sandbox.Invocation{Stdin: strings.NewReader("D")})
	if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 {
		t.Fatalf("dump: %+v", r.rep)
	}
	return []byte(r.stdout)
}

// Request N writes a secret into all of linear memory and every mutable
// global (i32, i64, f32, f64, v128, funcref), or only a byte here and
// there, then ends in each way a run can end; request N+1, on the same compiled module, dumps its whole
// memory and its globals and must see exactly what a fresh instance of a
// separately compiled module sees, byte for byte, with a working stdout.
// Clean ends (a return, proc_exit whatever its code) must reuse the
// instance; the others must discard it. Without the reset, the dump
// shows the secret; without the discards, the closed stdout or the grown
// memory shows.
func TestReuseCleanAfterHostileRequest(t *testing.T) {
	rt := newRuntime(t)
	fresh := compile(t, rt, "sb_reuse", reusePolicy())
	want := dumpRun(t, fresh)
	if len(want) != 2*65536 || !bytes.Contains(want, []byte("initial image, second page")) {
		t.Fatalf("reference dump: %d bytes", len(want))
	}
	for _, tc := range []struct {
		mode     string
		outcome  sandbox.Outcome
		exit     int
		kind     sandbox.Kind
		stdout   string // a prefix of what the hostile request wrote
		reused   bool   // the dump after it runs on the same instance
		memBytes uint64 // the hostile request's peak
	}{
		{mode: "w", outcome: sandbox.OutcomeExit, reused: true, memBytes: 2 << 16},
		{mode: "P", outcome: sandbox.OutcomeExit, reused: true, memBytes: 2 << 16},
		{mode: "x", outcome: sandbox.OutcomeExit, reused: true, memBytes: 2 << 16},
		{mode: "e", outcome: sandbox.OutcomeExit, exit: 3, reused: true, memBytes: 2 << 16},
		{mode: "c", outcome: sandbox.OutcomeExit, memBytes: 2 << 16},
		{mode: "g", outcome: sandbox.OutcomeExit, memBytes: 3 << 16},
		{mode: "t", outcome: sandbox.OutcomeTrap, memBytes: 2 << 16},
		{mode: "f", outcome: sandbox.OutcomeViolation, kind: sandbox.KindFuelExhausted, memBytes: 2 << 16},
		{mode: "o", outcome: sandbox.OutcomeViolation, kind: sandbox.KindOutputLimit, stdout: "ZZZZ", memBytes: 2 << 16},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			m := compile(t, rt, "sb_reuse", reusePolicy())
			if ok, why := sandbox.Reusable(m); !ok {
				t.Fatalf("sb_reuse is not reusable: %s", why)
			}
			dumpRun(t, m) // the instance the hostile request gets
			for round := range 3 {
				before := sandbox.Instantiations(m)
				r := run(t, m, sandbox.Invocation{Stdin: strings.NewReader(tc.mode)})
				rep := r.rep
				if rep.Outcome != tc.outcome || rep.ExitCode != tc.exit || rep.PeakMemoryBytes != tc.memBytes {
					t.Fatalf("round %d: hostile request: %+v", round, rep)
				}
				if (tc.kind == "") != (rep.Violation == nil) || rep.Violation != nil && rep.Violation.Kind != tc.kind {
					t.Fatalf("round %d: violation %+v, want %q", round, rep.Violation, tc.kind)
				}
				if !strings.HasPrefix(r.stdout, tc.stdout) {
					t.Fatalf("round %d: stdout %.20q", round, r.stdout)
				}
				if got := sandbox.Instantiations(m) - before; got != 0 {
					t.Fatalf("round %d: the hostile request created %d instances, want 0 (the dump's instance is reused)", round, got)
				}
				got := dumpRun(t, m)
				if !bytes.Equal(got, want) {
					t.Fatalf("round %d: after %q the dump differs from a fresh instance's (%d bytes, want %d); first difference at %d",
						round, tc.mode, len(got), len(want), firstDiff(got, want))
				}
				created := sandbox.Instantiations(m) - before
				if tc.reused && created != 0 || !tc.reused && created != 1 {
					t.Fatalf("round %d: the dump after %q created %d instances, want reuse=%t", round, tc.mode, created, tc.reused)
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// What cannot be reset is never reused: Compile decides per module.
func TestReuseEligibility(t *testing.T) {
	rt := newRuntime(t)
	for _, tc := range []struct {
		fixture string
		why     string
	}{
		{"sb_reuse", ""},
		{"sb_tool", ""},
		{"gw_memimage", ""},
		{"adv_tablegrow", "its code changes tables or segments"},
		{"adv_start_loop", "it has a start function"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			m, err := rt.Compile(context.Background(), fixture.Bytes(t, tc.fixture), policy.Default())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			ok, why := sandbox.Reusable(m)
			if ok != (tc.why == "") || why != tc.why {
				t.Fatalf("reusable %t (%q), want %q", ok, why, tc.why)
			}
		})
	}
}

// The reset function is the host's: no run may invoke it.
func TestReuseResetHidden(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_reuse", reusePolicy())
	_, err := m.Run(context.Background(), sandbox.Invocation{Function: "wasmward.reset"})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the module exports no function %q", "wasmward.reset")) {
		t.Fatalf("invoking the reset export: %v", err)
	}
}

// Idle instances survive garbage collections. They were in a sync.Pool,
// which every collection empties: the run after each one rebuilt its
// instance (for the Go reactor, 3 MB of memory and the whole table) at
// once, which made the gateway's tail latency under load.
func TestReuseSurvivesGC(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_reuse", reusePolicy())
	want := dumpRun(t, m)
	before := sandbox.Instantiations(m)
	for i := range 5 {
		runtime.GC()
		runtime.GC()
		if got := dumpRun(t, m); !bytes.Equal(got, want) {
			t.Fatalf("run %d after a collection: the dump differs at %d", i, firstDiff(got, want))
		}
	}
	if n := sandbox.Instantiations(m) - before; n != 0 {
		t.Fatalf("%d instances created by runs after garbage collections, want 0 (the idle instance is kept)", n)
	}
}

// gateReader blocks its first Read until open is closed, then reads "D"
// (sb_reuse's dump); entered counts the reads that started.
type gateReader struct {
	open    chan struct{}
	entered *atomic.Int32
	done    bool
}

func (g *gateReader) Read(p []byte) (int, error) {
	if g.done {
		return 0, io.EOF
	}
	g.entered.Add(1)
	<-g.open
	g.done = true
	return copy(p, "D"), nil
}

// concurrentDumps runs n dumps of m at the same time (each holds its run
// state until all have started) and returns how many instances they created.
func concurrentDumps(t *testing.T, m *sandbox.Module, n int) int64 {
	t.Helper()
	before := sandbox.Instantiations(m)
	open := make(chan struct{})
	var entered atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			rep, err := m.Run(context.Background(), sandbox.Invocation{Stdin: &gateReader{open: open, entered: &entered}, Stdout: &out})
			if err != nil || rep.Outcome != sandbox.OutcomeExit || out.Len() != 2<<16 {
				errs <- fmt.Sprintf("%v %+v %d", err, rep, out.Len())
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); entered.Load() < int32(n); {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs started", entered.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	close(open)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	return sandbox.Instantiations(m) - before
}

// Idle instances are bounded: at most MaxIdle per module, and within the
// runtime's idle budget (bytes of memory and tables) for all modules; the
// rest are closed when their run ends.
func TestReuseIdleBounded(t *testing.T) {
	const inst = 2<<16 + sandbox.IdleOverhead // sb_reuse's memory (it has no table) and the instance
	for _, tc := range []struct {
		name   string
		budget int64
		runs   int
		kept   int
	}{
		{"count", 1 << 30, sandbox.MaxIdle() + 4, sandbox.MaxIdle()},
		{"bytes", 3 * inst, 8, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRuntime(t)
			sandbox.SetIdleBudget(rt, tc.budget)
			m := compile(t, rt, "sb_reuse", reusePolicy())
			if n := concurrentDumps(t, m, tc.runs); n != int64(tc.runs) {
				t.Fatalf("%d concurrent runs created %d instances", tc.runs, n)
			}
			if got := sandbox.IdleBytes(rt); got != int64(tc.kept*inst) {
				t.Fatalf("idle instances hold %d bytes, want %d (%d kept)", got, tc.kept*inst, tc.kept)
			}
			if n := concurrentDumps(t, m, tc.runs); n != int64(tc.runs-tc.kept) {
				t.Fatalf("the next %d concurrent runs created %d instances, want %d (%d reused)", tc.runs, n, tc.runs-tc.kept, tc.kept)
			}
			_ = m.Close(context.Background())
			if got := sandbox.IdleBytes(rt); got != 0 {
				t.Fatalf("after Close, idle instances hold %d bytes", got)
			}
		})
	}
}

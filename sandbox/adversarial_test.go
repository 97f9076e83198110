package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture/synth"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Adversarial guests: each test asserts the safe outcome of one attack on a
// limit. Helpers carry an adv prefix so that this file does not depend on the
// other test files' helpers.

func advRuntime(t testing.TB) *sandbox.Runtime {
	t.Helper()
	rt, err := sandbox.New(context.Background(), sandbox.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

func advPolicy(f func(*policy.Limits)) policy.Policy {
	p := policy.Default()
	p.Limits.Timeout = policy.Duration(2 * time.Second)
	if f != nil {
		f(&p.Limits)
	}
	return p
}

func advCompile(t testing.TB, rt *sandbox.Runtime, bin []byte, p policy.Policy) *sandbox.Module {
	t.Helper()
	m, err := rt.Compile(context.Background(), bin, p)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

type advResult struct {
	rep            *sandbox.Report
	stdout, stderr []byte
	elapsed        time.Duration
}

// advRun is run (sandbox_test.go) with the output as bytes.
func advRun(t testing.TB, m *sandbox.Module, in sandbox.Invocation) advResult {
	t.Helper()
	r := run(t, m, in)
	return advResult{rep: r.rep, stdout: []byte(r.stdout), stderr: []byte(r.stderr), elapsed: r.elapsed}
}

// advCompileOrRefused compiles the fixture name; a refusal must be
// invalid_module, and then it returns nil (the module never runs).
func advCompileOrRefused(t testing.TB, rt *sandbox.Runtime, name string, p policy.Policy) *sandbox.Module {
	t.Helper()
	m, err := rt.Compile(context.Background(), fixture.Bytes(t, name), p)
	if err != nil {
		var ref *sandbox.Refusal
		if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindInvalidModule {
			t.Fatalf("want refusal invalid_module, got %v", err)
		}
		return nil
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func advViolation(t testing.TB, rep *sandbox.Report, kind sandbox.Kind) {
	t.Helper()
	if rep.Outcome != sandbox.OutcomeViolation || rep.Violation == nil || rep.Violation.Kind != kind {
		t.Fatalf("want violation %s, got outcome %s violation %+v trap %q exit %d", kind, rep.Outcome, rep.Violation, rep.Trap, rep.ExitCode)
	}
}

func advRefused(t testing.TB, rt *sandbox.Runtime, bin []byte, p policy.Policy, kind sandbox.Kind) {
	t.Helper()
	m, err := rt.Compile(context.Background(), bin, p)
	if err == nil {
		_ = m.Close(context.Background())
		t.Fatalf("compiled; want refusal %s", kind)
	}
	var ref *sandbox.Refusal
	if !errors.As(err, &ref) || ref.Violation.Kind != kind {
		t.Fatalf("want refusal %s, got %v", kind, err)
	}
}

// The start function runs during instantiation, before Run calls _start: an
// endless start function must still be stopped at the deadline.
func TestAdvStartFunctionLoopTimesOut(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.Timeout = policy.Duration(100 * time.Millisecond) })
	m := advCompile(t, rt, fixture.Bytes(t, "adv_start_loop"), p)
	r := advRun(t, m, sandbox.Invocation{})
	advViolation(t, r.rep, sandbox.KindTimeout)
	if r.elapsed > 100*time.Millisecond+time.Second {
		t.Fatalf("stopped after %v", r.elapsed)
	}
}

// Same, with fuel: the start function's loop is charged.
func TestAdvStartFunctionLoopFuel(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.Fuel = 100000 })
	m := advCompile(t, rt, fixture.Bytes(t, "adv_start_loop"), p)
	r := advRun(t, m, sandbox.Invocation{})
	advViolation(t, r.rep, sandbox.KindFuelExhausted)
	if r.rep.FuelUsed != 100000 {
		t.Fatalf("fuel_used = %d, want the whole budget", r.rep.FuelUsed)
	}
}

// Tail calls are enabled (internal/engine.RunCoreFeatures): a return_call
// loop runs in constant depth, so the depth bound does not stop it, but
// every function entry is charged: fuel stops it, and without fuel the
// deadline does.
func TestAdvTailCallLoopStopped(t *testing.T) {
	rt := advRuntime(t)
	m := advCompile(t, rt, fixture.Bytes(t, "adv_tailloop"), advPolicy(func(l *policy.Limits) { l.Fuel = 1000000 }))
	advViolation(t, advRun(t, m, sandbox.Invocation{}).rep, sandbox.KindFuelExhausted)
	p := advPolicy(func(l *policy.Limits) { l.Timeout = policy.Duration(500 * time.Millisecond) })
	r := advRun(t, advCompile(t, rt, fixture.Bytes(t, "adv_tailloop"), p), sandbox.Invocation{})
	advViolation(t, r.rep, sandbox.KindTimeout)
	if r.elapsed > 5*time.Second {
		t.Fatalf("stopped after %v, deadline 500ms", r.elapsed)
	}
}

// Recursion through call_indirect hits the depth bound, not the engine.
func TestAdvCallIndirectRecursion(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.StackDepth = 500 })
	r := advRun(t, advCompile(t, rt, fixture.Bytes(t, "adv_callind"), p), sandbox.Invocation{})
	advViolation(t, r.rep, sandbox.KindStackLimit)
}

// memory.atomic.wait can block without fuel: shared memory must be refused
// (threads are not enabled), or the deadline must stop the wait.
func TestAdvAtomicWaitForever(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.Timeout = policy.Duration(100 * time.Millisecond) })
	m := advCompileOrRefused(t, rt, "adv_atomicwait", p)
	if m == nil {
		return
	}
	r := advRun(t, m, sandbox.Invocation{})
	advViolation(t, r.rep, sandbox.KindTimeout)
	if r.elapsed > 100*time.Millisecond+time.Second {
		t.Fatalf("stopped after %v", r.elapsed)
	}
}

// Two memories must not get twice the cap.
func TestAdvMultiMemory(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.Memory = 4 << 20 })
	m := advCompileOrRefused(t, rt, "adv_multimem", p)
	if m == nil {
		return
	}
	r := advRun(t, m, sandbox.Invocation{})
	advViolation(t, r.rep, sandbox.KindMemoryLimit)
}

// A guest that handles memory.grow failures and then fills everything it got:
// memory_limit, exit code kept, peak at most the cap, and the fill really ran
// (the guest exited normally).
func TestAdvGrowUntilRefusedThenFill(t *testing.T) {
	rt := advRuntime(t)
	const capBytes = 8 << 20
	p := advPolicy(func(l *policy.Limits) { l.Memory = capBytes })
	r := advRun(t, advCompile(t, rt, fixture.Bytes(t, "adv_growfill"), p), sandbox.Invocation{})
	advViolation(t, r.rep, sandbox.KindMemoryLimit)
	if r.rep.PeakMemoryBytes != capBytes {
		t.Fatalf("peak = %d, want %d", r.rep.PeakMemoryBytes, capBytes)
	}
	if r.rep.ExitCode != 0 {
		t.Fatalf("exit = %d", r.rep.ExitCode)
	}
}

// Hostile WASI calls: out-of-bounds and overflowing pointers/lengths get an
// errno (21 EFAULT, 8 EBADF, 52 ENOSYS) or at worst a trap; the output
// amplification (one 64 KiB buffer referenced by 8191 iovecs) is cut at the
// output cap; proc_exit keeps the full 32-bit code.
func TestAdvWASIAbuse(t *testing.T) {
	rt := advRuntime(t)
	const outCap = 1 << 20
	p := advPolicy(func(l *policy.Limits) { l.Output = outCap })
	m := advCompile(t, rt, fixture.Bytes(t, "adv_wasi"), p)
	for _, tc := range []struct {
		fn      string
		outcome sandbox.Outcome
		result  uint64 // errno when outcome is exit and results are returned
		exit    int
	}{
		{"huge_iovcnt", sandbox.OutcomeExit, 21, 0},
		{"oob_iovec", sandbox.OutcomeExit, 21, 0},
		{"straddle_iovec", sandbox.OutcomeExit, 21, 0},
		{"random_huge", sandbox.OutcomeExit, 21, 0},
		{"random_all", sandbox.OutcomeExit, 0, 0},
		{"args_edge", sandbox.OutcomeExit, 21, 0},
		{"environ_edge", sandbox.OutcomeExit, 21, 0},
		{"environ_wrap", sandbox.OutcomeExit, 21, 0},
		{"path_long", sandbox.OutcomeExit, 8, 0},
		{"prestat_neg", sandbox.OutcomeExit, 8, 0},
		{"sock", sandbox.OutcomeExit, 8, 0},
		{"exit_huge", sandbox.OutcomeExit, 0, 4294967295},
		// wazero multiplies nsubscriptions*48 in 32 bits: the overflow
		// panics inside wazero, which recovers it as a trap. Safe (the run
		// ends as a trap), but see the report.
		{"poll_many", sandbox.OutcomeTrap, 0, 0},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			r := advRun(t, m, sandbox.Invocation{Function: tc.fn, Env: []string{"A=B"}})
			if r.rep.Outcome != tc.outcome || r.rep.ExitCode != tc.exit {
				t.Fatalf("outcome %s exit %d (trap %q, violation %+v), want %s exit %d",
					r.rep.Outcome, r.rep.ExitCode, r.rep.Trap, r.rep.Violation, tc.outcome, tc.exit)
			}
			if len(r.rep.Results) == 1 && r.rep.Results[0] != tc.result {
				t.Fatalf("errno %d, want %d", r.rep.Results[0], tc.result)
			}
			if len(r.stdout) != 0 {
				t.Fatalf("wrote %d bytes to stdout", len(r.stdout))
			}
		})
	}
	t.Run("amplify", func(t *testing.T) {
		r := advRun(t, m, sandbox.Invocation{Function: "amplify"})
		advViolation(t, r.rep, sandbox.KindOutputLimit)
		if len(r.stdout) != outCap || r.rep.StdoutBytes != outCap {
			t.Fatalf("delivered %d bytes, report says %d, want %d", len(r.stdout), r.rep.StdoutBytes, outCap)
		}
		if n := r.rep.HostCalls["wasi_snapshot_preview1.fd_write"]; n != 1 {
			t.Fatalf("host_calls fd_write = %d", n)
		}
	})
}

// Writing exactly the output cap is allowed; what happens next decides the
// outcome: a trap stays a trap (not output_limit) and keeps every byte; one
// byte more is output_limit with stdout_bytes equal to the cap.
func TestAdvOutputCapBoundary(t *testing.T) {
	rt := advRuntime(t)
	const outCap = 1000
	p := advPolicy(func(l *policy.Limits) { l.Output = outCap })
	m := advCompile(t, rt, fixture.Bytes(t, "adv_outcap"), p)
	r := advRun(t, m, sandbox.Invocation{Function: "exact_then_trap", Params: []uint64{outCap}})
	if r.rep.Outcome != sandbox.OutcomeTrap || r.rep.StdoutBytes != outCap || len(r.stdout) != outCap {
		t.Fatalf("exact then trap: outcome %s violation %+v stdout %d/%d", r.rep.Outcome, r.rep.Violation, r.rep.StdoutBytes, len(r.stdout))
	}
	r = advRun(t, m, sandbox.Invocation{Function: "exact_then_one", Params: []uint64{outCap}})
	advViolation(t, r.rep, sandbox.KindOutputLimit)
	if r.rep.StdoutBytes != outCap || len(r.stdout) != outCap {
		t.Fatalf("exact then one: stdout %d/%d", r.rep.StdoutBytes, len(r.stdout))
	}
	r = advRun(t, m, sandbox.Invocation{Function: "exact_then_one", Params: []uint64{outCap - 1}})
	if r.rep.Outcome != sandbox.OutcomeExit || len(r.rep.Results) != 1 || r.rep.Results[0] != 0 || len(r.stdout) != outCap {
		t.Fatalf("cap-1 then one: outcome %s results %v stdout %d", r.rep.Outcome, r.rep.Results, len(r.stdout))
	}
}

// Linear memories are pooled across instances: an instance must never see a
// byte a previous one wrote, whatever sizes the two grow to (same class,
// smaller, larger, past the pooled classes).
func TestAdvPooledMemoryIsZeroed(t *testing.T) {
	rt := advRuntime(t)
	m := advCompile(t, rt, fixture.Bytes(t, "adv_memdirty"), advPolicy(func(l *policy.Limits) { l.Memory = 64 << 20 }))
	for _, tc := range []struct{ dirty, scan uint64 }{{3, 3}, {100, 3}, {3, 100}, {300, 300}, {1, 0}, {0, 1}} {
		for range 3 {
			if r := advRun(t, m, sandbox.Invocation{Function: "dirty", Params: []uint64{tc.dirty}}); r.rep.Outcome != sandbox.OutcomeExit {
				t.Fatalf("dirty %d: %s %+v", tc.dirty, r.rep.Outcome, r.rep.Violation)
			}
			r := advRun(t, m, sandbox.Invocation{Function: "scan", Params: []uint64{tc.scan}})
			if r.rep.Outcome != sandbox.OutcomeExit || len(r.rep.Results) != 1 || r.rep.Results[0] != 0 {
				t.Fatalf("dirty %d pages then scan %d: outcome %s, %v non-zero words", tc.dirty, tc.scan, r.rep.Outcome, r.rep.Results)
			}
		}
	}
}

// With a fuel budget, a huge table.grow is charged (1 per element) before
// it runs, so the allocation never happens: fuel_exhausted, whole budget
// used. (Without a budget the memory cap bounds it:
// TestAdvTableGrowBoundedByMemoryCap.)
func TestAdvTableGrowStoppedByFuel(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.Fuel = 1_000_000 })
	m := advCompile(t, rt, fixture.Bytes(t, "adv_tablegrow"), p)
	r := advRun(t, m, sandbox.Invocation{Function: "big"})
	advViolation(t, r.rep, sandbox.KindFuelExhausted)
	if r.rep.FuelUsed != 1_000_000 || r.elapsed > time.Second {
		t.Fatalf("fuel_used %d after %v", r.rep.FuelUsed, r.elapsed)
	}
}

// table.grow is bounded by the per-instance memory cap: the instrumented
// grow fails (returns -1, table unchanged, as the spec allows) past
// limits.memory / 8 elements, and the run reports memory_limit, like a
// refused memory.grow. A grow of exactly the bound succeeds with no
// violation; one element more is refused. The violation takes precedence
// over the exit or trap that follows the refusal, not over another
// violation (here fuel_exhausted). "big" asks for 64Mi elements (512 MiB
// of host memory) at once; "steps" grows by 1Mi until refused.
func TestAdvTableGrowBoundedByMemoryCap(t *testing.T) {
	rt := advRuntime(t)
	type want struct {
		outcome sandbox.Outcome
		kind    sandbox.Kind // violation kind, "" for none
		results []uint64
		exit    int
		trap    string
	}
	for _, cap := range []struct {
		mem   policy.Size
		bound uint64 // mem / 8
		text  string
	}{
		{policy.DefaultMemory, 16 << 20, "128MiB"},
		{64 << 20, 8 << 20, "64MiB"},
		{16 << 20, 2 << 20, "16MiB"},
	} {
		denied := fmt.Sprintf("table.grow denied: above the %d-element bound per table or, with linear memory, the %s per-instance cap", cap.bound, cap.text)
		// A generous deadline: "steps" copies the growing table 16 times
		// (about 1 GiB of copying at the default cap).
		m := advCompile(t, rt, fixture.Bytes(t, "adv_tablegrow"), advPolicy(func(l *policy.Limits) {
			l.Memory = cap.mem
			l.Timeout = policy.Duration(20 * time.Second)
		}))
		for _, tc := range []struct {
			fn   string
			arg  []uint64
			want want
		}{
			{"big", nil, want{outcome: sandbox.OutcomeViolation, kind: sandbox.KindMemoryLimit}},
			{"steps", nil, want{outcome: sandbox.OutcomeViolation, kind: sandbox.KindMemoryLimit}},
			{"grow", []uint64{cap.bound}, want{outcome: sandbox.OutcomeExit, results: []uint64{0}}},
			{"grow", []uint64{cap.bound + 1}, want{outcome: sandbox.OutcomeViolation, kind: sandbox.KindMemoryLimit}},
			{"grow", []uint64{0xffffffff}, want{outcome: sandbox.OutcomeViolation, kind: sandbox.KindMemoryLimit}},
			{"grow_exit", []uint64{cap.bound}, want{outcome: sandbox.OutcomeExit, exit: 7}},
			{"grow_exit", []uint64{cap.bound + 1}, want{outcome: sandbox.OutcomeViolation, kind: sandbox.KindMemoryLimit, exit: 7}},
			{"grow_trap", []uint64{cap.bound}, want{outcome: sandbox.OutcomeTrap, trap: "wasm error: unreachable"}},
			{"grow_trap", []uint64{cap.bound + 1}, want{outcome: sandbox.OutcomeViolation, kind: sandbox.KindMemoryLimit}},
		} {
			r := advRun(t, m, sandbox.Invocation{Function: tc.fn, Params: tc.arg})
			rep := r.rep
			got := want{outcome: rep.Outcome, results: rep.Results, exit: rep.ExitCode, trap: rep.Trap}
			if rep.Violation != nil {
				got.kind = rep.Violation.Kind
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %s%v: got %+v (violation %+v), want %+v", cap.text, tc.fn, tc.arg, got, rep.Violation, tc.want)
				continue
			}
			if tc.want.kind != "" && rep.Violation.Detail != denied {
				t.Errorf("%s: %s%v: detail %q, want %q", cap.text, tc.fn, tc.arg, rep.Violation.Detail, denied)
			}
		}
	}

	// Another violation after the refusal stays: the spin runs out of fuel
	// (the grow's 1+n fuel is charged first, so the budget covers it).
	m := advCompile(t, rt, fixture.Bytes(t, "adv_tablegrow"), advPolicy(func(l *policy.Limits) { l.Memory = 16 << 20; l.Fuel = 3_000_000 }))
	r := advRun(t, m, sandbox.Invocation{Function: "grow_spin", Params: []uint64{2<<20 + 1}})
	advViolation(t, r.rep, sandbox.KindFuelExhausted)
}

// Compile honours its context although wazero's compiler does not: under a
// context that ends first, it returns at once with a timeout refusal that
// wraps context.DeadlineExceeded (the compilation finishes in the
// background). Nesting deep enough to make the compiler slow (8000 nested
// loops took ~5 s) is refused up front by the meter's nesting bound.
func TestAdvCompileHonoursContext(t *testing.T) {
	rt := advRuntime(t)
	nested := func(depth int) []byte {
		body := append(append(bytes.Repeat([]byte{0x03, 0x40}, depth), bytes.Repeat([]byte{0x0b}, depth)...), 0x0b)
		return synth.Module(1, body, nil)
	}
	start := time.Now()
	advRefused(t, rt, nested(8000), advPolicy(nil), sandbox.KindInvalidModule)
	if el := time.Since(start); el > time.Second {
		t.Errorf("refusing 8000 nested loops took %v", el)
	}

	// 1000 nested loops: accepted, and slow enough to compile (tens of ms)
	// that a 1 ms context ends first.
	bin := nested(1000)
	start = time.Now()
	m, err := rt.Compile(context.Background(), bin, advPolicy(nil))
	full := time.Since(start)
	if err != nil {
		t.Fatalf("1000 nested loops: %v", err)
	}
	_ = m.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	start = time.Now()
	m, err = rt.Compile(ctx, bin, advPolicy(nil))
	el := time.Since(start)
	if err == nil {
		_ = m.Close(context.Background())
		t.Fatalf("Compile succeeded after its context's deadline (%v; a full compile takes %v)", el, full)
	}
	var ref *sandbox.Refusal
	if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a timeout refusal wrapping context.DeadlineExceeded", err)
	}
	if el > full/2+5*time.Millisecond {
		t.Errorf("Compile returned after %v under a 1ms context; a full compile takes %v", el, full)
	}
	t.Logf("full compile %v, canceled compile returned after %v", full, el)

	// A canceled context is an error, not a refusal.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := rt.Compile(ctx2, bin, advPolicy(nil)); !errors.Is(err, context.Canceled) || errors.As(err, &ref) {
		t.Errorf("canceled: %v", err)
	}
}

// advLateWriter records writes with their time.
type advLateWriter struct {
	mu  sync.Mutex
	buf []byte
	at  []time.Time
}

func (w *advLateWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	w.at = append(w.at, time.Now())
	return len(p), nil
}

// advSlowReader is a caller's stdin whose reads block until a set time.
type advSlowReader struct {
	until time.Time
	mu    sync.Mutex
	at    []time.Time
}

func (r *advSlowReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	time.Sleep(time.Until(r.until))
	return copy(p, "request body"), nil
}

// No read or write reaches the Invocation's streams after Run returned. The
// guest (adv_abandon) reads stdin and then writes stdout; the caller's
// stdin blocks past the watchdog (deadline + 1 s), so Run abandons the
// guest and returns. Before the fix the read then returned into the guest,
// which wrote "LATE-WRITE" and the body to the caller's Stdout after Run
// returned (in the gateway: into the next request's pooled buffers). Now
// the abandonment revokes the streams: the guest is stopped when the read
// returns, and any read or write it starts later is refused.
func TestAdvIOAfterRunReturned(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.Timeout = policy.Duration(300 * time.Millisecond) })
	m := advCompile(t, rt, fixture.Bytes(t, "adv_abandon"), p)
	w := &advLateWriter{}
	start := time.Now()
	in := &advSlowReader{until: start.Add(1700 * time.Millisecond)}
	rep, err := m.Run(context.Background(), sandbox.Invocation{Stdout: w, Stdin: in})
	returned := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	advViolation(t, rep, sandbox.KindTimeout)
	if !rep.Abandoned || !strings.Contains(rep.Violation.Detail, "abandoned") ||
		!strings.HasPrefix(rep.Violation.Detail, "wall-clock deadline of 300ms exceeded;") {
		t.Errorf("abandoned %v, detail %q", rep.Abandoned, rep.Violation.Detail)
	}
	t.Logf("Run returned after %v: %s", returned.Sub(start), rep.Violation.Detail)
	time.Sleep(time.Until(in.until) + 500*time.Millisecond) // let the abandoned guest go on
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.at) > 0 {
		t.Errorf("the guest wrote %q to the caller's Stdout %v after Run returned", w.buf, w.at[0].Sub(returned))
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, at := range in.at {
		if at.After(returned) {
			t.Errorf("the guest read the caller's Stdin %v after Run returned", at.Sub(returned))
		}
	}
}

// The watchdog's detail names the deadline that applied: a caller's
// deadline shorter than the policy's timeout.
func TestAdvAbandonedDetailNamesCallerDeadline(t *testing.T) {
	rt := advRuntime(t)
	m := advCompile(t, rt, fixture.Bytes(t, "adv_abandon"), advPolicy(nil))
	start := time.Now()
	in := &advSlowReader{until: start.Add(1500 * time.Millisecond)}
	rep, err := m.Run(context.Background(), sandbox.Invocation{Stdin: in, Deadline: start.Add(200 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	advViolation(t, rep, sandbox.KindTimeout)
	if !rep.Abandoned || !strings.HasPrefix(rep.Violation.Detail, "the caller's deadline passed;") {
		t.Errorf("abandoned %v, detail %q", rep.Abandoned, rep.Violation.Detail)
	}
	time.Sleep(time.Until(in.until) + 100*time.Millisecond)
}

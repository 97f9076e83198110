package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Timing margins. A deadline may be overshot by the longest uninterruptible
// step (one host call, one bulk instruction); CI boxes have 2 loaded cores.
const (
	marginLoop = time.Second
	marginBulk = 2 * time.Second // one memory.fill of 1GiB on a cold, loaded box
)

func newRuntime(t testing.TB) *sandbox.Runtime {
	t.Helper()
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	return rt
}

func compile(t testing.TB, rt *sandbox.Runtime, name string, p policy.Policy) *sandbox.Module {
	t.Helper()
	m, err := rt.Compile(context.Background(), fixture.Bytes(t, name), p)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

type result struct {
	rep            *sandbox.Report
	stdout, stderr string
	elapsed        time.Duration
}

func run(t testing.TB, m *sandbox.Module, in sandbox.Invocation) result {
	t.Helper()
	var out, errb bytes.Buffer
	if in.Stdout == nil {
		in.Stdout = &out
	}
	if in.Stderr == nil {
		in.Stderr = &errb
	}
	start := time.Now()
	rep, err := m.Run(context.Background(), in)
	el := time.Since(start)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep == nil {
		t.Fatal("nil report")
	}
	return result{rep: rep, stdout: out.String(), stderr: errb.String(), elapsed: el}
}

func withLimits(f func(*policy.Limits)) policy.Policy {
	p := policy.Default()
	f(&p.Limits)
	return p
}

// TestHostileCorpus runs every hostile module and asserts the precise outcome.
func TestHostileCorpus(t *testing.T) {
	rt := newRuntime(t)
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name      string
		fixture   string
		limits    func(*policy.Limits)
		outcome   sandbox.Outcome
		kind      sandbox.Kind
		detail    string // substring of the violation detail or the trap
		maxTime   time.Duration
		exitCode  int
		stdoutLen uint64
	}{
		{name: "infinite loop", fixture: "sb_loop", outcome: sandbox.OutcomeViolation, kind: sandbox.KindTimeout,
			detail: "deadline of 300ms", maxTime: timeout + marginLoop},
		{name: "exponential call tree n=62", fixture: "sb_exptree", outcome: sandbox.OutcomeViolation, kind: sandbox.KindTimeout,
			detail: "deadline of 300ms", maxTime: timeout + marginLoop},
		{name: "unbounded recursion", fixture: "sb_recurse", outcome: sandbox.OutcomeViolation, kind: sandbox.KindStackLimit,
			detail: "10000 nested calls", maxTime: timeout + marginLoop},
		{name: "unbounded recursion, small bound", fixture: "sb_recurse", limits: func(l *policy.Limits) { l.StackDepth = 100 },
			outcome: sandbox.OutcomeViolation, kind: sandbox.KindStackLimit, detail: "limit of 100 nested", maxTime: timeout + marginLoop},
		{name: "exponential call tree under fuel", fixture: "sb_exptree", limits: func(l *policy.Limits) { l.Fuel = 1_000_000 },
			outcome: sandbox.OutcomeViolation, kind: sandbox.KindFuelExhausted, detail: "1000000", maxTime: timeout + marginLoop},
		{name: "memory growth bomb", fixture: "sb_growbomb", limits: func(l *policy.Limits) { l.Memory = 8 << 20 },
			outcome: sandbox.OutcomeViolation, kind: sandbox.KindMemoryLimit, detail: "above the 8MiB per-instance cap", maxTime: timeout + marginLoop},
		{name: "bulk fill/copy of a GiB", fixture: "sb_bulk", limits: func(l *policy.Limits) { l.Memory = 1 << 30 },
			outcome: sandbox.OutcomeViolation, kind: sandbox.KindTimeout, maxTime: timeout + marginBulk},
		{name: "output flood", fixture: "sb_flood", limits: func(l *policy.Limits) { l.Output = 1 << 20 },
			outcome: sandbox.OutcomeViolation, kind: sandbox.KindOutputLimit, detail: "stdout exceeded the 1MiB cap",
			maxTime: timeout + marginLoop, stdoutLen: 1 << 20},
		{name: "output flood, cap not a multiple of the write", fixture: "sb_flood", limits: func(l *policy.Limits) { l.Output = 100_000 },
			outcome: sandbox.OutcomeViolation, kind: sandbox.KindOutputLimit, maxTime: timeout + marginLoop, stdoutLen: 100_000},
		{name: "sleep an hour in poll_oneoff", fixture: "sb_sleep", outcome: sandbox.OutcomeViolation, kind: sandbox.KindTimeout,
			maxTime: timeout + marginLoop},
		{name: "trap", fixture: "sb_trap", outcome: sandbox.OutcomeTrap, detail: "integer divide by zero", maxTime: timeout + marginLoop},
		{name: "unreachable", fixture: "trap", outcome: sandbox.OutcomeTrap, detail: "unreachable", maxTime: timeout + marginLoop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := withLimits(func(l *policy.Limits) {
				l.Timeout = policy.Duration(timeout)
				if tc.limits != nil {
					tc.limits(l)
				}
			})
			m := compile(t, rt, tc.fixture, p)
			r := run(t, m, sandbox.Invocation{})
			rep := r.rep
			if rep.Outcome != tc.outcome {
				t.Fatalf("outcome %q (violation %v, trap %q), want %q", rep.Outcome, rep.Violation, rep.Trap, tc.outcome)
			}
			if tc.kind != "" {
				if rep.Violation == nil || rep.Violation.Kind != tc.kind {
					t.Fatalf("violation %+v, want kind %s", rep.Violation, tc.kind)
				}
				if !strings.Contains(rep.Violation.Detail, tc.detail) {
					t.Errorf("detail %q does not contain %q", rep.Violation.Detail, tc.detail)
				}
			} else {
				if rep.Violation != nil {
					t.Errorf("unexpected violation %+v", rep.Violation)
				}
				if !strings.Contains(rep.Trap, tc.detail) {
					t.Errorf("trap %q does not contain %q", rep.Trap, tc.detail)
				}
			}
			if r.elapsed > tc.maxTime {
				t.Errorf("took %v, want at most %v", r.elapsed, tc.maxTime)
			}
			if rep.StdoutBytes != tc.stdoutLen || uint64(len(r.stdout)) != tc.stdoutLen {
				t.Errorf("stdout %d bytes (report %d), want %d", len(r.stdout), rep.StdoutBytes, tc.stdoutLen)
			}
			if rep.SHA256 != sandbox.SHA256Hex(fixture.Bytes(t, tc.fixture)) {
				t.Errorf("sha256 %s", rep.SHA256)
			}
			if rep.HostCalls == nil {
				t.Error("host_calls is nil")
			}
		})
	}
}

func TestGrowthDeniedReportsPeakAndCap(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_growbomb", withLimits(func(l *policy.Limits) { l.Memory = 8 << 20 }))
	rep := run(t, m, sandbox.Invocation{}).rep
	// 1 page, then 16-page (1MiB) steps: the last step that fits ends at 113 pages.
	if want := uint64(113 * 65536); rep.PeakMemoryBytes != want {
		t.Errorf("peak %d, want %d", rep.PeakMemoryBytes, want)
	}
	if rep.Violation == nil || rep.Violation.Kind != sandbox.KindMemoryLimit || rep.Trap != "" {
		t.Errorf("violation %+v trap %q: memory_limit must take precedence over the trap that follows", rep.Violation, rep.Trap)
	}
}

// A C program whose malloc fails handles it (exit 5); the denial is still
// reported as a memory_limit violation, with the guest's exit code.
func TestMallocDenied(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_tool", withLimits(func(l *policy.Limits) { l.Memory = 8 << 20 }))
	r := run(t, m, sandbox.Invocation{Args: []string{"malloc", "32"}})
	if r.rep.Outcome != sandbox.OutcomeViolation || r.rep.Violation.Kind != sandbox.KindMemoryLimit || r.rep.ExitCode != 5 {
		t.Fatalf("report %+v violation %+v", r.rep, r.rep.Violation)
	}
	if !strings.Contains(r.stderr, "malloc failed after") {
		t.Errorf("stderr %q", r.stderr)
	}
	if r.rep.PeakMemoryBytes > 8<<20 {
		t.Errorf("peak %d above the cap", r.rep.PeakMemoryBytes)
	}
	// The same module on the same runtime with a larger cap: the cap is per
	// instance (per policy), not per runtime.
	m2 := compile(t, rt, "sb_tool", withLimits(func(l *policy.Limits) { l.Memory = 64 << 20 }))
	r2 := run(t, m2, sandbox.Invocation{Args: []string{"malloc", "32"}})
	if r2.rep.Outcome != sandbox.OutcomeExit || r2.rep.ExitCode != 0 || r2.stdout != "allocated 32 MiB\n" {
		t.Fatalf("report %+v stdout %q", r2.rep, r2.stdout)
	}
	if r2.rep.PeakMemoryBytes < 32<<20 || r2.rep.PeakMemoryBytes > 64<<20 {
		t.Errorf("peak %d", r2.rep.PeakMemoryBytes)
	}
}

func TestRefusals(t *testing.T) {
	rt := newRuntime(t)
	tests := []struct {
		name   string
		bin    []byte
		p      policy.Policy
		kind   sandbox.Kind
		detail string
	}{
		{"declared minimum above the cap", fixture.Bytes(t, "sb_minbomb"), policy.Default(), sandbox.KindMemoryLimit,
			"memory 0 declares a minimum of 3750MiB (60000 pages), above the 128MiB per-instance cap"},
		{"declared table above the cap", fixture.Bytes(t, "sb_tablebomb"), policy.Default(), sandbox.KindMemoryLimit,
			"table 0 declares a minimum of 20000000 elements (156250KiB of host memory), above the limit of 16777216 elements per table under the 128MiB per-instance cap"},
		{"disallowed import", fixture.Bytes(t, "sb_import"), policy.Default(), sandbox.KindImportDenied,
			"import env.system (func) is not allowed by the policy"},
		{"allowed but not provided", fixture.Bytes(t, "sb_import"), func() policy.Policy {
			p := policy.Default()
			p.Capabilities.Imports = append(p.Capabilities.Imports, "env.*")
			return p
		}(), sandbox.KindImportDenied, "import env.system (func) is allowed by the policy but no host provides it"},
		{"wasmward namespace", fixture.Bytes(t, "sb_import_meter"), func() policy.Policy {
			p := policy.Default()
			p.Capabilities.Imports = []string{"*"}
			return p
		}(), sandbox.KindImportDenied, `import wasmward.fuel: the "wasmward" namespace is reserved`},
		{"exports the fuel global's name", fixture.Bytes(t, "sb_export_meter"), policy.Default(), sandbox.KindInvalidModule, "wasmward"},
		{"not wasm", []byte("#!/bin/sh\necho pwned\n"), policy.Default(), sandbox.KindInvalidModule, ""},
		{"truncated", fixture.Bytes(t, "sb_trap")[:20], policy.Default(), sandbox.KindInvalidModule, ""},
		// (func (result i32)) with an empty body: decodes, fails validation.
		{"ill-typed", []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7f\x03\x02\x01\x00\x0a\x04\x01\x02\x00\x0b"),
			policy.Default(), sandbox.KindInvalidModule, "invalid function[0]"},
		{"empty", nil, policy.Default(), sandbox.KindInvalidModule, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := rt.Compile(context.Background(), tc.bin, tc.p)
			var ref *sandbox.Refusal
			if !errors.As(err, &ref) {
				if m != nil {
					_ = m.Close(context.Background())
				}
				t.Fatalf("err %v, want a refusal", err)
			}
			if ref.Violation.Kind != tc.kind || !strings.Contains(ref.Violation.Detail, tc.detail) {
				t.Errorf("refusal %+v, want %s containing %q", ref.Violation, tc.kind, tc.detail)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
		})
	}
}

func TestExitArgsEnv(t *testing.T) {
	t.Setenv("WASMWARD_HOST_SECRET", "leak")
	rt := newRuntime(t)
	p := policy.Default()
	p.Capabilities.Env = map[string]string{"A": "1", "B": "policy"}
	p.Capabilities.Args = []string{"env"}
	m := compile(t, rt, "sb_tool", p)

	r := run(t, m, sandbox.Invocation{Args: []string{"B"}, Env: []string{"B=invocation", "C=3"}})
	if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 || r.stdout != "invocation\n" {
		t.Fatalf("report %+v stdout %q", r.rep, r.stdout)
	}
	r = run(t, m, sandbox.Invocation{Args: []string{"WASMWARD_HOST_SECRET"}})
	if r.stdout != "(unset)\n" {
		t.Errorf("host environment reached the guest: %q", r.stdout)
	}

	m2 := compile(t, rt, "sb_tool", policy.Default())
	r = run(t, m2, sandbox.Invocation{Args: []string{"exit", "7"}})
	if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 7 {
		t.Errorf("report %+v", r.rep)
	}
	r = run(t, m2, sandbox.Invocation{Name: "tool.wasm", Args: []string{"hello", "a b", "c"}})
	if want := "hello from wasmward\narg: a b\narg: c\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if r.rep.Module != "tool.wasm" || r.rep.StdoutBytes != uint64(len(r.stdout)) || r.rep.HostCalls["wasi_snapshot_preview1.fd_write"] == 0 {
		t.Errorf("report %+v", r.rep)
	}
	if _, ok := r.rep.HostCalls["wasi_snapshot_preview1.proc_exit"]; !ok {
		t.Errorf("host_calls lacks imported proc_exit: %v", r.rep.HostCalls)
	}
	r = run(t, m2, sandbox.Invocation{Args: []string{"environ"}})
	if r.stdout != "" {
		t.Errorf("default environment is not empty: %q", r.stdout)
	}
}

func TestStderrCap(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_tool", withLimits(func(l *policy.Limits) { l.Output = 1000 }))
	r := run(t, m, sandbox.Invocation{Args: []string{"stderr", "5000"}})
	if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindOutputLimit || r.rep.StderrBytes != 1000 || len(r.stderr) != 1000 {
		t.Fatalf("report %+v violation %+v stderr %d", r.rep, r.rep.Violation, len(r.stderr))
	}
	if r.rep.Violation.Detail != "stderr exceeded the 1000B cap" {
		t.Errorf("detail %q", r.rep.Violation.Detail)
	}
}

func TestInvoke(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_invoke", withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(200 * time.Millisecond) }))
	r := run(t, m, sandbox.Invocation{Function: "add", Params: []uint64{2, uint64(uint32(0xfffffffb))}})
	if r.rep.Outcome != sandbox.OutcomeExit || len(r.rep.Results) != 1 || int32(r.rep.Results[0]) != -3 {
		t.Fatalf("report %+v", r.rep)
	}
	r = run(t, m, sandbox.Invocation{Function: "pair"})
	if len(r.rep.Results) != 2 || int32(r.rep.Results[0]) != -1 || r.rep.Results[1] != 42 {
		t.Fatalf("results %v", r.rep.Results)
	}
	r = run(t, m, sandbox.Invocation{Function: "spin"})
	if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindTimeout {
		t.Fatalf("spin: %+v", r.rep)
	}
	for _, in := range []sandbox.Invocation{{Function: "nope"}, {Function: "add", Params: []uint64{1}}, {}} {
		if _, err := m.Run(context.Background(), in); !errors.Is(err, sandbox.ErrInvoke) {
			t.Errorf("%+v: err %v, want ErrInvoke", in, err)
		}
	}
	sig, ok := m.Export("half")
	if !ok || len(sig.Params) != 1 || sig.Params[0] != sandbox.ValueF64 {
		t.Fatalf("signature %+v", sig)
	}
	v, err := sandbox.EncodeValue(sig.Params[0], "5")
	if err != nil {
		t.Fatal(err)
	}
	r = run(t, m, sandbox.Invocation{Function: "half", Params: []uint64{v}})
	if got := sandbox.FormatValue(sandbox.ValueF64, r.rep.Results[0]); got != "2.5" {
		t.Errorf("half(5) = %s", got)
	}
}

// TestFuelExact: the guest is stopped at the first check where consumption
// exceeds the budget, whatever the slice size: a guest that writes one byte
// per loop iteration writes exactly as many bytes before running out with
// slices of 1, 7, 1000 or 1<<20 units.
func TestFuelExact(t *testing.T) {
	count := func(n uint64) sandbox.Invocation {
		return sandbox.Invocation{Function: "count", Params: []uint64{n}}
	}
	for _, slice := range []int64{1, 7, 1000, 1 << 20} {
		rt := newRuntime(t)
		sandbox.SetFuelSlice(rt, slice)
		ns := []uint64{10, 100_000}
		if slice == 1<<20 {
			ns = append(ns, 3_000_000) // across several slices
		}
		for _, n := range ns {
			m := compile(t, rt, "sb_invoke", policy.Default())
			r := run(t, m, count(n))
			used := r.rep.FuelUsed
			if r.rep.Outcome != sandbox.OutcomeExit || r.rep.Results[0] != n || used < n {
				t.Fatalf("slice %d n=%d: report %+v", slice, n, r.rep)
			}
			if prev, ok := usedAtN.LoadOrStore(n, used); ok && prev.(uint64) != used {
				t.Errorf("slice %d n=%d: fuel_used %d, %d with another slice", slice, n, used, prev)
			}
			exact := compile(t, rt, "sb_invoke", withLimits(func(l *policy.Limits) { l.Fuel = used }))
			r = run(t, exact, count(n))
			if r.rep.Outcome != sandbox.OutcomeExit || r.rep.FuelUsed != used {
				t.Errorf("slice %d n=%d budget %d: report %+v violation %+v", slice, n, used, r.rep, r.rep.Violation)
			}
			half := compile(t, rt, "sb_invoke", withLimits(func(l *policy.Limits) { l.Fuel = used / 2 }))
			r = run(t, half, count(n))
			if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindFuelExhausted || r.rep.FuelUsed != used/2 {
				t.Errorf("slice %d n=%d budget %d: report %+v violation %+v", slice, n, used/2, r.rep, r.rep.Violation)
			}
		}
		// Bytes written before the budget runs out do not depend on the slice.
		for _, budget := range []uint64{5_000, 123_457} {
			m := compile(t, rt, "sb_tool", withLimits(func(l *policy.Limits) { l.Fuel = budget }))
			r := run(t, m, sandbox.Invocation{Args: []string{"stderr", "100000000"}})
			if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindFuelExhausted {
				t.Fatalf("budget %d: %+v", budget, r.rep)
			}
			key := strconv.FormatUint(budget, 10)
			if prev, ok := stderrAtBudget.Load(key); ok && prev.(int) != len(r.stderr) {
				t.Errorf("budget %d: %d bytes with slice %d, %d with another slice", budget, len(r.stderr), slice, prev)
			}
			stderrAtBudget.Store(key, len(r.stderr))
		}
	}
}

var stderrAtBudget, usedAtN sync.Map

func TestStdin(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_tool", policy.Default())
	r := run(t, m, sandbox.Invocation{Args: []string{"stdin"}, Stdin: strings.NewReader("request body")})
	if r.stdout != "request body" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = run(t, m, sandbox.Invocation{Args: []string{"stdin"}})
	if r.stdout != "" || r.rep.ExitCode != 0 {
		t.Errorf("stdin none: %q %+v", r.stdout, r.rep)
	}

	// A host stdin that never delivers: the guest is stopped at its deadline.
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx := context.Background()
	rt2, err := sandbox.New(ctx, sandbox.NewConfig().WithStdin(pr))
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close(ctx)
	p := withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(200 * time.Millisecond) })
	p.Capabilities.Stdin = policy.StdinInherit
	m2 := compile(t, rt2, "sb_tool", p)
	r = run(t, m2, sandbox.Invocation{Args: []string{"stdin"}})
	if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindTimeout || r.elapsed > 200*time.Millisecond+marginLoop {
		t.Errorf("blocked stdin: %+v in %v", r.rep, r.elapsed)
	}

	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	p3 := policy.Default()
	p3.Capabilities.Stdin = "file:" + in
	m3 := compile(t, rt, "sb_tool", p3)
	if r := run(t, m3, sandbox.Invocation{Args: []string{"stdin"}}); r.stdout != "from a file" {
		t.Errorf("stdin file: %q", r.stdout)
	}
}

func TestClockAndRandom(t *testing.T) {
	rt := newRuntime(t)
	fixed := compile(t, rt, "sb_tool", policy.Default())
	a := run(t, fixed, sandbox.Invocation{Args: []string{"clock"}}).stdout
	time.Sleep(1100 * time.Millisecond)
	b := run(t, fixed, sandbox.Invocation{Args: []string{"clock"}}).stdout
	if a != b || a != "1640995200\n" {
		t.Errorf("fixed clock: %q then %q, want 1640995200 (2022-01-01T00:00:00Z) both times", a, b)
	}
	p := policy.Default()
	p.Capabilities.Clock = policy.ClockReal
	real := compile(t, rt, "sb_tool", p)
	now := run(t, real, sandbox.Invocation{Args: []string{"clock"}}).stdout
	var guest int64
	if _, err := fmt.Sscanf(now, "%d", &guest); err != nil || guest < time.Now().Unix()-5 || guest > time.Now().Unix() {
		t.Errorf("real clock %q, host %d", now, time.Now().Unix())
	}
	if fixedNow := strings.TrimSpace(a); fixedNow == strings.TrimSpace(now) {
		t.Errorf("fixed clock shows the host's time %q", a)
	}

	p = policy.Default()
	p.Capabilities.Random = "seeded:42"
	seeded := compile(t, rt, "sb_tool", p)
	s1 := run(t, seeded, sandbox.Invocation{Args: []string{"random"}}).stdout
	s2 := run(t, seeded, sandbox.Invocation{Args: []string{"random"}}).stdout
	if s1 != s2 || len(s1) != 17 {
		t.Errorf("seeded random differs between runs: %q %q", s1, s2)
	}
	secure := compile(t, rt, "sb_tool", policy.Default())
	r1 := run(t, secure, sandbox.Invocation{Args: []string{"random"}}).stdout
	r2 := run(t, secure, sandbox.Invocation{Args: []string{"random"}}).stdout
	if r1 == r2 || r1 == s1 {
		t.Errorf("secure random repeated: %q %q", r1, r2)
	}
}

// TestConcurrentRuns runs many instances of one module at once (go test -race).
func TestConcurrentRuns(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_tool", withLimits(func(l *policy.Limits) { l.Memory = 4 << 20 }))
	loop := compile(t, rt, "sb_loop", withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(50 * time.Millisecond) }))
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 8 {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := range 20 {
				var out bytes.Buffer
				arg := strconv.Itoa(g*100 + i)
				rep, err := m.Run(context.Background(), sandbox.Invocation{Args: []string{"hello", arg}, Stdout: &out})
				if err != nil || rep.Outcome != sandbox.OutcomeExit || out.String() != "hello from wasmward\narg: "+arg+"\n" {
					errs <- out.String()
					return
				}
				if i%10 == 0 {
					rep, _ := loop.Run(context.Background(), sandbox.Invocation{})
					if rep.Violation == nil || rep.Violation.Kind != sandbox.KindTimeout {
						errs <- "loop not stopped"
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestHostMemoryBounded: output floods and memory bombs leave nothing behind
// on the host: run them many times and compare the live heap.
func TestHostMemoryBounded(t *testing.T) {
	rt := newRuntime(t)
	flood := compile(t, rt, "sb_flood", withLimits(func(l *policy.Limits) { l.Output = 8 << 20 }))
	bomb := compile(t, rt, "sb_growbomb", withLimits(func(l *policy.Limits) { l.Memory = 64 << 20 }))
	cycle := func() {
		for range 3 {
			// io.Discard-like sink: the sandbox must not buffer what it drops.
			r := run(t, flood, sandbox.Invocation{Stdout: discard{}})
			if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindOutputLimit || r.rep.StdoutBytes != 8<<20 {
				t.Fatalf("flood: %+v", r.rep)
			}
			r = run(t, bomb, sandbox.Invocation{})
			if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindMemoryLimit {
				t.Fatalf("bomb: %+v", r.rep)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	cycle() // warm up pools and compiled code
	before := heap()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for range 3 {
		cycle()
	}
	after := heap()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if after > before+16<<20 {
		t.Errorf("live heap grew from %d to %d bytes over 18 hostile runs", before, after)
	}
	// The memory bomb allocates its linear memory (up to twice the 64MiB cap
	// while growing); what the floods deliver is never copied.
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / 9; per > 3*64<<20 {
		t.Errorf("allocated %d bytes per flood+bomb pair", per)
	}
	runtime.ReadMemStats(&ms0)
	for range 5 {
		run(t, flood, sandbox.Invocation{Stdout: discard{}})
	}
	runtime.ReadMemStats(&ms1)
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / 5; per > 1<<20 {
		t.Errorf("allocated %d bytes per 8MiB flood", per)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// TestWatchdog: a guest stuck in a host call that no deadline check reaches
// (the caller's stdout blocks forever) is abandoned half a second after
// its deadline: Run still returns.
func TestWatchdog(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_tool", withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(100 * time.Millisecond) }))
	w := blockingWriter{release: make(chan struct{})}
	defer close(w.release)
	start := time.Now()
	rep, err := m.Run(context.Background(), sandbox.Invocation{Args: []string{"hello"}, Stdout: w})
	el := time.Since(start)
	if err != nil || rep.Outcome != sandbox.OutcomeViolation || rep.Violation.Kind != sandbox.KindTimeout ||
		!strings.Contains(rep.Violation.Detail, "abandoned") {
		t.Fatalf("err %v report %+v violation %+v", err, rep, rep.Violation)
	}
	if el < 600*time.Millisecond || el > 600*time.Millisecond+marginLoop {
		t.Errorf("returned after %v, want about 0.6s", el)
	}
	// The runtime keeps working.
	m2 := compile(t, rt, "sb_tool", policy.Default())
	if r := run(t, m2, sandbox.Invocation{Args: []string{"exit", "3"}}); r.rep.ExitCode != 3 {
		t.Errorf("after an abandoned run: %+v", r.rep)
	}
}

// TestCanceled: the caller's context stops a guest early.
func TestCanceled(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_loop", policy.Default())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := m.Run(ctx, sandbox.Invocation{})
	if err != nil || rep.Violation == nil || rep.Violation.Kind != sandbox.KindTimeout || time.Since(start) > 100*time.Millisecond+marginLoop {
		t.Fatalf("err %v report %+v in %v", err, rep, time.Since(start))
	}
	if rep.Violation.Detail != "the caller's deadline passed" {
		t.Errorf("detail %q", rep.Violation.Detail)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	sleep := compile(t, rt, "sb_sleep", policy.Default())
	for _, mod := range []*sandbox.Module{m, sleep} {
		if ctx2.Err() != nil {
			ctx2, cancel2 = context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel2)
		}
		start = time.Now()
		rep, err = mod.Run(ctx2, sandbox.Invocation{})
		if err != nil || rep.Violation == nil || rep.Violation.Detail != "run canceled by the caller" || time.Since(start) > 50*time.Millisecond+marginLoop {
			t.Errorf("err %v report %+v violation %+v in %v", err, rep, rep.Violation, time.Since(start))
		}
	}
	cancel2()
}

// TestInterpreter: the same limits hold with wazero's interpreter.
func TestInterpreter(t *testing.T) {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithEngine(sandbox.EngineInterpreter).WithCompilationCache(t.TempDir(), make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	hello := compile(t, rt, "sb_tool", policy.Default())
	if r := run(t, hello, sandbox.Invocation{Args: []string{"hello"}}); r.stdout != "hello from wasmward\n" || r.rep.ExitCode != 0 {
		t.Errorf("hello: %q %+v", r.stdout, r.rep)
	}
	for _, tc := range []struct {
		fixture string
		kind    sandbox.Kind
	}{
		{"sb_exptree", sandbox.KindTimeout},
		{"sb_recurse", sandbox.KindStackLimit},
		{"sb_flood", sandbox.KindOutputLimit},
	} {
		m := compile(t, rt, tc.fixture, withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(200 * time.Millisecond) }))
		r := run(t, m, sandbox.Invocation{})
		if r.rep.Violation == nil || r.rep.Violation.Kind != tc.kind || r.elapsed > 200*time.Millisecond+marginLoop {
			t.Errorf("%s: %+v in %v", tc.fixture, r.rep, r.elapsed)
		}
	}
}

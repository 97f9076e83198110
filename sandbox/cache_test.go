package sandbox_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// cacheRun opens a runtime on dir under key, compiles and runs each
// fixture (checking its output is unchanged), and returns the stats and
// the warnings.
func cacheRun(t *testing.T, dir string, key []byte, fixtures ...string) (sandbox.CacheStats, []sandbox.CacheWarning) {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var warns []sandbox.CacheWarning
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(dir, key).WithCacheWarnings(func(w sandbox.CacheWarning) {
		mu.Lock()
		defer mu.Unlock()
		warns = append(warns, w)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for _, f := range fixtures {
		m := compile(t, rt, f, policy.Default())
		r := run(t, m, sandbox.Invocation{Args: []string{"hello"}})
		if f == "sb_tool" && (r.stdout != "hello from wasmward\n" || r.rep.ExitCode != 0) {
			t.Fatalf("%s: %q %+v", f, r.stdout, r.rep)
		}
	}
	return rt.CacheStats(), warns
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := filepath.Glob(filepath.Join(dir, "*.entry"))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// entryPart returns the offset and length in the entry file p of one of
// its parts ("compiled", "image", "code"), read from its header.
func entryPart(t *testing.T, p, part string) (off, n int) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const magic = "wasmward-compcache-v2\n"
	if !strings.HasPrefix(string(data), magic) {
		t.Fatalf("%s: not a v2 entry", p)
	}
	hl := int(binary.BigEndian.Uint32(data[len(magic):]))
	var h struct {
		CompiledLen int `json:"compiled_len"`
		ImageLen    int `json:"image_len"`
		CodeLen     int `json:"code_len"`
	}
	start := len(magic) + 4
	if err := json.Unmarshal(data[start:start+hl], &h); err != nil {
		t.Fatal(err)
	}
	off = start + hl
	switch part {
	case "compiled":
		return off, h.CompiledLen
	case "image":
		return off + h.CompiledLen, h.ImageLen
	case "code":
		return off + h.CompiledLen + h.ImageLen, h.CodeLen
	}
	t.Fatalf("no part %q", part)
	return 0, 0
}

// flipIn flips one byte in the middle of part of every entry.
func flipIn(part string) func(t *testing.T, dir string, es []string) {
	return func(t *testing.T, _ string, es []string) {
		for _, e := range es {
			off, n := entryPart(t, e, part)
			if n == 0 {
				t.Fatalf("%s: empty %s", e, part)
			}
			b, err := os.ReadFile(e)
			if err != nil {
				t.Fatal(err)
			}
			b[off+n/2] ^= 0x01
			if err := os.WriteFile(e, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// swapFiles exchanges the contents of two files.
func swapFiles(t *testing.T, a, b string) {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a, db, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, da, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCompileCachePoisoning: a warm start loads the verified entry (a hit,
// counted, not timed) and does not instrument; one byte flipped in any part
// of an entry (the machine code, the instrumented module, the memory
// image), entries swapped between two modules, and an entry written under
// another key are each detected, deleted, never loaded, reported, and the
// module is instrumented and recompiled to the same behaviour and stored
// afresh.
func TestCompileCachePoisoning(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{9}, 32)
	mods := []string{"sb_tool", "gw_echo"} // both have a memory image
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string, es []string)
		reason string
	}{
		{"none", func(*testing.T, string, []string) {}, ""},
		{"flip one byte in the code", flipIn("code"), "MAC mismatch"},
		{"flip one byte in the instrumented module", flipIn("compiled"), "MAC mismatch"},
		{"flip one byte in the memory image", flipIn("image"), "MAC mismatch"},
		{"swap between modules", func(t *testing.T, _ string, es []string) { swapFiles(t, es[0], es[1]) }, "another compilation"},
		{"another key", func(t *testing.T, dir string, es []string) {
			for _, e := range es {
				_ = os.Remove(e)
			}
			if st, _ := cacheRun(t, dir, other, mods...); st.Stored != 2 {
				t.Fatalf("writing under the other key: %+v", st)
			}
		}, "MAC mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, warns := cacheRun(t, dir, key, mods...)
			if st != (sandbox.CacheStats{Misses: 2, Stored: 2, Instrumented: 2}) || len(warns) != 0 {
				t.Fatalf("cold: %+v %v", st, warns)
			}
			es := entries(t, dir)
			if len(es) != 2 {
				t.Fatalf("cold start left %d entries, want 2", len(es))
			}
			tc.tamper(t, dir, es)
			tampered := map[string][]byte{}
			for _, e := range es {
				tampered[e], _ = os.ReadFile(e)
			}
			st, warns = cacheRun(t, dir, key, mods...)
			if tc.reason == "" {
				if st != (sandbox.CacheStats{Hits: 2}) || len(warns) != 0 {
					t.Fatalf("warm: %+v %v, want 2 hits and nothing instrumented", st, warns)
				}
				return
			}
			if st != (sandbox.CacheStats{Misses: 2, Stored: 2, Rejected: 2, Instrumented: 2}) || len(warns) != 2 {
				t.Fatalf("after tampering: %+v %v, want 2 rejected, instrumented, recompiled and stored", st, warns)
			}
			for _, w := range warns {
				if !strings.Contains(w.Reason, tc.reason) || len(w.SHA256) != 64 || tampered[w.Path] == nil {
					t.Errorf("warning %+v, want reason %q for a tampered entry", w, tc.reason)
				}
			}
			for _, e := range es {
				if b, _ := os.ReadFile(e); bytes.Equal(b, tampered[e]) {
					t.Errorf("%s still holds the tampered entry", e)
				}
			}
			// The entries stored after the rejection are good: a hit each.
			if st, warns = cacheRun(t, dir, key, mods...); st != (sandbox.CacheStats{Hits: 2}) || len(warns) != 0 {
				t.Fatalf("after recompiling: %+v %v, want 2 hits", st, warns)
			}
		})
	}
}

// cacheCompile opens a runtime on dir, compiles the fixture under p and
// returns the runtime (closed with the test) and the module.
func cacheCompile(t *testing.T, dir string, fixture string, p policy.Policy) (*sandbox.Runtime, *sandbox.Module) {
	t.Helper()
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(dir, bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	return rt, compile(t, rt, fixture, p)
}

// TestCompileCacheSettings: the same module under other instrumentation
// settings (another memory cap, another stack depth) is another entry, not
// a hit; and an entry moved into the place of the same module's entry for
// other settings (a policy swap) is rejected, not loaded.
func TestCompileCacheSettings(t *testing.T) {
	dir := t.TempDir()
	var stats []sandbox.CacheStats
	pols := []policy.Policy{
		withLimits(func(l *policy.Limits) { l.Memory = 16 << 20 }),
		withLimits(func(l *policy.Limits) { l.Memory = 32 << 20 }),
		withLimits(func(l *policy.Limits) { l.Memory = 16 << 20; l.StackDepth = 100 }),
		withLimits(func(l *policy.Limits) { l.Memory = 16 << 20 }),
	}
	for _, p := range pols {
		rt, _ := cacheCompile(t, dir, "sb_recurse", p)
		stats = append(stats, rt.CacheStats())
	}
	cold := sandbox.CacheStats{Misses: 1, Stored: 1, Instrumented: 1}
	want := []sandbox.CacheStats{cold, cold, cold, {Hits: 1}}
	for i := range want {
		if stats[i] != want[i] {
			t.Errorf("run %d: %+v, want %+v", i, stats[i], want[i])
		}
	}
	// Swap the entries of depth 100 and of the default depth: each is
	// authentic, but for another compilation. The module with the small
	// bound must never run with the large one's instrumentation.
	es := entries(t, dir)
	if len(es) != 3 {
		t.Fatalf("%d entries, want 3", len(es))
	}
	small := withLimits(func(l *policy.Limits) { l.Memory = 16 << 20; l.StackDepth = 100 })
	for _, a := range es {
		for _, b := range es {
			if a >= b {
				continue
			}
			swapFiles(t, a, b)
			rt, m := cacheCompile(t, dir, "sb_recurse", small)
			st := rt.CacheStats()
			rep := run(t, m, sandbox.Invocation{}).rep
			if rep.Violation == nil || rep.Violation.Kind != sandbox.KindStackLimit || !strings.Contains(rep.Violation.Detail, "limit of 100 nested") {
				t.Fatalf("swapped %s and %s: %+v %+v", a, b, rep.Violation, st)
			}
			if st.Hits+st.Rejected != 1 || st.Rejected == 1 && st.Instrumented != 1 {
				t.Fatalf("swapped %s and %s: %+v", a, b, st)
			}
			// Refill: the next swap starts from good entries.
			for _, p := range pols[:3] {
				cacheCompile(t, dir, "sb_recurse", p)
			}
		}
	}
}

// TestCompileCacheWarmSameBehaviour: modules compiled from a warm cache
// (instrumented module, memory image and code all loaded, nothing
// instrumented) behave exactly as the cold compilation did: the same
// reports (outcome, exit code, violation, fuel used to the unit, peak
// memory, host calls, output) and the same output bytes, for limits each
// enforced by the instrumentation (fuel, call depth, memory), a trap, and
// C and Go programs whose data segments became the memory image.
func TestCompileCacheWarmSameBehaviour(t *testing.T) {
	fuel := func(n uint64) func(*policy.Limits) { return func(l *policy.Limits) { l.Fuel = n } }
	cases := []struct {
		fixture string
		limits  func(*policy.Limits)
		args    []string
		outcome sandbox.Outcome
	}{
		{"sb_tool", fuel(1 << 40), []string{"hello"}, sandbox.OutcomeExit},
		// Another stack depth: instrumented bytes that differ from the
		// first case's (wazero compiles identical bytes once per runtime
		// and writes no second file, so that entry would not be stored).
		{"sb_tool", func(l *policy.Limits) { l.Fuel = 1 << 40; l.Memory = 8 << 20; l.StackDepth = 5000 }, []string{"malloc", "32"}, sandbox.OutcomeViolation},
		{"sb_recurse", func(l *policy.Limits) { l.Fuel = 1 << 40; l.StackDepth = 100 }, nil, sandbox.OutcomeViolation},
		{"sb_exptree", fuel(1_000_000), nil, sandbox.OutcomeViolation},
		{"sb_growbomb", func(l *policy.Limits) { l.Fuel = 1 << 40; l.Memory = 8 << 20 }, nil, sandbox.OutcomeViolation},
		{"sb_trap", fuel(1 << 40), nil, sandbox.OutcomeTrap},
		{"gw_echo", fuel(1 << 40), nil, sandbox.OutcomeExit},
		{"wasm_gohello", fuel(1 << 40), []string{"wasm_gohello", "cache"}, sandbox.OutcomeExit},
	}
	type outcome struct {
		rep            sandbox.Report
		stdout, stderr string
	}
	dir := t.TempDir()
	var cold []outcome
	for _, warm := range []bool{false, true} {
		ctx := context.Background()
		rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(dir, bytes.Repeat([]byte{7}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range cases {
			p := withLimits(tc.limits)
			p.Capabilities.Random = "seeded:1"
			m := compile(t, rt, tc.fixture, p)
			r := run(t, m, sandbox.Invocation{Args: tc.args, Stdin: strings.NewReader("echo me\n")})
			rep := *r.rep
			rep.DurationMS = 0
			if tc.outcome != "" && rep.Outcome != tc.outcome || rep.FuelUsed == 0 {
				t.Fatalf("%s %v: %+v %+v", tc.fixture, tc.args, rep, rep.Violation)
			}
			got := outcome{rep, r.stdout, r.stderr}
			if !warm {
				cold = append(cold, got)
				continue
			}
			if !reflect.DeepEqual(got, cold[i]) {
				t.Errorf("%s %v:\nwarm %+v %+v\ncold %+v %+v", tc.fixture, tc.args, got, got.rep.Violation, cold[i], cold[i].rep.Violation)
			}
		}
		st := rt.CacheStats()
		rt.Close(ctx)
		n := uint64(len(cases))
		if want := (sandbox.CacheStats{Misses: n, Stored: n, Instrumented: n}); warm {
			want = sandbox.CacheStats{Hits: n}
			if st != want {
				t.Fatalf("warm: %+v, want %+v", st, want)
			}
		} else if st != want {
			t.Fatalf("cold: %+v, want %+v", st, want)
		}
	}
}

// TestCompileCachePolicyChecksRun: a warm cache does not let a module past
// a policy check: a module cached under one policy is refused under a
// policy with the same instrumentation settings that denies one of its
// imports, or grants it less memory than it declares, and the refusal
// comes before the cache is looked at.
func TestCompileCachePolicyChecksRun(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cacheCompile(t, dir, "sb_tool", policy.Default())
	for _, tc := range []struct {
		name string
		p    func() policy.Policy
		kind sandbox.Kind
	}{
		{"import denied", func() policy.Policy {
			p := policy.Default()
			p.Capabilities.Imports = []string{"wasi_snapshot_preview1.proc_exit"}
			return p
		}, sandbox.KindImportDenied},
		{"memory below the declared minimum", func() policy.Policy {
			return withLimits(func(l *policy.Limits) { l.Memory = 64 << 10 })
		}, sandbox.KindMemoryLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(dir, bytes.Repeat([]byte{7}, 32)))
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close(ctx)
			_, err = rt.Compile(ctx, fixture.Bytes(t, "sb_tool"), tc.p())
			var ref *sandbox.Refusal
			if !errors.As(err, &ref) || ref.Violation.Kind != tc.kind {
				t.Fatalf("err %v, want a %s refusal", err, tc.kind)
			}
			if st := rt.CacheStats(); st != (sandbox.CacheStats{}) {
				t.Errorf("the cache was used for a refused module: %+v", st)
			}
		})
	}
}

// TestCompileCacheBadKey: a key of the wrong size is refused.
func TestCompileCacheBadKey(t *testing.T) {
	_, err := sandbox.New(context.Background(), sandbox.NewConfig().WithCompilationCache(t.TempDir(), []byte("short")))
	if err == nil || !strings.Contains(err.Error(), "5 bytes, want 32") {
		t.Fatalf("err %v", err)
	}
}

// TestCompileCacheConcurrent: modules compiled at once through one cached
// runtime, cold then warm (loads share the cache, misses take it alone),
// each store and load their own code: every module run from the warm cache
// prints what it prints compiled without a cache, and every compilation is
// a hit that instruments nothing. Code stored under another module's entry
// would print the other module's output.
func TestCompileCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	mods := []string{"sb_tool", "gw_echo", "wasm_gohello", "sb_recurse", "gw_counter", "conf_wasi"}
	want := map[string]string{}
	plain := newRuntime(t)
	for _, f := range mods {
		want[f] = run(t, compile(t, plain, f, policy.Default()), sandbox.Invocation{Args: []string{f, "hello"}}).stdout
	}
	dir := t.TempDir()
	for _, round := range []string{"cold", "warm"} {
		rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(dir, bytes.Repeat([]byte{7}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		got := make([]string, len(mods))
		for i, f := range mods {
			wg.Go(func() {
				m, err := rt.Compile(ctx, fixture.Bytes(t, f), policy.Default())
				if err != nil {
					t.Errorf("%s: %v", f, err)
					return
				}
				var out bytes.Buffer
				if _, err := m.Run(ctx, sandbox.Invocation{Args: []string{f, "hello"}, Stdout: &out, Stderr: &bytes.Buffer{}}); err != nil {
					t.Errorf("%s: %v", f, err)
				}
				got[i] = out.String()
			})
		}
		wg.Wait()
		st := rt.CacheStats()
		rt.Close(ctx)
		for i, f := range mods {
			if got[i] != want[f] {
				t.Errorf("%s %s: stdout %q, want %q", round, f, got[i], want[f])
			}
		}
		n := uint64(len(mods))
		if w := (sandbox.CacheStats{Misses: n, Stored: n, Instrumented: n}); round == "cold" && st != w {
			t.Errorf("cold: %+v, want %+v", st, w)
		}
		if w := (sandbox.CacheStats{Hits: n}); round == "warm" && st != w {
			t.Errorf("warm: %+v, want %+v", st, w)
		}
	}
}

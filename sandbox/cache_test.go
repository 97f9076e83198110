package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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

// TestCompileCachePoisoning: a warm start loads the verified entry (a hit,
// counted, not timed); an entry with one byte flipped, entries swapped
// between two modules, and an entry written under another key are each
// detected, deleted, never loaded, reported, and the module is recompiled
// to the same behaviour and stored afresh.
func TestCompileCachePoisoning(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{9}, 32)
	mods := []string{"sb_tool", "sb_recurse"}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string, es []string)
		reason string
	}{
		{"none", func(*testing.T, string, []string) {}, ""},
		{"flip one byte", func(t *testing.T, _ string, es []string) {
			for _, e := range es {
				b, err := os.ReadFile(e)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0x01 // in the machine code
				if err := os.WriteFile(e, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}, "MAC mismatch"},
		{"swap between modules", func(t *testing.T, _ string, es []string) {
			a, _ := os.ReadFile(es[0])
			b, _ := os.ReadFile(es[1])
			if err := os.WriteFile(es[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(es[1], a, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "another compilation"},
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
			if st != (sandbox.CacheStats{Misses: 2, Stored: 2}) || len(warns) != 0 {
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
					t.Fatalf("warm: %+v %v, want 2 hits", st, warns)
				}
				return
			}
			if st != (sandbox.CacheStats{Misses: 2, Stored: 2, Rejected: 2}) || len(warns) != 2 {
				t.Fatalf("after tampering: %+v %v, want 2 rejected, recompiled and stored", st, warns)
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

// TestCompileCacheSettings: the same module under other instrumentation
// settings (another memory cap) is another entry, not a hit.
func TestCompileCacheSettings(t *testing.T) {
	ctx := context.Background()
	dir, key := t.TempDir(), bytes.Repeat([]byte{7}, 32)
	var stats []sandbox.CacheStats
	for _, mem := range []policy.Size{16 << 20, 32 << 20, 16 << 20} {
		rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(dir, key))
		if err != nil {
			t.Fatal(err)
		}
		compile(t, rt, "sb_tool", withLimits(func(l *policy.Limits) { l.Memory = mem }))
		stats = append(stats, rt.CacheStats())
		rt.Close(ctx)
	}
	want := []sandbox.CacheStats{{Misses: 1, Stored: 1}, {Misses: 1, Stored: 1}, {Hits: 1}}
	for i := range want {
		if stats[i] != want[i] {
			t.Errorf("run %d: %+v, want %+v", i, stats[i], want[i])
		}
	}
}

// TestCompileCacheBadKey: a key of the wrong size is refused.
func TestCompileCacheBadKey(t *testing.T) {
	_, err := sandbox.New(context.Background(), sandbox.NewConfig().WithCompilationCache(t.TempDir(), []byte("short")))
	if err == nil || !strings.Contains(err.Error(), "5 bytes, want 32") {
		t.Fatalf("err %v", err)
	}
}

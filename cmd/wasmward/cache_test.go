package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// TestRunCacheDir: `run --cache-dir` stores an authenticated entry; a
// tampered entry is reported on stderr, deleted and recompiled, and the
// guest's output is the same; a key inside the cache directory, or
// readable by others, is a usage error.
func TestRunCacheDir(t *testing.T) {
	dir := t.TempDir()
	cache, key := filepath.Join(dir, "cache"), filepath.Join(dir, "keys", "cache.key")
	tool := fixture.Path(t, "sb_tool")
	args := []string{"run", tool, "--cache-dir", cache, "--cache-key", key, "--", "hello"}
	const out = "hello from wasmward\n"
	if code, stdout, stderr := runCLI(t, "", args...); code != 0 || stdout != out || stderr != "" {
		t.Fatalf("cold: %d %q %q", code, stdout, stderr)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want created 0600", fi, err)
	}
	es, _ := filepath.Glob(filepath.Join(cache, "*.entry"))
	if len(es) != 1 {
		t.Fatalf("entries %v, want 1", es)
	}
	b, _ := os.ReadFile(es[0])
	b[len(b)/2] ^= 0x80
	if err := os.WriteFile(es[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "", args...)
	if code != 0 || stdout != out || !strings.Contains(stderr, "compile cache entry "+es[0]+" rejected, deleted and recompiled: MAC mismatch") {
		t.Fatalf("tampered: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, "", args...); code != 0 || stdout != out || stderr != "" {
		t.Fatalf("warm after recompiling: %d %q %q", code, stdout, stderr)
	}

	loose := filepath.Join(dir, "loose.key")
	if err := os.WriteFile(loose, []byte(strings.Repeat("ab", 32)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"key inside the cache", []string{"--cache-dir", cache, "--cache-key", filepath.Join(cache, "k")}, "inside the cache directory"},
		{"key readable by others", []string{"--cache-dir", cache, "--cache-key", loose}, "mode 0644 lets others read or write it"},
		{"key without a directory", []string{"--cache-key", key}, "--cache-key needs --cache-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", append(append([]string{"run", tool}, tc.args...), "--", "hello")...)
			if code != exitUsage || !strings.Contains(stderr, tc.err) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("%d %q, want exit %d and one line saying %q", code, stderr, exitUsage, tc.err)
			}
		})
	}
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/audit"
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

// TestServeCacheRejected: `serve` with a compile cache whose entry was
// tampered with (one byte flipped) between two starts logs the rejection
// as a warning, appends a cache_rejected record (the entry's module digest
// and path) to the audit log, recompiles, and the route serves.
func TestServeCacheRejected(t *testing.T) {
	dir := t.TempDir()
	cache, key := filepath.Join(dir, "cache"), filepath.Join(dir, "keys", "cache.key")
	cfg := "cache_dir: " + cache + "\ncache_key: " + key
	p := startServe(t, cfg, nil, "")
	p.hello(t)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("first serve exited %d\n%s", code, p.stderrText())
	}
	es, _ := filepath.Glob(filepath.Join(cache, "*.entry"))
	if len(es) != 1 {
		t.Fatalf("entries %v, want 1 (the hello route's)", es)
	}
	b, err := os.ReadFile(es[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(es[0], b, 0o600); err != nil {
		t.Fatal(err)
	}

	p = startServe(t, cfg, nil, "")
	p.hello(t) // recompiled, not loaded
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("second serve exited %d\n%s", code, p.stderrText())
	}
	sum := sha256.Sum256(fixture.Bytes(t, "gw_hello"))
	sha := hex.EncodeToString(sum[:])
	stderr := p.stderrText()
	if !strings.Contains(stderr, "level=WARN") || !strings.Contains(stderr, "compile cache entry rejected, deleted and recompiled") ||
		!strings.Contains(stderr, "sha256="+sha) || !strings.Contains(stderr, "MAC mismatch") {
		t.Errorf("no warning naming the entry's module and the reason:\n%s", stderr)
	}
	var rejected []audit.Event
	for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, p.audit))), "\n") {
		var ev audit.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Type == audit.TypeCacheRejected {
			rejected = append(rejected, ev)
		}
	}
	if len(rejected) != 1 || rejected[0].SHA256 != sha || !strings.HasPrefix(rejected[0].Detail, es[0]+": ") ||
		!strings.Contains(rejected[0].Detail, "MAC mismatch") {
		t.Fatalf("cache_rejected records %+v, want one for %s naming %s", rejected, sha, es[0])
	}
	if code, out, errOut := gwCLI(context.Background(), "audit", "verify", p.audit); code != 0 {
		t.Fatalf("audit verify: %d %s %s", code, out, errOut)
	}
	// The recompiled code was stored again, authenticated: a third start
	// loads it without a warning.
	p = startServe(t, cfg, nil, "")
	p.hello(t)
	p.signal(t, syscall.SIGTERM)
	p.wait(t, 10*time.Second)
	if s := p.stderrText(); strings.Contains(s, "rejected") {
		t.Fatalf("warm start after recompiling warned:\n%s", s)
	}
}

package compcache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cache, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	created := filepath.Join(dir, "cfg", "wasmward", "cache.key")
	k1, err := LoadKey(created, cache)
	if err != nil || len(k1) != KeySize {
		t.Fatalf("create: %v %x", err, k1)
	}
	if fi, _ := os.Stat(created); fi.Mode().Perm() != 0o600 {
		t.Errorf("created with mode %04o", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(created)); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory created with mode %04o", fi.Mode().Perm())
	}
	if k2, err := LoadKey(created, cache); err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %v, same key %v", err, bytes.Equal(k1, k2))
	}
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, err string
	}{
		{"inside the cache", filepath.Join(cache, "k"), "inside the cache directory"},
		{"inside through a link", filepath.Join(dir, "link", "sub", "k"), "inside the cache directory"},
		{"the cache itself", cache, "inside the cache directory"},
		{"group readable", write("g.key", strings.Repeat("00", 32), 0o640), "mode 0640"},
		{"short", write("s.key", "abcd", 0o600), "not 32 hex-encoded bytes"},
		{"not hex", write("h.key", strings.Repeat("zz", 32), 0o600), "not 32 hex-encoded bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadKey(tc.path, cache); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(cache, "k")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused key was created inside the cache: %v", err)
	}
}

// TestGetRejects: an entry that is not authentic, or authentic for
// another build, is deleted and reported; a good one round-trips.
func TestGetRejects(t *testing.T) {
	key := bytes.Repeat([]byte{1}, KeySize)
	b := Build{Wasmward: "v1", Wazero: "v1.12.0", Platform: "linux/amd64", CPU: "amd64:avx", Engine: "compiler"}
	id := ID{Module: "aa", Compiled: "bb", Settings: "s"}
	for _, tc := range []struct {
		name   string
		spoil  func(s *Store, p string)
		reason string
	}{
		{"good", func(*Store, string) {}, ""},
		{"truncated", func(_ *Store, p string) { _ = os.Truncate(p, 10) }, "truncated"},
		{"symlink", func(_ *Store, p string) { _ = os.Remove(p); _ = os.Symlink("/etc/hostname", p) }, "not a regular file"},
		{"other build", func(s *Store, p string) {
			o := *s
			o.build.CPU = "amd64:"
			_ = o.Put(id, "n", []byte("code"))
			_ = os.Rename(o.path(id), p)
		}, "another build"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), key, b)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(id, "n", []byte("code")); err != nil {
				t.Fatal(err)
			}
			tc.spoil(s, s.path(id))
			name, code, err := s.Get(id)
			if tc.reason == "" {
				if err != nil || name != "n" || string(code) != "code" {
					t.Fatalf("%q %q %v", name, code, err)
				}
				return
			}
			var rej *Rejection
			if !errors.As(err, &rej) || !strings.Contains(rej.Reason, tc.reason) || code != nil {
				t.Fatalf("%q %v, want rejection %q", code, err, tc.reason)
			}
			if _, err := os.Lstat(s.path(id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("rejected entry not deleted: %v", err)
			}
		})
	}
}

package compcache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
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
// another build or another compilation, is deleted and reported; a good
// one round-trips every part (the compiled module, the image, the code).
// One flipped byte in any part, or in the header, fails the MAC.
func TestGetRejects(t *testing.T) {
	key := bytes.Repeat([]byte{1}, KeySize)
	b := Build{Wasmward: "v1", Wazero: "v1.12.0", Platform: "linux/amd64", CPU: "amd64:avx", Engine: "compiler"}
	id := ID{Module: "aa", Settings: "s"}
	good := &Entry{Name: "n", Compiled: []byte("\x00asm module"), Image: []byte("image"), HasImage: true, Code: []byte("machine code")}
	// flip flips the byte at the offset of part in the entry file.
	flip := func(part string) func(*Store, string) {
		return func(_ *Store, p string) {
			data, _ := os.ReadFile(p)
			i := bytes.Index(data, []byte(part))
			if i < 0 {
				panic(part)
			}
			data[i+1] ^= 0x01
			_ = os.WriteFile(p, data, 0o600)
		}
	}
	for _, tc := range []struct {
		name   string
		spoil  func(s *Store, p string)
		reason string
	}{
		{"good", func(*Store, string) {}, ""},
		{"truncated", func(_ *Store, p string) { _ = os.Truncate(p, 10) }, "truncated"},
		{"symlink", func(_ *Store, p string) { _ = os.Remove(p); _ = os.Symlink("/etc/hostname", p) }, "not a regular file"},
		{"flip in the header", flip(`"settings"`), "MAC mismatch"},
		{"flip in the compiled module", flip("asm module"), "MAC mismatch"},
		{"flip in the image", flip("image"), "MAC mismatch"},
		{"flip in the code", flip("machine code"), "MAC mismatch"},
		{"other build", func(s *Store, p string) {
			o := *s
			o.build.CPU = "amd64:"
			_ = o.Put(id, good)
			_ = os.Rename(o.path(id), p)
		}, "another build"},
		{"other settings", func(s *Store, p string) {
			other := ID{Module: id.Module, Settings: "s2"}
			_ = s.Put(other, good)
			_ = os.Rename(s.path(other), p)
		}, "another compilation"},
		{"other module", func(s *Store, p string) {
			other := ID{Module: "bb", Settings: id.Settings}
			_ = s.Put(other, good)
			_ = os.Rename(s.path(other), p)
		}, "another compilation"},
		{"v1 entry", func(_ *Store, p string) {
			data, _ := os.ReadFile(p)
			_ = os.WriteFile(p, append([]byte("wasmward-compcache-v1\n"), data[len(magic):]...), 0o600)
		}, "bad magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.TempDir(), key, b)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(id, good); err != nil {
				t.Fatal(err)
			}
			tc.spoil(s, s.path(id))
			e, err := s.Get(id)
			if tc.reason == "" {
				if err != nil || e.Name != good.Name || !bytes.Equal(e.Compiled, good.Compiled) || !e.HasImage ||
					!bytes.Equal(e.Image, good.Image) || !bytes.Equal(e.Code, good.Code) {
					t.Fatalf("%+v %v, want %+v", e, err, good)
				}
				return
			}
			var rej *Rejection
			if !errors.As(err, &rej) || !strings.Contains(rej.Reason, tc.reason) || e != nil {
				t.Fatalf("%+v %v, want rejection %q", e, err, tc.reason)
			}
			if _, err := os.Lstat(s.path(id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("rejected entry not deleted: %v", err)
			}
		})
	}
}

// TestPutRoundTrip: an entry without an image, or with an empty one, comes
// back as it went in; Put refuses a name that is not a plain file name.
func TestPutRoundTrip(t *testing.T) {
	s, err := Open(t.TempDir(), bytes.Repeat([]byte{1}, KeySize), Build{Wasmward: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []*Entry{
		{Name: "a", Compiled: []byte("m"), Code: []byte("c")},
		{Name: "b", Compiled: []byte("m"), HasImage: true, Code: []byte("c")},
	} {
		id := ID{Module: "m", Settings: strconv.Itoa(i)}
		if err := s.Put(id, e); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(id)
		if err != nil || got.Name != e.Name || got.HasImage != e.HasImage || len(got.Image) != 0 || string(got.Code) != "c" || string(got.Compiled) != "m" {
			t.Errorf("%d: %+v %v", i, got, err)
		}
	}
	for _, name := range []string{"", ".", "..", "a/b", `a\b`} {
		if err := s.Put(ID{Module: "m"}, &Entry{Name: name}); err == nil || !strings.Contains(err.Error(), "bad file name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if err := s.Put(ID{Module: "m"}, &Entry{Name: "n", Image: []byte("x")}); err == nil {
		t.Error("an image without HasImage was stored")
	}
}

package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteThroughFIFO: an existing named pipe is written through and stays
// a pipe. Before, the rename replaced it with a regular file and the
// reader got nothing.
func TestWriteThroughFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("pipe", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, link} {
		got := make(chan string, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- "open: " + err.Error()
				return
			}
			b, _ := io.ReadAll(f)
			_ = f.Close()
			got <- string(b)
		}()
		if err := Write(path, []byte("report\n"), 0o644); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		select {
		case s := <-got:
			if s != "report\n" {
				t.Fatalf("%s: reader got %q", path, s)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: reader got nothing", path)
		}
		fi, err := os.Lstat(fifo)
		if err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
			t.Fatalf("%s: after the write the pipe is %v (%v)", path, fi.Mode(), err)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("dir holds %d entries, want the pipe and the link", len(ents))
	}
	// Files wasmward owns are never written through a pipe.
	if err := WriteContained(fifo, []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("WriteContained to a FIFO: %v", err)
	}
}

// TestDevNullIsWrittenThrough: /dev/null (only inspected here, never
// written by the tests) is a device, so a write goes through to it rather
// than renaming a regular file over it.
func TestDevNullIsWrittenThrough(t *testing.T) {
	fi, err := os.Stat("/dev/null")
	if err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Skip("no /dev/null character device here")
	}
	tg, err := resolve("/dev/null", false)
	if err != nil || !tg.through || tg.path != "/dev/null" {
		t.Fatalf("resolve(/dev/null) = %+v, %v; want a write-through", tg, err)
	}
	if _, err := resolve("/dev/null", true); err == nil {
		t.Fatal("WriteContained would write to /dev/null")
	}
}

// TestSymlinks: Write follows a link and keeps it; WriteContained follows
// one only inside its directory.
func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	outside := filepath.Join(dir, "outside")
	for _, d := range []string{state, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(state, "real.json")
	if err := os.WriteFile(inside, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(name, dest string) string {
		p := filepath.Join(state, name)
		if err := os.Symlink(dest, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := mk("out.json", "../outside/victim")
	in := mk("in.json", "real.json")
	dangling := mk("dangling.json", "../outside/new")
	subdir := mk("dir", "../outside")

	tests := []struct {
		name      string
		write     func() error
		wantErr   string // "" = success
		file, got string // file holds got afterwards
	}{
		{"contained refuses a link out", func() error { return WriteContained(out, []byte("x"), 0o600) },
			"symbolic link leads out of its directory", victim, "precious"},
		{"contained refuses a dangling link out", func() error { return WriteContained(dangling, []byte("x"), 0o600) },
			"symbolic link leads out of its directory", filepath.Join(outside, "new"), ""},
		{"contained follows a link inside", func() error { return WriteContained(in, []byte("new"), 0o600) },
			"", inside, "new"},
		{"write follows a link and keeps it", func() error { return Write(out, []byte("user's choice"), 0o644) },
			"", victim, "user's choice"},
		{"write creates a dangling link's target", func() error { return Write(dangling, []byte("created"), 0o644) },
			"", filepath.Join(outside, "new"), "created"},
		{"a directory is an error", func() error { return Write(subdir, []byte("x"), 0o644) },
			"is a directory", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if tc.file == "" {
				return
			}
			b, rerr := os.ReadFile(tc.file)
			if tc.got == "" {
				if !errors.Is(rerr, fs.ErrNotExist) {
					t.Fatalf("%s exists (%q)", tc.file, b)
				}
				return
			}
			if string(b) != tc.got {
				t.Fatalf("%s holds %q, want %q", tc.file, b, tc.got)
			}
		})
	}
	for _, l := range []string{out, in, dangling} {
		if fi, err := os.Lstat(l); err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Errorf("%s is no longer a link", l)
		}
	}
}

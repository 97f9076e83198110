//go:build linux

package confine

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"golang.org/x/sys/unix"
)

// tree is the test layout:
//
//	base/outside/secret.txt     the token; nothing may ever read or change it
//	base/mount/file.txt         "hello"
//	base/mount/sub/deep.txt     "deep"
//	base/mount/inner   -> ../outside            (relative escape)
//	base/mount/abs     -> <base>/outside        (absolute escape)
//	base/mount/planted -> ../../../../../../../../../../etc
//	base/mount/sub/climb -> ../../outside       (escape from a subdirectory)
//	base/mount/dangling -> ../outside/created.txt (O_CREAT through it must not create)
//	base/mount/ok      -> sub/deep.txt          (stays inside)
//	base/mount/okdir   -> sub                   (stays inside)
//	base/mount/updown  -> sub/../file.txt       (stays inside)
//	base/mount/loop    -> loop
type tree struct {
	base, mount, outside, secret, token string
	entries                             int // in base
}

func newTree(t *testing.T) tree {
	t.Helper()
	base := t.TempDir()
	tr := tree{
		base:    base,
		mount:   filepath.Join(base, "mount"),
		outside: filepath.Join(base, "outside"),
		token:   randomToken(t),
		entries: 2,
	}
	tr.secret = filepath.Join(tr.outside, "secret.txt")
	must(t, os.MkdirAll(filepath.Join(tr.mount, "sub"), 0o755))
	must(t, os.MkdirAll(tr.outside, 0o755))
	must(t, os.WriteFile(tr.secret, []byte(tr.token), 0o644))
	must(t, os.WriteFile(filepath.Join(tr.mount, "file.txt"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(tr.mount, "sub", "deep.txt"), []byte("deep"), 0o644))
	for link, target := range map[string]string{
		"inner":     "../outside",
		"abs":       tr.outside,
		"planted":   "../../../../../../../../../../etc",
		"sub/climb": "../../outside",
		"dangling":  "../outside/created.txt",
		"ok":        "sub/deep.txt",
		"okdir":     "sub",
		"updown":    "sub/../file.txt",
		"loop":      "loop",
	} {
		must(t, os.Symlink(target, filepath.Join(tr.mount, link)))
	}
	return tr
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "SECRET-" + hex.EncodeToString(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newFS(t *testing.T, dir string, readOnly bool) *FS {
	t.Helper()
	fsys, err := New(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fsys.(*FS).Close() })
	return fsys.(*FS)
}

// checkOutsideIntact fails the test when anything outside the mount changed.
func (tr tree) checkOutsideIntact(t *testing.T) {
	t.Helper()
	got, err := os.ReadFile(tr.secret)
	if err != nil || string(got) != tr.token {
		t.Fatalf("secret changed: %q, %v", got, err)
	}
	fi, err := os.Stat(tr.secret)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("secret mode changed: %v, %v", fi.Mode(), err)
	}
	ents, err := os.ReadDir(tr.outside)
	if err != nil || len(ents) != 1 {
		t.Fatalf("outside dir changed: %v, %v", ents, err)
	}
	ents, err = os.ReadDir(tr.base)
	if err != nil || len(ents) != tr.entries {
		t.Fatalf("base dir changed: %v, %v", ents, err)
	}
}

// readAll reads a whole file opened from the FS.
func readAll(t *testing.T, f experimentalsys.File) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, errno := f.Read(buf)
		if errno != 0 {
			t.Fatalf("read: %v", errno)
		}
		if n == 0 {
			return out.String()
		}
		out.Write(buf[:n])
	}
}

func TestEscapesAreRefused(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, false)
	const (
		rd = experimentalsys.O_RDONLY
		wr = experimentalsys.O_WRONLY
	)
	open := func(p string, flag experimentalsys.Oflag) func() experimentalsys.Errno {
		return func() experimentalsys.Errno {
			f, errno := fsys.OpenFile(p, flag, 0o644)
			if errno == 0 {
				_ = f.Close()
			}
			return errno
		}
	}
	stat := func(p string) func() experimentalsys.Errno {
		return func() experimentalsys.Errno { _, errno := fsys.Stat(p); return errno }
	}
	lstat := func(p string) func() experimentalsys.Errno {
		return func() experimentalsys.Errno { _, errno := fsys.Lstat(p); return errno }
	}
	tests := []struct {
		name string
		op   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"dotdot open", open("../outside/secret.txt", rd), experimentalsys.EPERM},
		{"dotdot after subdir", open("sub/../../outside/secret.txt", rd), experimentalsys.EPERM},
		// A leading slash names the mount's root (wazero's convention for
		// names under a descriptor opened on the root): not the host's.
		{"absolute path", open("/etc/passwd", rd), experimentalsys.ENOENT},
		{"absolute host path", open(tr.secret, rd), experimentalsys.ENOENT},
		{"absolute dotdot", open("/../outside/secret.txt", rd), experimentalsys.EPERM},
		{"relative symlink", open("inner/secret.txt", rd), experimentalsys.EPERM},
		{"relative symlink dir", open("inner", rd|experimentalsys.O_DIRECTORY), experimentalsys.EPERM},
		{"absolute symlink", open("abs/secret.txt", rd), experimentalsys.EPERM},
		{"planted symlink to etc", open("planted/passwd", rd), experimentalsys.EPERM},
		{"symlink from subdir", open("sub/climb/secret.txt", rd), experimentalsys.EPERM},
		{"inside link then escape", open("okdir/climb/secret.txt", rd), experimentalsys.EPERM},
		{"create through dangling link", open("dangling", wr|experimentalsys.O_CREAT), experimentalsys.EPERM},
		{"create in linked dir", open("inner/new.txt", wr|experimentalsys.O_CREAT|experimentalsys.O_EXCL), experimentalsys.EPERM},
		{"truncate through link", open("inner/secret.txt", wr|experimentalsys.O_TRUNC), experimentalsys.EPERM},
		{"append through link", open("abs/secret.txt", wr|experimentalsys.O_APPEND), experimentalsys.EPERM},
		{"symlink loop", open("loop", rd), experimentalsys.ELOOP},
		{"nofollow on inside link", open("ok", rd|experimentalsys.O_NOFOLLOW), experimentalsys.ELOOP},
		{"nofollow on escaping link", open("inner", rd|experimentalsys.O_NOFOLLOW), experimentalsys.ELOOP},
		{"stat relative link", stat("inner"), experimentalsys.EPERM},
		{"stat absolute link", stat("abs"), experimentalsys.EPERM},
		{"stat through link", stat("inner/secret.txt"), experimentalsys.EPERM},
		{"lstat through link", lstat("inner/secret.txt"), experimentalsys.EPERM},
		{"lstat trailing slash", lstat("inner/"), experimentalsys.EPERM},
		{"lstat dotdot", lstat(".."), experimentalsys.EPERM},
		{"readlink through link", func() experimentalsys.Errno { _, e := fsys.Readlink("abs/x"); return e }, experimentalsys.EPERM},
		{"mkdir through link", func() experimentalsys.Errno { return fsys.Mkdir("inner/d", 0o755) }, experimentalsys.EPERM},
		{"mkdir dotdot", func() experimentalsys.Errno { return fsys.Mkdir("../d", 0o755) }, experimentalsys.EPERM},
		{"unlink through link", func() experimentalsys.Errno { return fsys.Unlink("inner/secret.txt") }, experimentalsys.EPERM},
		{"unlink dotdot", func() experimentalsys.Errno { return fsys.Unlink("../outside/secret.txt") }, experimentalsys.EPERM},
		{"rmdir through link", func() experimentalsys.Errno { return fsys.Rmdir("abs/x") }, experimentalsys.EPERM},
		{"rmdir of a link to a dir", func() experimentalsys.Errno { return fsys.Rmdir("inner") }, experimentalsys.ENOTDIR},
		{"rename out of link", func() experimentalsys.Errno { return fsys.Rename("inner/secret.txt", "stolen.txt") }, experimentalsys.EPERM},
		{"rename into link", func() experimentalsys.Errno { return fsys.Rename("file.txt", "inner/file.txt") }, experimentalsys.EPERM},
		{"rename to dotdot", func() experimentalsys.Errno { return fsys.Rename("file.txt", "../file.txt") }, experimentalsys.EPERM},
		{"link from outside via link", func() experimentalsys.Errno { return fsys.Link("inner/secret.txt", "hl") }, experimentalsys.EPERM},
		{"link from outside via dotdot", func() experimentalsys.Errno { return fsys.Link("../outside/secret.txt", "hl") }, experimentalsys.EPERM},
		{"link into outside", func() experimentalsys.Errno { return fsys.Link("file.txt", "abs/hl") }, experimentalsys.EPERM},
		{"link absolute", func() experimentalsys.Errno { return fsys.Link(tr.secret, "hl") }, experimentalsys.ENOENT},
		{"symlink to sibling", func() experimentalsys.Errno { return fsys.Symlink("../outside", "sib") }, experimentalsys.EPERM},
		{"symlink to etc", func() experimentalsys.Errno { return fsys.Symlink("../../../etc", "evil") }, experimentalsys.EPERM},
		{"symlink absolute", func() experimentalsys.Errno { return fsys.Symlink("/etc", "evil") }, experimentalsys.EPERM},
		{"symlink absolute host", func() experimentalsys.Errno { return fsys.Symlink(tr.outside, "evil") }, experimentalsys.EPERM},
		{"symlink from subdir", func() experimentalsys.Errno { return fsys.Symlink("../../outside", "sub/evil") }, experimentalsys.EPERM},
		{"symlink created in linked dir", func() experimentalsys.Errno { return fsys.Symlink("x", "inner/evil") }, experimentalsys.EPERM},
		{"chmod through link", func() experimentalsys.Errno { return fsys.Chmod("inner/secret.txt", 0o777) }, experimentalsys.EPERM},
		{"chmod link target", func() experimentalsys.Errno { return fsys.Chmod("dangling", 0o777) }, experimentalsys.EPERM},
		{"utimens through link", func() experimentalsys.Errno { return fsys.Utimens("abs/secret.txt", 0, 0) }, experimentalsys.EPERM},
		{"utimens link target", func() experimentalsys.Errno { return fsys.Utimens("inner", 0, 0) }, experimentalsys.EPERM},
		{"nul in name", open("file.txt\x00x", rd), experimentalsys.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.op(); got != tc.want {
				t.Fatalf("got %v (%d), want %v (%d)", got, got, tc.want, tc.want)
			}
			tr.checkOutsideIntact(t)
		})
	}
	for _, name := range []string{"stolen.txt", "hl", "sib", "evil", "sub/evil"} {
		if _, err := os.Lstat(filepath.Join(tr.mount, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a refused operation: %v", name, err)
		}
	}
}

// TestHardLinkOfEscapingSymlink: link(2) without AT_SYMLINK_FOLLOW links the
// symbolic link itself; the copy is as harmless as the original.
func TestHardLinkOfEscapingSymlink(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, false)
	if errno := fsys.Link("inner", "inner2"); errno != 0 {
		t.Fatalf("link: %v", errno)
	}
	if _, errno := fsys.OpenFile("inner2/secret.txt", experimentalsys.O_RDONLY, 0); errno != experimentalsys.EPERM {
		t.Fatalf("open through linked symlink: %v, want EPERM", errno)
	}
	tr.checkOutsideIntact(t)
}

// TestPreexistingHardLinkIsReadable pins the documented limit: a hard link
// to an outside file that the operator left in the mount is the same inode,
// and no path-based mechanism can tell it apart (docs/filesystem.md).
func TestPreexistingHardLinkIsReadable(t *testing.T) {
	tr := newTree(t)
	if err := os.Link(tr.secret, filepath.Join(tr.mount, "hardlinked")); err != nil {
		t.Skipf("cannot create hard link here: %v", err)
	}
	fsys := newFS(t, tr.mount, false)
	f, errno := fsys.OpenFile("hardlinked", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatalf("open: %v", errno)
	}
	defer f.Close()
	if got := readAll(t, f); got != tr.token {
		t.Fatalf("got %q", got)
	}
}

// TestEscapeIsEPERM pins the text of os.Root's escape error that toErrno
// matches, so a Go release that changes it fails here.
func TestEscapeIsEPERM(t *testing.T) {
	tr := newTree(t)
	r, err := os.OpenRoot(tr.mount)
	must(t, err)
	defer r.Close()
	for _, name := range []string{"inner/secret.txt", "abs/secret.txt", "../x"} {
		_, err := r.Open(name)
		if err == nil || underlying(err).Error() != escapeMessage {
			t.Fatalf("os.Root open %q: %v, want %q", name, err, escapeMessage)
		}
		if got := toErrno(err); got != experimentalsys.EPERM {
			t.Fatalf("toErrno(%v) = %v", err, got)
		}
	}
}

// TestSymlinkCreatedAfterOpen: a link planted after New (by anyone: a host
// process, or a guest of another runtime sharing the directory) is resolved
// under the same rules as pre-existing ones.
func TestSymlinkCreatedAfterOpen(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, false)
	must(t, os.Symlink("../outside", filepath.Join(tr.mount, "late")))
	must(t, os.Symlink(tr.outside, filepath.Join(tr.mount, "sub", "lateabs")))
	for _, p := range []string{"late/secret.txt", "sub/lateabs/secret.txt", "okdir/lateabs/secret.txt"} {
		if _, errno := fsys.OpenFile(p, experimentalsys.O_RDONLY, 0); errno != experimentalsys.EPERM {
			t.Errorf("open %s: %v, want EPERM", p, errno)
		}
	}
}

// TestLinkMadeEscapingByRename: a link with ".." in its target (the guest
// cannot create one; the operator can leave one in the mount) is made
// escaping by renaming its directory, which the guest may not do but the
// host may. Resolution must still refuse it.
func TestLinkMadeEscapingByRename(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, false)
	must(t, os.MkdirAll(filepath.Join(tr.mount, "a", "b"), 0o755))
	must(t, os.Symlink("../../outside", filepath.Join(tr.mount, "a", "b", "l")))
	if errno := fsys.Rename("a/b", "b"); errno != experimentalsys.EPERM {
		t.Fatalf("guest rename a/b -> b: %v, want EPERM", errno)
	}
	must(t, os.Rename(filepath.Join(tr.mount, "a", "b"), filepath.Join(tr.mount, "b")))
	if _, errno := fsys.OpenFile("b/l/secret.txt", experimentalsys.O_RDONLY, 0); errno != experimentalsys.EPERM {
		t.Fatalf("open through renamed link: %v, want EPERM", errno)
	}
	if errno := fsys.Symlink("../../outside", "b/l2"); errno != experimentalsys.EPERM {
		t.Fatalf("symlink b/l2: %v, want EPERM", errno)
	}
	tr.checkOutsideIntact(t)
}

// TestSwapRace races a guest-visible directory against a symlink to the
// outside (renameat2 RENAME_EXCHANGE) while opening through it. Whatever the
// interleaving, the token must never be read.
func TestSwapRace(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, false)
	must(t, os.Mkdir(filepath.Join(tr.mount, "swap"), 0o755))
	must(t, os.WriteFile(filepath.Join(tr.mount, "swap", "secret.txt"), []byte("inside"), 0o644))
	must(t, os.Symlink("../outside", filepath.Join(tr.mount, "other")))
	if err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(tr.mount, "swap"), unix.AT_FDCWD, filepath.Join(tr.mount, "other"), unix.RENAME_EXCHANGE); err != nil {
		t.Skipf("renameat2 RENAME_EXCHANGE unavailable: %v", err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			_ = unix.Renameat2(unix.AT_FDCWD, filepath.Join(tr.mount, "swap"), unix.AT_FDCWD, filepath.Join(tr.mount, "other"), unix.RENAME_EXCHANGE)
		}
	})
	var reads, denied int
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, p := range []string{"swap/secret.txt", "other/secret.txt"} {
			f, errno := fsys.OpenFile(p, experimentalsys.O_RDONLY, 0)
			if errno != 0 {
				denied++
				continue
			}
			got := readAll(t, f)
			_ = f.Close()
			if got != "inside" {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("read %q through %s", got, p)
			}
			reads++
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads == 0 || denied == 0 {
		t.Logf("race did not interleave both ways (reads=%d denied=%d)", reads, denied)
	}
	tr.checkOutsideIntact(t)
}

func TestReadOnlyRefusesEveryWrite(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, true)
	open := func(flag experimentalsys.Oflag, p string) func() experimentalsys.Errno {
		return func() experimentalsys.Errno {
			f, errno := fsys.OpenFile(p, flag, 0o644)
			if errno == 0 {
				_ = f.Close()
			}
			return errno
		}
	}
	withFile := func(p string, op func(f experimentalsys.File) experimentalsys.Errno) func() experimentalsys.Errno {
		return func() experimentalsys.Errno {
			f, errno := fsys.OpenFile(p, experimentalsys.O_RDONLY, 0)
			if errno != 0 {
				t.Fatalf("open %s read-only: %v", p, errno)
			}
			defer f.Close()
			return op(f)
		}
	}
	// Refused on the FS with EROFS; on descriptors (all read-only) with
	// EBADF, as wazero's read-only mounts do. O_APPEND and SetAppend write
	// nothing by themselves and are accepted; the writes after them fail.
	rofs, badf := experimentalsys.EROFS, experimentalsys.EBADF
	appendThenWrite := func(f experimentalsys.File) experimentalsys.Errno {
		if e := f.SetAppend(true); e != 0 {
			return e
		}
		_, e := f.Write([]byte("x"))
		return e
	}
	tests := []struct {
		name string
		op   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"open wronly", open(experimentalsys.O_WRONLY, "file.txt"), rofs},
		{"open rdwr", open(experimentalsys.O_RDWR, "file.txt"), rofs},
		{"open creat", open(experimentalsys.O_RDONLY|experimentalsys.O_CREAT, "new.txt"), rofs},
		{"open creat excl", open(experimentalsys.O_WRONLY|experimentalsys.O_CREAT|experimentalsys.O_EXCL, "new.txt"), rofs},
		{"open trunc", open(experimentalsys.O_RDONLY|experimentalsys.O_TRUNC, "file.txt"), rofs},
		{"open wronly append", open(experimentalsys.O_WRONLY|experimentalsys.O_APPEND, "file.txt"), rofs},
		{"mkdir", func() experimentalsys.Errno { return fsys.Mkdir("d", 0o755) }, rofs},
		{"rmdir", func() experimentalsys.Errno { return fsys.Rmdir("sub") }, rofs},
		{"unlink", func() experimentalsys.Errno { return fsys.Unlink("file.txt") }, rofs},
		{"rename", func() experimentalsys.Errno { return fsys.Rename("file.txt", "moved.txt") }, rofs},
		{"link", func() experimentalsys.Errno { return fsys.Link("file.txt", "hl") }, rofs},
		{"symlink", func() experimentalsys.Errno { return fsys.Symlink("file.txt", "sl") }, rofs},
		{"chmod", func() experimentalsys.Errno { return fsys.Chmod("file.txt", 0o777) }, rofs},
		{"utimens", func() experimentalsys.Errno { return fsys.Utimens("file.txt", 0, 0) }, rofs},
		{"file write", withFile("file.txt", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Write([]byte("x")); return e }), badf},
		{"file pwrite", withFile("file.txt", func(f experimentalsys.File) experimentalsys.Errno { _, e := f.Pwrite([]byte("x"), 0); return e }), badf},
		{"file truncate", withFile("file.txt", func(f experimentalsys.File) experimentalsys.Errno { return f.Truncate(0) }), badf},
		{"file utimens", withFile("file.txt", func(f experimentalsys.File) experimentalsys.Errno { return f.Utimens(0, 0) }), badf},
		{"dir utimens", withFile(".", func(f experimentalsys.File) experimentalsys.Errno { return f.Utimens(0, 0) }), badf},
		{"file set append, write", withFile("file.txt", appendThenWrite), badf},
		{"open append, write", func() experimentalsys.Errno {
			f, errno := fsys.OpenFile("file.txt", experimentalsys.O_RDONLY|experimentalsys.O_APPEND, 0)
			if errno != 0 {
				return errno
			}
			defer f.Close()
			_, errno = f.Write([]byte("x"))
			return errno
		}, badf},
	}
	before, err := os.Stat(filepath.Join(tr.mount, "file.txt"))
	must(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.op(); got != tc.want {
				t.Fatalf("got %v (%d), want %v", got, got, tc.want)
			}
		})
	}
	after, err := os.Stat(filepath.Join(tr.mount, "file.txt"))
	must(t, err)
	if !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() || after.Size() != 5 {
		t.Fatalf("file.txt changed: %v %v %d", after.ModTime(), after.Mode(), after.Size())
	}
	ents, err := os.ReadDir(tr.mount)
	must(t, err)
	if len(ents) != 10 {
		t.Fatalf("mount changed: %d entries", len(ents))
	}
	// Reads still work.
	f, errno := fsys.OpenFile("ok", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatalf("open: %v", errno)
	}
	defer f.Close()
	if got := readAll(t, f); got != "deep" {
		t.Fatalf("read %q", got)
	}
}

func TestNormalUse(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, false)
	readFile := func(p string) string {
		t.Helper()
		f, errno := fsys.OpenFile(p, experimentalsys.O_RDONLY, 0)
		if errno != 0 {
			t.Fatalf("open %s: %v", p, errno)
		}
		defer f.Close()
		return readAll(t, f)
	}
	wantErrno := func(what string, got, want experimentalsys.Errno) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}

	// Reads, including through links that stay inside.
	for p, want := range map[string]string{
		"file.txt": "hello", "sub/deep.txt": "deep", "ok": "deep",
		"okdir/deep.txt": "deep", "updown": "hello", "sub/../file.txt": "hello",
	} {
		if got := readFile(p); got != want {
			t.Errorf("read %s: %q, want %q", p, got, want)
		}
	}

	// Create, write, append, pwrite, pread, seek, truncate.
	f, errno := fsys.OpenFile("new.txt", experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o600)
	wantErrno("create", errno, 0)
	n, errno := f.Write([]byte("abcdef"))
	wantErrno("write", errno, 0)
	if n != 6 {
		t.Fatalf("wrote %d", n)
	}
	_, errno = f.Pwrite([]byte("XY"), 2)
	wantErrno("pwrite", errno, 0)
	buf := make([]byte, 4)
	n, errno = f.Pread(buf, 1)
	wantErrno("pread", errno, 0)
	if string(buf[:n]) != "bXYe" {
		t.Fatalf("pread %q", buf[:n])
	}
	off, errno := f.Seek(-2, io.SeekEnd)
	wantErrno("seek", errno, 0)
	if off != 4 {
		t.Fatalf("seek %d", off)
	}
	n, _ = f.Read(buf)
	if string(buf[:n]) != "ef" {
		t.Fatalf("read after seek %q", buf[:n])
	}
	wantErrno("truncate", f.Truncate(3), 0)
	wantErrno("sync", f.Sync(), 0)
	wantErrno("datasync", f.Datasync(), 0)
	pf := f.(experimentalsys.PollableFile)
	if pf.IsNonblock() {
		t.Fatal("nonblocking without O_NONBLOCK")
	}
	if errno := withFd(f.(*file).f, func(fd int) error {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err == nil && fl&unix.O_NONBLOCK != 0 {
			t.Error("O_NONBLOCK left set on the descriptor")
		}
		return err
	}); errno != 0 {
		t.Fatal(errno)
	}
	wantErrno("set nonblock", pf.SetNonblock(true), 0)
	if !pf.IsNonblock() {
		t.Fatal("IsNonblock false after SetNonblock")
	}
	if ready, errno := pf.Poll(experimentalsys.POLLIN, 0); !ready || errno != 0 {
		t.Fatalf("poll %v %v", ready, errno)
	}
	wantErrno("clear nonblock", pf.SetNonblock(false), 0)
	wantErrno("set append", f.SetAppend(true), 0)
	if !f.IsAppend() {
		t.Fatal("IsAppend false after SetAppend")
	}
	_, errno = f.Write([]byte("Z"))
	wantErrno("append write", errno, 0)
	wantErrno("futimens", f.Utimens(1e9, experimentalsys.UTIME_OMIT), 0)
	st, errno := f.Stat()
	wantErrno("fstat", errno, 0)
	if st.Size != 4 || st.Atim != 1e9 {
		t.Fatalf("stat size=%d atim=%d", st.Size, st.Atim)
	}
	if ino, _ := f.Ino(); ino == 0 || ino != st.Ino {
		t.Fatalf("ino %d vs %d", ino, st.Ino)
	}
	wantErrno("close", f.Close(), 0)
	wantErrno("close twice", f.Close(), 0)
	if _, errno := f.Read(buf); errno != experimentalsys.EBADF {
		t.Fatalf("read after close: %v", errno)
	}
	if got, _ := os.ReadFile(filepath.Join(tr.mount, "new.txt")); string(got) != "abXZ" {
		t.Fatalf("on disk %q", got)
	}
	_, errno = fsys.OpenFile("new.txt", experimentalsys.O_WRONLY|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o600)
	wantErrno("create excl existing", errno, experimentalsys.EEXIST)
	_, errno = fsys.OpenFile("file.txt", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	wantErrno("O_DIRECTORY on file", errno, experimentalsys.ENOTDIR)
	_, errno = fsys.OpenFile("sub", experimentalsys.O_WRONLY, 0)
	wantErrno("write-open dir", errno, experimentalsys.EISDIR)
	_, errno = fsys.OpenFile("missing", experimentalsys.O_RDONLY, 0)
	wantErrno("open missing", errno, experimentalsys.ENOENT)

	// Trunc through an inside link.
	f, errno = fsys.OpenFile("ok", experimentalsys.O_WRONLY|experimentalsys.O_TRUNC, 0)
	wantErrno("trunc via link", errno, 0)
	_, _ = f.Write([]byte("new deep"))
	_ = f.Close()
	if got := readFile("sub/deep.txt"); got != "new deep" {
		t.Fatalf("deep %q", got)
	}

	// Directories.
	wantErrno("mkdir", fsys.Mkdir("d", 0o755), 0)
	wantErrno("mkdir existing", fsys.Mkdir("d", 0o755), experimentalsys.EEXIST)
	wantErrno("mkdir missing parent", fsys.Mkdir("nope/d", 0o755), experimentalsys.ENOENT)
	wantErrno("rename file into dir", fsys.Rename("new.txt", "d/moved.txt"), 0)
	if got := readFile("d/moved.txt"); got != "abXZ" {
		t.Fatalf("moved %q", got)
	}
	wantErrno("rename dir", fsys.Rename("d", "d2"), 0)
	wantErrno("rmdir nonempty", fsys.Rmdir("d2"), experimentalsys.ENOTEMPTY)
	wantErrno("rmdir file", fsys.Rmdir("file.txt"), experimentalsys.ENOTDIR)
	wantErrno("unlink dir", fsys.Unlink("d2"), experimentalsys.EISDIR)
	wantErrno("rename file over dir", fsys.Rename("file.txt", "d2"), experimentalsys.EISDIR)
	wantErrno("unlink", fsys.Unlink("d2/moved.txt"), 0)
	wantErrno("rmdir", fsys.Rmdir("d2"), 0)
	wantErrno("unlink missing", fsys.Unlink("d2/x"), experimentalsys.ENOENT)
	wantErrno("unlink escaping link itself", fsys.Unlink("planted"), 0)

	// Links that stay inside.
	wantErrno("symlink inside", fsys.Symlink("sub/deep.txt", "mine"), 0)
	wantErrno("symlink with dotdot", fsys.Symlink("../file.txt", "sub/up"), experimentalsys.EPERM)
	must(t, os.Symlink("../file.txt", filepath.Join(tr.mount, "sub", "up"))) // the operator may
	if got := readFile("mine"); got != "new deep" {
		t.Fatalf("via mine %q", got)
	}
	if got := readFile("sub/up"); got != "hello" {
		t.Fatalf("via sub/up %q", got)
	}
	if target, errno := fsys.Readlink("mine"); errno != 0 || target != "sub/deep.txt" {
		t.Fatalf("readlink %q %v", target, errno)
	}
	if target, errno := fsys.Readlink("abs"); errno != 0 || target != tr.outside {
		t.Fatalf("readlink abs %q %v", target, errno)
	}
	wantErrno("symlink exists", fsys.Symlink("file.txt", "mine"), experimentalsys.EEXIST)
	wantErrno("hard link", fsys.Link("file.txt", "sub/hard.txt"), 0)
	if st, errno := fsys.Stat("sub/hard.txt"); errno != 0 || st.Nlink != 2 {
		t.Fatalf("nlink %d %v", st.Nlink, errno)
	}
	wantErrno("hard link dir", fsys.Link("sub", "sub2"), experimentalsys.EPERM)
	lst, errno := fsys.Lstat("mine")
	wantErrno("lstat", errno, 0)
	if lst.Mode.Type() != fs.ModeSymlink {
		t.Fatalf("lstat mode %v", lst.Mode)
	}
	sst, errno := fsys.Stat("mine")
	wantErrno("stat", errno, 0)
	if sst.Mode.Type() != 0 || sst.Size != 8 {
		t.Fatalf("stat mode %v size %d", sst.Mode, sst.Size)
	}
	if st, errno := fsys.Stat("okdir/"); errno != 0 || !st.Mode.IsDir() {
		t.Fatalf("stat okdir/: %v %v", st.Mode, errno)
	}
	wantErrno("chmod", fsys.Chmod("file.txt", 0o600), 0)
	if fi, _ := os.Stat(filepath.Join(tr.mount, "file.txt")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	wantErrno("chmod via link", fsys.Chmod("mine", 0o640), 0)
	if fi, _ := os.Stat(filepath.Join(tr.mount, "sub", "deep.txt")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}
	wantErrno("utimens", fsys.Utimens("file.txt", experimentalsys.UTIME_OMIT, 2e9), 0)
	if fi, _ := os.Stat(filepath.Join(tr.mount, "file.txt")); fi.ModTime().UnixNano() != 2e9 {
		t.Fatalf("mtime %v", fi.ModTime())
	}

	// Readdir, rewind, readdir again.
	d, errno := fsys.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	wantErrno("open root", errno, 0)
	defer d.Close()
	if isDir, _ := d.IsDir(); !isDir {
		t.Fatal("root not a dir")
	}
	names := func() []string {
		var out []string
		for {
			ents, errno := d.Readdir(3)
			wantErrno("readdir", errno, 0)
			for _, e := range ents {
				if e.Ino == 0 {
					t.Errorf("%s: zero inode", e.Name)
				}
				if (e.Name == "inner" || e.Name == "mine") && e.Type != fs.ModeSymlink {
					t.Errorf("%s: type %v", e.Name, e.Type)
				}
				if e.Name == "sub" && e.Type != fs.ModeDir {
					t.Errorf("sub: type %v", e.Type)
				}
				out = append(out, e.Name)
			}
			if len(ents) < 3 {
				sort.Strings(out)
				return out
			}
		}
	}
	first := names()
	want := []string{"abs", "dangling", "file.txt", "inner", "loop", "mine", "ok", "okdir", "sub", "updown"}
	if !equal(first, want) {
		t.Fatalf("readdir %v, want %v", first, want)
	}
	_, errno = d.Seek(0, io.SeekStart)
	wantErrno("rewind", errno, 0)
	if again := names(); !equal(again, want) {
		t.Fatalf("readdir after rewind %v", again)
	}
	_, errno = d.Seek(1, io.SeekStart)
	wantErrno("seek dir nonzero", errno, experimentalsys.EISDIR)
	_, errno = d.Read(buf)
	wantErrno("read dir", errno, experimentalsys.EISDIR)
	_, errno = d.Write(buf)
	wantErrno("write dir", errno, experimentalsys.EISDIR) // as wazero's DirFS
	fl, _ := fsys.OpenFile("file.txt", experimentalsys.O_RDONLY, 0)
	defer fl.Close()
	_, errno = fl.Readdir(1)
	wantErrno("readdir file", errno, experimentalsys.EBADF)
	_, errno = fl.Write([]byte("x"))
	wantErrno("write read-only fd", errno, experimentalsys.EBADF)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSpecialFilesRefused: a FIFO left in the mount must neither block the
// host nor be opened.
func TestSpecialFilesRefused(t *testing.T) {
	tr := newTree(t)
	if err := syscall.Mkfifo(filepath.Join(tr.mount, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	fsys := newFS(t, tr.mount, false)
	for _, flag := range []experimentalsys.Oflag{experimentalsys.O_RDONLY, experimentalsys.O_WRONLY, experimentalsys.O_RDWR} {
		done := make(chan experimentalsys.Errno, 1)
		go func() {
			f, errno := fsys.OpenFile("fifo", flag, 0)
			if f != nil {
				_ = f.Close()
			}
			done <- errno
		}()
		select {
		case errno := <-done:
			if errno != experimentalsys.EACCES {
				t.Fatalf("flag %d: %v, want EACCES", flag, errno)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("flag %d: open of a FIFO blocked", flag)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, nil, 0o644))
	for _, p := range []string{"", filepath.Join(dir, "missing"), file} {
		if _, err := New(p, false); err == nil {
			t.Errorf("New(%q) succeeded", p)
		}
	}
	fsys := newFS(t, dir, false)
	must(t, fsys.Close())
	if _, errno := fsys.Stat("f"); errno != experimentalsys.EBADF {
		t.Fatalf("stat after close: %v", errno)
	}
}

// TestClimbingLinks: symbolic links whose target has a ".." component are
// never created, and one the operator left in the mount keeps its directory:
// renamed or hard linked elsewhere, "../x" would name something else (here,
// a shallower place makes it leave the mount for host tools).
func TestClimbingLinks(t *testing.T) {
	tr := newTree(t)
	fsys := newFS(t, tr.mount, false)
	must(t, os.MkdirAll(filepath.Join(tr.mount, "d", "e"), 0o755))
	must(t, os.Symlink("../file.txt", filepath.Join(tr.mount, "sub", "up")))
	must(t, os.MkdirAll(filepath.Join(tr.mount, "deep", "x", "y"), 0o755))
	must(t, os.Symlink("../../../file.txt", filepath.Join(tr.mount, "deep", "x", "y", "l")))
	must(t, os.MkdirAll(filepath.Join(tr.mount, "big", "b1"), 0o755)) // 4 entries with big itself
	must(t, os.WriteFile(filepath.Join(tr.mount, "big", "f1"), nil, 0o644))
	must(t, os.Symlink("f1", filepath.Join(tr.mount, "big", "b1", "down")))
	tests := []struct {
		name string
		op   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"self link", func() experimentalsys.Errno { return fsys.Symlink(".", "a") }, 0},
		{"dotdot through self link", func() experimentalsys.Errno { return fsys.Symlink("a/..", "esc") }, experimentalsys.EPERM},
		{"dotdot pairs", func() experimentalsys.Errno { return fsys.Symlink("a/a/../..", "esc2") }, experimentalsys.EPERM},
		{"dotdot staying inside", func() experimentalsys.Errno { return fsys.Symlink("../file.txt", "d/l") }, experimentalsys.EPERM},
		{"dotdot last", func() experimentalsys.Errno { return fsys.Symlink("e/..", "d/m") }, experimentalsys.EPERM},
		{"name with dots", func() experimentalsys.Errno { return fsys.Symlink("..x/...", "d/dots") }, 0},
		{"rename operator's link up", func() experimentalsys.Errno { return fsys.Rename("sub/up", "up") }, experimentalsys.EPERM},
		{"hard link operator's link up", func() experimentalsys.Errno { return fsys.Link("sub/up", "up2") }, experimentalsys.EPERM},
		{"rename operator's link sideways", func() experimentalsys.Errno { return fsys.Rename("sub/up", "d/up") }, experimentalsys.EPERM},
		{"rename operator's link in place", func() experimentalsys.Errno { return fsys.Rename("sub/up", "sub/up3") }, 0},
		{"rename a descending link", func() experimentalsys.Errno { return fsys.Rename("d/dots", "dots") }, 0},
		{"move the directory of operator's link", func() experimentalsys.Errno { return fsys.Rename("sub", "d/sub") }, experimentalsys.EPERM},
		{"move a directory holding it deeper down", func() experimentalsys.Errno { return fsys.Rename("deep", "d/deep") }, experimentalsys.EPERM},
		{"rename it within its parent", func() experimentalsys.Errno { return fsys.Rename("sub", "sub2") }, 0},
		{"move a directory without such links", func() experimentalsys.Errno { return fsys.Rename("d/e", "e") }, 0},
		{"move a tree past the walk limit", func() experimentalsys.Errno {
			fsys.maxWalk = 3
			defer func() { fsys.maxWalk = maxMoveWalk }()
			return fsys.Rename("big", "d/big")
		}, experimentalsys.EPERM},
		{"move a tree within the walk limit", func() experimentalsys.Errno {
			fsys.maxWalk = 4
			defer func() { fsys.maxWalk = maxMoveWalk }()
			return fsys.Rename("big", "d/big")
		}, 0},
		{"leading slash is the root", func() experimentalsys.Errno { return fsys.Mkdir("/e/f", 0o755) }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.op(); got != tc.want {
				t.Fatalf("got %v (%d), want %v (%d)", got, got, tc.want, tc.want)
			}
		})
	}
	for _, name := range []string{"esc", "esc2", "d/l", "d/m", "up", "up2", "d/up"} {
		if _, err := os.Lstat(filepath.Join(tr.mount, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a refused operation: %v", name, err)
		}
	}
	for _, name := range []string{"sub2/up3", "dots", "e/f", "d/big/b1/down"} {
		if _, err := os.Lstat(filepath.Join(tr.mount, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	tr.checkOutsideIntact(t)
}

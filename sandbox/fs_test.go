package sandbox_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// escapeTree lays out what internal/fixture/src/c/fs_escape.c expects: a
// read-write mount next to a directory "outside" holding a secret, with a
// relative and an absolute symlink to it inside the mount, and a read-only
// mount.
type escapeTree struct {
	base, mount, outside, ro, token string
}

func newEscapeTree(t *testing.T) escapeTree {
	t.Helper()
	base := t.TempDir()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	g := escapeTree{base: base, mount: filepath.Join(base, "mount"), outside: filepath.Join(base, "outside"),
		ro: filepath.Join(base, "ro"), token: "SECRET-" + hex.EncodeToString(b[:])}
	for _, step := range []error{
		os.MkdirAll(filepath.Join(g.mount, "sub"), 0o755),
		os.MkdirAll(g.outside, 0o755),
		os.MkdirAll(g.ro, 0o755),
		os.WriteFile(filepath.Join(g.outside, "secret.txt"), []byte(g.token), 0o644),
		os.WriteFile(filepath.Join(g.mount, "file.txt"), []byte("hello"), 0o644),
		os.WriteFile(filepath.Join(g.ro, "ro.txt"), []byte("read-only"), 0o644),
		os.Symlink("../outside", filepath.Join(g.mount, "inner")),
		os.Symlink(g.outside, filepath.Join(g.mount, "abs")),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	return g
}

// snapshot lists every path under dir with its content (or link target), to
// prove that nothing outside the mounts changed.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	return strings.Join(treeLines(t, dir), "\n")
}

// TestFilesystemEscapes runs the filesystem engineer's escape module through
// the sandbox with the mounts of a policy: every attempt fails, the secret
// never reaches the guest (its output is all it could exfiltrate: it has no
// other channel) and nothing outside the mounts changes.
func TestFilesystemEscapes(t *testing.T) {
	g := newEscapeTree(t)
	before := snapshot(t, g.outside)
	p := policy.Default()
	p.Capabilities.Mounts = []policy.Mount{
		{Host: g.mount, Guest: "/data"},
		{Host: g.ro, Guest: "/ro", ReadOnly: true},
	}
	rt := newRuntime(t)
	m := compile(t, rt, "fs_escape", p)
	r := run(t, m, sandbox.Invocation{Name: "fs_escape", Args: []string{"/data", "/ro", g.outside}})
	if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 {
		t.Fatalf("report %+v violation %+v\nstderr: %s", r.rep, r.rep.Violation, r.stderr)
	}
	out := r.stdout
	if !strings.HasSuffix(out, "DONE\n") {
		t.Fatalf("fs_escape did not finish:\n%s", out)
	}
	for _, secret := range []string{g.token, "root:x:0:0"} {
		if strings.Contains(out, secret) || strings.Contains(r.stderr, secret) {
			t.Fatalf("%q reached the guest:\n%s", secret, out)
		}
	}
	attempts := 0
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "ATTEMPT ") {
			continue
		}
		attempts++
		if !strings.Contains(line, ": denied errno=") {
			t.Errorf("escape succeeded: %s", line)
		}
	}
	if attempts < 30 {
		t.Errorf("only %d escape attempts ran:\n%s", attempts, out)
	}
	for _, control := range []string{"CONTROL read_inside: READ hello", "CONTROL read_ro: READ read-only"} {
		if !strings.Contains(out, control+"\n") {
			t.Errorf("missing %q in:\n%s", control, out)
		}
	}
	if after := snapshot(t, g.outside); after != before {
		t.Errorf("outside changed:\n%s\nwas:\n%s", after, before)
	}
	if b, err := os.ReadFile(filepath.Join(g.ro, "ro.txt")); err != nil || string(b) != "read-only" {
		t.Errorf("read-only mount changed: %q %v", b, err)
	}
}

func TestFilesystemBasics(t *testing.T) {
	g := newEscapeTree(t)
	p := policy.Default()
	p.Capabilities.Mounts = []policy.Mount{
		{Host: g.mount, Guest: "/data"},
		{Host: g.ro, Guest: "/ro", ReadOnly: true},
	}
	rt := newRuntime(t)
	m := compile(t, rt, "sb_tool", p)
	tests := []struct {
		args   []string
		exit   int
		stdout string
		stderr string
	}{
		{[]string{"cat", "/data/file.txt"}, 0, "hello", ""},
		{[]string{"cat", "/ro/ro.txt"}, 0, "read-only", ""},
		{[]string{"cat", "/data/inner/secret.txt"}, 3, "", "open /data/inner/secret.txt:"},
		{[]string{"cat", "/data/abs/secret.txt"}, 3, "", "open /data/abs/secret.txt:"},
		{[]string{"cat", "/data/../outside/secret.txt"}, 3, "", "open /data/../outside/secret.txt:"},
		{[]string{"cat", "/etc/passwd"}, 3, "", "open /etc/passwd:"},
		{[]string{"write", "/ro/new.txt", "x"}, 4, "", "open /ro/new.txt: Read-only file system"},
		{[]string{"write", "/ro/ro.txt", "x"}, 4, "", "open /ro/ro.txt: Read-only file system"},
		{[]string{"write", "/data/new.txt", "written"}, 0, "", ""},
		{[]string{"symlink", "../../outside/secret.txt", "/data/evil"}, 6, "", "symlink: Operation not permitted"},
		{[]string{"cat", "/data/evil"}, 3, "", "open /data/evil:"},
		{[]string{"link", "/data/abs/secret.txt", "/data/hard"}, 6, "", "link:"},
	}
	for _, tc := range tests {
		r := run(t, m, sandbox.Invocation{Args: tc.args})
		if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != tc.exit || r.stdout != tc.stdout || !strings.HasPrefix(r.stderr, tc.stderr) {
			t.Errorf("%v: outcome %s exit %d stdout %q stderr %q", tc.args, r.rep.Outcome, r.rep.ExitCode, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, g.token) {
			t.Fatalf("%v: secret read", tc.args)
		}
	}
	if b, err := os.ReadFile(filepath.Join(g.mount, "new.txt")); err != nil || string(b) != "written" {
		t.Errorf("write inside the mount: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(g.ro, "new.txt")); !os.IsNotExist(err) {
		t.Errorf("read-only mount gained a file: %v", err)
	}

	// No mounts: nothing of the host is visible.
	bare := compile(t, rt, "sb_tool", policy.Default())
	if r := run(t, bare, sandbox.Invocation{Args: []string{"cat", "/etc/passwd"}}); r.rep.ExitCode != 3 || r.stdout != "" {
		t.Errorf("no mounts: exit %d stdout %q", r.rep.ExitCode, r.stdout)
	}

	// A mount that does not exist is a host-side error at Compile, not a refusal.
	bad := policy.Default()
	bad.Capabilities.Mounts = []policy.Mount{{Host: filepath.Join(g.base, "missing"), Guest: "/x"}}
	if _, err := rt.Compile(t.Context(), fixture.Bytes(t, "sb_tool"), bad); err == nil || strings.Contains(err.Error(), "refused") {
		t.Errorf("missing mount: %v", err)
	}
}

// TestDirectoryDescriptorsKeepMountRights: a directory opened with path_open
// (open("/", O_DIRECTORY), then *at calls on it and on directories opened
// through it) can do whatever its mount allows. wazero names a descriptor
// opened on a mount's root "" and passes "/x" for "x" under it; refusing
// that leading slash made mkdirat and openat(O_CREAT) fail with EPERM and
// every descriptor opened below with EBADF.
func TestDirectoryDescriptorsKeepMountRights(t *testing.T) {
	want := `open root: ok
mkdirat x: ok
openat y O_CREAT: ok
write y: ok
mkdirat sub: ok
openat sub: ok
openat sub/z O_CREAT: ok
write z: ok
openat sub/.: ok
mkdirat sub/./d: ok
openat sub/d/: ok
symlinkat sub/d/l: ok
openat sub/d/w O_EXCL: ok
readlinkat sub/d/l: ok
readlink: w
renameat sub/z -> x/z: ok
linkat x/z -> sub/zz: ok
unlinkat sub/zz: ok
fstatat x/z: ok
x/z size 4
unlinkat sub/d dir: errno 55
close dd: ok
close deep: ok
close sub: ok
close root: ok
`
	rt := newRuntime(t)
	for _, guest := range []string{"/", "/data"} {
		t.Run(guest, func(t *testing.T) {
			dir := t.TempDir()
			p := policy.Default()
			p.Capabilities.Mounts = []policy.Mount{{Host: dir, Guest: guest}}
			m := compile(t, rt, "conf_dirfd", p)
			r := run(t, m, sandbox.Invocation{Args: []string{guest}})
			if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 || r.stdout != want {
				t.Fatalf("outcome %s exit %d\nstdout:\n%s\nwant:\n%s", r.rep.Outcome, r.rep.ExitCode, r.stdout, want)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "x", "z")); err != nil || string(b) != "zed\n" {
				t.Errorf("x/z: %q %v", b, err)
			}
			if target, err := os.Readlink(filepath.Join(dir, "sub", "d", "l")); err != nil || target != "w" {
				t.Errorf("sub/d/l: %q %v", target, err)
			}
		})
	}
}

// escapingLinks walks dir and returns every symbolic link that a host tool
// following it would find outside dir: resolved with filepath.EvalSymlinks,
// or, for a dangling link, its target joined to its resolved directory.
func escapingLinks(t *testing.T, dir string) []string {
	t.Helper()
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	inside := func(p string) bool { return p == root || strings.HasPrefix(p, root+string(filepath.Separator)) }
	var out []string
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return err
		}
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil { // dangling: where would it point?
			parent, perr := filepath.EvalSymlinks(filepath.Dir(p))
			target, rerr := os.Readlink(p)
			if perr != nil || rerr != nil {
				t.Fatalf("%s: %v %v", p, perr, rerr)
			}
			resolved = filepath.Clean(filepath.Join(parent, target))
			if filepath.IsAbs(target) {
				resolved = target
			}
		}
		if !inside(resolved) {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestGuestSymlinksStayInside (leak 9): conf_symlinks plants each shape of
// symbolic link that leads out of the mount once the guest is gone (a -> .
// then esc -> a/..; a/a/../..; d/l -> ../outside; an inside ".." link
// renamed, or its directory renamed, to a shallower place; the operator's
// ".." link moved or hard linked up, or its directory moved up; a directory
// replaced by a self link under an earlier b/.. link). Under plain wazero
// each one escapes; under the sandbox no symbolic link in the host tree
// resolves outside the mount.
func TestGuestSymlinksStayInside(t *testing.T) {
	wasm := fixture.Bytes(t, "conf_symlinks")
	plain := runPlain(t, wasm, "conf_symlinks", nil)
	wantPlain := []string{"e/l3", "esc", "esc2", "esc3", "in/op", "l2", "lo", "up", "up2"}
	if got := escapingLinks(t, plain.rw); strings.Join(got, " ") != strings.Join(wantPlain, " ") {
		t.Errorf("plain wazero: escaping links %v, want %v (the shapes no longer escape there?)", got, wantPlain)
	}
	ward := runWard(t, newRuntime(t), wasm, "conf_symlinks", nil)
	if got := escapingLinks(t, ward.rw); len(got) != 0 {
		t.Errorf("links in the host tree resolve outside the mount: %v\nstdout:\n%s", got, ward.stdout)
	}
	if ward.exit != 0 || !strings.Contains(ward.stdout, "readlink dir/k/g: f\n") {
		t.Errorf("exit %d, stdout:\n%s", ward.exit, ward.stdout)
	}
}

package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// The conformance corpus (internal/fixture/src/c/conf_*.c and
// internal/fixture/src/go/conf_*) exercises WASI preview1 on files,
// directories and directory descriptors. TestConformance runs each program
// under plain wazero (WithDirMount, WithReadOnlyDirMount) and under the
// sandbox with the same mounts, arguments and environment, and compares
// stdout, the exit code and the resulting directory trees. Every difference
// must be listed in the program's allowlist below (and in
// docs/filesystem.md, "Deliberate differences"); an unlisted difference, or
// a listed one that no longer happens, fails the test.

// confMounts are the guest paths of the two mounts, in preopen order: a
// read-write one at "/" (fd 3) and a read-only one at "/ro" (fd 4).
const (
	confRW = "/"
	confRO = "/ro"
)

// confEnv is the guest environment in both runtimes, sorted.
var confEnv = []string{"ALPHA=1", "BETA=two words", "EMPTY="}

// diff is one expected difference: the line under plain wazero and the line
// under the sandbox ("" when the line or tree entry exists on one side only).
type diff struct{ plain, ward string }

type confCase struct {
	name string
	args []string
	// stdout and tree are the deliberate differences, with the reason in
	// docs/filesystem.md.
	stdout []diff
	tree   []diff
}

// seedConfTree lays out the read-write and read-only mounts every program
// starts from.
func seedConfTree(t *testing.T, rw, ro string) {
	t.Helper()
	files := map[string]string{
		"hello.txt":     "hello\n",
		"dir/inner.txt": "inner\n",
		"ro.txt":        "read-only\n",
	}
	var steps []error
	steps = append(steps,
		os.MkdirAll(filepath.Join(rw, "dir", "sub"), 0o755),
		os.MkdirAll(filepath.Join(rw, "many"), 0o755),
		os.MkdirAll(filepath.Join(ro, "rodir"), 0o755),
		os.WriteFile(filepath.Join(rw, "hello.txt"), []byte(files["hello.txt"]), 0o644),
		os.WriteFile(filepath.Join(rw, "dir", "inner.txt"), []byte(files["dir/inner.txt"]), 0o644),
		os.WriteFile(filepath.Join(ro, "ro.txt"), []byte(files["ro.txt"]), 0o644),
		os.Symlink("hello.txt", filepath.Join(rw, "link")),
		os.Symlink("dir", filepath.Join(rw, "dirlink")),
		os.Symlink("missing.txt", filepath.Join(rw, "dangling")),
		os.Symlink("../hello.txt", filepath.Join(rw, "dir", "up")), // the operator's ".." links
		os.MkdirAll(filepath.Join(rw, "nest", "in"), 0o755),
		os.Symlink("../../hello.txt", filepath.Join(rw, "nest", "in", "op")),
	)
	for i := range 24 {
		steps = append(steps, os.WriteFile(filepath.Join(rw, "many", fmt.Sprintf("entry-%02d", i)), nil, 0o644))
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// treeLines describes every entry under dir: its path, type and permission
// bits, and a regular file's content or a symbolic link's target. Times and
// inode numbers are left out.
func treeLines(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			lines = append(lines, rel+" -> "+target)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			lines = append(lines, fmt.Sprintf("%s %v %q", rel, fi.Mode(), b))
		default:
			lines = append(lines, fmt.Sprintf("%s %v", rel, fi.Mode()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

// confRun is one program's outcome in one runtime.
type confRun struct {
	stdout, stderr string
	exit           uint32
	rw, ro         string // host directories, after the run
}

// runPlain runs wasm under plain wazero with the conformance mounts.
func runPlain(t *testing.T, wasm []byte, name string, args []string) confRun {
	t.Helper()
	ctx := context.Background()
	rw, ro := t.TempDir(), t.TempDir()
	seedConfTree(t, rw, ro)
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var out, errb bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithArgs(append([]string{name}, args...)...).
		WithStdout(&out).WithStderr(&errb).
		WithFSConfig(wazero.NewFSConfig().WithDirMount(rw, confRW).WithReadOnlyDirMount(ro, confRO))
	for _, kv := range confEnv {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}
	res := confRun{rw: rw, ro: ro}
	mod, err := r.InstantiateWithConfig(ctx, wasm, cfg)
	var exit *sys.ExitError
	switch {
	case err == nil:
		_ = mod.Close(ctx)
	case errors.As(err, &exit):
		res.exit = exit.ExitCode()
	default:
		t.Fatalf("plain wazero: %v", err)
	}
	res.stdout, res.stderr = out.String(), errb.String()
	return res
}

// runWard runs the same program in the sandbox with the same mounts.
func runWard(t *testing.T, rt *sandbox.Runtime, wasm []byte, name string, args []string) confRun {
	t.Helper()
	rw, ro := t.TempDir(), t.TempDir()
	seedConfTree(t, rw, ro)
	p := policy.Default()
	p.Capabilities.Mounts = []policy.Mount{{Host: rw, Guest: confRW}, {Host: ro, Guest: confRO, ReadOnly: true}}
	p.Capabilities.Env = map[string]string{}
	for _, kv := range confEnv {
		k, v, _ := strings.Cut(kv, "=")
		p.Capabilities.Env[k] = v
	}
	m, err := rt.Compile(context.Background(), wasm, p)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	defer m.Close(context.Background())
	r := run(t, m, sandbox.Invocation{Name: name, Args: args})
	if r.rep.Outcome != sandbox.OutcomeExit {
		t.Fatalf("sandbox: outcome %s, violation %+v\nstderr: %s", r.rep.Outcome, r.rep.Violation, r.stderr)
	}
	return confRun{stdout: r.stdout, stderr: r.stderr, exit: uint32(r.rep.ExitCode), rw: rw, ro: ro}
}

// compareLines checks that ward equals plain line by line except for the
// listed differences, each of which must occur. Lines are aligned by their
// longest common subsequence; within a changed stretch they are paired in
// order, and a line without a partner is paired with "".
func compareLines(t *testing.T, what string, plain, ward []string, allowed []diff) {
	t.Helper()
	var bad []string
	used := make([]bool, len(allowed))
	for _, d := range alignLines(plain, ward) {
		ok := false
		for i, a := range allowed {
			if a == d {
				used[i], ok = true, true
				break
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("{%q, %q},", d.plain, d.ward))
		}
	}
	for i, d := range allowed {
		if !used[i] {
			bad = append(bad, fmt.Sprintf("listed difference no longer happens: {%q, %q}", d.plain, d.ward))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: unlisted differences (plain, wasmward):\n%s\nplain wazero:\n%s\nwasmward:\n%s",
			what, strings.Join(bad, "\n"), strings.Join(plain, "\n"), strings.Join(ward, "\n"))
	}
}

// alignLines returns the differing line pairs of a and b.
func alignLines(a, b []string) []diff {
	// lcs[i][j] is the length of the longest common subsequence of a[i:], b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diff
	var onlyA, onlyB []string
	flush := func() {
		for k := 0; k < max(len(onlyA), len(onlyB)); k++ {
			var d diff
			if k < len(onlyA) {
				d.plain = onlyA[k]
			}
			if k < len(onlyB) {
				d.ward = onlyB[k]
			}
			out = append(out, d)
		}
		onlyA, onlyB = onlyA[:0], onlyB[:0]
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			flush()
			i, j = i+1, j+1
		case j == len(b) || (i < len(a) && lcs[i+1][j] >= lcs[i][j+1]):
			onlyA = append(onlyA, a[i])
			i++
		default:
			onlyB = append(onlyB, b[j])
			j++
		}
	}
	flush()
	return out
}

// compareTrees is compareLines for tree entries, which are matched by set:
// an entry on one side only is a difference with "" on the other.
func compareTrees(t *testing.T, what string, plain, ward []string, allowed []diff) {
	t.Helper()
	in := func(s []string, x string) bool { i := sort.SearchStrings(s, x); return i < len(s) && s[i] == x }
	var onlyPlain, onlyWard []string
	for _, p := range plain {
		if !in(ward, p) {
			onlyPlain = append(onlyPlain, p)
		}
	}
	for _, w := range ward {
		if !in(plain, w) {
			onlyWard = append(onlyWard, w)
		}
	}
	var got []diff
	for _, p := range onlyPlain {
		got = append(got, diff{plain: p})
	}
	for _, w := range onlyWard {
		got = append(got, diff{ward: w})
	}
	// Pair each listed difference with one observed.
	var bad []string
	for _, d := range allowed {
		if d.plain != "" && d.ward != "" {
			bad = append(bad, fmt.Sprintf("tree differences are listed one side at a time: %+v", d))
		}
	}
	seen := make(map[diff]bool, len(got))
	for _, g := range got {
		seen[g] = true
		ok := false
		for _, d := range allowed {
			ok = ok || d == g
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("{%q, %q},", g.plain, g.ward))
		}
	}
	for _, d := range allowed {
		if !seen[d] {
			bad = append(bad, fmt.Sprintf("listed difference no longer happens: {%q, %q}", d.plain, d.ward))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: unlisted tree differences (plain, wasmward):\n%s", what, strings.Join(bad, "\n"))
	}
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestConformance(t *testing.T) {
	rt := newRuntime(t)
	for _, tc := range confCases {
		t.Run(tc.name, func(t *testing.T) {
			wasm := fixture.Bytes(t, tc.name)
			plain := runPlain(t, wasm, tc.name, tc.args)
			ward := runWard(t, rt, wasm, tc.name, tc.args)
			if plain.exit != ward.exit {
				t.Errorf("exit code: plain wazero %d, wasmward %d", plain.exit, ward.exit)
			}
			compareLines(t, "stdout", splitLines(plain.stdout), splitLines(ward.stdout), tc.stdout)
			var pt, wt []string
			for _, l := range treeLines(t, plain.rw) {
				pt = append(pt, "rw/"+l)
			}
			for _, l := range treeLines(t, plain.ro) {
				pt = append(pt, "ro/"+l)
			}
			for _, l := range treeLines(t, ward.rw) {
				wt = append(wt, "rw/"+l)
			}
			for _, l := range treeLines(t, ward.ro) {
				wt = append(wt, "ro/"+l)
			}
			sort.Strings(pt)
			sort.Strings(wt)
			compareTrees(t, "tree", pt, wt, tc.tree)
			if t.Failed() {
				t.Logf("stderr plain wazero: %s\nstderr wasmward: %s", plain.stderr, ward.stderr)
			}
		})
	}
}

// confCases is the corpus with its deliberate differences.
var confCases = []confCase{
	{name: "conf_dirfd", args: []string{"/"}},
	{name: "conf_paths", stdout: []diff{
		// rmdir of the mount's root: wazero removes the host directory
		// itself when it is empty (ENOTEMPTY otherwise); POSIX rmdir(".")
		// is EINVAL.
		{"rmdir dot: errno 55", "rmdir dot: errno 28"},
	}},
	{name: "conf_misc", args: []string{"alpha", "two words", ""}},
	{name: "conf_go", args: []string{"-v", "x y"}, stdout: []diff{
		{"symlink /go/a/up -> ../new.txt: ok", "symlink /go/a/up -> ../new.txt: symlink ../new.txt /go/a/up: Operation not permitted"},
		{"/go/a/up L---------", ""}, // the walk's line for it
		{"ro writefile: open /ro/x.txt: Not implemented on wasip1", "ro writefile: open /ro/x.txt: Read-only file system"},
		{"ro open write: open /ro/ro.txt: Not implemented on wasip1", "ro open write: open /ro/ro.txt: Read-only file system"},
	}},
	{name: "conf_symlinks", stdout: []diff{
		// Symbolic links whose target has ".." are not created, and the
		// operator's ".." link does not change directory (docs/filesystem.md,
		// "Symbolic links and host tools"); what follows from that.
		{"symlink esc -> a/..: ok", "symlink esc -> a/..: errno 63"},
		{"symlink esc2 -> a/a/../..: ok", "symlink esc2 -> a/a/../..: errno 63"},
		{"symlink d/l -> ../outside: ok", "symlink d/l -> ../outside: errno 63"},
		{"symlink d/l2 -> ../hello.txt: ok", "symlink d/l2 -> ../hello.txt: errno 63"},
		{"rename d/l2 -> l2: ok", "rename d/l2 -> l2: errno 44"},
		{"symlink d/e/l3 -> ../../hello.txt: ok", "symlink d/e/l3 -> ../../hello.txt: errno 63"},
		{"link dir/up -> up2: ok", "link dir/up -> up2: errno 63"},
		{"rename dir/up3 -> up: ok", "rename dir/up3 -> up: errno 63"},
		{"rename nest/in -> in: ok", "rename nest/in -> in: errno 63"},
		{"readlink in/op: ../../hello.txt", "readlink in/op: errno 44"},
		{"symlink esc3 -> b/..: ok", "symlink esc3 -> b/..: errno 63"},
		{"readlink esc: a/..", "readlink esc: errno 44"},
		{"readlink esc2: a/a/../..", "readlink esc2: errno 44"},
		{"readlink l2: ../hello.txt", "readlink l2: errno 44"},
		{"readlink e/l3: ../../hello.txt", "readlink e/l3: errno 44"},
		{"readlink up: ../hello.txt", "readlink up: errno 44"},
		{"readlink up2: ../hello.txt", "readlink up2: errno 44"},
		{"readlink dir/up3: errno 44", "readlink dir/up3: ../hello.txt"},
		{"readlink esc3: b/..", "readlink esc3: errno 44"},
		{"rename d/l -> lo: ok", "rename d/l -> lo: errno 44"},
		{"readlink lo: ../outside", "readlink lo: errno 44"},
	}, tree: []diff{
		{plain: "rw/lo -> ../outside"},
		{plain: "rw/e/l3 -> ../../hello.txt"},
		{plain: "rw/esc -> a/.."},
		{plain: "rw/esc2 -> a/a/../.."},
		{plain: "rw/esc3 -> b/.."},
		{plain: "rw/l2 -> ../hello.txt"},
		{plain: "rw/up -> ../hello.txt"},
		{plain: "rw/up2 -> ../hello.txt"},
		{ward: "rw/dir/up3 -> ../hello.txt"},
		{plain: "rw/in drwxr-xr-x"},
		{plain: "rw/in/op -> ../../hello.txt"},
		{ward: "rw/nest/in drwxr-xr-x"},
		{ward: "rw/nest/in/op -> ../../hello.txt"},
	}},
	{name: "conf_wasi", stdout: []diff{
		// Write access on a read-only mount: EROFS names the cause; wazero
		// says ENOSYS, which programs read as "not implemented here".
		{"ro open write: errno 52", "ro open write: errno 69"},
		{"ro create: errno 52", "ro create: errno 69"},
		// O_TRUNC on a read-only mount: wazero truncates the file.
		{"ro trunc: ok", "ro trunc: errno 69"},
	}, tree: []diff{
		{plain: `ro/ro.txt -rw-r--r-- ""`},
		{ward: `ro/ro.txt -rw-r--r-- "read-only\n"`},
	}},
}

//go:build linux

package confine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmward/wasmward/internal/fixture"
)

// guestTree is the host layout fs_escape expects: see the comment at the top
// of internal/fixture/src/c/fs_escape.c.
type guestTree struct {
	tree
	ro string
}

func newGuestTree(t *testing.T) guestTree {
	t.Helper()
	base := t.TempDir()
	g := guestTree{tree: tree{
		base:    base,
		mount:   filepath.Join(base, "mount"),
		outside: filepath.Join(base, "outside"),
		token:   randomToken(t),
		entries: 3,
	}, ro: filepath.Join(base, "ro")}
	g.secret = filepath.Join(g.outside, "secret.txt")
	must(t, os.MkdirAll(filepath.Join(g.mount, "sub"), 0o755))
	must(t, os.MkdirAll(g.outside, 0o755))
	must(t, os.MkdirAll(g.ro, 0o755))
	must(t, os.WriteFile(g.secret, []byte(g.token), 0o644))
	must(t, os.WriteFile(filepath.Join(g.mount, "file.txt"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(g.ro, "ro.txt"), []byte("read-only"), 0o644))
	must(t, os.Symlink("../outside", filepath.Join(g.mount, "inner")))
	must(t, os.Symlink(g.outside, filepath.Join(g.mount, "abs")))
	return g
}

// runEscape runs fs_escape with rw mounted at /data and ro at /ro under plain
// wazero and returns its stdout.
func runEscape(t *testing.T, fsc wazero.FSConfig, hostOutside string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithFSConfig(fsc).
		WithArgs("fs_escape", "/data", "/ro", hostOutside).
		WithStdout(&stdout).
		WithStderr(&stderr)
	mod, err := r.InstantiateWithConfig(ctx, fixture.Bytes(t, "fs_escape"), cfg)
	if err != nil {
		t.Fatalf("run fs_escape: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	_ = mod.Close(ctx)
	out := stdout.String()
	if !strings.HasSuffix(out, "DONE\n") {
		t.Fatalf("fs_escape did not finish:\n%s\nstderr:\n%s", out, stderr.String())
	}
	return out
}

// outcomes parses "KIND name: result" lines into name -> result.
func outcomes(t *testing.T, out, kind string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		rest, ok := strings.CutPrefix(line, kind+" ")
		if !ok {
			continue
		}
		name, res, ok := strings.Cut(rest, ": ")
		if !ok {
			t.Fatalf("malformed line %q", line)
		}
		m[name] = res
	}
	return m
}

// wasi-libc errno values (equal to WASI's).
const (
	wasiEBADF   = 8
	wasiEEXIST  = 20
	wasiENOENT  = 44
	wasiENOTDIR = 54
	wasiEPERM   = 63
	wasiEROFS   = 69
	wasiENOSYS  = 52
	// ENOTCAPABLE: wasi-libc found no mount holding the path, so nothing
	// reached the host.
	wasiENOTCAPABLE = 76
)

// TestGuestEscapes runs the escape fixture against confined mounts: every
// attempt is denied with the expected errno, the controls work, the token
// never reaches the guest and nothing outside changes.
func TestGuestEscapes(t *testing.T) {
	g := newGuestTree(t)
	rw := newFS(t, g.mount, false)
	ro := newFS(t, g.ro, true)
	fsc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(rw, "/data")
	fsc = fsc.(sysfs.FSConfig).WithSysFSMount(ro, "/ro")
	out := runEscape(t, fsc, g.outside)
	t.Logf("fs_escape output:\n%s", out)

	if strings.Contains(out, g.token) {
		t.Fatalf("secret token reached the guest:\n%s", out)
	}
	for name, want := range map[string]string{
		"read_inside":         "READ hello",
		"symlink_inside":      "READ hello",
		"write_inside":        "READ created",
		"mkdir_rename_inside": "READ created",
		"list_inside":         "READ moved.txt,",
		"symlink_dir_inside":  "READ created",
		"read_ro":             "READ read-only",
	} {
		if got := outcomes(t, out, "CONTROL")[name]; got != want {
			t.Errorf("CONTROL %s: %q, want %q", name, got, want)
		}
	}

	// Denials that reach the FS carry its Errno. Names wazero refuses
	// before the FS (".." after cleaning) are EPERM as well.
	want := map[string]int{
		"dotdot":                        wasiEPERM,
		"dotdot_from_subdir":            wasiEPERM,
		"dotdot_many":                   wasiEPERM,
		"preexisting_relative_symlink":  wasiEPERM,
		"preexisting_absolute_symlink":  wasiEPERM,
		"stat_through_relative_symlink": wasiEPERM,
		"list_through_relative_symlink": wasiEPERM,
		"list_through_absolute_symlink": wasiEPERM,
		"created_symlink_sibling":       wasiEPERM,
		"created_symlink_etc":           wasiEPERM,
		"created_symlink_etc_deep":      wasiEPERM,
		"created_symlink_absolute_etc":  wasiEPERM,
		"created_symlink_to_file":       wasiEPERM,
		"created_symlink_from_subdir":   wasiEPERM,
		"created_symlink_absolute_host": wasiEPERM,
		"hardlink_dotdot":               wasiEPERM,
		"hardlink_via_symlink":          wasiEPERM,
		"hardlink_of_symlink":           wasiEPERM,
		"hardlink_absolute_host":        wasiENOTCAPABLE,
		"write_dotdot":                  wasiEPERM,
		"write_via_symlink":             wasiEPERM,
		"truncate_via_symlink":          wasiEPERM,
		"append_via_symlink":            wasiEPERM,
		"rename_out":                    wasiEPERM,
		"rename_in":                     wasiEPERM,
		"mkdir_via_symlink":             wasiEPERM,
		"unlink_via_symlink":            wasiEPERM,
		"ro_write":                      wasiEROFS,
		"ro_rdwr":                       wasiEROFS,
		"ro_create":                     wasiEROFS,
		"ro_trunc":                      wasiEROFS,
		"ro_append":                     wasiEROFS,
		"ro_mkdir":                      wasiEROFS,
		"ro_unlink":                     wasiEROFS,
		"ro_rename":                     wasiEROFS,
		"ro_symlink":                    wasiEROFS,
		"ro_link":                       wasiEROFS,
		"ro_cross_rename_out":           wasiENOSYS, // wazero refuses renames across mounts
		"ro_utimens":                    wasiEROFS,
		"ro_ftruncate":                  wasiEBADF, // a read-only descriptor, as in wazero
		"ro_futimens":                   wasiEBADF,
	}
	got := outcomes(t, out, "ATTEMPT")
	for name, res := range got {
		if !strings.HasPrefix(res, "denied errno=") {
			t.Errorf("ATTEMPT %s: %s", name, res)
			continue
		}
		if w, ok := want[name]; !ok {
			t.Errorf("ATTEMPT %s has no expectation in this test", name)
		} else if res != "denied errno="+strconv.Itoa(w) {
			t.Errorf("ATTEMPT %s: %s, want errno=%d", name, res, w)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("ATTEMPT %s missing from output", name)
		}
	}
	g.checkOutsideIntact(t)
	if b, err := os.ReadFile(filepath.Join(g.ro, "ro.txt")); err != nil || string(b) != "read-only" {
		t.Errorf("ro.txt changed: %q %v", b, err)
	}
	if ents, _ := os.ReadDir(g.ro); len(ents) != 1 {
		t.Errorf("ro mount changed: %v", ents)
	}
}

// TestGuestEscapesPlainWazero is the control: the same fixture against
// wazero's own WithDirMount reads the token, so TestGuestEscapes can fail.
// If wazero ever fixes this, the expectation here must be revisited.
func TestGuestEscapesPlainWazero(t *testing.T) {
	g := newGuestTree(t)
	fsc := wazero.NewFSConfig().WithDirMount(g.mount, "/data").WithReadOnlyDirMount(g.ro, "/ro")
	out := runEscape(t, fsc, g.outside)
	res := outcomes(t, out, "ATTEMPT")
	for _, name := range []string{"preexisting_relative_symlink", "preexisting_absolute_symlink", "created_symlink_sibling", "hardlink_via_symlink"} {
		if res[name] != "READ "+g.token {
			t.Errorf("plain wazero %s: %q, expected the escape to succeed", name, res[name])
		}
	}
	if res["write_via_symlink"] != "WROTE" {
		t.Errorf("plain wazero write_via_symlink: %q, expected the escape to succeed", res["write_via_symlink"])
	}
	if t.Failed() {
		t.Logf("fs_escape output under plain wazero:\n%s", out)
	}
}

var _ experimentalsys.FS = (*FS)(nil)

//go:build linux

package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFullTmpfs runs the log on a real, small, full file system: a 256 KiB
// tmpfs mounted in a private mount namespace (unshare -Urm, no root
// needed where user namespaces are allowed). It is skipped, loudly, where
// that mount is not permitted; TestWriteFailure covers the same paths with
// an injected ENOSPC.
func TestFullTmpfs(t *testing.T) {
	if os.Getenv("WASMWARD_AUDIT_TMPFS") == "" {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("SKIPPED: no unshare(1); the full-disk test on a real tmpfs did not run")
		}
		exe, _ := os.Executable()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, unshare, "-Urm", exe, "-test.run=^TestFullTmpfs$", "-test.v")
		cmd.Env = append(os.Environ(), "WASMWARD_AUDIT_TMPFS="+t.TempDir())
		out, err := cmd.CombinedOutput()
		switch {
		case strings.Contains(string(out), "MOUNT-REFUSED"), err != nil && !strings.Contains(string(out), "--- "):
			t.Skipf("SKIPPED: cannot mount a tmpfs here (%v); the full-disk test on a real tmpfs did not run:\n%s", err, out)
		case err != nil:
			t.Fatalf("in the mount namespace: %v\n%s", err, out)
		case !strings.Contains(string(out), "--- PASS: TestFullTmpfs"):
			t.Fatalf("no result from the mount namespace:\n%s", out)
		}
		t.Logf("in the mount namespace:\n%s", out)
		return
	}

	dir := os.Getenv("WASMWARD_AUDIT_TMPFS")
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		fmt.Println("MOUNT-REFUSED:", err)
		t.Skip(err)
	}
	defer syscall.Unmount(dir, 0)
	path := filepath.Join(dir, "audit.jsonl")
	l, err := OpenOptions(path, Options{OnFailure: FailClosed})
	if err != nil {
		t.Fatal(err)
	}
	// Fill the disk to within a few records.
	filler := filepath.Join(dir, "filler")
	f, _ := os.Create(filler)
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	os.Truncate(filler, mustSize(t, filler)-16384)

	ctx := context.Background()
	written := 0
	for i := 0; i < 200 && l.Available() == nil; i++ {
		l.Append(Event{Type: TypeViolation, Route: "/r", Detail: fmt.Sprintf("event %d %s", i, strings.Repeat("z", 200))})
		if l.Sync(ctx) == nil {
			written = i + 1
		}
	}
	if !errors.Is(l.Available(), syscall.ENOSPC) {
		t.Fatalf("after %d records on a full tmpfs, Available = %v", written, l.Available())
	}
	t.Logf("disk full after %d records: %v", written, l.Available())
	recs := records(t, path) // fails on a partial record
	if len(recs) != written {
		t.Errorf("%d records on disk, %d synced", len(recs), written)
	}
	verifyPath(t, path)

	os.Remove(filler)
	waitFor(t, "writing to resume", func() bool { return l.Err() == nil })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s := verifyPath(t, path); s.Records != written+1 || l.Stats().Lost != 0 {
		t.Errorf("after space came back: %+v, stats %+v; want %d records, none lost", s, l.Stats(), written+1)
	}
}

func mustSize(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

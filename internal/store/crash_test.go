package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Crash consistency: a real child process (this test binary, re-executed)
// deploys a new version of a route the way the deploy machinery does (blob
// first, then the record and its references in one Update) and is killed
// with SIGKILL at an injected point; the parent then reopens the store, as
// a restarted gateway would, and checks it.
//
// The injection is Options.hook, an unexported field: only code in this
// package can set it, and only crashChild (a test, run solely when the
// environment variable below is set for the child) does. A production
// build has no way to reach it.
const crashEnv = "WASMWARD_STORE_CRASH_CHILD"

// route is the record a deploy writes.
type route struct {
	Active   Digest `json:"active"`
	Previous Digest `json:"previous,omitempty"`
	Version  int    `json:"version"`
}

// version returns the module bytes of version n (size bytes, distinct).
func version(n, size int) []byte {
	b := make([]byte, size)
	copy(b, fmt.Sprintf("\x00asm\x01\x00\x00\x00version %d;", n))
	for i := 32; i < size; i++ {
		b[i] = byte(i*7 + n)
	}
	return b
}

// deploy makes version n of module bytes b the active one of route "api",
// keeping the current one as the rollback target.
func deploy(ctx context.Context, s *Store, n int, b []byte) error {
	return s.Update(ctx, func(tx *Tx) error {
		d, err := tx.PutBlob(b)
		if err != nil {
			return err
		}
		var cur route
		if err := tx.GetJSON("routes", "api", &cur); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		next := route{Active: d, Previous: cur.Active, Version: n}
		if err := tx.PutJSON("routes", "api", next); err != nil {
			return err
		}
		if err := tx.SetRefs("route/api/active", d); err != nil {
			return err
		}
		if cur.Active != "" {
			return tx.SetRefs("route/api/previous", cur.Active)
		}
		return nil
	})
}

// TestCrashChild is the child's side; it does nothing unless run by
// TestCrashConsistency. Mode "point:NAME" deploys version 2 and dies at
// NAME; mode "loop:SIZE:N" deploys versions N, N+1, ... printing each commit
// until killed.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(crashEnv)
	if mode == "" {
		t.Skip("run by TestCrashConsistency only")
	}
	dir := os.Getenv(crashEnv + "_DIR")
	ctx := context.Background()
	kind, arg, _ := strings.Cut(mode, ":")
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	if kind == "point" {
		s.opts.hook = func(p string) {
			if p == arg {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute) // the signal is delivered first
			}
		}
	}
	switch kind {
	case "point":
		err = deploy(ctx, s, 2, version(2, 64<<10))
	case "loop":
		sz, from, _ := strings.Cut(arg, ":")
		size, _ := strconv.Atoi(sz)
		start, _ := strconv.Atoi(from)
		fmt.Println("ready")
		for n := start; err == nil; n++ {
			if err = deploy(ctx, s, n, version(n, size)); err == nil {
				fmt.Println("committed", n)
			}
		}
	}
	fmt.Println("error:", err)
	os.Exit(3)
}

func startChild(t *testing.T, dir, mode string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+mode, crashEnv+"_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}

// afterRestart reopens the store and checks it is consistent and that the
// route's active version is want (the previous one wantPrev), with both
// blobs intact.
func afterRestart(t *testing.T, dir string, want, wantPrev int) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen after the crash: %v", err)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("store inconsistent after the crash: %v %v", probs, err)
	}
	var r route
	if err := s.View(ctx, func(tx *Tx) error { return tx.GetJSON("routes", "api", &r) }); err != nil {
		t.Fatal(err)
	}
	if r.Version != want {
		t.Fatalf("serving version %d after the crash, want %d", r.Version, want)
	}
	check := func(d Digest, n int) {
		t.Helper()
		b, err := s.Blob(ctx, d)
		if err != nil {
			t.Fatalf("version %d's blob: %v", n, err)
		}
		if !strings.HasPrefix(string(b[8:]), fmt.Sprintf("version %d;", n)) {
			t.Fatalf("blob %s holds %q, not version %d", d, b[8:24], n)
		}
	}
	check(r.Active, want)
	if wantPrev > 0 {
		check(r.Previous, wantPrev)
	}
	// GC of everything unreferenced (grace 0) keeps both; the store stays
	// consistent.
	if _, err := s.GC(ctx, GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("store inconsistent after GC: %v %v", probs, err)
	}
	check(r.Active, want)
	if infos, _ := s.List(ctx, ListOptions{}); len(infos) != 1+min(wantPrev, 1) {
		t.Fatalf("after GC the store holds %d blobs, want %d: %+v", len(infos), 1+min(wantPrev, 1), infos)
	}
}

func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx := context.Background()
	tests := []struct {
		point          string
		want, wantPrev int // the version serving after restart, and its rollback target
	}{
		{"blob-write", 1, 0},      // before the new blob's temporary file exists
		{"blob-written", 1, 0},    // the new blob renamed into place, nothing recorded
		{"state-commit", 1, 0},    // record and references written in the transaction, not committed
		{"state-committed", 2, 1}, // committed: the new version serves, the old is the rollback target
	}
	for _, tt := range tests {
		t.Run(tt.point, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := deploy(ctx, s, 1, version(1, 64<<10)); err != nil {
				t.Fatal(err)
			}
			cmd, out := startChild(t, dir, "point:"+tt.point)
			var lines []string
			for out.Scan() {
				lines = append(lines, out.Text())
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v %q", tt.point, err, lines)
			}
			afterRestart(t, dir, tt.want, tt.wantPrev)
		})
	}

	// Kills at random instants of a stream of deploys of 1 MiB modules land
	// inside blob writes and bbolt commits too; whatever the instant, the
	// serving version after restart is the last one committed (or the one
	// whose commit finished just before its "committed" line was printed).
	t.Run("random instants", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := deploy(ctx, s, 1, version(1, 1<<20)); err != nil {
			t.Fatal(err)
		}
		last := 1
		for round := range 6 {
			cmd, out := startChild(t, dir, fmt.Sprintf("loop:%d:%d", 1<<20, last+1))
			if !out.Scan() || out.Text() != "ready" {
				t.Fatalf("child did not start: %q", out.Text())
			}
			committed := make(chan int, 1024)
			go func() {
				defer close(committed)
				for out.Scan() {
					if n, ok := strings.CutPrefix(out.Text(), "committed "); ok {
						v, _ := strconv.Atoi(n)
						committed <- v
					}
				}
			}()
			time.Sleep(time.Duration(20+rand.IntN(150)) * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			seen := 0
			for v := range committed {
				seen = v
			}
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var r route
			if err := s.View(ctx, func(tx *Tx) error { return tx.GetJSON("routes", "api", &r) }); err != nil {
				t.Fatal(err)
			}
			switch {
			case seen == 0 && (r.Version == last || r.Version == last+1):
			case seen > 0 && (r.Version == seen || r.Version == seen+1):
			default:
				t.Fatalf("round %d: serving version %d; the child last reported committing %d (before: %d)", round, r.Version, seen, last)
			}
			t.Logf("round %d: killed after %d commits; serving version %d", round, max(seen-last, 0), r.Version)
			afterRestart(t, dir, r.Version, r.Version-1)
			last = r.Version
		}
	})
}

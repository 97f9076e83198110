//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/sandbox"
)

// proc is how a child wasmward ended.
type proc struct {
	code    int
	stderr  string
	elapsed time.Duration
	maxRSS  int64 // bytes
	report  *sandbox.Report
}

// Stream modes of a child's stdout or stderr.
const (
	drained   = iota // read by the test
	undrained        // a pipe nobody reads (its read end stays open)
)

// runChild runs wasmward with args plus --report, stdout and stderr as
// given, and kills it if it outlives limit.
func runChild(t *testing.T, stdout, stderr int, limit time.Duration, args ...string) proc {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary re-executed as wasmward (see TestMain).
	cmd := exec.Command(exe, append([]string{"run", "--report", report}, args...)...)
	cmd.Env = append(os.Environ(), "WASMWARD_TEST_CLI=1")
	var errb bytes.Buffer
	var keep []*os.File
	stream := func(mode int, buf *bytes.Buffer) io.Writer {
		if mode == drained {
			return buf
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, r, w)
		return w
	}
	cmd.Stdout = stream(stdout, &bytes.Buffer{})
	cmd.Stderr = stream(stderr, &errb)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(keep); i += 2 {
		keep[i].Close() // the child holds the write ends; the read ends stay open, unread
	}
	kill := time.AfterFunc(limit, func() { _ = cmd.Process.Kill() })
	_ = cmd.Wait()
	p := proc{elapsed: time.Since(start), code: cmd.ProcessState.ExitCode(), stderr: errb.String()}
	kill.Stop()
	for i := 0; i < len(keep); i += 2 {
		keep[i].Close()
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.maxRSS = ru.Maxrss << 10
	}
	if b, err := os.ReadFile(report); err == nil {
		p.report = &sandbox.Report{}
		if err := json.Unmarshal(b, p.report); err != nil {
			t.Fatalf("report: %v\n%s", err, b)
		}
	}
	return p
}

// exitGrace is what `wasmward run` promises past the deadline; startSlack
// covers the child's start and the compilation of these small modules on a
// loaded machine, before the run's deadline starts.
const (
	exitGrace  = time.Second
	startSlack = 500 * time.Millisecond
)

// TestRunExitsByDeadline: whatever the guest or the pipes do, the process
// exits within the deadline + 1 s with 137, a one-line message (when its
// stderr can take one) and a timeout report. Before: random_get and
// poll_oneoff loops were charged 2 fuel per call and checked the deadline
// every ~75k calls (the process ran on for minutes, blocked in
// Module.Close); a stdout pipe nobody drains held the process until the
// reader exited, then SIGPIPE (141); a deadline during the setup of a
// large memory was "internal error" (1) with no report.
func TestRunExitsByDeadline(t *testing.T) {
	for _, tc := range []struct {
		name           string
		timeout        time.Duration
		stdout, stderr int
		args           []string
	}{
		{"random_get 64MiB a call", time.Second, drained, drained, []string{fixture.Path(t, "lim_random")}},
		{"random_get 256KiB a call", time.Second, drained, drained, []string{fixture.Path(t, "lim_random"), "--invoke", "small"}},
		{"poll_oneoff 1M subscriptions", time.Second, drained, drained, []string{fixture.Path(t, "lim_poll")}},
		{"stdout to a pipe nobody drains", time.Second, undrained, drained, []string{fixture.Path(t, "sb_flood")}},
		{"stdout and stderr to pipes nobody drains", time.Second, undrained, undrained, []string{fixture.Path(t, "sb_flood")}},
		{"deadline while a 128MiB memory is set up", 300 * time.Millisecond, drained, drained, []string{fixture.Path(t, "lim_bigmem")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := runChild(t, tc.stdout, tc.stderr, 60*time.Second, append([]string{"--timeout", tc.timeout.String()}, tc.args...)...)
			t.Logf("exit %d after %v: %q", p.code, p.elapsed, p.stderr)
			if p.code != exitViolated {
				t.Errorf("exit %d, want %d; stderr %q", p.code, exitViolated, p.stderr)
			}
			if limit := tc.timeout + exitGrace + startSlack; p.elapsed > limit {
				t.Errorf("the process exited after %v, want at most %v", p.elapsed, limit)
			}
			if p.report == nil || p.report.Outcome != sandbox.OutcomeViolation || p.report.Violation == nil ||
				p.report.Violation.Kind != sandbox.KindTimeout {
				t.Errorf("report %+v", p.report)
			}
			if tc.stderr == drained && (strings.Count(p.stderr, "\n") != 1 || !strings.HasPrefix(p.stderr, "wasmward: guest stopped: timeout: ")) {
				t.Errorf("stderr %q, want one line", p.stderr)
			}
		})
	}
}

// TestRunHostMemory: host memory for a guest stays within its cap plus a
// small constant. Growing memory a page at a time to a 512 MiB cap took
// about twice the cap (a doubled copy while the old buffer was alive);
// twenty tables grown by 16M elements each were not counted at all (2.6 GB
// of RSS under the 128 MiB default, exit 0, peak_memory_bytes 0).
func TestRunHostMemory(t *testing.T) {
	const baseline = 100 << 20 // the process itself: Go runtime, wazero, compiled code
	for _, tc := range []struct {
		name     string
		args     []string
		cap      int64
		code     int
		kind     sandbox.Kind
		peak     uint64 // peak_memory_bytes; 0: not checked
		outcome  sandbox.Outcome
		detailIn string
	}{
		{"memory grown a page at a time", []string{"--memory", "512MiB", fixture.Path(t, "adv_growfill")}, 512 << 20,
			exitViolated, sandbox.KindMemoryLimit, 512 << 20, sandbox.OutcomeViolation, "memory.grow"},
		{"twenty tables grown by 16M elements", []string{fixture.Path(t, "lim_tablegrow")}, 128 << 20,
			exitViolated, sandbox.KindMemoryLimit, 16 << 20 * 8, sandbox.OutcomeViolation, "table.grow denied"},
		{"twenty tables declaring 16M elements", []string{fixture.Path(t, "lim_tables")}, 128 << 20,
			exitRefused, sandbox.KindMemoryLimit, 0, sandbox.OutcomeRefused, "the 20 tables declare 2560MiB of host memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := runChild(t, drained, drained, 120*time.Second, append([]string{"--timeout", "60s"}, tc.args...)...)
			t.Logf("exit %d after %v, peak RSS %d MiB: %q", p.code, p.elapsed, p.maxRSS>>20, p.stderr)
			if p.code != tc.code || p.report == nil || p.report.Outcome != tc.outcome || p.report.Violation == nil ||
				p.report.Violation.Kind != tc.kind || !strings.Contains(p.report.Violation.Detail, tc.detailIn) {
				t.Fatalf("exit %d, report %+v", p.code, p.report)
			}
			if tc.peak != 0 && p.report.PeakMemoryBytes != tc.peak {
				t.Errorf("peak_memory_bytes %d, want %d", p.report.PeakMemoryBytes, tc.peak)
			}
			if p.maxRSS > tc.cap+baseline {
				t.Errorf("peak RSS %d MiB, want at most the %d MiB cap + %d MiB", p.maxRSS>>20, tc.cap>>20, baseline>>20)
			}
		})
	}
}

// TestRunStackFrames: frames of 2000 live i64 locals overflow the engine's
// stack long before a large depth bound. The sandbox bounds the depth by
// what the engine's stack holds of the module's largest frame, so the run
// ends with stack_limit (137), not a trap (134); a --stack-depth the
// engine cannot honour for any function is a usage error.
func TestRunStackFrames(t *testing.T) {
	mod := filepath.Join(t.TempDir(), "frames.wasm")
	if err := os.WriteFile(mod, synth.DeepFrames(2000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"default depth", []string{"run", mod}, exitViolated, "stack_limit: call depth exceeded 3131 nested calls: the engine's stack holds no more frames"},
		{"large depth", []string{"run", "--stack-depth", "600000", mod}, exitViolated, "(the policy allows 600000)"},
		{"small depth", []string{"run", "--stack-depth", "100", mod}, exitViolated, "stack_limit: call depth exceeded the limit of 100 nested calls"},
		{"depth the engine cannot honour", []string{"run", "--stack-depth", "3000000", mod}, exitUsage,
			fmt.Sprintf("--stack-depth 3000000: the engine's stack holds at most %d nested calls", sandbox.MaxStackDepth)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", append(tc.args[:1:1], append([]string{"--timeout", "60s"}, tc.args[1:]...)...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}

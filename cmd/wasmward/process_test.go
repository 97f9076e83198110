package main

import (
	"bytes"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestMain lets tests run the real CLI as a separate process: the test
// binary re-executed with WASMWARD_TEST_CLI=1 is wasmward (main), so a
// test can observe what only a process shows (exit status, exit time,
// peak RSS, signals).
func TestMain(m *testing.M) {
	if os.Getenv("WASMWARD_TEST_CLI") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// cliResult is one run of the CLI process.
type cliResult struct {
	code           int
	stdout, stderr string
	wall           time.Duration
	cpu            time.Duration // user + system
	maxRSS         int64         // bytes
}

// runProcess runs the CLI as a child process with args and waits for it.
func runProcess(t testing.TB, args ...string) cliResult {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "WASMWARD_TEST_CLI=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	r := cliResult{wall: time.Since(start), stdout: out.String(), stderr: errb.String()}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run %v: %v", args, err)
		}
	}
	r.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	return r
}

package main

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
)

// TestOutputsToFIFO (issue 9, host files): --report and sbom -o given an
// existing named pipe write into it and leave it a pipe. Before, the atomic
// writer renamed a regular file over it (over /dev/null, as root, for the
// whole machine).
func TestOutputsToFIFO(t *testing.T) {
	tool := fixture.Path(t, "sb_tool")
	tests := []struct {
		name string
		args func(fifo string) []string
		code int
	}{
		{"run --report", func(fifo string) []string { return []string{"run", "--report", fifo, tool, "--", "hello"} }, exitOK},
		{"sbom -o", func(fifo string) []string { return []string{"sbom", "-o", fifo, tool} }, exitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "out")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			got := make(chan []byte, 1)
			go func() {
				f, err := os.Open(fifo)
				if err != nil {
					got <- nil
					return
				}
				b, _ := io.ReadAll(f)
				_ = f.Close()
				got <- b
			}()
			code, _, stderr := runCLI(t, "", tc.args(fifo)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			var b []byte
			select {
			case b = <-got:
			case <-time.After(10 * time.Second):
				t.Fatal("the reader of the pipe got nothing")
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil || len(v) == 0 {
				t.Fatalf("the pipe carried %q, want a JSON document (%v)", b, err)
			}
			if fi, err := os.Lstat(fifo); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
				t.Fatalf("after the write %s is %v (%v), want a named pipe", fifo, fi.Mode(), err)
			}
		})
	}
}

// TestOutputToDevStdout: `-o /dev/stdout` and `--report /dev/stdout` reach
// the process's stdout whether it is a pipe or a file the shell opened
// (`> out`, `>> out`). Before, the writer tried to create a temporary file
// next to /proc/self/fd/1's target ("pipe:[N]") and failed.
func TestOutputToDevStdout(t *testing.T) {
	tool := fixture.Path(t, "sb_tool")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"sbom", "-o", "/dev/stdout", tool}, {"run", "--report", "/dev/stdout", tool, "--", "exit", "0"}} {
		// stdout a pipe
		r := runProcess(t, args...)
		var v map[string]any
		if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &v) != nil {
			t.Fatalf("%v to a pipe: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
		// stdout a file opened for appending, as `>> out` does
		out := filepath.Join(t.TempDir(), "out")
		if err := os.WriteFile(out, []byte("kept\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), "WASMWARD_TEST_CLI=1")
		cmd.Stdout = f
		err = cmd.Run()
		_ = f.Close()
		b, _ := os.ReadFile(out)
		if err != nil || !strings.HasPrefix(string(b), "kept\n{") || json.Unmarshal(b[len("kept\n"):], &v) != nil {
			t.Fatalf("%v to a file: %v, file %q", args, err, b)
		}
	}
}

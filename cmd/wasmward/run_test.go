package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/sandbox"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func readReport(t *testing.T, path string) sandbox.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep sandbox.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, b)
	}
	return rep
}

func TestRunCLI(t *testing.T) {
	dir := t.TempDir()
	tool := fixture.Path(t, "sb_tool")
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("limits:\n  timeout: 5s\n  output: 10B\ncapabilities:\n  env: {FROM: policy}\n  stdin: inherit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mountDir := filepath.Join(dir, "m")
	if err := os.MkdirAll(mountDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mountDir, "f.txt"), []byte("mounted"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string
		stderr string // substring of stderr
	}{
		{"hello", "", []string{"run", tool, "--", "hello", "x"}, 0, "hello from wasmward\narg: x\n", ""},
		{"guest exit code", "", []string{"run", tool, "--", "exit", "42"}, 42, "", ""},
		{"guest exit code above 255", "", []string{"run", tool, "--", "exit", "256"}, exitFailure, "", "guest exited with status 256"},
		{"trap", "", []string{"run", fixture.Path(t, "sb_trap")}, exitTrap, "", "wasmward: guest trapped: wasm error: integer divide by zero\n"},
		{"timeout", "", []string{"run", "--timeout", "100ms", fixture.Path(t, "sb_loop")}, exitViolated, "",
			"wasmward: guest stopped: timeout: wall-clock deadline of 100ms exceeded\n"},
		{"fuel", "", []string{"run", "--fuel", "1000", fixture.Path(t, "sb_loop")}, exitViolated, "", "fuel_exhausted: fuel budget of 1000 exhausted"},
		{"stack depth", "", []string{"run", "--stack-depth", "50", fixture.Path(t, "sb_recurse")}, exitViolated, "", "stack_limit"},
		{"memory", "", []string{"run", "--memory", "2MiB", fixture.Path(t, "sb_growbomb")}, exitViolated, "", "memory_limit"},
		{"output", "", []string{"run", "--output", "1KiB", fixture.Path(t, "sb_flood")}, exitViolated, strings.Repeat("A", 1024), "output_limit: stdout exceeded the 1KiB cap"},
		{"declared minimum", "", []string{"run", fixture.Path(t, "sb_minbomb")}, exitRefused, "", "wasmward: module refused: memory_limit: memory 0 declares a minimum"},
		{"disallowed import", "", []string{"run", fixture.Path(t, "sb_import")}, exitRefused, "", "import env.system (func) is not allowed by the policy"},
		{"allow-import still needs a provider", "", []string{"run", "--allow-import", "env.*", fixture.Path(t, "sb_import")}, exitRefused, "", "no host provides it"},
		{"not a module", "", []string{"run", pol}, exitRefused, "", "invalid_module"},
		{"invoke", "", []string{"run", fixture.Path(t, "sb_invoke"), "--invoke", "add", "--", "40", "2"}, 0, "42\n", ""},
		{"invoke negative", "", []string{"run", fixture.Path(t, "sb_invoke"), "--invoke", "add", "--", "-40", "2"}, 0, "-38\n", ""},
		{"invoke two results", "", []string{"run", fixture.Path(t, "sb_invoke"), "--invoke", "pair"}, 0, "-1\n42\n", ""},
		{"invoke float", "", []string{"run", fixture.Path(t, "sb_invoke"), "--invoke", "half", "--", "3"}, 0, "1.5\n", ""},
		{"invoke timeout", "", []string{"run", "--timeout", "100ms", fixture.Path(t, "sb_invoke"), "--invoke", "spin"}, exitViolated, "", "timeout"},
		{"invoke missing", "", []string{"run", fixture.Path(t, "sb_invoke"), "--invoke", "nope"}, exitUsage, "", `exports no function "nope"`},
		{"invoke arity", "", []string{"run", fixture.Path(t, "sb_invoke"), "--invoke", "add", "--", "1"}, exitUsage, "", "takes 2 arguments, got 1"},
		{"invoke bad number", "", []string{"run", fixture.Path(t, "sb_invoke"), "--invoke", "add", "--", "1", "x"}, exitUsage, "", `argument 2: invalid i32 "x"`},
		{"no _start", "", []string{"run", fixture.Path(t, "sb_invoke")}, exitUsage, "", "no _start"},
		{"missing module", "", []string{"run", filepath.Join(dir, "nope.wasm")}, exitUsage, "", "read module:"},
		{"no module", "", []string{"run"}, exitUsage, "", "requires at least 1 arg"},
		{"bad memory", "", []string{"run", "--memory", "lots", tool}, exitUsage, "", `--memory: invalid size "lots"`},
		{"bad timeout", "", []string{"run", "--timeout", "soon", tool}, exitUsage, "", "--timeout: invalid duration"},
		{"bad dir", "", []string{"run", "--dir", "nocolon", tool}, exitUsage, "", "--dir: invalid mount"},
		{"bad env", "", []string{"run", "--env", "NOEQUALS", tool}, exitUsage, "", "--env \"NOEQUALS\": want K=V"},
		{"missing mount", "", []string{"run", "--dir", filepath.Join(dir, "missing") + ":/x", tool}, exitUsage, "", "mount"},
		{"bad policy", "", []string{"run", "--policy", filepath.Join(dir, "nope.yaml"), tool}, exitUsage, "", "read policy"},
		{"policy env, stdin and output cap", "abcdefghijklmnop", []string{"run", "--policy", pol, tool, "--", "stdin"}, exitViolated, "abcdefghij", "output_limit: stdout exceeded the 10B cap"},
		{"flags override the policy", "", []string{"run", "--policy", pol, "--output", "1KiB", "--env", "FROM=flag", tool, "--", "env", "FROM"}, 0, "flag\n", ""},
		{"policy env", "", []string{"run", "--policy", pol, tool, "--", "env", "FROM"}, 0, "policy\n", ""},
		{"mount", "", []string{"run", "--dir", mountDir + ":/m:ro", tool, "--", "cat", "/m/f.txt"}, 0, "mounted", ""},
		{"read-only mount", "", []string{"run", "--dir", mountDir + ":/m:ro", tool, "--", "write", "/m/g.txt", "x"}, 4, "", "Read-only file system"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.stdin, tc.args...)
			if code != tc.code || out != tc.stdout || !strings.Contains(errs, tc.stderr) {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d stdout %q stderr containing %q", code, out, errs, tc.code, tc.stdout, tc.stderr)
			}
			if strings.Count(errs, "wasmward:") > 1 || strings.Contains(errs, "goroutine ") {
				t.Errorf("stderr is not one line: %q", errs)
			}
		})
	}
}

func TestRunCLIReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")

	code, _, _ := runCLI(t, "", "run", "--report", path, "--timeout", "100ms", fixture.Path(t, "sb_loop"))
	rep := readReport(t, path)
	if code != exitViolated || rep.Outcome != "violation" || rep.Violation == nil || rep.Violation.Kind != "timeout" ||
		rep.SHA256 != sandbox.SHA256Hex(fixture.Bytes(t, "sb_loop")) || rep.FuelUsed == 0 || rep.DurationMS < 100 ||
		rep.PeakMemoryBytes != 65536 || rep.Module != fixture.Path(t, "sb_loop") {
		t.Errorf("exit %d report %+v", code, rep)
	}

	code, _, _ = runCLI(t, "", "run", "--report", path, fixture.Path(t, "sb_tool"), "--", "hello")
	rep = readReport(t, path)
	if code != 0 || rep.Outcome != "exit" || rep.ExitCode != 0 || rep.Violation != nil || rep.StdoutBytes != 20 ||
		rep.HostCalls["wasi_snapshot_preview1.fd_write"] != 1 || rep.PeakMemoryBytes != 131072 {
		t.Errorf("exit %d report %+v", code, rep)
	}

	code, _, _ = runCLI(t, "", "run", "--report", path, fixture.Path(t, "sb_import"))
	rep = readReport(t, path)
	if code != exitRefused || rep.Outcome != "refused" || rep.Violation == nil || rep.Violation.Kind != "import_denied" ||
		!strings.Contains(rep.Violation.Detail, "env.system") || rep.SHA256 != sandbox.SHA256Hex(fixture.Bytes(t, "sb_import")) {
		t.Errorf("exit %d report %+v", code, rep)
	}

	code, _, _ = runCLI(t, "", "run", "--report", path, fixture.Path(t, "sb_trap"))
	rep = readReport(t, path)
	if code != exitTrap || rep.Outcome != "trap" || rep.Trap != "wasm error: integer divide by zero" {
		t.Errorf("exit %d report %+v", code, rep)
	}

	code, out, _ := runCLI(t, "", "run", "--report", path, fixture.Path(t, "sb_invoke"), "--invoke", "mul", "--", "-3", "4")
	rep = readReport(t, path)
	if code != 0 || out != "-12\n" || len(rep.Results) != 1 || int64(rep.Results[0]) != -12 {
		t.Errorf("exit %d stdout %q report %+v", code, out, rep)
	}

	// The JSON has every field of the contract, null violation included.
	b, _ := os.ReadFile(path)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"module", "sha256", "outcome", "exit_code", "violation", "duration_ms", "peak_memory_bytes",
		"host_calls", "stdout_bytes", "stderr_bytes", "fuel_used", "results"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q: %s", k, b)
		}
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("report directory holds %d entries", len(entries))
	}

	// An unwritable report path is an error, after the run.
	code, _, errs := runCLI(t, "", "run", "--report", filepath.Join(dir, "no", "such", "r.json"), fixture.Path(t, "sb_tool"), "--", "exit", "0")
	if code != exitFailure || !strings.Contains(errs, "write report") {
		t.Errorf("exit %d stderr %q", code, errs)
	}
}

func TestRunExample(t *testing.T) {
	code, out, errs := runCLI(t, "", "run", filepath.Join("..", "..", "examples", "hello.wasm"), "--", "a")
	if code != 0 || out != "hello from wasmward\narg 1: a\n" {
		t.Errorf("exit %d stdout %q stderr %q", code, out, errs)
	}
}

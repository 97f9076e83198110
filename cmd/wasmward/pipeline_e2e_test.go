package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/bench"
	"github.com/wasmward/wasmward/internal/fixture"
)

// reproduce runs a reproduction command the fuzzer printed, with the CLI
// process standing for "wasmward", and returns its exit status and output.
func reproduce(t *testing.T, repro string) (int, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(repro, "wasmward run ") {
		t.Fatalf("reproduction command %q does not start with wasmward run", repro)
	}
	sh := exec.Command("sh", "-c", `"$WW"`+strings.TrimPrefix(repro, "wasmward"))
	sh.Env = append(os.Environ(), "WASMWARD_TEST_CLI=1", "WW="+exe)
	out, _ := sh.CombinedOutput()
	return sh.ProcessState.ExitCode(), string(out)
}

// TestFuzzCLITargets runs `wasmward fuzz` as a process on fz_cmp with the
// stdin and invoke:NAME targets: exit 1 with exactly one finding, the
// report's lines, the crash files (the minimised input, its .txt), and a
// reproduction command that, run by the shell, traps (exit 134) the same
// way. A module without bugs exits 0 and writes no crash directory.
func TestFuzzCLITargets(t *testing.T) {
	module := fixture.Path(t, "fz_cmp")
	tests := []struct {
		name, target, execs string
		ext, input          string // the crash input file's extension and bytes
		site, repro         string // "at function ..." and the reproduction command, with DIR and MODULE
	}{
		{"stdin", "stdin", "1000", ".bin", "WARD\x01#Eg\x89\xab\xcd\xef", "function 22 offset 0x377a",
			"wasmward run --stdin inherit MODULE < DIR/crashes/FILE"},
		{"invoke", "invoke:check", "400", ".args", "", "function 23 offset 0x3927",
			"wasmward run --invoke check MODULE -- 6287397006809825262 324478056"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "corpus")
			r := runProcess(t, "fuzz", "--target", tt.target, "--executions", tt.execs, "--seed", "1", "-j", "2", "--corpus", dir, module)
			if r.code != exitFailure {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 4 {
				t.Fatalf("stdout has %d lines, want 4:\n%s", len(lines), r.stdout)
			}
			head := regexp.MustCompile(`^` + tt.execs + ` executions in [0-9.]+m?s \([0-9]+/s\), corpus [0-9]+, [0-9]+ features of 992 sites, 1 finding\(s\)$`)
			if !head.MatchString(lines[0]) {
				t.Errorf("summary line %q", lines[0])
			}
			if !regexp.MustCompile(`^trap/func[0-9]+\+0x[0-9a-f]+ \([0-9]+ hits\): wasm error: out of bounds memory access$`).MatchString(lines[1]) {
				t.Errorf("finding line %q", lines[1])
			}
			crashes, _ := filepath.Glob(filepath.Join(dir, "crashes", "trap-*"+tt.ext))
			if len(crashes) != 1 {
				t.Fatalf("crash inputs %v, want one", crashes)
			}
			if want := "  at " + tt.site + "; input " + crashes[0]; lines[2] != want {
				t.Errorf("site line %q, want %q", lines[2], want)
			}
			repro := strings.NewReplacer("MODULE", module, "DIR", dir, "FILE", filepath.Base(crashes[0])).Replace(tt.repro)
			if lines[3] != "  reproduce: "+repro {
				t.Errorf("reproduce line %q, want %q", lines[3], "  reproduce: "+repro)
			}
			in, err := os.ReadFile(crashes[0])
			if err != nil {
				t.Fatal(err)
			}
			if tt.input != "" && string(in) != tt.input {
				t.Errorf("crash input %+q, want %+q", in, tt.input)
			}
			txt, err := os.ReadFile(strings.TrimSuffix(crashes[0], tt.ext) + ".txt")
			if err != nil || !strings.Contains(string(txt), "\nreproduce: "+repro+"\n") || !strings.HasPrefix(string(txt), "finding: trap\n") {
				t.Errorf("crash report: %v\n%s", err, txt)
			}
			code, out := reproduce(t, repro)
			if code != exitTrap || !strings.Contains(out, "out of bounds memory access") {
				t.Fatalf("reproduction %q: exit %d (want %d, a trap)\n%s", repro, code, exitTrap, out)
			}
		})
	}
	t.Run("nothing found", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "corpus")
		r := runProcess(t, "fuzz", "--target", "stdin", "--executions", "64", "--seed", "1", "--corpus", dir, loopModule(t, 100))
		if r.code != 0 || !strings.HasPrefix(r.stdout, "64 executions in ") || !strings.HasSuffix(r.stdout, ", 0 finding(s)\n") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "crashes")); !os.IsNotExist(err) {
			t.Errorf("crashes directory: %v, want none", err)
		}
	})
}

// TestBenchInvoke runs `wasmward bench --invoke NAME -- args` as a process:
// the JSON result's sample counts, fuel and peak memory equal on every
// iteration and equal to what `wasmward run --invoke` reports for the same
// call; a trapping call exits 1 naming the warm-up
// iteration, and a workload the module cannot run (no such export, wrong
// arguments) is a usage error.
func TestBenchInvoke(t *testing.T) {
	module := fixture.Path(t, "fz_cmp")
	r := runProcess(t, "bench", "--invoke", "check", "--iterations", "12", "--warmup", "2", "--compile-samples", "1", "--json", module, "--", "5", "7")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if res.Total.N != 12 || res.Run.N != 12 || res.Instantiate.N != 12 || res.Compile.N != 1 || res.Fuel.N != 12 {
		t.Errorf("samples: total %d run %d instantiate %d compile %d fuel %d", res.Total.N, res.Run.N, res.Instantiate.N, res.Compile.N, res.Fuel.N)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	if rr := runProcess(t, "run", "--invoke", "check", "--report", report, module, "--", "5", "7"); rr.code != 0 || rr.stdout != "2\n" {
		t.Fatalf("run --invoke: exit %d stdout %q stderr %s", rr.code, rr.stdout, rr.stderr)
	}
	var rep struct {
		FuelUsed   uint64 `json:"fuel_used"`
		PeakMemory uint64 `json:"peak_memory_bytes"`
	}
	data, _ := os.ReadFile(report)
	if err := json.Unmarshal(data, &rep); err != nil || rep.FuelUsed == 0 {
		t.Fatalf("run report: %v %s", err, data)
	}
	if res.Fuel.Min != res.Fuel.Max || res.Fuel.Min != float64(rep.FuelUsed) {
		t.Errorf("bench fuel min %v max %v, run reports %d", res.Fuel.Min, res.Fuel.Max, rep.FuelUsed)
	}
	if res.PeakMemory.Min != float64(rep.PeakMemory) || res.PeakMemory.Max != float64(rep.PeakMemory) || rep.PeakMemory < 131072 {
		t.Errorf("peak memory %v..%v, run reports %d (at least the module's 2 pages)", res.PeakMemory.Min, res.PeakMemory.Max, rep.PeakMemory)
	}
	if res.SHA256 == "" || !(res.Total.Min <= res.Total.Median && res.Total.Median <= res.Total.Max) {
		t.Errorf("result %+v", res)
	}

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a prefix
		stderr string // the whole of it
	}{
		{"text", []string{"--invoke", "check", "--iterations", "3", "--compile-samples", "1", module, "--", "5", "7"}, 0,
			module + " (sha256 ", ""},
		{"trap", []string{"--invoke", "check", "--iterations", "3", module, "--", "6287397006809825262", "324478056"}, exitFailure, "",
			"wasmward: bench: warm-up iteration 1: the module trapped: wasm error: out of bounds memory access (a benchmark measures successful runs)\n"},
		{"no such export", []string{"--invoke", "nope", "--iterations", "3", module, "--", "1"}, exitUsage, "",
			"wasmward: bench: invalid workload: the module exports no function \"nope\"\n"},
		{"argument count", []string{"--invoke", "check", "--iterations", "3", module, "--", "1"}, exitUsage, "",
			"wasmward: bench: invalid workload: check takes 2 arguments, got 1\n"},
		{"bad argument", []string{"--invoke", "check", "--iterations", "3", module, "--", "1", "x"}, exitUsage, "",
			"wasmward: bench: invalid workload: argument 2: invalid i32 \"x\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProcess(t, append([]string{"bench"}, tt.args...)...)
			if r.code != tt.code || !strings.HasPrefix(r.stdout, tt.stdout) || r.stderr != tt.stderr {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %q\nwant stderr %q", r.code, tt.code, r.stdout, r.stderr, tt.stderr)
			}
			if tt.name == "text" {
				for _, row := range []string{"compile (ms)", "instantiate (ms)", "run (ms)", "total (ms)", "fuel (units)", "peak memory (KiB)"} {
					if !regexp.MustCompile(`(?m)^ *` + regexp.QuoteMeta(row) + ` +(1|3) `).MatchString(r.stdout) {
						t.Errorf("no %q row with its sample count:\n%s", row, r.stdout)
					}
				}
				if !regexp.MustCompile(fmt.Sprintf(`(?m)^ *fuel \(units\) +3 +%d +%d `, rep.FuelUsed, rep.FuelUsed)).MatchString(r.stdout) {
					t.Errorf("fuel row does not start with %d:\n%s", rep.FuelUsed, r.stdout)
				}
			}
		})
	}
}

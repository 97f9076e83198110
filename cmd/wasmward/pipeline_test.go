package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/bench"
	"github.com/wasmward/wasmward/internal/corpus"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/internal/wasm"
)

// loopModule is a command whose _start counts to n: its run time grows
// with n.
func loopModule(t *testing.T, n int64) string {
	body := []byte{0x03, 0x40, 0x20, 0, 0x41, 1, 0x6a, 0x22, 0, 0x41}
	body = wasm.AppendS64(body, n)
	body = append(body, 0x49, 0x0d, 0, 0x0b, 0x0b)
	p := filepath.Join(t.TempDir(), "loop.wasm")
	if err := os.WriteFile(p, synth.Module(1, body, synth.Locals(1, 0x7f)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeRequest(t *testing.T, r *wagireq.Request) string {
	p := filepath.Join(t.TempDir(), "req.http")
	if err := os.WriteFile(p, r.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBenchCLI runs bench as a process on a WAGI handler and a command.
func TestBenchCLI(t *testing.T) {
	req := writeRequest(t, &wagireq.Request{Method: "POST", Path: "/x", Body: []byte("hello")})
	magic := fixture.Path(t, "fz_magic")
	fast, slow := loopModule(t, 1000), loopModule(t, 5_000_000)

	t.Run("json", func(t *testing.T) {
		r := runProcess(t, "bench", "--iterations", "30", "--warmup", "2", "--compile-samples", "2", "--request", req, "--json", magic)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var res bench.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if res.Total.N != 30 || res.Compile.N != 2 || res.Instantiate.N != 30 {
			t.Errorf("samples: total %d compile %d instantiate %d", res.Total.N, res.Compile.N, res.Instantiate.N)
		}
		// Fuel is deterministic: the same request costs the same every time.
		if res.Fuel.Min == 0 || res.Fuel.Min != res.Fuel.Max {
			t.Errorf("fuel min %v max %v", res.Fuel.Min, res.Fuel.Max)
		}
		if res.PeakMemory.Min < 65536 || !(res.Total.Min <= res.Total.Median && res.Total.Median <= res.Total.P90 && res.Total.P90 <= res.Total.P99 && res.Total.P99 <= res.Total.Max) {
			t.Errorf("stats out of order: %+v, memory %+v", res.Total, res.PeakMemory)
		}
	})
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{"text", []string{"--iterations", "5", "--compile-samples", "1", "--request", req, magic}, 0, "instantiate (ms)", ""},
		{"slower fails", []string{"--iterations", "15", "--compile-samples", "1", "--compare", fast, "--fail-if-slower", "5%", slow}, 1, "median total time", "slower than"},
		{"faster passes", []string{"--iterations", "15", "--compile-samples", "1", "--compare", slow, "--fail-if-slower", "5%", fast}, 0, "median total time", ""},
		{"fail-if-slower needs compare", []string{"--fail-if-slower", "5%", fast}, 2, "", "needs --compare"},
		{"bad percentage", []string{"--compare", slow, "--fail-if-slower", "five", fast}, 2, "", "invalid percentage"},
		{"missing request", []string{"--request", "/nonexistent.http", fast}, 2, "", "--request"},
		{"trapping module", []string{"--iterations", "2", "--request", writeRequest(t, &wagireq.Request{Method: "GET", Path: "/", Body: []byte("WARD")}), magic}, 1, "", "trapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProcess(t, append([]string{"bench"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stdout, tt.wantOut) || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
		})
	}
}

// TestFuzzCLI fuzzes fz_magic from a corpus one byte short of the magic,
// and replays the finding with the reproduction command it printed.
func TestFuzzCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "corpus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seed := (&wagireq.Request{Method: "GET", Path: "/", Body: []byte("WARx")}).Marshal()
	if err := os.WriteFile(filepath.Join(dir, "seed.http"), seed, 0o644); err != nil {
		t.Fatal(err)
	}
	module := fixture.Path(t, "fz_magic")
	r := runProcess(t, "fuzz", "--executions", "3000", "--seed", "5", "-j", "2", "--corpus", dir, module)
	if r.code != 1 || !strings.Contains(r.stdout, "trap/") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var repro string
	for _, l := range strings.Split(r.stdout, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "reproduce: "); ok && strings.Contains(l, ".body") {
			repro = s
		}
	}
	if repro == "" {
		t.Fatalf("no reproduction command:\n%s", r.stdout)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The command names the binary "wasmward": run it as the test binary.
	sh := exec.Command("sh", "-c", strings.Replace(repro, "wasmward", "\"$WW\"", 1))
	sh.Env = append(os.Environ(), "WASMWARD_TEST_CLI=1", "WW="+exe)
	out, err := sh.CombinedOutput()
	if code := sh.ProcessState.ExitCode(); code != exitTrap {
		t.Fatalf("reproduction %q: exit %d (want %d, a trap): %v\n%s", repro, code, exitTrap, err, out)
	}
	crashes, _ := filepath.Glob(filepath.Join(dir, "crashes", "trap-*.txt"))
	if len(crashes) != 1 {
		t.Errorf("crash reports: %v", crashes)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"fuzz", "--target", "http", module}, "unknown target"},
		{[]string{"fuzz", "--duration", "0", module}, "needs a bound"},
		{[]string{"fuzz", "--executions", "10", "--target", "invoke:nope", module}, "exports no function"},
	} {
		r := runProcess(t, tt.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %s", tt.args, r.code, r.stderr)
		}
	}
}

// TestCheckCLI runs the whole pipeline as a process: one SARIF report for
// the scan, the signature check and the fuzzer's findings, validated
// against the SARIF 2.1.0 schema; exit status like scan.
func TestCheckCLI(t *testing.T) {
	dir := t.TempDir()
	corpusDir := filepath.Join(dir, "corpus")
	if err := os.MkdirAll(corpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	seed := (&wagireq.Request{Method: "GET", Path: "/", Body: []byte("WARx")}).Marshal()
	if err := os.WriteFile(filepath.Join(corpusDir, "seed.http"), seed, 0o644); err != nil {
		t.Fatal(err)
	}
	magic := fixture.Path(t, "fz_magic")
	hello := filepath.Join("..", "..", "examples", "hello.wasm")
	if r := runProcess(t, "keygen", "--output-key-prefix", filepath.Join(dir, "ci")); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	trustFile := filepath.Join(dir, "trust.yaml")
	if err := os.WriteFile(trustFile, []byte("keys: [{name: ci, public_key: "+filepath.Join(dir, "ci.pub")+"}]\nrequire_signature: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "hello.signed.wasm")
	if r := runProcess(t, "sign", hello, "--key", filepath.Join(dir, "ci.key"), "--module-name", "hello", "--module-version", "1.0.0", "-o", signed); r.code != 0 {
		t.Fatalf("sign: %s", r.stderr)
	}

	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantRules []string // in the SARIF results
		noRules   []string
	}{
		{"fuzz finds the trap", []string{"--bench", "5", "--fuzz", "5s", "--seed", "5", "--corpus", corpusDir, magic}, 1, []string{"WW811"}, []string{"WW802", "WW801"}},
		{"unsigned refused", []string{"--trust", trustFile, "--target", "stdin", hello}, 1, []string{"WW801"}, nil},
		{"signed passes", []string{"--trust", trustFile, "--target", "stdin", "--bench", "3", signed}, 0, nil, []string{"WW801", "WW802"}},
		{"bench failure", []string{"--policy", writePolicy(t, "limits: {fuel: 1000}\n"), "--target", "stdin", "--bench", "2", hello}, 1, []string{"WW802"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProcess(t, append([]string{"check", "--format", "sarif"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if err := corpus.ValidateSARIF([]byte(r.stdout)); err != nil {
				t.Fatalf("SARIF fails validation: %v", err)
			}
			var doc struct {
				Runs []struct {
					Results []struct {
						RuleID    string `json:"ruleId"`
						Locations []struct {
							LogicalLocations []struct{ Name string } `json:"logicalLocations"`
						} `json:"locations"`
					} `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, res := range doc.Runs[0].Results {
				got[res.RuleID] = true
				if res.RuleID == "WW811" && (len(res.Locations) == 0 || len(res.Locations[0].LogicalLocations) == 0) {
					t.Errorf("WW811 without a function location: %+v", res)
				}
			}
			for _, id := range tt.wantRules {
				if !got[id] {
					t.Errorf("no %s in %v", id, got)
				}
			}
			for _, id := range tt.noRules {
				if got[id] {
					t.Errorf("unexpected %s", id)
				}
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--format", "xml", hello}, "unknown format"},
		{[]string{"check", "/nonexistent.wasm"}, "nonexistent"},
		{[]string{"check", "--target", "nope", hello}, "unknown target"},
	} {
		if r := runProcess(t, tt.args...); r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %s", tt.args, r.code, r.stderr)
		}
	}
}

func writePolicy(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

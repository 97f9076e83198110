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
		{"output", "", []string{"run", "--output-limit", "1KiB", fixture.Path(t, "sb_flood")}, exitViolated, strings.Repeat("A", 1024), "output_limit: stdout exceeded the 1KiB cap"},
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
		{"flags override the policy", "", []string{"run", "--policy", pol, "--output-limit", "1KiB", "--env", "FROM=flag", tool, "--", "env", "FROM"}, 0, "flag\n", ""},
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
		rep.HostCalls["wasi_snapshot_preview1.fd_write"] != 1 || rep.PeakMemoryBytes != 131072+6*8 { // memory + its 6-element table
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

// TestRunTrust drives `run --trust/--attestation/--state` end to end: keys,
// signatures and attestations are made with the CLI itself.
func TestRunTrust(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(p(name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(args ...string) {
		t.Helper()
		if code, out, e := runCLI(t, "", args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, e)
		}
	}
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	t.Setenv("COSIGN_PASSWORD", "")
	must("keygen", "--output-key-prefix", p("ci"))
	must("keygen", "--output-key-prefix", p("other"))
	write("trust.yaml", "keys:\n  - name: ci\n    public_key: ci.pub\ncaller_names: true\n")

	tool := fixture.Path(t, "sb_tool")
	must("sign", tool, "--key", p("ci.key"), "--module-version", "1.0.0", "-o", p("tool.wasm"))
	must("sign", tool, "--key", p("ci.key"), "--module-version", "2.0.0", "-o", p("tool-v2.wasm"))
	must("sign", tool, "--key", p("other.key"), "-o", p("other.wasm"))
	must("sign", fixture.Path(t, "sb_growbomb"), "--key", p("ci.key"), "-o", p("bomb.wasm"))
	must("sign", fixture.Path(t, "sb_loop"), "--key", p("ci.key"), "-o", p("loop.wasm"))
	signed, err := os.ReadFile(p("tool.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), signed...)
	tampered[len(tampered)-1] ^= 1 // inside the signed code, after the signature section
	write("tampered.wasm", string(tampered))

	attest := func(module, name, pol string) string {
		t.Helper()
		write(name+".yaml", pol)
		must("attest", p(module), "--policy", p(name+".yaml"), "--key", p("ci.key"), "-o", p(name+".intoto.json"))
		return p(name + ".intoto.json")
	}
	envAtt := attest("tool.wasm", "env", "capabilities:\n  env: {GREETING: signed}\n  args: [env, GREETING]\n")
	bombAtt := attest("bomb.wasm", "bomb", "limits:\n  memory: 4MiB\n")
	loopAtt := attest("loop.wasm", "loop", "limits:\n  timeout: 5s\n")
	// The publisher's host paths are never used: the operator's are.
	catAtt := attest("tool.wasm", "cat", "capabilities:\n  mounts: [{host: /publisher/data, guest: /m}]\n  args: [cat, /m/f.txt]\n")
	writeAtt := attest("tool.wasm", "write", "capabilities:\n  mounts: [{host: /publisher/data, guest: /m/}]\n  args: [write, /m/g.txt, signed]\n")
	roAtt := attest("tool.wasm", "ro", "capabilities:\n  mounts: [{host: /publisher/data, guest: /m, read_only: true}]\n  args: [write, /m/g.txt, signed]\n")
	stdinAtt := attest("tool.wasm", "stdin", "capabilities:\n  stdin: file:/etc/passwd\n  args: [stdin]\n")

	mnt := p("m")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "f.txt"), []byte("operator data"), 0o644); err != nil {
		t.Fatal(err)
	}
	write("opmount.yaml", "limits:\n  memory: 2MiB\ncapabilities:\n  mounts: [{host: m, guest: /m}]\n")
	write("opmem.yaml", "limits:\n  memory: 2MiB\n")
	write("empty.yaml", "")
	write("openv.yaml", "capabilities:\n  env: {X: y}\n")
	write("noreq.yaml", "keys:\n  - name: ci\n    public_key: ci.pub\nrequire_signature: false\n")
	write("corrupt-state.json", "{\"version\":1,\"modules\":")

	tr := []string{"run", "--trust", p("trust.yaml")}
	args := func(extra ...string) []string { return append(append([]string(nil), tr...), extra...) }
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string // substring
	}{
		{"signed and trusted", args(p("tool.wasm"), "--", "hello"), 0, "hello from wasmward\n", ""},
		{"unsigned", args(tool, "--", "hello"), exitRefused, "", `module refused: signature: unsigned (module "sb_tool")`},
		{"unsigned allowed by require_signature false", []string{"run", "--trust", p("noreq.yaml"), tool, "--", "hello"}, 0, "hello from wasmward\n", ""},
		{"tampered still refused without require_signature", []string{"run", "--trust", p("noreq.yaml"), p("tampered.wasm")}, exitRefused, "", "signature: modified"},
		{"untrusted key", args(p("other.wasm"), "--", "hello"), exitRefused, "", "signature: untrusted"},
		{"tampered byte", args(p("tampered.wasm"), "--", "hello"), exitRefused, "", "signature: modified"},
		{"name flag", args("--name", "", p("tool.wasm")), exitUsage, "", "--name: empty module name"},
		{"attestation without trust", []string{"run", "--attestation", envAtt, p("tool.wasm")}, exitUsage, "", "--attestation needs --trust FILE"},
		{"state without trust", []string{"run", "--state", p("s.json"), p("tool.wasm")}, exitUsage, "", "--state needs --trust FILE"},
		{"allow-downgrade without state", args("--allow-downgrade", p("tool.wasm")), exitUsage, "", "--allow-downgrade needs --state FILE"},
		{"bad trust policy", []string{"run", "--trust", p("env.yaml"), p("tool.wasm")}, exitUsage, "", "unknown key"},
		{"missing attestation", args("--attestation", p("nope.json"), p("tool.wasm")), exitUsage, "", "read attestation"},
		{"corrupt state refuses", args("--state", p("corrupt-state.json"), p("tool.wasm"), "--", "hello"), exitRefused, "", "signature: version-state"},

		{"attested env and args", args("--attestation", envAtt, p("tool.wasm")), 0, "signed\n", ""},
		{"attestation for another binary", args("--attestation", envAtt, "--name", "tool", p("tool-v2.wasm")), exitRefused, "", "(it attests another binary)"},
		{"attestation for another name", args("--attestation", envAtt, "--name", "tool2", p("tool.wasm")), exitRefused, "", `signature: not-allowed (module "tool2"): the module's attestation name is "tool", not "tool2": a signed name cannot be overridden`},
		{"operator env refused", args("--attestation", envAtt, "--env", "GREETING=mine", p("tool.wasm")), exitUsage, "", "--env: with --attestation"},
		{"operator import refused", args("--attestation", envAtt, "--allow-import", "env.*", p("tool.wasm")), exitUsage, "", "--allow-import: with --attestation"},
		{"operator args refused", args("--attestation", envAtt, p("tool.wasm"), "--", "hello"), exitUsage, "", "guest arguments: with --attestation"},
		{"operator policy capabilities refused", args("--attestation", envAtt, "--policy", p("openv.yaml"), p("tool.wasm")), exitUsage, "", "openv.yaml:2: capabilities.env: with an attestation"},

		{"attested memory cap", args("--attestation", bombAtt, p("bomb.wasm")), exitViolated, "", "memory_limit: memory.grow to 4160KiB denied: above the 4MiB per-instance cap"},
		{"operator tightens memory", args("--attestation", bombAtt, "--memory", "2MiB", p("bomb.wasm")), exitViolated, "", "above the 2MiB per-instance cap"},
		{"operator cannot loosen memory", args("--attestation", bombAtt, "--memory", "64MiB", p("bomb.wasm")), exitViolated, "", "above the 4MiB per-instance cap"},
		{"operator policy tightens memory", args("--attestation", bombAtt, "--policy", p("opmem.yaml"), p("bomb.wasm")), exitViolated, "", "above the 2MiB per-instance cap"},
		{"operator policy file without limits lowers nothing", args("--attestation", bombAtt, "--policy", p("empty.yaml"), p("bomb.wasm")), exitViolated, "", "above the 4MiB per-instance cap"},
		{"operator policy mount not granted", args("--attestation", bombAtt, "--policy", p("opmount.yaml"), p("bomb.wasm")), exitRefused, "", "capability_denied: mount /m is not granted"},
		{"operator fuel meters an unmetered attestation", args("--attestation", loopAtt, "--fuel", "1000", p("loop.wasm")), exitViolated, "", "fuel_exhausted: fuel budget of 1000 exhausted"},
		{"operator tightens timeout", args("--attestation", loopAtt, "--timeout", "100ms", p("loop.wasm")), exitViolated, "", "deadline of 100ms exceeded"},

		{"attested mount without operator mount", args("--attestation", catAtt, p("tool.wasm")), exitRefused, "", "capability_denied: the attestation grants mount /m, but the operator gives it no host directory"},
		{"operator mount not granted", args("--attestation", envAtt, "--dir", mnt+":/other", p("tool.wasm")), exitRefused, "", "capability_denied: mount /other is not granted by the attestation"},
		{"attested mount backed by operator dir", args("--attestation", catAtt, "--dir", mnt+":/m", p("tool.wasm")), 0, "operator data", ""},
		{"attested mount from operator policy", args("--attestation", catAtt, "--policy", p("opmount.yaml"), p("tool.wasm")), 0, "operator data", ""},
		{"operator read-only wins", args("--attestation", writeAtt, "--dir", mnt+":/m:ro", p("tool.wasm")), 4, "", "Read-only file system"},
		{"attested read-only wins", args("--attestation", roAtt, "--dir", mnt+":/m", p("tool.wasm")), 4, "", "Read-only file system"},
		{"attested stdin file refused", args("--attestation", stdinAtt, p("tool.wasm")), exitRefused, "", "capability_denied: the attestation grants stdin \"file:/etc/passwd\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", tc.args...)
			if code != tc.code || out != tc.stdout || !strings.Contains(errs, tc.stderr) {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d stdout %q stderr containing %q", code, out, errs, tc.code, tc.stdout, tc.stderr)
			}
			if strings.Count(errs, "wasmward:") > 1 || strings.Contains(errs, "goroutine ") {
				t.Errorf("stderr is not one line: %q", errs)
			}
		})
	}

	// The operator's host directory received the write (rw on both sides).
	if code, _, e := runCLI(t, "", args("--attestation", writeAtt, "--dir", mnt+":/m", p("tool.wasm"))...); code != 0 {
		t.Fatalf("attested write: %d %s", code, e)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "g.txt")); err != nil || string(b) != "signed" {
		t.Fatalf("operator dir after attested write: %q %v", b, err)
	}

	// Rollback: the state keeps the highest version accepted per name.
	state := p("state.json")
	for _, st := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"first version", args("--state", state, "--name", "tool", p("tool-v2.wasm"), "--", "hello"), 0, ""},
		{"downgrade refused", args("--state", state, p("tool.wasm"), "--", "hello"), exitRefused, "signature: rollback (module \"tool\"): version 1.0.0 is older than 2.0.0"},
		{"same version again", args("--state", state, "--name", "tool", p("tool-v2.wasm"), "--", "hello"), 0, ""},
		{"downgrade allowed", args("--state", state, "--allow-downgrade", p("tool.wasm"), "--", "hello"), 0, ""},
		{"downgrade recorded", args("--state", state, p("tool.wasm"), "--", "hello"), 0, ""},
		{"other name is another history", args("--state", state, "--name", "tool2", p("tool.wasm"), "--", "hello"), 0, ""},
	} {
		code, _, e := runCLI(t, "", st.args...)
		if code != st.code || !strings.Contains(e, st.stderr) {
			t.Fatalf("%s: exit %d stderr %q; want %d %q", st.name, code, e, st.code, st.stderr)
		}
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), `"tool": "1.0.0"`) || !strings.Contains(string(b), `"tool2": "1.0.0"`) {
		t.Fatalf("state file: %s %v", b, err)
	}

	// Reports.
	rp := p("report.json")
	code, _, _ := runCLI(t, "", args("--report", rp, tool)...)
	rep := readReport(t, rp)
	if code != exitRefused || rep.Outcome != "refused" || rep.Violation == nil || rep.Violation.Kind != "signature" ||
		!strings.HasPrefix(rep.Violation.Detail, `unsigned (module "sb_tool"): `) || rep.SHA256 != sandbox.SHA256Hex(fixture.Bytes(t, "sb_tool")) {
		t.Errorf("unsigned: exit %d report %+v", code, rep)
	}
	code, _, _ = runCLI(t, "", args("--report", rp, "--attestation", catAtt, p("tool.wasm"))...)
	rep = readReport(t, rp)
	if code != exitRefused || rep.Outcome != "refused" || rep.Violation == nil || rep.Violation.Kind != "capability_denied" ||
		!strings.Contains(rep.Violation.Detail, "mount /m") {
		t.Errorf("capability_denied: exit %d report %+v", code, rep)
	}
	code, _, _ = runCLI(t, "", args("--report", rp, "--attestation", envAtt, p("tool.wasm"))...)
	rep = readReport(t, rp)
	raw, _ := os.ReadFile(rp)
	var withTrust struct {
		Trust struct {
			Name       string   `json:"name"`
			Signed     bool     `json:"signed"`
			Signers    []string `json:"signers"`
			Version    string   `json:"version"`
			AttestedBy []string `json:"attested_by"`
		} `json:"trust"`
	}
	if err := json.Unmarshal(raw, &withTrust); err != nil {
		t.Fatal(err)
	}
	tt := withTrust.Trust
	if code != 0 || rep.Outcome != "exit" || rep.StdoutBytes != 7 || tt.Name != "tool" || !tt.Signed ||
		strings.Join(tt.Signers, ",") != "ci" || tt.Version != "1.0.0" || strings.Join(tt.AttestedBy, ",") != "ci" {
		t.Errorf("attested run: exit %d report %s", code, raw)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wasmward/wasmward/internal/fixture"
)

func scanRunCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestScanCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("capabilities:\n  imports: [\"wasi_snapshot_preview1.*\", \"env.*\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badPol := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badPol, []byte("limits:\n  memroy: 1MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"clean at default threshold", []string{"scan", fixture.Path(t, "scan_start")}, 0, ""},
		{"low reaches --fail-on low", []string{"scan", "--fail-on", "low", fixture.Path(t, "scan_start")}, 1, ""},
		{"high finding", []string{"scan", fixture.Path(t, "scan_imports")}, 1, ""},
		{"policy allows env", []string{"scan", "--policy", pol, fixture.Path(t, "scan_imports")}, 0, ""},
		{"threads refused", []string{"scan", fixture.Path(t, "scan_threads")}, 1, ""},
		{"threads allowed", []string{"scan", "--allow-threads", fixture.Path(t, "scan_threads")}, 0, ""},
		{"any module fails", []string{"scan", fixture.Path(t, "scan_start"), fixture.Path(t, "scan_miner")}, 1, ""},
		{"validate", []string{"scan", "--validate", fixture.Path(t, "scan_invalid")}, 1, ""},
		{"osv", []string{"scan", "--osv", "../../scan/testdata/osv", fixture.Path(t, "sbom_cargo")}, 1, ""},
		{"missing file", []string{"scan", filepath.Join(dir, "nope.wasm")}, 2, "nope.wasm: read module"},
		{"no args", []string{"scan"}, 2, "requires at least 1 arg"},
		{"bad fail-on", []string{"scan", "--fail-on", "severe", fixture.Path(t, "scan_start")}, 2, "--fail-on: unknown severity"},
		{"bad format", []string{"scan", "--format", "xml", fixture.Path(t, "scan_start")}, 2, "--format: unknown format"},
		{"bad policy", []string{"scan", "--policy", badPol, fixture.Path(t, "scan_start")}, 2, "memroy"},
		{"missing osv", []string{"scan", "--osv", filepath.Join(dir, "none"), fixture.Path(t, "scan_start")}, 2, "load OSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := scanRunCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.err) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.err)
			}
			if strings.Count(stderr, "\n") > 1 {
				t.Errorf("stderr is more than one line: %q", stderr)
			}
		})
	}
}

func TestScanCLIFormats(t *testing.T) {
	code, out, _ := scanRunCLI(t, "scan", "--format", "sarif", "--fail-on", "critical", fixture.Path(t, "scan_miner"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
				Level  string `json:"level"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) != 2 || // scan_miner: pool URL, cryptonight_hash
		sarif.Runs[0].Results[0].RuleID != "WW403" || sarif.Runs[0].Results[0].Level != "error" {
		t.Fatalf("sarif = %+v, %v", sarif, err)
	}
	_, out, _ = scanRunCLI(t, "scan", "--format", "json", fixture.Path(t, "scan_exports"))
	if !strings.Contains(out, `"ruleId": "WW501"`) || !strings.Contains(out, `"ruleId": "WW502"`) {
		t.Fatalf("json = %s", out)
	}
}

func TestInspectCLI(t *testing.T) {
	code, out, _ := scanRunCLI(t, "inspect", "--json", fixture.Path(t, "sbom_dep"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var rep struct {
		Memories []struct {
			Min uint64  `json:"min"`
			Max *uint64 `json:"max"`
		} `json:"memories"`
		Imports []struct {
			Module string `json:"module"`
		} `json:"imports"`
		Producers []struct{ Field, Name string } `json:"producers"`
		Largest   []struct {
			Name string `json:"name"`
			Size int    `json:"size"`
		} `json:"largest"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Memories) != 1 || rep.Memories[0].Max != nil || len(rep.Imports) != 1 || rep.Imports[0].Module != "wasi_snapshot_preview1" ||
		len(rep.Producers) != 2 || len(rep.Largest) != 10 || rep.Largest[0].Name == "" || rep.Largest[0].Size < rep.Largest[9].Size {
		t.Fatalf("report = %+v", rep)
	}
	code, out, _ = scanRunCLI(t, "inspect", fixture.Path(t, "scan_threads"))
	if code != 0 || !strings.Contains(out, "features: threads") || !strings.Contains(out, "0: min 1 pages, max 1, shared") {
		t.Fatalf("exit %d, text:\n%s", code, out)
	}
	if code, _, stderr := scanRunCLI(t, "inspect", "/nonexistent.wasm"); code != 2 || !strings.Contains(stderr, "read module") {
		t.Errorf("missing file: exit %d %q", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(bad, []byte("\x00asm\x01\x00\x00\x00\x01\xff"), 0o644)
	if code, _, stderr := scanRunCLI(t, "inspect", bad); code != 1 || !strings.Contains(stderr, "offset") {
		t.Errorf("bad module: exit %d %q", code, stderr)
	}
}

func TestSBOMCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bom.json")
	code, _, stderr := scanRunCLI(t, "sbom", "--osv", "../../sbom/testdata/osv", "-o", out, fixture.Path(t, "sbom_dep"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(f, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.Metadata.Component.Name != "sbom_dep.wasm" || bom.Vulnerabilities == nil || len(*bom.Components) != 3 {
		t.Fatalf("bom = %+v", bom.Metadata.Component)
	}
	code, _, stderr = scanRunCLI(t, "sbom", fixture.Path(t, "sbom_cargo_cycle"))
	if code != 1 || !strings.Contains(stderr, "malformed dependency metadata") || !strings.Contains(stderr, "cycle") {
		t.Errorf("cycle: exit %d %q", code, stderr)
	}
	if code, _, _ := scanRunCLI(t, "sbom", "a", "b"); code != 2 {
		t.Errorf("two args: exit %d", code)
	}
}

package corpus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/corpus"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/sbom"
	"github.com/wasmward/wasmward/scan"
)

// loadCorpus returns the manifest's entries whose files are in the cache,
// skipping the test, loudly, when none is.
func loadCorpus(t *testing.T) []corpus.Entry {
	t.Helper()
	dir, err := corpus.Dir()
	if err != nil {
		t.Fatal(err)
	}
	all, err := corpus.Entries(dir)
	if err != nil {
		t.Fatal(err)
	}
	var have []corpus.Entry
	var missing []string
	for _, e := range all {
		if _, err := os.Stat(e.File); err == nil {
			have = append(have, e)
		} else {
			missing = append(missing, e.Name())
		}
	}
	if len(have) == 0 {
		t.Skipf("CORPUS ABSENT: no corpus module in %s; run %s (needs npm and the Go module proxy) to fetch the %d pinned modules, or set %s",
			dir, corpus.Script, len(all), corpus.EnvDir)
	}
	if len(missing) > 0 {
		t.Logf("WARNING: %d of %d corpus files missing from %s (run %s): %s", len(missing), len(all), dir, corpus.Script, strings.Join(missing, ", "))
	}
	return have
}

func modules(es []corpus.Entry) []corpus.Entry {
	var out []corpus.Entry
	for _, e := range es {
		if e.IsModule() {
			out = append(out, e)
		}
	}
	return out
}

// dataRules are the rules that judge the contents of data and names, where
// a false positive would accuse an ordinary module of carrying a payload.
var dataRules = map[string]bool{scan.RuleLargeData: true, scan.RuleHighEntropyData: true, scan.RuleMinerMarker: true}

// TestCorpus scans every corpus module: each decodes; none that wabt's
// wasm-validate accepts gets a critical finding; the data rules raise
// nothing at high severity or above (none of these modules carries a packed
// payload or a miner), and WW402 and WW403 nothing above info (WW402's info
// is the observation "opaque near-random data", no alarm); the SARIF
// of the whole corpus passes the SARIF 2.1.0 schema and the Multitool's URI
// rules, and, when the Multitool is in the cache, its own validation.
func TestCorpus(t *testing.T) {
	entries := loadCorpus(t)
	var results []*scan.Result
	var fp, observed []string
	for _, e := range modules(entries) {
		bin, err := os.ReadFile(e.File)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wasm.Decode(bin); err != nil {
			t.Errorf("%s does not decode: %v", e.Name(), err)
			continue
		}
		r := scan.Scan(context.Background(), e.File, bin, scan.Options{})
		results = append(results, r)
		for _, f := range r.Findings {
			if f.Severity == scan.Critical && e.ValidatorAccepts() {
				t.Errorf("%s: critical %s on a module wasm-validate accepts: %s", e.Name(), f.RuleID, f.Message)
			}
			switch {
			case dataRules[f.RuleID] && f.Severity == scan.Info:
				observed = append(observed, fmt.Sprintf("%s: %s %s", e.Name(), f.RuleID, f.Message))
			case dataRules[f.RuleID] && (f.Severity >= scan.High || f.RuleID != scan.RuleLargeData):
				fp = append(fp, fmt.Sprintf("%s: %s %s %s", e.Name(), f.RuleID, f.Severity, f.Message))
			}
		}
	}
	t.Logf("data-rule false positives: %d on %d modules; info observations (opaque data, not alarms): %d", len(fp), len(results), len(observed))
	for _, o := range observed {
		t.Log("info: " + o)
	}
	for _, s := range fp {
		t.Error("false positive: " + s)
	}

	var buf bytes.Buffer
	if err := scan.WriteSARIF(&buf, results, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := corpus.ValidateSARIF(buf.Bytes()); err != nil {
		t.Errorf("SARIF of the corpus: %v", err)
	}
	multitool(t, entries, buf.Bytes())
}

// multitool runs Microsoft's SARIF Multitool `validate` on doc when the
// corpus cache has it and fails on any error it reports.
func multitool(t *testing.T, entries []corpus.Entry, doc []byte) {
	var mt string
	for _, e := range entries {
		if e.Source == "npm-tool" && strings.HasSuffix(e.Path, "/Sarif.Multitool") {
			mt = e.File
		}
	}
	if mt == "" {
		t.Logf("WARNING: the SARIF Multitool is not in the corpus cache; run %s", corpus.Script)
		return
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "corpus.sarif"), filepath.Join(dir, "validation.sarif")
	if err := os.WriteFile(in, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mt, "validate", in, "-o", out)
	cmd.Env = append(os.Environ(), "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1", "DOTNET_CLI_TELEMETRY_OPTOUT=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Sarif.Multitool validate: %v\n%s", err, msg)
	}
	var res struct {
		Runs []struct {
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					Arguments []string `json:"arguments"`
				} `json:"message"`
			} `json:"results"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range res.Runs {
		for _, x := range r.Results {
			n++
			if x.Level == "error" {
				t.Errorf("Sarif.Multitool: %s %v", x.RuleID, x.Message.Arguments)
			}
		}
	}
	t.Logf("Sarif.Multitool validate: %d results, none an error", n)
}

// TestCorpusSBOM: the CycloneDX document of every corpus module passes the
// CycloneDX 1.6 schema.
func TestCorpusSBOM(t *testing.T) {
	for _, e := range modules(loadCorpus(t)) {
		bin, err := os.ReadFile(e.File)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := sbom.Read(filepath.Base(e.Path), bin)
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		var buf bytes.Buffer
		if err := sbom.WriteCycloneDX(&buf, inv, "1.0.0"); err != nil {
			t.Fatal(err)
		}
		if err := corpus.ValidateCycloneDX(buf.Bytes()); err != nil {
			t.Errorf("%s: CycloneDX: %v", e.Name(), err)
		}
	}
}

// TestManifest: the manifest parses, names unique files, and every entry
// records what it contains.
func TestManifest(t *testing.T) {
	es, err := corpus.Entries(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		if seen[e.SHA256] {
			t.Errorf("%s: the same bytes twice in the manifest", e.Name())
		}
		seen[e.SHA256] = true
		if len(e.Contains) == 0 || e.Size <= 0 || (e.Validate != "ok" && e.Validate != "-" && !strings.HasPrefix(e.Validate, "rejects: ")) {
			t.Errorf("incomplete entry %+v", e)
		}
	}
	if len(modules(es)) < 40 {
		t.Errorf("%d modules; the corpus should hold a few dozen", len(modules(es)))
	}
}

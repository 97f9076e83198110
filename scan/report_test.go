package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/corpus"
)

func TestSARIF(t *testing.T) {
	results := []*Result{
		scanFixture(t, "scan_miner", Options{}),
		scanFixture(t, "scan_locals", Options{Bounds: Bounds{MaxFunctionSize: 32}}),
	}
	results[0].Artifact = "modules/scan_miner.wasm"
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, results, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	// Decode generically so the test checks the document, not our structs.
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["version"] != "2.1.0" || doc["$schema"] != "https://json.schemastore.org/sarif-2.1.0.json" {
		t.Fatalf("header = %v %v", doc["version"], doc["$schema"])
	}
	runs := doc["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := runs[0].(map[string]any)
	driver := run["tool"].(map[string]any)["driver"].(map[string]any)
	if driver["name"] != "wasmward" || driver["version"] != "1.2.3" {
		t.Errorf("driver = %v", driver)
	}
	rules := driver["rules"].([]any)
	if len(rules) != len(Rules()) {
		t.Fatalf("%d rules", len(rules))
	}
	ruleIdx := map[string]int{}
	for i, r := range rules {
		rm := r.(map[string]any)
		id := rm["id"].(string)
		ruleIdx[id] = i
		for _, k := range []string{"name", "shortDescription", "fullDescription", "help", "defaultConfiguration", "properties"} {
			if rm[k] == nil {
				t.Errorf("rule %s lacks %s", id, k)
			}
		}
		lvl := rm["defaultConfiguration"].(map[string]any)["level"]
		if lvl != "error" && lvl != "warning" && lvl != "note" {
			t.Errorf("rule %s level %v", id, lvl)
		}
	}
	if ss := rules[ruleIdx[RuleMinerMarker]].(map[string]any)["properties"].(map[string]any)["security-severity"]; ss != "8.0" {
		t.Errorf("security-severity = %v", ss)
	}
	arts := run["artifacts"].([]any)
	if len(arts) != 2 || arts[0].(map[string]any)["location"].(map[string]any)["uri"] != "modules/scan_miner.wasm" {
		t.Errorf("artifacts = %v", arts)
	}
	res := run["results"].([]any)
	if len(res) != len(results[0].Findings)+len(results[1].Findings) {
		t.Fatalf("%d results", len(res))
	}
	sawFunc := false
	for _, r := range res {
		rm := r.(map[string]any)
		id := rm["ruleId"].(string)
		if int(rm["ruleIndex"].(float64)) != ruleIdx[id] {
			t.Errorf("%s: ruleIndex %v", id, rm["ruleIndex"])
		}
		if l := rm["level"]; l != "error" && l != "warning" && l != "note" {
			t.Errorf("%s: level %v", id, l)
		}
		if rm["message"].(map[string]any)["text"] == "" {
			t.Errorf("%s: empty message", id)
		}
		locs := rm["locations"].([]any)
		if len(locs) != 1 {
			t.Fatalf("%s: %d locations", id, len(locs))
		}
		loc := locs[0].(map[string]any)
		pl := loc["physicalLocation"].(map[string]any)
		uri := pl["artifactLocation"].(map[string]any)["uri"].(string)
		if uri != "modules/scan_miner.wasm" && uri != "scan_locals.wasm" {
			t.Errorf("%s: uri %s", id, uri)
		}
		reg := pl["region"].(map[string]any)
		if reg["startLine"] != 1.0 || reg["byteOffset"] == nil || reg["byteLength"] == nil {
			t.Errorf("%s: region %v", id, reg)
		}
		if id == RuleMinerMarker && uri == "modules/scan_miner.wasm" && reg["byteLength"].(float64) == 0 {
			t.Errorf("%s: empty byte region", id)
		}
		if ll, ok := loc["logicalLocations"].([]any); ok {
			sawFunc = true
			if l := ll[0].(map[string]any); l["kind"] != "function" || (l["name"] != "big" && l["name"] != "cryptonight_hash") {
				t.Errorf("logical location %v", l)
			}
		}
		if fp := rm["partialFingerprints"].(map[string]any)["wasmward/v1"]; fp == nil || len(fp.(string)) != 32 {
			t.Errorf("%s: fingerprint %v", id, fp)
		}
	}
	if !sawFunc {
		t.Error("no logical location for the function finding")
	}
	// Same input, same bytes.
	var again bytes.Buffer
	if err := WriteSARIF(&again, results, "1.2.3"); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("SARIF output is not deterministic")
	}
}

func TestTextAndJSON(t *testing.T) {
	r := scanFixture(t, "scan_imports", Options{})
	var buf bytes.Buffer
	if err := WriteText(&buf, []*Result{r}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"scan_imports.wasm (418 bytes, sha256 ",
		"1 high, 7 info",
		"capabilities: filesystem-read, filesystem-write, sockets, clocks, randomness, process-exit, environment",
		"HIGH     WW101 Import outside the policy's allowlist at import section, offset 0x",
		"fix: Remove the import",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := WriteJSON(&buf, []*Result{r}, "dev"); err != nil {
		t.Fatal(err)
	}
	var doc JSONReport
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tool != "wasmward" || len(doc.Results) != 1 || doc.Results[0].Findings[0].RuleID != RuleImportNotAllowed ||
		doc.Results[0].Findings[0].Severity != High {
		t.Errorf("json = %+v", doc)
	}
	if !strings.Contains(buf.String(), `"severity": "high"`) {
		t.Error("severity not written by name")
	}
}

var plainLoc = regexp.MustCompile(`"uri": "plain\.wasm",\s*"uriBaseId": "%SRCROOT%"`)

// TestSARIFURIs: artifact locations are RFC 3986 URIs (file:// for
// absolute paths, percent-encoded relative references against %SRCROOT%
// for relative ones), checked with the Multitool's SARIF1002/SARIF1004
// rules and the SARIF 2.1.0 schema; grouped findings carry related
// locations.
func TestSARIFURIs(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	bin := importModule("env.a", "env.b")
	var results []*Result
	for _, name := range []string{"/tmp/my dir/my mod#1%zz.wasm", "mods/ü n:x?.wasm", "./plain.wasm", "c:x.wasm"} {
		results = append(results, Scan(context.Background(), name, bin, Options{}))
	}
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, results, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	if err := corpus.ValidateSARIF(buf.Bytes()); err != nil {
		t.Fatalf("SARIF fails validation: %v\n%s", err, buf.Bytes())
	}
	var doc struct {
		Runs []struct {
			OriginalURIBaseIDs map[string]struct{ URI string } `json:"originalUriBaseIds"`
			Artifacts          []struct {
				Location struct{ URI, URIBaseID string } `json:"location"`
			} `json:"artifacts"`
			Results []struct {
				RelatedLocations []struct {
					ID               int `json:"id"`
					Message          struct{ Text string }
					PhysicalLocation struct {
						ArtifactLocation struct{ URI, URIBaseID string } `json:"artifactLocation"`
						Region           struct{ ByteOffset int }        `json:"region"`
					} `json:"physicalLocation"`
				} `json:"relatedLocations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if got, want := run.OriginalURIBaseIDs["%SRCROOT%"].URI, "file://"+escapePath(filepath.ToSlash(wd))+"/"; got != want {
		t.Errorf("%%SRCROOT%% = %q, want %q", got, want)
	}
	for i, want := range []struct{ uri, base string }{
		{"file:///tmp/my%20dir/my%20mod%231%25zz.wasm", ""},
		{"mods/%C3%BC%20n%3Ax%3F.wasm", "%SRCROOT%"},
		{"plain.wasm", "%SRCROOT%"},
		{"c%3Ax.wasm", "%SRCROOT%"},
	} {
		if l := run.Artifacts[i].Location; l.URI != want.uri || l.URIBaseID != want.base {
			t.Errorf("artifact %d = %+v, want %+v", i, l, want)
		}
		if u, err := url.Parse(want.uri); err != nil || strings.TrimPrefix(u.Path, "/tmp/") != strings.TrimPrefix(strings.TrimPrefix(results[i].Artifact, "./"), "/tmp/") {
			t.Errorf("artifact %d: %q does not decode to the path %q", i, want.uri, results[i].Artifact)
		}
	}
	rel := run.Results[0].RelatedLocations
	if len(rel) != 2 || rel[0].ID != 0 || rel[1].ID != 1 || rel[1].Message.Text != `func "env"."b"` ||
		rel[0].PhysicalLocation.ArtifactLocation.URI != run.Artifacts[0].Location.URI || rel[1].PhysicalLocation.Region.ByteOffset <= rel[0].PhysicalLocation.Region.ByteOffset {
		t.Errorf("relatedLocations = %+v", rel)
	}

	// The checks reject what wasmward used to write: bare paths.
	for _, tc := range []struct{ uri, base, rule string }{
		{"/root/m.wasm", "", "no uriBaseId and is not an absolute file:/// URI"},
		{"my mod#1%zz.wasm", "%SRCROOT%", "SARIF1002"},
		{"file:///abs.wasm", "%SRCROOT%", "SARIF1004"},
		{"m.wasm", "%NOPE%", "SARIF1004"},
	} {
		repl := `"uri": "` + tc.uri + `", "uriBaseId": "` + tc.base + `"`
		if tc.base == "" {
			repl = `"uri": "` + tc.uri + `"`
		}
		bad := plainLoc.ReplaceAllLiteralString(buf.String(), repl)
		if bad == buf.String() {
			t.Fatal("test did not alter the document")
		}
		if err := corpus.ValidateSARIF([]byte(bad)); err == nil || !strings.Contains(err.Error(), tc.rule) {
			t.Errorf("uri %q base %q: err = %v, want %s", tc.uri, tc.base, err, tc.rule)
		}
	}
}

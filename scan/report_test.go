package scan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
			if l := ll[0].(map[string]any); l["kind"] != "function" || l["name"] != "big" {
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

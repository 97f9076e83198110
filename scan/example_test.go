package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/scan"
)

// This example scans a module against a policy, as `wasmward scan` does, and
// gates on the highest severity found (the CLI's --fail-on).
func ExampleScan() {
	bin, err := os.ReadFile("../examples/hello.wasm")
	if err != nil {
		log.Fatal(err)
	}
	p := policy.Default()
	res := scan.Scan(context.Background(), "hello.wasm", bin, scan.Options{Policy: &p})

	for _, f := range res.Findings {
		fmt.Println(f.RuleID, f.Severity, f.Title)
	}
	fmt.Println("capabilities:", res.Capabilities)
	fmt.Println("fails --fail-on high:", res.AtLeast(scan.High))
	// Output:
	// WW201 medium Memory without a declared maximum
	// WW102 info WASI capability requested
	// WW102 info WASI capability requested
	// WW701 info Toolchain
	// WW701 info Toolchain
	// capabilities: [process-exit environment]
	// fails --fail-on high: false
}

// Results go out as text, JSON or SARIF 2.1.0 (for code-scanning dashboards).
// A module that does not decode is itself a finding, never an error.
func ExampleWriteSARIF() {
	res := scan.Scan(context.Background(), "broken.wasm", []byte("\x00asm\x02\x00\x00\x00"), scan.Options{})

	var out bytes.Buffer
	if err := scan.WriteSARIF(&out, []*scan.Result{res}, "dev"); err != nil {
		log.Fatal(err)
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name string `json:"name"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID string `json:"ruleId"`
				Level  string `json:"level"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &sarif); err != nil {
		log.Fatal(err)
	}
	run := sarif.Runs[0]
	fmt.Println("SARIF", sarif.Version, "from", run.Tool.Driver.Name)
	for _, r := range run.Results {
		fmt.Println(r.RuleID, r.Level)
	}
	// Output:
	// SARIF 2.1.0 from wasmward
	// WW001 error
}

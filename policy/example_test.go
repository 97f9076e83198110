package policy_test

import (
	"fmt"
	"log"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/policy"
)

// Parse reads a policy file over the secure defaults: what the file leaves
// out keeps its default.
func ExampleParse() {
	p, err := policy.Parse([]byte(`
limits:
  memory: 64MiB
  timeout: 2s
capabilities:
  env: {GREETING: hello}
`), "policy.yaml")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("memory:", p.Limits.Memory)
	fmt.Println("timeout:", p.Limits.Timeout)
	fmt.Println("output (default):", p.Limits.Output)
	fmt.Println("env:", p.Capabilities.SortedEnv())
	fmt.Println("imports (default):", p.Capabilities.Imports)
	// Output:
	// memory: 64MiB
	// timeout: 2s
	// output (default): 4MiB
	// env: [GREETING=hello]
	// imports (default): [wasi_snapshot_preview1.*]
}

// Keys are strict: a misspelt key is an error with its line, never a silent
// default.
func ExampleParse_strict() {
	_, err := policy.Parse([]byte("limits:\n  memroy: 1GiB\n"), "policy.yaml")
	fmt.Println(err)
	// Output:
	// policy.yaml:2: unknown key "memroy"
}

// Overlay merges a route's policy over a base: keys the route names replace
// the base's, the rest are kept. The gateway uses it for per-route policies.
func ExampleOverlay() {
	base := policy.Default()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte("limits: {timeout: 500ms}\n"), &node); err != nil {
		log.Fatal(err)
	}
	route, err := policy.Overlay(base, node.Content[0], "route /api")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("timeout:", route.Limits.Timeout, "memory:", route.Limits.Memory)
	// Output:
	// timeout: 500ms memory: 128MiB
}

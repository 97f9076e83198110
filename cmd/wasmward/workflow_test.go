package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestWorkflowFlags parses the example GitHub Actions workflow and checks
// that every wasmward command and flag its steps name exists on the real
// command, so a rename cannot leave the example broken.
func TestWorkflowFlags(t *testing.T) {
	path := filepath.Join("..", "..", ".github", "workflows", "wasmward-check.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run  string            `yaml:"run"`
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	root := newRoot(streams{})
	invocation := regexp.MustCompile(`wasmward"?\s+([a-z]+)((?:\s+[^|>&;]+)*)`)
	calls, uploads := 0, 0
	for job, j := range wf.Jobs {
		for _, st := range j.Steps {
			if strings.Contains(st.Uses, "upload-sarif") {
				uploads++
				if st.With["sarif_file"] != "wasmward.sarif" {
					t.Errorf("%s: upload-sarif uploads %q", job, st.With["sarif_file"])
				}
			}
			script := strings.ReplaceAll(st.Run, "\\\n", " ")
			for _, m := range invocation.FindAllStringSubmatch(script, -1) {
				cmd, _, err := root.Find([]string{m[1]})
				if err != nil || cmd == root {
					t.Errorf("%s: unknown command wasmward %s", job, m[1])
					continue
				}
				calls++
				for _, tok := range strings.Fields(m[2]) {
					if !strings.HasPrefix(tok, "--") {
						continue
					}
					name, _, _ := strings.Cut(strings.TrimPrefix(tok, "--"), "=")
					if cmd.Flags().Lookup(name) == nil {
						t.Errorf("%s: wasmward %s has no flag --%s", job, m[1], name)
					}
				}
			}
		}
	}
	if calls == 0 || uploads == 0 {
		t.Fatalf("the workflow runs %d wasmward commands and uploads SARIF %d times; want both", calls, uploads)
	}
}

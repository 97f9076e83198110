package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/wasmward/wasmward/internal/fixture"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/cli from the commands")

// cliDocsDir is where the generated command reference lives.
var cliDocsDir = filepath.Join("..", "..", "docs", "cli")

// genCLIDocs writes the Markdown reference of every command into dir.
func genCLIDocs(t *testing.T, dir string) {
	t.Helper()
	root := newRoot(streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}})
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		t.Fatal(err)
	}
}

// TestCLIDocs keeps docs/cli in step with the commands. After changing a
// command or a flag, regenerate with:
//
//	go test ./cmd/wasmward -run TestCLIDocs -update
func TestCLIDocs(t *testing.T) {
	if *updateDocs {
		if err := os.RemoveAll(cliDocsDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(cliDocsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		genCLIDocs(t, cliDocsDir)
		return
	}
	fresh := t.TempDir()
	genCLIDocs(t, fresh)
	want, err := filepath.Glob(filepath.Join(fresh, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	have, _ := filepath.Glob(filepath.Join(cliDocsDir, "*.md"))
	if len(have) != len(want) {
		t.Errorf("docs/cli has %d pages, the commands make %d: regenerate with `go test ./cmd/wasmward -run TestCLIDocs -update`", len(have), len(want))
	}
	for _, w := range want {
		name := filepath.Base(w)
		got, err := os.ReadFile(filepath.Join(cliDocsDir, name))
		exp, _ := os.ReadFile(w)
		if err != nil || !bytes.Equal(got, exp) {
			t.Errorf("docs/cli/%s is stale: regenerate with `go test ./cmd/wasmward -run TestCLIDocs -update`", name)
		}
	}
}

// Every command has a one-line summary and examples, and completes paths
// for its file flags (applyConventions panics on a stale table).
func TestConventions(t *testing.T) {
	root := newRoot(streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || strings.HasPrefix(c.CommandPath(), "wasmward completion") {
			return
		}
		if c != root && c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%s has no Short", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path := range examples {
		if c, _, err := root.Find(strings.Fields(path)[1:]); err != nil || c.CommandPath() != path {
			t.Errorf("examples names %q, which is not a command", path)
		}
	}
	run, _, _ := root.Find([]string{"run"})
	if _, ok := run.Flags().Lookup("policy").Annotations[cobra.BashCompFilenameExt]; !ok {
		t.Errorf("run --policy does not complete file names")
	}
	if _, ok := run.Flags().Lookup("dir").Annotations[cobra.BashCompSubdirsInDir]; !ok {
		t.Errorf("run --dir does not complete directory names")
	}
}

func TestVersion(t *testing.T) {
	code, out, errs := runCLI(t, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "wasmward ") || !strings.Contains(out, "wazero v") || strings.Count(out, "\n") != 1 {
		t.Fatalf("--version: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, errs = runCLI(t, "", "version")
	for _, want := range []string{"wasmward: ", "\nwazero: v", "\ngo: go", "\nplatform: "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("version: exit %d, out %q (want %q), err %q", code, out, want, errs)
		}
	}
}

// failWriter fails every write, as stdout redirected to /dev/full does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// A command that cannot write its output failed at its work: exit 1, one
// line, the same for every command (it was 2 for inspect and 1 for scan).
func TestOutputWriteFailureExitsOne(t *testing.T) {
	hello := filepath.Join("..", "..", "examples", "hello.wasm")
	for _, args := range [][]string{
		{"inspect", hello},
		{"inspect", "--json", hello},
		{"scan", hello},
		{"scan", "--format", "sarif", hello},
		{"sbom", fixture.Path(t, "sbom_dep")},
		{"version"},
	} {
		var errb bytes.Buffer
		code := execute(context.Background(), args, strings.NewReader(""), failWriter{}, &errb)
		if code != exitFailure || !strings.Contains(errb.String(), "no space left on device") || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line", args, code, errb.String())
		}
	}
}

// Renamed flags keep their old spelling for one release, with a notice.
func TestDeprecatedFlagSpellings(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := runCLI(t, "", "run", "--output", "1KiB", fixture.Path(t, "sb_flood"))
	if code != exitViolated || !strings.Contains(errs, "flag --output is deprecated and will be removed in the next release: use --output-limit") || !strings.Contains(errs, "exceeded the 1KiB cap") {
		t.Errorf("run --output: exit %d, stderr %q", code, errs)
	}
	code, _, errs = runCLI(t, "", "keygen", "--out", filepath.Join(dir, "k"))
	if code != 0 || !strings.Contains(errs, "use --output-key-prefix") {
		t.Errorf("keygen --out: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "k.pub")); err != nil {
		t.Errorf("keygen --out wrote no key: %v", err)
	}
	code, _, errs = runCLI(t, "", "sign", fixture.Path(t, "trust_hello"), "--key", filepath.Join(dir, "k.key"), "--version", "1.0.0", "-o", filepath.Join(dir, "s.wasm"))
	if code != 0 || !strings.Contains(errs, "use --module-version") {
		t.Errorf("sign --version: exit %d, stderr %q", code, errs)
	}
	code, out, _ := runCLI(t, "", "verify", filepath.Join(dir, "s.wasm"), "--key", filepath.Join(dir, "k.pub"))
	if code != 0 || !strings.Contains(out, "1.0.0") {
		t.Errorf("the version given by the old spelling was not signed: exit %d, out %q", code, out)
	}
}

// Flags that exclude each other are declared, so cobra refuses them (2)
// before the command runs.
func TestMutuallyExclusiveFlags(t *testing.T) {
	for _, args := range [][]string{
		{"verify", "m.wasm", "--trust", "t.yaml", "--key", "k.pub"},
		{"verify", "m.wasm", "--format", "cosign", "--key", "k.pub", "--sig", "s", "--bundle", "b"},
		{"sign", "m.wasm", "--key", "k", "-o", "o", "--detached", "d"},
		{"attest", "m.wasm", "--key", "k", "-o", "o", "--policy", "p", "--append", "a"},
		{"audit", "verify", "--anchor", "h", "--no-anchor", "log"},
	} {
		code, _, errs := runCLI(t, "", args...)
		if code != exitUsage || !strings.Contains(errs, "none of the others can be") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	code, _, errs := runCLI(t, "", "attest", "m.wasm", "--key", "k", "--policy", "p")
	if code != exitUsage || !strings.Contains(errs, `required flag(s) "output" not set`) {
		t.Errorf("attest without -o: exit %d, stderr %q", code, errs)
	}
}

// Package corpus is the real-module corpus: the third-party WebAssembly
// modules pinned in manifest.tsv (npm packages and Go modules, each file
// with its sha256 and what it is known to contain), fetched by
// scripts/fetch-corpus.sh into a cache directory. Tests use it to measure
// false positives and recall on modules nobody wrote for wasmward.
package corpus

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed manifest.tsv
var manifest string

// EnvDir names the environment variable that overrides the cache directory.
const EnvDir = "WASMWARD_CORPUS"

// Script is the command that fills the cache.
const Script = "scripts/fetch-corpus.sh"

// Entry is one line of the manifest.
type Entry struct {
	// Source is "npm", "go" or "npm-tool" (a program, not a module).
	Source string
	// Package is PACKAGE@VERSION.
	Package string
	// Path is the file inside the package.
	Path   string
	SHA256 string
	Size   int64
	// Validate is what wabt's wasm-validate --enable-all says: "ok" or
	// "rejects: MESSAGE" ("-" for tools).
	Validate string
	// Contains lists what the module is known to contain: the package at
	// its version, bundled libraries (name@version where known),
	// toolchain and features.
	Contains []string
	// File is where the fetch script puts it in the cache.
	File string
}

// IsModule reports whether the entry is a WebAssembly module (not a tool).
func (e Entry) IsModule() bool { return e.Source != "npm-tool" }

// ValidatorAccepts reports whether wabt's wasm-validate accepts the module.
func (e Entry) ValidatorAccepts() bool { return e.Validate == "ok" }

// Name is a short unique name: PACKAGE@VERSION/PATH.
func (e Entry) Name() string { return e.Package + "/" + e.Path }

// Dir returns the cache directory: $WASMWARD_CORPUS, else
// wasmward-corpus under the user cache directory ($XDG_CACHE_HOME or
// ~/.cache), as scripts/fetch-corpus.sh computes it.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("corpus cache directory: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "wasmward-corpus"), nil
}

// Entries parses the manifest and resolves each entry's file under dir.
func Entries(dir string) ([]Entry, error) {
	var out []Entry
	for i, line := range strings.Split(manifest, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 7 || len(f[3]) != 64 {
			return nil, fmt.Errorf("corpus manifest line %d: want 7 tab-separated fields with a sha256, got %q", i+1, line)
		}
		size, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("corpus manifest line %d: size: %w", i+1, err)
		}
		var contains []string
		for c := range strings.SplitSeq(f[6], ", ") {
			if c = strings.TrimSpace(c); c != "" {
				contains = append(contains, c)
			}
		}
		out = append(out, Entry{
			Source: f[0], Package: f[1], Path: f[2], SHA256: f[3], Size: size, Validate: f[5], Contains: contains,
			File: filepath.Join(dir, f[0], strings.ReplaceAll(f[1], "/", "_"), filepath.FromSlash(f[2])),
		})
	}
	return out, nil
}

package sbom

import (
	"bytes"

	"github.com/wasmward/wasmward/internal/semver"
)

// Rust crates named by the source paths that panic messages and
// #[track_caller] locations carry: "/cargo/registry/src/index.crates.io-
// 6f17d22bba15001f/serde_json-1.0.108/src/de.rs" (or the older
// "github.com-1ecc6299db9ec823" index directory), and the standard
// library's own dependencies under "/rust/deps/NAME-VERSION/".

// crates.io's index directories: the sparse index, the git index.
var cratesIndexPrefixes = [][]byte{[]byte("index.crates.io-"), []byte("github.com-1ecc6299db9ec823")}

var (
	libCrate      = &library{name: "", ecosystem: EcosystemCrates, purl: func(name, version string) string { return purl("cargo", "", name, version) }}
	libOtherCrate = &library{name: "", purl: func(name, version string) string { return purl("cargo", "", name, version) }}
)

var rustRules = []*rule{
	{name: "cargo-registry-path", lib: libCrate, anchor: "/registry/src/", check: checkCargoRegistry},
	{name: "rust-std-deps-path", lib: libCrate, anchor: "/rust/deps/", check: checkRustDeps},
}

// checkCargoRegistry reads INDEX/NAME-VERSION/ after "/registry/src/".
// Crates from another registry are reported without an OSV ecosystem.
func checkCargoRegistry(r *rule, h hay, at int) (finding, bool) {
	i := at + len(r.anchor)
	idx := segment(h.b, i)
	if idx < 0 {
		return finding{}, false
	}
	lib := libOtherCrate
	for _, p := range cratesIndexPrefixes {
		if bytes.HasPrefix(h.b[i:idx], p) {
			lib = libCrate
		}
	}
	return crateAt(h, at, idx+1, lib)
}

// checkRustDeps reads NAME-VERSION/ after "/rust/deps/".
func checkRustDeps(r *rule, h hay, at int) (finding, bool) {
	return crateAt(h, at, at+len(r.anchor), libCrate)
}

// segment returns the index of the '/' that ends the path segment at
// b[i:], or -1 when it is empty, too long or holds a byte that no
// registry directory or crate directory has.
func segment(b []byte, i int) int {
	for j := i; j < len(b) && j-i <= 128; j++ {
		c := b[j]
		switch {
		case c == '/':
			if j == i {
				return -1
			}
			return j
		case isAlnum(c) || c == '-' || c == '_' || c == '.' || c == '+':
		default:
			return -1
		}
	}
	return -1
}

// crateAt parses the crate directory NAME-VERSION at b[i:], ended by '/'.
// The version is the SemVer suffix after the first '-' that leaves one
// (crate names contain '-', versions can too: "foo-bar-1.0.0-rc.1").
func crateAt(h hay, at, i int, lib *library) (finding, bool) {
	end := segment(h.b, i)
	if end < 0 {
		return finding{}, false
	}
	dir := h.b[i:end]
	for k := 1; k < len(dir)-1; k++ {
		if dir[k] != '-' || !isDigit(dir[k+1]) {
			continue
		}
		name, version := string(dir[:k]), string(dir[k+1:])
		if _, err := semver.Parse(version); err != nil || !validCrateName(name) {
			continue
		}
		return finding{lib: lib, name: name, version: version, conf: ConfidenceMedium,
			ev: Evidence{Offset: at + 1, Text: evidenceText(h.b[at+1 : end+1])}}, true
	}
	return finding{}, false
}

// validCrateName: ASCII letters, digits, '-' and '_', starting with a letter.
func validCrateName(s string) bool {
	if s == "" || len(s) > 64 || !(s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

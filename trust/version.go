package trust

import "github.com/wasmward/wasmward/internal/semver"

// Version is a parsed semantic version (semver 2.0.0): MAJOR.MINOR.PATCH
// with an optional pre-release and build metadata. Compare orders versions
// by SemVer precedence; it is the same order sbom uses for advisories.
type Version = semver.Version

// ParseVersion parses a semantic version such as "1.4.2", "v2.0.0-rc.1" or
// "1.0.0+build.5", strictly (three numeric parts without leading zeros).
func ParseVersion(s string) (Version, error) { return semver.Parse(s) }

// Package semver parses and orders Semantic Versioning 2.0.0 versions: the
// one implementation that trust (rollback protection) and sbom (OSV range
// matching) share, so that the two can never disagree on which version is
// newer.
package semver

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Version is a parsed semantic version: MAJOR.MINOR.PATCH with optional
// pre-release identifiers and build metadata.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // pre-release identifiers
	Build               string
}

// Parse parses a version strictly by SemVer 2.0.0, with an optional leading
// "v": "1.4.2", "v2.0.0-rc.1", "1.0.0+build.5". Three numeric parts without
// leading zeros, identifiers of ASCII letters, digits and "-" only.
func Parse(s string) (Version, error) {
	var v Version
	orig := s
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		v.Build = s[i+1:]
		s = s[:i]
		if !validIdents(v.Build, false) {
			return Version{}, fmt.Errorf("invalid version %q: bad build metadata", orig)
		}
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		pre := s[i+1:]
		s = s[:i]
		if !validIdents(pre, true) {
			return Version{}, fmt.Errorf("invalid version %q: bad pre-release", orig)
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("invalid version %q: want MAJOR.MINOR.PATCH", orig)
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !isNumeric(p) || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("invalid version %q: %q is not a number", orig, p)
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Version{}, fmt.Errorf("invalid version %q: %q is out of range", orig, p)
		}
		*nums[i] = n
	}
	return v, nil
}

// ParseLoose parses the versions found in the wild (OSV data, toolchain
// versions): like Parse, but missing minor or patch parts count as zero
// ("1.2" is 1.2.0), numbers may have leading zeros and pre-release
// identifiers may hold any character but "." (they must not be empty).
// Build metadata is dropped. It reports false for anything else.
func ParseLoose(s string) (Version, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var v Version
	if i := strings.IndexByte(s, '-'); i >= 0 {
		pre := s[i+1:]
		s = s[:i]
		v.Pre = strings.Split(pre, ".")
		if slices.Contains(v.Pre, "") {
			return Version{}, false
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return Version{}, false
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !isNumeric(p) {
			return Version{}, false
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Version{}, false
		}
		*nums[i] = n
	}
	return v, true
}

// String formats v canonically ("1.2.3-rc.1+build"), without a leading "v".
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if pre && len(id) > 1 && id[0] == '0' && isNumeric(id) {
			return false // numeric identifiers have no leading zeros
		}
	}
	return true
}

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than w
// in SemVer precedence (build metadata is ignored).
func (v Version) Compare(w Version) int {
	if c := cmp.Or(cmp.Compare(v.Major, w.Major), cmp.Compare(v.Minor, w.Minor), cmp.Compare(v.Patch, w.Patch)); c != 0 {
		return c
	}
	if len(v.Pre) == 0 || len(w.Pre) == 0 {
		// A release sorts above its pre-releases.
		return -cmp.Compare(len(v.Pre), len(w.Pre))
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := comparePre(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(v.Pre), len(w.Pre))
}

// comparePre orders two pre-release identifiers: numeric ones by value, of
// any size, and before alphanumeric ones, which compare in ASCII order.
func comparePre(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
	switch {
	case an && bn:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0") // loose versions may have leading zeros
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

func isNumeric(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

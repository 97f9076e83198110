package trust

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed semantic version (semver 2.0.0): MAJOR.MINOR.PATCH
// with an optional pre-release and build metadata. A leading "v" is
// accepted.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // pre-release identifiers
	Build               string
}

// ParseVersion parses a semantic version such as "1.4.2", "v2.0.0-rc.1" or
// "1.0.0+build.5".
func ParseVersion(s string) (Version, error) {
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

func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for _, id := range strings.Split(s, ".") {
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
// in semver precedence (build metadata is ignored).
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
// any size (they have no leading zeros, so the longer is the larger), and
// before alphanumeric ones, which compare in ASCII order.
func comparePre(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
	switch {
	case an && bn:
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

func isNumeric(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

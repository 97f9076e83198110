package semver

import "testing"

// One table for both parsers: the order every caller (rollback state, OSV
// ranges) relies on.
func TestCompare(t *testing.T) {
	ordered := []string{
		"0.0.0-20230101000000-abcdefabcdef", "0.9.9",
		"1.0.0-99999999999999999999", "1.0.0-100000000000000000000", // numeric before alphanumeric, of any size
		"1.0.0-a", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1", "1.0.0-rc.9", "1.0.0-rc.10",
		"1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			a, err := Parse(ordered[i])
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(ordered[j])
			if err != nil {
				t.Fatal(err)
			}
			la, _ := ParseLoose(ordered[i])
			lb, _ := ParseLoose(ordered[j])
			want := cmpInt(i, j)
			if got := a.Compare(b); got != want {
				t.Errorf("Parse: %s vs %s: %d, want %d", ordered[i], ordered[j], got, want)
			}
			if got := la.Compare(lb); got != want {
				t.Errorf("ParseLoose: %s vs %s: %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func cmpInt(i, j int) int {
	switch {
	case i < j:
		return -1
	case i > j:
		return 1
	}
	return 0
}

func TestParse(t *testing.T) {
	v, err := Parse("v1.2.3-rc.1+build.5")
	if err != nil || v.String() != "1.2.3-rc.1+build.5" {
		t.Fatalf("Parse = %v, %v", v, err)
	}
	if a, _ := Parse("v1.0.0+build.1"); a.Compare(Version{Major: 1}) != 0 {
		t.Error("build metadata changed precedence")
	}
	for _, bad := range []string{"", "v", "vv1.0.0", "V1.0.0", "1", "1.2", "01.0.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b",
		"1.0.0.0", " 1.0.0", "1.0.0 ", "18446744073709551616.0.0", "1.0.0-é", "+1.0.0", "-1.0.0", "1.-0.0", "1.2.x"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestParseLoose(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1.2", "1.2.0"},
		{"1", "1.0.0"},
		{"v01.02.03", "1.2.3"},
		{"1.2.3+build", "1.2.3"},
		{"1.2.3-pre_1", "1.2.3-pre_1"},
	} {
		v, ok := ParseLoose(tc.in)
		if !ok || v.String() != tc.want {
			t.Errorf("ParseLoose(%q) = %v, %v; want %s", tc.in, v, ok, tc.want)
		}
	}
	if a, _ := ParseLoose("1.0.0-rc.010"); a.Compare(Version{Major: 1, Pre: []string{"rc", "9"}}) != 1 {
		t.Error("leading zeros changed the value of a numeric identifier")
	}
	for _, bad := range []string{"", "x", "1.2.3.4", "1..2", "1.2.3-", "1.2.3-a..b", "-1.0.0"} {
		if _, ok := ParseLoose(bad); ok {
			t.Errorf("ParseLoose(%q) accepted", bad)
		}
	}
}

// FuzzCompare checks that comparison is antisymmetric and parsing never
// panics.
func FuzzCompare(f *testing.F) {
	f.Add("1.2.3", "1.2.3-rc.1")
	f.Add("v0.0.0-20230101-abc", "0.0.0")
	f.Add("1.10", "1.9.9")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, oka := ParseLoose(a)
		vb, okb := ParseLoose(b)
		if oka && okb && va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare(%q, %q) not antisymmetric", a, b)
		}
		if sa, err := Parse(a); err == nil {
			if la, ok := ParseLoose(a); !ok || la.Compare(sa) != 0 {
				t.Fatalf("%q: strict and loose parses disagree", a)
			}
		}
	})
}

package httpfield

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		valid bool
		class Class
	}{
		{"Content-Type", true, Content},
		{"X-Custom_1", true, Content},
		{"!#$%&'*+-.^_`|~", true, Content},
		{"", false, Content},
		{"Bad Name", false, Content},
		{"bad:name", false, Content},
		{"naïve", false, Content},
		{"tab\t", false, Content},
		{"Connection", true, Framing},
		{"KEEP-ALIVE", true, Framing},
		{"te", true, Framing},
		{"Trailer", true, Framing},
		{"Upgrade", true, Framing},
		{"Transfer-Encoding", true, Framing},
		{"content-length", true, Framing},
		{"Content-Lengthx", true, Content},
		{"Proxy-Authorization", true, Proxy},
		{"proxy-", true, Proxy},
		{"Proxy", true, Content},
		{"Date", true, Edge},
		{"SERVER", true, Edge},
		{"Alt-Svc", true, Edge},
		{"X-Sendfile", true, Edge},
		{"X-Lighttpd-Send-File", true, Edge},
		{"X-Accel-Redirect", true, Edge},
		{"X-Accel", true, Content},
		{strings.Repeat("a", 40), true, Content},
	} {
		if got := Valid(tc.name); got != tc.valid {
			t.Errorf("Valid(%q) = %v, want %v", tc.name, got, tc.valid)
		}
		if got := Valid([]byte(tc.name)); got != tc.valid {
			t.Errorf("Valid([]byte(%q)) = %v, want %v", tc.name, got, tc.valid)
		}
		if got := Classify(tc.name); got != tc.class {
			t.Errorf("Classify(%q) = %v, want %v", tc.name, got, tc.class)
		}
		if got := Classify([]byte(tc.name)); got != tc.class {
			t.Errorf("Classify([]byte(%q)) = %v, want %v", tc.name, got, tc.class)
		}
	}
}

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		n, lower string
		want     bool
	}{
		{"Status", "status", true},
		{"STATUS", "status", true},
		{"Statu", "status", false},
		{"Stat-s", "status", false},
		{"", "", true},
	} {
		if got := EqualFold([]byte(tc.n), tc.lower); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.n, tc.lower, got)
		}
	}
}

// The response parser calls Classify for every header a guest writes.
func TestClassifyDoesNotAllocate(t *testing.T) {
	names := [][]byte{[]byte("Transfer-Encoding"), []byte("X-Accel-Redirect"), []byte("Content-Type"), []byte("X-A-Very-Long-Custom-Header-Name-Indeed")}
	if n := testing.AllocsPerRun(100, func() {
		for _, b := range names {
			Classify(b)
			Valid(b)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
}

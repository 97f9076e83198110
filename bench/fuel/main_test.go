package main

import (
	"regexp"
	"strings"
	"testing"
)

// quick runs the suite once at tiny sizes under the given variants and
// checks that every program ran under each, with the same output (measure
// fails on a mismatch), and that the table has a geomean row. It measures
// nothing.
func quick(t *testing.T, variants ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := mainErr([]string{"-quick", "-rounds", "1", "-variants", strings.Join(variants, ",")}, &out)
	if err != nil {
		return out.String(), err
	}
	s := out.String()
	alt := strings.Join(variants, "|")
	for _, p := range programs {
		re := regexp.MustCompile(`(?m)^round 1 ` + p.name + ` +(` + alt + `) +wall .*s  ` + p.name + ` `)
		if n := len(re.FindAllString(s, -1)); n != len(variants) {
			t.Errorf("%s: %d result lines, want %d\n%s", p.name, n, len(variants), s)
		}
	}
	if !regexp.MustCompile(`(?m)^ +geomean +1\.000x( +[0-9.]+x){` + string(rune('0'+len(variants)-1)) + `}`).MatchString(s) {
		t.Errorf("no geomean row for %d variants:\n%s", len(variants), s)
	}
	return s, nil
}

// TestQuickSuite: the harness works, the instrumented modules still run and
// print what the unmetered ones print, and the metered variant reports fuel.
func TestQuickSuite(t *testing.T) {
	s, err := quick(t, "plain", "close", "meter")
	if err != nil {
		t.Fatalf("benchmark harness: %v\n%s", err, s)
	}
	if !regexp.MustCompile(`(?m)^ +sha256 .* [0-9.]+e\+0[5-9] *$`).MatchString(s) {
		t.Errorf("no fuel figure for sha256:\n%s", s)
	}
}

// TestQuickSandbox runs the suite through the sandbox, which must meter it
// (errUnmetered fails it).
func TestQuickSandbox(t *testing.T) {
	s, err := quick(t, "plain", "wasmward")
	if err != nil {
		t.Fatalf("benchmark harness: %v\n%s", err, s)
	}
	if !regexp.MustCompile(`(?m)^ +sha256 .* [0-9.]+e\+0[5-9] *$`).MatchString(s) {
		t.Errorf("no fuel figure for sha256:\n%s", s)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rounds", "0"},
		{"-programs", "nosuch"},
		{"-variants", "plain,turbo"},
		{"-metric", "cycles"},
	} {
		var out strings.Builder
		if err := mainErr(args, &out); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

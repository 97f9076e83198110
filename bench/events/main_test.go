package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestQuick runs every measurement on a few events: the benchmark runs and
// its report has every row.
func TestQuick(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 2000, 1000, 300); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(rows) != 12 {
		t.Fatalf("%d lines, want a header and 11 rows:\n%s", len(rows), out.String())
	}
	for _, want := range []string{"processor  ev_empty", "processor  native-count", "ndjson     ev_count", "jetstream  ev_count", "jetstream  native-count"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no row %q:\n%s", want, out.String())
		}
	}
}

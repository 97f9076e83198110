package audit

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestAggregation floods the log with identical violations from two
// clients and checks that each run becomes one record plus one with the
// count, per client, per window.
func TestAggregation(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := openLog(path, Options{AggregateWindow: 10 * time.Second}, hooks{now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	v := func(client, detail string, i int) Event {
		return Event{Type: TypeViolation, Route: "/r", Client: client, Kind: "memory_limit", Detail: detail, RequestID: fmt.Sprint(i)}
	}
	for i := range 1000 {
		l.Append(v("10.0.0.1", "over 64MiB", i))
		l.Append(v("10.0.0.2", "over 64MiB", i))
		c.add(time.Millisecond) // 1 s in all, within the window
	}
	l.Append(Event{Type: TypeConfigLoaded}) // never aggregated
	l.Append(Event{Type: TypeConfigLoaded})
	l.Append(v("10.0.0.1", "something else", 5000)) // not identical
	c.add(10 * time.Second)
	l.Append(v("10.0.0.1", "over 64MiB", 6000)) // a new window: written at once
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs := records(t, path)
	type key struct {
		client, detail string
		count          float64
	}
	got := map[key]int{}
	for _, r := range recs {
		if r["type"] == TypeViolation {
			cnt, _ := r["count"].(float64)
			got[key{r["client"].(string), r["detail"].(string), cnt}]++
		}
	}
	want := map[key]int{
		{"10.0.0.1", "over 64MiB", 0}:     2, // first of each window
		{"10.0.0.1", "over 64MiB", 999}:   1,
		{"10.0.0.2", "over 64MiB", 0}:     1,
		{"10.0.0.2", "over 64MiB", 999}:   1,
		{"10.0.0.1", "something else", 0}: 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("violation records %v, want %v", got, want)
	}
	if len(recs) != 8 {
		t.Errorf("%d records, want 8", len(recs))
	}
	for _, r := range recs {
		if r["count"] == float64(999) && (r["request_id"] != "999" || r["since"] != "2026-11-30T12:00:00.001Z") {
			t.Errorf("aggregated record %v: want the last request ID and the time of the first folded event", r)
		}
	}
	if st := l.Stats(); st.Aggregated != 1998 {
		t.Errorf("stats %+v", st)
	}
	verifyPath(t, path)
}

// TestAggregationWindowFlush: a run's record is written when its window
// ends, without waiting for another event or Close.
func TestAggregationWindowFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := OpenOptions(path, Options{AggregateWindow: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 5 {
		l.Append(Event{Type: TypeTrap, Route: "/r", Detail: "unreachable"})
	}
	waitFor(t, "the aggregated record", func() bool { return l.Head().Seq == 2 })
	recs := records(t, path)
	if recs[1]["count"] != float64(4) {
		t.Errorf("records %v", recs)
	}
}

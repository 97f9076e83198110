package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/digest"
)

// fullDisk is a log file on a disk that can be made full: while full, a
// write puts half its bytes in the file (as a real short write does) and
// fails with ENOSPC; fsync fails with ENOSPC too when syncFails is set.
type fullDisk struct {
	*os.File
	d *disk
}

type disk struct {
	mu        sync.Mutex
	full      bool
	syncFails bool
	fails     int
}

func (d *disk) set(full bool) {
	d.mu.Lock()
	d.full = full
	d.mu.Unlock()
}

func (f fullDisk) Write(b []byte) (int, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if f.d.full && !f.d.syncFails {
		f.d.fails++
		n, _ := f.File.Write(b[:len(b)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(b)
}

func (f fullDisk) Sync() error {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if f.d.full && f.d.syncFails {
		f.d.fails++
		return syscall.ENOSPC
	}
	return f.File.Sync()
}

func openOnDisk(t *testing.T, path string, opts Options, d *disk, maxQueue int) *Log {
	t.Helper()
	l, err := openLog(path, opts, hooks{
		open: func(p string) (file, error) {
			f, err := openFile(p)
			if err != nil {
				return nil, err
			}
			return fullDisk{f.(*os.File), d}, nil
		},
		retry:    5 * time.Millisecond,
		maxQueue: maxQueue,
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// records returns the file's records, failing on a partial line.
func records(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends with a partial record: %q", path, b[bytes.LastIndexByte(b, '\n')+1:])
	}
	var out []map[string]any
	for line := range bytes.SplitSeq(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func verifyPath(t *testing.T, path string) Summary {
	t.Helper()
	files, err := LogFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHead(path + ".head")
	if err != nil {
		t.Fatal(err)
	}
	s, err := VerifyFiles(files, &h)
	if err != nil {
		t.Fatalf("verify %v: %v", files, err)
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteFailure fills the disk under the log (ENOSPC from the file) and
// checks, for each failure mode and each failing call, that no partial
// record is left, Available says what the gateway must do, events are kept
// or counted as lost exactly, and the chain verifies once space is back.
func TestWriteFailure(t *testing.T) {
	tests := []struct {
		mode      FailureMode
		syncFails bool
		extra     int // events appended while the disk is full
		queue     int
		wantLost  int
	}{
		{FailClosed, false, 3, 8, 0},
		{FailClosed, true, 3, 8, 0},
		{FailOpen, false, 20, 8, 20 + 1 - 8}, // 1 in the failed batch + 20 more, 8 fit
		{FailOpen, true, 5, 8, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/syncFails=%v", tc.mode, tc.syncFails), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			d := &disk{syncFails: tc.syncFails}
			var logbuf syncBuffer
			logger := slog.New(slog.NewTextHandler(&logbuf, nil))
			l := openOnDisk(t, path, Options{OnFailure: tc.mode, Logger: logger}, d, tc.queue)
			ctx := context.Background()
			for i := range 3 {
				l.Append(Event{Type: TypeViolation, Detail: fmt.Sprintf("before %d", i)})
			}
			if err := l.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			d.set(true)
			if err := l.Append(Event{Type: TypeViolation, Detail: "first on a full disk"}); err != nil {
				t.Fatalf("Append = %v", err)
			}
			waitFor(t, "the write failure", func() bool { return l.Err() != nil })
			if !errors.Is(l.Err(), syscall.ENOSPC) {
				t.Errorf("Err = %v, want ENOSPC", l.Err())
			}
			avail := l.Available()
			if tc.mode == FailClosed && !errors.Is(avail, syscall.ENOSPC) || tc.mode == FailOpen && avail != nil {
				t.Errorf("Available = %v under %s", avail, tc.mode)
			}
			if err := l.Sync(ctx); err == nil {
				t.Error("Sync succeeded on a full disk")
			}
			lostErrs := 0
			for i := 0; i < tc.extra; i++ {
				if err := l.Append(Event{Type: TypeTrap, Detail: fmt.Sprintf("during %d", i)}); err != nil {
					lostErrs++
				}
			}
			// While the disk is full the file holds only whole records.
			if n := len(records(t, path)); n != 3 {
				t.Errorf("%d records on disk while full, want 3", n)
			}
			d.set(false)
			waitFor(t, "recovery", func() bool { return l.Err() == nil })
			if err := l.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			recs := records(t, path)
			st := l.Stats()
			if int(st.Lost) != tc.wantLost || lostErrs != max(tc.wantLost, 0) {
				t.Errorf("lost %d (Append errors %d), want %d", st.Lost, lostErrs, tc.wantLost)
			}
			wantRecs := 3 + 1 + tc.extra - tc.wantLost
			if tc.wantLost > 0 {
				wantRecs++ // the records_lost marker
				var marker map[string]any
				for _, r := range recs {
					if r["type"] == TypeRecordsLost {
						marker = r
					}
				}
				if marker == nil || marker["count"] != float64(tc.wantLost) {
					t.Errorf("records_lost marker = %v, want count %d", marker, tc.wantLost)
				}
			}
			if len(recs) != wantRecs {
				t.Errorf("%d records, want %d", len(recs), wantRecs)
			}
			if recs[3+btoi(tc.wantLost > 0)]["detail"] != "first on a full disk" {
				t.Errorf("record 4 = %v: the failed batch was not kept in order", recs[3])
			}
			if st.WriteErrors == 0 {
				t.Error("no write error counted")
			}
			verifyPath(t, path)
			// The alert: one error line when writing stops, one when it resumes.
			logs := logbuf.String()
			if strings.Count(logs, "level=ERROR msg=\"audit log write failed; retrying\"") != 1 ||
				!strings.Contains(logs, "no space left on device") ||
				!regexp.MustCompile(fmt.Sprintf(`level=WARN msg="audit log writing again" path=\S+ lost=%d\n`, tc.wantLost)).MatchString(logs) {
				t.Errorf("log lines:\n%s", logs)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestCloseOnFullDisk: Close does not hang while the disk stays full; it
// says how many events were lost and leaves only whole records.
func TestCloseOnFullDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	d := &disk{}
	l := openOnDisk(t, path, Options{Logger: slog.New(slog.DiscardHandler)}, d, 0)
	l.Append(Event{Type: TypeServerStart})
	l.Sync(context.Background())
	d.set(true)
	l.Append(Event{Type: TypeViolation})
	l.Append(Event{Type: TypeServerStop})
	done := make(chan error)
	go func() { done <- l.Close() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "2 events lost") || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs on a full disk")
	}
	if n := len(records(t, path)); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
	verifyPath(t, path)
}

// TestRestartAfterPartialLine: a log whose last line was cut (a crash in
// the middle of a write) opens, the cut record is removed and a
// log_repaired record says so, and the chain (and the head written before
// the crash) still verify.
func TestRestartAfterPartialLine(t *testing.T) {
	tests := []struct {
		name       string
		tail       func(next []byte) []byte // what the crash left after 2 records
		wantRecs   int
		wantRepair bool
	}{
		{"cut mid-record", func(next []byte) []byte { return next[:len(next)/2] }, 4, true},
		{"cut before the newline", func(next []byte) []byte { return next }, 4, false},
		{"one byte", func(next []byte) []byte { return next[:1] }, 4, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeLog(t, 2)
			ls := lines(t, path)
			last := bytes.TrimSuffix(ls[1], []byte("\n"))
			next, _ := formatRecord(3, time.Now(), digest.SHA256Hex(last), Event{Type: TypeViolation, Detail: "cut"})
			cut := tc.tail(next)
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(cut)
			f.Close()

			l, err := Open(path)
			if err != nil {
				t.Fatalf("Open after a partial line: %v", err)
			}
			l.Append(Event{Type: TypeServerStart})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			recs := records(t, path)
			if len(recs) != tc.wantRecs-btoi(tc.wantRepair)+btoi(tc.wantRepair) {
				t.Fatalf("%d records, want %d", len(recs), tc.wantRecs)
			}
			if tc.wantRepair {
				r := recs[2]
				if r["type"] != TypeLogRepaired || r["sha256"] != digest.SHA256Hex(cut) ||
					!strings.Contains(r["detail"].(string), fmt.Sprintf("partial record of %d bytes", len(cut))) {
					t.Errorf("record 3 = %v, want a log_repaired naming the %d bytes", r, len(cut))
				}
			} else if recs[2]["detail"] != "cut" {
				t.Errorf("record 3 = %v, want the completed record", recs[2])
			}
			if recs[3]["type"] != TypeServerStart {
				t.Errorf("record 4 = %v", recs[3])
			}
			if s := verifyPath(t, path); s.Head.Seq != 4 {
				t.Errorf("head %+v", s.Head)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOpenRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	os.WriteFile(path, []byte("hello\n"), 0o600)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "line 1: last record is not a wasmward audit record") {
		t.Fatalf("Open foreign file = %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{}, ""},
		{Options{OnFailure: FailOpen, MaxSize: MinMaxSize, MaxAge: time.Hour, Keep: 3, AggregateWindow: time.Second}, ""},
		{Options{OnFailure: "ignore"}, `on_failure "ignore" is not fail_closed or fail_open`},
		{Options{MaxSize: 100}, "max_size 100 is below the minimum"},
		{Options{MaxSize: -1}, "max_size must not be negative"},
		{Options{MaxAge: -1}, "max_age must not be negative"},
		{Options{Keep: -1}, "keep must not be negative"},
		{Options{AggregateWindow: -1}, "aggregate_window must not be negative"},
	}
	for _, tc := range tests {
		err := tc.o.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

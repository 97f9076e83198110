package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/digest"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)} }

// rotatedLog writes n events of about 300 bytes into a log rotated at
// MinMaxSize, one Sync per 50 events, and returns its path.
func rotatedLog(t *testing.T, n int, opts Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	opts.MaxSize = MinMaxSize
	l, err := OpenOptions(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		l.Append(Event{Type: TypeViolation, Route: "/r", Detail: fmt.Sprintf("event %d %s", i, strings.Repeat("x", 150))})
		if i%50 == 49 {
			if err := l.Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRotationBySize(t *testing.T) {
	path := rotatedLog(t, 1000, Options{})
	files, err := LogFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d files after 300 KB at a 64 KiB limit: %v", len(files), files)
	}
	total := 0
	for i, f := range files {
		st, _ := os.Stat(f)
		if st.Size() > MinMaxSize {
			t.Errorf("%s is %d bytes, over max_size", f, st.Size())
		}
		recs := records(t, f)
		total += len(recs)
		if i == 0 {
			if recs[0]["seq"] != float64(1) || recs[0]["prev"] != Genesis {
				t.Errorf("first file starts with %v", recs[0])
			}
			continue
		}
		// The first record of a file names the last hash of the one before.
		before := lines(t, files[i-1])
		lastLine := bytes.TrimSuffix(before[len(before)-1], []byte("\n"))
		if recs[0]["type"] != TypeLogContinued || recs[0]["prev"] != digest.SHA256Hex(lastLine) || recs[0]["file"] != filepath.Base(files[i-1]) {
			t.Errorf("%s starts with %v, want a log_continued of %s chained to %s", f, recs[0], files[i-1], digest.SHA256Hex(lastLine)[:16])
		}
		if want := RotatedName(path, uint64(recs[0]["seq"].(float64))); i < len(files)-1 && f != want {
			t.Errorf("rotated file %s, want %s", f, want)
		}
	}
	s := verifyPath(t, path)
	if s.Records != total || s.Files != len(files) || s.First != 1 || total != 1000+len(files)-1 {
		t.Errorf("summary %+v, %d records in %d files", s, total, len(files))
	}
	// Restarting continues the chain in the current file.
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(Event{Type: TypeServerStart})
	l.Close()
	if s2 := verifyPath(t, path); s2.Head.Seq != s.Head.Seq+1 {
		t.Errorf("after restart head %+v, before %+v", s2.Head, s.Head)
	}
}

// TestVerifyAcrossFiles tampers with a rotated log in each way a file set
// can be damaged and checks the file, line and reason reported.
func TestVerifyAcrossFiles(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(t *testing.T, files []string) []string
		wantFile int // index into the original files
		wantLine int // 0: the last line + 1 of wantFile
		wantMsg  string
		noAnchor bool
	}{
		{"missing middle file", func(t *testing.T, f []string) []string {
			os.Remove(f[1])
			return append(f[:1:1], f[2:]...)
		}, 2, 1, "a file or records between them are missing", false},
		{"changed record in a rotated file", func(t *testing.T, f []string) []string {
			ls := lines(t, f[1])
			ls[1] = bytes.Replace(ls[1], []byte(`"detail":"event `), []byte(`"detail":"event 9`), 1)
			os.WriteFile(f[1], bytes.Join(ls, nil), 0o600)
			return f
		}, 1, 3, "does not match", false},
		{"truncated rotated file", func(t *testing.T, f []string) []string {
			ls := lines(t, f[1])
			os.WriteFile(f[1], bytes.Join(ls[:len(ls)-3], nil), 0o600)
			return f
		}, 2, 1, "the file before ends at record", false},
		{"truncated current file", func(t *testing.T, f []string) []string {
			last := f[len(f)-1]
			ls := lines(t, last)
			os.WriteFile(last, bytes.Join(ls[:len(ls)-2], nil), 0o600)
			return f
		}, -1, 0, "the tail was truncated", false},
		{"first file removed", func(t *testing.T, f []string) []string {
			os.Remove(f[0])
			return f[1:]
		}, 1, 1, "no log_pruned record accounts for records 1 to", true},
		{"files given out of order", func(t *testing.T, f []string) []string {
			return append([]string{f[len(f)-1]}, f[:len(f)-1]...)
		}, -2, 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := rotatedLog(t, 1000, Options{})
			files, _ := LogFiles(path)
			orig := append([]string(nil), files...)
			head, _ := ReadHead(path + ".head")
			given := tc.edit(t, files)
			anchor := &head
			if tc.noAnchor {
				anchor = nil
			}
			_, err := VerifyFiles(given, anchor)
			if tc.wantFile == -2 {
				if err != nil {
					t.Fatalf("out of order: %v", err)
				}
				return
			}
			var te *TamperError
			if !errors.As(err, &te) {
				t.Fatalf("VerifyFiles = %v, want a TamperError", err)
			}
			wantFile := orig[len(orig)-1]
			if tc.wantFile >= 0 {
				wantFile = orig[tc.wantFile]
			}
			if te.File != wantFile || !strings.Contains(te.Reason, tc.wantMsg) {
				t.Errorf("got %v, want %s with %q", te, wantFile, tc.wantMsg)
			}
			if tc.wantLine > 0 && te.Line != tc.wantLine {
				t.Errorf("line %d, want %d", te.Line, tc.wantLine)
			}
			if tc.wantLine == 0 && te.Line != len(lines(t, wantFile))+1 {
				t.Errorf("line %d, want %d", te.Line, len(lines(t, wantFile))+1)
			}
		})
	}
}

// TestRetention keeps two rotated files: the older ones are removed after
// a log_pruned record naming them, the set verifies from its pruned start,
// and removing one more file by hand is caught.
func TestRetention(t *testing.T) {
	path := rotatedLog(t, 1500, Options{Keep: 2})
	files, _ := LogFiles(path)
	if len(files) != 3 {
		t.Fatalf("files %v, want 2 rotated + the current one", files)
	}
	s := verifyPath(t, path)
	if s.First <= 1 {
		t.Fatalf("summary %+v: nothing was pruned", s)
	}
	// The log_pruned record for the start of the set names its first
	// record's predecessor and hash.
	firstRecs := records(t, files[0])
	found := false
	for _, f := range files {
		for _, r := range records(t, f) {
			if r["type"] == TypeLogPruned && r["through"] == float64(s.First-1) && r["sha256"] == firstRecs[0]["prev"] {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no log_pruned record for records before %d", s.First)
	}
	os.Remove(files[0])
	var te *TamperError
	if _, err := VerifyFiles(files[1:], nil); !errors.As(err, &te) || !strings.Contains(te.Reason, "no log_pruned record accounts") {
		t.Errorf("after removing the oldest kept file: %v", err)
	}
}

func TestRotationByAge(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := openLog(path, Options{MaxAge: time.Hour}, hooks{now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	write := func(d string) {
		l.Append(Event{Type: TypeTrap, Detail: d})
		if err := l.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	write("a")
	c.add(59 * time.Minute)
	write("b")
	if files, _ := LogFiles(path); len(files) != 1 {
		t.Fatalf("rotated before max_age: %v", files)
	}
	c.add(time.Minute)
	write("c")
	l.Close()
	files, _ := LogFiles(path)
	if len(files) != 2 || files[0] != RotatedName(path, 1) {
		t.Fatalf("files %v", files)
	}
	if recs := records(t, files[1]); len(recs) != 2 || recs[0]["type"] != TypeLogContinued || recs[1]["detail"] != "c" {
		t.Errorf("current file %v", recs)
	}
	verifyPath(t, path)
}

// TestRestartAfterRotationCrash: the process died between renaming the
// file away and writing the new one; Open continues the rotated file's
// chain with a log_continued record.
func TestRestartAfterRotationCrash(t *testing.T) {
	path := writeLog(t, 3)
	if err := os.Rename(path, RotatedName(path, 1)); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(Event{Type: TypeServerStart})
	l.Close()
	recs := records(t, path)
	if len(recs) != 2 || recs[0]["type"] != TypeLogContinued || recs[0]["seq"] != float64(4) {
		t.Errorf("records %v", recs)
	}
	if s := verifyPath(t, path); s.Records != 5 || s.Files != 2 {
		t.Errorf("summary %+v", s)
	}
}

func TestLogInDir(t *testing.T) {
	path := rotatedLog(t, 600, Options{})
	got, err := LogInDir(filepath.Dir(path))
	if err != nil || got != path {
		t.Errorf("LogInDir = %q, %v", got, err)
	}
	os.WriteFile(filepath.Join(filepath.Dir(path), "other.jsonl.head"), []byte("{}"), 0o600)
	if _, err := LogInDir(filepath.Dir(path)); err == nil || !strings.Contains(err.Error(), "holds 2 audit logs (audit.jsonl, other.jsonl): name the files") {
		t.Errorf("two logs: %v", err)
	}
	if _, err := LogInDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no audit log here") {
		t.Errorf("empty dir: %v", err)
	}
}

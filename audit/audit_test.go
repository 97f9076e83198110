package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmward/wasmward/internal/digest"
)

func writeLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := l.Append(Event{Type: TypeViolation, Route: "/r", Kind: "timeout", Detail: fmt.Sprintf("event %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func TestChainFormat(t *testing.T) {
	path := writeLog(t, 3)
	ls := lines(t, path)
	if len(ls) != 3 {
		t.Fatalf("got %d lines, want 3", len(ls))
	}
	if !bytes.HasPrefix(ls[0], []byte(`{"seq":1,"time":"`)) || !bytes.Contains(ls[0], []byte(`"prev":"`+Genesis+`","type":"violation","route":"/r","kind":"timeout","detail":"event 0"}`)) {
		t.Errorf("first line = %s", ls[0])
	}
	want := digest.SHA256Hex(bytes.TrimSuffix(ls[0], []byte("\n")))
	if !bytes.Contains(ls[1], []byte(`"prev":"`+want+`"`)) || !bytes.HasPrefix(ls[1], []byte(`{"seq":2,`)) {
		t.Errorf("second line %s does not chain to %s", ls[1], want)
	}
	f, _ := os.Open(path)
	defer f.Close()
	s, err := Verify(f)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHead(path + ".head")
	if err != nil {
		t.Fatal(err)
	}
	if s.Records != 3 || s.Head != h || h.Seq != 3 || h.Hash != digest.SHA256Hex(bytes.TrimSuffix(ls[2], []byte("\n"))) {
		t.Errorf("summary %+v, head %+v", s, h)
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path := writeLog(t, 2)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Event{Type: TypeServerStart}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := l.Head(); h.Seq != 3 {
		t.Errorf("head after sync = %+v, want seq 3", h)
	}
	l.Close()
	f, _ := os.Open(path)
	defer f.Close()
	if s, err := Verify(f); err != nil || s.Records != 3 {
		t.Fatalf("verify after reopen: %+v %v", s, err)
	}
}

func TestTamperDetection(t *testing.T) {
	tests := []struct {
		name     string
		edit     func([][]byte) [][]byte
		wantLine int
		wantMsg  string
	}{
		{"change a field", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte("event 1"), []byte("event X"), 1)
			return l
		}, 3, "does not match"},
		{"delete a middle line", func(l [][]byte) [][]byte { return append(l[:1:1], l[2:]...) }, 2, "does not match"},
		{"swap two lines", func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, 2, "does not match"},
		{"break JSON", func(l [][]byte) [][]byte { l[3] = []byte("{\"seq\":4,\n"); return l }, 4, "not valid JSON"},
		{"partial last line", func(l [][]byte) [][]byte {
			l[4] = bytes.TrimSuffix(l[4], []byte("\n"))
			return l
		}, 5, "partial record"},
		{"insert a forged line", func(l [][]byte) [][]byte {
			forged := []byte(`{"seq":2,"time":"2026-01-01T00:00:00Z","prev":"` + digest.SHA256Hex(bytes.TrimSuffix(l[0], []byte("\n"))) + `","type":"config_loaded"}` + "\n")
			return append(l[:1:1], append([][]byte{forged}, l[1:]...)...)
		}, 3, "does not match"},
		{"renumber", func(l [][]byte) [][]byte {
			l[0] = bytes.Replace(l[0], []byte(`"seq":1`), []byte(`"seq":7`), 1)
			return l
		}, 1, "seq 7, want 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls := tc.edit(lines(t, writeLog(t, 5)))
			_, err := Verify(bytes.NewReader(bytes.Join(ls, nil)))
			var te *TamperError
			if !errors.As(err, &te) {
				t.Fatalf("Verify = %v, want a TamperError", err)
			}
			if te.Line != tc.wantLine || !strings.Contains(te.Reason, tc.wantMsg) {
				t.Errorf("got %v, want line %d with %q", te, tc.wantLine, tc.wantMsg)
			}
		})
	}
}

func TestAnchorDetectsTailEdits(t *testing.T) {
	path := writeLog(t, 4)
	head, err := ReadHead(path + ".head")
	if err != nil {
		t.Fatal(err)
	}
	ls := lines(t, path)

	// Truncation: still a valid chain, caught only by the anchor.
	trunc := bytes.Join(ls[:3], nil)
	if _, err := Verify(bytes.NewReader(trunc)); err != nil {
		t.Fatalf("a truncated chain verifies without an anchor: %v", err)
	}
	_, err = VerifyAnchor(bytes.NewReader(trunc), head)
	var te *TamperError
	if !errors.As(err, &te) || te.Line != 4 || !strings.Contains(te.Reason, "truncated") {
		t.Errorf("truncated: %v", err)
	}

	// Rewriting the last line: caught only by the anchor.
	ls[3] = bytes.Replace(ls[3], []byte("event 3"), []byte("benign!"), 1)
	edited := bytes.Join(ls, nil)
	if _, err := Verify(bytes.NewReader(edited)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := VerifyAnchor(bytes.NewReader(edited), head); !errors.As(err, &te) || te.Line != 4 {
		t.Errorf("rewritten last line: %v", err)
	}

	// The intact file passes.
	f, _ := os.Open(path)
	defer f.Close()
	if s, err := VerifyAnchor(f, head); err != nil || s.Head != head {
		t.Errorf("intact: %+v %v", s, err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 200 {
				if err := l.Append(Event{Type: TypeTrap, Detail: strings.Repeat("x", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Event{Type: TypeTrap}); err == nil {
		t.Error("Append after Close succeeded")
	}
	f, _ := os.Open(path)
	defer f.Close()
	s, err := Verify(f)
	if err != nil || s.Records != 1600 {
		t.Fatalf("verify: %+v %v", s, err)
	}
}

func TestDetailIsCapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	l, _ := Open(path)
	l.Append(Event{Type: TypeTrap, Detail: strings.Repeat("y", 3*MaxDetail)})
	l.Close()
	b, _ := os.ReadFile(path)
	if len(b) > MaxDetail+300 || !bytes.Contains(b, []byte(`yyy..."`)) {
		t.Errorf("record of %d bytes", len(b))
	}
}

package quarantine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	shaA = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
	shaB = "aaaaaaaaaaaa2222222222222222222222222222222222222222222222222222"
)

func TestAddReleasePersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	s.OnChange(func() { changes++ })
	if s.Quarantined(shaA) {
		t.Fatal("empty store quarantines")
	}
	for i, want := range []bool{true, false} { // idempotent
		added, err := s.Add(Entry{SHA256: strings.ToUpper(shaA), Route: "/evil/...", Rule: "r", Reason: "3 violations"})
		if err != nil || added != want {
			t.Fatalf("add %d: %v %v", i, added, err)
		}
	}
	if _, err := s.Add(Entry{SHA256: shaB}); err != nil {
		t.Fatal(err)
	}
	if !s.Quarantined(shaA) || !s.Quarantined(shaB) || s.Len() != 2 || changes != 2 {
		t.Fatalf("quarantined %v %v len %d changes %d", s.Quarantined(shaA), s.Quarantined(shaB), s.Len(), changes)
	}
	if fi, err := os.Stat(s.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file %v %v", fi, err)
	}
	// A fresh process sees both.
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l := s2.List(); len(l) != 2 || l[0].SHA256 != shaA || l[0].Route != "/evil/..." || l[0].Since.IsZero() {
		t.Fatalf("reopened: %+v", l)
	}
	// IDs: a 12-digit prefix naming two is ambiguous; longer ones work.
	if _, err := s2.Release("aaaaaaaaaaaa"); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("ambiguous release: %v", err)
	}
	if _, err := s2.Release("aaaaaa"); err == nil || !strings.Contains(err.Error(), "at least its first 12 hex digits") {
		t.Fatalf("short ID: %v", err)
	}
	if e, err := s2.Release("sha256:" + shaA[:20]); err != nil || e.SHA256 != shaA {
		t.Fatalf("release: %+v %v", e, err)
	}
	if _, err := s2.Release(shaA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second release: %v", err)
	}
	s3, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s3.Quarantined(shaA) || !s3.Quarantined(shaB) {
		t.Fatal("release not persisted")
	}
}

// A quarantine file that cannot be parsed stops the start: starting
// without it would release every module silently.
func TestCorruptFileRefused(t *testing.T) {
	for _, body := range []string{"{", `{"version":1,"quarantined":[{"sha256":"xyz"}]}`, `{"version":2}`, `{"version":1,"extra":1}`} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), FileName) {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// Package quarantine keeps the set of quarantined modules, by digest,
// persisted in a state directory so that a quarantine survives a restart.
// Quarantined is lock-free (one atomic load and a map lookup): the gateway
// asks it before every run.
package quarantine

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmward/wasmward/internal/atomicfile"
)

// FileName is the quarantine file in the state directory.
const FileName = "quarantine.json"

// Entry is one quarantined module.
type Entry struct {
	// SHA256 is the module's digest (64 lower-case hex digits); it is the
	// entry's ID.
	SHA256 string `json:"sha256"`
	// Route and Module say where it was serving when it was quarantined.
	Route  string `json:"route,omitempty"`
	Module string `json:"module,omitempty"`
	// Rule is the alert rule that isolated it; Reason says why.
	Rule   string    `json:"rule,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// ErrNotFound is returned (wrapped) for an ID that names no quarantined
// module.
var ErrNotFound = errors.New("not quarantined")

// ErrAmbiguous is returned (wrapped) for an ID prefix naming several.
var ErrAmbiguous = errors.New("ambiguous quarantine ID")

// Store is the quarantine. Its methods are safe for concurrent use.
type Store struct {
	path string
	mu   sync.Mutex // serializes changes and their writes
	set  atomic.Pointer[map[string]Entry]
	// onChange, when set, is called after every change.
	onChange func()
}

type file struct {
	Version     int     `json:"version"`
	Quarantined []Entry `json:"quarantined"`
}

// Open reads the quarantine of state directory dir (created, mode 0700,
// when missing). A quarantine file that cannot be read or parsed is an
// error: starting without it would silently release every module.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("quarantine: no state directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("quarantine: create state directory: %w", err)
	}
	s := &Store{path: filepath.Join(dir, FileName)}
	m := map[string]Entry{}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("quarantine: %w", err)
	default:
		var f file
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("quarantine: %s: %w", s.path, err)
		}
		if f.Version != 1 {
			return nil, fmt.Errorf("quarantine: %s: version %d is not 1", s.path, f.Version)
		}
		for i, e := range f.Quarantined {
			if !validSHA(e.SHA256) {
				return nil, fmt.Errorf("quarantine: %s: entry %d: %q is not a SHA-256 digest", s.path, i, e.SHA256)
			}
			m[e.SHA256] = e
		}
	}
	s.set.Store(&m)
	return s, nil
}

// OnChange sets a function called after every change (add or release).
// Call it before the store is shared.
func (s *Store) OnChange(f func()) { s.onChange = f }

// Path is the quarantine file.
func (s *Store) Path() string { return s.path }

// Quarantined reports whether the module with digest sha (hex) is
// quarantined.
func (s *Store) Quarantined(sha string) bool {
	m := *s.set.Load()
	if len(m) == 0 {
		return false
	}
	_, ok := m[sha]
	return ok
}

// Len is the number of quarantined modules.
func (s *Store) Len() int { return len(*s.set.Load()) }

// List returns the quarantined modules, oldest first.
func (s *Store) List() []Entry {
	m := *s.set.Load()
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].SHA256 < out[j].SHA256
	})
	return out
}

// Add quarantines e.SHA256 and writes the file before it returns. It is
// idempotent: a module already quarantined keeps its entry, and added is
// false.
func (s *Store) Add(e Entry) (added bool, err error) {
	e.SHA256 = strings.ToLower(e.SHA256)
	if !validSHA(e.SHA256) {
		return false, fmt.Errorf("quarantine: %q is not a SHA-256 digest", e.SHA256)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.set.Load()
	if _, ok := old[e.SHA256]; ok {
		return false, nil
	}
	if e.Since.IsZero() {
		e.Since = time.Now().UTC()
	}
	m := make(map[string]Entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[e.SHA256] = e
	// In memory first: whatever the disk does, the module stops now.
	s.set.Store(&m)
	if err := s.write(m); err != nil {
		s.changed()
		return true, err
	}
	s.changed()
	return true, nil
}

// Release ends the quarantine of the module id names: its digest, or a
// prefix of at least 12 hex digits naming one quarantined module.
func (s *Store) Release(id string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.set.Load()
	e, err := find(old, id)
	if err != nil {
		return Entry{}, err
	}
	m := make(map[string]Entry, len(old))
	for k, v := range old {
		if k != e.SHA256 {
			m[k] = v
		}
	}
	if err := s.write(m); err != nil {
		return Entry{}, err // still quarantined: the file says so
	}
	s.set.Store(&m)
	s.changed()
	return e, nil
}

// Get returns the entry id names (a digest or a prefix of at least 12 hex
// digits).
func (s *Store) Get(id string) (Entry, error) { return find(*s.set.Load(), id) }

func find(m map[string]Entry, id string) (Entry, error) {
	id = strings.TrimPrefix(strings.ToLower(id), "sha256:")
	if len(id) < 12 || len(id) > 64 {
		return Entry{}, fmt.Errorf("quarantine ID %q: give the module's digest or at least its first 12 hex digits", id)
	}
	if _, err := hex.DecodeString(id[:len(id)&^1]); err != nil {
		return Entry{}, fmt.Errorf("quarantine ID %q: not hexadecimal", id)
	}
	var found []Entry
	for k, e := range m {
		if strings.HasPrefix(k, id) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	case 1:
		return found[0], nil
	}
	return Entry{}, fmt.Errorf("%w: %s names %d modules", ErrAmbiguous, id, len(found))
}

func (s *Store) write(m map[string]Entry) error {
	f := file{Version: 1, Quarantined: make([]Entry, 0, len(m))}
	for _, e := range m {
		f.Quarantined = append(f.Quarantined, e)
	}
	sort.Slice(f.Quarantined, func(i, j int) bool { return f.Quarantined[i].SHA256 < f.Quarantined[j].SHA256 })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("quarantine: encode: %w", err)
	}
	if err := atomicfile.Write(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("quarantine: write %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) changed() {
	if s.onChange != nil {
		s.onChange()
	}
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

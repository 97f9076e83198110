package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/wasmward/wasmward/internal/atomicfile"
)

// State remembers, per module name, the highest version a host accepted, so
// that an older signed build cannot be replayed (rollback protection). It is
// a small JSON file rewritten atomically (temporary file, fsync, rename) on
// every change. Each decision (read, check, write) holds an exclusive flock
// on a companion file, PATH.lock, so that State values in one process and
// in several processes sharing the file never lose each other's updates. It
// is safe for concurrent use.
type State struct {
	path string
	mu   sync.Mutex
}

type stateFile struct {
	Version int               `json:"version"`
	Modules map[string]string `json:"modules"`
}

// OpenState returns the state kept at path. The file need not exist yet; a
// file that exists must parse.
func OpenState(path string) (*State, error) {
	s := &State{path: path}
	if _, err := s.read(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *State) read() (*stateFile, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &stateFile{Version: 1, Modules: map[string]string{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read version state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("version state %s: %w", s.path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("version state %s: unsupported format version %d", s.path, f.Version)
	}
	if f.Modules == nil {
		f.Modules = map[string]string{}
	}
	for m, v := range f.Modules {
		if _, err := ParseVersion(v); err != nil {
			return nil, fmt.Errorf("version state %s: module %q: %w", s.path, m, err)
		}
	}
	return &f, nil
}

// Accepted returns the highest version accepted for module, "" if none.
func (s *State) Accepted(module string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return "", err
	}
	return f.Modules[module], nil
}

// Admit decides whether version of module may run and records it. A version
// lower than the one recorded is refused with a *RefusedError (reason
// rollback) unless allowDowngrade, in which case it is accepted and becomes
// the recorded version. An unversioned module is refused once a version of
// the same name was accepted (an old, unversioned build is a rollback too),
// unless allowDowngrade; it is never recorded.
func (s *State) Admit(ctx context.Context, module, version string, allowDowngrade bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The lock is on PATH.lock, not on PATH: the write replaces PATH by a
	// rename, and a lock on the replaced file would exclude nobody.
	unlock, err := lockFile(ctx, s.path+".lock")
	if err != nil {
		return &RefusedError{Module: module, Reason: ReasonState, Err: err}
	}
	defer unlock()
	f, err := s.read()
	if err != nil {
		return &RefusedError{Module: module, Reason: ReasonState, Err: err}
	}
	prev, seen := f.Modules[module]
	if version == "" {
		if seen && !allowDowngrade {
			return refuse(module, ReasonRollback, "it carries no signed version, and version %s was accepted before (--allow-downgrade to run it anyway)", prev)
		}
		return nil
	}
	v, err := ParseVersion(version)
	if err != nil {
		return refuse(module, ReasonMalformed, "%w", err)
	}
	if seen {
		pv, err := ParseVersion(prev)
		if err != nil {
			return &RefusedError{Module: module, Reason: ReasonState, Err: err}
		}
		c := v.Compare(pv)
		if c < 0 && !allowDowngrade {
			return refuse(module, ReasonRollback, "version %s is older than %s, accepted before (--allow-downgrade to run it anyway)", version, prev)
		}
		if c == 0 {
			return nil
		}
	}
	f.Modules[module] = version
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return &RefusedError{Module: module, Reason: ReasonState, Err: err}
	}
	if err := atomicfile.WriteContained(s.path, append(data, '\n'), 0o644); err != nil {
		return &RefusedError{Module: module, Reason: ReasonState, Err: fmt.Errorf("write version state: %w", err)}
	}
	return nil
}

// Package compcache stores compiled machine code on disk, with the
// instrumented module it was compiled from and that module's memory image,
// so that all three can be loaded again without being trusted: every entry
// is authenticated with HMAC-SHA256 under a key kept outside the cache
// directory, and the MAC covers what the entry was produced from and for
// (the module's digest, the instrumentation settings, the wasmward build,
// the wazero version, the platform, the CPU features and the engine) and
// every byte it holds. An entry that does not verify, or that verifies but
// describes another module or another build, is deleted and reported; its
// bytes are never returned.
//
// Whoever can write the cache directory can only make wasmward recompile;
// running code in the host needs the key.
package compcache

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/wasmward/wasmward/internal/atomicfile"
)

// KeySize is the size of the HMAC key in bytes.
const KeySize = 32

// MaxEntry is the largest entry file Get reads (compiled code of the
// largest modules the budget admits is far below it).
const MaxEntry = 1 << 30

// magic starts every entry; v2 entries carry the instrumented module and
// its memory image besides the code (a v1 entry is rejected as "not an
// entry" and replaced).
var magic = []byte("wasmward-compcache-v2\n")

// Build describes what compiled code depends on besides the module: it is
// covered by every entry's MAC and checked on load.
type Build struct {
	// Wasmward identifies the wasmward code that instrumented the module:
	// a release version, a clean revision, or the executable's digest.
	Wasmward string `json:"wasmward"`
	Wazero   string `json:"wazero"`   // wazero version
	Platform string `json:"platform"` // GOOS/GOARCH
	CPU      string `json:"cpu"`      // CPU features the compiler may use
	Engine   string `json:"engine"`   // wazero engine
}

// ID names one compilation: the module and the instrumentation applied.
// Everything the entry's bytes are a function of, besides the Build, must
// be in it: a lookup by ID returns them without recomputing anything.
type ID struct {
	// Module is the hex SHA-256 of the module as given to wasmward.
	Module string `json:"module"`
	// Settings describes the instrumentation (fuel, stack depth, memory
	// cap, and whatever else the instrumented bytes depend on): one
	// canonical line.
	Settings string `json:"settings"`
}

// Entry is what one compilation leaves for the next: the module as
// compiled (instrumented, data segments moved into Image), its initial
// memory image, and the code wazero compiled from it.
type Entry struct {
	// Name is the file name wazero gave Code.
	Name string
	// Compiled is the module bytes wazero compiled Code from.
	Compiled []byte
	// Image is the module's initial linear memory when HasImage (it may
	// be empty: an image of zeros).
	Image    []byte
	HasImage bool
	// Code is wazero's compiled code file.
	Code []byte
}

// header is the authenticated description of an entry.
type header struct {
	ID
	Build
	Name     string `json:"name"`
	HasImage bool   `json:"has_image"`
	// The sizes of the byte strings that follow the header, in order.
	CompiledLen uint64 `json:"compiled_len"`
	ImageLen    uint64 `json:"image_len"`
	CodeLen     uint64 `json:"code_len"`
}

// Store is an authenticated cache directory.
type Store struct {
	dir   string
	key   []byte
	build Build
}

// Rejection is the error Get returns for an entry it deleted.
type Rejection struct {
	Path   string
	Reason string
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("compile cache entry %s rejected and deleted: %s", r.Path, r.Reason)
}

// Open opens (creating it 0700 if absent) the cache directory dir, whose
// entries are authenticated with key for build.
func Open(dir string, key []byte, build Build) (*Store, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("compile cache key: %d bytes, want %d", len(key), KeySize)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create compile cache directory: %w", err)
	}
	return &Store{dir: dir, key: bytes.Clone(key), build: build}, nil
}

// Dir returns the cache directory.
func (s *Store) Dir() string { return s.dir }

// path is the entry file of id: named by a digest of everything the entry
// depends on, so that another build or other settings use other files.
func (s *Store) path(id ID) string {
	h := sha256.New()
	b, _ := json.Marshal(header{ID: id, Build: s.build})
	h.Write(b)
	return filepath.Join(s.dir, hex.EncodeToString(h.Sum(nil))+".entry")
}

// Get returns the entry cached for id; nil when there is none. An entry
// that fails verification is deleted and reported as a *Rejection (the
// caller compiles afresh).
func (s *Store) Get(id ID) (*Entry, error) {
	p := s.path(id)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read compile cache entry: %w", err)
	}
	reject := func(reason string) (*Entry, error) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			reason += " (and it could not be deleted: " + err.Error() + ")"
		}
		return nil, &Rejection{Path: p, Reason: reason}
	}
	if !fi.Mode().IsRegular() {
		return reject("not a regular file")
	}
	if fi.Size() > MaxEntry {
		return reject("larger than the entry limit")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read compile cache entry: %w", err)
	}
	h, e, why := s.open(data)
	if why != "" {
		return reject(why)
	}
	if h.ID != id {
		return reject(fmt.Sprintf("authentic, but for another compilation (module %s, settings %q)", h.Module, h.Settings))
	}
	if h.Build != s.build {
		return reject("authentic, but for another build")
	}
	return e, nil
}

// open checks data's MAC and splits it; why says what is wrong.
func (s *Store) open(data []byte) (h header, e *Entry, why string) {
	if len(data) < len(magic)+4+sha256.Size || !bytes.HasPrefix(data, magic) {
		return h, nil, "not an entry (bad magic or truncated)"
	}
	body, mac := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	m := hmac.New(sha256.New, s.key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), mac) {
		return h, nil, "MAC mismatch (modified, or written under another key)"
	}
	rest := body[len(magic):]
	hl := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(hl) > uint64(len(rest)) {
		return h, nil, "malformed header length"
	}
	if err := json.Unmarshal(rest[:hl], &h); err != nil {
		return h, nil, "malformed header"
	}
	rest = rest[hl:]
	if h.CompiledLen > uint64(len(rest)) || h.ImageLen > uint64(len(rest))-h.CompiledLen ||
		h.CodeLen != uint64(len(rest))-h.CompiledLen-h.ImageLen {
		return h, nil, "malformed lengths"
	}
	if badName(h.Name) {
		return h, nil, "bad file name"
	}
	if !h.HasImage && h.ImageLen != 0 {
		return h, nil, "malformed image"
	}
	// Compiled and Image are kept for as long as the module is; copied,
	// they do not keep the code's buffer alive with them.
	e = &Entry{Name: h.Name, HasImage: h.HasImage}
	e.Compiled = bytes.Clone(rest[:h.CompiledLen])
	e.Image = bytes.Clone(rest[h.CompiledLen : h.CompiledLen+h.ImageLen])
	e.Code = rest[h.CompiledLen+h.ImageLen:]
	return h, e, ""
}

// badName reports whether name cannot be a file in wazero's cache
// directory (empty, a path, or a directory reference).
func badName(name string) bool {
	return name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".."
}

// Put stores e as the entry of id, atomically.
func (s *Store) Put(id ID, e *Entry) error {
	if badName(e.Name) {
		return fmt.Errorf("write compile cache entry: bad file name %q", e.Name)
	}
	if !e.HasImage && len(e.Image) != 0 {
		return errors.New("write compile cache entry: an image without HasImage")
	}
	hb, err := json.Marshal(header{ID: id, Build: s.build, Name: e.Name, HasImage: e.HasImage,
		CompiledLen: uint64(len(e.Compiled)), ImageLen: uint64(len(e.Image)), CodeLen: uint64(len(e.Code))})
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(magic)+4+len(hb)+len(e.Compiled)+len(e.Image)+len(e.Code)+sha256.Size)
	buf = append(buf, magic...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(hb)))
	buf = append(buf, hb...)
	buf = append(buf, e.Compiled...)
	buf = append(buf, e.Image...)
	buf = append(buf, e.Code...)
	m := hmac.New(sha256.New, s.key)
	m.Write(buf)
	buf = m.Sum(buf)
	if err := atomicfile.WriteContained(s.path(id), buf, 0o600); err != nil {
		return fmt.Errorf("write compile cache entry: %w", err)
	}
	return nil
}

// DefaultKeyPath is where the key lives when none is named:
// $XDG_CONFIG_HOME/wasmward/cache.key (os.UserConfigDir).
func DefaultKeyPath() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("compile cache key: no default location (%w); name one with --cache-key", err)
	}
	return filepath.Join(d, "wasmward", "cache.key"), nil
}

// LoadKey reads the hex key at path, creating it (0600, in a 0700
// directory; never replacing a file that appeared meanwhile) when absent.
// It refuses a key inside cacheDir (whoever writes the entries must not
// read or choose the key) and a key file that group or others may read or
// write.
func LoadKey(path, cacheDir string) ([]byte, error) {
	inside, err := within(path, cacheDir)
	if err != nil {
		return nil, err
	}
	if inside {
		return nil, fmt.Errorf("compile cache key %s: inside the cache directory %s; keep it outside", path, cacheDir)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create compile cache key: %w", err)
		}
		key := make([]byte, KeySize)
		_, _ = rand.Read(key)
		werr := atomicfile.WriteNew(path, []byte(hex.EncodeToString(key)+"\n"), 0o600)
		if werr == nil {
			return key, nil
		}
		if !errors.Is(werr, fs.ErrExist) {
			return nil, fmt.Errorf("create compile cache key: %w", werr)
		}
		data, err = os.ReadFile(path) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("read compile cache key: %w", err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("read compile cache key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("compile cache key %s: mode %04o lets others read or write it; chmod 600", path, fi.Mode().Perm())
		}
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("compile cache key %s: not %d hex-encoded bytes", path, KeySize)
	}
	return key, nil
}

// within reports whether path is dir or lies under it, symbolic links of
// existing parents resolved.
func within(path, dir string) (bool, error) {
	ap, err := realAbs(path)
	if err != nil {
		return false, err
	}
	ad, err := realAbs(dir)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil {
		return false, nil
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))), nil
}

// realAbs is path made absolute with the symbolic links of its longest
// existing prefix resolved.
func realAbs(path string) (string, error) {
	a, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	var tail []string
	for p := a; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, tail...)...), nil
		}
		if filepath.Dir(p) == p {
			return a, nil
		}
		tail = append([]string{filepath.Base(p)}, tail...)
	}
}

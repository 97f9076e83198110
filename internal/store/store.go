// Package store is wasmward's local module store: content-addressed blobs
// on disk plus an embedded transactional state database.
//
// Layout of a store directory (created 0700):
//
//	DIR/blobs/sha256/HEX   one file per blob, named by the SHA-256 of its bytes
//	DIR/state.db           the state database (go.etcd.io/bbolt)
//
// Guarantees:
//   - A blob file is written through internal/atomicfile (temporary file,
//     fsync, rename, directory fsync): after a crash it is absent or whole.
//   - Every read of a blob hashes it: a blob whose bytes do not hash to its
//     name is an error naming the digest (ErrCorrupt), never returned.
//   - State changes are transactions (Update): all of a transaction's
//     writes and references are committed together, or none (bbolt: copy on
//     write, fsync before the meta page flips).
//   - Write order is blob first, then the state that refers to it, so a
//     committed reference always names a blob that is on disk; a crash in
//     between leaves only an unreferenced blob, which GC removes.
//   - GC keeps every blob that any holder references (Tx.SetRefs: route
//     versions, rollback targets, pins); it runs inside a write transaction,
//     so it never interleaves with another transaction, in this process or
//     another.
//
// The database is opened for each transaction and closed after it, so
// several processes (a running gateway, `wasmward store ls|gc`) share one
// store: bbolt's file lock serialises them (a writer waits for readers and
// other writers, up to Options.LockTimeout).
package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmward/wasmward/internal/atomicfile"
)

// MaxBlobSize is the largest blob the store accepts or reads (256 MiB): a
// bigger file in the blob directory is refused, not loaded.
const MaxBlobSize = 256 << 20

// ErrNotFound is returned (wrapped) for a blob or key that is not in the store.
var ErrNotFound = errors.New("not found")

// ErrCorrupt is returned (wrapped) when a blob's bytes do not hash to its
// digest; the error names the digest.
var ErrCorrupt = errors.New("blob is corrupt")

// ErrDigestMismatch is returned (wrapped) when content fetched for a
// module reference does not have the digest that names it: a pinned
// manifest that is not the pin, a manifest, layer or blob whose bytes do
// not hash to their descriptor. The content was altered on the way or the
// reference lies; nothing fetched is stored.
var ErrDigestMismatch = errors.New("content does not match its digest")

// Options configure Open. The zero value is valid.
type Options struct {
	// LockTimeout bounds the wait for the state database's file lock held
	// by another process (default 10s). A transaction that cannot get it
	// fails saying the store is in use.
	LockTimeout time.Duration

	// hook, when set (only by this package's tests), is called at the named
	// points of a write; the crash-consistency test kills the process there.
	hook func(point string)
}

// Store is an open store directory. Its methods are safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	mu   sync.Mutex // one transaction at a time in this process
}

// Open opens (creating if needed, mode 0700) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, "blobs", "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 10 * time.Second
	}
	s := &Store{dir: abs, opts: opts}
	// Create the database (and its internal buckets) now, so that a
	// read-only transaction on a new store finds it.
	if err := s.Update(context.Background(), func(*Tx) error { return nil }); err != nil {
		return nil, err
	}
	return s, nil
}

// DefaultDir is where the store lives when no --store is given:
// $WASMWARD_STORE, else $XDG_STATE_HOME/wasmward/store, else
// ~/.local/state/wasmward/store.
func DefaultDir() (string, error) {
	if d := os.Getenv("WASMWARD_STORE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wasmward", "store"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: no --store, $WASMWARD_STORE or home directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "wasmward", "store"), nil
}

// Dir returns the store's absolute directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobPath(d Digest) string {
	return filepath.Join(s.dir, "blobs", "sha256", d.Hex())
}

func (s *Store) point(name string) {
	if s.opts.hook != nil {
		s.opts.hook(name)
	}
}

// PutBlob stores b and returns its digest. It is idempotent: a blob already
// present and intact is not rewritten (a corrupt one is replaced). The blob
// is not referenced: reference it (Tx.SetRefs) soon, or GC collects it once
// it is older than GCOptions.Grace. Prefer Tx.PutBlob inside the Update
// that records the reference.
func (s *Store) PutBlob(ctx context.Context, b []byte) (Digest, error) {
	var d Digest
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		d, err = tx.PutBlob(b)
		return err
	})
	return d, err
}

func (s *Store) writeBlob(b []byte) (Digest, error) {
	if len(b) > MaxBlobSize {
		return "", fmt.Errorf("store: blob of %d bytes is over the %d-byte limit", len(b), MaxBlobSize)
	}
	d := DigestOf(b)
	if _, err := s.readBlob(d); err == nil {
		return d, nil
	}
	s.point("blob-write")
	if err := atomicfile.WriteContained(s.blobPath(d), b, 0o600); err != nil {
		return "", fmt.Errorf("store: writing blob %s: %w", d, err)
	}
	s.point("blob-written")
	return d, nil
}

// Blob returns the bytes of blob d after checking that they hash to d. A
// missing blob is ErrNotFound, a corrupt one ErrCorrupt (both wrapped, the
// message naming d).
func (s *Store) Blob(ctx context.Context, d Digest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !d.valid() {
		return nil, fmt.Errorf("store: invalid digest %q", string(d))
	}
	return s.readBlob(d)
}

func (s *Store) readBlob(d Digest) ([]byte, error) {
	f, err := os.Open(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", d, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", d, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("store: blob %s: not a regular file", d)
	}
	if fi.Size() > MaxBlobSize {
		return nil, fmt.Errorf("store: blob %s: %d bytes is over the %d-byte limit", d, fi.Size(), MaxBlobSize)
	}
	h := sha256.New()
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()))
	if _, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(f, MaxBlobSize+1)); err != nil {
		return nil, fmt.Errorf("store: reading blob %s: %w", d, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex() {
		return nil, fmt.Errorf("store: blob %s: %w (its content hashes to sha256:%s)", d, ErrCorrupt, got)
	}
	return buf.Bytes(), nil
}

// HasBlob reports whether blob d is present (without verifying it).
func (s *Store) HasBlob(d Digest) bool {
	fi, err := os.Lstat(s.blobPath(d))
	return err == nil && fi.Mode().IsRegular()
}

// Internal buckets; names starting with "_" are reserved.
const (
	refsBucket  = "_refs"  // holder -> JSON []Digest
	blobsBucket = "_blobs" // digest -> JSON blobMeta
)

type blobMeta struct {
	Added time.Time `json:"added"`
	Size  int64     `json:"size"`
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.txn(ctx, false, fn)
}

// Update runs fn in a read-write transaction: everything fn wrote is
// committed (fsynced) when Update returns nil; nothing is when fn returns
// an error or the process dies first.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.txn(ctx, true, fn)
}

func (s *Store) txn(ctx context.Context, write bool, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := runTxn(filepath.Join(s.dir, "state.db"), write, s.opts.LockTimeout, func(kt kvTx) error {
		tx := &Tx{s: s, tx: kt}
		if write {
			for _, b := range []string{refsBucket, blobsBucket} {
				if err := kt.createBucket(b); err != nil {
					return err
				}
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		if write {
			s.point("state-commit")
		}
		return nil
	})
	if errors.Is(err, errLocked) {
		return fmt.Errorf("store %s: the state database is in use by another process (waited %s)", s.dir, s.opts.LockTimeout)
	}
	if errors.Is(err, errOpen) {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	if err == nil && write {
		s.point("state-committed")
	}
	return err
}

// Tx is a transaction on the store's state: named buckets of key/value
// pairs, references from holders to blobs, and (in an Update) blob writes.
// A Tx is valid only inside the function it was passed to. Values returned
// are copies, safe to keep.
type Tx struct {
	s  *Store
	tx kvTx
}

// Writable reports whether tx is a read-write transaction.
func (t *Tx) Writable() bool { return t.tx.writable() }

func checkBucket(name string) error {
	if name == "" || strings.HasPrefix(name, "_") {
		return fmt.Errorf("store: bucket name %q: must be non-empty and not start with _ (reserved)", name)
	}
	return nil
}

// Get returns a copy of the value of key in bucket, or nil, ErrNotFound
// (wrapped) when the bucket or the key does not exist.
func (t *Tx) Get(bucket, key string) ([]byte, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	return t.get(bucket, key)
}

func (t *Tx) get(bucket, key string) ([]byte, error) {
	v := t.tx.get(bucket, key)
	if v == nil {
		return nil, fmt.Errorf("store: %s/%s: %w", bucket, key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// Put sets key in bucket (created if needed) to value.
func (t *Tx) Put(bucket, key string, value []byte) error {
	if err := checkBucket(bucket); err != nil {
		return err
	}
	return t.put(bucket, key, value)
}

func (t *Tx) put(bucket, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("store: %s: empty key", bucket)
	}
	if err := t.tx.put(bucket, key, value); err != nil {
		return fmt.Errorf("store: %s/%s: %w", bucket, key, err)
	}
	return nil
}

// GetJSON decodes the value of key in bucket into v.
func (t *Tx) GetJSON(bucket, key string, v any) error {
	b, err := t.Get(bucket, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: %s/%s: %w", bucket, key, err)
	}
	return nil
}

// PutJSON sets key in bucket to the JSON encoding of v.
func (t *Tx) PutJSON(bucket, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: %s/%s: %w", bucket, key, err)
	}
	return t.Put(bucket, key, b)
}

// Delete removes key from bucket; a missing key or bucket is not an error.
func (t *Tx) Delete(bucket, key string) error {
	if err := checkBucket(bucket); err != nil {
		return err
	}
	return t.tx.del(bucket, key)
}

// ForEach calls fn for each key of bucket in byte order (none when the
// bucket does not exist), stopping at fn's first error, which it returns.
// The value passed to fn is a copy.
func (t *Tx) ForEach(bucket string, fn func(key string, value []byte) error) error {
	if err := checkBucket(bucket); err != nil {
		return err
	}
	return t.forEach(bucket, fn)
}

func (t *Tx) forEach(bucket string, fn func(key string, value []byte) error) error {
	return t.tx.forEach(bucket, func(k, v []byte) error { return fn(string(k), bytes.Clone(v)) })
}

// NextSequence returns the next value (1, 2, ...) of bucket's counter,
// creating the bucket if needed; a good source of record IDs. It needs an
// Update.
func (t *Tx) NextSequence(bucket string) (uint64, error) {
	if err := checkBucket(bucket); err != nil {
		return 0, err
	}
	n, err := t.tx.nextSequence(bucket)
	if err != nil {
		return 0, fmt.Errorf("store: bucket %s: %w", bucket, err)
	}
	return n, nil
}

// PutBlob writes b to the store (if not already there) and returns its
// digest. The file is written before the transaction commits, so a
// reference set in the same transaction never names a missing blob; if the
// transaction fails, the blob stays unreferenced until GC.
func (t *Tx) PutBlob(b []byte) (Digest, error) {
	if !t.Writable() {
		return "", errors.New("store: PutBlob needs an Update transaction")
	}
	d, err := t.s.writeBlob(b)
	if err != nil {
		return "", err
	}
	if _, err := t.get(blobsBucket, string(d)); errors.Is(err, ErrNotFound) {
		m, _ := json.Marshal(blobMeta{Added: time.Now().UTC(), Size: int64(len(b))})
		if err := t.put(blobsBucket, string(d), m); err != nil {
			return "", err
		}
	}
	return d, nil
}

// Blob returns the verified bytes of blob d (see Store.Blob).
func (t *Tx) Blob(d Digest) ([]byte, error) { return t.s.Blob(context.Background(), d) }

// SetRefs replaces the blobs that holder references with digests (none
// removes the holder). A holder is any non-empty name its caller owns, for
// example "deployment/42", "route/api/previous" or "pin/REF". Every digest
// must name a blob present in the store: a reference to a missing blob is
// refused, so GC and readers can rely on references.
func (t *Tx) SetRefs(holder string, digests ...Digest) error {
	if holder == "" {
		return errors.New("store: empty reference holder")
	}
	if len(digests) == 0 {
		return t.tx.del(refsBucket, holder)
	}
	set := map[Digest]bool{}
	var list []Digest
	for _, d := range digests {
		if !d.valid() {
			return fmt.Errorf("store: reference %s: invalid digest %q", holder, string(d))
		}
		if !t.s.HasBlob(d) {
			return fmt.Errorf("store: reference %s -> %s: %w", holder, d, ErrNotFound)
		}
		if !set[d] {
			set[d] = true
			list = append(list, d)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
	b, _ := json.Marshal(list)
	return t.put(refsBucket, holder, b)
}

// Refs returns the blobs holder references (none if it holds nothing).
func (t *Tx) Refs(holder string) ([]Digest, error) {
	v, err := t.get(refsBucket, holder)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []Digest
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("store: references of %s: %w", holder, err)
	}
	return list, nil
}

// Holders returns, for every referenced blob, the sorted names of the
// holders that reference it.
func (t *Tx) Holders() (map[Digest][]string, error) {
	out := map[Digest][]string{}
	err := t.forEach(refsBucket, func(holder string, v []byte) error {
		var list []Digest
		if err := json.Unmarshal(v, &list); err != nil {
			return fmt.Errorf("store: references of %s: %w", holder, err)
		}
		for _, d := range list {
			out[d] = append(out[d], holder)
		}
		return nil
	})
	for _, hs := range out {
		sort.Strings(hs)
	}
	return out, err
}

// PinHolder is the holder name Pin uses for name.
func PinHolder(name string) string { return "pin/" + name }

// Pin keeps blob d from GC under name (e.g. the reference it was pulled
// as), replacing what name pinned before.
func (t *Tx) Pin(name string, d Digest) error { return t.SetRefs(PinHolder(name), d) }

// Unpin removes the pin name; a missing pin is not an error.
func (t *Tx) Unpin(name string) error { return t.SetRefs(PinHolder(name)) }

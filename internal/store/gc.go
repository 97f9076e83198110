package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// BlobInfo describes one blob of the store.
type BlobInfo struct {
	Digest  Digest    `json:"digest"`
	Size    int64     `json:"size"`
	Added   time.Time `json:"added,omitzero"` // when the state first recorded it; zero if it never did
	Holders []string  `json:"holders"`        // who references it (sorted); empty: GC may remove it
	// Problem is empty for a sound blob, else "missing" (referenced but
	// absent: the store is damaged), "corrupt" (with Verify: its bytes do
	// not hash to its name) or "not a regular file".
	Problem string `json:"problem,omitempty"`
}

// ListOptions configure List.
type ListOptions struct {
	// Verify hashes every blob (reads them all); without it a blob is
	// only checked to exist.
	Verify bool
}

// List returns every blob on disk and every referenced blob, sorted by
// digest. Temporary files left by an interrupted write are not blobs and
// are not listed (GC removes them).
func (s *Store) List(ctx context.Context, opts ListOptions) ([]BlobInfo, error) {
	var out []BlobInfo
	err := s.View(ctx, func(tx *Tx) error {
		var err error
		out, err = s.list(ctx, tx, opts.Verify)
		return err
	})
	return out, err
}

func (s *Store) list(ctx context.Context, tx *Tx, verify bool) ([]BlobInfo, error) {
	holders, err := tx.Holders()
	if err != nil {
		return nil, err
	}
	byDigest := map[Digest]*BlobInfo{}
	dir := filepath.Join(s.dir, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: listing blobs: %w", s.dir, err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, perr := ParseDigest("sha256:" + e.Name())
		if perr != nil || d.Hex() != e.Name() {
			continue // a temporary file or a stranger
		}
		bi := &BlobInfo{Digest: d, Holders: holders[d]}
		fi, err := e.Info()
		switch {
		case err != nil:
			bi.Problem = err.Error()
		case !fi.Mode().IsRegular():
			bi.Problem = "not a regular file"
		default:
			bi.Size = fi.Size()
		}
		if bi.Problem == "" && verify {
			if _, err := s.readBlob(d); errors.Is(err, ErrCorrupt) {
				bi.Problem = "corrupt"
			} else if err != nil {
				bi.Problem = err.Error()
			}
		}
		byDigest[d] = bi
	}
	for d, hs := range holders {
		if byDigest[d] == nil {
			byDigest[d] = &BlobInfo{Digest: d, Holders: hs, Problem: "missing"}
		}
	}
	_ = tx.tx.forEach(blobsBucket, func(k, v []byte) error {
		var m blobMeta
		if bi := byDigest[Digest(k)]; bi != nil && json.Unmarshal(v, &m) == nil {
			bi.Added = m.Added
		}
		return nil
	})
	out := make([]BlobInfo, 0, len(byDigest))
	for _, bi := range byDigest {
		if bi.Holders == nil {
			bi.Holders = []string{}
		}
		out = append(out, *bi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

// GCOptions configure GC.
type GCOptions struct {
	// Grace spares unreferenced blobs (and leftover temporary files)
	// modified less than Grace ago: a blob just written by a deploy or a
	// pull that has not yet committed its reference. Zero means none.
	Grace time.Duration
	// DryRun reports what would be removed without removing it.
	DryRun bool
}

// DefaultGCGrace is the grace period `wasmward store gc` uses unless told.
const DefaultGCGrace = 15 * time.Minute

// GCReport says what GC removed (or, with DryRun, would remove).
type GCReport struct {
	Removed    []Digest `json:"removed"`     // unreferenced blobs removed
	FreedBytes int64    `json:"freed_bytes"` // their total size
	Kept       int      `json:"kept"`        // blobs kept because referenced
	Young      int      `json:"young"`       // unreferenced blobs spared by Grace
	TempFiles  int      `json:"temp_files"`  // leftover temporary files removed
}

// GC removes every blob that no holder references (route versions,
// rollback targets, pins: whatever was recorded with Tx.SetRefs), older
// than opts.Grace, and the temporary files an interrupted write left. It
// runs inside a write transaction: no transaction of this or another
// process runs meanwhile.
func (s *Store) GC(ctx context.Context, opts GCOptions) (GCReport, error) {
	var rep GCReport
	err := s.Update(ctx, func(tx *Tx) error {
		rep = GCReport{Removed: []Digest{}}
		holders, err := tx.Holders()
		if err != nil {
			return err
		}
		dir := filepath.Join(s.dir, "blobs", "sha256")
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("store %s: listing blobs: %w", s.dir, err)
		}
		now := time.Now()
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("store %s: %w", s.dir, err)
			}
			young := now.Sub(fi.ModTime()) < opts.Grace
			name := e.Name()
			d, perr := ParseDigest("sha256:" + name)
			if perr != nil || d.Hex() != name {
				// A temporary file of an interrupted write (atomicfile
				// names them .NAME.tmpN); anything else is left alone.
				if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp") && fi.Mode().IsRegular() && !young {
					if !opts.DryRun {
						if err := os.Remove(filepath.Join(dir, name)); err != nil {
							return fmt.Errorf("store %s: removing %s: %w", s.dir, name, err)
						}
					}
					rep.TempFiles++
				}
				continue
			}
			if len(holders[d]) > 0 {
				rep.Kept++
				continue
			}
			if young {
				rep.Young++
				continue
			}
			if !opts.DryRun {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					return fmt.Errorf("store %s: removing blob %s: %w", s.dir, d, err)
				}
				if err := tx.tx.del(blobsBucket, string(d)); err != nil {
					return err
				}
			}
			rep.Removed = append(rep.Removed, d)
			rep.FreedBytes += fi.Size()
		}
		return nil
	})
	return rep, err
}

// Check verifies the store: the state database's structure (bbolt's own
// check) and that every referenced blob is present and hashes to its name.
// It returns one line per problem found (none: the store is consistent).
func (s *Store) Check(ctx context.Context) ([]string, error) {
	var problems []string
	err := s.View(ctx, func(tx *Tx) error {
		for _, err := range tx.tx.check() {
			problems = append(problems, "state database: "+err.Error())
		}
		infos, err := s.list(ctx, tx, true)
		if err != nil {
			return err
		}
		for _, bi := range infos {
			if bi.Problem != "" && (len(bi.Holders) > 0 || bi.Problem == "corrupt") {
				problems = append(problems, fmt.Sprintf("blob %s (held by %s): %s", bi.Digest, strings.Join(bi.Holders, ", "), bi.Problem))
			}
		}
		return nil
	})
	return problems, err
}

package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// RefKind says what a module reference names.
type RefKind int

// The kinds of module reference ParseRef accepts.
const (
	// RefPath is a file path (relative paths are resolved against
	// ResolveOptions.BaseDir).
	RefPath RefKind = iota + 1
	// RefDigest is "sha256:HEX": a blob that must already be in the store.
	RefDigest
	// RefOCI is "oci://REGISTRY/REPO[:TAG][@sha256:HEX]": an artefact in an
	// OCI registry, pulled through ResolveOptions.OCI.
	RefOCI
)

// Ref is a parsed module reference.
type Ref struct {
	Kind   RefKind
	Path   string // RefPath: the path as written
	Digest Digest // RefDigest: the blob; RefOCI: the pinned manifest digest, if any
	OCI    string // RefOCI: the reference without the oci:// scheme
	raw    string
}

// String returns the reference as written.
func (r Ref) String() string { return r.raw }

// ParseRef parses a module reference: "sha256:HEX", "oci://..." or a file
// path (anything else that is non-empty). A string that looks like a digest
// or an OCI reference but is malformed is an error, not a path.
func ParseRef(s string) (Ref, error) {
	r := Ref{raw: s}
	switch {
	case s == "":
		return Ref{}, errors.New("module reference: empty")
	case strings.HasPrefix(s, "sha256:"):
		d, err := ParseDigest(s)
		if err != nil {
			return Ref{}, fmt.Errorf("module reference: %w", err)
		}
		r.Kind, r.Digest = RefDigest, d
	case strings.HasPrefix(s, "oci://"):
		rest := strings.TrimPrefix(s, "oci://")
		host, repo, ok := strings.Cut(rest, "/")
		if !ok || host == "" || repo == "" || strings.HasPrefix(repo, "/") {
			return Ref{}, fmt.Errorf("module reference %q: want oci://REGISTRY/REPO[:TAG][@sha256:HEX]", s)
		}
		if _, pin, ok := strings.Cut(repo, "@"); ok {
			d, err := ParseDigest(pin)
			if err != nil {
				return Ref{}, fmt.Errorf("module reference %q: %w", s, err)
			}
			r.Digest = d
		}
		r.Kind, r.OCI = RefOCI, rest
	default:
		r.Kind, r.Path = RefPath, s
	}
	return r, nil
}

// Fetched is what an OCI fetch returns: the module's bytes and where they
// came from.
type Fetched struct {
	Bytes []byte
	// Manifest is the digest of the artefact's OCI manifest (what a
	// `REF@sha256:...` pin and cosign signatures name).
	Manifest Digest
	// Ref is the reference fetched, digest-pinned: REGISTRY/REPO@sha256:...
	Ref string
}

// Fetcher pulls a module from an OCI registry: internal/oci's Client is
// one. It must check that a pinned reference's manifest has the pinned
// digest and that the module's bytes match the layer digest, and verify
// whatever signatures its configuration requires, before returning.
type Fetcher interface {
	Fetch(ctx context.Context, ref string) (Fetched, error)
}

// ResolveOptions configure Resolve.
type ResolveOptions struct {
	// BaseDir resolves relative file paths (default: the working directory).
	BaseDir string
	// OCI fetches oci:// references; without it they are refused.
	OCI Fetcher
}

// Resolved is a module reference resolved to bytes that are in the store.
type Resolved struct {
	Ref    Ref
	Digest Digest // SHA-256 of Bytes: the module's name in the store
	Bytes  []byte
	// Manifest is the OCI manifest digest for an oci:// reference.
	Manifest Digest
	// Pinned is the reference as fetched, digest-pinned (oci:// only).
	Pinned string
}

// Resolve turns a module reference into its bytes and digest:
//   - a path is read (at most MaxBlobSize bytes) and stored;
//   - sha256:HEX is read from the store (verified; absent is ErrNotFound);
//   - oci://... is fetched through opts.OCI and stored.
//
// Stored blobs are unreferenced until the caller records a reference
// (Tx.SetRefs) within GCOptions.Grace. Trust and scan decisions on the
// bytes are the caller's.
func (s *Store) Resolve(ctx context.Context, ref string, opts ResolveOptions) (Resolved, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Resolved{}, err
	}
	res := Resolved{Ref: r}
	switch r.Kind {
	case RefDigest:
		b, err := s.Blob(ctx, r.Digest)
		if err != nil {
			return Resolved{}, fmt.Errorf("module %s: %w", ref, err)
		}
		res.Digest, res.Bytes = r.Digest, b
		return res, nil
	case RefPath:
		p := r.Path
		if !filepath.IsAbs(p) && opts.BaseDir != "" {
			p = filepath.Join(opts.BaseDir, p)
		}
		b, err := readFileBounded(p)
		if err != nil {
			return Resolved{}, fmt.Errorf("module %s: %w", ref, err)
		}
		res.Bytes = b
	case RefOCI:
		if opts.OCI == nil {
			return Resolved{}, fmt.Errorf("module %s: no OCI client configured", ref)
		}
		f, err := opts.OCI.Fetch(ctx, r.OCI)
		if err != nil {
			return Resolved{}, fmt.Errorf("module %s: %w", ref, err)
		}
		if r.Digest != "" && f.Manifest != r.Digest {
			return Resolved{}, fmt.Errorf("module %s: %w: the registry returned manifest %s, not the pinned %s", ref, ErrDigestMismatch, f.Manifest, r.Digest)
		}
		res.Bytes, res.Manifest, res.Pinned = f.Bytes, f.Manifest, f.Ref
	}
	d, err := s.PutBlob(ctx, res.Bytes)
	if err != nil {
		return Resolved{}, fmt.Errorf("module %s: %w", ref, err)
	}
	res.Digest = d
	return res, nil
}

func readFileBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBlobSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBlobSize {
		return nil, fmt.Errorf("larger than the %d-byte limit", MaxBlobSize)
	}
	return b, nil
}

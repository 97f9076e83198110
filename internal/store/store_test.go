package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openT(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBlobRoundTripAndVerification(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	data := []byte("\x00asm\x01\x00\x00\x00")
	d, err := s.PutBlob(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if d != DigestOf(data) || !strings.HasPrefix(string(d), "sha256:") {
		t.Fatalf("digest %s, want %s", d, DigestOf(data))
	}
	p := filepath.Join(s.Dir(), "blobs", "sha256", d.Hex())
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("blob file %s: %v %v", p, fi, err)
	}
	got, err := s.Blob(ctx, d)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Blob = %q, %v", got, err)
	}

	tests := []struct {
		name    string
		damage  func()
		wantErr error
	}{
		{"flipped byte", func() { os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x01"), 0o600) }, ErrCorrupt},
		{"truncated", func() { os.WriteFile(p, data[:3], 0o600) }, ErrCorrupt},
		{"removed", func() { os.Remove(p) }, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.damage()
			got, err := s.Blob(ctx, d)
			if !errors.Is(err, tt.wantErr) || got != nil {
				t.Fatalf("Blob after damage = %q, %v; want nil, %v", got, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), string(d)) {
				t.Fatalf("error %q does not name the digest %s", err, d)
			}
			// Putting the bytes again repairs it.
			if _, err := s.PutBlob(ctx, data); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Blob(ctx, d); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after repair: %q, %v", got, err)
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		kind    RefKind
		digest  Digest
		oci     string
		wantErr string
	}{
		{in: "mod.wasm", kind: RefPath},
		{in: "/abs/mod.wasm", kind: RefPath},
		{in: "sha256:" + hex, kind: RefDigest, digest: Digest("sha256:" + hex)},
		{in: "sha256:" + strings.ToUpper(hex), kind: RefDigest, digest: Digest("sha256:" + hex)},
		{in: "oci://localhost:5000/team/app:v1", kind: RefOCI, oci: "localhost:5000/team/app:v1"},
		{in: "oci://r.example/app@sha256:" + hex, kind: RefOCI, oci: "r.example/app@sha256:" + hex, digest: Digest("sha256:" + hex)},
		{in: "", wantErr: "empty"},
		{in: "sha256:abc", wantErr: "64 hex digits"},
		{in: "sha256:" + strings.Repeat("zz", 32), wantErr: "not hexadecimal"},
		{in: "oci://registry-only", wantErr: "want oci://"},
		{in: "oci:///repo", wantErr: "want oci://"},
		{in: "oci://r.example/app@sha256:12", wantErr: "64 hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRef(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRef(%q) = %+v, %v; want error containing %q", tt.in, r, err, tt.wantErr)
				}
				return
			}
			if err != nil || r.Kind != tt.kind || r.Digest != tt.digest || r.OCI != tt.oci || r.String() != tt.in {
				t.Fatalf("ParseRef(%q) = %+v, %v", tt.in, r, err)
			}
		})
	}
}

func TestUpdateIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	boom := errors.New("boom")
	var d Digest
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if d, err = tx.PutBlob([]byte("v2")); err != nil {
			return err
		}
		if err := tx.PutJSON("deployments", "1", map[string]string{"module": string(d)}); err != nil {
			return err
		}
		if err := tx.SetRefs("deployment/1", d); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		if _, err := tx.Get("deployments", "1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("record of a failed transaction: %v", err)
		}
		if refs, _ := tx.Refs("deployment/1"); len(refs) != 0 {
			t.Errorf("references of a failed transaction: %v", refs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The blob was written (blob first), but nobody holds it: GC takes it.
	rep, err := s.GC(ctx, GCOptions{})
	if err != nil || len(rep.Removed) != 1 || rep.Removed[0] != d {
		t.Fatalf("GC = %+v, %v; want %s removed", rep, err, d)
	}
}

func TestTxBucketsAndRefs(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	tests := []struct {
		name    string
		fn      func(tx *Tx) error
		wantErr string
	}{
		{"reserved bucket", func(tx *Tx) error { return tx.Put("_refs", "k", nil) }, "reserved"},
		{"empty bucket", func(tx *Tx) error { return tx.Put("", "k", nil) }, "reserved"},
		{"empty key", func(tx *Tx) error { return tx.Put("b", "", nil) }, "empty key"},
		{"ref to missing blob", func(tx *Tx) error { return tx.SetRefs("route/a", DigestOf([]byte("absent"))) }, "not found"},
		{"ref with bad digest", func(tx *Tx) error { return tx.SetRefs("route/a", Digest("sha256:zz")) }, "invalid digest"},
		{"empty holder", func(tx *Tx) error { return tx.SetRefs("") }, "empty reference holder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, tt.fn)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	err := s.Update(ctx, func(tx *Tx) error {
		a, _ := tx.PutBlob([]byte("a"))
		b, _ := tx.PutBlob([]byte("b"))
		if err := tx.SetRefs("route/x", b, a, b); err != nil {
			return err
		}
		if err := tx.Pin("localhost/app:v1", a); err != nil {
			return err
		}
		n1, _ := tx.NextSequence("deployments")
		n2, _ := tx.NextSequence("deployments")
		if n1 != 1 || n2 != 2 {
			t.Errorf("NextSequence = %d, %d", n1, n2)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		refs, _ := tx.Refs("route/x")
		want := []Digest{DigestOf([]byte("a")), DigestOf([]byte("b"))}
		if want[0] > want[1] {
			want[0], want[1] = want[1], want[0]
		}
		if len(refs) != 2 || refs[0] != want[0] || refs[1] != want[1] {
			t.Errorf("Refs = %v, want %v (sorted, deduplicated)", refs, want)
		}
		h, _ := tx.Holders()
		if got := h[DigestOf([]byte("a"))]; len(got) != 2 || got[0] != "pin/localhost/app:v1" || got[1] != "route/x" {
			t.Errorf("holders of a = %v", got)
		}
		if err := tx.Put("b", "k", nil); err == nil {
			t.Errorf("Put in a View succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGCKeepsReferencedAndPinned(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	var route, rollback, pinned, garbage, young Digest
	err := s.Update(ctx, func(tx *Tx) error {
		route, _ = tx.PutBlob([]byte("route version"))
		rollback, _ = tx.PutBlob([]byte("rollback target"))
		pinned, _ = tx.PutBlob([]byte("pinned"))
		garbage, _ = tx.PutBlob([]byte("garbage"))
		young, _ = tx.PutBlob([]byte("young"))
		if err := tx.SetRefs("route/api/active", route); err != nil {
			return err
		}
		if err := tx.SetRefs("route/api/previous", rollback); err != nil {
			return err
		}
		return tx.Pin("oci://x/y:1", pinned)
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Dir(), "blobs", "sha256")
	old := time.Now().Add(-time.Hour)
	for _, d := range []Digest{route, rollback, pinned, garbage} {
		os.Chtimes(filepath.Join(dir, d.Hex()), old, old)
	}
	tmp := filepath.Join(dir, "."+garbage.Hex()+".tmp123")
	os.WriteFile(tmp, []byte("half"), 0o600)
	os.Chtimes(tmp, old, old)

	dry, err := s.GC(ctx, GCOptions{Grace: time.Minute, DryRun: true})
	if err != nil || len(dry.Removed) != 1 || !s.HasBlob(garbage) {
		t.Fatalf("dry run = %+v, %v (garbage present: %v)", dry, err, s.HasBlob(garbage))
	}
	rep, err := s.GC(ctx, GCOptions{Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 1 || rep.Removed[0] != garbage || rep.Kept != 3 || rep.Young != 1 || rep.TempFiles != 1 || rep.FreedBytes != int64(len("garbage")) {
		t.Fatalf("GC = %+v", rep)
	}
	for _, d := range []Digest{route, rollback, pinned, young} {
		if _, err := s.Blob(ctx, d); err != nil {
			t.Errorf("kept blob %s: %v", d, err)
		}
	}
	if s.HasBlob(garbage) {
		t.Errorf("garbage survived")
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file survived: %v", err)
	}
	// Unpinning makes the pinned blob garbage.
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Unpin("oci://x/y:1") }); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.GC(ctx, GCOptions{Grace: time.Minute}); err != nil || len(rep.Removed) != 1 || rep.Removed[0] != pinned {
		t.Fatalf("GC after unpin = %+v, %v", rep, err)
	}
	infos, err := s.List(ctx, ListOptions{Verify: true})
	if err != nil || len(infos) != 3 {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	if probs, err := s.Check(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("Check = %v, %v", probs, err)
	}
	// A referenced blob that disappears is reported by List and Check.
	os.Remove(filepath.Join(dir, route.Hex()))
	if probs, err := s.Check(ctx); err != nil || len(probs) != 1 || !strings.Contains(probs[0], "missing") || !strings.Contains(probs[0], string(route)) {
		t.Fatalf("Check after removal = %v, %v", probs, err)
	}
}

type fakeFetcher struct {
	f   Fetched
	err error
}

func (f fakeFetcher) Fetch(context.Context, string) (Fetched, error) { return f.f, f.err }

func TestResolve(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	base := t.TempDir()
	mod := []byte("\x00asm\x01\x00\x00\x00file")
	os.WriteFile(filepath.Join(base, "m.wasm"), mod, 0o644)
	stored, _ := s.PutBlob(ctx, []byte("stored"))
	ociBytes := []byte("from a registry")
	manifest := DigestOf([]byte("manifest"))
	other := DigestOf([]byte("other"))
	fetcher := fakeFetcher{f: Fetched{Bytes: ociBytes, Manifest: manifest, Ref: "r/app@" + string(manifest)}}

	tests := []struct {
		name    string
		ref     string
		opts    ResolveOptions
		want    []byte
		wantErr string
	}{
		{"relative path", "m.wasm", ResolveOptions{BaseDir: base}, mod, ""},
		{"absolute path", filepath.Join(base, "m.wasm"), ResolveOptions{}, mod, ""},
		{"missing path", "nope.wasm", ResolveOptions{BaseDir: base}, nil, "no such file"},
		{"stored digest", string(stored), ResolveOptions{}, []byte("stored"), ""},
		{"absent digest", string(DigestOf([]byte("absent"))), ResolveOptions{}, nil, "not found"},
		{"oci", "oci://r/app:v1", ResolveOptions{OCI: fetcher}, ociBytes, ""},
		{"oci pinned", "oci://r/app@" + string(manifest), ResolveOptions{OCI: fetcher}, ociBytes, ""},
		{"oci pin mismatch", "oci://r/app@" + string(other), ResolveOptions{OCI: fetcher}, nil, "not the pinned"},
		{"oci without client", "oci://r/app:v1", ResolveOptions{}, nil, "no OCI client"},
		{"oci fetch error", "oci://r/app:v1", ResolveOptions{OCI: fakeFetcher{err: errors.New("unauthorized")}}, nil, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Resolve(ctx, tt.ref, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.ref) {
					t.Fatalf("Resolve(%q) = %v; want error naming the ref and containing %q", tt.ref, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(res.Bytes, tt.want) || res.Digest != DigestOf(tt.want) {
				t.Fatalf("Resolve(%q) = %+v, %v", tt.ref, res, err)
			}
			if got, err := s.Blob(ctx, res.Digest); err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("resolved module not in the store: %v", err)
			}
		})
	}
}

func TestTwoStoresShareADirectory(t *testing.T) {
	// Two handles (as two processes would have) serialise on the file lock.
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, Options{LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := a.PutBlob(ctx, []byte("x"))
	if err := a.Update(ctx, func(tx *Tx) error { return tx.Pin("p", d) }); err != nil {
		t.Fatal(err)
	}
	var refs []Digest
	b.View(ctx, func(tx *Tx) error { refs, _ = tx.Refs(PinHolder("p")); return nil })
	if len(refs) != 1 || refs[0] != d {
		t.Fatalf("second handle sees %v", refs)
	}
	// While a holds a write transaction, b's times out saying why.
	err = a.Update(ctx, func(*Tx) error {
		return b.Update(ctx, func(*Tx) error { return nil })
	})
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("nested update = %v", err)
	}
}

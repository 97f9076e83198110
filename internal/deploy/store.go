//go:build !wasip1

package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/oci"
	"github.com/wasmward/wasmward/internal/store"
)

// recordsBucket is the store bucket of deployment records, keyed by ID
// (IDs sort by time).
const recordsBucket = "deployments"

// StoreRecords keeps deployment records in the module store's state
// database, with the route's references (holder "route/LABEL") in the same
// transaction, so GC keeps every version a route serves or may roll back to.
type StoreRecords struct{ S *store.Store }

// Put implements Records.
func (r StoreRecords) Put(ctx context.Context, rec Record, serving []string) error {
	return r.S.Update(ctx, func(tx *store.Tx) error {
		if err := tx.PutJSON(recordsBucket, rec.ID, rec); err != nil {
			return err
		}
		var ds []store.Digest
		for _, h := range serving {
			if d := store.Digest("sha256:" + h); r.S.HasBlob(d) {
				ds = append(ds, d)
			}
		}
		return tx.SetRefs("route/"+rec.Route, ds...)
	})
}

// List implements Records.
func (r StoreRecords) List(ctx context.Context) ([]Record, error) {
	var out []Record
	err := r.S.View(ctx, func(tx *store.Tx) error {
		return tx.ForEach(recordsBucket, func(key string, v []byte) error {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("deployment record %s: %w", key, err)
			}
			out = append(out, rec)
			return nil
		})
	})
	return out, err
}

// StoreResolver resolves module references through the module store: a
// path (relative ones against dir) is read and stored, sha256:HEX read
// from the store (verified), oci://... fetched with fetcher and stored.
// An artefact the fetcher refuses as unsigned (oci.ErrUnsigned: its
// publisher is not trusted) is an error wrapping ErrUntrusted. A path
// module's trust material is looked for next to it; an OCI module is
// named for the trust gate after its repository (ociName).
func StoreResolver(s *store.Store, dir string, fetcher store.Fetcher) Resolver {
	return func(ctx context.Context, ref string) (gateway.ModuleSource, error) {
		res, err := s.Resolve(ctx, ref, store.ResolveOptions{BaseDir: dir, OCI: fetcher})
		if errors.Is(err, oci.ErrUnsigned) {
			return gateway.ModuleSource{}, fmt.Errorf("%w: %w", ErrUntrusted, err)
		}
		if err != nil {
			return gateway.ModuleSource{}, err
		}
		src := gateway.ModuleSource{Ref: ref, Wasm: res.Bytes}
		if res.Ref.Kind == store.RefOCI {
			src.Trust.Name = ociName(res.Ref.OCI)
		}
		if res.Ref.Kind == store.RefPath {
			src.Trust.ModuleFile = res.Ref.Path
			if dir != "" && !filepath.IsAbs(res.Ref.Path) {
				src.Trust.ModuleFile = filepath.Join(dir, res.Ref.Path)
			}
		}
		return src, nil
	}
}

// ociName is the caller name of an OCI module for the trust gate, as a
// file's base name is for a path: the repository's last element, without
// tag or digest (registry.example/team/api:1.4@sha256:... is "api"). A
// signed name in the module wins over it, as over a file name.
func ociName(ref string) string {
	name, _, _ := strings.Cut(ref, "@")
	name = path.Base(name)
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[:i]
	}
	return name
}

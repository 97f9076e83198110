//go:build !wasip1

package main

import (
	"context"
	"path/filepath"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/oci"
	"github.com/wasmward/wasmward/internal/store"
)

// moduleStore is the module store serve uses (bbolt does not build for
// wasip1; see servestore_wasip1.go).
type moduleStore = store.Store

func openStore(dir string) (*moduleStore, error) { return store.Open(dir, store.Options{}) }

// loadConfigStore reads a configuration whose modules resolve through the
// store (paths relative to the file, sha256:, oci://).
func loadConfigStore(path string, st *moduleStore) (*gateway.Config, error) {
	dir := filepath.Dir(path)
	return gateway.LoadConfigWith(path, func(ref string) ([]byte, error) {
		res, err := st.Resolve(context.Background(), ref, store.ResolveOptions{BaseDir: dir, OCI: ociFetcher()})
		return res.Bytes, err
	})
}

// storeDeployments keeps deployment records in the store and resolves
// deployed modules through it.
func storeDeployments(st *moduleStore, dir string) (deploy.Records, deploy.Resolver) {
	return deploy.StoreRecords{S: st}, deploy.StoreResolver(st, dir, ociFetcher())
}

// ociFetcher is the registry client for oci:// modules: credentials from
// the docker config file, plain HTTP only to loopback registries. The
// module's trust (embedded signatures, serve --trust) is checked on its
// bytes by the gateway, as for any module. Nil when the docker config file
// cannot be read (oci:// modules are then refused saying so).
func ociFetcher() store.Fetcher {
	c, err := oci.New(oci.Options{})
	if err != nil {
		return nil
	}
	return oci.Fetcher{Client: c}
}

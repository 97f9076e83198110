//go:build !wasip1

package main

import (
	"context"
	"path/filepath"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/oci"
	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/trust"
)

// moduleStore is the module store serve uses, with the registry client
// its oci:// modules are fetched through (bbolt does not build for
// wasip1; see servestore_wasip1.go).
type moduleStore struct {
	*store.Store
	oci store.Fetcher
}

// openStore opens the store at dir. With a trust policy (serve --trust),
// an oci:// module (configured or deployed) must have been published by a
// key of pol: a cosign-style signature of the artefact by one of its keys,
// or embedded signatures pol accepts (what pull --trust checks). The check
// runs on the fetch, before the bytes are stored or compiled; the bytes
// then go through the trust gate like every module.
func openStore(dir string, pol *trust.Policy) (*moduleStore, error) {
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	return &moduleStore{Store: s, oci: ociFetcher(pol)}, nil
}

// loadConfigStore reads a configuration whose modules resolve through the
// store (paths relative to the file, sha256:, oci://).
func loadConfigStore(path string, st *moduleStore) (*gateway.Config, error) {
	dir := filepath.Dir(path)
	return gateway.LoadConfigWith(path, func(ref string) ([]byte, error) {
		res, err := st.Resolve(context.Background(), ref, store.ResolveOptions{BaseDir: dir, OCI: st.oci})
		return res.Bytes, err
	})
}

// storeDeployments keeps deployment records in the store and resolves
// deployed modules through it.
func storeDeployments(st *moduleStore, dir string) (deploy.Records, deploy.Resolver) {
	return deploy.StoreRecords{S: st.Store}, deploy.StoreResolver(st.Store, dir, st.oci)
}

// ociFetcher is the registry client for oci:// modules: credentials from
// the docker config file, plain HTTP only to loopback registries, and with
// pol the publisher check (oci.Client.VerifyPublisher). Nil when the
// docker config file cannot be read (oci:// modules are then refused
// saying so).
func ociFetcher(pol *trust.Policy) store.Fetcher {
	c, err := oci.New(oci.Options{})
	if err != nil {
		return nil
	}
	return oci.Fetcher{Client: c, Policy: pol}
}

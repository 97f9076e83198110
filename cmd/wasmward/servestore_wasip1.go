//go:build wasip1

package main

import (
	"errors"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/trust"
)

// moduleStore stands in for the module store, which the wasip1 build
// lacks (bbolt needs memory mapping).
type moduleStore struct{}

var errNoStore = errors.New("the module store is not available in the wasip1 build")

func openStore(string, *trust.Policy) (*moduleStore, error) { return nil, errNoStore }

func loadConfigStore(string, *moduleStore) (*gateway.Config, error) { return nil, errNoStore }

func storeDeployments(*moduleStore, string) (deploy.Records, deploy.Resolver) { return nil, nil }

package main

import (
	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/internal/compcache"
	"github.com/wasmward/wasmward/sandbox"
)

// cacheFlags are --cache-dir and --cache-key, shared by run and serve.
type cacheFlags struct {
	dir string
	key string
}

func (c *cacheFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&c.dir, "cache-dir", "", "keep compiled modules in DIR across runs, each entry authenticated (HMAC-SHA256) with the --cache-key key")
	fl.StringVar(&c.key, "cache-key", "", "compile cache key file, outside the cache directory; created 0600 if absent (default $XDG_CONFIG_HOME/wasmward/cache.key)")
}

// apply adds the authenticated compile cache to cfg when a directory is
// set (dir and key from the flags, else from the arguments: the gateway
// configuration's), with warn receiving rejected entries.
func (c *cacheFlags) apply(cfg sandbox.Config, dir, keyPath string, warn func(sandbox.CacheWarning)) (sandbox.Config, error) {
	if c.dir != "" {
		dir = c.dir
	}
	if c.key != "" {
		keyPath = c.key
	}
	if dir == "" {
		if keyPath != "" {
			return cfg, usageErr("--cache-key needs --cache-dir")
		}
		return cfg, nil
	}
	if keyPath == "" {
		p, err := compcache.DefaultKeyPath()
		if err != nil {
			return cfg, withCode(exitUsage, err)
		}
		keyPath = p
	}
	key, err := compcache.LoadKey(keyPath, dir)
	if err != nil {
		return cfg, withCode(exitUsage, err)
	}
	return cfg.WithCompilationCache(dir, key).WithCacheWarnings(warn), nil
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"golang.org/x/sys/cpu"

	"github.com/wasmward/wasmward/internal/compcache"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/version"
)

// CacheStats counts what the authenticated compile cache did.
type CacheStats struct {
	// Hits are compilations loaded from a verified entry; Misses compiled
	// afresh (no entry, or one rejected); Stored entries were written;
	// Rejected entries failed verification and were deleted.
	Hits, Misses, Stored, Rejected uint64
}

// compileCache is a Runtime's authenticated compile cache: wazero's own
// file cache points at a private staging directory (0700, removed on
// Close) that only ever holds code wasmward has just verified or just
// compiled; entries move between it and the shared directory through
// compcache, which authenticates them.
type compileCache struct {
	store   *compcache.Store
	staging string // the directory wazero's file cache reads and writes
	wz      wazero.CompilationCache
	warn    func(CacheWarning)

	// mu serialises compilations, so that what appears in staging during
	// one is that compilation's code.
	mu sync.Mutex

	hits, misses, stored, rejected atomic.Uint64
}

// cacheBuild is what compiled code depends on besides the module.
func cacheBuild(e Engine) compcache.Build {
	v := version.Read()
	w := v.Version
	if v.Revision != "" {
		w += "+" + v.Revision
		if v.Modified {
			w += "-modified"
		}
	}
	return compcache.Build{Wasmward: w, Wazero: v.Wazero, Platform: v.Platform, CPU: cpuFeatures(), Engine: e.String()}
}

// cpuFeatures lists the CPU features wazero's compiler may use on this
// machine.
func cpuFeatures() string {
	var f []string
	add := func(name string, has bool) {
		if has {
			f = append(f, name)
		}
	}
	switch runtime.GOARCH {
	case "amd64":
		add("sse3", cpu.X86.HasSSE3)
		add("ssse3", cpu.X86.HasSSSE3)
		add("sse41", cpu.X86.HasSSE41)
		add("sse42", cpu.X86.HasSSE42)
		add("popcnt", cpu.X86.HasPOPCNT)
		add("avx", cpu.X86.HasAVX)
		add("avx2", cpu.X86.HasAVX2)
		add("bmi1", cpu.X86.HasBMI1)
		add("bmi2", cpu.X86.HasBMI2)
		add("lzcnt", cpu.X86.HasLZCNT)
	case "arm64":
		add("atomics", cpu.ARM64.HasATOMICS)
		add("asimd", cpu.ARM64.HasASIMD)
	}
	return runtime.GOARCH + ":" + strings.Join(f, ",")
}

func newCompileCache(cfg Config) (*compileCache, error) {
	st, err := compcache.Open(cfg.cacheDir, cfg.cacheKey, cacheBuild(cfg.engine))
	if err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp("", "wasmward-staging-")
	if err != nil {
		return nil, fmt.Errorf("create compile cache staging directory: %w", err)
	}
	wz, err := wazero.NewCompilationCacheWithDir(staging)
	if err != nil {
		_ = os.RemoveAll(staging)
		return nil, fmt.Errorf("open compile cache staging directory: %w", err)
	}
	return &compileCache{store: st, staging: staging, wz: wz, warn: cfg.cacheWarn}, nil
}

func (c *compileCache) close(ctx context.Context) error {
	err := c.wz.Close(ctx)
	if rerr := os.RemoveAll(c.staging); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// stats returns the counters.
func (c *compileCache) stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stored: c.stored.Load(), Rejected: c.rejected.Load()}
}

// compile compiles bin (the instrumented form of the module with digest
// sha, under settings) through the cache: a verified entry is staged for
// wazero to load; code wazero wrote while compiling is stored as the new
// entry; staging is emptied after each compilation.
func (c *compileCache) compile(ctx context.Context, wz wazero.Runtime, bin []byte, sha, settings string) (wazero.CompiledModule, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := compcache.ID{Module: sha, Compiled: digest.SHA256Hex(bin), Settings: settings}
	sub, err := c.stagingSub()
	if err != nil {
		return nil, err
	}
	defer c.clearStaging(sub)
	var staged os.FileInfo
	name, code, err := c.store.Get(id)
	var rej *compcache.Rejection
	switch {
	case errors.As(err, &rej):
		c.rejected.Add(1)
		if c.warn != nil {
			c.warn(CacheWarning{Path: rej.Path, SHA256: sha, Reason: rej.Reason})
		}
	case err != nil:
		return nil, err
	case name != "":
		p := filepath.Join(sub, name)
		if err := os.WriteFile(p, code, 0o600); err != nil {
			return nil, fmt.Errorf("stage compile cache entry: %w", err)
		}
		if staged, err = os.Lstat(p); err != nil {
			return nil, fmt.Errorf("stage compile cache entry: %w", err)
		}
	}
	cm, err := wz.CompileModule(ctx, bin)
	if err != nil {
		return nil, err
	}
	// What wazero wrote is this compilation's code (compilations are
	// serialised); the staged entry left as it was means it was loaded.
	fresh, err := c.written(sub, staged)
	if err != nil {
		return cm, nil // the module compiled; caching it is best effort
	}
	if fresh == "" {
		if staged != nil {
			c.hits.Add(1)
		} else {
			c.misses.Add(1)
		}
		return cm, nil
	}
	c.misses.Add(1)
	code, err = os.ReadFile(filepath.Join(sub, fresh))
	if err == nil && c.store.Put(id, fresh, code) == nil {
		c.stored.Add(1)
	}
	return cm, nil
}

// stagingSub is the subdirectory wazero's file cache uses (it is named
// after the wazero version and platform): the only one in staging.
func (c *compileCache) stagingSub() (string, error) {
	ents, err := os.ReadDir(c.staging)
	if err != nil || len(ents) != 1 || !ents[0].IsDir() {
		return "", fmt.Errorf("compile cache staging directory %s: expected wazero's one subdirectory", c.staging)
	}
	return filepath.Join(c.staging, ents[0].Name()), nil
}

// written returns the name of a file wazero wrote in sub: any file other
// than the staged one left untouched (the same file, as Lstat saw it).
func (c *compileCache) written(sub string, staged os.FileInfo) (string, error) {
	ents, err := os.ReadDir(sub)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		fi, err := os.Lstat(filepath.Join(sub, e.Name()))
		if err != nil {
			return "", err
		}
		if staged != nil && os.SameFile(fi, staged) && fi.ModTime().Equal(staged.ModTime()) && fi.Size() == staged.Size() {
			continue
		}
		return e.Name(), nil
	}
	return "", nil
}

func (c *compileCache) clearStaging(sub string) {
	ents, _ := os.ReadDir(sub)
	for _, e := range ents {
		_ = os.Remove(filepath.Join(sub, e.Name()))
	}
}

// CacheStats returns what the runtime's compile cache did; zero without one.
func (r *Runtime) CacheStats() CacheStats {
	if r.cache == nil {
		return CacheStats{}
	}
	return r.cache.stats()
}

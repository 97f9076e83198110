package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/cpu"

	"github.com/wasmward/wasmward/internal/compcache"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/version"
	"github.com/wasmward/wasmward/internal/wasm"
)

// CacheStats counts what the authenticated compile cache did.
type CacheStats struct {
	// Hits are compilations loaded from a verified entry; Misses compiled
	// afresh (no entry, or one rejected); Stored entries were written;
	// Rejected entries failed verification and were deleted.
	Hits, Misses, Stored, Rejected uint64
	// Instrumented counts the modules the meter rewrote: a verified entry
	// holds the module as instrumented, so a warm start counts none.
	Instrumented uint64
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
	// exact is set when buildIdentity names this build exactly, so that
	// an entry can be found before the module is instrumented.
	exact bool

	// mu orders compilations. One that may make wazero write code (no
	// verified entry) holds it exclusively, so that what appears in
	// staging meanwhile is that compilation's code. Loads of verified
	// entries share it: each stages its code under its own file name, held
	// in loading so that no two loads stage the same name at once.
	mu        sync.RWMutex
	loadingMu sync.Mutex
	loading   map[string]bool

	hits, misses, stored, rejected, instrumentations atomic.Uint64
}

// cacheBuild is what compiled code depends on besides the module.
func cacheBuild(e Engine) compcache.Build {
	v := version.Read()
	id := buildIdentity()
	if id == "" {
		id = v.Version + " (unidentified)"
	}
	return compcache.Build{Wasmward: id, Wazero: v.Wazero, Platform: v.Platform, CPU: cpuFeatures(), Engine: e.String()}
}

// buildIdentity names the wasmward code running in this process exactly,
// since a cached entry's instrumented module is used without running the
// meter: a release version or a clean VCS revision; otherwise (a modified
// tree, a test binary, a build without VCS information) the SHA-256 of the
// executable. "" when the executable cannot be read: entries are then
// looked up only after instrumenting, by the instrumented bytes' digest.
var buildIdentity = sync.OnceValue(func() string {
	v := version.Read()
	dirty := v.Modified || strings.HasSuffix(v.Version, "+dirty")
	switch {
	case v.Revision != "" && !dirty:
		return v.Version + "+" + v.Revision
	case v.Revision == "" && v.Version != "devel" && !dirty:
		return v.Version // a module version (go install ...@version)
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return v.Version + " executable sha256:" + hex.EncodeToString(h.Sum(nil))
})

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
	return &compileCache{store: st, staging: staging, wz: wz, warn: cfg.cacheWarn, exact: buildIdentity() != ""}, nil
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
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stored: c.stored.Load(), Rejected: c.rejected.Load(),
		Instrumented: c.instrumentations.Load()}
}

// cacheReq is one compilation through the cache: the entry's ID, the
// verified entry found for it (nil: none), and the memory image stored
// with what is compiled.
type cacheReq struct {
	id    compcache.ID
	hit   *compcache.Entry
	image *memImage
	// late is set when the entry is looked up only once the module is
	// instrumented (instrumented).
	late bool
}

// begin starts the compilation of the module with digest sha under the
// instrumentation settings. When the build is identified exactly
// (buildIdentity) and no coverage counters are compiled in, the entry is
// looked up now: a verified one holds the instrumented module and its
// memory image, which everything in its ID determines, so the meter need
// not run. Otherwise the lookup waits for the instrumented bytes, whose
// digest joins the ID (instrumented). Nil-safe: no cache, no request.
func (c *compileCache) begin(sha, settings string, coverage bool) (*cacheReq, error) {
	if c == nil {
		return nil, nil
	}
	req := &cacheReq{id: compcache.ID{Module: sha, Settings: settings}}
	if c.exact && !coverage {
		return req, c.lookup(req)
	}
	req.late = true
	return req, nil
}

// instrumented records the module as it will be compiled and its memory
// image, and looks the entry up when begin could not.
func (c *compileCache) instrumented(req *cacheReq, inst []byte, image *memImage) error {
	if req == nil {
		return nil
	}
	c.instrumentations.Add(1)
	req.image = image
	if !req.late {
		return nil
	}
	req.id.Settings += " compiled=" + digest.SHA256Hex(inst)
	return c.lookup(req)
}

// lookup sets req.hit to the verified entry of req.id, if any; an entry
// that fails verification is counted, reported and left unset.
func (c *compileCache) lookup(req *cacheReq) error {
	e, err := c.store.Get(req.id)
	var rej *compcache.Rejection
	switch {
	case errors.As(err, &rej):
		c.rejected.Add(1)
		if c.warn != nil {
			c.warn(CacheWarning{Path: rej.Path, SHA256: req.id.Module, Reason: rej.Reason})
		}
		return nil
	case err != nil:
		return err
	}
	req.hit = e
	return nil
}

// cached returns the module as instrumented and its memory image from
// the verified entry found for req, or nil when there is none (nil-safe).
// An entry whose image cannot be mod's (not one memory, or larger than its
// minimum) is not used.
func (req *cacheReq) cached(mod *wasm.Module) (inst []byte, image *memImage) {
	if req == nil || req.hit == nil || len(req.hit.Compiled) == 0 {
		return nil, nil
	}
	e := req.hit
	if e.HasImage {
		if len(mod.Memories) != 1 || uint64(len(e.Image)) > mod.Memories[0].Limits.Min*pageSize {
			req.hit = nil
			return nil, nil
		}
		image = imageOf(e.Image, mod.Memories[0].Limits.Min*pageSize)
	}
	req.image = image
	return e.Compiled, image
}

// compile compiles bin (the module as instrumented for req) through the
// cache: the verified entry's code is staged for wazero to load; code
// wazero wrote while compiling is stored, with bin and the memory image,
// as the new entry; staging is emptied after each compilation.
func (c *compileCache) compile(ctx context.Context, wz wazero.Runtime, bin []byte, req *cacheReq) (wazero.CompiledModule, error) {
	if req.hit != nil && c.claim(req.hit.Name) {
		defer c.release(req.hit.Name)
		c.mu.RLock()
		defer c.mu.RUnlock()
		return c.load(ctx, wz, bin, req.hit)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Compilations that write code run one at a time: wazero compiles this
	// one's functions on every core (without a cache, concurrent Compile
	// calls, such as serve's routes, already use them).
	ctx = experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0))
	sub, err := c.stagingSub()
	if err != nil {
		return nil, err
	}
	defer c.clearStaging(sub)
	var staged os.FileInfo
	if req.hit != nil {
		p := filepath.Join(sub, req.hit.Name)
		if err := os.WriteFile(p, req.hit.Code, 0o600); err != nil {
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
	code, err := os.ReadFile(filepath.Join(sub, fresh))
	if err != nil {
		return cm, nil
	}
	e := &compcache.Entry{Name: fresh, Compiled: bin, Code: code}
	if req.image != nil {
		e.HasImage, e.Image = true, req.image.data
	}
	if c.store.Put(req.id, e) == nil {
		c.stored.Add(1)
	}
	return cm, nil
}

// claim marks name as being staged by a load; false when another load
// holds it (the compilation then takes the exclusive path).
func (c *compileCache) claim(name string) bool {
	c.loadingMu.Lock()
	defer c.loadingMu.Unlock()
	if c.loading[name] {
		return false
	}
	if c.loading == nil {
		c.loading = map[string]bool{}
	}
	c.loading[name] = true
	return true
}

func (c *compileCache) release(name string) {
	c.loadingMu.Lock()
	defer c.loadingMu.Unlock()
	delete(c.loading, name)
}

// load compiles bin from the verified entry e, beside other loads (mu
// shared): e's code is staged under its name, which wazero derives from
// bin, so wazero finds it and writes nothing. Should wazero not load it
// (it recompiles and replaces the file), the compilation counts as a miss
// and nothing is stored: only an exclusive compilation knows that what
// wazero wrote is its own code.
func (c *compileCache) load(ctx context.Context, wz wazero.Runtime, bin []byte, e *compcache.Entry) (wazero.CompiledModule, error) {
	sub, err := c.stagingSub()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(sub, e.Name)
	defer os.Remove(p)
	if err := os.WriteFile(p, e.Code, 0o600); err != nil {
		return nil, fmt.Errorf("stage compile cache entry: %w", err)
	}
	staged, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("stage compile cache entry: %w", err)
	}
	cm, err := wz.CompileModule(ctx, bin)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(p); err == nil && sameStaged(fi, staged) {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return cm, nil
}

// sameStaged reports whether fi is the staged file, as Lstat saw it then.
func sameStaged(fi, staged os.FileInfo) bool {
	return os.SameFile(fi, staged) && fi.ModTime().Equal(staged.ModTime()) && fi.Size() == staged.Size()
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
		if staged != nil && sameStaged(fi, staged) {
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

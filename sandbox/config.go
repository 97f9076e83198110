package sandbox

import (
	"context"
	"io"
	"net"
	"os"
)

// Engine selects how wazero executes guests.
type Engine int

const (
	// EngineCompiler compiles guests to native code ahead of execution (the default).
	EngineCompiler Engine = iota
	// EngineInterpreter interprets guests; slower, for platforms without the compiler.
	EngineInterpreter
)

// String returns "compiler" or "interpreter".
func (e Engine) String() string {
	if e == EngineInterpreter {
		return "interpreter"
	}
	return "compiler"
}

// Config is an immutable Runtime configuration. The zero value is not
// usable; start from NewConfig. With methods return a modified copy.
type Config struct {
	engine   Engine
	cacheDir string
	cacheKey []byte
	// cacheWarn receives compile cache entries that failed verification.
	cacheWarn func(CacheWarning)
	stdin     io.Reader
	resolver  Resolver
	// hostFuncs are extra functions of the "wasmward" namespace.
	hostFuncs  []HostFunction
	coverage   bool
	background bool
}

// Resolver looks up the addresses of a host name for the network
// capability. *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// NewConfig returns the default configuration: the compiler engine and no
// on-disk compilation cache.
func NewConfig() Config { return Config{engine: EngineCompiler, stdin: os.Stdin} }

// WithEngine returns a copy that uses engine e.
func (c Config) WithEngine(e Engine) Config { c.engine = e; return c }

// WithCompilationCache returns a copy that keeps compiled code, with the
// instrumented module and its memory image, in dir across processes,
// authenticated with key (32 bytes, kept outside dir: see
// internal/compcache and docs/sandbox.md). Each entry's HMAC-SHA256 covers
// its bytes, the module's digest, the instrumentation settings, the
// wasmward build and wazero version, the platform, the CPU features and
// the engine; an entry that fails is deleted, reported (WithCacheWarnings)
// and the module instrumented and compiled afresh, so whoever can write dir
// cannot make the host run code it did not compile. Compile's policy checks
// run before every lookup. dir "" disables the cache. Compilations through
// a cached Runtime that compile afresh are serialised; loads of verified
// entries run concurrently. The interpreter engine writes no compiled
// code; the cache then stays empty.
func (c Config) WithCompilationCache(dir string, key []byte) Config {
	c.cacheDir, c.cacheKey = dir, key
	return c
}

// CacheWarning describes a compile cache entry that failed verification
// and was deleted instead of loaded.
type CacheWarning struct {
	// Path is the entry file, SHA256 the module being compiled.
	Path   string
	SHA256 string
	// Reason says what failed (MAC mismatch, entry of another module...).
	Reason string
}

// WithCacheWarnings returns a copy that calls fn for every rejected compile
// cache entry (the gateway logs and audits them). fn may be called from
// any goroutine that compiles.
func (c Config) WithCacheWarnings(fn func(CacheWarning)) Config { c.cacheWarn = fn; return c }

// WithStdin returns a copy whose host standard input (what policies with
// stdin "inherit" read) is r instead of os.Stdin. Reads from it happen on a
// helper goroutine so that a guest waiting for input is still stopped at its
// deadline.
func (c Config) WithStdin(r io.Reader) Config { c.stdin = r; return c }

// WithResolver returns a copy whose network capability resolves host names
// with r instead of the system's resolver (tests answer with loopback or
// rebinding addresses; operators may pin a DNS server). Every address r
// returns is checked like any other: a resolver cannot open a private
// network that the policy closes. nil restores the system's.
func (c Config) WithResolver(r Resolver) Config { c.resolver = r; return c }

// WithCoverage returns a copy whose Runtime instruments every module it
// compiles with edge-coverage counters as well (internal/meter's coverage
// mode, for the fuzzer): a run whose Invocation.Coverage is set then
// reports the counters there. Fuel, results and violations are the same as
// without; runs are slower and instances larger.
func (c Config) WithCoverage(on bool) Config { c.coverage = on; return c }

// WithBackgroundCPU returns a copy whose Runtime runs long guest work in
// the background of the host process, so that a guest that computes for
// long cannot delay the host's short work (other requests, other tenants)
// by holding a CPU. A run becomes long once it has consumed
// BackgroundAfter fuel, or when it grows its memory past 16 MiB; from
// then on it finishes on an OS thread of its own with the idle scheduling
// policy (Linux SCHED_IDLE): any other thread of the machine that wants a
// CPU takes it from the guest at once. The thread ends with the run (an
// unprivileged process cannot raise a thread back from the idle policy),
// and runs of such a Runtime never run on the caller's goroutine.
//
// What it costs: a hand-off to a worker goroutine on every run (~3 µs), a
// new OS thread for each long run, and the idle policy's share of the
// CPU. A long guest runs only on CPU time nothing else of the machine
// wants: with other processes keeping every CPU busy it gets about 0.3% of
// one, and it may then end at its deadline instead of finishing. Outside
// Linux, or where the policy cannot be set, runs are as without it. Go
// cannot end a process's first thread: a run whose worker is there stays in
// the foreground, so a program using this keeps its main goroutine on that
// thread (runtime.LockOSThread in an init function, as cmd/wasmward does).
// At most GOMAXPROCS-1 runs are in the background at once (a background
// guest holds its P while it waits for the CPU): a long run beyond them
// stays in the foreground until one ends, and with GOMAXPROCS 1 none moves.
// docs/tenancy.md, "CPU between tenants".
func (c Config) WithBackgroundCPU(on bool) Config { c.background = on; return c }

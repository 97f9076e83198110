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
	stdin    io.Reader
	resolver Resolver
	// hostFuncs are extra functions of the "wasmward" namespace.
	hostFuncs []HostFunction
	coverage  bool
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

// WithCompilationCache returns a copy that keeps compiled code in dir across
// processes (wazero's file cache). "" disables it.
func (c Config) WithCompilationCache(dir string) Config { c.cacheDir = dir; return c }

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

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/wasmward/wasmward/internal/confine"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/engine"
	"github.com/wasmward/wasmward/internal/meter"
	"github.com/wasmward/wasmward/internal/netcap"
	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
)

const (
	pageSize      = 65536
	tableElemSize = 8 // bytes of host memory per table element
)

// Module is a module checked against its policy, instrumented and compiled
// once. Run it any number of times, concurrently.
type Module struct {
	rt       *Runtime
	compiled wazero.CompiledModule
	policy   policy.Policy
	sha      string

	// imports are the WASI functions the module imports, with their report
	// keys ("wasi_snapshot_preview1.fd_write") and counter slots.
	imports []importSlot
	// net is the module's network, when it imports wasi_experimental_http.
	net     *netcap.Client
	usesNet bool
	// exports are the module's exported functions.
	exports map[string]api.FunctionDefinition

	// base is the module configuration every run starts from.
	base   wazero.ModuleConfig
	env    []string // the policy's environment, sorted "K=V"
	mounts []experimentalsys.FS
	stdin  *pumpReader // policy stdin "inherit"
	seeded bool
	seed   int64
	// tableBytes is the host memory the module's declared tables take;
	// growsTables is false when no function body can hold a table.grow
	// (no 0xfc 0x0f byte pair), so the tables stay at tableBytes.
	tableBytes  uint64
	growsTables bool
	// sites and counterNames are set when the Runtime instruments for
	// coverage (Config.WithCoverage).
	sites        []CoverageSite
	counters     int
	counterNames []string
	cmpNames     [][2]string // per comparison slot: its operands' globals
	cmp32        int         // slots before this one compare i32s
	// depth is the call depth enforced: the policy's, or less when the
	// engine's stack cannot hold that many of the module's largest frames.
	depth uint32

	// image is the initial linear memory when the module's data segments
	// were moved out of the compiled module into it (memimage.go).
	image *memImage

	// reuse says whether runs may reuse an instance (reuse.go); states
	// holds the idle run states, some with a clean instance.
	reuse     reuseInfo
	states    statePool
	instances atomic.Int64   // instances created, for tests of reuse
	inflight  sync.WaitGroup // guest goroutines of this module still running

	closeOnce sync.Once
	closeErr  error
}

type importSlot struct {
	key  string
	slot int
}

// SHA256 returns the lowercase hex SHA-256 of the module bytes given to Compile.
func (m *Module) SHA256() string { return m.sha }

// StackDepth returns the call depth enforced for the module: the policy's
// limits.stack_depth, or fewer when that many frames of its largest
// function would not fit the engine's stack (see MaxStackDepth).
func (m *Module) StackDepth() uint32 { return m.depth }

// Policy returns a copy of the policy the module runs under.
func (m *Module) Policy() policy.Policy { return m.policy.Clone() }

// Close releases the compiled code and the mounts. Runs must have returned
// first; abandoned guests (see Run) are waited for until ctx is done.
func (m *Module) Close(ctx context.Context) error {
	m.closeOnce.Do(func() {
		waitGroup(ctx, &m.inflight)
		m.states.close(ctx, m.rt)
		m.closeErr = m.compiled.Close(ctx)
		if m.net != nil {
			m.net.Close()
		}
		for _, fs := range m.mounts {
			if c, ok := fs.(io.Closer); ok {
				_ = c.Close()
			}
		}
	})
	return m.closeErr
}

func refuse(kind Kind, format string, args ...any) error {
	return &Refusal{Violation: Violation{Kind: kind, Detail: fmt.Sprintf(format, args...)}}
}

// Compile checks bin against p before the compiler sees it: it must decode
// and use only proposals the runtime executes (internal/engine: a module
// using GC, memory64, multi-memory, relaxed SIMD, legacy exceptions or
// threads is refused as "not supported by the runtime"), every import must be allowed by p and provided by the host (nothing may be
// imported from the reserved "wasmward" namespace), no memory may declare a
// minimum above p.Limits.Memory and no table one above the table budget
// (p.Limits.Memory / 8 elements, within [1024, 1<<24]). It then instruments
// the module for fuel, call depth, the deadline and table growth (refusing
// control nesting deeper than 1024), compiles it, and opens p's mounts. A
// module that fails a check is refused with a *Refusal; other errors are
// host-side (for example a mount that does not exist).
//
// Compile returns promptly when ctx is done, even in the middle of wazero's
// compiler (which does not look at ctx; the compilation finishes in the
// background and is discarded): when ctx's deadline passed, with a
// *Refusal of kind timeout that wraps context.DeadlineExceeded (the
// caller's bound on compile time is a limit the module exceeded); when ctx
// was canceled, with an error wrapping context.Canceled.
func (r *Runtime) Compile(ctx context.Context, bin []byte, p policy.Policy) (*Module, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if ctx.Err() != nil {
		return nil, compileStopped(ctx)
	}
	if err := precheckCounts(bin); err != nil {
		return nil, err
	}
	mod, err := wasm.Decode(bin)
	if err != nil {
		return nil, refuse(KindInvalidModule, "%v", err)
	}
	if u := engine.Check(mod.Features); u.Any() {
		return nil, refuse(KindInvalidModule, "not supported by the runtime: %s", u)
	}
	stateWrites, err := checkBudget(mod, p)
	if err != nil {
		return nil, err
	}
	m := &Module{rt: r, policy: p.Clone(), sha: digest.SHA256Hex(bin)}
	if err := m.checkImports(mod); err != nil {
		return nil, err
	}
	if m.tableBytes, err = checkMemories(mod, uint64(p.Limits.Memory)); err != nil {
		return nil, err
	}
	m.depth = effectiveDepth(mod, p.Limits.StackDepth, r.cfg.engine)
	for _, f := range mod.Code {
		if bytes.Contains(f.Body.Code, []byte{0xfc, 0x0f}) {
			m.growsTables = true
			break
		}
	}
	settings := fmt.Sprintf("fuel=metered stack_depth=%d memory=%d", m.depth, uint64(p.Limits.Memory))
	req, err := r.cache.begin(m.sha, settings, r.cfg.coverage)
	if err != nil {
		return nil, err
	}
	// A verified cache entry holds the module as instrumented (cache.go).
	inst, image := req.cached(mod)
	var cmap *meter.Map
	if inst == nil {
		if inst, cmap, err = instrumentMode(bin, m.depth, uint64(p.Limits.Memory), r.cfg.coverage); err != nil {
			var le *meter.LimitError
			if errors.As(err, &le) {
				return nil, refuse(KindInvalidModule, "%s", le.Error())
			}
			// Imports from the namespace were refused above; what is left is a
			// module exporting the metering globals' names, or one the meter
			// cannot rewrite.
			return nil, refuse(KindInvalidModule, "%v", err)
		}
		image, inst = newMemImage(mod, bin, inst)
		if err := r.cache.instrumented(req, inst, image); err != nil {
			return nil, err
		}
	}
	m.image = image
	cm, err := r.compileModule(ctx, inst, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, compileStopped(ctx)
		}
		// Tell an invalid module from a fault of the instrumentation: only
		// on this failure path, compile the original too.
		orig, oerr := r.compileModule(ctx, bin, nil)
		if ctx.Err() != nil {
			return nil, compileStopped(ctx)
		}
		if oerr != nil {
			return nil, refuse(KindInvalidModule, "%s", safetext.FirstLine(oerr.Error()))
		}
		_ = orig.Close(ctx)
		return nil, fmt.Errorf("internal error: the instrumented module does not compile: %s", safetext.FirstLine(err.Error()))
	}
	m.compiled = cm
	if r.cfg.coverage {
		m.setCoverage(cmap)
	}
	m.exports = cm.ExportedFunctions()
	m.setReuse(mod, stateWrites)
	if m.usesNet {
		c, err := netcap.New(p, netcap.Options{Resolver: r.cfg.resolver})
		if err != nil {
			_ = m.Close(ctx)
			return nil, err
		}
		m.net = c
	}
	if err := m.configure(); err != nil {
		_ = m.Close(ctx)
		return nil, err
	}
	return m, nil
}

// compileModule runs wazero's CompileModule, which ignores ctx, on its own
// goroutine, and returns when it is done or ctx is, whichever comes first.
// An abandoned compilation finishes in the background (its time is bounded
// by the meter's nesting limit) and its result is closed; Runtime.Close
// waits for it like for an abandoned run. With req (a compile cache's
// request, see begin) it goes through the cache.
func (r *Runtime) compileModule(ctx context.Context, bin []byte, req *cacheReq) (wazero.CompiledModule, error) {
	type result struct {
		cm  wazero.CompiledModule
		err error
	}
	done := make(chan result, 1)
	r.inflight.Go(func() {
		var res result
		if req != nil {
			res.cm, res.err = r.cache.compile(context.WithoutCancel(ctx), r.wz, bin, req)
		} else {
			res.cm, res.err = r.wz.CompileModule(context.WithoutCancel(ctx), bin)
		}
		done <- res
	})
	select {
	case res := <-done:
		return res.cm, res.err
	case <-ctx.Done():
		go func() {
			if res := <-done; res.err == nil {
				_ = res.cm.Close(context.Background())
			}
		}()
		return nil, ctx.Err()
	}
}

// compileStopped is Compile's error when ctx ended before compilation did.
func compileStopped(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return &Refusal{Violation: Violation{Kind: KindTimeout,
			Detail: "compilation did not finish before the caller's deadline"}, err: err}
	}
	return fmt.Errorf("compile: %w", err)
}

// checkImports refuses imports the policy does not allow or the host does
// not provide.
func (m *Module) checkImports(mod *wasm.Module) error {
	for _, im := range mod.Imports {
		// The names are the module's bytes: escaped before they reach a
		// refusal's detail (printed by the CLI, logged by the gateway).
		full := safetext.Escape(im.Module + "." + im.Name)
		if im.Module == meter.ImportModule {
			if hf, ok := m.rt.hostFuncs[im.Name]; ok {
				if err := m.checkGrantedImport(mod, im, hf, full); err != nil {
					return err
				}
				continue
			}
			return refuse(KindImportDenied, "import %s: the %q namespace is reserved for wasmward", full, meter.ImportModule)
		}
		if im.Module == netcap.Module {
			if !m.policy.AllowsImport(im.Module, im.Name) {
				return refuse(KindImportDenied, "import %s (%s): the policy grants no network access (capabilities.network.http)", full, im.Kind)
			}
			hf, ok := m.rt.netFuncs[im.Name]
			if err := m.checkHostImport(mod, im, full, hf, ok); err != nil {
				return err
			}
			m.usesNet = true
			continue
		}
		if !m.policy.AllowsImport(im.Module, im.Name) {
			return refuse(KindImportDenied, "import %s (%s) is not allowed by the policy", full, im.Kind)
		}
		hf, ok := m.rt.wasiFuncs[im.Name]
		if err := m.checkHostImport(mod, im, full, hf, ok && im.Module == wasiModule); err != nil {
			return err
		}
	}
	return nil
}

// checkHostImport checks an allowed import against the host function hf
// (ok false: the host provides none) and records its counter slot.
func (m *Module) checkHostImport(mod *wasm.Module, im wasm.Import, full string, hf hostFunc, ok bool) error {
	if im.Kind != wasm.ExternFunc || !ok {
		return refuse(KindImportDenied, "import %s (%s) is allowed by the policy but no host provides it", full, im.Kind)
	}
	if int(im.TypeIndex) >= len(mod.Types) {
		return refuse(KindInvalidModule, "import %s: type index %d out of range", full, im.TypeIndex)
	}
	ft := mod.Types[im.TypeIndex]
	if !sameTypes(ft.Params, hf.params) || !sameTypes(ft.Results, hf.results) {
		return refuse(KindImportDenied, "import %s: signature %s does not match the host's", full, ft)
	}
	m.imports = append(m.imports, importSlot{key: full, slot: hf.slot})
	return nil
}

// checkGrantedImport checks an import of a configured host function: a
// function, with the host's signature, granted by the policy.
func (m *Module) checkGrantedImport(mod *wasm.Module, im wasm.Import, hf HostFunction, full string) error {
	if im.Kind != wasm.ExternFunc || int(im.TypeIndex) >= len(mod.Types) {
		return refuse(KindImportDenied, "import %s (%s): the host provides a function", full, im.Kind)
	}
	if ft := mod.Types[im.TypeIndex]; !sameTypes(ft.Params, hf.Params) || !sameTypes(ft.Results, hf.Results) {
		return refuse(KindImportDenied, "import %s: signature %s does not match the host's", full, ft)
	}
	if hf.Grant != nil {
		if err := hf.Grant(m.policy); err != nil {
			return refuse(KindCapabilityDenied, "import %s: %v", full, err)
		}
	}
	return nil
}

// sameTypes reports whether the types a module declares for an import are
// the host function's (wazero's api.ValueType is the binary type code).
func sameTypes(a []wasm.ValType, b []api.ValueType) bool {
	return slices.EqualFunc(a, b, func(x wasm.ValType, y api.ValueType) bool { return x == wasm.ValType{Code: y} })
}

// checkMemories refuses a module whose declared memories and tables could
// never be instantiated within the per-instance cap: linear memory minimums
// above the cap, or tables (8 bytes per element) that with them exceed the
// cap plus the table allowance, or a table above the per-table bound. It
// returns the bytes the declared tables take.
func checkMemories(mod *wasm.Module, limit uint64) (tableBytes uint64, err error) {
	maxTable := uint64(maxTableElements(limit))
	for i, tab := range mod.Tables {
		if min := tab.Limits.Min; min > maxTable {
			return 0, refuse(KindMemoryLimit, "table %d declares a minimum of %d elements (%s of host memory), above the limit of %d elements per table under the %s per-instance cap",
				i, min, policy.Size(min*tableElemSize), maxTable, policy.Size(limit))
		}
		tableBytes += tab.Limits.Min * tableElemSize
	}
	var memBytes uint64
	for i, mem := range mod.Memories {
		if mem.Limits.Is64 {
			return 0, refuse(KindInvalidModule, "memory %d: 64-bit memories are not supported", i)
		}
		if min := mem.Limits.Min; min > limit/pageSize {
			return 0, refuse(KindMemoryLimit, "memory %d declares a minimum of %s (%d pages), above the %s per-instance cap",
				i, policy.Size(min*pageSize), min, policy.Size(limit))
		}
		memBytes += mem.Limits.Min * pageSize
	}
	if memBytes > limit {
		return 0, refuse(KindMemoryLimit, "the %d memories declare %s together, above the %s per-instance cap",
			len(mod.Memories), policy.Size(memBytes), policy.Size(limit))
	}
	if memBytes+tableBytes > limit+tableAllowance {
		return 0, refuse(KindMemoryLimit, "the %d tables declare %s of host memory (8 bytes per element), which with %s of linear memory is above the %s per-instance cap (plus %s for tables)",
			len(mod.Tables), policy.Size(tableBytes), policy.Size(memBytes), policy.Size(limit), policy.Size(tableAllowance))
	}
	return tableBytes, nil
}

// configure builds the parts of the module configuration every run shares:
// mounts, environment, clocks.
func (m *Module) configure() error {
	c := m.policy.Capabilities
	cfg := wazero.NewModuleConfig().
		WithName("").        // anonymous: instances may run concurrently
		WithStartFunctions() // Run calls _start itself, with the run's context
	m.env = c.SortedEnv() // served by wasiBuilder's environ_get
	if c.Clock == policy.ClockReal {
		cfg = cfg.WithSysWalltime().WithSysNanotime()
	}
	seeded, seed, err := c.RandomSource()
	if err != nil {
		return err
	}
	m.seeded, m.seed = seeded, seed
	if len(c.Mounts) > 0 {
		fsc := wazero.NewFSConfig()
		for _, mt := range c.Mounts {
			fs, err := confine.New(mt.Host, mt.ReadOnly)
			if err != nil {
				return fmt.Errorf("mount %s at %s: %w", mt.Host, mt.Guest, err)
			}
			m.mounts = append(m.mounts, fs)
			fsc = fsc.(sysfs.FSConfig).WithSysFSMount(fs, mt.Guest)
		}
		cfg = cfg.WithFSConfig(fsc)
	}
	if c.Stdin == policy.StdinInherit {
		m.stdin = m.rt.stdinPump()
	}
	m.base = cfg
	return nil
}

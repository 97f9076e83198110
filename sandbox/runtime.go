package sandbox

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmward/wasmward/internal/engine"
	"github.com/wasmward/wasmward/internal/meter"
)

// wasiModule is the import module name of WASI preview1.
const wasiModule = wasi_snapshot_preview1.ModuleName

// Runtime owns the wazero runtime, the WASI host module and the wasmward
// metering host functions, all instantiated once. It is safe for concurrent
// use: any number of goroutines may Compile and Run at the same time.
type Runtime struct {
	cfg   Config
	wz    wazero.Runtime
	cache *compileCache

	// wasiFuncs are the WASI functions the host provides, by name, with the
	// slot of their call counter in runState.calls.
	wasiFuncs map[string]hostFunc
	// netFuncs are the wasi_experimental_http functions, with their slots
	// after the WASI ones; nslots counts both.
	netFuncs map[string]hostFunc
	nslots   int
	// hostFuncs are the configured functions of the "wasmward" namespace
	// (Config.WithHostFunctions), by name.
	hostFuncs map[string]HostFunction
	// fuelSlice is the most fuel one refuel hands out (fuelSlice; tests
	// shrink it to prove accounting does not depend on it).
	fuelSlice int64
	// background is Config.WithBackgroundCPU; noBackground is set when a
	// thread refused the idle policy (runs then stay where they are).
	background   bool
	noBackground atomic.Bool
	// backgroundErr is why the background is off although asked for.
	backgroundErr error
	// backgroundRuns counts the runs in the background now (background.go).
	backgroundRuns atomic.Int32
	// memPool recycles zeroed linear memories across instances.
	memPool *memPool
	// idleBytes is what the idle instances of all modules hold, at most
	// idleBudget (reuse.go; tests lower it).
	idleBytes  atomic.Int64
	idleBudget int64

	// inflight counts guest goroutines still running, abandoned ones included.
	inflight sync.WaitGroup
	// jobs hands runs to idle workers (see dispatch); closed ends them.
	jobs   chan *runState
	closed chan struct{}

	stdinOnce sync.Once
	stdin     *pumpReader

	closeOnce sync.Once
	closeErr  error
}

// hostFunc describes one host function a guest may import.
type hostFunc struct {
	slot    int
	params  []api.ValueType
	results []api.ValueType
}

// New creates a Runtime: a wazero runtime whose page limit is the wasm32
// maximum (each instance is capped by its own policy instead), the WASI
// preview1 host module with per-function call counting, and the host module
// that instrumented guests call for fuel and on stack exhaustion.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	var rc wazero.RuntimeConfig
	if cfg.engine == EngineInterpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	} else {
		rc = wazero.NewRuntimeConfigCompiler()
	}
	// Only the per-instance allocator decides how far memory grows; wazero's
	// runtime-wide limit is the wasm32 maximum. WithCloseOnContextDone stays
	// off: instrumentation stops guests at no cost to code that is not
	// stopped. The proposals are what internal/engine says run executes
	// (every one wazero implements but threads).
	rc = rc.WithMemoryLimitPages(65536).WithCoreFeatures(engine.RunCoreFeatures)
	r := &Runtime{cfg: cfg, memPool: newMemPool(), fuelSlice: fuelSlice, idleBudget: idleBudget, background: cfg.background,
		jobs: make(chan *runState), closed: make(chan struct{})}
	if r.background {
		if err := probeIdle(); err != nil {
			r.noBackground.Store(true)
			r.backgroundErr = fmt.Errorf("background CPU: %w", err)
		}
	}
	if cfg.cacheDir != "" {
		c, err := newCompileCache(cfg)
		if err != nil {
			return nil, fmt.Errorf("open compile cache %q: %w", cfg.cacheDir, err)
		}
		r.cache = c
		rc = rc.WithCompilationCache(c.wz)
	}
	r.wz = wazero.NewRuntimeWithConfig(ctx, rc)
	if err := r.instantiateHosts(ctx); err != nil {
		_ = r.wz.Close(ctx)
		if r.cache != nil {
			_ = r.cache.close(ctx)
		}
		return nil, err
	}
	return r, nil
}

func (r *Runtime) instantiateHosts(ctx context.Context) error {
	// WASI, with every function wrapped to count its calls in the run state
	// found in the caller's context.
	b, slots, err := wasiHost(ctx, r.wz)
	if err != nil {
		return err
	}
	cm, err := b.Compile(ctx)
	if err != nil {
		return fmt.Errorf("compile WASI host module: %w", err)
	}
	r.wasiFuncs = make(map[string]hostFunc, len(slots))
	for name, def := range cm.ExportedFunctions() {
		slot, ok := slots[name]
		if !ok {
			return fmt.Errorf("WASI host function %s has no call counter", name)
		}
		r.wasiFuncs[name] = hostFunc{slot: slot, params: def.ParamTypes(), results: def.ResultTypes()}
	}
	if _, err := r.wz.InstantiateModule(ctx, cm, wazero.NewModuleConfig()); err != nil {
		return fmt.Errorf("instantiate WASI host module: %w", err)
	}
	if err := r.instantiateNet(ctx, len(slots)); err != nil {
		return err
	}

	if r.hostFuncs, err = hostModuleFuncs(r.cfg.hostFuncs); err != nil {
		return err
	}
	hb := r.wz.NewHostModuleBuilder(meter.ImportModule)
	for _, f := range r.cfg.hostFuncs {
		hb = hb.NewFunctionBuilder().WithGoModuleFunction(wrapHost(f), f.Params, f.Results).
			WithName(f.Name).Export(f.Name)
	}
	_, err = hb.
		NewFunctionBuilder().
		WithGoFunction(api.GoFunc(fuelHost), []api.ValueType{api.ValueTypeI64}, []api.ValueType{api.ValueTypeI64}).
		WithName(meter.FuelFunc).Export(meter.FuelFunc).
		NewFunctionBuilder().
		WithGoFunction(api.GoFunc(stackHost), nil, nil).
		WithName(meter.StackFunc).Export(meter.StackFunc).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate %s host module: %w", meter.ImportModule, err)
	}
	return nil
}

// Close releases the runtime and every module compiled by it. Runs must have
// returned first; guests that Run abandoned (see Module.Run) are waited for
// until ctx is done, then closed under them.
func (r *Runtime) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		waitGroup(ctx, &r.inflight)
		close(r.closed)
		r.closeErr = r.wz.Close(ctx)
		if r.cache != nil {
			if err := r.cache.close(ctx); err != nil && r.closeErr == nil {
				r.closeErr = err
			}
		}
	})
	return r.closeErr
}

// fuelHost is meter.FuelFunc: the guest's fuel counter went negative.
func fuelHost(ctx context.Context, stack []uint64) {
	st := stateFrom(ctx)
	if st == nil {
		panic(&violationError{Kind: KindInvalidModule, Detail: "fuel requested outside a wasmward run"})
	}
	stack[0] = uint64(st.refuel(int64(stack[0])))
}

// stackHost is meter.StackFunc: a call would nest deeper than the bound.
func stackHost(ctx context.Context, _ []uint64) {
	st := stateFrom(ctx)
	detail := "call depth exceeded the limit"
	if st != nil {
		detail = st.m.depthText()
	}
	v := &violationError{Kind: KindStackLimit, Detail: detail}
	if st != nil {
		st.record(v)
	}
	panic(v)
}

// depthText says which call depth bound a guest hit.
func (m *Module) depthText() string {
	if pd := m.policy.Limits.StackDepth; m.depth < pd {
		return fmt.Sprintf("call depth exceeded %d nested calls: the engine's stack holds no more frames of this module's largest function (the policy allows %d)", m.depth, pd)
	}
	return fmt.Sprintf("call depth exceeded the limit of %d nested calls", m.depth)
}

// waitGroup waits for wg or until ctx is done.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// workerIdle is how long a worker goroutine waits for the next run before it
// exits.
const workerIdle = 10 * time.Second

// dispatch runs st.execute on an idle worker goroutine, or on a new one when
// none is idle. Workers outlive runs so that their stacks, grown by the
// first call into wazero, are not grown again for every run.
func (r *Runtime) dispatch(st *runState) {
	select {
	case r.jobs <- st:
	default:
		go r.worker(st)
	}
}

func (r *Runtime) worker(st *runState) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		st.execute()
		// Read before the hand-back: from then on st is the caller's.
		demoted := st.demoted
		if demoted {
			// Counted out before the caller hears of the end, so that its
			// next run finds the slot free (background.go).
			r.backgroundRuns.Add(-1)
		}
		st.finished <- struct{}{}
		if demoted {
			// The goroutine ends locked to its idle-policy thread, and the
			// Go runtime ends the thread with it (background.go).
			return
		}
		idle.Reset(workerIdle)
		select {
		case st = <-r.jobs:
		case <-idle.C:
			return
		case <-r.closed:
			return
		}
	}
}

package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmward/wasmward/internal/meter"
	"github.com/wasmward/wasmward/internal/netcap"
	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/policy"
)

// ErrInvoke is wrapped by the errors Run returns for an invocation that does
// not fit the module (no such export, wrong number of arguments, no _start):
// the caller's mistake, not the guest's behaviour.
var ErrInvoke = errors.New("invalid invocation")

// fuelSlice is how much fuel one call of the fuel host function hands out
// when the budget allows: about a millisecond of guest work, so the deadline
// is checked at least that often.
const fuelSlice = 1 << 20

// stateKey is the context key of the *runState of the current run.
type stateKey struct{}

// stateFrom returns the run state carried by ctx, or nil.
func stateFrom(ctx context.Context) *runState {
	st, _ := ctx.Value(stateKey{}).(*runState)
	return st
}

// runCtx carries the run state without an allocation per run: it is a field
// of the pooled runState.
type runCtx struct {
	context.Context
	st *runState
}

func (c *runCtx) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return c.st
	}
	return c.Context.Value(key)
}

// violationError is what host functions panic with to stop a guest; wazero
// wraps it with %w, so errors.As finds it in the error of the call.
type violationError Violation

func (v *violationError) Error() string { return (*Violation)(v).Error() }

// runState is the per-run state the host functions reach through the
// context. States are pooled per Module; everything in them is reset by
// begin.
type runState struct {
	m    *Module
	rctx runCtx
	// ictx is rctx with the memory allocator, built once per state: its
	// parent is &rctx, whose Context changes per run.
	ictx context.Context

	deadline       time.Time
	callerDeadline bool // the caller's context set the deadline, not the policy
	done           <-chan struct{}

	// fuel accounting: handed is the fuel given to the guest so far (the
	// guest's counter starts at 0); budget is the run's limit, 0 unmetered.
	handed int64
	budget int64
	// mayDemote: this run may still move to the background (background.go);
	// demoted: it has, and its worker's thread ends with it.
	mayDemote, demoted bool
	// quotaTaken is the fuel taken from Invocation.Quota so far.
	quotaTaken int64

	viol  *violationError   // first violation, if any
	fuelG api.MutableGlobal // the instance's meter.FuelGlobal, once instantiated
	// The instance's meter.TablesGlobal and meter.MemoryGlobal, once
	// instantiated: what its tables hold, and its linear memory for the
	// meter's table.grow check.
	// Looked up on first use (a memory growth, or the end of a run of a
	// module that grows tables): the lookups allocate, and most runs need
	// neither.
	mod     api.Module
	tablesG api.Global
	memG    api.MutableGlobal
	tables  uint64   // bytes the tables held when the run ended
	calls   []uint64 // per host function (WASI, then network), by slot
	// net is the run's network session when the module imports it.
	net *netcap.Session

	stdout, stderr capWriter
	stdin          deadlineReader
	// io guards the caller's streams (ioIdle, ioBusy, ioAbandoned): the
	// guest's goroutine moves it idle->busy->idle around every read or
	// write of them; Run swaps in ioAbandoned when its watchdog gives up,
	// after which no read or write of them starts (see enterIO).
	io  atomic.Int32
	mem linearMemory
	rnd *mrand.ChaCha8 // seeded random, reseeded per run

	cfg wazero.ModuleConfig // m.base plus this state's writers, sleep, random and clocks
	// wall and mono are the fixed clocks' last readings (policy clock
	// "fixed"), reset by begin.
	wall, mono atomic.Int64
	sleepFn    sys.Nanosleep

	// argv and the environment, NUL-terminated, with each string's offset.
	argBuf, envBuf   []byte
	argOffs, envOffs []uint32

	// The invocation, handed to the guest goroutine, and what it did.
	name, fname string
	in          Invocation
	start       time.Time
	closeStdin  func()
	results     []uint64
	fuelLeft    int64
	tableDenied bool // the meter's DeniedGlobal was set: a table.grow was refused
	// exited: the guest called proc_exit; tainted: it called a WASI
	// function that may change its instance's system state (wasi.go).
	// Either is reset by begin.
	exited, tainted bool
	// inst is the instance of the run, and of later runs while it is
	// clean (reuse.go).
	inst     kept
	callErr  error // the guest call's error: trap, exit, violation
	hostErr  error // a failure of the host
	elapsed  time.Duration
	finished chan struct{} // capacity 1: execute never blocks on it
	watch    *time.Timer   // the last-resort watchdog

	// persistent marks the state of an Instance (Module.Instantiate): it
	// lives as long as the instance and the host functions of
	// Config.WithHostFunctions answer only there; data is what they see.
	persistent bool
	data       any
}

func (m *Module) newState() *runState {
	st := &runState{m: m, calls: make([]uint64, m.rt.nslots)}
	if m.net != nil {
		st.net = m.net.NewSession()
	}
	st.rctx.st = st
	st.ictx = experimental.WithMemoryAllocator(&st.rctx, &st.mem)
	st.finished = make(chan struct{}, 1)
	st.watch = time.NewTimer(time.Hour)
	st.watch.Stop()
	st.stdout = capWriter{st: st, stream: "stdout"}
	st.stderr = capWriter{st: st, stream: "stderr"}
	st.stdin.st = st
	st.mem.st = st
	st.sleepFn = st.nanosleep
	cfg := m.base.WithStdout(&st.stdout).WithStderr(&st.stderr).WithStdin(&st.stdin).
		WithNanosleep(st.sleepFn).WithOsyield(func() {})
	if m.policy.Capabilities.Clock != policy.ClockReal {
		// wazero's fixed clocks, as its defaults are, but reset per run
		// (begin) instead of allocated per instance.
		cfg = cfg.WithWalltime(st.fixedWalltime, sys.ClockResolution(time.Microsecond)).
			WithNanotime(st.fixedNanotime, sys.ClockResolution(time.Nanosecond))
	}
	if m.seeded {
		st.rnd = mrand.NewChaCha8(seedBytes(m.seed))
		cfg = cfg.WithRandSource(st.rnd)
	} else {
		cfg = cfg.WithRandSource(rand.Reader)
	}
	st.cfg = cfg
	return st
}

// fakeEpochNanos is the first reading of the fixed wall clock: midnight
// UTC 2022-01-01, as wazero's own fixed clock.
const fakeEpochNanos = 1640995200 * int64(time.Second)

// fixedWalltime and fixedNanotime are the clocks of policy clock "fixed":
// wazero's fixed clocks (the wall clock starts at fakeEpochNanos, the
// monotonic one at 0, each reading 1 ms after the previous), one per run
// state instead of two closures allocated per instance.
func (st *runState) fixedWalltime() (sec int64, nsec int32) {
	t := st.wall.Add(int64(time.Millisecond))
	return t / 1e9, int32(t % 1e9)
}

func (st *runState) fixedNanotime() int64 { return st.mono.Add(int64(time.Millisecond)) }

// resetClocks makes the fixed clocks' next readings their first.
func (st *runState) resetClocks() {
	st.wall.Store(fakeEpochNanos - int64(time.Millisecond))
	st.mono.Store(-int64(time.Millisecond))
}

func seedBytes(n int64) (s [32]byte) {
	binary.LittleEndian.PutUint64(s[:], uint64(n))
	copy(s[8:], "wasmward seeded random")
	return s
}

// record keeps v as the run's violation unless one was recorded before.
func (st *runState) record(v *violationError) *violationError {
	if st.viol == nil {
		st.viol = v
	}
	return st.viol
}

// States of runState.io.
const (
	ioIdle int32 = iota
	ioBusy
	ioAbandoned
	// ioKept: the run ended and its instance was reset for the next
	// (runState.keep); Run can no longer abandon it.
	ioKept
)

// enterIO is called by the guest's goroutine before it reads or writes one
// of the caller's streams. Once Run has abandoned the run (and returned), it
// stops the guest instead: the caller may already reuse those objects.
func (st *runState) enterIO() {
	if !st.io.CompareAndSwap(ioIdle, ioBusy) {
		st.stopAbandoned()
	}
}

// exitIO ends what enterIO began. A read or write that was in progress when
// Run abandoned the run stops the guest when it returns.
func (st *runState) exitIO() {
	if !st.io.CompareAndSwap(ioBusy, ioIdle) {
		st.stopAbandoned()
	}
}

func (st *runState) stopAbandoned() {
	st.stop(KindTimeout, "the run was abandoned; its streams are revoked")
}

// stop records a violation and panics with it, unwinding the guest.
func (st *runState) stop(kind Kind, format string, args ...any) {
	v := &violationError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
	st.record(v)
	panic(v)
}

// checkDeadline stops the guest when the deadline passed or the caller's
// context is done.
func (st *runState) checkDeadline() {
	if st.done != nil {
		select {
		case <-st.done:
			st.stopCanceled()
		default:
		}
	}
	if !time.Now().Before(st.deadline) {
		st.stopTimeout()
	}
}

func (st *runState) stopTimeout() {
	st.stop(KindTimeout, "%s", st.deadlineText())
}

// deadlineText names the deadline that applied to the run: the policy's
// timeout or a shorter one of the caller (its context or
// Invocation.Deadline).
func (st *runState) deadlineText() string {
	if st.callerDeadline {
		return "the caller's deadline passed"
	}
	return fmt.Sprintf("wall-clock deadline of %s exceeded", st.m.policy.Limits.Timeout)
}

func (st *runState) stopCanceled() {
	if err := st.rctx.Context.Err(); errors.Is(err, context.DeadlineExceeded) {
		st.stop(KindTimeout, "the caller's deadline passed")
	}
	st.stop(KindTimeout, "run canceled by the caller")
}

// refuel implements meter.FuelFunc. c is the guest's counter (< 0: the
// guest consumed c more than it was handed). It returns the new counter or
// stops the guest. The budget check is exact whatever the slice size: the
// counter handed out never exceeds what is left of the budget, so the guest
// calls back at the first check where consumption exceeds the budget.
func (st *runState) refuel(c int64) int64 {
	if st.handed > 0 {
		// A slice after the first: let whatever waits for this P run
		// (compiled guest code is not preemptible, and Go's scheduler
		// would take the P back only ~10 ms after it asked). Before the
		// checks, so a deadline that passed meanwhile is seen now. A run
		// of one slice never yields; with nothing waiting this costs
		// ~200 ns per slice (docs/tenancy.md, "CPU between tenants").
		runtime.Gosched()
	}
	st.checkDeadline()
	consumed := st.handed - c
	grant := st.m.rt.fuelSlice
	if st.handed == 0 {
		// The first grant is at most BackgroundAfter with or without
		// Config.WithBackgroundCPU, so that both hand out fuel at the same
		// points: the fuel reported after a trap depends on where the
		// grants fall (the guest's counter is not written back before a
		// trap), and must not depend on the option.
		grant = min(grant, BackgroundAfter)
	}
	if st.budget > 0 {
		left := st.budget - consumed
		if left < 0 {
			st.stop(KindFuelExhausted, "fuel budget of %d exhausted", st.budget)
		}
		grant = min(grant, left)
	}
	if q := st.in.Quota; q != nil && grant > 0 {
		// The quota pays for all that was handed out: what the guest
		// consumed beyond its last grant, then the new grant.
		st.quotaTaken += q.Take(consumed + grant - st.quotaTaken)
		if st.quotaTaken <= consumed {
			st.stop(KindQuota, "the tenant's fuel quota is spent")
		}
		grant = min(grant, st.quotaTaken-consumed)
	}
	if consumed >= BackgroundAfter {
		// Long enough to leave the foreground, and going on
		// (Config.WithBackgroundCPU; the first grant was at most
		// BackgroundAfter).
		st.demote()
	}
	st.handed = consumed + grant
	return grant
}

// bigHostWork is the cost (in fuel units) from which a host call checks the
// deadline before it starts even when its charge does not exhaust the
// guest's slice.
const bigHostWork = 1 << 16

// tableBytes is the host memory the instance's tables hold: the meter's
// count once the instance exists, their declared minimums before.
func (st *runState) tableBytes() uint64 {
	if st.tablesG == nil && st.mod != nil {
		st.tablesG = st.mod.ExportedGlobal(meter.TablesGlobal)
	}
	if st.tablesG != nil {
		return st.tablesG.Get()
	}
	if st.m != nil {
		return st.m.tableBytes
	}
	return 0
}

// setMemoryBytes tells the meter's table.grow check how much linear memory
// the instance holds (its initial value, before the instance exists, is
// the declared minimums: what instantiation allocates).
func (st *runState) setMemoryBytes(n uint64) {
	if st.memG == nil && st.mod != nil {
		st.memG, _ = st.mod.ExportedGlobal(meter.MemoryGlobal).(api.MutableGlobal)
	}
	if st.memG != nil {
		st.memG.Set(n)
	}
}

// charge takes units of fuel for a host call's work from the guest's
// counter (the caller's fuel global: the instrumented guest writes its
// counter there before every call and reloads it after), refuelling
// through refuel, which checks the deadline and the budget, when it goes
// negative. Expensive calls check the deadline whatever the counter says.
func (st *runState) charge(mod api.Module, units uint64) {
	g := st.fuelG
	if g == nil {
		// A host call from the start function, before execute cached it.
		var ok bool
		if g, ok = mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal); !ok {
			return
		}
	}
	if units >= bigHostWork {
		st.checkDeadline()
	}
	c := int64(g.Get()) - int64(min(units, 1<<62))
	if c < 0 {
		c = st.refuel(c)
	}
	g.Set(uint64(c))
}

// nanosleep is the guest's sleep (poll_oneoff with a clock subscription).
// It really sleeps, but never past the deadline: a guest that sleeps longer
// is stopped with a timeout when the deadline passes.
func (st *runState) nanosleep(ns int64) {
	if ns == math.MaxInt64 {
		// wazero's poll_oneoff asks for this when every subscription is
		// answered already and none is a clock (fd_write ones only): there
		// is nothing to wait for, and plain wazero's sleep returns at once.
		return
	}
	d := time.Duration(ns)
	rem := time.Until(st.deadline)
	late := d >= rem
	if late {
		d = rem
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-st.done:
			t.Stop()
			st.stopCanceled()
		}
	}
	if late {
		st.stopTimeout()
	}
}

// watchdogGrace is how long past its deadline Run waits for a guest that
// is stuck where no deadline check reaches (a host call blocked in a writer
// or reader the caller supplied) before it gives up on it.
const watchdogGrace = 500 * time.Millisecond

// Run instantiates a fresh instance of the module and invokes it once: its
// _start, or in.Function with in.Params. The returned Report is never nil;
// the error is reserved for failures of the host or of the invocation itself
// (wrapping ErrInvoke), never for what the guest did. Run never panics and
// closes the instance.
//
// The deadline is the policy's timeout or ctx's deadline, whichever comes
// first (and in.Deadline's); canceling ctx stops the guest too (a timeout
// violation). Every path of the guest reaches a deadline check, so Run
// returns by the deadline plus a small margin. When a stream of the
// invocation may block (see Invocation.NonBlocking), the guest runs on a
// worker goroutine: should it be blocked in a host call that ignores the
// deadline (a caller-supplied Stdout that blocks forever), Run gives up on
// it one second after the deadline and reports a timeout (Report.Abandoned);
// the instance is then closed when that call eventually returns, and from
// the moment Run gives up, the guest's reads and writes never reach the
// Invocation's streams again (a read or write in progress at that moment
// stops the guest when it returns). Otherwise the guest runs on the calling
// goroutine.
func (m *Module) Run(ctx context.Context, in Invocation) (rep *Report, err error) {
	name := in.Name
	if name == "" {
		name = "module.wasm"
	}
	rep = &Report{Module: name, SHA256: m.sha}
	fname := in.Function
	if fname == "" {
		fname = "_start"
	}
	def, ok := m.exports[fname]
	switch {
	case !ok && in.Function == "":
		return rep, fmt.Errorf("%w: the module exports no _start function (use an exported function instead)", ErrInvoke)
	case !ok:
		return rep, fmt.Errorf("%w: the module exports no function %q", ErrInvoke, fname)
	case len(def.ParamTypes()) != len(in.Params):
		return rep, fmt.Errorf("%w: %s takes %d arguments, got %d", ErrInvoke, fname, len(def.ParamTypes()), len(in.Params))
	}

	st := m.states.get(m.rt)
	if st == nil {
		st = m.newState()
	}
	start := time.Now()
	if err := st.begin(ctx, start, in); err != nil {
		st.end()
		m.states.put(ctx, st, m.rt)
		return rep, err
	}
	st.name, st.fname, st.in = name, fname, in

	m.rt.inflight.Add(1)
	m.inflight.Add(1)
	background := m.rt.background && !m.rt.noBackground.Load()
	if st.closeStdin == nil && len(m.mounts) == 0 && nonBlocking(in) && !background {
		// Nothing the guest can reach blocks past a deadline check: run it
		// here, without a hand-off to a worker.
		st.execute()
		return m.finish(st, rep)
	}
	// The guest runs on a worker goroutine so that Run can return even if
	// it never does.
	st.mayDemote = background
	m.rt.dispatch(st)
	st.watch.Reset(time.Until(st.deadline) + watchdogGrace)
	select {
	case <-st.finished:
		st.watch.Stop()
	case <-st.watch.C:
		// Revoke the streams first: from here on the guest's goroutine
		// stops at its next read or write instead of touching them.
		prev := st.io.Swap(ioAbandoned)
		if prev == ioKept {
			// The run ended (cleanly) just now: report it.
			<-st.finished
			return m.finish(st, rep)
		}
		rep.DurationMS = float64(time.Since(start).Nanoseconds()) / 1e6
		rep.Outcome = OutcomeViolation
		rep.Abandoned = true
		rep.HostCalls = map[string]uint64{}
		where := "still blocked in a host call"
		if prev != ioBusy {
			where = "still inside an instruction or host call that no deadline check reaches"
		}
		rep.Violation = &Violation{Kind: KindTimeout, Detail: fmt.Sprintf(
			"%s; the guest was %s %s later and was abandoned (its streams are revoked)",
			st.deadlineText(), where, watchdogGrace)}
		// The state stays with the abandoned goroutine; it is never reused.
		return rep, nil
	}
	return m.finish(st, rep)
}

// finish reports a run that returned and puts its state back in the pool.
func (m *Module) finish(st *runState, rep *Report) (_ *Report, err error) {
	rep.DurationMS = float64(st.elapsed.Nanoseconds()) / 1e6
	if st.hostErr != nil {
		err = st.hostErr
	} else {
		st.report(rep)
	}
	st.end()
	m.states.put(context.Background(), st, m.rt)
	return rep, err
}

// nonBlocking reports whether the invocation's streams are known never to
// block: nil, in-memory types of the standard library, or promised by the
// caller (Invocation.NonBlocking).
func nonBlocking(in Invocation) bool {
	if in.NonBlocking {
		return true
	}
	switch in.Stdin.(type) {
	case nil, *bytes.Reader, *strings.Reader, *bytes.Buffer:
	default:
		return false
	}
	return memWriter(in.Stdout) && memWriter(in.Stderr)
}

func memWriter(w io.Writer) bool {
	switch w.(type) {
	case nil, *bytes.Buffer, *strings.Builder:
		return true
	}
	return w == io.Discard
}

// execute instantiates and calls the guest, on the caller's goroutine or a
// worker's (which then signals st.finished). It never panics. A run whose
// state holds a clean instance (reuse.go) calls that one instead; at the
// end, the instance is reset and kept, or closed.
func (st *runState) execute() {
	m := st.m
	defer func() {
		if r := recover(); r != nil {
			// A bug of the host, not of the guest: report it, keep the process.
			st.hostErr = fmt.Errorf("internal error running %s: %v", st.name, r)
			st.drop(st.ictx)
		}
		if st.closeStdin != nil {
			st.closeStdin()
			st.closeStdin = nil
		}
		if st.net != nil {
			// Responses the guest left open are closed with its instance,
			// also when Run abandoned it.
			st.net.End()
		}
		m.inflight.Done()
		m.rt.inflight.Done()
	}()
	ictx := st.ictx
	in := st.in
	st.setArgs(st.name, in.Args)
	st.setEnv(in.Env)

	if c := in.Coverage; c != nil {
		c.Counters, c.Last, c.Stack, c.Cmps = c.Counters[:0], -1, c.Stack[:0], c.Cmps[:0]
	}
	var err error
	mod := st.inst.mod
	if mod == nil {
		if mod, err = st.instantiate(ictx); err == nil {
			st.bind(mod)
		}
	}
	instantiated := time.Now()
	if in.Timing != nil {
		*in.Timing = Timing{Instantiate: instantiated.Sub(st.start)}
	}
	if err == nil && time.Now().After(st.deadline) {
		// Setting up a large memory or table may outlast the deadline.
		err = st.record(&violationError{Kind: KindTimeout, Detail: st.deadlineText() + " while the instance was set up"})
		st.drop(ictx)
	} else if err == nil {
		k := &st.inst
		st.fuelG = k.fuel
		st.mod = mod
		if in.Function != "" {
			if ini := k.initialize(); ini != nil {
				_, err = ini.Call(ictx)
			}
		}
		if err == nil {
			st.results, err = k.export(st.fname).Call(ictx, in.Params...)
		}
		if in.Timing != nil {
			in.Timing.Call = time.Since(instantiated)
		}
		if k.fuel != nil {
			st.fuelLeft = int64(k.fuel.Get())
		}
		if in.Coverage != nil && st.m.counterNames != nil {
			st.m.readCoverage(mod, err, in.Coverage)
		}
		if k.denied != nil {
			st.tableDenied = k.denied.Get() != 0
		}
		st.tables = st.m.tableBytes // what instantiation allocated
		if st.m.growsTables {
			st.tables = st.tableBytes()
		}
		st.fuelG, st.mod, st.tablesG, st.memG = nil, nil, nil, nil
		st.keep(ictx, err)
	}
	st.callErr = err
	st.elapsed = time.Since(st.start)
}

// instantiate creates the run's instance. The allocator checks the
// deadline while it prepares a large memory and stops with a violation
// panic, which wazero does not recover during instantiation (nothing of the
// instance is registered yet): it becomes the error, like a violation
// during the call.
func (st *runState) instantiate(ctx context.Context) (mod api.Module, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, ok := r.(*violationError)
			if !ok {
				panic(r)
			}
			mod, err = nil, v
		}
	}()
	mod, err = st.m.rt.wz.InstantiateModule(ctx, st.m.compiled, st.cfg)
	if err == nil {
		st.m.instances.Add(1)
	}
	return mod, err
}

// begin resets the state for a run starting at start.
func (st *runState) begin(ctx context.Context, start time.Time, in Invocation) error {
	m := st.m
	st.start = start
	st.results, st.fuelLeft, st.callErr, st.hostErr, st.closeStdin = nil, 0, nil, nil, nil
	st.tables = 0
	clear(st.calls) // report zeroes them, but a run the host failed is not reported
	st.tableDenied, st.exited, st.tainted = false, false, false
	lim := m.policy.Limits
	st.rctx.Context = ctx
	st.done = ctx.Done()
	st.deadline = start.Add(lim.Timeout.Std())
	st.callerDeadline = false
	if d, ok := ctx.Deadline(); ok && d.Before(st.deadline) {
		st.deadline, st.callerDeadline = d, true
	}
	if d := in.Deadline; !d.IsZero() && d.Before(st.deadline) {
		st.deadline, st.callerDeadline = d, true
	}
	st.io.Store(ioIdle)
	if st.net != nil {
		st.net.Begin(ctx, st.deadline)
		st.net.SetQuota(in.Outbound)
	}
	st.handed, st.quotaTaken = 0, 0
	st.mayDemote, st.demoted = false, false
	st.budget = int64(min(lim.Fuel, uint64(1<<63-1)))
	st.viol = nil
	st.stdout.reset(in.Stdout, uint64(lim.Output))
	st.stderr.reset(in.Stderr, uint64(lim.Output))
	if st.inst.mod != nil {
		// The instance's memory stays; only the run's peak starts over.
		st.mem.peak = st.mem.total
	} else {
		st.mem.reset(m.rt.memPool, m.image, uint64(lim.Memory))
	}
	if st.rnd != nil {
		st.rnd.Seed(seedBytes(m.seed))
	}
	st.resetClocks()
	st.stdin.src, st.stdin.pump = nil, nil
	switch {
	case in.Stdin != nil:
		st.stdin.src = in.Stdin
	case m.stdin != nil:
		st.stdin.pump = m.stdin
	case strings.HasPrefix(m.policy.Capabilities.Stdin, "file:"):
		path := strings.TrimPrefix(m.policy.Capabilities.Stdin, "file:")
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open stdin: %w", err)
		}
		st.stdin.src = f
		st.closeStdin = func() { _ = f.Close() }
	}
	return nil
}

// end drops references to the caller's objects so a pooled state keeps none.
func (st *runState) end() {
	st.rctx.Context = nil
	st.done = nil
	st.stdout.w, st.stderr.w = nil, nil
	st.stdin.src, st.stdin.pump = nil, nil
	if st.inst.mod == nil {
		st.mem.release()
	}
	st.in = Invocation{}
	st.results = nil
	st.callErr, st.hostErr = nil, nil
}

// report fills rep from the state and the error of the guest call.
func (st *runState) report(rep *Report) {
	results, fuelLeft, err := st.results, st.fuelLeft, st.callErr
	rep.StdoutBytes = st.stdout.n
	rep.StderrBytes = st.stderr.n
	// Memories and tables only grow while an instance lives: the peak is
	// what they held at the end.
	rep.PeakMemoryBytes = st.mem.peak + st.tables
	if st.net != nil {
		rep.Network = st.net.Report()
	}
	rep.HostCalls = make(map[string]uint64, len(st.m.imports))
	for _, im := range st.m.imports {
		rep.HostCalls[im.key] += st.calls[im.slot]
		st.calls[im.slot] = 0
	}
	rep.FuelUsed = st.fuelUsed(fuelLeft)
	rep.Background = st.demoted
	if q := st.in.Quota; q != nil && st.quotaTaken > int64(rep.FuelUsed) {
		q.Return(st.quotaTaken - int64(rep.FuelUsed))
	}

	var vio *Violation
	rep.Outcome, vio, rep.ExitCode, rep.Trap = st.classify(err)
	rep.Violation = vio
	if rep.Outcome == OutcomeExit && err == nil && len(results) > 0 {
		rep.Results = opaqueRefs(st.m.exports[st.fname].ResultTypes(), results)
	}
}

// fuelUsed is what was handed out minus what the counter still holds
// (left); a guest stopped for fuel used its whole budget (the block whose
// charge overdrew it never ran, and the counter may hold its pre-charge
// value).
func (st *runState) fuelUsed(left int64) uint64 {
	used := st.handed - left
	if st.viol != nil && st.viol.Kind == KindFuelExhausted {
		used = st.budget
	}
	if st.viol != nil && st.viol.Kind == KindQuota {
		used = st.handed // the block that overdrew the quota never ran
	}
	if st.budget > 0 && used > st.budget {
		used = st.budget
	}
	return uint64(max(used, 0))
}

// classify says what the guest call that ended with err did: its outcome,
// the violation (recorded first, or in err), the exit code and the trap.
func (st *runState) classify(err error) (outcome Outcome, viol *Violation, exitCode int, trap string) {
	if err == nil && st.viol == nil && !st.tableDenied {
		// Before the declarations below, which errors.As makes escape: the
		// common outcome costs no allocation.
		return OutcomeExit, nil, 0, ""
	}
	var exit *sys.ExitError
	var v *violationError
	engineOverflow := err != nil && isStackOverflow(err)
	rec := st.viol
	if rec == nil && st.tableDenied && !errors.As(err, &v) && !engineOverflow {
		// A refused table.grow, like a refused memory.grow, takes
		// precedence over the exit or trap that follows it, not over
		// another violation.
		lim := uint64(st.m.policy.Limits.Memory)
		rec = &violationError{Kind: KindMemoryLimit, Detail: fmt.Sprintf(
			"table.grow denied: above the %d-element bound per table or, with linear memory, the %s per-instance cap",
			maxTableElements(lim), policy.Size(lim))}
	}
	switch {
	case rec != nil:
		if errors.As(err, &exit) {
			exitCode = int(exit.ExitCode())
		}
		return OutcomeViolation, &Violation{Kind: rec.Kind, Detail: rec.Detail}, exitCode, ""
	case errors.As(err, &v):
		return OutcomeViolation, &Violation{Kind: v.Kind, Detail: v.Detail}, 0, ""
	case errors.As(err, &exit):
		return OutcomeExit, nil, int(exit.ExitCode()), ""
	case engineOverflow:
		// The engine's own stack ran out before the depth bound (the
		// interpreter's is shallower): the same limit, reached earlier.
		return OutcomeViolation, &Violation{Kind: KindStackLimit, Detail: fmt.Sprintf(
			"the engine's call stack overflowed before the limit of %d nested calls", st.m.depth)}, 0, ""
	case err != nil:
		// wazero's message may quote names from the module's name section.
		return OutcomeTrap, nil, 0, safetext.Escape(safetext.FirstLine(err.Error()))
	}
	return OutcomeExit, nil, 0, ""
}

// isStackOverflow reports whether err is the engine's own stack overflow:
// "wasm error: stack overflow" from the interpreter, a bare "stack
// overflow" from the compiler (it does not wrap it as a trap).
func isStackOverflow(err error) bool {
	switch safetext.FirstLine(err.Error()) {
	case "wasm error: stack overflow", "stack overflow":
		return true
	}
	return false
}

// capWriter counts what the guest writes to one stream and stops the guest
// past the cap. Nothing is buffered: bytes go straight to w.
type capWriter struct {
	st     *runState
	stream string
	w      io.Writer
	n, cap uint64
}

func (c *capWriter) reset(w io.Writer, limit uint64) {
	if w == nil {
		w = io.Discard
	}
	c.w, c.n, c.cap = w, 0, limit
}

// Write implements io.Writer for wazero's fd_write. It never touches w
// once Run abandoned the run (see runState.enterIO).
func (c *capWriter) Write(p []byte) (int, error) {
	room := c.cap - c.n
	if uint64(len(p)) <= room {
		c.st.enterIO()
		n, err := c.w.Write(p)
		c.st.exitIO()
		c.n += uint64(n)
		return n, err
	}
	if room > 0 {
		c.st.enterIO()
		n, _ := c.w.Write(p[:room])
		c.st.exitIO()
		c.n += uint64(n)
	}
	c.st.stop(KindOutputLimit, "%s exceeded the %s cap", c.stream, policy.Size(c.cap))
	return 0, nil // unreachable
}

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/meter"
)

// Instance is one live instance of a Module that serves many calls, keeping
// its linear memory and globals between them (an event processor's
// counters). Each call has its own fuel budget and deadline; the memory cap
// holds for the instance's whole life. A call that traps or violates a limit
// breaks the instance: later calls are refused and the caller replaces it.
// An Instance is not safe for concurrent use; guests run on the calling
// goroutine.
type Instance struct {
	m      *Module
	st     *runState
	mod    api.Module
	denied api.Global
	fns    map[string]api.Function
	stack  []uint64
	broken string
	closed bool
}

// Call is one invocation of an Instance's export.
type Call struct {
	// Function is the export to call.
	Function string
	// Params are its arguments, in wazero's api encoding.
	Params []uint64
	// Fuel is the call's budget; 0 takes the policy's limits.fuel (where 0
	// is unmetered).
	Fuel uint64
	// Deadline, when not zero and before the start plus the policy's
	// timeout, ends the call with a timeout ("the caller's deadline
	// passed").
	Deadline time.Time
}

// CallReport is what one Instance call did.
type CallReport struct {
	// Outcome is OutcomeExit when the export returned (or the guest called
	// proc_exit, with ExitCode), OutcomeTrap or OutcomeViolation.
	Outcome   Outcome
	ExitCode  int
	Violation *Violation
	Trap      string
	// Results are the export's results when it returned; the slice is
	// reused by the next call.
	Results []uint64
	// FuelUsed is what the call consumed, host work included.
	FuelUsed uint64
	// PeakMemoryBytes is the most linear memory plus tables the instance has
	// held since it was created.
	PeakMemoryBytes uint64
	// Duration is the call's wall-clock time.
	Duration time.Duration
}

// Failed reports whether the call trapped, violated a limit or exited:
// anything but a return from the export.
func (r *CallReport) Failed() bool {
	return r.Outcome != OutcomeExit || r.ExitCode != 0 || r.Violation != nil
}

// Reason is the one-line cause of a failed call ("" when it did not fail):
// "violation fuel_exhausted: ...", "trap: ...", "exit 3".
func (r *CallReport) Reason() string {
	switch {
	case r.Violation != nil:
		return "violation " + r.Violation.Error()
	case r.Outcome == OutcomeTrap:
		return "trap: " + r.Trap
	case r.Outcome == OutcomeExit && r.ExitCode != 0:
		return fmt.Sprintf("exit %d", r.ExitCode)
	case r.Failed():
		return "exit 0 (proc_exit)"
	}
	return ""
}

// ErrInstance is wrapped by the errors Instantiate returns when the guest
// failed while its instance was set up (a start function that traps, memory
// that does not fit the cap, the deadline).
var ErrInstance = errors.New("instance setup failed")

// Instantiate creates an Instance of the module for many calls. data is
// what HostCall.Data returns to the host functions the instance calls. A
// reactor's _initialize runs here under the policy's limits. Modules with
// mounts or an inherited stdin are refused (their guests could block where
// no deadline check reaches; instances run on the caller's goroutine).
func (m *Module) Instantiate(ctx context.Context, name string, data any) (*Instance, error) {
	if len(m.mounts) > 0 || m.stdin != nil {
		return nil, fmt.Errorf("%w: instances are not available to policies with mounts or stdin inherit", ErrInvoke)
	}
	st := m.newState()
	st.persistent, st.data = true, data
	if err := st.begin(ctx, time.Now(), Invocation{Stdin: bytes.NewReader(nil)}); err != nil {
		st.end()
		return nil, err
	}
	st.name = name
	st.setArgs(name, nil)
	st.setEnv(nil)
	mod, err := st.instantiate(st.ictx)
	if err == nil && time.Now().After(st.deadline) {
		err = st.record(&violationError{Kind: KindTimeout, Detail: st.deadlineText() + " while the instance was set up"})
		_ = mod.Close(st.ictx)
	}
	if err != nil {
		_, v, _, trap := st.classify(err)
		st.end()
		if v != nil {
			return nil, fmt.Errorf("%w: %w", ErrInstance, v)
		}
		return nil, fmt.Errorf("%w: trap: %s", ErrInstance, trap)
	}
	st.mod = mod
	st.fuelG, _ = mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
	m.rt.inflight.Add(1)
	m.inflight.Add(1)
	in := &Instance{m: m, st: st, mod: mod, denied: mod.ExportedGlobal(meter.DeniedGlobal),
		fns: map[string]api.Function{}, stack: make([]uint64, 0, 8)}
	if _, ok := m.exports["_initialize"]; ok {
		var rep CallReport
		if err := in.Call(ctx, &Call{Function: "_initialize"}, &rep); err != nil {
			in.Close(ctx)
			return nil, err
		}
		if rep.Failed() {
			in.Close(ctx)
			return nil, fmt.Errorf("%w: _initialize: %s", ErrInstance, rep.Reason())
		}
	}
	st.rctx.Context, st.done = nil, nil
	return in, nil
}

// Memory is the instance's linear memory, for the caller to place a call's
// input (the event bytes) where the guest asked for it.
func (in *Instance) Memory() api.Memory { return in.mod.Memory() }

// Global returns the instance's exported global called name, nil when
// there is none. Snapshots read the state an initialisation left through it.
func (in *Instance) Global(name string) api.Global { return in.mod.ExportedGlobal(name) }

// Broken returns why the instance may not be called again ("" while it may).
func (in *Instance) Broken() string { return in.broken }

// Exports reports whether the instance exports a function called name.
func (in *Instance) Exports(name string) bool { _, ok := in.m.exports[name]; return ok }

// Call invokes c.Function under the call's limits and fills rep. The error
// is for invocations that do not fit (no such export, wrong argument
// count, a broken or closed instance: wrapping ErrInvoke); what the guest
// did is in rep. A call that fails (rep.Failed) other than by a clean
// return breaks the instance.
func (in *Instance) Call(ctx context.Context, c *Call, rep *CallReport) error {
	switch {
	case in.closed:
		return fmt.Errorf("%w: the instance is closed", ErrInvoke)
	case in.broken != "":
		return fmt.Errorf("%w: the instance is broken (%s)", ErrInvoke, in.broken)
	}
	fn := in.fns[c.Function]
	if fn == nil {
		def, ok := in.m.exports[c.Function]
		if !ok {
			return fmt.Errorf("%w: the module exports no function %q", ErrInvoke, c.Function)
		}
		if len(def.ParamTypes()) != len(c.Params) {
			return fmt.Errorf("%w: %s takes %d arguments, got %d", ErrInvoke, c.Function, len(def.ParamTypes()), len(c.Params))
		}
		fn = in.mod.ExportedFunction(c.Function)
		in.fns[c.Function] = fn
		if n := max(len(def.ParamTypes()), len(def.ResultTypes())); n > cap(in.stack) {
			in.stack = make([]uint64, 0, n)
		}
	}
	def := fn.Definition()
	st := in.st
	start := time.Now()
	lim := in.m.policy.Limits
	st.rctx.Context, st.done = ctx, ctx.Done()
	st.start = start
	st.deadline, st.callerDeadline = start.Add(lim.Timeout.Std()), false
	if d, ok := ctx.Deadline(); ok && d.Before(st.deadline) {
		st.deadline, st.callerDeadline = d, true
	}
	if d := c.Deadline; !d.IsZero() && d.Before(st.deadline) {
		st.deadline, st.callerDeadline = d, true
	}
	st.handed, st.viol, st.tableDenied = 0, nil, false
	st.budget = int64(min(lim.Fuel, uint64(1<<63-1)))
	if c.Fuel > 0 {
		st.budget = int64(min(c.Fuel, uint64(1<<63-1)))
	}
	st.stdout.reset(io.Discard, uint64(lim.Output))
	st.stderr.reset(io.Discard, uint64(lim.Output))
	st.io.Store(ioIdle)
	if st.fuelG != nil {
		st.fuelG.Set(0)
	}
	stack := in.stack[:max(len(c.Params), len(def.ResultTypes()))]
	copy(stack, c.Params)
	err := fn.CallWithStack(&st.rctx, stack)
	if st.fuelG != nil {
		st.fuelLeft = int64(st.fuelG.Get())
	}
	if in.denied != nil {
		st.tableDenied = in.denied.Get() != 0
	}
	st.tables = in.m.tableBytes
	if in.m.growsTables {
		st.tables = st.tableBytes()
	}
	st.rctx.Context, st.done = nil, nil

	*rep = CallReport{Duration: time.Since(start), PeakMemoryBytes: st.mem.peak + st.tables}
	rep.Outcome, rep.Violation, rep.ExitCode, rep.Trap = st.classify(err)
	rep.FuelUsed = st.fuelUsed(st.fuelLeft)
	if err == nil && rep.Violation == nil {
		rep.Results = stack[:len(def.ResultTypes())]
	}
	if err != nil || rep.Violation != nil {
		in.broken = rep.Reason()
	}
	return nil
}

// Close releases the instance and its memory. It is idempotent.
func (in *Instance) Close(ctx context.Context) {
	if in.closed {
		return
	}
	in.closed = true
	_ = in.mod.Close(ctx)
	in.st.fuelG, in.st.mod, in.st.tablesG, in.st.memG = nil, nil, nil, nil
	in.st.end()
	in.st.data = nil
	in.m.inflight.Done()
	in.m.rt.inflight.Done()
}

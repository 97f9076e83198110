package sandbox

import (
	"bytes"
	"context"
	"runtime"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmward/wasmward/internal/meter"
	"github.com/wasmward/wasmward/internal/wasm"
)

// Instance reuse (docs/sandbox.md, "Instance reuse"; RATIONALE.md).
//
// Every run sees a fresh instance: exactly the state instantiation gives.
// Building one is most of a small run's cost (wazero evaluates every
// element of the function table, allocates the globals, the call engines
// and the system context), so a run that ended cleanly leaves its instance
// with its pooled run state, reset to that state: the memory holds the
// image again (zeros after it), every mutable global its initial value
// (meter.ResetFunc), and nothing else of the instance can have changed.
// Compile decides once whether that last claim holds for the module
// (reuseInfo); a run decides whether its instance may be kept (keep).

// reuseInfo is what Compile decided about reusing the module's instances.
type reuseInfo struct {
	// ok: a reset instance is indistinguishable from a fresh one. It needs
	// at most one memory, defined, whose initial contents are the module's
	// image or zeros; no start function (its effects are not part of what
	// the reset restores); no instruction that changes a table or a
	// segment (table.set/grow/fill/copy/init, elem.drop, data.drop); no
	// imported global, memory or table (Compile allows only imported
	// functions anyway).
	ok bool
	// why names the first condition that failed, for tests and debugging.
	why string
}

// setReuse decides reuse for mod (decoded, not instrumented) and hides the
// meter's reset function from the exports a caller may invoke.
func (m *Module) setReuse(mod *wasm.Module, stateWrites uint64) {
	delete(m.exports, meter.ResetFunc)
	activeData := false
	for i := range mod.Data {
		if mod.Data[i].Mode == wasm.ModeActive {
			activeData = true
			break
		}
	}
	switch {
	case stateWrites > 0:
		m.reuse.why = "its code changes tables or segments"
	case mod.HasStart:
		m.reuse.why = "it has a start function"
	case mod.ImportCount(wasm.ExternGlobal)+mod.ImportCount(wasm.ExternMemory)+mod.ImportCount(wasm.ExternTable) > 0:
		m.reuse.why = "it imports a global, memory or table"
	case len(mod.Memories) > 1:
		m.reuse.why = "it defines more than one memory"
	case len(mod.Memories) == 1 && mod.Memories[0].Limits.Shared:
		m.reuse.why = "its memory is shared"
	case activeData && m.image == nil:
		m.reuse.why = "its initial memory is not an image"
	default:
		m.reuse.ok = true
	}
}

// kept is a run state's instance and what runs look up in it once.
type kept struct {
	mod    api.Module
	fuel   api.MutableGlobal // meter.FuelGlobal
	denied api.Global        // meter.DeniedGlobal
	reset  api.Function      // meter.ResetFunc, when the module may be reused
	// fn is the export called last (fname), init the module's
	// _initialize (looked up when initLooked).
	fn         api.Function
	fname      string
	init       api.Function
	initLooked bool
	// memBytes is the linear memory instantiation gave it: a run that
	// grew memory cannot be reset (memories do not shrink).
	memBytes uint64
	// cost is what the instance holds while idle: memory, tables and
	// idleOverhead.
	cost uint64
}

// bind makes mod the state's instance, just instantiated.
func (st *runState) bind(mod api.Module) {
	k := &st.inst
	*k = kept{mod: mod, memBytes: st.mem.total}
	k.fuel, _ = mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
	k.denied = mod.ExportedGlobal(meter.DeniedGlobal)
	if st.m.reuse.ok {
		k.reset = mod.ExportedFunction(meter.ResetFunc)
	}
	k.cost = st.mem.total + st.m.tableBytes + idleOverhead
}

// idleOverhead is what an idle instance holds beyond its linear memory
// and tables, charged against idleBudget with them: wazero's module
// instance, the call engines (and stacks) of the exports called and the
// run state (measured: 25-28 KiB for a C module, TestReuseIdleAccounting),
// rounded up. Without it an instance without memory cost the budget
// nothing, and idle instances were bounded in number per module only.
const idleOverhead = 64 << 10

// export returns the instance's export name (it exists: Run checked).
func (k *kept) export(name string) api.Function {
	if k.fn == nil || k.fname != name {
		k.fn, k.fname = k.mod.ExportedFunction(name), name
	}
	return k.fn
}

// initialize returns the instance's _initialize, nil when there is none.
func (k *kept) initialize() api.Function {
	if !k.initLooked {
		k.init, k.initLooked = k.mod.ExportedFunction("_initialize"), true
	}
	return k.init
}

// drop closes the state's instance, if any: its memory goes back to the
// pools, which restore or zero it.
func (st *runState) drop(ctx context.Context) {
	if st.inst.mod == nil {
		return
	}
	_ = st.inst.mod.Close(ctx)
	st.inst = kept{}
	st.mem.release()
}

// keep decides, at the end of a run whose guest call returned err, whether
// the instance may serve the next run, and if so resets it. Only a clean
// end qualifies: a return, or the guest's proc_exit (whatever its code).
// A trap, any violation (the guest may have been stopped anywhere, the
// meter's globals mid-update), a refused table.grow, a host call that
// changed the instance's system state (st.tainted: an fd closed, a file
// opened, ...), a memory that grew, or a run Run abandoned all discard it.
// It runs on the guest's goroutine; the instance is closed when not kept.
func (st *runState) keep(ctx context.Context, err error) {
	k := &st.inst
	clean := st.m.reuse.ok && k.reset != nil && st.viol == nil && !st.tableDenied && !st.tainted &&
		st.mem.total == k.memBytes
	if clean && err != nil {
		// Only the sandbox's proc_exit panics with an ExitError (wazero
		// returns it unwrapped); a module closed under the call would
		// also yield one, hence exited.
		_, exit := err.(*sys.ExitError)
		clean = exit && st.exited
	}
	if clean {
		clean = k.reset.CallWithStack(ctx, nil) == nil && st.mem.restore(k.memBytes)
	}
	// The last step: from here on Run may have given up on the run
	// (runState.io), and then no one would reuse or close the instance.
	if clean && st.io.CompareAndSwap(ioIdle, ioKept) {
		return
	}
	st.drop(ctx)
}

// restore makes the memory hold what instantiation gave it, size bytes of
// the module's image followed by zeros, and reports whether it could: not
// when the memory grew since. A run touches few pages of a large memory
// (a Go reactor request: 3 of 720), so it compares chunk by chunk and
// writes only the chunks that differ: where the image is zero it reads
// the buffer alone. Every chunk is either found equal to the image or
// overwritten with it.
func (lm *linearMemory) restore(size uint64) bool {
	if lm.total != size || uint64(len(lm.buf)) != size {
		return false
	}
	var data []byte
	var zero []bool
	if lm.img != nil {
		data, zero = lm.img.data, lm.img.zero
	}
	buf := lm.buf
	for i, off := 0, 0; off < len(buf); i, off = i+1, off+restoreChunk {
		b := buf[off:min(off+restoreChunk, len(buf))]
		if i < len(zero) && !zero[i] {
			ref := data[off:min(off+restoreChunk, len(data))]
			if !bytes.Equal(b[:len(ref)], ref) {
				copy(b, ref)
			}
			b = b[len(ref):] // past the image's end: zeros
		}
		if !isZero(b) {
			clear(b)
		}
	}
	return true
}

// restoreChunk is the unit restore compares and rewrites: a page of most
// hosts.
const restoreChunk = 4096

// zeroChunk is restoreChunk zeros to compare with (never written).
var zeroChunk [restoreChunk]byte

// isZero reports whether b (at most restoreChunk bytes) is all zeros.
func isZero(b []byte) bool {
	if len(b) > restoreChunk {
		return isZero(b[:restoreChunk]) && isZero(b[restoreChunk:])
	}
	return bytes.Equal(b, zeroChunk[:len(b)])
}

// statePool holds a module's idle run states, the most recently used on
// top; a state may hold a clean instance (kept). Unlike a sync.Pool it is
// not emptied by every garbage collection: an instance dropped there would
// have to be rebuilt (and its megabytes of memory allocated again) by the
// next run, all at once after each collection, which is what made the Go
// reactor's tail latency.
//
// It is bounded: at most maxIdle states per module, and the instances of
// all modules of a runtime hold at most idleBudget bytes while idle
// (Runtime.idleBytes, Runtime.idleBudget); a state that does not fit
// has its instance closed.
type statePool struct {
	mu     sync.Mutex
	idle   []*runState
	closed bool
}

// idleBudget is the most memory (linear memory, tables and idleOverhead
// each) the idle instances of one Runtime hold together: at most 1 024
// instances.
const idleBudget = 64 << 20

// maxIdle is the most idle run states a module keeps: enough for every
// processor to run the module and as many runs to be between two steps.
func maxIdle() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// get returns an idle state (nil when there is none).
func (p *statePool) get(rt *Runtime) *runState {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	st := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	if st.inst.mod != nil {
		rt.idleBytes.Add(-int64(st.inst.cost))
	}
	return st
}

// put keeps st for a later run, closing its instance when the pool or the
// runtime's idle budget is full or the module is closed.
func (p *statePool) put(ctx context.Context, st *runState, rt *Runtime) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= maxIdle() {
		st.drop(ctx)
		return
	}
	if st.inst.mod != nil {
		if rt.idleBytes.Add(int64(st.inst.cost)) > rt.idleBudget {
			rt.idleBytes.Add(-int64(st.inst.cost))
			st.drop(ctx)
		}
	}
	p.idle = append(p.idle, st)
}

// close closes every idle instance; states put later are not kept.
func (p *statePool) close(ctx context.Context, rt *Runtime) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, st := range p.idle {
		if st.inst.mod != nil {
			rt.idleBytes.Add(-int64(st.inst.cost))
			st.drop(ctx)
		}
	}
	p.idle = nil
}

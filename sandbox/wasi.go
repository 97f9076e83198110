package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// WASI errno values used here.
const (
	errnoSuccess = 0
	errnoFault   = 21
	errnoIO      = 29
)

// wasiHost builds the WASI preview1 host module: wazero's functions, each
// wrapped to count its calls in the run state (slots gives each function's
// counter slot), with argv and the environment served from the run state
// instead of the ModuleConfig: wazero's WithEnv copies the whole
// configuration and its key map for every variable, which made 20 CGI
// variables cost more than the run itself.
//
// wazero's functions are taken from a scratch compilation of its own module
// (api.FunctionDefinition.GoFunction); counting in a wrapper costs one
// context lookup per call, where a FunctionListener made wazero build a
// stack iterator (a few allocations) for every host call.
func wasiHost(ctx context.Context, r wazero.Runtime) (b wazero.HostModuleBuilder, slots map[string]int, err error) {
	scratch := r.NewHostModuleBuilder(wasiModule)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(scratch)
	cm, err := scratch.Compile(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("compile wazero's WASI module: %w", err)
	}
	defs := cm.ExportedFunctions()
	defer cm.Close(ctx)

	own := map[string]api.GoModuleFunc{
		"args_get": func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeStrings(mod, st.argOffs, st.argBuf, uint32(stack[0]), uint32(stack[1]))
		},
		"args_sizes_get": func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeSizes(mod, len(st.argOffs), len(st.argBuf), uint32(stack[0]), uint32(stack[1]))
		},
		"environ_get": func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeStrings(mod, st.envOffs, st.envBuf, uint32(stack[0]), uint32(stack[1]))
		},
		"random_get": randomGet,
		"environ_sizes_get": func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeSizes(mod, len(st.envOffs), len(st.envBuf), uint32(stack[0]), uint32(stack[1]))
		},
		"proc_exit": procExit,
	}
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	b = r.NewHostModuleBuilder(wasiModule)
	slots = make(map[string]int, len(names))
	for i, name := range names {
		slots[name] = i
		def := defs[name]
		cost := hostCost(name, def.ParamNames())
		fn, ok := own[name]
		if !ok {
			switch g := def.GoFunction().(type) {
			case api.GoModuleFunction:
				fn = g.Call
			case api.GoFunction:
				fn = func(ctx context.Context, _ api.Module, stack []uint64) { g.Call(ctx, stack) }
			default:
				return nil, nil, fmt.Errorf("WASI function %s: unexpected Go function %T", name, g)
			}
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(counted(i, cost, !keepsState[name], fn), def.ParamTypes(), def.ResultTypes()).
			WithParameterNames(def.ParamNames()...).WithResultNames(def.ResultNames()...).
			WithName(name).Export(name)
	}
	for name := range own {
		if _, ok := slots[name]; !ok {
			return nil, nil, fmt.Errorf("wazero's WASI module has no %s to replace", name)
		}
	}
	return b, slots, nil
}

// counted wraps a host function so that every call increments the run
// state's counter in slot and is charged, before it runs, the fuel cost
// computes for its arguments (see hostCost). A call of a function that
// taints marks the run's instance as not reusable (runState.tainted).
func counted(slot int, cost func(api.Module, []uint64) uint64, taints bool, f api.GoModuleFunc) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		if st := stateFrom(ctx); st != nil && slot < len(st.calls) {
			st.calls[slot]++
			st.tainted = st.tainted || taints
			st.charge(mod, cost(mod, stack))
		}
		f(ctx, mod, stack)
	}
}

// keepsState lists the WASI functions that cannot change what an instance
// holds outside its memory and globals (its system context: the fd table,
// each open file's position, flags and directory cursor): they read
// arguments, the environment, clocks and random bytes, read stdin and
// write stdout and stderr (per-run streams of the run state, which wazero
// does not buffer), or only look. Every other function taints the run
// (runState.tainted): its instance is closed instead of reused, whether
// or not the call changed anything (docs/sandbox.md, "Instance reuse").
var keepsState = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_res_get": true, "clock_time_get": true, "random_get": true, "sched_yield": true,
	"fd_read": true, "fd_write": true, "fd_fdstat_get": true, "fd_filestat_get": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true, "path_filestat_get": true,
	"poll_oneoff": true, "proc_exit": true, "proc_raise": true,
}

// procExit is WASI proc_exit: it ends the run with the guest's exit code,
// as wazero's does, but without closing the instance (wazero's closes it,
// so that no caller could use it again), so that a run that exits may
// leave its instance for the next (reuse.go). The ExitError unwinds the
// guest: no instruction after the call runs.
func procExit(ctx context.Context, _ api.Module, stack []uint64) {
	if st := stateFrom(ctx); st != nil {
		st.exited = true
	}
	panic(sys.NewExitError(uint32(stack[0])))
}

// Fuel costs of host calls, on the scale of the meter's (about one unit per
// guest instruction, docs/metering.md).
const (
	// hostCallCost is what any WASI call costs: a host call does the work
	// of dozens of instructions before it does anything.
	hostCallCost = 64
	// hostByteShift: a byte a host call copies, reads, writes or names
	// costs 1/16, like a byte of memory.fill or memory.copy.
	hostByteShift = 4
	// randomByteShift: a random byte costs 1/4 (generating is dearer than
	// copying).
	randomByteShift = 2
	// iovecCost, subscriptionCost: per element of an iovec array or of
	// poll_oneoff's subscriptions, which the host reads and acts on.
	iovecCost        = 8
	subscriptionCost = 64
)

// hostCost returns the cost function of the WASI function name, derived
// from its parameter names: hostCallCost, plus for every buffer length
// (a parameter "..._len") its bytes, for every iovec array ("iovs_len",
// "ri_data_len", "si_data_len") its elements and the bytes they name, and
// for poll_oneoff its subscriptions. Lengths are what the guest asked for,
// charged before the call, whether or not the host then does all of it.
func hostCost(name string, params []string) func(api.Module, []uint64) uint64 {
	type part struct {
		kind int // partBytes, partIovecs, partSubscriptions
		at   int // index of the length or count parameter
	}
	const (
		partBytes = iota
		partIovecs
		partSubscriptions
	)
	var parts []part
	for i, p := range params {
		switch {
		case p == "iovs_len" || p == "ri_data_len" || p == "si_data_len":
			parts = append(parts, part{partIovecs, i})
		case p == "nsubscriptions":
			parts = append(parts, part{partSubscriptions, i})
		case strings.HasSuffix(p, "_len") && !strings.HasPrefix(p, "result."):
			parts = append(parts, part{partBytes, i})
		}
	}
	shift := uint64(hostByteShift)
	if name == "random_get" {
		shift = randomByteShift
	}
	return func(mod api.Module, stack []uint64) uint64 {
		c := uint64(hostCallCost)
		for _, p := range parts {
			n := uint64(uint32(stack[p.at]))
			switch p.kind {
			case partBytes:
				c += n >> shift
			case partIovecs:
				c += n*iovecCost + iovecBytes(mod, uint32(stack[p.at-1]), uint32(n))>>hostByteShift
			case partSubscriptions:
				c += n * subscriptionCost
			}
		}
		return c
	}
}

// iovecBytes sums the lengths of the n iovecs (ptr, len pairs of u32) at
// ptr; 0 when they are out of bounds (the call then fails with EFAULT).
func iovecBytes(mod api.Module, ptr, n uint32) uint64 {
	mem := mod.Memory()
	if mem == nil {
		return 0
	}
	b, ok := mem.Read(ptr, n*8)
	if !ok || uint64(n)*8 > uint64(len(b)) {
		return 0
	}
	var sum uint64
	for i := range n {
		sum += uint64(binary.LittleEndian.Uint32(b[8*i+4:]))
	}
	return sum
}

// randomChunk is how many random bytes randomGet produces between two
// deadline checks.
const randomChunk = 1 << 20

// randomGet is WASI random_get from the run's source (seeded or
// crypto/rand, the same bytes as wazero's), produced in chunks with a
// deadline check between them: a guest asking for 64 MiB at once is still
// stopped at its deadline.
func randomGet(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateFrom(ctx)
	mem := mod.Memory()
	if mem == nil {
		stack[0] = errnoFault
		return
	}
	b, ok := mem.Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errnoFault
		return
	}
	var src io.Reader = rand.Reader
	if st.rnd != nil {
		src = st.rnd
	}
	for len(b) > 0 {
		n := min(len(b), randomChunk)
		if _, err := io.ReadFull(src, b[:n]); err != nil {
			stack[0] = errnoIO
			return
		}
		b = b[n:]
		if len(b) > 0 {
			st.checkDeadline()
		}
	}
	stack[0] = errnoSuccess
}

// writeSizes writes a count and a byte length to guest memory.
func writeSizes(mod api.Module, count, size int, countPtr, sizePtr uint32) uint64 {
	mem := mod.Memory()
	if mem == nil || !mem.WriteUint32Le(countPtr, uint32(count)) || !mem.WriteUint32Le(sizePtr, uint32(size)) {
		return errnoFault
	}
	return errnoSuccess
}

// writeStrings writes NUL-terminated strings (buf, with each string's start
// in offs) at bufPtr and their addresses at ptrs.
func writeStrings(mod api.Module, offs []uint32, buf []byte, ptrs, bufPtr uint32) uint64 {
	mem := mod.Memory()
	if mem == nil {
		return errnoFault
	}
	pb, ok := mem.Read(ptrs, uint32(4*len(offs)))
	if !ok {
		return errnoFault
	}
	bb, ok := mem.Read(bufPtr, uint32(len(buf)))
	if !ok {
		return errnoFault
	}
	for i, o := range offs {
		binary.LittleEndian.PutUint32(pb[4*i:], bufPtr+o)
	}
	copy(bb, buf)
	return errnoSuccess
}

// setArgs lays out argv: name, the policy's args, the invocation's.
func (st *runState) setArgs(name string, extra []string) {
	st.argBuf, st.argOffs = st.argBuf[:0], st.argOffs[:0]
	add := func(s string) {
		st.argOffs = append(st.argOffs, uint32(len(st.argBuf)))
		st.argBuf = append(append(st.argBuf, s...), 0)
	}
	add(name)
	for _, a := range st.m.policy.Capabilities.Args {
		add(a)
	}
	for _, a := range extra {
		add(a)
	}
}

// setEnv lays out the environment: the policy's variables (sorted) unless
// the invocation sets them, then the invocation's, where a later pair wins
// over an earlier one with the same key.
func (st *runState) setEnv(extra []string) {
	st.envBuf, st.envOffs = st.envBuf[:0], st.envOffs[:0]
	add := func(s string) {
		st.envOffs = append(st.envOffs, uint32(len(st.envBuf)))
		st.envBuf = append(append(st.envBuf, s...), 0)
	}
	for _, kv := range st.m.env {
		if !hasKey(extra, envKey(kv)) {
			add(kv)
		}
	}
	for i, kv := range extra {
		if strings.IndexByte(kv, 0) >= 0 {
			continue // a NUL would cut the variable short in the guest
		}
		if !hasKey(extra[i+1:], envKey(kv)) {
			add(kv)
		}
	}
}

func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return true
		}
		if kv == key {
			return true
		}
	}
	return false
}

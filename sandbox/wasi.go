package sandbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// WASI errno values used here.
const (
	errnoSuccess = 0
	errnoFault   = 21
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

	i32 := api.ValueTypeI32
	own := map[string]struct {
		fn    api.GoModuleFunc
		names []string
	}{
		"args_get": {func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeStrings(mod, st.argOffs, st.argBuf, uint32(stack[0]), uint32(stack[1]))
		}, []string{"argv", "argv_buf"}},
		"args_sizes_get": {func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeSizes(mod, len(st.argOffs), len(st.argBuf), uint32(stack[0]), uint32(stack[1]))
		}, []string{"result.argc", "result.argv_len"}},
		"environ_get": {func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeStrings(mod, st.envOffs, st.envBuf, uint32(stack[0]), uint32(stack[1]))
		}, []string{"environ", "environ_buf"}},
		"environ_sizes_get": {func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeSizes(mod, len(st.envOffs), len(st.envBuf), uint32(stack[0]), uint32(stack[1]))
		}, []string{"result.environc", "result.environv_len"}},
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
		fb := b.NewFunctionBuilder()
		if o, ok := own[name]; ok {
			fb = fb.WithGoModuleFunction(counted(i, o.fn), []api.ValueType{i32, i32}, []api.ValueType{i32}).
				WithParameterNames(o.names...).WithResultNames("errno")
		} else {
			var fn api.GoModuleFunction
			switch g := def.GoFunction().(type) {
			case api.GoModuleFunction:
				fn = counted(i, g)
			case api.GoFunction:
				fn = countedPlain(i, g)
			default:
				return nil, nil, fmt.Errorf("WASI function %s: unexpected Go function %T", name, g)
			}
			fb = fb.WithGoModuleFunction(fn, def.ParamTypes(), def.ResultTypes()).
				WithParameterNames(def.ParamNames()...).WithResultNames(def.ResultNames()...)
		}
		fb.WithName(name).Export(name)
	}
	for name := range own {
		if _, ok := slots[name]; !ok {
			return nil, nil, fmt.Errorf("wazero's WASI module has no %s to replace", name)
		}
	}
	return b, slots, nil
}

// counted wraps a host function so that every call increments the run
// state's counter in slot.
func counted(slot int, f api.GoModuleFunction) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		if st := stateFrom(ctx); st != nil && slot < len(st.calls) {
			st.calls[slot]++
		}
		f.Call(ctx, mod, stack)
	}
}

// countedPlain is counted for a function that does not take the caller.
func countedPlain(slot int, f api.GoFunction) api.GoModuleFunc {
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		if st := stateFrom(ctx); st != nil && slot < len(st.calls) {
			st.calls[slot]++
		}
		f.Call(ctx, stack)
	}
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

package sandbox

import (
	"context"
	"encoding/binary"
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

// wasiBuilder returns wazero's WASI preview1 host module with argv and the
// environment served from the run state instead of the ModuleConfig: wazero's
// WithEnv copies the whole configuration and its key map for every variable,
// which made 20 CGI variables cost more than the run itself.
func wasiBuilder(r wazero.Runtime) wazero.HostModuleBuilder {
	b := r.NewHostModuleBuilder(wasiModule)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	i32 := api.ValueTypeI32
	for _, f := range []struct {
		name  string
		fn    api.GoModuleFunc
		names []string
	}{
		{"args_get", func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeStrings(mod, st.argOffs, st.argBuf, uint32(stack[0]), uint32(stack[1]))
		}, []string{"argv", "argv_buf"}},
		{"args_sizes_get", func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeSizes(mod, len(st.argOffs), len(st.argBuf), uint32(stack[0]), uint32(stack[1]))
		}, []string{"result.argc", "result.argv_len"}},
		{"environ_get", func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeStrings(mod, st.envOffs, st.envBuf, uint32(stack[0]), uint32(stack[1]))
		}, []string{"environ", "environ_buf"}},
		{"environ_sizes_get", func(ctx context.Context, mod api.Module, stack []uint64) {
			st := stateFrom(ctx)
			stack[0] = writeSizes(mod, len(st.envOffs), len(st.envBuf), uint32(stack[0]), uint32(stack[1]))
		}, []string{"result.environc", "result.environv_len"}},
	} {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, []api.ValueType{i32, i32}, []api.ValueType{i32}).
			WithName(f.name).WithParameterNames(f.names...).WithResultNames("errno").
			Export(f.name)
	}
	return b
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

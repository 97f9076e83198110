package sandbox

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/netcap"
)

// instantiateNet instantiates the wasi_experimental_http host module (see
// docs/network.md). Its functions count and charge like WASI's, with
// counter slots from first on. A module may import them only when its
// policy grants capabilities.network.http (checkImports).
func (r *Runtime) instantiateNet(ctx context.Context, first int) error {
	b := r.wz.NewHostModuleBuilder(netcap.Module)
	r.netFuncs = map[string]hostFunc{}
	i32 := api.ValueTypeI32
	for i, f := range netcap.Funcs() {
		slot := first + i
		params := make([]api.ValueType, len(f.Params))
		for j := range params {
			params[j] = i32
		}
		results := []api.ValueType{i32}
		r.netFuncs[f.Name] = hostFunc{slot: slot, params: params, results: results}
		b.NewFunctionBuilder().
			WithGoModuleFunction(counted(slot, hostCost(f.Name, f.Params), false, netHost(f)), params, results).
			WithParameterNames(f.Params...).WithResultNames("error").
			WithName(f.Name).Export(f.Name)
	}
	r.nslots = first + len(r.netFuncs)
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate %s host module: %w", netcap.Module, err)
	}
	return nil
}

// netHost runs f on the run's network session. A call the run's deadline
// or the caller's cancellation cut short stops the guest with a timeout
// rather than returning an error code it could retry.
func netHost(f netcap.Func) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		st := stateFrom(ctx)
		if st == nil || st.net == nil {
			stack[0] = netcap.RuntimeError
			return
		}
		code := f.Call(st.net, mod.Memory(), stack)
		st.checkDeadline()
		if st.net.QuotaSpent() {
			st.stop(KindQuota, "the tenant's outbound bytes are spent")
		}
		stack[0] = uint64(code)
	}
}

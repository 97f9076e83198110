package sandbox

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/meter"
	"github.com/wasmward/wasmward/policy"
)

// HostFunction is a function the host lends guests in the "wasmward" import
// namespace, next to the metering functions (see Config.WithHostFunctions).
// Invokers use it for their ABI: the event processor's emit and kv_get.
// It is called only from a guest of an Instance (Module.Instantiate); a
// guest that calls it from Module.Run is stopped with invalid_module.
type HostFunction struct {
	// Name is the import name ("emit"); the meter's names are refused.
	Name string
	// Params and Results are the function's signature. A module importing
	// the name with another signature is refused at Compile.
	Params, Results []api.ValueType
	// Grant, when not nil, decides whether a policy allows a module to
	// import the function; its error is the refusal's detail (kind
	// capability_denied). nil allows every module of the runtime.
	Grant func(policy.Policy) error
	// Fn does the work. It is charged the base cost of a host call (64 fuel
	// units) before it runs; it charges more with HostCall.Charge. It stops
	// the guest with HostCall.Stop (a violation) or by panicking with an
	// error (a trap).
	Fn func(ctx context.Context, call HostCall, stack []uint64)
}

// HostCall is what a HostFunction reaches of the calling instance.
type HostCall struct {
	st  *runState
	mod api.Module
}

// Memory is the calling instance's memory.
func (c HostCall) Memory() api.Memory { return c.mod.Memory() }

// Data is the value given to Module.Instantiate.
func (c HostCall) Data() any { return c.st.data }

// Charge takes units of fuel from the guest's budget for the call's work,
// stopping it with fuel_exhausted or timeout like guest code would be.
func (c HostCall) Charge(units uint64) { c.st.charge(c.mod, units) }

// Stop stops the guest with a violation of kind: the call's report says
// kind and detail, and the instance is broken (see Instance.Broken).
func (c HostCall) Stop(kind Kind, detail string) { c.st.stop(kind, "%s", detail) }

// Read returns a copy of the guest's memory [ptr, ptr+n), or traps with
// "out of bounds memory access" naming what when it is not all inside.
func (c HostCall) Read(what string, ptr, n uint32) []byte {
	b, ok := c.mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%s: out of bounds memory access (%d bytes at %d)", what, n, ptr))
	}
	return append([]byte(nil), b...)
}

// View is Read without the copy: the slice aliases the guest's memory and
// is valid until the guest runs again or its memory grows.
func (c HostCall) View(what string, ptr, n uint32) []byte {
	b, ok := c.mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%s: out of bounds memory access (%d bytes at %d)", what, n, ptr))
	}
	return b
}

// WithHostFunctions returns a copy whose runtime also provides fns in the
// "wasmward" namespace. Compile accepts a module's import of one of them
// when the signature matches and its Grant allows the policy.
func (c Config) WithHostFunctions(fns ...HostFunction) Config {
	c.hostFuncs = append(append([]HostFunction(nil), c.hostFuncs...), fns...)
	return c
}

// hostModuleFuncs checks the configured host functions and returns them by
// name.
func hostModuleFuncs(fns []HostFunction) (map[string]HostFunction, error) {
	out := make(map[string]HostFunction, len(fns))
	for _, f := range fns {
		switch {
		case f.Name == meter.FuelFunc || f.Name == meter.StackFunc:
			return nil, fmt.Errorf("host function %q: the name is the meter's", f.Name)
		case f.Fn == nil:
			return nil, fmt.Errorf("host function %q: no Fn", f.Name)
		}
		if _, dup := out[f.Name]; dup {
			return nil, fmt.Errorf("host function %q declared twice", f.Name)
		}
		out[f.Name] = f
	}
	return out, nil
}

// wrapHost adapts f to wazero: it finds the instance's state, charges the
// base cost and calls f.
func wrapHost(f HostFunction) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		st := stateFrom(ctx)
		if st == nil || !st.persistent {
			panic(&violationError{Kind: KindInvalidModule, Detail: meter.ImportModule + "." + f.Name + " called outside an instance that provides it"})
		}
		st.charge(mod, hostCallCost)
		f.Fn(ctx, HostCall{st: st, mod: mod}, stack)
	}
}

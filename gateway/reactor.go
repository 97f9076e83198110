package gateway

import (
	"context"
	"fmt"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/snapshot"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// ReactorExport is the export of a reactor handler: a module without
// _start that exports this function, of type () -> (), is served by
// calling it on a fresh instance per request, with the request on stdin,
// the CGI variables as the environment and the WAGI response on stdout,
// as for a command's _start. Its initialisation (_initialize: for Go, the
// runtime and package init; then wizer.initialize when exported) runs once
// when the route is loaded, and every request's instance starts from the
// snapshot of the initialised state (docs/gateway.md, "Reactor handlers").
const ReactorExport = "wagi_handle"

// reactorModule is a compiled snapshot of a reactor handler; SHA256 is the
// digest of the module as configured, not of the snapshot.
type reactorModule struct {
	*sandbox.Module
	sha string
}

func (r *reactorModule) Run(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
	in.Function = ReactorExport
	return r.Module.Run(ctx, in)
}

func (r *reactorModule) SHA256() string { return r.sha }

// compileHandler compiles bin under p: a command as it is, a reactor
// handler (see ReactorExport) as the snapshot of its initialised state.
// The initialisation runs under p without its mounts, network and stdin
// (what it opened could not be carried into the snapshot, and no request
// is there to need them).
func compileHandler(ctx context.Context, rt *sandbox.Runtime, bin []byte, p policy.Policy) (module, error) {
	initName, reactor, err := reactorInit(bin)
	if err != nil {
		return nil, err
	}
	if !reactor {
		m, err := rt.Compile(ctx, bin, p)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return m, nil
	}
	ip := p.Clone()
	ip.Capabilities.Mounts = nil
	ip.Capabilities.Network = policy.Network{}
	ip.Capabilities.Stdin = policy.StdinNone
	snap, err := snapshot.Build(ctx, bin, snapshot.Options{InitFunc: initName, Policy: &ip, Runtime: rt})
	if err != nil {
		return nil, fmt.Errorf("reactor handler: pre-initialise: %w", err)
	}
	m, err := rt.Compile(ctx, snap, p)
	if err != nil {
		return nil, fmt.Errorf("reactor handler: compile the snapshot: %w", err)
	}
	return &reactorModule{Module: m, sha: digest.SHA256Hex(bin)}, nil
}

// reactorInit reports whether bin is a reactor handler and names the
// export the snapshot calls last: wizer.initialize or wizer-initialize
// when the module exports one, else _initialize (which the snapshot runs
// once, when it instantiates the module, either way). A module that does
// not decode is left to Compile, which refuses it.
func reactorInit(bin []byte) (initName string, reactor bool, err error) {
	m, err := wasm.Decode(bin)
	if err != nil {
		return "", false, nil
	}
	var handler, start bool
	initName = "_initialize"
	for _, x := range m.Exports {
		if x.Kind != wasm.ExternFunc {
			continue
		}
		switch x.Name {
		case ReactorExport:
			ti, ok := m.FuncTypeIndex(x.Index)
			if !ok || int(ti) >= len(m.Types) || !m.Types[ti].IsPlainFunc() || len(m.Types[ti].Params)+len(m.Types[ti].Results) != 0 {
				return "", false, fmt.Errorf("reactor handler: the %s export must have type () -> ()", ReactorExport)
			}
			handler = true
		case "_start":
			start = true
		case "wizer.initialize", "wizer-initialize":
			initName = x.Name
		}
	}
	switch {
	case !handler:
		return "", false, nil
	case start:
		return "", false, fmt.Errorf("reactor handler: the module exports both _start and %s; a handler is a command or a reactor", ReactorExport)
	}
	return initName, true, nil
}

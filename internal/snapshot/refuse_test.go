package snapshot

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
)

// What a snapshot cannot capture is refused with one line saying what and
// where, before anything runs (ErrRefused); an initialisation that fails is
// ErrInit. No output is produced for either.
func TestRefusals(t *testing.T) {
	rt := newRuntime(t)
	withTable := func(m *wasm.Module) {
		m.Tables = []wasm.Table{{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 1}}}
	}
	later := func(code ...byte) func(m *wasm.Module) {
		return func(m *wasm.Module) { m.Code[fnGet] = wasm.Func{Body: wasm.Expr{Code: append(code, 0x41, 0, 0x0b)}} }
	}
	cases := []struct {
		name   string
		edit   func(m *wasm.Module)
		policy func(p *policy.Policy)
		opts   Options
		is     error
		want   string
	}{
		{name: "imported memory", edit: func(m *wasm.Module) {
			m.Memories = nil
			m.Imports = []wasm.Import{{Module: "env", Name: "mem", Kind: wasm.ExternMemory, Memory: wasm.Memory{Limits: wasm.Limits{Min: 1}}}}
		}, is: ErrRefused, want: "imports a memory (env.mem): its state lives outside the module"},
		{name: "imported global", edit: func(m *wasm.Module) {
			m.Imports = []wasm.Import{{Module: "env", Name: "g", Kind: wasm.ExternGlobal, Global: wasm.GlobalType{Val: wasm.I32}}}
		}, is: ErrRefused, want: "imports a global (env.g)"},
		{name: "imported table", edit: func(m *wasm.Module) {
			m.Imports = []wasm.Import{{Module: "env", Name: "t", Kind: wasm.ExternTable, Table: wasm.Table{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 1}}}}
		}, is: ErrRefused, want: "imports a table (env.t)"},
		{name: "multi-memory", edit: func(m *wasm.Module) {
			m.Memories = append(m.Memories, wasm.Memory{Limits: wasm.Limits{Min: 1}})
		}, is: ErrRefused, want: "defines 2 memories: multi-memory is not supported"},
		{name: "shared memory", edit: func(m *wasm.Module) {
			m.Memories[0].Limits.Shared = true
		}, is: ErrRefused, want: "memory 0 is shared"},
		{name: "table.set after init", edit: func(m *wasm.Module) {
			withTable(m)
			later(0x41, 0, 0xd0, 0x70, 0x26, 0, 0x41, 0, 0x1a)(m)
		}, is: ErrRefused, want: "function 3 uses table.set at offset"},
		{name: "table.grow", edit: func(m *wasm.Module) {
			withTable(m)
			later(0xd0, 0x70, 0x41, 1, 0xfc, 0x0f, 0, 0x1a)(m)
		}, is: ErrRefused, want: "uses table.grow at offset"},
		{name: "data.drop", edit: func(m *wasm.Module) {
			m.HasDataCount, m.DataCount = true, 1
			later(0xfc, 0x09, 0)(m)
		}, is: ErrRefused, want: "uses data.drop at offset"},
		{name: "mutable funcref global", edit: func(m *wasm.Module) {
			m.Globals = append(m.Globals, wasm.Global{Type: wasm.GlobalType{Val: wasm.FuncRef, Mutable: true}, Init: wasm.Expr{Code: []byte{0xd0, 0x70, 0x0b}}})
		}, is: ErrRefused, want: "global 2 is a mutable funcref"},
		{name: "no init export", opts: Options{InitFunc: "setup"}, is: ErrRefused, want: `exports no function "setup" (name one with --init-func)`},
		{name: "no default init export", edit: func(m *wasm.Module) {
			m.Exports = m.Exports[2:]
		}, is: ErrRefused, want: `exports no function "wizer.initialize" or "wizer-initialize"`},
		{name: "init with a result", opts: Options{InitFunc: "get"}, is: ErrRefused, want: `the init export "get" has type () -> (i32), want () -> ()`},
		{name: "reserved export", edit: func(m *wasm.Module) {
			m.Exports = append(m.Exports, wasm.Export{Name: "__wasmward_snapshot_global_0", Kind: wasm.ExternGlobal})
		}, is: ErrRefused, want: "names starting \"__wasmward_snapshot_\" are reserved"},
		{name: "mounts", policy: func(p *policy.Policy) {
			p.Capabilities.Mounts = []policy.Mount{{Host: t.TempDir(), Guest: "/data"}}
		}, is: ErrRefused, want: "the policy mounts /data: files opened during initialisation would be host resources"},
		{name: "stdin inherit", policy: func(p *policy.Policy) {
			p.Capabilities.Stdin = policy.StdinInherit
		}, is: ErrRefused, want: "the policy inherits stdin"},
		{name: "network", policy: func(p *policy.Policy) {
			p.Capabilities.Network.HTTP = []policy.HTTPRule{{URL: "https://example.com/"}}
		}, is: ErrRefused, want: "the policy grants network access"},
		{name: "init traps", edit: func(m *wasm.Module) {
			m.Code[fnInit] = wasm.Func{Body: wasm.Expr{Code: []byte{0x00, 0x0b}}}
		}, is: ErrInit, want: "wizer.initialize: trap: "},
		{name: "init out of fuel", edit: func(m *wasm.Module) {
			m.Code[fnInit] = wasm.Func{Body: wasm.Expr{Code: []byte{0x03, 0x40, 0x0c, 0, 0x0b, 0x0b}}}
		}, policy: func(p *policy.Policy) { p.Limits.Fuel = 100000 }, is: ErrInit, want: "wizer.initialize: violation fuel_exhausted"},
		{name: "init over the memory cap", edit: func(m *wasm.Module) {
			m.Memories[0].Limits.HasMax = false
			m.Code[fnInit] = wasm.Func{Body: wasm.Expr{Code: []byte{0x41, 0x80, 0x08, 0x40, 0, 0x1a, 0x41, 0x80, 0x80, 0x80, 0x08, 0x41, 1, 0x36, 2, 0, 0x0b}}}
		}, policy: func(p *policy.Policy) { p.Limits.Memory = 64 << 20 }, is: ErrInit, want: "wizer.initialize: violation memory_limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := onceModule()
			if c.edit != nil {
				c.edit(m)
			}
			opts := c.opts
			opts.Runtime = rt
			if c.policy != nil {
				p := policy.Default()
				c.policy(&p)
				opts.Policy = &p
			}
			out, err := Build(context.Background(), encode(t, m), opts)
			if err == nil {
				t.Fatalf("snapshot made (%d bytes), want an error containing %q", len(out), c.want)
			}
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want %v containing %q", err, c.is, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if out != nil {
				t.Errorf("output alongside an error")
			}
		})
	}
}

// Components are refused, not misread as modules.
func TestRefusesComponent(t *testing.T) {
	comp := []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}
	_, err := Build(context.Background(), comp, Options{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "component") {
		t.Fatalf("error %v, want a component refusal", err)
	}
}

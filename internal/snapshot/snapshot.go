// Package snapshot pre-initialises a module, as wizer does: it instantiates
// the module under a policy, calls its initialisation export once, and writes
// a new module whose data segments, memory size and globals hold the state
// that call left, with the initialisation export removed. Running the
// snapshot is then running the original after its initialisation, without
// paying for it again.
//
// What cannot be captured is refused before anything runs (tables that
// code can change, imported memories, globals or tables, reference-typed
// mutable globals, more than one memory, shared or 64-bit memories) or, for
// host resources, by the policy the initialisation runs under (no mounts,
// no inherited stdin, no network). See docs/snapshot.md.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Init export names tried, in order, when Options.InitFunc is empty: the
// name wizer's C header and older releases use, then the default of current
// wizer releases.
var defaultInitFuncs = []string{"wizer.initialize", "wizer-initialize"}

// DefaultFuel is the fuel budget of the initialisation call when the policy
// leaves fuel unmetered: a snapshot is built from untrusted code too, and
// its initialisation must end by a bound other than the deadline alone.
const DefaultFuel = 10_000_000_000

// exportPrefix names the exports Snapshot adds to the copy it runs to read
// the state of non-exported globals; a module exporting names with this
// prefix is refused.
const exportPrefix = "__wasmward_snapshot_"

// ErrRefused is wrapped by the errors for modules, policies and options a
// snapshot cannot be made of: the state would not be captured faithfully.
var ErrRefused = errors.New("cannot snapshot")

// ErrInit is wrapped by the errors for initialisations that did not
// complete: the module was refused by the sandbox, could not be
// instantiated, or its initialisation trapped, exited or hit a limit.
var ErrInit = errors.New("initialisation failed")

// Options configures a snapshot. The zero value snapshots with the default
// policy and the wizer init export names.
type Options struct {
	// InitFunc is the export to call. Empty: "wizer.initialize", else
	// "wizer-initialize", whichever the module exports.
	InitFunc string
	// Policy bounds the initialisation (memory cap, deadline, fuel, call
	// depth, imports). Nil: policy.Default(). When it leaves fuel unmetered,
	// the initialisation gets DefaultFuel.
	Policy *policy.Policy
	// Renames are wizer's --rename-func: export dst becomes what export src
	// was (a function), replacing any dst; src is no longer exported under
	// its old name. Keys are dst, values src.
	Renames map[string]string
	// KeepInitFunc keeps the init export in the snapshot.
	KeepInitFunc bool
	// Runtime compiles and runs the initialisation; nil: a runtime made for
	// the call and closed before it returns.
	Runtime *sandbox.Runtime
}

// Result is a snapshot and what went into it.
type Result struct {
	// Module is the snapshot, a module our decoder accepts.
	Module []byte
	// InitFunc is the export that was called.
	InitFunc string
	// MemoryPages is the memory's size after the initialisation, the
	// snapshot's minimum (0 without a memory).
	MemoryPages uint64
	// Segments and DataBytes describe the data segments holding the memory.
	Segments  int
	DataBytes int
	// Globals is the number of mutable globals whose values were captured.
	Globals int
	// Init is the report of the initialisation call.
	Init sandbox.CallReport
	// Policy is the policy the initialisation ran under (with DefaultFuel
	// when the given one left fuel unmetered).
	Policy policy.Policy
}

// Build returns the snapshot of module: Snapshot's Module. It is the entry
// point for callers that only need the bytes.
func Build(ctx context.Context, module []byte, opts Options) ([]byte, error) {
	r, err := Snapshot(ctx, module, opts)
	if err != nil {
		return nil, err
	}
	return r.Module, nil
}

// Snapshot instantiates module under opts.Policy (its start function and a
// reactor's _initialize run as at any instantiation), calls the init export,
// and returns a module holding the resulting state: each defined mutable
// global's value as its initialiser, the memory's non-zero bytes as active
// data segments and its current size as its minimum, the original active
// data segments replaced by empty passive ones (so that data indices stay),
// no start function, and neither the init export nor _initialize exported.
// Everything else (code, tables, element segments, custom sections but an
// embedded signature, which no longer covers the bytes) is kept. The result
// decodes with our decoder; errors are one line and wrap ErrRefused or
// ErrInit.
func Snapshot(ctx context.Context, module []byte, opts Options) (*Result, error) {
	pol := policy.Default()
	if opts.Policy != nil {
		pol = opts.Policy.Clone()
	}
	if err := checkPolicy(pol); err != nil {
		return nil, err
	}
	if pol.Limits.Fuel == 0 {
		pol.Limits.Fuel = DefaultFuel
	}
	if wasm.IsComponent(module) {
		return nil, fmt.Errorf("snapshot: %w: the input is a component; snapshots are made of core modules", ErrRefused)
	}
	m, err := wasm.Decode(module)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w: %w", ErrRefused, err)
	}
	plan, err := check(m, opts)
	if err != nil {
		return nil, err
	}
	probe, err := probeModule(module, plan)
	if err != nil {
		return nil, err
	}
	st, err := initialise(ctx, probe, pol, plan, opts.Runtime)
	if err != nil {
		return nil, err
	}
	out, res, err := rewrite(module, plan, st, opts)
	if err != nil {
		return nil, err
	}
	if _, err := wasm.Decode(out); err != nil {
		return nil, fmt.Errorf("snapshot: internal error: the snapshot does not decode: %w", err)
	}
	res.Module, res.InitFunc, res.Init, res.Policy = out, plan.initFunc, st.report, pol
	return res, nil
}

// checkPolicy refuses policies that would let the initialisation hold host
// resources the snapshot cannot carry: open files, an inherited stdin,
// network connections.
func checkPolicy(p policy.Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("snapshot: policy: %w", err)
	}
	switch {
	case len(p.Capabilities.Mounts) > 0:
		return fmt.Errorf("snapshot: %w: the policy mounts %s: files opened during initialisation would be host resources a snapshot cannot hold", ErrRefused, p.Capabilities.Mounts[0].Guest)
	case p.Capabilities.Stdin == policy.StdinInherit:
		return fmt.Errorf("snapshot: %w: the policy inherits stdin, a host resource a snapshot cannot hold", ErrRefused)
	case len(p.Capabilities.Network.HTTP) > 0:
		return fmt.Errorf("snapshot: %w: the policy grants network access: connections opened during initialisation would be host resources a snapshot cannot hold", ErrRefused)
	}
	return nil
}

// plan is what check learned of a module it accepted.
type plan struct {
	initFunc string
	// mutable lists the defined globals (index among the defined ones)
	// whose values are captured.
	mutable []int
	memory  bool
}

// check refuses what a snapshot cannot capture, the same things wizer
// refuses, and resolves the init export.
func check(m *wasm.Module, opts Options) (*plan, error) {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("snapshot: %w: "+format, append([]any{ErrRefused}, args...)...)
	}
	for _, im := range m.Imports {
		switch im.Kind {
		case wasm.ExternMemory, wasm.ExternGlobal, wasm.ExternTable:
			return nil, refuse("the module imports a %s (%s.%s): its state lives outside the module and cannot be captured", im.Kind, im.Module, im.Name)
		}
	}
	switch {
	case len(m.Memories) > 1:
		return nil, refuse("the module defines %d memories: multi-memory is not supported by the runtime", len(m.Memories))
	case len(m.Memories) == 1 && m.Memories[0].Limits.Shared:
		return nil, refuse("memory 0 is shared: other threads' writes cannot be captured")
	case len(m.Memories) == 1 && m.Memories[0].Limits.Is64:
		return nil, refuse("memory 0 is a 64-bit memory (memory64), not supported")
	}
	p := &plan{memory: len(m.Memories) == 1}
	for i, g := range m.Globals {
		if !g.Type.Mutable {
			continue
		}
		switch g.Type.Val.Code {
		case wasm.CodeI32, wasm.CodeI64, wasm.CodeF32, wasm.CodeF64:
			p.mutable = append(p.mutable, i)
		case wasm.CodeV128:
			return nil, refuse("global %d is a mutable v128: the runtime cannot read its value", globalIndex(m, i))
		default:
			return nil, refuse("global %d is a mutable %s: references have no value a module can be initialised with", globalIndex(m, i), g.Type.Val)
		}
	}
	for i := range m.Code {
		if err := checkCode(m, i); err != nil {
			return nil, err
		}
	}
	funcs := map[string]uint32{}
	for _, x := range m.Exports {
		if strings.HasPrefix(x.Name, exportPrefix) {
			return nil, refuse("the module exports %q: names starting %q are reserved for the snapshot", x.Name, exportPrefix)
		}
		if x.Kind == wasm.ExternFunc {
			funcs[x.Name] = x.Index
		}
	}
	names := defaultInitFuncs
	if opts.InitFunc != "" {
		names = []string{opts.InitFunc}
	}
	idx, found := uint32(0), false
	for _, n := range names {
		if idx, found = funcs[n]; found {
			p.initFunc = n
			break
		}
	}
	if !found {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = strconv.Quote(n)
		}
		return nil, refuse("the module exports no function %s (name one with --init-func)", strings.Join(quoted, " or "))
	}
	ti, ok := m.FuncTypeIndex(idx)
	if !ok || int(ti) >= len(m.Types) {
		return nil, refuse("the init export %q has no function type", p.initFunc)
	}
	if t := m.Types[ti]; !t.IsPlainFunc() || len(t.Params) != 0 || len(t.Results) != 0 {
		return nil, refuse("the init export %q has type %s, want () -> ()", p.initFunc, t.String())
	}
	for dst, src := range opts.Renames {
		if _, ok := funcs[src]; !ok {
			return nil, refuse("rename %s=%s: the module exports no function %q", dst, src, src)
		}
		if src == p.initFunc && !opts.KeepInitFunc {
			return nil, refuse("rename %s=%s: the init export is removed from the snapshot", dst, src)
		}
	}
	return p, nil
}

func globalIndex(m *wasm.Module, defined int) int { return m.ImportCount(wasm.ExternGlobal) + defined }

// checkCode refuses instructions that change what the snapshot cannot
// capture: table contents and sizes (tables hold references, which no
// initialiser can write back), and the dropped state of segments.
func checkCode(m *wasm.Module, i int) error {
	body := m.Code[i].Body
	ir := body.Instrs()
	var in wasm.Instr
	for {
		at := body.Offset + ir.Offset()
		if !ir.Next(&in) {
			break
		}
		switch in.Op {
		case wasm.OpTableSet, wasm.OpTableGrow, wasm.OpTableFill, wasm.OpTableCopy, wasm.OpTableInit,
			wasm.OpElemDrop, wasm.OpDataDrop:
			what := "table state cannot be captured"
			if in.Op == wasm.OpDataDrop || in.Op == wasm.OpElemDrop {
				what = "which segments were dropped cannot be captured"
			}
			return fmt.Errorf("snapshot: %w: function %d uses %s at offset %#x: %s", ErrRefused,
				m.ImportCount(wasm.ExternFunc)+i, in.Op, at, what)
		}
	}
	if err := ir.Err(); err != nil {
		return fmt.Errorf("snapshot: %w: %w", ErrRefused, err)
	}
	return nil
}

func globalExport(i int) string { return exportPrefix + "global_" + strconv.Itoa(i) }

// probeModule returns module with every captured global exported, so that
// the instance's globals can be read after the initialisation.
func probeModule(module []byte, p *plan) ([]byte, error) {
	if len(p.mutable) == 0 {
		return module, nil
	}
	m, err := wasm.Decode(module)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w: %w", ErrRefused, err)
	}
	for _, i := range p.mutable {
		m.Exports = append(m.Exports, wasm.Export{Name: globalExport(i), Kind: wasm.ExternGlobal, Index: uint32(globalIndex(m, i))})
	}
	out, err := wasm.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("snapshot: internal error: encode the probe: %w", err)
	}
	return out, nil
}

// state is what the initialisation left.
type state struct {
	memory  []byte
	globals []uint64 // parallel to plan.mutable
	report  sandbox.CallReport
}

func initialise(ctx context.Context, probe []byte, pol policy.Policy, p *plan, rt *sandbox.Runtime) (*state, error) {
	if rt == nil {
		r, err := sandbox.New(ctx, sandbox.NewConfig())
		if err != nil {
			return nil, fmt.Errorf("snapshot: start the runtime: %w", err)
		}
		defer func() { _ = r.Close(context.WithoutCancel(ctx)) }()
		rt = r
	}
	mod, err := rt.Compile(ctx, probe, pol)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w: %w", ErrInit, err)
	}
	defer func() { _ = mod.Close(context.WithoutCancel(ctx)) }()
	in, err := mod.Instantiate(ctx, "snapshot", nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w: %w", ErrInit, err)
	}
	defer in.Close(context.WithoutCancel(ctx))
	st := &state{}
	// A reactor's _initialize ran when the instance was made; named as the
	// init export, it is not called a second time.
	if p.initFunc != "_initialize" {
		if err := in.Call(ctx, &sandbox.Call{Function: p.initFunc}, &st.report); err != nil {
			return nil, fmt.Errorf("snapshot: %w: %w", ErrInit, err)
		}
		if st.report.Failed() {
			return nil, fmt.Errorf("snapshot: %w: %s: %s", ErrInit, p.initFunc, st.report.Reason())
		}
	}
	if p.memory {
		mem := in.Memory()
		if mem == nil {
			return nil, fmt.Errorf("snapshot: internal error: the instance has no memory")
		}
		b, ok := mem.Read(0, mem.Size())
		if !ok {
			return nil, fmt.Errorf("snapshot: internal error: cannot read the memory")
		}
		st.memory = append([]byte(nil), b...)
	}
	for _, i := range p.mutable {
		g := in.Global(globalExport(i))
		if g == nil {
			return nil, fmt.Errorf("snapshot: internal error: global %d is not readable", i)
		}
		st.globals = append(st.globals, g.Get())
	}
	return st, nil
}

// rewrite writes the snapshot: the original module with the captured state.
func rewrite(module []byte, p *plan, st *state, opts Options) ([]byte, *Result, error) {
	m, err := wasm.Decode(module)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w: %w", ErrRefused, err)
	}
	res := &Result{Globals: len(p.mutable)}
	for k, i := range p.mutable {
		m.Globals[i].Init = constExpr(m.Globals[i].Type.Val, st.globals[k])
	}
	if p.memory {
		pages := uint64(len(st.memory)) / pageSize
		lim := &m.Memories[0].Limits
		if lim.HasMax && lim.Max < pages {
			return nil, nil, fmt.Errorf("snapshot: internal error: memory grew to %d pages past its maximum %d", pages, lim.Max)
		}
		lim.Min = pages
		res.MemoryPages = pages
	}
	data := make([]wasm.Data, 0, len(m.Data)+16)
	for _, d := range m.Data {
		if d.Mode == wasm.ModeActive {
			// Applied already; an empty passive segment keeps the indices
			// memory.init uses (and memory.init of an applied active
			// segment behaves as of an empty one).
			d = wasm.Data{Flags: 1, Mode: wasm.ModePassive}
		}
		data = append(data, d)
	}
	for _, s := range Segments(st.memory) {
		data = append(data, wasm.Data{Flags: 0, Mode: wasm.ModeActive, Offset: i32Const(int32(uint32(s.Offset))), Init: st.memory[s.Offset:s.End]})
		res.Segments++
		res.DataBytes += s.End - s.Offset
	}
	m.Data = data
	if m.HasDataCount {
		m.DataCount = uint32(len(m.Data))
	}
	m.HasStart = false
	m.Exports, err = exports(m.Exports, p.initFunc, opts)
	if err != nil {
		return nil, nil, err
	}
	// An embedded signature covered the input's bytes, not these.
	secs := m.Sections[:0:0]
	for _, s := range m.Sections {
		if s.ID == wasm.SectionCustom && s.Name == signatureSection {
			continue
		}
		secs = append(secs, s)
	}
	m.Sections = secs
	out, err := wasm.Encode(m)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: internal error: encode: %w", err)
	}
	return out, res, nil
}

// signatureSection is the custom section of wasmsign2 signatures.
const signatureSection = "signature"

// exports returns the snapshot's exports: without the init export (unless
// kept) and _initialize (it ran), renames applied as wizer applies them.
func exports(xs []wasm.Export, initFunc string, opts Options) ([]wasm.Export, error) {
	srcToDst := map[string]string{}
	for dst, src := range opts.Renames {
		if prev, dup := srcToDst[src]; dup {
			return nil, fmt.Errorf("snapshot: %w: export %q is renamed twice (%s, %s)", ErrRefused, src, prev, dst)
		}
		srcToDst[src] = dst
	}
	out := make([]wasm.Export, 0, len(xs))
	for _, x := range xs {
		if x.Kind == wasm.ExternFunc {
			if (x.Name == initFunc && !opts.KeepInitFunc) || x.Name == "_initialize" {
				continue
			}
			if dst, ok := srcToDst[x.Name]; ok {
				x.Name = dst
			} else if _, overwritten := opts.Renames[x.Name]; overwritten {
				continue
			}
		}
		out = append(out, x)
	}
	seen := map[string]bool{}
	for _, x := range out {
		if seen[x.Name] {
			return nil, fmt.Errorf("snapshot: %w: the renames export %q twice", ErrRefused, x.Name)
		}
		seen[x.Name] = true
	}
	return out, nil
}

const pageSize = 65536

func i32Const(v int32) wasm.Expr {
	b := wasm.AppendS32([]byte{byte(wasm.OpI32Const)}, v)
	return wasm.Expr{Code: append(b, byte(wasm.OpEnd))}
}

// constExpr is the initialiser of a global of type t holding raw, the
// value in wazero's api encoding.
func constExpr(t wasm.ValType, raw uint64) wasm.Expr {
	var b []byte
	switch t.Code {
	case wasm.CodeI32:
		b = wasm.AppendS32([]byte{byte(wasm.OpI32Const)}, int32(uint32(raw)))
	case wasm.CodeI64:
		b = wasm.AppendS64([]byte{byte(wasm.OpI64Const)}, int64(raw))
	case wasm.CodeF32:
		b = []byte{byte(wasm.OpF32Const), 0, 0, 0, 0}
		putLE(b[1:], uint64(uint32(raw)), 4)
	case wasm.CodeF64:
		b = []byte{byte(wasm.OpF64Const), 0, 0, 0, 0, 0, 0, 0, 0}
		putLE(b[1:], raw, 8)
	}
	return wasm.Expr{Code: append(b, byte(wasm.OpEnd))}
}

func putLE(b []byte, v uint64, n int) {
	for i := 0; i < n; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

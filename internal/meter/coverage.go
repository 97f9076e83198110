package meter

import (
	"strconv"

	"github.com/wasmward/wasmward/internal/wasm"
)

// Coverage instrumentation (InstrumentCoverage): names shared with the host.
const (
	// LastSiteGlobal is the exported mutable i32 global holding the id of
	// the coverage site entered last (-1 before any). After a call returns,
	// the caller sets it back to its own current site, so after a trap or
	// a violation it names the basic block, in the frame that stopped, where
	// the run ended: Sites[id] is its function index and byte offset.
	LastSiteGlobal = "wasmward.cov.last"

	// MaxCounters bounds the counters a module gets (MaxCounters/4
	// globals). Site id s increments counter s % MaxCounters (sites past the bound share
	// counters, as in a fixed-size coverage map); Site.Counter says which.
	MaxCounters = 1 << 16

	coveragePrefix = "wasmward.cov."
)

// CounterGlobal returns the name of the exported mutable i64 global that
// holds the counters 4g .. 4g+3, 16 bits each (counter k in bits
// 16*(k%4) .. 16*(k%4)+15): how often the sites with Site.Counter == k
// were entered, modulo 2^16 (a lane wraps without touching its
// neighbours). Packing four counters per global keeps instantiation cheap:
// wazero allocates every global of every instance.
func CounterGlobal(g int) string { return coveragePrefix + strconv.Itoa(g) }

// CounterGlobals returns the number of counter globals for n counters.
func CounterGlobals(n int) int { return (n + 3) / 4 }

// Site is one coverage site: the start of a basic block of the original
// module, where control arrives by one kind of edge.
type Site struct {
	// Func is the function index in the original module.
	Func uint32
	// Offset is the byte offset in the original module of the instruction
	// the site follows (the function body's start for its entry).
	Offset int
	// Counter is the index of the counter global the site increments.
	Counter int
}

// coverage is the rewriter's state in coverage mode.
type coverage struct {
	last  uint32 // global index of LastSiteGlobal
	sites []Site
	cur   int32 // the site emitted last in the current function
}

// counters is the number of counter globals the module gets.
func (c *coverage) counters() int { return min(len(c.sites), MaxCounters) }

// appendSite emits a new site of function fn at offset (its counter is
// lane L of global $g, mask M = 0xffff << 16L):
//
//	global.get $g; i64.const 1<<16L; i64.add; i64.const M; i64.and
//	global.get $g; i64.const ^M; i64.and; i64.or; global.set $g
//	i32.const id; global.set $last
//
// It leaves the operand stack as it was, so it can go anywhere an
// instruction can, including after a br_if whose fall-through keeps values.
func (c *coverage) appendSite(r *bodyRewriter, dst []byte, fn uint32, offset int) []byte {
	id := len(c.sites)
	k := id % MaxCounters
	c.sites = append(c.sites, Site{Func: fn, Offset: offset, Counter: k})
	c.cur = int32(id)
	g := c.last + 1 + uint32(k/4)
	shift := 16 * uint(k%4)
	mask := int64(0xffff) << shift
	dst = r.op(dst, opGlobalGet, g)
	dst = wasm.AppendS64(append(dst, opI64Const), int64(1)<<shift)
	dst = append(dst, opI64Add, opI64Const)
	dst = wasm.AppendS64(dst, mask)
	dst = append(dst, opI64And)
	dst = r.op(dst, opGlobalGet, g)
	dst = wasm.AppendS64(append(dst, opI64Const), ^mask)
	dst = append(dst, opI64And, opI64Or)
	dst = r.op(dst, opGlobalSet, g)
	return c.appendLast(r, dst)
}

// appendLast sets LastSiteGlobal to the current site (after a call: the
// callee left its own there).
func (c *coverage) appendLast(r *bodyRewriter, dst []byte) []byte {
	dst = wasm.AppendS64(append(dst, opI32Const), int64(c.cur))
	return r.op(dst, opGlobalSet, c.last)
}

// addGlobals appends LastSiteGlobal and the counter globals, with their
// exports, to m (after the meter's other globals, at the indices the
// bodies use).
func (c *coverage) addGlobals(m *wasm.Module) {
	m.Globals = append(m.Globals, wasm.Global{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: constExpr(opI32Const, -1)})
	m.Exports = append(m.Exports, wasm.Export{Name: LastSiteGlobal, Kind: wasm.ExternGlobal, Index: c.last})
	for g := range CounterGlobals(c.counters()) {
		m.Globals = append(m.Globals, wasm.Global{Type: wasm.GlobalType{Val: wasm.I64, Mutable: true}, Init: constExpr(opI64Const, 0)})
		m.Exports = append(m.Exports, wasm.Export{Name: CounterGlobal(g), Kind: wasm.ExternGlobal, Index: c.last + 1 + uint32(g)})
	}
}

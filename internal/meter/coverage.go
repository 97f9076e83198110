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

	// MaxCmpSlots32 and MaxCmpSlots64 bound the comparison slots a module
	// gets for its i32 and i64 eq/ne comparisons (two globals each). The
	// j-th comparison site of a width writes slot j % its bound, so sites
	// past the bound share slots (the one that ran last in a run wins).
	MaxCmpSlots32 = 512
	MaxCmpSlots64 = 128

	coveragePrefix = "wasmward.cov."
)

// CmpGlobals returns the names of the two exported mutable globals of
// comparison slot k: the left and right operands of the comparison that
// wrote the slot last (0, 0 before any). Slots 0 .. Map.Cmp32-1 are i32
// globals (i32.eq, i32.ne), the next Map.Cmp64 are i64 (i64.eq, i64.ne).
// A fuzzer reads them after a run to learn what the input was compared
// with (libFuzzer's -use_cmp, AFL++'s CmpLog): "input-to-state".
func CmpGlobals(k int) (a, b string) {
	n := strconv.Itoa(k)
	return coveragePrefix + "a" + n, coveragePrefix + "b" + n
}

// Map is what InstrumentCoverage added: the coverage sites in id order,
// and the number of comparison slots of each width (see CmpGlobals).
type Map struct {
	Sites        []Site
	Cmp32, Cmp64 int
}

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
	// The comparison slots' globals follow last (a, b per slot: the i32
	// slots, then the i64 ones); the counter globals follow them.
	n32, n64 int
	cmp32    int // i32 comparison sites emitted so far
	cmp64    int
	counterG uint32 // global index of the first counter global
}

// newCoverage returns the rewriter's coverage state for a module whose
// LastSiteGlobal has global index last, sizing the comparison slots for
// the comparisons of m's bodies.
func newCoverage(m *wasm.Module, last uint32) *coverage {
	c := &coverage{last: last}
	var in wasm.Instr
	var ir wasm.InstrReader
	for _, f := range m.Code {
		ir.Reset(f.Body)
		for ir.Next(&in) {
			switch in.Op {
			case wasm.OpI32Eq, wasm.OpI32Ne:
				c.n32++
			case wasm.OpI64Eq, wasm.OpI64Ne:
				c.n64++
			}
		}
		// A body that does not decode is refused by the rewriter itself.
	}
	c.n32, c.n64 = min(c.n32, MaxCmpSlots32), min(c.n64, MaxCmpSlots64)
	c.counterG = last + 1 + 2*uint32(c.n32+c.n64)
	return c
}

// appendCmp records the operands of the comparison op that follows in its
// slot, leaving them on the stack for it:
//
//	global.set $b; global.set $a; global.get $a; global.get $b
//
// Valid in unreachable code too (the globals' types match the operands').
func (c *coverage) appendCmp(r *bodyRewriter, dst []byte, op wasm.Opcode) []byte {
	var k int
	switch {
	case (op == wasm.OpI32Eq || op == wasm.OpI32Ne) && c.n32 > 0:
		k = c.cmp32 % c.n32
		c.cmp32++
	case (op == wasm.OpI64Eq || op == wasm.OpI64Ne) && c.n64 > 0:
		k = c.n32 + c.cmp64%c.n64
		c.cmp64++
	default:
		return dst
	}
	a := c.last + 1 + 2*uint32(k)
	dst = r.op(dst, opGlobalSet, a+1)
	dst = r.op(dst, opGlobalSet, a)
	dst = r.op(dst, opGlobalGet, a)
	return r.op(dst, opGlobalGet, a+1)
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
	g := c.counterG + uint32(k/4)
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

// addGlobals appends LastSiteGlobal, the comparison slots' globals and
// the counter globals, with their exports, to m (after the meter's other
// globals, at the indices the bodies use).
func (c *coverage) addGlobals(m *wasm.Module) {
	m.Globals = append(m.Globals, wasm.Global{Type: wasm.GlobalType{Val: wasm.I32, Mutable: true}, Init: constExpr(opI32Const, -1)})
	m.Exports = append(m.Exports, wasm.Export{Name: LastSiteGlobal, Kind: wasm.ExternGlobal, Index: c.last})
	for k := range c.n32 + c.n64 {
		val, op := wasm.I32, byte(opI32Const)
		if k >= c.n32 {
			val, op = wasm.I64, opI64Const
		}
		an, bn := CmpGlobals(k)
		a := c.last + 1 + 2*uint32(k)
		m.Globals = append(m.Globals,
			wasm.Global{Type: wasm.GlobalType{Val: val, Mutable: true}, Init: constExpr(op, 0)},
			wasm.Global{Type: wasm.GlobalType{Val: val, Mutable: true}, Init: constExpr(op, 0)})
		m.Exports = append(m.Exports,
			wasm.Export{Name: an, Kind: wasm.ExternGlobal, Index: a},
			wasm.Export{Name: bn, Kind: wasm.ExternGlobal, Index: a + 1})
	}
	for g := range CounterGlobals(c.counters()) {
		m.Globals = append(m.Globals, wasm.Global{Type: wasm.GlobalType{Val: wasm.I64, Mutable: true}, Init: constExpr(opI64Const, 0)})
		m.Exports = append(m.Exports, wasm.Export{Name: CounterGlobal(g), Kind: wasm.ExternGlobal, Index: c.counterG + uint32(g)})
	}
}

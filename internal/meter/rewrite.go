package meter

import (
	"fmt"

	"github.com/wasmward/wasmward/internal/wasm"
)

// layout holds the indices, in the instrumented module, of what Instrument
// adds, and how original function indices move.
type layout struct {
	importedFuncs uint32 // function imports of the original module
	fuelFunc      uint32 // = importedFuncs
	stackFunc     uint32 // = importedFuncs + 1
	fuelGlobal    uint32
	depthGlobal   uint32
	deniedGlobal  uint32
	tablesGlobal  uint32
	memoryGlobal  uint32
}

// funcIndex maps an original function index to its instrumented index: the
// two imports are appended after the original function imports, so defined
// functions move up by two.
func (l *layout) funcIndex(i uint32) uint32 {
	if i >= l.importedFuncs {
		return i + 2
	}
	return i
}

// chargeKind says what is inserted at the start of a segment.
type chargeKind uint8

const (
	chargeDecrement chargeKind = iota + 1 // subtract the segment's cost, no check
	chargeCheck                           // subtract, and call FuelFunc if negative
)

// instrRec is what the rewriter keeps of one original instruction.
type instrRec struct {
	op         wasm.Opcode
	start, end int
	index      uint32 // function index of call, return_call, ref.func
	depth      uint32 // return: the label index of the wrapper block
	seg        int32  // segment whose charge is emitted after it, or -1
	depthFix   bool   // a catch lands after it: reset the depth counter
	// Branches whose label indices moved (labels were inserted between the
	// branch and its target): the new indices are labels[labelsAt:+n], in
	// immediate order (br_table: targets then default; try_table: one per
	// catch clause). labelsAt < 0: copy the instruction as is.
	labelsAt, nLabels int32
	wrapLoop          bool  // loop: refill out of line (see emit)
	implicitElse      bool  // end of an if without else (coverage: an else is added)
	closes            int32 // end of a wrapped loop: index of its loop rec, else -1
}

type frame struct {
	inserted    uint32 // labels the rewriter inserts just outside this frame
	below       uint32 // sum of inserted over the frames under this one
	op          wasm.Opcode
	open        int  // index of the opening instruction in recs
	live        bool // entered by reachable code
	targeted    bool // some branch or catch clause targets this label
	catchTarget bool // a try_table clause branches to this label
	hasElse     bool
	preIf       []int32 // if: the segments paying when the if was reached
	thenEnd     []int32 // if with else: the segments paying at the else
}

// maxPayers bounds how many segments may share the cost of the code after a
// join (see analyze); past it, the join gets its own charge.
const maxPayers = 16

type segment struct {
	cost int64
	kind chargeKind
}

// bodyRewriter rewrites function bodies. It reuses its buffers across
// functions.
type bodyRewriter struct {
	types  []wasm.FuncType // the original module's types
	labels []uint32
	lay    *layout
	limits limits
	cached bool // keep the fuel counter in a local (see emit)
	// maxNesting bounds len(frames) (Options.MaxNesting); maxTable is
	// Options.MaxTableElements and budget Options.MemoryBudget (1<<62 when
	// unset), checked before every table.grow.
	maxNesting, maxTable uint32
	budget               uint64
	// grows is set when a table.grow was rewritten: only then does the
	// module get TablesGlobal and MemoryGlobal (each global costs wazero
	// allocations at every instantiation).
	grows bool
	// cov is set in coverage mode (InstrumentCoverage); fn is the index of
	// the function being rewritten, in the original module.
	cov    *coverage
	fn     uint32
	recs   []instrRec
	segs   []segment
	frames []frame
}

// scratch holds the local indices of the locals a rewritten body adds.
type scratch struct {
	fuel  uint32 // i64: the fuel counter after a charge
	depth uint32 // i32: the depth counter at function entry
	n     uint32 // i32: the length operand of a bulk operation
}

// limits are the sizes of the original module's index spaces. Every index a
// body uses is checked against them: the instrumented module has more
// globals, locals, labels and types, so an out-of-range index in an invalid
// module could otherwise become valid and reach the meter's own state (the
// fuel global is the first global past the original ones).
type limits struct {
	types, funcs, globals uint32
	locals                uint64 // of the function being analyzed
}

// analyze decodes code (a function body ending with end) into r.recs and
// splits it into segments: straight-line runs charged as a whole at their
// start. It reports whether the body has bulk operations.
//
// A segment starts at function entry and at each loop header (with a
// check), at the start of each if and else branch, and after the end of a
// loop or of a block that a branch targets (decrement only). Code after
// the end of a block no branch targets is reached only by falling through,
// so it is paid by the segment(s) that fall through: the one running at the
// end of a block, the two at the ends of an if's branches, or, for an if
// without else whose then-branch cannot fall through, the one running when
// the if was reached. Each instruction is thus paid by a set of segments of
// which exactly one runs on any path that reaches the instruction (cur);
// the total charged equals the instructions executed, except that a branch
// out of a segment (br_if taken, a trap) leaves the rest of it paid.
func (r *bodyRewriter) analyze(code []byte, offset int) (hasBulk bool, err error) {
	r.recs, r.segs, r.frames, r.labels = r.recs[:0], r.segs[:0], r.frames[:0], r.labels[:0]
	r.segs = append(r.segs, segment{kind: chargeCheck}) // function entry
	cur := []int32{0}                                   // who pays for the current instruction; empty in dead code
	newSeg := func(i int, kind chargeKind) {
		r.segs = append(r.segs, segment{kind: kind})
		id := int32(len(r.segs) - 1)
		cur = []int32{id}
		r.recs[i].seg = id
	}
	target := func(label uint32) {
		if int(label) < len(r.frames) {
			r.frames[len(r.frames)-1-int(label)].targeted = true
		}
	}
	ir := wasm.NewInstrReader(code, offset)
	var in wasm.Instr
	for ir.Next(&in) {
		i := len(r.recs)
		r.recs = append(r.recs, instrRec{op: in.Op, start: in.Start, end: in.End, index: in.Index,
			depth: r.newLabel(uint32(len(r.frames))), seg: -1, labelsAt: -1, closes: -1})
		if err := r.checkIndices(&in); err != nil {
			return false, fmt.Errorf("offset %#x: %s: %w", offset+in.Start, in.Op, err)
		}
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf, wasm.OpTryTable:
			if uint32(len(r.frames)) >= r.maxNesting {
				return false, &LimitError{What: "control nesting", Limit: r.maxNesting, Func: -1, Table: -1, Offset: offset + in.Start}
			}
		}
		r.relabel(&in, i)
		for _, p := range cur {
			r.segs[p].cost += staticCost(in.Op)
		}
		if bulkOf(in.Op) != bulkNone {
			hasBulk = true
		}
		live := len(cur) > 0
		switch in.Op {
		case wasm.OpBlock, wasm.OpTryTable:
			if in.Op == wasm.OpTryTable {
				// Catch labels are relative to the blocks around the try_table.
				for _, c := range in.Catches {
					target(c.Label)
					if int(c.Label) < len(r.frames) {
						r.frames[len(r.frames)-1-int(c.Label)].catchTarget = true
					}
				}
			}
			r.push(frame{op: in.Op, open: i, live: live})
		case wasm.OpLoop:
			f := frame{op: in.Op, open: i, live: live}
			if live && r.blockParams(in.Block) == 0 {
				// block, loop, block around it: see emit.
				f.inserted = 3
				r.recs[i].wrapLoop = true
			}
			r.push(f)
			if live {
				newSeg(i, chargeCheck)
			}
		case wasm.OpIf:
			r.push(frame{op: in.Op, open: i, live: live, preIf: cur})
			if live {
				newSeg(i, chargeDecrement)
			}
		case wasm.OpElse:
			if len(r.frames) == 0 || r.frames[len(r.frames)-1].op != wasm.OpIf {
				return false, fmt.Errorf("offset %#x: else outside if", offset+in.Start)
			}
			f := &r.frames[len(r.frames)-1]
			f.hasElse, f.thenEnd = true, cur
			cur = nil
			if f.live {
				newSeg(i, chargeDecrement)
			}
		case wasm.OpEnd:
			if len(r.frames) == 0 {
				continue // the function's end; the reader stops after it
			}
			f := r.frames[len(r.frames)-1]
			r.frames = r.frames[:len(r.frames)-1]
			r.recs[i].implicitElse = f.op == wasm.OpIf && !f.hasElse
			if r.recs[f.open].wrapLoop {
				r.recs[i].closes = int32(f.open)
			}
			if f.catchTarget {
				if f.op == wasm.OpLoop {
					r.recs[f.open].depthFix = true // a branch to a loop lands at its start
				} else {
					r.recs[i].depthFix = true
				}
			}
			needSeg := false
			switch {
			case f.op == wasm.OpLoop || f.targeted:
				// After a loop: its last segment runs every iteration.
				// After a targeted block: reached by branches too.
				needSeg = true
			case f.op == wasm.OpIf && !f.hasElse:
				if live {
					needSeg = true // reached from the then-branch or directly
				} else {
					cur = f.preIf // reached only when the condition was false
				}
			case f.op == wasm.OpIf:
				if u := union(f.thenEnd, cur); len(u) <= maxPayers {
					cur = u
				} else {
					needSeg = true
				}
			}
			// Otherwise (an untargeted block or try_table) the segment that
			// falls through keeps paying.
			if needSeg {
				cur = nil
				if f.live {
					newSeg(i, chargeDecrement)
				}
			}
		case wasm.OpTry, wasm.OpCatch, wasm.OpCatchAll, wasm.OpDelegate:
			return false, fmt.Errorf("offset %#x: legacy exception handling (%s) is not supported", offset+in.Start, in.Op)
		case wasm.OpBr, wasm.OpBrIf, wasm.OpBrOnNull, wasm.OpBrOnNonNull:
			target(in.Index)
		case wasm.OpBrTable:
			target(in.Index)
			for _, l := range in.Targets {
				target(l)
			}
		}
		if endsFlow(in.Op) {
			cur = nil
		}
	}
	if err := ir.Err(); err != nil {
		return false, err
	}
	if len(r.recs) == 0 || r.recs[len(r.recs)-1].op != wasm.OpEnd || len(r.frames) != 0 {
		return false, fmt.Errorf("offset %#x: function body does not end with end", offset)
	}
	return hasBulk, nil
}

// blockParams returns the number of parameters of a block type (-1 for an
// unknown type index, which checkIndices refuses).
func (r *bodyRewriter) blockParams(bt wasm.BlockType) int {
	if bt.Kind != wasm.BlockIndex {
		return 0
	}
	if int(bt.Index) >= len(r.types) {
		return -1
	}
	return len(r.types[bt.Index].Params)
}

// push opens a frame, recording the labels inserted under it so that
// newLabel runs in constant time.
func (r *bodyRewriter) push(f frame) {
	f.below = r.insertedTotal()
	r.frames = append(r.frames, f)
}

// insertedTotal is the number of labels inserted around all open frames.
func (r *bodyRewriter) insertedTotal() uint32 {
	if len(r.frames) == 0 {
		return 0
	}
	top := &r.frames[len(r.frames)-1]
	return top.below + top.inserted
}

// newLabel maps label l (relative to the current position, before the
// instruction at hand opens a block) to its index in the output, where
// frames may have labels inserted around them: l plus the labels inserted
// around the l innermost frames.
func (r *bodyRewriter) newLabel(l uint32) uint32 {
	// l >= len(r.frames): the function's label (or past it, which
	// checkIndices refuses) is the wrapper block's in the output: it sits
	// where the function label was, outside every frame.
	if int64(l) >= int64(len(r.frames)) {
		return l + r.insertedTotal()
	}
	if l == 0 {
		return 0
	}
	return l + r.insertedTotal() - r.frames[len(r.frames)-int(l)].below
}

// relabel records the new label indices of a branch instruction when any
// moved.
func (r *bodyRewriter) relabel(in *wasm.Instr, i int) {
	var ls []uint32
	switch in.Op {
	case wasm.OpBr, wasm.OpBrIf, wasm.OpBrOnNull, wasm.OpBrOnNonNull:
		ls = []uint32{in.Index}
	case wasm.OpBrTable:
		ls = append(append(ls, in.Targets...), in.Index)
	case wasm.OpTryTable:
		for _, c := range in.Catches {
			ls = append(ls, c.Label)
		}
	default:
		return
	}
	moved := false
	at := len(r.labels)
	for _, l := range ls {
		n := r.newLabel(l)
		moved = moved || n != l
		r.labels = append(r.labels, n)
	}
	if !moved {
		r.labels = r.labels[:at]
		return
	}
	r.recs[i].labelsAt, r.recs[i].nLabels = int32(at), int32(len(ls))
}

// union returns a new set holding the elements of a and b.
func union(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	out = append(out, a...)
	for _, x := range b {
		dup := false
		for _, y := range a {
			dup = dup || x == y
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

// checkIndices refuses an instruction whose local, global, function, type
// or label index is outside the original module's index spaces.
func (r *bodyRewriter) checkIndices(in *wasm.Instr) error {
	lim := &r.limits
	labels := uint32(len(r.frames)) // valid labels: 0..labels (the function's)
	switch in.Op {
	case wasm.OpLocalGet, wasm.OpLocalSet, wasm.OpLocalTee:
		if uint64(in.Index) >= lim.locals {
			return fmt.Errorf("unknown local %d", in.Index)
		}
	case wasm.OpGlobalGet, wasm.OpGlobalSet:
		if in.Index >= lim.globals {
			return fmt.Errorf("unknown global %d", in.Index)
		}
	case wasm.OpCall, wasm.OpReturnCall, wasm.OpRefFunc:
		if in.Index >= lim.funcs {
			return fmt.Errorf("unknown function %d", in.Index)
		}
	case wasm.OpCallIndirect, wasm.OpReturnCallIndirect, wasm.OpCallRef, wasm.OpReturnCallRef:
		if in.Index >= lim.types {
			return fmt.Errorf("unknown type %d", in.Index)
		}
	case wasm.OpBr, wasm.OpBrIf, wasm.OpBrOnNull, wasm.OpBrOnNonNull:
		if in.Index > labels {
			return fmt.Errorf("unknown label %d", in.Index)
		}
	case wasm.OpBrTable:
		if in.Index > labels {
			return fmt.Errorf("unknown label %d", in.Index)
		}
		for _, l := range in.Targets {
			if l > labels {
				return fmt.Errorf("unknown label %d", l)
			}
		}
	case wasm.OpTryTable:
		for _, c := range in.Catches {
			if c.Label > labels {
				return fmt.Errorf("unknown label %d", c.Label)
			}
		}
	case wasm.OpRefNull:
		if in.Heap >= 0 && uint64(in.Heap) >= uint64(lim.types) {
			return fmt.Errorf("unknown type %d", in.Heap)
		}
	case wasm.OpSelectT:
		for _, t := range in.Types {
			if err := lim.checkValType(t); err != nil {
				return err
			}
		}
	}
	switch in.Op {
	case wasm.OpBlock, wasm.OpLoop, wasm.OpIf, wasm.OpTryTable:
		switch in.Block.Kind {
		case wasm.BlockIndex:
			if in.Block.Index >= lim.types {
				return fmt.Errorf("unknown type %d", in.Block.Index)
			}
		case wasm.BlockValue:
			return lim.checkValType(in.Block.Val)
		}
	}
	return nil
}

// checkValType refuses a typed reference to a type index out of range.
func (lim *limits) checkValType(t wasm.ValType) error {
	if (t.Code == wasm.RefNull || t.Code == wasm.Ref) && t.Heap >= 0 && uint64(t.Heap) >= uint64(lim.types) {
		return fmt.Errorf("unknown type %d", t.Heap)
	}
	return nil
}

// emit writes the instrumented body of the function analyzed last. wrapper
// is the encoded block type of the function's results.
//
// With r.cached, the function keeps the fuel counter in its scratch local
// and writes it to the global only where someone else may read it: before
// every call (reloading after it) and at every exit. Without, every charge
// updates the global (modules that catch exceptions: a frame unwound by a
// throw cannot write its local back).
//
// In coverage mode, a site (see coverage.appendSite) follows function entry,
// every segment start (loop headers, if and else branches, the join after a
// loop or a targeted block), the fall-through of every conditional branch,
// and the false edge of every if without else (which gets an else for it);
// after every call the current site is set again as the last one.
func (r *bodyRewriter) emit(dst, code []byte, offset int, wrapper []byte, s scratch) []byte {
	lay := r.lay
	// Depth: fail if no frame is left, else take one and remember the value
	// to restore at exit.
	dst = r.op(dst, opGlobalGet, lay.depthGlobal)
	dst = r.op(dst, opLocalTee, s.depth)
	dst = append(dst, opI32Eqz, opIf, blockEmpty)
	dst = r.op(dst, opCall, lay.stackFunc)
	dst = append(dst, opUnreachable, opEnd)
	dst = r.op(dst, opLocalGet, s.depth)
	dst = append(dst, opI32Const, 1, opI32Sub)
	dst = r.op(dst, opGlobalSet, lay.depthGlobal)
	// Fuel for the entry segment, read from the global.
	dst = r.op(dst, opGlobalGet, lay.fuelGlobal)
	dst = r.appendSubCheck(dst, r.segs[0].cost, s)
	if r.cov != nil {
		dst = r.cov.appendSite(r, dst, r.fn, offset)
	}
	// The wrapper block: return becomes a branch to it, so every exit
	// passes the restore below.
	dst = append(dst, opBlock)
	dst = append(dst, wrapper...)
	last := len(r.recs) - 1
	for i := range r.recs {
		rec := &r.recs[i]
		if i == last {
			dst = append(dst, opEnd)
			dst = r.appendExit(dst, s)
			dst = append(dst, opEnd)
			break
		}
		switch rec.op {
		case wasm.OpReturn:
			dst = r.op(dst, opBr, rec.depth)
		case wasm.OpRefFunc:
			dst = r.op(dst, byte(rec.op), lay.funcIndex(rec.index))
		case wasm.OpCall:
			dst = r.appendFlush(dst, s)
			dst = r.op(dst, byte(rec.op), lay.funcIndex(rec.index))
			dst = r.appendReload(dst, s)
			if r.cov != nil {
				dst = r.cov.appendLast(r, dst)
			}
		case wasm.OpCallIndirect, wasm.OpCallRef:
			// The flush and reload leave the operands and results alone.
			dst = r.appendFlush(dst, s)
			dst = append(dst, code[rec.start:rec.end]...)
			dst = r.appendReload(dst, s)
			if r.cov != nil {
				dst = r.cov.appendLast(r, dst)
			}
		case wasm.OpReturnCall:
			dst = r.appendExit(dst, s)
			dst = r.op(dst, byte(rec.op), lay.funcIndex(rec.index))
		case wasm.OpReturnCallIndirect, wasm.OpReturnCallRef:
			dst = r.appendExit(dst, s)
			dst = append(dst, code[rec.start:rec.end]...)
		case wasm.OpLoop:
			if rec.wrapLoop {
				// block (results) loop block: the refill path sits after
				// the inner block, outside the original loop, so the hot
				// loop has no call in it (wazero's register allocator
				// spills around a call even on the path that skips it).
				dst = append(dst, opBlock)
				dst = append(dst, code[rec.start+1:rec.end]...)
				dst = append(dst, opLoop, blockEmpty, opBlock, blockEmpty)
			}
			dst = append(dst, code[rec.start:rec.end]...)
		case wasm.OpEnd:
			if r.cov != nil && rec.implicitElse {
				// The false edge gets its own site. An if without else
				// has as many results as parameters, so the empty else
				// passes them through.
				dst = append(dst, opElse)
				dst = r.cov.appendSite(r, dst, r.fn, offset+rec.start)
			}
			dst = append(dst, opEnd)
			if rec.closes >= 0 {
				dst = r.appendRefill(dst, r.segs[r.recs[rec.closes].seg].cost, s)
			}
		default:
			if rec.labelsAt >= 0 {
				dst = r.appendRelabeled(dst, code, rec)
				break
			}
			if k := bulkOf(rec.op); k != bulkNone {
				dst = r.appendBulkCharge(dst, k, s)
			}
			if rec.op == wasm.OpTableGrow {
				dst = r.appendTableGrow(dst, rec.index, s)
				break
			}
			if r.cov != nil {
				dst = r.cov.appendCmp(r, dst, rec.op)
			}
			dst = append(dst, code[rec.start:rec.end]...)
		}
		if rec.depthFix {
			// A caught exception skipped the restores of the frames it
			// unwound: set the counter back to this function's level.
			dst = r.op(dst, opLocalGet, s.depth)
			dst = append(dst, opI32Const, 1, opI32Sub)
			dst = r.op(dst, opGlobalSet, lay.depthGlobal)
		}
		if rec.seg >= 0 {
			if rec.wrapLoop {
				dst = r.appendLoopCheck(dst, r.segs[rec.seg].cost, s)
			} else {
				dst = r.appendCharge(dst, r.segs[rec.seg], s)
			}
		}
		if r.cov != nil {
			switch {
			case rec.seg >= 0:
				dst = r.cov.appendSite(r, dst, r.fn, offset+rec.start)
			case rec.op == wasm.OpBrIf || rec.op == wasm.OpBrOnNull || rec.op == wasm.OpBrOnNonNull:
				dst = r.cov.appendSite(r, dst, r.fn, offset+rec.start)
			}
		}
	}
	return dst
}

// appendLoopCheck charges a wrapped loop's header segment and, if the
// counter went negative, branches to the refill path (label 1: the block
// just outside the loop).
func (r *bodyRewriter) appendLoopCheck(dst []byte, cost int64, s scratch) []byte {
	dst = r.appendLoad(dst, s)
	dst = append(dst, opI64Const)
	dst = wasm.AppendS64(dst, cost)
	dst = append(dst, opI64Sub)
	dst = r.op(dst, opLocalTee, s.fuel)
	if !r.cached {
		dst = r.op(dst, opGlobalSet, r.lay.fuelGlobal)
		dst = r.op(dst, opLocalGet, s.fuel)
	}
	dst = append(dst, opI64Const, 0, opI64LtS)
	return r.op(dst, opBrIf, 1)
}

// appendRefill closes a wrapped loop (its own end is already written): a
// fall-through leaves with the loop's results, the refill path calls
// FuelFunc, gives back the header's cost (charged again on re-entry) and
// re-enters the loop.
func (r *bodyRewriter) appendRefill(dst []byte, cost int64, s scratch) []byte {
	dst = r.op(dst, opBr, 2)
	dst = append(dst, opEnd)
	dst = r.op(dst, opLocalGet, s.fuel)
	dst = r.op(dst, opCall, r.lay.fuelFunc)
	dst = append(dst, opI64Const)
	dst = wasm.AppendS64(dst, cost)
	dst = append(dst, opI64Add)
	if r.cached {
		dst = r.op(dst, opLocalSet, s.fuel)
	} else {
		dst = r.op(dst, opGlobalSet, r.lay.fuelGlobal)
	}
	dst = r.op(dst, opBr, 0)
	// The retry loop never falls through; unreachable says so to the
	// validator, which would otherwise want the results at the outer end.
	return append(dst, opEnd, opUnreachable, opEnd)
}

// appendRelabeled re-encodes a branch with its moved label indices.
func (r *bodyRewriter) appendRelabeled(dst, code []byte, rec *instrRec) []byte {
	ls := r.labels[rec.labelsAt : rec.labelsAt+rec.nLabels]
	switch rec.op {
	case wasm.OpBrTable:
		dst = append(dst, byte(rec.op))
		dst = wasm.AppendU32(dst, uint32(len(ls)-1))
		for _, l := range ls {
			dst = wasm.AppendU32(dst, l)
		}
		return dst
	case wasm.OpTryTable:
		// Re-read the clauses for their kinds and tags.
		ir := wasm.NewInstrReader(code[rec.start:rec.end], 0)
		var in wasm.Instr
		ir.Next(&in) // decoded before; a try_table alone has no end, so Err is set
		dst = append(dst, byte(rec.op))
		dst = wasm.AppendBlockType(dst, in.Block)
		dst = wasm.AppendU32(dst, uint32(len(in.Catches)))
		for k, c := range in.Catches {
			dst = append(dst, c.Kind)
			if c.Kind == wasm.CatchTag || c.Kind == wasm.CatchTagRef {
				dst = wasm.AppendU32(dst, c.Tag)
			}
			dst = wasm.AppendU32(dst, ls[k])
		}
		return dst
	}
	return r.op(dst, byte(rec.op), ls[0])
}

// op appends an instruction with one u32 immediate.
func (r *bodyRewriter) op(dst []byte, op byte, imm uint32) []byte {
	return wasm.AppendU32(append(dst, op), imm)
}

// appendExit gives the frame back (depth = value at entry) and, when
// cached, writes the fuel counter back.
func (r *bodyRewriter) appendExit(dst []byte, s scratch) []byte {
	dst = r.op(dst, opLocalGet, s.depth)
	dst = r.op(dst, opGlobalSet, r.lay.depthGlobal)
	return r.appendFlush(dst, s)
}

func (r *bodyRewriter) appendFlush(dst []byte, s scratch) []byte {
	if !r.cached {
		return dst
	}
	dst = r.op(dst, opLocalGet, s.fuel)
	return r.op(dst, opGlobalSet, r.lay.fuelGlobal)
}

func (r *bodyRewriter) appendReload(dst []byte, s scratch) []byte {
	if !r.cached {
		return dst
	}
	dst = r.op(dst, opGlobalGet, r.lay.fuelGlobal)
	return r.op(dst, opLocalSet, s.fuel)
}

// appendLoad pushes the current counter.
func (r *bodyRewriter) appendLoad(dst []byte, s scratch) []byte {
	if r.cached {
		return r.op(dst, opLocalGet, s.fuel)
	}
	return r.op(dst, opGlobalGet, r.lay.fuelGlobal)
}

// appendCharge emits the charge of one segment after its first instruction
// boundary (entry is handled by emit).
func (r *bodyRewriter) appendCharge(dst []byte, seg segment, s scratch) []byte {
	switch seg.kind {
	case chargeDecrement:
		if seg.cost == 0 {
			return dst
		}
		// fuel -= cost
		dst = r.appendLoad(dst, s)
		dst = append(dst, opI64Const)
		dst = wasm.AppendS64(dst, seg.cost)
		dst = append(dst, opI64Sub)
		if r.cached {
			return r.op(dst, opLocalSet, s.fuel)
		}
		return r.op(dst, opGlobalSet, r.lay.fuelGlobal)
	case chargeCheck:
		dst = r.appendLoad(dst, s)
		return r.appendSubCheck(dst, seg.cost, s)
	}
	return dst
}

// appendSubCheck subtracts cost from the counter on the stack, stores the
// result and calls FuelFunc if it is negative.
func (r *bodyRewriter) appendSubCheck(dst []byte, cost int64, s scratch) []byte {
	dst = append(dst, opI64Const)
	dst = wasm.AppendS64(dst, cost)
	dst = append(dst, opI64Sub)
	return r.appendStoreAndCheck(dst, s)
}

// appendStoreAndCheck stores the i64 on the stack as the new fuel counter
// and calls FuelFunc if it is negative.
func (r *bodyRewriter) appendStoreAndCheck(dst []byte, s scratch) []byte {
	dst = r.op(dst, opLocalTee, s.fuel)
	if !r.cached {
		dst = r.op(dst, opGlobalSet, r.lay.fuelGlobal)
		dst = r.op(dst, opLocalGet, s.fuel)
	}
	dst = append(dst, opI64Const, 0, opI64LtS, opIf, blockEmpty)
	dst = r.op(dst, opLocalGet, s.fuel)
	dst = r.op(dst, opCall, r.lay.fuelFunc)
	if r.cached {
		dst = r.op(dst, opLocalSet, s.fuel)
	} else {
		dst = r.op(dst, opGlobalSet, r.lay.fuelGlobal)
	}
	return append(dst, opEnd)
}

// appendBulkCharge charges the dynamic part of a bulk operation, whose i32
// length/delta operand is on top of the stack, and checks the counter before
// the operation runs.
func (r *bodyRewriter) appendBulkCharge(dst []byte, k bulkKind, s scratch) []byte {
	dst = r.op(dst, opLocalTee, s.n)
	dst = r.appendLoad(dst, s)
	dst = r.op(dst, opLocalGet, s.n)
	dst = append(dst, opI64ExtendI32U)
	switch k {
	case bulkBytes:
		dst = append(dst, opI64Const, memoryByteShift, opI64ShrU)
	case bulkPages:
		dst = append(dst, opI64Const, memoryPageShift, opI64Shl)
	}
	dst = append(dst, opI64Sub)
	return r.appendStoreAndCheck(dst, s)
}

// appendTableGrow emits table.grow of table x, its operands (init, n) on
// the stack and n also in $n. A grow that would take the table past
// r.maxTable elements, or the module's tables and linear memory together
// past r.budget bytes, grows by 0 instead, yields -1 (the spec's failure
// value) and sets $denied; one that succeeds adds its elements' bytes to
// $tables:
//
//	table.size x; i64.extend_i32_u; local.get $n; i64.extend_i32_u; i64.add
//	i64.const max; i64.le_u                          ;; fits the table bound
//	global.get $tables; global.get $memory; i64.add
//	local.get $n; i64.extend_i32_u; i64.const 3; i64.shl; i64.add
//	i64.const budget; i64.le_u; i32.and              ;; and the budget
//	if; table.size x; local.set $n                   ;; $n = size before
//	else; i32.const -1; local.set $n; i32.const 1; global.set $denied; end
//	i32.const 0; local.get $n; i32.const -1; i32.ne; select   ;; n if ok, else 0
//	table.grow x
//	i32.const -1; local.get $n; i32.const -1; i32.ne; select  ;; result if ok, else -1
//	global.get $tables; table.size x; i64.extend_i32_u        ;; size after
//	local.get $n; i64.extend_i32_u; table.size x; i64.extend_i32_u
//	local.get $n; i32.const -1; i32.ne; select; i64.sub       ;; after - before (0 if refused)
//	i64.const 3; i64.shl; i64.add; global.set $tables
//
// The size before is below the table bound, so it is never -1. A grow the
// engine itself fails (past the table's declared maximum) adds nothing.
// The if adds one level of nesting to the output at this site only; it
// holds no branch, so label depths around it are unchanged.
func (r *bodyRewriter) appendTableGrow(dst []byte, x uint32, s scratch) []byte {
	r.grows = true
	size := func(dst []byte) []byte {
		return append(r.op(append(dst, opPrefixFC), subTableSize, x), opI64ExtendI32U)
	}
	nBytes := func(dst []byte) []byte {
		dst = r.op(dst, opLocalGet, s.n)
		return append(dst, opI64ExtendI32U, opI64Const, tableElemShift, opI64Shl)
	}
	okN := func(dst []byte) []byte { // $n != -1
		dst = r.op(dst, opLocalGet, s.n)
		return append(dst, opI32Const, 0x7f, opI32Ne)
	}
	dst = size(dst)
	dst = r.op(dst, opLocalGet, s.n)
	dst = append(dst, opI64ExtendI32U, opI64Add, opI64Const)
	dst = wasm.AppendS64(dst, int64(r.maxTable))
	dst = append(dst, opI64LeU)
	dst = r.op(dst, opGlobalGet, r.lay.tablesGlobal)
	dst = r.op(dst, opGlobalGet, r.lay.memoryGlobal)
	dst = append(dst, opI64Add)
	dst = nBytes(dst)
	dst = append(dst, opI64Add, opI64Const)
	dst = wasm.AppendS64(dst, int64(r.budget))
	dst = append(dst, opI64LeU, opI32And)
	dst = append(dst, opIf, blockEmpty)
	dst = r.op(append(dst, opPrefixFC), subTableSize, x)
	dst = r.op(dst, opLocalSet, s.n)
	dst = append(dst, opElse, opI32Const, 0x7f)
	dst = r.op(dst, opLocalSet, s.n)
	dst = append(dst, opI32Const, 1)
	dst = r.op(dst, opGlobalSet, r.lay.deniedGlobal)
	dst = append(dst, opEnd, opI32Const, 0)
	dst = okN(dst)
	dst = append(dst, opSelect)
	dst = r.op(append(dst, opPrefixFC), subTableGrow, x)
	dst = append(dst, opI32Const, 0x7f)
	dst = okN(dst)
	dst = append(dst, opSelect)
	dst = r.op(dst, opGlobalGet, r.lay.tablesGlobal)
	dst = size(dst)
	dst = r.op(dst, opLocalGet, s.n)
	dst = append(dst, opI64ExtendI32U)
	dst = size(dst)
	dst = okN(dst)
	dst = append(dst, opSelect, opI64Sub, opI64Const, tableElemShift, opI64Shl, opI64Add)
	return r.op(dst, opGlobalSet, r.lay.tablesGlobal)
}

// tableElemShift: a table element costs the host 1<<3 bytes (a pointer).
const tableElemShift = 3

// Opcode bytes the rewriter emits.
const (
	opUnreachable   = 0x00
	opBlock         = 0x02
	opLoop          = 0x03
	opIf            = 0x04
	opElse          = 0x05
	opEnd           = 0x0b
	opBr            = 0x0c
	opBrIf          = 0x0d
	opCall          = 0x10
	opSelect        = 0x1b
	opLocalGet      = 0x20
	opLocalSet      = 0x21
	opLocalTee      = 0x22
	opGlobalGet     = 0x23
	opGlobalSet     = 0x24
	opI32Const      = 0x41
	opI64Const      = 0x42
	opI32Eqz        = 0x45
	opI32Ne         = 0x47
	opI64LtS        = 0x53
	opI64LeU        = 0x58
	opI32Add        = 0x6a
	opI32Sub        = 0x6b
	opI32And        = 0x71
	opI64Add        = 0x7c
	opI64And        = 0x83
	opI64Or         = 0x84
	opI64Sub        = 0x7d
	opI64Shl        = 0x86
	opI64ShrU       = 0x88
	opI64ExtendI32U = 0xad
	opPrefixFC      = 0xfc
	subTableGrow    = 0x0f // after opPrefixFC
	subTableSize    = 0x10
	blockEmpty      = 0x40
)

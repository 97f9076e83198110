package wasm

// BodyCost counts, for one function body, the quantities that make a
// compiler's time and memory grow: locals, instructions, loops, control
// nesting and br_table widths. It is computed on bytes, with no allocation
// proportional to any declared count, so it is safe to call on hostile
// modules before a compiler sees them (see Budget).
type BodyCost struct {
	// Locals is the number of parameters plus declared locals.
	Locals uint64
	// Instrs is the number of instructions, including the final end.
	Instrs uint64
	// Blocks is the number of block, loop, if, try and try_table
	// instructions; Loops the number of loops among them.
	Blocks, Loops uint64
	// MaxDepth is the deepest control nesting; DepthSum the sum, over
	// every block opened, of the nesting depth it opens at (n nested
	// blocks: n(n-1)/2).
	MaxDepth uint64
	DepthSum uint64
	// BrTableTargets is the sum of every br_table's labels (with the
	// default); MaxBrTable the widest one and its offset in the module;
	// BrTableSq the sum of each width squared.
	BrTableTargets uint64
	MaxBrTable     uint64
	MaxBrTableAt   int
	BrTableSq      uint64
	// StateWrites is the number of instructions that change what an
	// instance holds outside its linear memory and globals: table.set,
	// table.grow, table.fill, table.copy, table.init, elem.drop and
	// data.drop. A body without any leaves tables and segments as
	// instantiation made them.
	StateWrites uint64
}

// Cost returns the BodyCost of defined function i (0 is the first function
// of the code section, not of the function index space). Its error is the
// body's decode error, which Decode has already reported for a decoded
// module.
func (m *Module) Cost(i int) (BodyCost, error) {
	var c BodyCost
	f := &m.Code[i]
	if i < len(m.Functions) {
		if ti := m.Functions[i]; int(ti) < len(m.Types) {
			c.Locals = uint64(len(m.Types[ti].Params))
		}
	}
	for _, l := range f.Locals {
		c.Locals += uint64(l.Count)
	}
	ir := f.Body.Instrs()
	var in Instr
	for ir.Next(&in) {
		c.Instrs++
		switch in.Op {
		case OpLoop:
			c.Loops++
			fallthrough
		case OpBlock, OpIf, OpTry, OpTryTable:
			c.Blocks++
			// Depth is already that of the block's inside.
			d := uint64(ir.Depth())
			if d > c.MaxDepth {
				c.MaxDepth = d
			}
			c.DepthSum += d - 1
		case OpBrTable:
			w := uint64(len(in.Targets)) + 1
			c.BrTableTargets += w
			c.BrTableSq += w * w
			if w > c.MaxBrTable {
				c.MaxBrTable, c.MaxBrTableAt = w, f.Body.Offset+in.Start
			}
		case OpTableSet, OpTableGrow, OpTableFill, OpTableCopy, OpTableInit, OpElemDrop, OpDataDrop:
			c.StateWrites++
		}
	}
	return c, ir.Err()
}

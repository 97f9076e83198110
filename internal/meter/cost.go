package meter

import "github.com/wasmward/wasmward/internal/wasm"

// The cost model (docs/metering.md explains the choices).
const (
	// costInstr is what every instruction of the original module costs,
	// structural ones (block, loop, if, else, end, br...) included.
	costInstr = 1
	// costCallExtra is added for each call, call_indirect, call_ref and
	// their tail-call forms: a call sets up a frame.
	costCallExtra = 1
	// memoryByteShift: bulk memory operations (memory.fill, memory.copy,
	// memory.init) cost 1 + n>>memoryByteShift, n the length in bytes.
	memoryByteShift = 4
	// memoryPageShift: memory.grow costs 1 + delta<<memoryPageShift
	// (a 64 KiB page costs what filling it with memory.fill costs).
	memoryPageShift = 16 - memoryByteShift
	// Table operations (table.fill, table.copy, table.init, table.grow)
	// cost 1 + n, n the number of elements.
)

// staticCost is the part of an instruction's cost known before it runs.
func staticCost(op wasm.Opcode) int64 {
	switch op {
	case wasm.OpCall, wasm.OpCallIndirect, wasm.OpCallRef,
		wasm.OpReturnCall, wasm.OpReturnCallIndirect, wasm.OpReturnCallRef:
		return costInstr + costCallExtra
	}
	return costInstr
}

// bulkKind says how an instruction's dynamic cost is computed from the i32
// operand on top of the stack.
type bulkKind uint8

const (
	bulkNone  bulkKind = iota
	bulkBytes          // n>>memoryByteShift
	bulkPages          // n<<memoryPageShift
	bulkElems          // n
)

func bulkOf(op wasm.Opcode) bulkKind {
	switch op {
	case wasm.OpMemoryFill, wasm.OpMemoryCopy, wasm.OpMemoryInit:
		return bulkBytes
	case wasm.OpMemoryGrow:
		return bulkPages
	case wasm.OpTableFill, wasm.OpTableCopy, wasm.OpTableInit, wasm.OpTableGrow:
		return bulkElems
	}
	return bulkNone
}

// endsFlow reports whether control never falls through op to the next
// instruction, so the code after it up to the enclosing end/else is dead.
func endsFlow(op wasm.Opcode) bool {
	switch op {
	case wasm.OpUnreachable, wasm.OpBr, wasm.OpBrTable, wasm.OpReturn,
		wasm.OpThrow, wasm.OpThrowRef, wasm.OpRethrow,
		wasm.OpReturnCall, wasm.OpReturnCallIndirect, wasm.OpReturnCallRef:
		return true
	}
	return false
}

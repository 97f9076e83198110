package sandbox

import (
	"fmt"
	"time"

	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
)

// Structural limits Compile enforces on every module, before the meter or
// wazero sees it. They are the implementation limits of the WebAssembly
// JavaScript API (which every browser enforces, so toolchains stay within
// them), except maxBrTable, which is V8's. See docs/sandbox.md, "Compile
// budget".
const (
	maxTypes        = 1_000_000
	maxFuncs        = 1_000_000 // imported + defined
	maxImports      = 100_000
	maxExports      = 100_000
	maxGlobals      = 1_000_000
	maxTags         = 1_000_000
	maxTables       = 100_000
	maxMemories     = 100
	maxDataSegments = 100_000
	maxElemSegments = 100_000    // like data segments (the decoder keeps a record per segment)
	maxElemEntries  = 10_000_000 // per element segment
	maxParams       = 1_000
	maxResults      = 1_000
	maxFuncLocals   = 50_000 // parameters + declared locals
	maxBodyBytes    = 7_654_321
	// maxSections bounds the sections of a module (custom ones included;
	// real modules have tens). Not a JavaScript API limit: the decoder
	// keeps a ~150-byte record per section, so a file of 3-byte empty
	// custom sections would cost the host 50 times its size.
	maxSections = 100_000
	// maxBrTable is the labels of one br_table, default included. V8
	// allows 65520; wazero's compiler is quadratic in a br_table's width
	// (65520 labels: ~3 s of CPU, 180 MB), so the bound is half that.
	maxBrTable = 32_768
)

// Compile cost model: what wazero's optimizing compiler spends, per unit,
// on an instrumented function (CPU nanoseconds and bytes allocated,
// measured on synthetic shapes with BenchmarkCompileCost and on the
// costliest functions of real modules, on the 2-core development box; see
// docs/sandbox.md). The super-linear terms are products: a loop's fuel
// check calls the host, so every value live across it is spilled and
// passed as a block parameter at each loop (loops × locals), and the
// compiler's loop analysis visits every block for every loop (loops ×
// blocks); on real code (branches between blocks) the compiler's time
// grows with the square of the blocks and its memory by ~45 KB per block
// (the costliest functions of a Rust and an Emscripten module took 13 s
// and 164 s of CPU, 0.7 and 1.9 GB; wasmward's own wasip1 build's 1.2 s
// and 237 MB). Nesting costs the sum of the depths (quadratic in depth) and a
// br_table the square of its width.
const (
	nsPerInstr       = 150
	nsPerLocal       = 100
	nsPerLoopBlock   = 200
	nsPerBlockSq     = 60
	nsPerLoopLocal   = 2700
	nsPerDepth       = 12
	nsPerBrTableSq   = 1
	bytesPerInstr    = 90
	bytesPerLocal    = 28
	bytesPerLoopLoc  = 190
	bytesPerLoopBlk  = 12
	bytesPerBlock    = 48 << 10
	bytesPerBrTarget = 2800
)

// Compile budgets: the estimated compile time of one function and of the
// whole module, and the estimated memory of compiling one function.
const (
	maxFuncCompileTime   = 10 * time.Second
	maxModuleCompileTime = 30 * time.Second
	minCompileMemory     = 512 << 20
)

// compileMemoryBudget is the most host memory the compiler may be expected
// to use for one function under a per-instance memory cap of memLimit: the
// cap, at least 512 MiB (a policy that allows a guest a large memory runs
// on a host sized for it; a small cap still compiles ordinary modules).
func compileMemoryBudget(memLimit uint64) uint64 {
	return max(memLimit, minCompileMemory)
}

// compileEstimate is the model's estimate for one function body.
func compileEstimate(c wasm.BodyCost) (time.Duration, uint64) {
	// Each product is at most 2^32 × 2^32 / 2 (counts are bounded by the
	// body's bytes, and those by maxBodyBytes before this is called), so
	// saturate rather than overflow.
	// Loops × blocks and blocks² (blocks × 45 KB for memory) measure the
	// same work on different shapes (synthetic loops, real code): the
	// larger counts, not both.
	ns := sat(c.Instrs*nsPerInstr, c.Locals*nsPerLocal, max(mulSat(c.Loops*c.Blocks, nsPerLoopBlock), mulSat(c.Blocks*c.Blocks, nsPerBlockSq)),
		mulSat(c.Loops*c.Locals, nsPerLoopLocal), mulSat(c.DepthSum, nsPerDepth), mulSat(c.BrTableSq, nsPerBrTableSq))
	bytes := sat(c.Instrs*bytesPerInstr, c.Locals*bytesPerLocal, mulSat(c.Loops*c.Locals, bytesPerLoopLoc),
		max(mulSat(c.Loops*c.Blocks, bytesPerLoopBlk), c.Blocks*bytesPerBlock), c.BrTableTargets*bytesPerBrTarget)
	return time.Duration(min(ns, 1<<62)), bytes
}

func mulSat(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}

func sat(xs ...uint64) uint64 {
	var s uint64
	for _, x := range xs {
		if s+x < s {
			return ^uint64(0)
		}
		s += x
	}
	return s
}

// precheckCounts refuses, before Decode allocates anything, a module whose
// section headers declare more sections, or more entries in a section,
// than the structural limits allow: Decode checks each count against the
// bytes left, but keeps a record of tens of bytes per entry of a few bytes,
// so a count the bytes allow could still cost tens of times the module's
// size. It reads section headers and the first LEB128 of each payload
// only; anything malformed is left for Decode to report.
func precheckCounts(bin []byte) error {
	limits := map[wasm.SectionID]struct {
		what  string
		limit uint32
	}{
		wasm.SectionType:     {"types", maxTypes},
		wasm.SectionImport:   {"imports", maxImports},
		wasm.SectionFunction: {"functions", maxFuncs},
		wasm.SectionTable:    {"tables", maxTables},
		wasm.SectionMemory:   {"memories", maxMemories},
		wasm.SectionTag:      {"tags", maxTags},
		wasm.SectionGlobal:   {"globals", maxGlobals},
		wasm.SectionExport:   {"exports", maxExports},
		wasm.SectionElement:  {"element segments", maxElemSegments},
		wasm.SectionCode:     {"function bodies", maxFuncs},
		wasm.SectionData:     {"data segments", maxDataSegments},
	}
	if wasm.KindOf(bin) != wasm.KindModule {
		return nil
	}
	pos, n := wasm.HeaderSize, 0
	for pos < len(bin) {
		at := pos
		id := wasm.SectionID(bin[pos])
		size, k, err := wasm.ReadU32(bin[pos+1:])
		if err != nil || uint64(pos+1+k)+uint64(size) > uint64(len(bin)) {
			return nil
		}
		pos += 1 + k
		payload := bin[pos : pos+int(size)]
		pos += int(size)
		if n++; n > maxSections {
			return refuse(KindInvalidModule, "offset %#x: more than %d sections", at, maxSections)
		}
		l, ok := limits[id]
		if !ok {
			continue
		}
		if c, _, err := wasm.ReadU32(payload); err == nil && c > l.limit {
			return refuse(KindInvalidModule, "%s section at offset %#x declares %d %s, above the limit of %d", id, at, c, l.what, l.limit)
		}
	}
	return nil
}

// checkBudget refuses (invalid_module) a module whose counts exceed the
// structural limits above, or whose estimated compile time or memory
// exceeds the compile budget derived from p. It runs on the decoded module
// and allocates nothing in proportion to any count the module declares.
// Walking every body anyway, it also counts the instructions that change
// tables or segments (wasm.BodyCost.StateWrites), which instance reuse
// needs to know (reuse.go).
func checkBudget(mod *wasm.Module, p policy.Policy) (stateWrites uint64, err error) {
	counts := []struct {
		what  string
		n     int
		limit int
	}{
		{"types", len(mod.Types), maxTypes},
		{"imports", len(mod.Imports), maxImports},
		{"functions", mod.ImportCount(wasm.ExternFunc) + len(mod.Functions), maxFuncs},
		{"exports", len(mod.Exports), maxExports},
		{"globals", mod.ImportCount(wasm.ExternGlobal) + len(mod.Globals), maxGlobals},
		{"tags", mod.ImportCount(wasm.ExternTag) + len(mod.Tags), maxTags},
		{"tables", mod.ImportCount(wasm.ExternTable) + len(mod.Tables), maxTables},
		{"memories", mod.ImportCount(wasm.ExternMemory) + len(mod.Memories), maxMemories},
		{"element segments", len(mod.Elements), maxElemSegments},
		{"data segments", len(mod.Data), maxDataSegments},
	}
	for _, c := range counts {
		if c.n > c.limit {
			return 0, refuse(KindInvalidModule, "the module has %d %s, above the limit of %d", c.n, c.what, c.limit)
		}
	}
	for i, ft := range mod.Types {
		if len(ft.Params) > maxParams {
			return 0, refuse(KindInvalidModule, "type %d has %d parameters, above the limit of %d", i, len(ft.Params), maxParams)
		}
		if len(ft.Results) > maxResults {
			return 0, refuse(KindInvalidModule, "type %d has %d results, above the limit of %d", i, len(ft.Results), maxResults)
		}
	}
	for i := range mod.Elements {
		e := &mod.Elements[i]
		if n := len(e.Funcs) + len(e.Exprs); n > maxElemEntries {
			return 0, refuse(KindInvalidModule, "element segment %d has %d entries, above the limit of %d", i, n, maxElemEntries)
		}
	}
	memBudget := compileMemoryBudget(uint64(p.Limits.Memory))
	imported := mod.ImportCount(wasm.ExternFunc)
	var total time.Duration
	costliest, costliestAt := time.Duration(0), 0
	for i := range mod.Code {
		fn := imported + i // index in the function index space
		f := &mod.Code[i]
		if n := len(f.Raw); n > maxBodyBytes {
			return 0, refuse(KindInvalidModule, "function %d: body of %d bytes, above the limit of %d", fn, n, maxBodyBytes)
		}
		c, err := mod.Cost(i)
		if err != nil {
			return 0, refuse(KindInvalidModule, "%v", err)
		}
		stateWrites += c.StateWrites
		if c.Locals > maxFuncLocals {
			return 0, refuse(KindInvalidModule, "function %d: %d locals (parameters included), above the limit of %d", fn, c.Locals, maxFuncLocals)
		}
		if c.MaxBrTable > maxBrTable {
			return 0, refuse(KindInvalidModule, "function %d: br_table at offset %#x has %d labels, above the limit of %d",
				fn, c.MaxBrTableAt, c.MaxBrTable, maxBrTable)
		}
		t, mem := compileEstimate(c)
		if mem > memBudget {
			return 0, refuse(KindInvalidModule, "function %d: estimated compile memory %s (%s), above the budget of %s derived from the %s memory cap",
				fn, mib(mem), describeCost(c), mib(memBudget), mib(uint64(p.Limits.Memory)))
		}
		if t > maxFuncCompileTime {
			return 0, refuse(KindInvalidModule, "function %d: estimated compile time %s (%s), above the budget of %s per function",
				fn, t.Round(time.Millisecond), describeCost(c), maxFuncCompileTime)
		}
		total += t
		if t > costliest {
			costliest, costliestAt = t, fn
		}
	}
	if total > maxModuleCompileTime {
		return 0, refuse(KindInvalidModule, "estimated compile time %s for %d functions, above the budget of %s per module (the costliest is function %d, %s)",
			total.Round(time.Millisecond), len(mod.Code), maxModuleCompileTime, costliestAt, costliest.Round(time.Millisecond))
	}
	return stateWrites, nil
}

// describeCost names the counts behind an estimate.
func describeCost(c wasm.BodyCost) string {
	return fmt.Sprintf("%d instructions, %d locals, %d loops, %d blocks, nesting %d, widest br_table %d",
		c.Instrs, c.Locals, c.Loops, c.Blocks, c.MaxDepth, c.MaxBrTable)
}

// mib formats a byte count in MiB (rounded up, so nothing above a budget
// prints as equal to it).
func mib(b uint64) string {
	return fmt.Sprintf("%d MiB", b>>20+min(b&(1<<20-1), 1))
}

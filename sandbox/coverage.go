package sandbox

import (
	"errors"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmward/wasmward/internal/meter"
	"github.com/wasmward/wasmward/internal/safetext"
)

// CoverageSite is a basic-block entry the coverage instrumentation counts
// (Config.WithCoverage): where, in the original module, control arrives by
// one kind of edge.
type CoverageSite struct {
	// Func is the function index in the original module.
	Func uint32 `json:"func"`
	// Offset is the byte offset in the module of the instruction the
	// block follows (the body's start for a function's entry).
	Offset int `json:"offset"`
	// Counter is the index in Coverage.Counters that counts the site.
	Counter int `json:"counter"`
}

// Coverage receives what one run reached, when Invocation.Coverage points
// to it and the module was compiled by a Runtime with coverage on. Run
// reuses the slices' storage.
type Coverage struct {
	// Counters holds, per counter, how often its sites were entered,
	// modulo 2^16. Its length is Module.CounterCount.
	Counters []uint16
	// Last is the site (index in Module.CoverageSites) entered last in the
	// frame that was running when the run ended, -1 if none: for a trap or
	// a violation, the basic block where it happened.
	Last int
	// Stack is the trap's call stack as wazero reports it, innermost frame
	// first (function names, or $index); empty for other outcomes.
	Stack []string
	// Cmps holds the operands of the i32/i64 eq/ne comparisons the run
	// made that differed, one per comparison slot (the comparison that
	// wrote it last), in slot order: what the input was compared with
	// (see meter.CmpGlobals). A fuzzer puts B where it finds A in the
	// input (or the reverse) to pass the comparison.
	Cmps []Cmp
}

// Cmp is the two operands of a comparison and their width in bytes (4 for
// i32, 8 for i64).
type Cmp struct {
	A, B uint64
	Size uint8
}

// CoverageSites returns the coverage sites of a module compiled with
// coverage, in id order (nil otherwise). The caller must not modify it.
func (m *Module) CoverageSites() []CoverageSite { return m.sites }

// CounterCount returns the number of coverage counters of the module: the
// length of Coverage.Counters after a run.
func (m *Module) CounterCount() int { return m.counters }

func (m *Module) setCoverage(cmap *meter.Map) {
	m.sites = make([]CoverageSite, len(cmap.Sites))
	n := 0
	for i, s := range cmap.Sites {
		m.sites[i] = CoverageSite{Func: s.Func, Offset: s.Offset, Counter: s.Counter}
		n = max(n, s.Counter+1)
	}
	m.counters = n
	m.counterNames = make([]string, meter.CounterGlobals(n))
	for g := range m.counterNames {
		m.counterNames[g] = meter.CounterGlobal(g)
	}
	m.cmp32 = cmap.Cmp32
	m.cmpNames = make([][2]string, cmap.Cmp32+cmap.Cmp64)
	for k := range m.cmpNames {
		m.cmpNames[k][0], m.cmpNames[k][1] = meter.CmpGlobals(k)
	}
}

// readCoverage copies the instance's counters and last site into c.
func (m *Module) readCoverage(mod api.Module, err error, c *Coverage) {
	c.Counters = c.Counters[:0]
	for _, name := range m.counterNames {
		var v uint64
		if g := mod.ExportedGlobal(name); g != nil {
			v = g.Get()
		}
		for lane := 0; lane < 4 && len(c.Counters) < m.counters; lane++ {
			c.Counters = append(c.Counters, uint16(v>>(16*lane)))
		}
	}
	c.Cmps = c.Cmps[:0]
	for k, names := range m.cmpNames {
		ga, gb := mod.ExportedGlobal(names[0]), mod.ExportedGlobal(names[1])
		if ga == nil || gb == nil {
			continue
		}
		cmp := Cmp{A: ga.Get(), B: gb.Get(), Size: 8}
		if k < m.cmp32 {
			cmp.A, cmp.B, cmp.Size = uint64(uint32(cmp.A)), uint64(uint32(cmp.B)), 4
		}
		if cmp.A != cmp.B {
			c.Cmps = append(c.Cmps, cmp)
		}
	}
	c.Last = -1
	if g := mod.ExportedGlobal(meter.LastSiteGlobal); g != nil {
		c.Last = int(int32(g.Get()))
	}
	c.Stack = c.Stack[:0]
	var exit *sys.ExitError
	if err == nil || errors.As(err, &exit) {
		return
	}
	// wazero's trap message: "wasm error: ...\nwasm stack trace:\n\tname(types)\n\t\t..."
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "\t\t") {
			continue
		}
		f := strings.TrimPrefix(l, "\t")
		if i := strings.IndexByte(f, '('); i > 0 {
			f = f[:i]
		}
		c.Stack = append(c.Stack, safetext.Escape(f))
	}
}

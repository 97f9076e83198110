package meter

// The spec-suite differential test: every script of the WebAssembly spec test
// suite that wazero ships (as wast2json output) is run twice, once on the
// original modules and once on the instrumented ones, each in its own wazero
// runtime. Every command must give the same outcome in both, and the
// instrumented run must also meet the script's own expectation.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/safetext"
)

// specSuite is one directory of wast2json scripts and the features it needs.
type specSuite struct {
	dir      string
	features api.CoreFeatures
	only     []string // script names to run; nil: all
}

// specSuites lists the suites wazero itself runs, with the same features.
var specSuites = []specSuite{
	{dir: "v1", features: api.CoreFeaturesV1},
	{dir: "v2", features: api.CoreFeaturesV2},
	{dir: "tail-call", features: api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall},
	{dir: "extended-const", features: api.CoreFeaturesV2 | experimental.CoreFeaturesExtendedConst},
	{dir: "threads", features: api.CoreFeaturesV2 | experimental.CoreFeaturesThreads},
	{dir: "typed-function-references", features: api.CoreFeaturesV2 | experimental.CoreFeaturesTypedFunctionReferences | experimental.CoreFeaturesTailCall},
	{
		dir:      "exception-handling",
		features: api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling | experimental.CoreFeaturesTailCall | experimental.CoreFeaturesTypedFunctionReferences,
		// wazero runs only these scripts of this suite.
		only: []string{"throw", "throw_ref", "tag", "try_table"},
	},
}

// specSkips lists scripts skipped entirely, with the reason. Keys are
// "suite/script".
var specSkips = map[string]string{}

// specCommandSkips lists single commands skipped, with the reason. Keys are
// "suite/script.wast:line".
var specCommandSkips = map[string]string{
	// wazero 1.12 types a ref.null in a table initializer as if it were
	// ref.func 0 (validateConstExpression reads lastRefFuncIdx, 0 by
	// default), so the invalid (ref $t)/(ref func) table initialized with
	// ref.null func is accepted once the module has a function 0 with a
	// suitable type, which the imports added by instrumentation provide.
	// Nothing of the module's own code is involved.
	"typed-function-references/table.wast:57": "wazero validates ref.null in table initializers as ref.func 0",
	"typed-function-references/table.wast:61": "wazero validates ref.null in table initializers as ref.func 0",
}

// specStackDepth is the depth bound of instrumented spec modules: above the
// deepest legitimate recursion in the suite, below the point where wazero's
// own stack would overflow first for most frames.
const specStackDepth = 20000

// specFuelSlice is what the test host's fuel function hands out per call: small,
// so that the refill path runs often, and enough in total for every script.
const specFuelSlice = 997

var (
	wazeroDirOnce sync.Once
	wazeroDir     string
	wazeroDirErr  error
)

// wazeroSpecDir returns the directory of wazero's spec test data in the module
// cache.
func wazeroSpecDir(t testing.TB) string {
	t.Helper()
	wazeroDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
		if err != nil {
			wazeroDirErr = fmt.Errorf("locate wazero module: %w", err)
			return
		}
		wazeroDir = filepath.Join(strings.TrimSpace(string(out)), "internal", "integration_test", "spectest")
	})
	if wazeroDirErr != nil {
		t.Fatal(wazeroDirErr)
	}
	return wazeroDir
}

type specScript struct {
	SourceFile string        `json:"source_filename"`
	Commands   []specCommand `json:"commands"`
}

type specCommand struct {
	Type       string      `json:"type"`
	Line       int         `json:"line"`
	Name       string      `json:"name"`
	Filename   string      `json:"filename"`
	As         string      `json:"as"`
	Action     specAction  `json:"action"`
	Expected   []specValue `json:"expected"`
	ModuleType string      `json:"module_type"`
	Text       string      `json:"text"`
}

type specAction struct {
	Type   string      `json:"type"`
	Module string      `json:"module"`
	Field  string      `json:"field"`
	Args   []specValue `json:"args"`
}

type specValue struct {
	Type     string `json:"type"`
	LaneType string `json:"lane_type"`
	Value    any    `json:"value"`
}

// specStats counts what the differential test checked, for the log and to
// prove that it checked something.
type specStats struct {
	mu      sync.Mutex
	checked map[string]int
	skipped map[string]int
}

func (s *specStats) add(kind string, skipped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if skipped {
		s.skipped[kind]++
	} else {
		s.checked[kind]++
	}
}

func (s *specStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := func(m map[string]int) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, m[k])
		}
		return b.String()
	}
	return "checked:" + f(s.checked) + "\nskipped:" + f(s.skipped)
}

func TestSpecSuiteDifferentialCompiler(t *testing.T) {
	runSpecSuites(t, wazero.NewRuntimeConfigCompiler)
}

// TestSpecSuiteDifferentialCoverage runs the same differential on modules
// instrumented with coverage counters (InstrumentCoverage): the sites and
// the else branches they add must not change any result or trap.
func TestSpecSuiteDifferentialCoverage(t *testing.T) {
	runSpecSuitesMode(t, wazero.NewRuntimeConfigCompiler, true)
}

func TestSpecSuiteDifferentialInterpreter(t *testing.T) {
	if testing.Short() {
		t.Skip("the compiler-engine run covers the same scripts; -short skips the interpreter run")
	}
	runSpecSuites(t, wazero.NewRuntimeConfigInterpreter)
}

func runSpecSuites(t *testing.T, newConfig func() wazero.RuntimeConfig) {
	runSpecSuitesMode(t, newConfig, false)
}

func runSpecSuitesMode(t *testing.T, newConfig func() wazero.RuntimeConfig, coverage bool) {
	root := wazeroSpecDir(t)
	spectestWasm := fixture.Bytes(t, "meter_spectest")
	stats := &specStats{checked: map[string]int{}, skipped: map[string]int{}}
	for _, suite := range specSuites {
		dir := filepath.Join(root, suite.dir, "testdata")
		scripts, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(scripts) == 0 {
			t.Fatalf("suite %s: no scripts in %s (%v)", suite.dir, dir, err)
		}
		for _, script := range scripts {
			name := strings.TrimSuffix(filepath.Base(script), ".json")
			if suite.only != nil && !slices.Contains(suite.only, name) {
				continue
			}
			suite, script := suite, script
			t.Run(suite.dir+"/"+name, func(t *testing.T) {
				if why, ok := specSkips[suite.dir+"/"+name]; ok {
					stats.add("script", true)
					t.Skip(why)
				}
				t.Parallel()
				cfg := newConfig().WithCoreFeatures(suite.features)
				runSpecScript(t, suite.dir, dir, script, cfg, spectestWasm, stats, coverage)
			})
		}
	}
	t.Cleanup(func() { t.Logf("spec differential %s", stats) })
}

// specHost is the test's "wasmward" host module: ample fuel in small slices,
// and a stack limit that stops the guest.
type specHost struct {
	coverage  bool // instrument with InstrumentCoverage
	mu        sync.Mutex
	refills   int
	handedOut int64
}

var errSpecStackLimit = errors.New("call depth limit reached")

func (h *specHost) instantiate(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, counter int64) int64 {
		if counter >= 0 {
			panic(fmt.Sprintf("fuel function called with non-negative counter %d", counter))
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.refills++
		// Pay the debt, then hand out one slice.
		h.handedOut += specFuelSlice - counter
		return specFuelSlice
	}).Export(FuelFunc).
		NewFunctionBuilder().WithFunc(func(ctx context.Context) {
		panic(errSpecStackLimit)
	}).Export(StackFunc).
		Instantiate(ctx)
	return err
}

// specRun is one side (original or instrumented) of a script run.
type specRun struct {
	r       wazero.Runtime
	named   map[string]api.Module
	last    api.Module
	all     []api.Module
	metered bool
	host    *specHost
}

func newSpecRun(ctx context.Context, t *testing.T, cfg wazero.RuntimeConfig, spectestWasm []byte, host *specHost) *specRun {
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	if _, err := r.InstantiateWithConfig(ctx, spectestWasm, wazero.NewModuleConfig().WithName("spectest")); err != nil {
		t.Fatalf("instantiate spectest module: %v", err)
	}
	run := &specRun{r: r, named: map[string]api.Module{}}
	if host != nil {
		if err := host.instantiate(ctx, r); err != nil {
			t.Fatalf("instantiate wasmward host module: %v", err)
		}
		run.metered, run.host = true, host
	}
	return run
}

// instantiate compiles and instantiates bin (instrumenting it first on the
// metered side) under name. It returns the instrumentation error separately
// so that callers can tell which step refused the module.
func (s *specRun) instantiate(ctx context.Context, bin []byte, name string) (api.Module, error, error) {
	if s.metered {
		out, err := instrumentNoPanic(bin, Options{StackDepth: specStackDepth}, s.host.coverage)
		if err != nil {
			return nil, err, nil
		}
		bin = out
	}
	m, err := s.r.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithName(name))
	if err == nil {
		s.all = append(s.all, m)
	}
	return m, nil, err
}

// resetDepth restores the depth counter of every instrumented module after a
// trap, which leaves it decremented by the frames it unwound.
func (s *specRun) resetDepth(t *testing.T) {
	if !s.metered {
		return
	}
	for _, m := range s.all {
		g, ok := m.ExportedGlobal(DepthGlobal).(api.MutableGlobal)
		if !ok {
			t.Fatalf("module %q: no mutable %s global", m.Name(), DepthGlobal)
		}
		g.Set(uint64(specStackDepth))
	}
}

// depthRestored checks that every instrumented module's depth counter is
// back at its initial value, as it must be after a call that did not trap.
func (s *specRun) depthRestored(invoked string, onlyInvoked bool) string {
	target := s.last
	if invoked != "" {
		target = s.named[invoked]
	}
	for _, m := range s.all {
		if onlyInvoked && m != target {
			continue
		}
		if g := m.ExportedGlobal(DepthGlobal); g != nil && g.Get() != uint64(specStackDepth) {
			return fmt.Sprintf("module %q: %s = %d, want %d", m.Name(), DepthGlobal, int32(g.Get()), specStackDepth)
		}
	}
	return ""
}

func instrumentNoPanic(bin []byte, opt Options, coverage bool) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("PANIC in Instrument: %v", p)
		}
	}()
	if coverage {
		out, _, err = InstrumentCoverage(bin, opt)
		return out, err
	}
	return Instrument(bin, opt)
}

// specOutcome is the result of invoking an action: values or an error.
type specOutcome struct {
	results []uint64
	types   []api.ValueType
	err     error
}

func (s *specRun) do(ctx context.Context, a specAction) (specOutcome, error) {
	m := s.last
	if a.Module != "" {
		m = s.named[a.Module]
	}
	if m == nil {
		return specOutcome{}, fmt.Errorf("no module %q", a.Module)
	}
	switch a.Type {
	case "invoke":
		fn := m.ExportedFunction(a.Field)
		if fn == nil {
			return specOutcome{}, fmt.Errorf("no exported function %q", a.Field)
		}
		var args []uint64
		for _, v := range a.Args {
			u, err := v.uint64s()
			if err != nil {
				return specOutcome{}, err
			}
			args = append(args, u...)
		}
		res, err := fn.Call(ctx, args...)
		return specOutcome{results: res, types: fn.Definition().ResultTypes(), err: err}, nil
	case "get":
		g := m.ExportedGlobal(a.Field)
		if g == nil {
			return specOutcome{}, fmt.Errorf("no exported global %q", a.Field)
		}
		v := g.Get()
		res := []uint64{v}
		if g.Type() == valueTypeV128 {
			return specOutcome{}, errors.New("v128 global get unsupported")
		}
		return specOutcome{results: res, types: []api.ValueType{g.Type()}}, nil
	}
	return specOutcome{}, fmt.Errorf("unsupported action type %q", a.Type)
}

func runSpecScript(t *testing.T, suiteName, dir, path string, cfg wazero.RuntimeConfig, spectestWasm []byte, stats *specStats, coverage bool) {
	ctx := context.Background()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var script specScript
	if err := json.Unmarshal(raw, &script); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	host := &specHost{coverage: coverage}
	base := newSpecRun(ctx, t, cfg, spectestWasm, nil)
	inst := newSpecRun(ctx, t, cfg, spectestWasm, host)
	src := filepath.Base(script.SourceFile)
	read := func(c *specCommand) []byte {
		b, err := os.ReadFile(filepath.Join(dir, c.Filename))
		if err != nil {
			t.Fatalf("%s:%d: %v", src, c.Line, err)
		}
		return b
	}
	fails := 0
	failf := func(c *specCommand, format string, args ...any) {
		t.Helper()
		fails++
		t.Errorf("%s:%d %s: %s", src, c.Line, c.Type, fmt.Sprintf(format, args...))
	}
	for i := 0; i < len(script.Commands) && fails < 20; i++ {
		c := &script.Commands[i]
		if why, ok := specCommandSkips[fmt.Sprintf("%s/%s:%d", suiteName, src, c.Line)]; ok {
			stats.add(c.Type+"(known wazero issue)", true)
			t.Logf("%s:%d %s skipped: %s", src, c.Line, c.Type, why)
			continue
		}
		switch c.Type {
		case "module":
			if c.ModuleType == "text" || strings.HasSuffix(c.Filename, ".wat") {
				stats.add("module(text)", true)
				continue
			}
			bin := read(c)
			name := ""
			if i+1 < len(script.Commands) && script.Commands[i+1].Type == "register" {
				name = script.Commands[i+1].As
				i++
			}
			bm, _, berr := base.instantiate(ctx, bin, name)
			im, ierr, err := inst.instantiate(ctx, bin, name)
			stats.add("module", false)
			if ierr != nil {
				failf(c, "instrument %s: %v", c.Filename, ierr)
				continue
			}
			if (berr == nil) != (err == nil) {
				failf(c, "instantiate %s: original error %v, instrumented error %v", c.Filename, berr, err)
				continue
			}
			if berr != nil {
				// wazero refuses the original too; nothing to compare on.
				t.Logf("%s:%d: wazero refuses %s: %v", src, c.Line, c.Filename, firstLine(berr))
				continue
			}
			base.last, inst.last = bm, im
			if c.Name != "" {
				base.named[c.Name], inst.named[c.Name] = bm, im
			}
		case "register":
			failf(c, "register not directly after its module is unsupported by this harness")
		case "assert_return", "action":
			bo, err1 := base.do(ctx, c.Action)
			io, err2 := inst.do(ctx, c.Action)
			if err1 != nil || err2 != nil {
				failf(c, "%s: harness: %v / %v", c.Action.Field, err1, err2)
				continue
			}
			stats.add(c.Type, false)
			if bo.err != nil || io.err != nil {
				if c.Type == "action" && bo.err != nil && io.err != nil && firstLine(bo.err) == firstLine(io.err) {
					inst.resetDepth(t)
					continue
				}
				failf(c, "%s: original error %v, instrumented error %v", c.Action.Field, bo.err, io.err)
				inst.resetDepth(t)
				continue
			}
			if msg := compareResults(bo, io, c.Expected, c.Type == "assert_return"); msg != "" {
				failf(c, "%s%s: %s", c.Action.Field, argsString(c.Action.Args), msg)
			}
			// An exception thrown in one instrumented module and caught in
			// another skips the thrower's restores (docs/metering.md,
			// limitations): across modules, only the invoked module's
			// counter is checked in the exception-handling suite.
			if msg := inst.depthRestored(c.Action.Module, suiteName == "exception-handling"); msg != "" {
				failf(c, "%s%s: after a normal return: %s", c.Action.Field, argsString(c.Action.Args), msg)
			}
			inst.resetDepth(t)
		case "assert_trap", "assert_exhaustion", "assert_exception":
			if c.Action.Type != "invoke" {
				failf(c, "unsupported action %q", c.Action.Type)
				continue
			}
			bo, err1 := base.do(ctx, c.Action)
			io, err2 := inst.do(ctx, c.Action)
			if err1 != nil || err2 != nil {
				failf(c, "%s: harness: %v / %v", c.Action.Field, err1, err2)
				continue
			}
			stats.add(c.Type, false)
			inst.resetDepth(t)
			if bo.err == nil {
				failf(c, "%s: original did not fail (%q expected)", c.Action.Field, c.Text)
				continue
			}
			if io.err == nil {
				failf(c, "%s: instrumented returned %v, original failed with %v", c.Action.Field, io.results, firstLine(bo.err))
				continue
			}
			if c.Type == "assert_exhaustion" && errors.Is(io.err, errSpecStackLimit) {
				continue // the depth bound stopped it before wazero's stack did: the same verdict.
			}
			if firstLine(bo.err) != firstLine(io.err) {
				failf(c, "%s: original error %q, instrumented error %q", c.Action.Field, firstLine(bo.err), firstLine(io.err))
			}
		case "assert_malformed", "assert_invalid":
			if c.ModuleType == "text" || strings.HasSuffix(c.Filename, ".wat") {
				stats.add(c.Type+"(text)", true)
				continue
			}
			bin := read(c)
			stats.add(c.Type, false)
			if _, err := base.r.CompileModule(ctx, bin); err == nil {
				t.Logf("%s:%d: wazero accepts %s module %s", src, c.Line, c.Type, c.Filename)
				continue
			}
			out, ierr := instrumentNoPanic(bin, Options{StackDepth: specStackDepth}, host.coverage)
			if ierr != nil {
				if strings.HasPrefix(ierr.Error(), "PANIC") {
					failf(c, "%s: %v", c.Filename, ierr)
				}
				continue
			}
			if _, err := inst.r.CompileModule(ctx, out); err == nil {
				failf(c, "%s: wazero refuses the original but accepts the instrumented module", c.Filename)
			}
		case "assert_unlinkable", "assert_uninstantiable":
			if c.ModuleType == "text" || strings.HasSuffix(c.Filename, ".wat") {
				stats.add(c.Type+"(text)", true)
				continue
			}
			bin := read(c)
			stats.add(c.Type, false)
			_, _, berr := base.instantiate(ctx, bin, "")
			_, ierr, err := inst.instantiate(ctx, bin, "")
			if ierr != nil {
				failf(c, "instrument %s: %v", c.Filename, ierr)
				continue
			}
			inst.resetDepth(t)
			if (berr == nil) != (err == nil) {
				failf(c, "%s: original error %v, instrumented error %v", c.Filename, berr, err)
			} else if berr != nil && c.Type == "assert_uninstantiable" && firstLine(berr) != firstLine(err) {
				failf(c, "%s: original error %q, instrumented error %q", c.Filename, firstLine(berr), firstLine(err))
			}
		default:
			failf(c, "unsupported command type")
		}
	}
	if host.refills == 0 && len(inst.all) > 0 {
		// Every script that instantiates a module and calls into it must have
		// paid fuel through the host; only scripts with no calls may not.
		for _, c := range script.Commands {
			if c.Type == "assert_return" || c.Type == "action" {
				t.Errorf("%s: the fuel function was never called", src)
				break
			}
		}
	}
}

// firstLine is the first line of an error message (wazero appends a stack
// trace), with function indices, which instrumentation moves, masked.
func firstLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	return funcIndexRE.ReplaceAllString(safetext.FirstLine(err.Error()), "function[N]")
}

var funcIndexRE = regexp.MustCompile(`function\[\d+\]`)

func argsString(vals []specValue) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprintf("%s:%v", v.Type, v.Value)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// compareResults checks that the instrumented results equal the original ones
// and, when checkExpected, that they meet the script's expectation. Returns ""
// when they match, a description otherwise.
func compareResults(base, inst specOutcome, expected []specValue, checkExpected bool) string {
	if len(base.results) != len(inst.results) {
		return fmt.Sprintf("original %v, instrumented %v", base.results, inst.results)
	}
	pos := 0
	for i, typ := range inst.types {
		width := 1
		if typ == valueTypeV128 {
			width = 2
		}
		if pos+width > len(inst.results) {
			return "result arity mismatch"
		}
		b, n := base.results[pos:pos+width], inst.results[pos:pos+width]
		pos += width
		var exp *specValue
		if checkExpected && i < len(expected) {
			exp = &expected[i]
		}
		isRef := typ == valueTypeFuncref || typ == api.ValueTypeExternref || (exp != nil && (strings.HasSuffix(exp.Type, "ref")))
		if isRef && typ != api.ValueTypeExternref {
			// Function references are engine pointers, different in the two
			// runtimes: compare null-ness.
			if (b[0] == 0) != (n[0] == 0) {
				return fmt.Sprintf("result %d: original ref %#x, instrumented ref %#x", i, b[0], n[0])
			}
			if exp != nil && exp.Value != nil {
				if want, _ := exp.Value.(string); want == "null" && n[0] != 0 {
					return fmt.Sprintf("result %d: want null ref, instrumented %#x", i, n[0])
				}
			}
			continue
		}
		if exp != nil {
			if ok, err := exp.matches(n); err != nil {
				return fmt.Sprintf("result %d: %v", i, err)
			} else if !ok {
				return fmt.Sprintf("result %d: want %s %v, instrumented %#x (original %#x)", i, exp.Type, exp.Value, n, b)
			}
			if ok, _ := exp.matches(b); !ok {
				return fmt.Sprintf("result %d: want %s %v, original %#x", i, exp.Type, exp.Value, b)
			}
			if exp.hasNaNPattern() {
				continue // both meet the NaN pattern; payloads may differ legitimately.
			}
		}
		for k := range b {
			if b[k] != n[k] {
				return fmt.Sprintf("result %d: original %#x, instrumented %#x", i, b, n)
			}
		}
	}
	return ""
}

func (v specValue) hasNaNPattern() bool {
	switch x := v.Value.(type) {
	case string:
		return strings.HasPrefix(x, "nan:")
	case []any:
		for _, l := range x {
			if s, _ := l.(string); strings.HasPrefix(s, "nan:") {
				return true
			}
		}
	}
	return false
}

// uint64s encodes an argument the way wazero's api passes it.
func (v specValue) uint64s() ([]uint64, error) {
	switch v.Type {
	case "v128":
		lanes, width, err := v.lanes()
		if err != nil {
			return nil, err
		}
		var lo, hi uint64
		per := 64 / width
		for i, l := range lanes {
			x, err := parseUint(l, width)
			if err != nil {
				return nil, err
			}
			if i < per {
				lo |= x << (uint(i) * uint(width))
			} else {
				hi |= x << (uint(i-per) * uint(width))
			}
		}
		return []uint64{lo, hi}, nil
	case "i32", "f32":
		s, _ := v.Value.(string)
		x, err := parseUint(s, 32)
		return []uint64{x}, err
	case "i64", "f64":
		s, _ := v.Value.(string)
		x, err := parseUint(s, 64)
		return []uint64{x}, err
	case "externref":
		s, _ := v.Value.(string)
		if v.Value == nil || s == "null" {
			return []uint64{0}, nil
		}
		x, err := strconv.ParseUint(s, 10, 64)
		// wazero's externref is an opaque pointer where 0 is null, so the
		// script's externref N is passed as N+1.
		return []uint64{x + 1}, err
	case "funcref", "exnref":
		return []uint64{0}, nil // scripts pass only null function references
	}
	if strings.HasSuffix(v.Type, "ref") {
		return []uint64{0}, nil
	}
	return nil, fmt.Errorf("unsupported value type %q", v.Type)
}

func (v specValue) lanes() ([]string, int, error) {
	raw, ok := v.Value.([]any)
	if !ok {
		return nil, 0, fmt.Errorf("v128 value %v is not a lane list", v.Value)
	}
	width := map[string]int{"i8": 8, "i16": 16, "i32": 32, "i64": 64, "f32": 32, "f64": 64}[v.LaneType]
	if width == 0 || len(raw)*width != 128 {
		return nil, 0, fmt.Errorf("bad v128 lanes %s x %d", v.LaneType, len(raw))
	}
	out := make([]string, len(raw))
	for i, l := range raw {
		out[i], _ = l.(string)
	}
	return out, width, nil
}

// parseUint parses a decimal (wast2json writes unsigned bit patterns; some
// tools write signed values) into the low width bits.
func parseUint(s string, width int) (uint64, error) {
	if strings.HasPrefix(s, "-") {
		x, err := strconv.ParseInt(s, 10, width)
		return uint64(x) & mask(width), err
	}
	x, err := strconv.ParseUint(s, 10, width)
	return x, err
}

func mask(width int) uint64 {
	if width == 64 {
		return math.MaxUint64
	}
	return 1<<uint(width) - 1
}

// matches reports whether the result words got meet the expectation v.
func (v specValue) matches(got []uint64) (bool, error) {
	switch v.Type {
	case "i32":
		want, err := parseUint(v.Value.(string), 32)
		return uint32(got[0]) == uint32(want), err
	case "i64":
		want, err := parseUint(v.Value.(string), 64)
		return got[0] == want, err
	case "f32":
		return floatMatches(v.Value.(string), got[0]&mask(32), 32)
	case "f64":
		return floatMatches(v.Value.(string), got[0], 64)
	case "externref":
		want, err := v.uint64s()
		if err != nil {
			return false, err
		}
		if v.Value == nil {
			return true, nil
		}
		return got[0] == want[0], nil
	case "v128":
		lanes, width, err := v.lanes()
		if err != nil {
			return false, err
		}
		per := 64 / width
		for i, l := range lanes {
			word, shift := got[0], uint(i)*uint(width)
			if i >= per {
				word, shift = got[1], uint(i-per)*uint(width)
			}
			lane := (word >> shift) & mask(width)
			if v.LaneType == "f32" || v.LaneType == "f64" {
				ok, err := floatMatches(l, lane, width)
				if err != nil || !ok {
					return ok, err
				}
				continue
			}
			want, err := parseUint(l, width)
			if err != nil {
				return false, err
			}
			if lane != want {
				return false, nil
			}
		}
		return true, nil
	}
	return false, fmt.Errorf("unsupported expected type %q", v.Type)
}

// floatMatches compares a float bit pattern with an expectation that is a
// bit pattern or nan:canonical / nan:arithmetic.
func floatMatches(want string, got uint64, width int) (bool, error) {
	expMask, quiet := uint64(0x7f800000), uint64(0x00400000)
	payload := uint64(0x007fffff)
	if width == 64 {
		expMask, quiet, payload = 0x7ff0000000000000, 0x0008000000000000, 0x000fffffffffffff
	}
	switch want {
	case "nan:canonical":
		return got&expMask == expMask && got&payload == quiet, nil
	case "nan:arithmetic":
		return got&expMask == expMask && got&quiet == quiet, nil
	}
	w, err := parseUint(want, width)
	return w == got, err
}

// Value type codes wazero's api reports but does not name.
const (
	valueTypeV128    api.ValueType = 0x7b
	valueTypeFuncref api.ValueType = 0x70
)

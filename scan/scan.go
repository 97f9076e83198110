// Package scan checks a WebAssembly module before it runs: it decodes the
// module with wasmward's own decoder, applies a fixed set of rules (see
// Rules) against a policy, and reports findings, each with a stable rule ID,
// a severity, a message, a location in the file (section, byte offset,
// function index and name) and a remediation. Results are written as text,
// JSON or SARIF 2.1.0 (accepted by GitHub code scanning).
//
// Scan never fails: a module that does not decode is itself a critical
// finding. It reads only the bytes it is given; the supply-chain rules use
// package sbom on the same decoded module.
package scan

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/inspect"
	"github.com/wasmward/wasmward/internal/modview"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sbom"
)

// Bounds are the thresholds of the size and data rules. Zero fields take
// the defaults of DefaultBounds.
type Bounds struct {
	// MaxFunctionSize bounds one function body in bytes (WW601).
	MaxFunctionSize int
	// MaxLocals bounds the locals one function declares (WW602).
	MaxLocals uint64
	// MaxDataSegment bounds one data segment in bytes (WW401).
	MaxDataSegment int
	// EntropyWindow is the run of data bytes whose entropy is measured
	// (WW402); shorter tails are measured when at least EntropyMin bytes.
	EntropyWindow int
	EntropyMin    int
	// EntropyThreshold is the Shannon entropy, in bits per byte, at or
	// above which a window counts as packed.
	EntropyThreshold float64
}

// DefaultBounds: 1 MiB per function body (V8 refuses 7.6 MB; real toolchain
// output stays far below 1 MiB), V8's 50000 locals, 4 MiB per data segment,
// and 7.9 bits/byte over 64 KiB windows ("near 8": compressed or encrypted
// data measures 7.95-8.0; dense character-set tables in real modules reach
// 7.8).
func DefaultBounds() Bounds {
	return Bounds{
		MaxFunctionSize:  1 << 20,
		MaxLocals:        50000,
		MaxDataSegment:   4 << 20,
		EntropyWindow:    64 << 10,
		EntropyMin:       4 << 10,
		EntropyThreshold: 7.9,
	}
}

func (b Bounds) withDefaults() Bounds {
	d := DefaultBounds()
	if b.MaxFunctionSize > 0 {
		d.MaxFunctionSize = b.MaxFunctionSize
	}
	if b.MaxLocals > 0 {
		d.MaxLocals = b.MaxLocals
	}
	if b.MaxDataSegment > 0 {
		d.MaxDataSegment = b.MaxDataSegment
	}
	if b.EntropyWindow > 0 {
		d.EntropyWindow = b.EntropyWindow
	}
	if b.EntropyMin > 0 {
		d.EntropyMin = b.EntropyMin
	}
	if b.EntropyThreshold > 0 {
		d.EntropyThreshold = b.EntropyThreshold
	}
	if d.EntropyMin > d.EntropyWindow {
		d.EntropyMin = d.EntropyWindow
	}
	return d
}

// Options configure a scan. The zero value scans against policy.Default().
type Options struct {
	// Policy is checked for imports (WW101) and the memory limit (WW202);
	// nil means policy.Default().
	Policy *policy.Policy
	// AllowThreads accepts shared memory and atomics: WW203 is then
	// reported at info severity instead of high. The policy type has no
	// field for it; the CLI's --allow-threads sets it.
	AllowThreads bool
	// Validate also compiles the module with wazero (interpreter) and
	// reports a rejection as WW002. It costs about ten times the decode.
	Validate bool
	// Advisories, when set, are matched against the module's components
	// (WW702).
	Advisories *sbom.Database
	// Bounds of the size and data rules.
	Bounds Bounds
}

// scanner holds one scan's state.
type scanner struct {
	name     string
	bin      []byte
	m        *wasm.Module
	opts     Options
	pol      policy.Policy
	bounds   Bounds
	names    map[uint32]string
	nImpFunc int
	findings []Finding
	caps     []string
}

// Scan checks the module bin (named name in the results) and returns its
// findings. ctx bounds the optional wazero validation.
func Scan(ctx context.Context, name string, bin []byte, opts Options) *Result {
	res := &Result{Artifact: name, Size: len(bin), SHA256: digest.SHA256Hex(bin), Findings: []Finding{}, Capabilities: []string{}}
	s := &scanner{name: name, bin: bin, opts: opts, bounds: opts.Bounds.withDefaults()}
	if opts.Policy != nil {
		s.pol = *opts.Policy
	} else {
		s.pol = policy.Default()
	}
	m, err := wasm.Decode(bin)
	if err != nil {
		if errors.Is(err, wasm.ErrComponent) {
			s.component()
		} else {
			s.decodeFailed("module", err)
		}
		res.Findings = s.sorted()
		return res
	}
	s.m = m
	s.names = inspect.FuncNames(m)
	s.nImpFunc = inspect.ImportedFuncs(m)
	if notCompiled := s.unsupported(); opts.Validate && notCompiled == 0 {
		s.validate(ctx)
	}
	s.imports()
	s.memories()
	s.threads()
	s.start()
	s.exports()
	s.functions()
	s.data()
	s.markers()
	s.metadata()
	s.supplyChain()
	res.Findings = s.sorted()
	res.Capabilities = s.caps
	if res.Capabilities == nil {
		res.Capabilities = []string{}
	}
	return res
}

// add records a finding of rule id at severity sev and returns it, valid
// until the next add.
func (s *scanner) add(id string, sev Severity, loc Location, format string, args ...any) *Finding {
	r := ruleByID[id]
	s.findings = append(s.findings, Finding{
		RuleID: id, Severity: sev, Title: r.Title, Message: fmt.Sprintf(format, args...),
		Location: loc, Remediation: r.Remediation,
	})
	return &s.findings[len(s.findings)-1]
}

func (s *scanner) sorted() []Finding {
	f := s.findings
	sortFindings(f)
	if f == nil {
		f = []Finding{}
	}
	return f
}

// sectionOffset returns the offset of the first section with id, or -1.
func (s *scanner) sectionOffset(id wasm.SectionID) int {
	for _, sec := range s.m.Sections {
		if sec.ID == id {
			return sec.Offset
		}
	}
	return -1
}

func (s *scanner) funcLoc(section string, off int, idx uint32) Location {
	return Location{Section: section, Offset: off, Function: int64(idx), FunctionName: s.names[idx]}
}

// imports applies WW101: one finding per import module whose imports the
// policy does not allow, listing the names; each import's entry is a related
// location. Grouping keeps a module with hundreds of host functions (an
// Emscripten build imports one per JS glue function) to one alert per host
// namespace, which is also the unit a policy pattern allows.
func (s *scanner) imports() {
	type group struct {
		names []string
		locs  []Location
	}
	var order []string
	groups := map[string]*group{}
	for _, im := range s.m.Imports {
		if s.pol.AllowsImport(im.Module, im.Name) {
			continue
		}
		g := groups[im.Module]
		if g == nil {
			g = &group{}
			groups[im.Module] = g
			order = append(order, im.Module)
		}
		g.names = append(g.names, im.Kind.String()+" "+strconv.Quote(im.Name))
		g.locs = append(g.locs, Location{Section: "import", Offset: im.Offset, Function: -1, Label: im.Kind.String() + " " + strconv.Quote(im.Module) + "." + strconv.Quote(im.Name)})
	}
	for _, mod := range order {
		g := groups[mod]
		what := "import"
		if len(g.names) > 1 {
			what = "imports"
		}
		f := s.add(RuleImportNotAllowed, High, g.locs[0], "%d %s from %q not allowed by the policy's capabilities.imports %v: %s.",
			len(g.names), what, mod, s.pol.Capabilities.Imports, listNames(g.names, 20))
		f.Related = g.locs
	}
	s.capabilities()
}

// listNames joins names, eliding past max ("... and N more").
func listNames(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

const pageSize = 64 << 10

func (s *scanner) memories() {
	limit := uint64(s.pol.Limits.Memory)
	idx := 0
	check := func(l wasm.Limits, off int, where string) {
		loc := Location{Section: where, Offset: off, Function: -1}
		if !l.HasMax {
			s.add(RuleMemoryUnbounded, Medium, loc, "Memory %d declares no maximum (minimum %d pages); only the host cap of %s bounds it.",
				idx, l.Min, s.pol.Limits.Memory)
		}
		if l.Min > limit/pageSize {
			s.add(RuleMemoryOverLimit, High, loc, "Memory %d's minimum of %d pages (%s) exceeds the policy's limits.memory of %s; it cannot be instantiated.",
				idx, l.Min, pagesString(l.Min), s.pol.Limits.Memory)
		} else if l.HasMax && l.Max > limit/pageSize {
			// run instantiates it and stops memory.grow at the cap (grow
			// returns -1, as the spec allows): information, not a refusal.
			s.add(RuleMemoryOverLimit, Info, loc, "Memory %d's maximum of %d pages (%s) exceeds the policy's limits.memory of %s; growth will stop at the cap.",
				idx, l.Max, pagesString(l.Max), s.pol.Limits.Memory)
		}
		idx++
	}
	for _, im := range s.m.Imports {
		if im.Kind == wasm.ExternMemory {
			check(im.Memory.Limits, im.Offset, "import")
		}
	}
	off := s.sectionOffset(wasm.SectionMemory)
	for _, mem := range s.m.Memories {
		check(mem.Limits, off, "memory")
	}
}

func pagesString(p uint64) string {
	if p > (1<<64-1)/pageSize {
		return "over 16 EiB"
	}
	return policy.Size(p * pageSize).String()
}

func (s *scanner) threads() {
	sev, note := High, ""
	if s.opts.AllowThreads {
		sev, note = Info, " Allowed by --allow-threads."
	}
	shared := false
	for _, im := range s.m.Imports {
		if im.Kind == wasm.ExternMemory && im.Memory.Limits.Shared {
			shared = true
			s.add(RuleSharedMemory, sev, Location{Section: "import", Offset: im.Offset, Function: -1},
				"Imported memory %q.%q is shared.%s", im.Module, im.Name, note)
		}
	}
	for i, mem := range s.m.Memories {
		if mem.Limits.Shared {
			shared = true
			s.add(RuleSharedMemory, sev, Location{Section: "memory", Offset: s.sectionOffset(wasm.SectionMemory), Function: -1},
				"Memory %d is shared.%s", i, note)
		}
	}
	if !shared && s.m.Features.Has(wasm.FeatureThreads) {
		// Atomics on memory no other agent can see are ordinary loads and
		// stores: no timer, no cross-instance channel.
		s.add(RuleSharedMemory, Info, Location{Section: "code", Offset: s.sectionOffset(wasm.SectionCode), Function: -1},
			"The code uses atomic instructions, but no memory is shared: they carry no cross-instance timing risk.")
	}
}

func (s *scanner) start() {
	if !s.m.HasStart {
		return
	}
	name := s.names[s.m.Start]
	desc := fmt.Sprintf("function %d", s.m.Start)
	if name != "" {
		desc += fmt.Sprintf(" (%s)", name)
	}
	s.add(RuleStartFunction, Low, s.funcLoc("start", s.sectionOffset(wasm.SectionStart), s.m.Start),
		"The module has a start function, %s, which runs during instantiation.", desc)
}

func (s *scanner) exports() {
	var impGlobals []wasm.GlobalType
	for _, im := range s.m.Imports {
		if im.Kind == wasm.ExternGlobal {
			impGlobals = append(impGlobals, im.Global)
		}
	}
	for _, e := range s.m.Exports {
		switch e.Kind {
		case wasm.ExternGlobal:
			var gt wasm.GlobalType
			switch i := int(e.Index); {
			case i < len(impGlobals):
				gt = impGlobals[i]
			case i-len(impGlobals) < len(s.m.Globals):
				gt = s.m.Globals[i-len(impGlobals)].Type
			default:
				continue
			}
			if gt.Mutable {
				s.add(RuleExportedMutGlobal, Low, Location{Section: "export", Offset: e.Offset, Function: -1},
					"Global %d is mutable and exported as %q.", e.Index, e.Name)
			}
		case wasm.ExternTable:
			s.add(RuleExportedTable, Low, Location{Section: "export", Offset: e.Offset, Function: -1},
				"Table %d is exported as %q.", e.Index, e.Name)
		}
	}
}

func (s *scanner) functions() {
	for i, f := range s.m.Code {
		idx := uint32(s.nImpFunc + i)
		if len(f.Raw) > s.bounds.MaxFunctionSize {
			loc := s.funcLoc("code", f.Offset, idx)
			loc.Length = inspect.EntrySize(f)
			s.add(RuleLargeFunction, Medium, loc, "Function %d%s has a %d-byte body, over the bound of %d.",
				idx, nameSuffix(s.names[idx]), len(f.Raw), s.bounds.MaxFunctionSize)
		}
		var locals uint64
		for _, l := range f.Locals {
			locals += uint64(l.Count)
		}
		if locals > s.bounds.MaxLocals {
			s.add(RuleManyLocals, Medium, s.funcLoc("code", f.Offset, idx), "Function %d%s declares %d locals, over the bound of %d.",
				idx, nameSuffix(s.names[idx]), locals, s.bounds.MaxLocals)
		}
	}
}

func nameSuffix(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

// metadata reports custom sections the decoder could not read.
func (s *scanner) metadata() {
	for _, c := range []struct {
		name string
		err  error
	}{{"name", s.m.NamesErr}, {"producers", s.m.ProducersErr}} {
		if c.err == nil {
			continue
		}
		off := -1
		var we *wasm.Error
		if errors.As(c.err, &we) {
			off = we.Offset
		}
		s.add(RuleBadMetadata, Medium, Location{Section: "custom", Offset: off, Function: -1},
			"The %q custom section is malformed: %v.", c.name, c.err)
	}
	// The decoder keeps the first name and producers section; later ones are
	// reported (wazero refuses a second name section).
	first := map[string]int{}
	for _, sec := range s.m.Sections {
		if sec.ID != wasm.SectionCustom || (sec.Name != "name" && sec.Name != "producers") {
			continue
		}
		at, seen := first[sec.Name]
		if !seen {
			first[sec.Name] = sec.Offset
			continue
		}
		msg := "A second %q custom section; wasmward reads the first one, at offset %#x, and ignores this one."
		if sec.Name == "name" {
			msg += " wazero refuses to compile a module with two name sections."
		}
		s.add(RuleDuplicateMetadata, Low, Location{Section: "custom", Offset: sec.Offset, Function: -1}, msg, sec.Name, at)
	}
}

func (s *scanner) supplyChain() {
	inv, err := sbom.Extract(modview.Of(s.m))
	if err != nil {
		for _, e := range unjoin(err) {
			off := -1
			var me *sbom.MetadataError
			if errors.As(e, &me) {
				off = me.Offset
			}
			s.add(RuleBadMetadata, Medium, Location{Section: sectionOfMetadata(me), Offset: off, Function: -1}, "%v.", e)
		}
	}
	prodOff := -1
	for _, sec := range s.m.Sections {
		if sec.ID == wasm.SectionCustom && sec.Name == "producers" {
			prodOff = sec.Offset
		}
	}
	for _, t := range inv.Tools {
		s.add(RuleToolchain, Info, Location{Section: "custom", Offset: prodOff, Function: -1},
			"producers %s: %s.", t.Field, strings.TrimSpace(t.Name+" "+t.Version))
	}
	if inv.GoBuildInfoOffset >= 0 && inv.GoVersion != "" {
		s.add(RuleToolchain, Info, Location{Section: "data", Offset: inv.GoBuildInfoOffset, Function: -1},
			"Go build info: built with %s; main module, standard library and %d dependencies.", inv.GoVersion, countKind(inv.Components, sbom.KindDependency))
	}
	if s.opts.Advisories == nil {
		return
	}
	inv.MatchOSV(s.opts.Advisories)
	refs := map[string]sbom.Component{}
	for _, c := range inv.Components {
		refs[c.Ref] = c
	}
	for _, v := range inv.Vulnerabilities {
		c := refs[v.Component]
		loc := vulnLocation(inv, c)
		fix := ""
		if len(v.Fixed) > 0 {
			fix = " Fixed in " + strings.Join(v.Fixed, ", ") + "."
		}
		s.add(RuleVulnerable, severityOfRating(v.Rating), loc, "%s %s is affected by %s (%s): %s.%s",
			c.Name, c.Version, v.ID, v.Rating, strings.TrimSuffix(v.Summary, "."), fix)
	}
}

// vulnLocation points a vulnerability finding at what told us the component
// is there: the first located piece of evidence for a library identified
// from the binary's contents, the cargo-auditable section for a crate it
// lists, else the Go build info.
func vulnLocation(inv *sbom.Inventory, c sbom.Component) Location {
	for _, e := range c.Evidence {
		if e.Offset < 0 {
			continue
		}
		sec := e.Location
		if strings.HasPrefix(sec, "custom:") {
			sec = "custom"
		}
		return Location{Section: sec, Offset: e.Offset, Function: -1}
	}
	if c.Ecosystem == sbom.EcosystemCrates || strings.HasPrefix(c.PURL, "pkg:cargo/") {
		return Location{Section: "custom", Offset: inv.CargoOffset, Function: -1}
	}
	return Location{Section: "data", Offset: inv.GoBuildInfoOffset, Function: -1}
}

func sectionOfMetadata(me *sbom.MetadataError) string {
	if me != nil && me.Source == "go buildinfo" {
		return "data"
	}
	return "custom"
}

func severityOfRating(r string) Severity {
	switch r {
	case "critical":
		return Critical
	case "high", "unknown":
		return High
	case "medium":
		return Medium
	}
	return Low
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func countKind(cs []sbom.Component, kind string) int {
	n := 0
	for _, c := range cs {
		if c.Kind == kind {
			n++
		}
	}
	return n
}

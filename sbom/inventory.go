// Package sbom reads what a WebAssembly module says about what it was built
// from and writes it as a CycloneDX SBOM, optionally with the known
// vulnerabilities of its components from offline OSV data.
//
// Three sources are read, all from the module's own bytes (nothing is
// fetched):
//
//   - the "producers" custom section: languages, toolchains and SDKs, which
//     become the SBOM's tools;
//   - Go module build info, which GOOS=wasip1 binaries carry in their data
//     section between two fixed 16-byte sentinels (the linker's modinfo
//     string; debug/buildinfo cannot read wasm), parsed with
//     runtime/debug.ParseBuildInfo;
//   - Rust cargo-auditable data: the ".dep-v0" custom section, zlib-compressed
//     JSON, decompressed under a cap (MaxCargoJSON) and checked to form a
//     graph with exactly one root and no cycles.
//
// Go modules become pkg:golang purls (the standard library included, as
// pkg:golang/stdlib, so that OSV's "stdlib" advisories match), Rust crates
// pkg:cargo purls.
package sbom

import (
	"bytes"
	"compress/zlib"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/modview"
	"github.com/wasmward/wasmward/internal/wasm"
)

// Go modinfo sentinels (cmd/go/internal/modload: infoStart, infoEnd).
var (
	goInfoStart = []byte{0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6}
	goInfoEnd   = []byte{0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2}
)

// CargoSection is the name of cargo-auditable's custom section.
const CargoSection = ".dep-v0"

// MaxCargoJSON caps the decompressed size of the cargo-auditable data. Real
// dependency trees of thousands of crates stay well under 1 MiB.
const MaxCargoJSON = 8 << 20

// Kinds of components.
const (
	KindMain       = "main"       // the module's own Go main module or Rust root crate
	KindDependency = "dependency" // a linked dependency
	KindBuild      = "build"      // a build-time-only crate (cargo kind "build")
	KindStdlib     = "stdlib"     // the Go standard library
	KindDetected   = "detected"   // identified from evidence in the module's bytes, not from build metadata
)

// Component is one package the module was built from.
type Component struct {
	// Ref is the component's bom-ref, unique in the inventory: its purl.
	Ref     string `json:"ref"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Ecosystem is the OSV ecosystem ("Go", "crates.io"), empty when the
	// component cannot be matched (a crate from git or a local path).
	Ecosystem string `json:"ecosystem,omitempty"`
	PURL      string `json:"purl"`
	Kind      string `json:"kind"`
	// Hash is the go.sum hash ("h1:...") when the build info has one.
	Hash string `json:"hash,omitempty"`
	// Source is where cargo got the crate ("crates.io", "git", "local", ...).
	Source string `json:"source,omitempty"`
	// DependsOn lists the Refs of the component's direct dependencies when
	// build metadata records them (cargo-auditable; for Go, the main
	// module lists every module of the build, the only graph build info
	// gives).
	DependsOn []string `json:"dependsOn,omitempty"`
	// Confidence is ConfidenceHigh or ConfidenceMedium for components
	// identified from evidence (KindDetected), empty for those that build
	// metadata declares.
	Confidence string `json:"confidence,omitempty"`
	// Evidence lists where a detected component was identified (at most
	// MaxEvidence places).
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Tool is one entry of the producers section.
type Tool struct {
	Field   string `json:"field"` // "language", "processed-by" or "sdk"
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Subject identifies the module itself.
type Subject struct {
	Name   string `json:"name"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
}

// Inventory is everything a module's bytes say about what it is built from.
type Inventory struct {
	Subject Subject `json:"subject"`
	Tools   []Tool  `json:"tools,omitempty"`
	// GoVersion is the Go toolchain from the build info ("go1.26.8").
	GoVersion string `json:"goVersion,omitempty"`
	// GoBuildInfoOffset is the byte offset of the build info text in the
	// module, or -1.
	GoBuildInfoOffset int `json:"goBuildInfoOffset"`
	// CargoOffset is the byte offset of the .dep-v0 section, or -1.
	CargoOffset int         `json:"cargoOffset"`
	Components  []Component `json:"components,omitempty"`
	// Vulnerabilities are filled by MatchOSV.
	Vulnerabilities []Vulnerability `json:"vulnerabilities,omitempty"`
}

// MetadataError reports dependency metadata that is present but malformed
// or hostile. The inventory returned with it holds everything else.
type MetadataError struct {
	Source string // "go buildinfo" or "cargo-auditable"
	Offset int    // byte offset in the module
	Err    error
}

func (e *MetadataError) Error() string {
	return fmt.Sprintf("%s at offset %#x: %v", e.Source, e.Offset, e.Err)
}
func (e *MetadataError) Unwrap() error { return e.Err }

// Read decodes bin and returns its inventory; name is the module's name in
// the SBOM (usually the file's base name). Errors are a decode failure, or
// *MetadataError values (joined) for malformed dependency metadata, in which
// case the inventory is still returned.
func Read(name string, bin []byte) (*Inventory, error) {
	m, err := wasm.Decode(bin)
	if err != nil {
		return nil, fmt.Errorf("decode module: %w", err)
	}
	inv, err := Extract(modview.Of(m))
	s512 := sha512.Sum512(bin)
	inv.Subject = Subject{Name: name, Size: len(bin), SHA256: digest.SHA256Hex(bin), SHA512: hex.EncodeToString(s512[:])}
	return inv, err
}

// Decoded is a module its caller has already decoded, for Extract. Every
// method calls fn in module order; offsets are byte offsets in the
// module's bytes, and the byte slices alias them (Extract does not keep
// them).
type Decoded interface {
	// EachProducer calls fn for each entry of the producers section.
	EachProducer(fn func(field, name, version string))
	// EachCustom calls fn for each custom section: its name, the offset of
	// the section (its ID byte), the offset of its content (after the
	// name) and the content.
	EachCustom(fn func(name string, sectionOffset, contentOffset int, content []byte))
	// EachData calls fn for each data segment: the offset of its bytes and
	// the bytes.
	EachData(fn func(offset int, init []byte))
	// EachImport calls fn for each import's module and name.
	EachImport(fn func(module, name string))
	// EachExport calls fn for each export's name.
	EachExport(fn func(name string))
}

// Extract is Read for a module already decoded, without the Subject (no
// hashing): tools, Go build info, cargo-auditable components and the
// components identified from evidence in the module's data and custom
// sections. Errors are as Read's, *MetadataError values only.
func Extract(d Decoded) (*Inventory, error) {
	inv := &Inventory{
		GoBuildInfoOffset: -1,
		CargoOffset:       -1,
	}
	d.EachProducer(func(field, name, version string) {
		inv.Tools = append(inv.Tools, Tool{Field: field, Name: name, Version: version})
	})
	var errs []error
	if err := inv.readGo(d); err != nil {
		errs = append(errs, err)
	}
	if err := inv.readCargo(d); err != nil {
		errs = append(errs, err)
	}
	inv.detect(d)
	return inv, errors.Join(errs...)
}

// detect adds the components identified from evidence that build metadata
// did not already list.
func (inv *Inventory) detect(d Decoded) {
	var hays []hay
	d.EachData(func(off int, b []byte) { hays = append(hays, hay{loc: "data", off: off, b: b}) })
	d.EachCustom(func(name string, _, off int, b []byte) {
		switch {
		case name == CargoSection || name == "producers":
			return // compressed, or read above
		}
		hays = append(hays, hay{loc: "custom:" + name, off: off, b: b})
	})
	fs := append(nameFindings(d), allDetectors.run(hays)...)
	have := map[string]bool{}
	for _, c := range inv.Components {
		have[c.Ref] = true
		have[c.Name] = true
	}
	for _, c := range resolve(fs) {
		// Build metadata is authoritative: a crate cargo-auditable lists,
		// or the same name without a version, is not listed twice.
		if have[c.Ref] || (c.Version == "" && have[c.Name]) {
			continue
		}
		inv.Components = append(inv.Components, c)
	}
}

// findGoBuildInfo returns the modinfo text between the Go sentinels in the
// module's data segments and its offset in the module; ok is false when
// there is none.
func findGoBuildInfo(d Decoded) (text []byte, offset int, ok bool, err error) {
	offset = -1
	done := false
	d.EachData(func(segOff int, init []byte) {
		if done {
			return
		}
		i := bytes.Index(init, goInfoStart)
		if i < 0 {
			return
		}
		done = true
		rest := init[i+len(goInfoStart):]
		j := bytes.Index(rest, goInfoEnd)
		offset = segOff + i + len(goInfoStart)
		if j < 0 {
			err = &MetadataError{Source: "go buildinfo", Offset: offset, Err: errors.New("start sentinel without end sentinel in the same data segment")}
			return
		}
		text, ok = rest[:j], true
	})
	return text, offset, ok, err
}

func (inv *Inventory) readGo(d Decoded) error {
	text, off, ok, err := findGoBuildInfo(d)
	if err != nil || !ok {
		return err
	}
	inv.GoBuildInfoOffset = off
	bi, err := debug.ParseBuildInfo(string(text))
	if err != nil {
		return &MetadataError{Source: "go buildinfo", Offset: off, Err: err}
	}
	inv.GoVersion = bi.GoVersion
	if inv.GoVersion == "" {
		// The linker's modinfo has no "go" line; the producers section
		// names the toolchain.
		inv.GoVersion = inv.producer("language", "Go")
	}
	var deps []string
	seen := map[string]bool{}
	add := func(c Component) {
		if seen[c.Ref] {
			return
		}
		seen[c.Ref] = true
		inv.Components = append(inv.Components, c)
	}
	var main *Component
	if bi.Main.Path != "" {
		c := goComponent(bi.Main, KindMain)
		main = &c
	}
	if v := strings.TrimPrefix(inv.GoVersion, "go"); v != "" {
		// Drop toolchain suffixes such as " X:nocoverageredesign".
		v, _, _ = strings.Cut(v, " ")
		c := Component{Name: "stdlib", Version: v, Ecosystem: EcosystemGo, Kind: KindStdlib,
			PURL: purl("golang", "", "stdlib", v)}
		c.Ref = c.PURL
		deps = append(deps, c.Ref)
		add(c)
	}
	for _, d := range bi.Deps {
		if d == nil || d.Path == "" {
			continue
		}
		c := goComponent(*d, KindDependency)
		deps = append(deps, c.Ref)
		add(c)
	}
	if main != nil {
		main.DependsOn = deps
		// The main module goes first.
		inv.Components = append([]Component{*main}, inv.Components...)
	}
	return nil
}

// producer returns the version of the producers entry field/name, or "".
func (inv *Inventory) producer(field, name string) string {
	for _, t := range inv.Tools {
		if t.Field == field && t.Name == name {
			return t.Version
		}
	}
	return ""
}

// goComponent turns a module from build info into a component, following a
// replacement when there is one (the replacement is what was compiled).
func goComponent(mod debug.Module, kind string) Component {
	path, version, sum := mod.Path, mod.Version, mod.Sum
	if mod.Replace != nil {
		path, version, sum = mod.Replace.Path, mod.Replace.Version, mod.Replace.Sum
	}
	if version == "(devel)" {
		version = ""
	}
	c := Component{Name: path, Version: version, Kind: kind, Hash: sum, PURL: goPURL(path, version)}
	if version != "" && !strings.HasPrefix(path, ".") && !strings.HasPrefix(path, "/") {
		c.Ecosystem = EcosystemGo
	}
	c.Ref = c.PURL
	return c
}

// goPURL builds pkg:golang/<path>@<version>: the module path's last
// element is the name, the rest the namespace.
func goPURL(path, version string) string {
	ns, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	return purl("golang", ns, name, version)
}

// cargoPackage is one entry of cargo-auditable's JSON.
type cargoPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Source       string `json:"source"`
	Kind         string `json:"kind"`
	Dependencies []int  `json:"dependencies"`
	Root         bool   `json:"root"`
}

func (inv *Inventory) readCargo(d Decoded) error {
	var data []byte
	var dup error
	d.EachCustom(func(name string, off, _ int, content []byte) {
		if name != CargoSection || dup != nil {
			return
		}
		if inv.CargoOffset >= 0 {
			dup = &MetadataError{Source: "cargo-auditable", Offset: off, Err: errors.New("more than one " + CargoSection + " section")}
			return
		}
		inv.CargoOffset, data = off, content
	})
	if dup != nil {
		return dup
	}
	if inv.CargoOffset < 0 {
		return nil
	}
	comps, err := ParseCargoAuditable(data)
	if err != nil {
		return &MetadataError{Source: "cargo-auditable", Offset: inv.CargoOffset, Err: err}
	}
	inv.Components = append(inv.Components, comps...)
	return nil
}

// ParseCargoAuditable decodes the content of a .dep-v0 section: zlib JSON of
// at most MaxCargoJSON bytes once decompressed, whose packages must have
// names and versions, dependency indices in range, exactly one root and no
// dependency cycle. The root comes first in the result.
func ParseCargoAuditable(data []byte) ([]Component, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(io.LimitReader(zr, MaxCargoJSON+1))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	if len(raw) > MaxCargoJSON {
		return nil, fmt.Errorf("decompressed data exceeds the %d-byte cap", MaxCargoJSON)
	}
	var doc struct {
		Packages []cargoPackage `json:"packages"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("JSON: %w", err)
	}
	pk := doc.Packages
	if len(pk) == 0 {
		return nil, errors.New("no packages")
	}
	root := -1
	for i, p := range pk {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("package %d: empty name or version", i)
		}
		for _, d := range p.Dependencies {
			if d < 0 || d >= len(pk) {
				return nil, fmt.Errorf("package %d (%s): dependency index %d out of range", i, p.Name, d)
			}
			if d == i {
				return nil, fmt.Errorf("package %d (%s): depends on itself", i, p.Name)
			}
		}
		if p.Root {
			if root >= 0 {
				return nil, fmt.Errorf("two roots: %s and %s", pk[root].Name, p.Name)
			}
			root = i
		}
	}
	if root < 0 {
		return nil, errors.New("no root package")
	}
	if cyc := findCycle(pk); cyc >= 0 {
		return nil, fmt.Errorf("dependency cycle through package %d (%s)", cyc, pk[cyc].Name)
	}
	refs := make([]string, len(pk))
	out := make([]Component, 0, len(pk))
	for i, p := range pk {
		refs[i] = purl("cargo", "", p.Name, p.Version)
	}
	seen := map[string]bool{}
	order := append([]int{root}, func() []int {
		var o []int
		for i := range pk {
			if i != root {
				o = append(o, i)
			}
		}
		return o
	}()...)
	for _, i := range order {
		p := pk[i]
		if seen[refs[i]] {
			continue // cargo never emits duplicates; tolerate them
		}
		seen[refs[i]] = true
		c := Component{Ref: refs[i], PURL: refs[i], Name: p.Name, Version: p.Version, Source: p.Source, Kind: KindDependency}
		switch {
		case i == root:
			c.Kind = KindMain
		case p.Kind == "build":
			c.Kind = KindBuild
		}
		if p.Source == "crates.io" {
			c.Ecosystem = EcosystemCrates
		}
		for _, d := range p.Dependencies {
			c.DependsOn = append(c.DependsOn, refs[d])
		}
		sort.Strings(c.DependsOn)
		out = append(out, c)
	}
	return out, nil
}

// findCycle returns a package on a dependency cycle, or -1 (Kahn's
// algorithm: whatever cannot be peeled off lies on or behind a cycle).
func findCycle(pk []cargoPackage) int {
	indeg := make([]int, len(pk))
	for _, p := range pk {
		for _, d := range p.Dependencies {
			indeg[d]++
		}
	}
	queue := make([]int, 0, len(pk))
	for i, n := range indeg {
		if n == 0 {
			queue = append(queue, i)
		}
	}
	done := 0
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		done++
		for _, d := range pk[i].Dependencies {
			indeg[d]--
			if indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if done == len(pk) {
		return -1
	}
	for i, n := range indeg {
		if n > 0 {
			return i
		}
	}
	return -1
}

// MatchOSV fills inv.Vulnerabilities with the advisories in db that affect
// its components.
func (inv *Inventory) MatchOSV(db *Database) {
	inv.Vulnerabilities = nil
	for _, c := range inv.Components {
		inv.Vulnerabilities = append(inv.Vulnerabilities, db.Match(c)...)
	}
}

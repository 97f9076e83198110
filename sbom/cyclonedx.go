package sbom

import (
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/wasmward/wasmward/internal/atomicfile"
)

// SpecVersion is the CycloneDX version WriteCycloneDX emits.
const SpecVersion = cdx.SpecVersion1_6

// subjectRef is the bom-ref of the module itself.
const subjectRef = "module"

// BOM converts the inventory to a CycloneDX BOM: the metadata component is
// the module (name, SHA-256, SHA-512, size), the producers section's entries
// are tools next to wasmward, every component carries its purl, the
// dependency graph starts at the module, and matched vulnerabilities are
// listed with what they affect. The output is deterministic: the serial
// number derives from the module hash and the vulnerability IDs, and there
// is no timestamp.
func (inv *Inventory) BOM(toolVersion string) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.JSONSchema = ""
	bom.SerialNumber = inv.serial()
	subject := cdx.Component{
		BOMRef:   subjectRef,
		Type:     cdx.ComponentTypeApplication,
		MIMEType: "application/wasm",
		Name:     inv.Subject.Name,
		Hashes: &[]cdx.Hash{
			{Algorithm: cdx.HashAlgoSHA256, Value: inv.Subject.SHA256},
			{Algorithm: cdx.HashAlgoSHA512, Value: inv.Subject.SHA512},
		},
		Properties: &[]cdx.Property{{Name: "wasmward:size", Value: strconv.Itoa(inv.Subject.Size)}},
	}
	if inv.GoVersion != "" {
		*subject.Properties = append(*subject.Properties, cdx.Property{Name: "wasmward:go-version", Value: inv.GoVersion})
	}
	tools := []cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "wasmward", Version: toolVersion}}
	for _, t := range inv.Tools {
		tools = append(tools, cdx.Component{
			Type:       cdx.ComponentTypeApplication,
			Name:       t.Name,
			Version:    t.Version,
			Properties: &[]cdx.Property{{Name: "wasm:producers", Value: t.Field}},
		})
	}
	bom.Metadata = &cdx.Metadata{Component: &subject, Tools: &cdx.ToolsChoice{Components: &tools}}

	comps := make([]cdx.Component, 0, len(inv.Components))
	for _, c := range inv.Components {
		cc := cdx.Component{
			BOMRef:     c.Ref,
			Type:       cdx.ComponentTypeLibrary,
			Name:       c.Name,
			Version:    c.Version,
			PackageURL: c.PURL,
			Properties: &[]cdx.Property{{Name: "wasmward:kind", Value: c.Kind}},
		}
		if c.Kind == KindBuild {
			cc.Scope = cdx.ScopeExcluded
		}
		if c.Source != "" {
			*cc.Properties = append(*cc.Properties, cdx.Property{Name: "cargo:source", Value: c.Source})
		}
		if c.Hash != "" {
			// go.sum's h1 hashes a file list, not an archive: it is not a
			// CycloneDX component hash, so it travels as a property.
			*cc.Properties = append(*cc.Properties, cdx.Property{Name: "go:sum", Value: c.Hash})
		}
		if c.Confidence != "" {
			*cc.Properties = append(*cc.Properties, cdx.Property{Name: "wasmward:confidence", Value: c.Confidence})
			cc.Evidence = cdxEvidence(c)
		}
		comps = append(comps, cc)
	}
	if len(comps) > 0 {
		bom.Components = &comps
	}
	deps, compositions := inv.graph()
	if len(deps) > 0 {
		bom.Dependencies = &deps
	}
	bom.Compositions = &compositions
	if vulns := inv.cdxVulnerabilities(); len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	return bom
}

// graph returns the dependency graph and the compositions that say how
// much of it is known. In CycloneDX 1.6 a dependency entry without
// dependsOn states "has no dependencies", so an entry is written only for
// what was observed:
//
//   - the module depends on its main component (Go main module, Rust root
//     crate) and on each component identified from evidence; "incomplete",
//     because code that left no metadata and no evidence may be linked too;
//   - cargo-auditable records every crate's dependencies: those entries are
//     "complete", including the ones without dependencies;
//   - Go build info lists the build's modules, not who requires whom: the
//     main module depends on all of them ("incomplete": the edges of the
//     others are not known), and the other modules get no entry and are
//     "unknown";
//   - components identified from evidence get no entry and are "unknown";
//   - a module with no component at all has no entry: its dependencies are
//     "unknown".
//
// The module's assembly (what it contains) is "incomplete" when anything
// was found, "unknown" otherwise: reading a binary never proves that
// nothing else is inside.
func (inv *Inventory) graph() ([]cdx.Dependency, []cdx.Composition) {
	var deps []cdx.Dependency
	var complete, incomplete, unknown []string
	var roots []string
	for _, c := range inv.Components {
		switch {
		case c.Kind == KindMain:
			roots = append(roots, c.Ref)
		case c.Kind == KindDetected:
			roots = append(roots, c.Ref)
		}
	}
	if len(roots) == 0 {
		// Metadata without a main component: what it lists is all that is
		// known to be in the module.
		for _, c := range inv.Components {
			roots = append(roots, c.Ref)
		}
	}
	if len(roots) > 0 {
		r := append([]string(nil), roots...)
		deps = append(deps, cdx.Dependency{Ref: subjectRef, Dependencies: &r})
		incomplete = append(incomplete, subjectRef)
	} else {
		unknown = append(unknown, subjectRef)
	}
	cargo := inv.CargoOffset >= 0
	for _, c := range inv.Components {
		switch {
		case cargo && strings.HasPrefix(c.Ref, "pkg:cargo/") && c.Kind != KindDetected:
			d := cdx.Dependency{Ref: c.Ref}
			if len(c.DependsOn) > 0 {
				on := append([]string(nil), c.DependsOn...)
				d.Dependencies = &on
			}
			deps = append(deps, d)
			complete = append(complete, c.Ref)
		case c.Kind == KindMain && len(c.DependsOn) > 0:
			on := append([]string(nil), c.DependsOn...)
			deps = append(deps, cdx.Dependency{Ref: c.Ref, Dependencies: &on})
			incomplete = append(incomplete, c.Ref)
		default:
			unknown = append(unknown, c.Ref)
		}
	}
	assembly := cdx.CompositionAggregateUnknown
	if len(inv.Components) > 0 {
		assembly = cdx.CompositionAggregateIncomplete
	}
	comps := []cdx.Composition{{Aggregate: assembly, Assemblies: refs(subjectRef)}}
	for _, g := range []struct {
		agg  cdx.CompositionAggregate
		refs []string
	}{
		{cdx.CompositionAggregateComplete, complete},
		{cdx.CompositionAggregateIncomplete, incomplete},
		{cdx.CompositionAggregateUnknown, unknown},
	} {
		if len(g.refs) > 0 {
			comps = append(comps, cdx.Composition{Aggregate: g.agg, Dependencies: refs(g.refs...)})
		}
	}
	return deps, comps
}

func refs(ss ...string) *[]cdx.BOMReference {
	out := make([]cdx.BOMReference, len(ss))
	for i, s := range ss {
		out[i] = cdx.BOMReference(s)
	}
	return &out
}

// confidenceValue maps a confidence to CycloneDX's 0..1 scale.
func confidenceValue(c string) *float32 {
	v := float32(0.5)
	if c == ConfidenceHigh {
		v = 0.9
	}
	return &v
}

// cdxEvidence writes a detected component's identification: one identity
// method per rule (technique binary-analysis) and one occurrence per piece
// of evidence with its offset in the module and the matched text.
func cdxEvidence(c Component) *cdx.Evidence {
	field := cdx.EvidenceIdentityFieldTypeName
	if c.Version != "" {
		field = cdx.EvidenceIdentityFieldTypeVersion
	}
	var methods []cdx.EvidenceIdentityMethod
	var occ []cdx.EvidenceOccurrence
	for _, e := range c.Evidence {
		methods = append(methods, cdx.EvidenceIdentityMethod{
			Technique: cdx.EvidenceIdentityTechniqueBinaryAnalysis, Confidence: confidenceValue(c.Confidence), Value: e.Rule + ": " + e.Text})
		o := cdx.EvidenceOccurrence{Location: e.Location, AdditionalContext: e.Rule + ": " + e.Text}
		if e.Offset >= 0 {
			off := e.Offset
			o.Offset = &off
		}
		occ = append(occ, o)
	}
	ids := []cdx.EvidenceIdentity{{Field: field, Confidence: confidenceValue(c.Confidence), ConcludedValue: conclude(c), Methods: &methods}}
	return &cdx.Evidence{Identity: &cdx.EvidenceIdentityChoice{Identities: &ids}, Occurrences: &occ}
}

func conclude(c Component) string {
	if c.Version != "" {
		return c.Version
	}
	return c.Name
}

func (inv *Inventory) cdxVulnerabilities() []cdx.Vulnerability {
	byID := map[string]*cdx.Vulnerability{}
	var ids []string
	for _, v := range inv.Vulnerabilities {
		cv, ok := byID[v.ID]
		if !ok {
			cv = &cdx.Vulnerability{
				BOMRef:      "vuln:" + v.ID,
				ID:          v.ID,
				Source:      &cdx.Source{Name: "OSV"},
				Description: v.Summary,
				Affects:     &[]cdx.Affects{},
			}
			if v.Rating != "unknown" {
				r := cdx.VulnerabilityRating{Severity: cdx.Severity(v.Rating)}
				if v.Vector != "" {
					s := v.Score
					r.Score, r.Vector = &s, v.Vector
					r.Method = cdx.ScoringMethodCVSSv31
					if strings.HasPrefix(v.Vector, "CVSS:3.0") {
						r.Method = cdx.ScoringMethodCVSSv3
					}
				}
				cv.Ratings = &[]cdx.VulnerabilityRating{r}
			}
			if len(v.Aliases) > 0 {
				refs := make([]cdx.VulnerabilityReference, 0, len(v.Aliases))
				for _, a := range v.Aliases {
					refs = append(refs, cdx.VulnerabilityReference{ID: a, Source: &cdx.Source{Name: aliasSource(a)}})
				}
				cv.References = &refs
			}
			if len(v.Fixed) > 0 {
				cv.Recommendation = "Upgrade to " + strings.Join(v.Fixed, " or ") + " or later."
			}
			byID[v.ID] = cv
			ids = append(ids, v.ID)
		}
		*cv.Affects = append(*cv.Affects, cdx.Affects{Ref: v.Component})
	}
	sort.Strings(ids)
	out := make([]cdx.Vulnerability, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byID[id])
	}
	return out
}

func aliasSource(id string) string {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return "NVD"
	case strings.HasPrefix(id, "GHSA-"):
		return "GitHub"
	}
	return "OSV"
}

// serial derives a urn:uuid serial number (version 5 layout) from the module
// hash and the matched vulnerabilities, so the same inputs give the same BOM.
func (inv *Inventory) serial() string {
	h := sha256.New()
	io.WriteString(h, inv.Subject.SHA256)
	for _, v := range inv.Vulnerabilities {
		io.WriteString(h, "\x00"+v.ID+"\x00"+v.Component)
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// WriteCycloneDX writes the inventory as indented CycloneDX JSON.
func WriteCycloneDX(w io.Writer, inv *Inventory, toolVersion string) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(inv.BOM(toolVersion), SpecVersion); err != nil {
		return fmt.Errorf("encode CycloneDX: %w", err)
	}
	return nil
}

// WriteCycloneDXFile writes the SBOM to path atomically: a temporary file in
// the same directory, synced, then renamed over path.
func WriteCycloneDXFile(path string, inv *Inventory, toolVersion string) error {
	err := atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		return WriteCycloneDX(w, inv, toolVersion)
	})
	if err != nil {
		return fmt.Errorf("write SBOM %s: %w", path, err)
	}
	return nil
}

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
	var rootDeps []string
	hasMain := false
	for _, c := range inv.Components {
		if c.Kind == KindMain {
			hasMain = true
		}
	}
	deps := []cdx.Dependency{}
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
		comps = append(comps, cc)
		if c.Kind == KindMain || !hasMain {
			rootDeps = append(rootDeps, c.Ref)
		}
		d := cdx.Dependency{Ref: c.Ref}
		if len(c.DependsOn) > 0 {
			on := append([]string(nil), c.DependsOn...)
			d.Dependencies = &on
		}
		deps = append(deps, d)
	}
	root := cdx.Dependency{Ref: subjectRef}
	if len(rootDeps) > 0 {
		root.Dependencies = &rootDeps
	}
	deps = append([]cdx.Dependency{root}, deps...)
	if len(comps) > 0 {
		bom.Components = &comps
	}
	bom.Dependencies = &deps
	if vulns := inv.cdxVulnerabilities(); len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	return bom
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

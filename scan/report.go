package scan

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasmward/wasmward/internal/safetext"
)

// WriteText writes the results for people: one block per module, findings
// highest severity first.
func WriteText(w io.Writer, results []*Result) error {
	b := bufio.NewWriter(w)
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		counts := map[Severity]int{}
		for _, f := range r.Findings {
			counts[f.Severity]++
		}
		var parts []string
		for s := Critical; s >= Info; s-- {
			if counts[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		summary := "no findings"
		if len(parts) > 0 {
			summary = strings.Join(parts, ", ")
		}
		fmt.Fprintf(b, "%s (%d bytes, sha256 %s): %s\n", r.Artifact, r.Size, r.SHA256, summary)
		if len(r.Capabilities) > 0 {
			fmt.Fprintf(b, "  capabilities: %s\n", safetext.Escape(strings.Join(r.Capabilities, ", ")))
		}
		for _, f := range r.Findings {
			// Titles, messages and locations quote names from the module.
			fmt.Fprintf(b, "  %-8s %s %s at %s\n", strings.ToUpper(f.Severity.String()), f.RuleID,
				safetext.Escape(f.Title), safetext.Escape(f.Location.String()))
			fmt.Fprintf(b, "           %s\n", safetext.Escape(f.Message))
			if f.Severity >= Low {
				fmt.Fprintf(b, "           fix: %s\n", f.Remediation)
			}
		}
	}
	return b.Flush()
}

// String formats a location as "code section, offset 0x1a2, function 7 (main)".
func (l Location) String() string {
	var parts []string
	if l.Section != "" {
		parts = append(parts, l.Section+" section")
	}
	if l.Offset >= 0 {
		parts = append(parts, fmt.Sprintf("offset %#x", l.Offset))
	}
	if l.Function >= 0 {
		fn := "function " + strconv.FormatInt(l.Function, 10)
		if l.FunctionName != "" {
			fn += " (" + l.FunctionName + ")"
		}
		parts = append(parts, fn)
	}
	if len(parts) == 0 {
		return "module"
	}
	return strings.Join(parts, ", ")
}

// JSONReport is the document WriteJSON writes.
type JSONReport struct {
	Tool    string    `json:"tool"`
	Version string    `json:"version"`
	Results []*Result `json:"results"`
}

// WriteJSON writes the results as one indented JSON document (JSONReport).
func WriteJSON(w io.Writer, results []*Result, toolVersion string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if results == nil {
		results = []*Result{}
	}
	return enc.Encode(JSONReport{Tool: "wasmward", Version: toolVersion, Results: results})
}

// SARIF 2.1.0 documents, the subset wasmward writes.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool               sarifTool                        `json:"tool"`
		OriginalURIBaseIDs map[string]sarifArtifactLocation `json:"originalUriBaseIds,omitempty"`
		Artifacts          []sarifArtifact                  `json:"artifacts"`
		Results            []sarifResult                    `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifText struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown,omitempty"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name"`
		ShortDescription     sarifText      `json:"shortDescription"`
		FullDescription      sarifText      `json:"fullDescription"`
		Help                 sarifText      `json:"help"`
		DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
		Properties           sarifRuleProps `json:"properties"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifRuleProps struct {
		Tags             []string `json:"tags"`
		Precision        string   `json:"precision"`
		SecuritySeverity string   `json:"security-severity,omitempty"`
	}
	sarifArtifact struct {
		Location sarifArtifactLocation `json:"location"`
		Length   int                   `json:"length"`
		Hashes   map[string]string     `json:"hashes"`
	}
	sarifArtifactLocation struct {
		URI       string `json:"uri,omitempty"`
		URIBaseID string `json:"uriBaseId,omitempty"`
		Index     *int   `json:"index,omitempty"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          map[string]any    `json:"properties"`
	}
	sarifLocation struct {
		ID               *int           `json:"id,omitempty"`
		Message          *sarifText     `json:"message,omitempty"`
		PhysicalLocation sarifPhysical  `json:"physicalLocation"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
		Region           sarifRegion           `json:"region"`
	}
	// sarifRegion carries the byte region and, because GitHub code scanning
	// displays only line-based regions, startLine 1.
	sarifRegion struct {
		StartLine  int `json:"startLine"`
		ByteOffset int `json:"byteOffset"`
		ByteLength int `json:"byteLength"`
	}
	sarifLogical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
		Kind               string `json:"kind"`
	}
)

// SARIFLevel maps a severity to a SARIF level: critical and high are
// "error", medium "warning", low and info "note".
func SARIFLevel(s Severity) string {
	switch {
	case s >= High:
		return "error"
	case s == Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the GitHub "security-severity" score of a severity
// (GitHub buckets: >= 9 critical, >= 7 high, >= 4 medium, > 0 low).
func securitySeverity(s Severity) string {
	switch s {
	case Critical:
		return "9.5"
	case High:
		return "8.0"
	case Medium:
		return "5.5"
	case Low:
		return "2.0"
	}
	return ""
}

// WriteSARIF writes the results as one SARIF 2.1.0 log with one run: every
// rule in tool.driver.rules, one artifact per module (with its length and
// SHA-256; an absolute path becomes a file:// URI, a relative one a
// percent-encoded relative reference against the uriBaseId %SRCROOT%, which
// run.originalUriBaseIds maps to the working directory), and per finding a result
// with ruleId, ruleIndex, level, message, a physical location (artifact and
// byte region) and, for functions, a logical location. partialFingerprints
// hold a hash of rule, artifact, section, function and message, stable
// across runs of the same module.
func WriteSARIF(w io.Writer, results []*Result, toolVersion string) error {
	all := Rules()
	index := map[string]int{}
	srules := make([]sarifRule, len(all))
	for i, r := range all {
		index[r.ID] = i
		srules[i] = sarifRule{
			ID: r.ID, Name: r.Name,
			ShortDescription:     sarifText{Text: r.Title},
			FullDescription:      sarifText{Text: r.Description},
			Help:                 sarifText{Text: r.Remediation, Markdown: "**" + r.Title + "**\n\n" + r.Description + "\n\n_Remediation:_ " + r.Remediation},
			DefaultConfiguration: sarifConfig{Level: SARIFLevel(r.Severity)},
			Properties:           sarifRuleProps{Tags: []string{"security", "webassembly"}, Precision: "high", SecuritySeverity: securitySeverity(r.Severity)},
		}
	}
	run := sarifRun{
		Tool:      sarifTool{Driver: sarifDriver{Name: "wasmward", Version: toolVersion, InformationURI: "https://github.com/wasmward/wasmward", Rules: srules}},
		Artifacts: []sarifArtifact{},
		Results:   []sarifResult{},
	}
	for ai, r := range results {
		art := artifactLocation(r.Artifact)
		if art.URIBaseID != "" && run.OriginalURIBaseIDs == nil {
			run.OriginalURIBaseIDs = map[string]sarifArtifactLocation{srcRoot: srcRootLocation()}
		}
		run.Artifacts = append(run.Artifacts, sarifArtifact{
			Location: art, Length: r.Size, Hashes: map[string]string{"sha-256": r.SHA256},
		})
		uri := art.URI
		for _, f := range r.Findings {
			ai := ai
			al := art
			al.Index = &ai
			physical := func(l Location) sarifPhysical {
				off, length := l.Offset, l.Length
				if off < 0 {
					off, length = 0, 0
				}
				return sarifPhysical{ArtifactLocation: al, Region: sarifRegion{StartLine: 1, ByteOffset: off, ByteLength: length}}
			}
			loc := sarifLocation{PhysicalLocation: physical(f.Location)}
			if f.Location.Function >= 0 {
				name := f.Location.FunctionName
				if name == "" {
					name = "func[" + strconv.FormatInt(f.Location.Function, 10) + "]"
				}
				loc.LogicalLocations = []sarifLogical{{Name: name, FullyQualifiedName: uri + "!" + name, Kind: "function"}}
			}
			var related []sarifLocation
			for i, l := range f.Related {
				rl := sarifLocation{ID: &i, PhysicalLocation: physical(l)}
				if l.Label != "" {
					rl.Message = &sarifText{Text: l.Label}
				}
				related = append(related, rl)
			}
			fp := sha256.Sum256([]byte(f.RuleID + "\x00" + filepath.ToSlash(r.Artifact) + "\x00" + f.Location.Section + "\x00" + f.Location.FunctionName + "\x00" + f.Message))
			run.Results = append(run.Results, sarifResult{
				RuleID: f.RuleID, RuleIndex: index[f.RuleID], Level: SARIFLevel(f.Severity),
				Message:             sarifText{Text: f.Message},
				Locations:           []sarifLocation{loc},
				RelatedLocations:    related,
				PartialFingerprints: map[string]string{"wasmward/v1": hex.EncodeToString(fp[:16])},
				Properties:          map[string]any{"severity": f.Severity.String(), "section": f.Location.Section},
			})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// srcRoot is the uriBaseId of relative artifact paths, the name GitHub code
// scanning and the SARIF specification's examples use.
const srcRoot = "%SRCROOT%"

// artifactLocation turns a path as given to Scan into a SARIF artifact
// location: an absolute path is a file:// URI ("file:///dir/a%20b.wasm"),
// a relative one a relative reference resolved against %SRCROOT%. Both are
// percent-encoded per RFC 3986 (SARIF §3.10.2), so "#", "%" and spaces in
// file names stay part of the path.
func artifactLocation(path string) sarifArtifactLocation {
	slash := filepath.ToSlash(path)
	if filepath.IsAbs(path) {
		if !strings.HasPrefix(slash, "/") {
			slash = "/" + slash // C:/x -> /C:/x
		}
		return sarifArtifactLocation{URI: "file://" + escapePath(slash)}
	}
	return sarifArtifactLocation{URI: escapePath(strings.TrimPrefix(slash, "./")), URIBaseID: srcRoot}
}

// srcRootLocation is %SRCROOT%'s absolute URI: the working directory, with
// the trailing slash RFC 3986 resolution needs. Without a working directory
// the base is declared without a URI (SARIF §3.14.14 allows it: the
// consumer supplies it).
func srcRootLocation() sarifArtifactLocation {
	wd, err := os.Getwd()
	if err != nil {
		return sarifArtifactLocation{}
	}
	loc := artifactLocation(wd)
	if !strings.HasSuffix(loc.URI, "/") {
		loc.URI += "/"
	}
	return loc
}

// escapePath percent-encodes every byte of a slash-separated path that is
// not an RFC 3986 unreserved character, a sub-delimiter, "@" or "/".
// ":" is encoded too, so a relative path's first segment can never be
// read as a URI scheme.
func escapePath(p string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=@/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

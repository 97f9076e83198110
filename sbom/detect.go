package sbom

import (
	"sort"
	"strings"
)

// Confidence says how sure an identification from evidence is.
const (
	// ConfidenceHigh: a version banner the library itself writes (zlib's
	// "inflate 1.2.13 Copyright 1995-2022 Mark Adler", "libpng version
	// 1.6.43", FFmpeg's "Lavc59.37.100"), or the toolchain's producers
	// entry.
	ConfidenceHigh = "high"
	// ConfidenceMedium: the library is identified but the version comes
	// from weaker evidence (a path such as a Rust crate's registry
	// directory in a panic message, a lone version string that only the
	// identified library explains), or the library has no version.
	ConfidenceMedium = "medium"
)

// Caps that bound what evidence detection keeps, whatever the module holds.
const (
	// MaxDetected caps the components identified from evidence.
	MaxDetected = 1024
	// MaxEvidence caps the evidence kept per component.
	MaxEvidence = 4
	// maxFindings caps the raw matches considered.
	maxFindings = 1 << 16
	// maxEvidenceText caps the matched text kept per piece of evidence.
	maxEvidenceText = 160
)

// Evidence is one place in the module's bytes that identifies a component.
type Evidence struct {
	// Rule names the detector rule that matched ("zlib-inflate-banner").
	Rule string `json:"rule"`
	// Location is "data" (a data segment), "custom:NAME" (a custom
	// section), "import", "export" or "producers".
	Location string `json:"location"`
	// Offset is the byte offset of the matched text in the module, or -1
	// for names from the import, export and producers sections.
	Offset int `json:"offset"`
	// Text is the matched text (at most 160 bytes, invalid UTF-8 and
	// control bytes escaped).
	Text string `json:"text"`
}

// role says what a finding establishes about its library.
type role uint8

const (
	// roleIdentify: the library is there, with the finding's version if it
	// has one.
	roleIdentify role = iota
	// roleCandidate: a version string that is the library's only if the
	// library is identified by other evidence and the candidate is the
	// only one of its kind.
	roleCandidate
)

// finding is one rule match.
type finding struct {
	lib     *library
	name    string // crate name for crates, else lib.name
	version string
	conf    string
	role    role
	ev      Evidence
	// requires is the rule's requires.
	requires string
}

// library describes one identifiable package: its component name, purl and
// OSV ecosystem.
type library struct {
	name      string
	ecosystem string
	// purl returns the package URL for a version ("" for none).
	purl func(name, version string) string
	// needs lists rules that must all have matched for the library to be
	// reported (corroborating evidence); empty for none.
	needs []string
}

// hay is one stretch of module bytes searched for evidence.
type hay struct {
	loc string // Evidence.Location
	off int    // offset of b[0] in the module
	b   []byte
}

// rule is one detector: an anchor found by the multi-pattern search and a
// check that reads the bytes around it.
type rule struct {
	name   string
	anchor string
	// check is called with the hay and the anchor's start in it (-1 for an
	// anchor beginning with NUL matched at the hay's start); it returns
	// the finding, with ev.Offset relative to h.b, or ok false.
	check func(r *rule, h hay, at int) (f finding, ok bool)
	lib   *library
	// requires names a rule (of any library) that must also have matched
	// for this rule's findings to count.
	requires string
}

// detectors is the table of all rules; the matcher is compiled from their
// anchors once.
type detectors struct {
	rules []*rule
	m     *matcher
}

func newDetectors(rules []*rule) *detectors {
	pats := make([]string, len(rules))
	for i, r := range rules {
		pats[i] = r.anchor
	}
	return &detectors{rules: rules, m: newMatcher(pats)}
}

// allDetectors holds every family's rules. It is built at package
// initialisation and never modified.
var allDetectors = newDetectors(concat(cRules, cppRules, mediaRules, rustRules, toolchainRules))

func concat(parts ...[]*rule) []*rule {
	var out []*rule
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// run searches every hay in one pass each and returns the findings (at
// most maxFindings).
func (d *detectors) run(hays []hay) []finding {
	var out []finding
	for _, h := range hays {
		d.m.scan(h.b, func(p, start int) bool {
			r := d.rules[p]
			f, ok := r.check(r, h, start)
			if !ok {
				return true
			}
			if f.lib == nil {
				f.lib = r.lib
			}
			if f.name == "" {
				f.name = f.lib.name
			}
			if f.conf == "" {
				f.conf = ConfidenceHigh
			}
			f.ev.Rule = r.name
			f.requires = r.requires
			f.ev.Location = h.loc
			f.ev.Offset += h.off
			out = append(out, f)
			return len(out) < maxFindings
		})
		if len(out) >= maxFindings {
			break
		}
	}
	return out
}

// resolve turns findings into components: one per library name and
// version, the evidence capped, candidates kept only when they are the
// library's single candidate version and the library is identified
// otherwise, and a versionless identification folded into the versioned
// component of the same library.
func resolve(fs []finding) []Component {
	type key struct{ name, version string }
	matched := map[*library]map[string]bool{}
	anyMatched := map[string]bool{}
	for _, f := range fs {
		if matched[f.lib] == nil {
			matched[f.lib] = map[string]bool{}
		}
		matched[f.lib][f.ev.Rule] = true
		anyMatched[f.ev.Rule] = true
	}
	kept := fs[:0:0]
	for _, f := range fs {
		ok := f.requires == "" || anyMatched[f.requires]
		for _, n := range f.lib.needs {
			ok = ok && matched[f.lib][n]
		}
		if ok {
			kept = append(kept, f)
		}
	}
	fs = kept
	identified := map[string]bool{}
	candidates := map[string]map[string]bool{}
	for _, f := range fs {
		if f.role == roleIdentify {
			identified[f.name] = true
		} else {
			if candidates[f.name] == nil {
				candidates[f.name] = map[string]bool{}
			}
			candidates[f.name][f.version] = true
		}
	}
	groups := map[key]*Component{}
	var order []key
	add := func(k key, f finding) {
		c, ok := groups[k]
		if !ok {
			if len(order) >= MaxDetected {
				return
			}
			c = &Component{Name: k.name, Version: k.version, Kind: KindDetected, Confidence: f.conf}
			if k.version != "" {
				c.Ecosystem = f.lib.ecosystem
			}
			c.PURL = f.lib.purl(k.name, k.version)
			c.Ref = c.PURL
			groups[k] = c
			order = append(order, k)
		}
		if rank(f.conf) > rank(c.Confidence) {
			c.Confidence = f.conf
		}
		if len(c.Evidence) < MaxEvidence && !hasEvidence(c.Evidence, f.ev) {
			c.Evidence = append(c.Evidence, f.ev)
		}
	}
	for _, f := range fs {
		if f.role == roleCandidate && (!identified[f.name] || len(candidates[f.name]) != 1) {
			continue
		}
		add(key{f.name, f.version}, f)
	}
	// Fold "library, version unknown" into the library's versioned
	// components: the evidence stays, the claim of a second copy goes.
	versioned := map[string][]*Component{}
	for _, k := range order {
		if k.version != "" {
			versioned[k.name] = append(versioned[k.name], groups[k])
		}
	}
	for _, k := range order {
		if k.version != "" || len(versioned[k.name]) == 0 {
			continue
		}
		v := versioned[k.name][0]
		for _, e := range groups[k].Evidence {
			if len(v.Evidence) < MaxEvidence && !hasEvidence(v.Evidence, e) {
				v.Evidence = append(v.Evidence, e)
			}
		}
	}
	var out []Component
	for _, k := range order {
		if k.version == "" && len(versioned[k.name]) > 0 {
			continue
		}
		out = append(out, *groups[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}

func rank(conf string) int {
	switch conf {
	case ConfidenceHigh:
		return 2
	case ConfidenceMedium:
		return 1
	}
	return 0
}

func hasEvidence(es []Evidence, e Evidence) bool {
	for _, x := range es {
		if x.Rule == e.Rule && x.Offset == e.Offset && x.Location == e.Location {
			return true
		}
	}
	return false
}

// evidenceText renders matched bytes for Evidence.Text: printable ASCII as
// is, other bytes as \xNN, at most maxEvidenceText bytes of output.
func evidenceText(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if sb.Len() >= maxEvidenceText {
			sb.WriteString("...")
			break
		}
		if c >= 0x20 && c < 0x7f && c != '\\' {
			sb.WriteByte(c)
			continue
		}
		const hexd = "0123456789abcdef"
		sb.WriteString(`\x`)
		sb.WriteByte(hexd[c>>4])
		sb.WriteByte(hexd[c&15])
	}
	return sb.String()
}

// Scanning helpers for checks: all bounded by the slice they are given.

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits returns the length of the run of ASCII digits at b[i:].
func digits(b []byte, i int) int {
	n := 0
	for i+n < len(b) && isDigit(b[i+n]) && n < 10 {
		n++
	}
	return n
}

// dottedVersion reads N(.N){min-1,} at b[i:] (at most 4 components) and
// returns its end, or -1. minParts is the fewest components accepted.
func dottedVersion(b []byte, i, minParts int) int {
	parts := 0
	j := i
	for parts < 4 {
		n := digits(b, j)
		if n == 0 {
			return -1
		}
		j += n
		parts++
		if j+1 < len(b) && b[j] == '.' && isDigit(b[j+1]) {
			j++
			continue
		}
		break
	}
	if parts < minParts {
		return -1
	}
	return j
}

// hasAt reports whether b[i:] starts with s.
func hasAt(b []byte, i int, s string) bool {
	return i >= 0 && i+len(s) <= len(b) && string(b[i:i+len(s)]) == s
}

// nulAt reports whether b[i] is NUL or i is b's end (a string's end).
func nulAt(b []byte, i int) bool { return i == len(b) || (i < len(b) && b[i] == 0) }

package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/wasmward/wasmward/internal/semver"
)

// OSV ecosystems wasmward matches.
const (
	EcosystemGo     = "Go"
	EcosystemCrates = "crates.io"
)

// maxAdvisoryFile caps the size of one OSV file read by LoadOSV.
const maxAdvisoryFile = 16 << 20

// Advisory is the part of an OSV record wasmward uses.
type Advisory struct {
	ID        string     `json:"id"`
	Aliases   []string   `json:"aliases,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Withdrawn string     `json:"withdrawn,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
	Affected  []Affected `json:"affected,omitempty"`
	// DatabaseSpecific carries e.g. {"severity": "HIGH"} in GitHub advisories.
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Severity is one OSV severity entry, e.g. {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/..."}.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected names a package and the versions an advisory affects.
type Affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl,omitempty"`
	} `json:"package"`
	Ranges   []Range  `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// Range is an OSV version range: events in version order.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Database is a set of OSV advisories indexed by package. It is read-only
// after LoadOSV and safe for concurrent use.
type Database struct {
	byPkg  map[string][]*Advisory // ecosystem + "\x00" + name
	byPURL map[string][]*Advisory // affected package purl without version
	count  int
}

// Len returns the number of advisories loaded.
func (db *Database) Len() int { return db.count }

// LoadOSV reads every *.json file under dir (recursively) as an OSV record
// (or a JSON array of records). Withdrawn advisories are skipped. A file
// that is not valid OSV JSON fails the load with its path.
func LoadOSV(dir string) (*Database, error) {
	db := &Database{byPkg: map[string][]*Advisory{}, byPURL: map[string][]*Advisory{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		advs, err := readAdvisoryFile(path)
		if err != nil {
			return err
		}
		for _, a := range advs {
			db.Add(a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load OSV advisories from %s: %w", dir, err)
	}
	return db, nil
}

func readAdvisoryFile(path string) ([]*Advisory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAdvisoryFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxAdvisoryFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxAdvisoryFile)
	}
	data = bytes.TrimSpace(data)
	var advs []*Advisory
	if len(data) > 0 && data[0] == '[' {
		err = json.Unmarshal(data, &advs)
	} else {
		var a Advisory
		err = json.Unmarshal(data, &a)
		advs = []*Advisory{&a}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not OSV JSON: %w", path, err)
	}
	for _, a := range advs {
		if a == nil || a.ID == "" {
			return nil, fmt.Errorf("%s: OSV record without an id", path)
		}
	}
	return advs, nil
}

// Add indexes one advisory. Withdrawn advisories are ignored.
func (db *Database) Add(a *Advisory) {
	if a.Withdrawn != "" {
		return
	}
	db.count++
	if db.byPkg == nil {
		db.byPkg, db.byPURL = map[string][]*Advisory{}, map[string][]*Advisory{}
	}
	seen := map[string]bool{}
	for _, af := range a.Affected {
		k := af.Package.Ecosystem + "\x00" + af.Package.Name
		if !seen[k] {
			seen[k] = true
			db.byPkg[k] = append(db.byPkg[k], a)
		}
		if p := purlBase(af.Package.PURL); p != "" && !seen["purl:"+p] {
			seen["purl:"+p] = true
			db.byPURL[p] = append(db.byPURL[p], a)
		}
	}
}

// purlBase returns the purl without version, qualifiers and subpath, in
// canonical form, or "" when s is not a purl.
func purlBase(s string) string {
	if s == "" {
		return ""
	}
	p, err := packageurl.FromString(s)
	if err != nil {
		return ""
	}
	p.Version, p.Qualifiers, p.Subpath = "", nil, ""
	return p.ToString()
}

// Vulnerability is an advisory matched against one component.
type Vulnerability struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	// Rating is "critical", "high", "medium", "low", "none" or "unknown".
	Rating string `json:"rating"`
	// Score is the CVSS v3 base score when the advisory has a vector, else 0.
	Score  float64 `json:"score,omitempty"`
	Vector string  `json:"vector,omitempty"`
	// Component is the Ref of the affected component.
	Component string `json:"component"`
	// Fixed lists versions that fix it, from the matching ranges.
	Fixed []string `json:"fixed,omitempty"`
}

// Match returns the advisories that affect c, in ID order. A component
// with an OSV ecosystem matches advisories naming its ecosystem and name; a
// component without one (C and C++ libraries identified from evidence)
// matches advisories whose affected package has its purl (type, namespace
// and name). Components without a version never match.
func (db *Database) Match(c Component) []Vulnerability {
	if db == nil || c.Version == "" {
		return nil
	}
	base := purlBase(c.PURL)
	cands := db.byPkg[c.Ecosystem+"\x00"+c.Name]
	if c.Ecosystem == "" {
		cands = db.byPURL[base]
	}
	var out []Vulnerability
	for _, a := range cands {
		var fixed []string
		hit := false
		for _, af := range a.Affected {
			if c.Ecosystem != "" && (af.Package.Ecosystem != c.Ecosystem || af.Package.Name != c.Name) {
				continue
			}
			if c.Ecosystem == "" && purlBase(af.Package.PURL) != base {
				continue
			}
			if ok, fx := affects(af, c.Version, c.Ecosystem != ""); ok {
				hit = true
				fixed = append(fixed, fx...)
			}
		}
		if !hit {
			continue
		}
		v := Vulnerability{ID: a.ID, Aliases: a.Aliases, Summary: a.Summary, Component: c.Ref, Fixed: fixed}
		v.Rating, v.Score, v.Vector = rate(a)
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// affects reports whether version is affected by af: listed in versions, or
// inside a SEMVER range, or an ECOSYSTEM range when ecosystemSemver says
// the ecosystem's versions are SemVer (Go and crates.io; not so for a
// purl match, whose advisory may be a distribution's). It also returns the
// fixed versions of the matching ranges.
func affects(af Affected, version string, ecosystemSemver bool) (bool, []string) {
	norm := strings.TrimPrefix(version, "v")
	for _, v := range af.Versions {
		if strings.TrimPrefix(v, "v") == norm {
			return true, nil
		}
	}
	sv, ok := semver.ParseLoose(norm)
	if !ok {
		return false, nil
	}
	for _, r := range af.Ranges {
		if r.Type != "SEMVER" && (r.Type != "ECOSYSTEM" || !ecosystemSemver) {
			continue // GIT ranges need commit history
		}
		if inRange(sv, r.Events) {
			var fixed []string
			for _, e := range r.Events {
				if e.Fixed != "" {
					fixed = append(fixed, e.Fixed)
				}
			}
			return true, fixed
		}
	}
	return false, nil
}

// inRange applies the OSV evaluation: walk the events in version order; an
// introduced at or below v marks it affected, a fixed or limit at or below v
// (or a last_affected below v) clears it. "0" is below every version.
// Events whose version does not parse are ignored.
func inRange(v semver.Version, events []Event) bool {
	type ev struct {
		kind byte // 'i', 'f', 'l' (last_affected), 'm' (limit)
		zero bool
		ver  semver.Version
	}
	evs := make([]ev, 0, len(events))
	for _, e := range events {
		var k byte
		var s string
		switch {
		case e.Introduced != "":
			k, s = 'i', e.Introduced
		case e.Fixed != "":
			k, s = 'f', e.Fixed
		case e.LastAffected != "":
			k, s = 'l', e.LastAffected
		case e.Limit != "":
			k, s = 'm', e.Limit
		default:
			continue
		}
		if k == 'i' && s == "0" {
			evs = append(evs, ev{kind: k, zero: true})
			continue
		}
		sv, ok := semver.ParseLoose(s)
		if !ok {
			continue
		}
		evs = append(evs, ev{kind: k, ver: sv})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.zero || b.zero {
			return a.zero && !b.zero
		}
		return a.ver.Compare(b.ver) < 0
	})
	affected := false
	for _, e := range evs {
		switch e.kind {
		case 'i':
			if e.zero || v.Compare(e.ver) >= 0 {
				affected = true
			}
		case 'f', 'm':
			if v.Compare(e.ver) >= 0 {
				affected = false
			}
		case 'l':
			if v.Compare(e.ver) > 0 {
				affected = false
			}
		}
	}
	return affected
}

// rate derives a rating from the advisory: a CVSS v3 vector's base score
// first, then database_specific.severity (GitHub's LOW/MODERATE/HIGH/CRITICAL).
func rate(a *Advisory) (rating string, score float64, vector string) {
	for _, s := range a.Severity {
		if s.Type != "CVSS_V3" {
			continue
		}
		if sc, err := cvss3Base(s.Score); err == nil {
			return ratingOf(sc), sc, s.Score
		}
	}
	if len(a.DatabaseSpecific) > 0 {
		var ds struct {
			Severity string `json:"severity"`
		}
		if json.Unmarshal(a.DatabaseSpecific, &ds) == nil {
			switch strings.ToUpper(ds.Severity) {
			case "CRITICAL":
				return "critical", 0, ""
			case "HIGH":
				return "high", 0, ""
			case "MODERATE", "MEDIUM":
				return "medium", 0, ""
			case "LOW":
				return "low", 0, ""
			}
		}
	}
	return "unknown", 0, ""
}

func ratingOf(score float64) string {
	switch {
	case score >= 9:
		return "critical"
	case score >= 7:
		return "high"
	case score >= 4:
		return "medium"
	case score > 0:
		return "low"
	}
	return "none"
}

// cvss3Base computes the CVSS v3.0/v3.1 base score of a vector string.
func cvss3Base(vector string) (float64, error) {
	parts := strings.Split(vector, "/")
	if len(parts) < 1 || !strings.HasPrefix(parts[0], "CVSS:3.") {
		return 0, errors.New("not a CVSS v3 vector")
	}
	m := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return 0, fmt.Errorf("bad metric %q", p)
		}
		m[k] = v
	}
	pick := func(key string, vals map[string]float64) (float64, error) {
		v, ok := vals[m[key]]
		if !ok {
			return 0, fmt.Errorf("metric %s: bad value %q", key, m[key])
		}
		return v, nil
	}
	changed := m["S"] == "C"
	if m["S"] != "C" && m["S"] != "U" {
		return 0, errors.New("metric S missing")
	}
	prVals := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	if changed {
		prVals = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
	}
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	var vals [7]float64
	for i, spec := range []struct {
		k string
		v map[string]float64
	}{
		{"AV", map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}},
		{"AC", map[string]float64{"L": 0.77, "H": 0.44}},
		{"PR", prVals},
		{"UI", map[string]float64{"N": 0.85, "R": 0.62}},
		{"C", cia}, {"I", cia}, {"A", cia},
	} {
		v, err := pick(spec.k, spec.v)
		if err != nil {
			return 0, err
		}
		vals[i] = v
	}
	iss := 1 - (1-vals[4])*(1-vals[5])*(1-vals[6])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	expl := 8.22 * vals[0] * vals[1] * vals[2] * vals[3]
	if impact <= 0 {
		return 0, nil
	}
	if changed {
		return roundUp(math.Min(1.08*(impact+expl), 10)), nil
	}
	return roundUp(math.Min(impact+expl, 10)), nil
}

// roundUp is CVSS v3.1's Roundup: the smallest one-decimal number >= x.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return (math.Floor(float64(i)/10000) + 1) / 10
}

// formatScore prints a score with one decimal.
func formatScore(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) }

package scan

import (
	"math"
	"math/bits"
	"strings"

	"github.com/wasmward/wasmward/internal/wasm"
)

// data applies the data-segment rules: size (WW401) and packed payloads (WW402).
func (s *scanner) data() {
	b := s.bounds
	for i, d := range s.m.Data {
		if len(d.Init) > b.MaxDataSegment {
			s.add(RuleLargeData, Medium, Location{Section: "data", Offset: d.InitOffset, Length: len(d.Init), Function: -1},
				"Data segment %d holds %d bytes, over the bound of %d.", i, len(d.Init), b.MaxDataSegment)
		}
	}
	s.payloads()
}

// shannon returns the entropy in bits per byte of a histogram of n bytes.
func shannon(hist *[256]int, n int) float64 {
	e := 0.0
	fn := float64(n)
	for _, c := range hist {
		if c == 0 {
			continue
		}
		p := float64(c) / fn
		e -= p * math.Log2(p)
	}
	return e
}

// MinerMarkers returns the strings WW403 looks for, case-insensitively, in
// data segments, custom sections (function names included) and import and
// export names.
func MinerMarkers() []string { return append([]string(nil), minerMarkers...) }

var minerMarkers = []string{
	"cryptonight", "coinhive", "coin-hive", "cryptoloot", "xmrig", "minergate",
	"stratum+tcp://", "stratum+ssl://", "stratum+tls://",
}

// markerMatcher finds markers case-insensitively in one pass. Each byte
// costs two table lookups: a candidate must match a marker's first and
// second byte (case-folded) before it is compared in full.
type markerMatcher struct {
	first, second [256]uint16 // bit k: marker k has this byte at position 0 / 1
	lower         []string
}

func newMarkerMatcher(markers []string) *markerMatcher {
	if len(markers) > 16 {
		panic("scan: at most 16 miner markers")
	}
	mm := &markerMatcher{}
	for k, m := range markers {
		l := strings.ToLower(m)
		mm.lower = append(mm.lower, l)
		for pos, tab := range []*[256]uint16{&mm.first, &mm.second} {
			c := l[pos]
			tab[c] |= 1 << k
			if 'a' <= c && c <= 'z' {
				tab[c-'a'+'A'] |= 1 << k
			}
		}
	}
	return mm
}

// each calls f with the marker index and position of every match in p.
func (mm *markerMatcher) each(p []byte, f func(marker, pos int)) {
	for i := 0; i+1 < len(p); i++ {
		cand := mm.first[p[i]] & mm.second[p[i+1]]
		for cand != 0 {
			k := bits.TrailingZeros16(cand)
			cand &^= 1 << k
			m := mm.lower[k]
			if len(p)-i >= len(m) && equalFoldASCII(p[i:i+len(m)], m) {
				f(k, i)
			}
		}
	}
}

// equalFoldASCII compares p with the lower-case ASCII string m.
func equalFoldASCII(p []byte, m string) bool {
	for j := 0; j < len(m); j++ {
		c := p[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != m[j] {
			return false
		}
	}
	return true
}

// markers applies WW403: one finding per marker found, at its first
// occurrence, with the number of occurrences.
func (s *scanner) markers() {
	mm := newMarkerMatcher(minerMarkers)
	type hit struct {
		loc   Location
		where string
		count int
	}
	hits := make([]*hit, len(minerMarkers))
	// One callback for every place; the place it reports is set before each
	// call of each, and its description is formatted only on a first hit
	// (a Go module has up to 100000 data segments). shift says whether the
	// match position moves the offset (bytes laid out verbatim in the file)
	// or not (names, reported at their entry).
	var (
		kind  string // "data segment", "custom section", "import", "export"
		index int    // data segment index
		name  string // section, import or export name
		loc   Location
		shift bool
	)
	match := func(k, pos int) {
		if hits[k] == nil {
			l := loc
			if shift && l.Offset >= 0 {
				l.Offset += pos
			}
			l.Length = len(minerMarkers[k])
			where := kind + " " + quote(name)
			if kind == "data segment" {
				where = kind + " " + itoa(index)
			}
			hits[k] = &hit{loc: l, where: where}
		}
		hits[k].count++
	}
	kind, shift = "data segment", true
	for i := range s.m.Data {
		d := &s.m.Data[i]
		if len(d.Init) == 0 {
			continue
		}
		index, loc = i, Location{Section: "data", Offset: d.InitOffset, Function: -1}
		mm.each(d.Init, match)
	}
	kind = "custom section"
	for _, sec := range s.m.Sections {
		if sec.ID != wasm.SectionCustom {
			continue
		}
		name, loc = sec.Name, Location{Section: "custom", Offset: sec.PayloadOffset, Function: -1}
		mm.each(sec.Payload, match)
	}
	kind, shift = "import", false
	for _, im := range s.m.Imports {
		name, loc = im.Module+"."+im.Name, Location{Section: "import", Offset: im.Offset, Function: -1}
		mm.each([]byte(name), match)
	}
	kind = "export"
	for _, e := range s.m.Exports {
		name, loc = e.Name, Location{Section: "export", Offset: e.Offset, Function: -1}
		mm.each([]byte(name), match)
	}
	for k, h := range hits {
		if h == nil {
			continue
		}
		s.add(RuleMinerMarker, High, h.loc, "Cryptominer marker %q found %d time(s), first in %s.", minerMarkers[k], h.count, h.where)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}

func quote(s string) string { return "\"" + s + "\"" }

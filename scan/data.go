package scan

import (
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmward/wasmward/internal/inspect"
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

// MinerMarkers returns the miner family names WW403 looks for,
// case-insensitively, in the names of code: function names (name
// section), imports and exports.
func MinerMarkers() []string { return append([]string(nil), minerMarkers...) }

var minerMarkers = []string{"cryptonight", "coinhive", "coin-hive", "cryptoloot", "xmrig", "minergate"}

// useMarkers are what WW403 looks for in data and custom sections: the
// start of a stratum pool URL and of a stratum method name. Each counts
// only in the context that makes it use (see poolURL and stratumMethod);
// a bare occurrence, such as a scanner's own marker list, does not.
var useMarkers = []string{"stratum+", "mining."}

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

// markers applies WW403. A marker string alone is not evidence: security
// tools (wasmward among them) carry marker lists as data. WW403 reports
// what means use:
//
//   - a stratum pool URL with a host and port (stratum+tcp://host:3333),
//     in data or a custom section;
//   - a stratum JSON-RPC call, "method" : "mining.<name>";
//   - a miner family name (cryptonight, coinhive, xmrig...) in the name of
//     code: a function name, an import or an export.
//
// One finding per kind of evidence, at its first occurrence, with a count.
func (s *scanner) markers() {
	type hit struct {
		loc   Location
		what  string
		where string
		count int
	}
	var hits []*hit
	byKey := map[string]*hit{}
	record := func(key, what, where string, loc Location) {
		h := byKey[key]
		if h == nil {
			h = &hit{loc: loc, what: what, where: where}
			byKey[key] = h
			hits = append(hits, h)
		}
		h.count++
	}
	mm := newMarkerMatcher(useMarkers)
	scanBytes := func(p []byte, base int, section, where func() string) {
		mm.each(p, func(k, pos int) {
			var n int
			var what string
			if k == 0 {
				n = poolURL(p[pos:])
				what = "stratum pool URL " + strconv.Quote(string(p[pos:pos+n]))
			} else {
				var start int
				start, n = stratumMethod(p, pos)
				if n > 0 {
					what = "stratum call " + strconv.Quote(string(p[start:start+n]))
					pos = start
				}
			}
			if n == 0 {
				return
			}
			key := "use" + strconv.Itoa(k)
			if byKey[key] == nil {
				record(key, what, where(), Location{Section: section(), Offset: base + pos, Length: n, Function: -1})
			} else {
				byKey[key].count++
			}
		})
	}
	for i := range s.m.Data {
		d := &s.m.Data[i]
		scanBytes(d.Init, d.InitOffset, func() string { return "data" }, func() string { return "data segment " + itoa(i) })
	}
	for _, sec := range s.m.Sections {
		if sec.ID == wasm.SectionCustom {
			scanBytes(sec.Payload, sec.PayloadOffset, func() string { return "custom" }, func() string { return "custom section " + quote(sec.Name) })
		}
	}
	family := func(name string) string {
		l := strings.ToLower(name)
		for _, m := range minerMarkers {
			if strings.Contains(l, m) {
				return m
			}
		}
		return ""
	}
	for _, im := range s.m.Imports {
		if m := family(im.Module + "." + im.Name); m != "" {
			record("name:"+m, "miner name "+quote(m), "import "+quote(im.Module+"."+im.Name), Location{Section: "import", Offset: im.Offset, Function: -1})
		}
	}
	for _, e := range s.m.Exports {
		if m := family(e.Name); m != "" {
			record("name:"+m, "miner name "+quote(m), "export "+quote(e.Name), Location{Section: "export", Offset: e.Offset, Function: -1})
		}
	}
	idx := make([]uint32, 0, len(s.names))
	for i := range s.names {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		if m := family(s.names[i]); m != "" {
			loc := s.funcLoc("code", s.codeOffset(i), i)
			if c := int(i) - s.nImpFunc; c >= 0 && c < len(s.m.Code) {
				loc.Length = inspect.EntrySize(s.m.Code[c])
			}
			record("name:"+m, "miner name "+quote(m), "function "+itoa(int(i))+" "+quote(s.names[i]), loc)
		}
	}
	for _, h := range hits {
		s.add(RuleMinerMarker, High, h.loc, "Cryptominer evidence: %s, %d time(s), first in %s.", h.what, h.count, h.where)
	}
}

// codeOffset is the offset of function idx's code entry, or -1 for an
// imported function.
func (s *scanner) codeOffset(idx uint32) int {
	i := int(idx) - s.nImpFunc
	if i < 0 || i >= len(s.m.Code) {
		return -1
	}
	return s.m.Code[i].Offset
}

// poolURL returns the length of a stratum pool URL at the start of p
// ("stratum+tcp://host:port", also ssl and tls), or 0: the scheme alone,
// as in a marker list, is not a URL.
func poolURL(p []byte) int {
	i := len("stratum+")
	var scheme bool
	for _, sc := range []string{"tcp://", "ssl://", "tls://"} {
		if len(p) >= i+len(sc) && equalFoldASCII(p[i:i+len(sc)], sc) {
			i += len(sc)
			scheme = true
			break
		}
	}
	if !scheme {
		return 0
	}
	host := i
	for i < len(p) && (isAlnum(p[i]) || p[i] == '.' || p[i] == '-' || p[i] == '%') {
		i++
	}
	if i-host < 1 || i >= len(p) || p[i] != ':' {
		return 0
	}
	i++
	port := i
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	if n := i - port; n < 2 || n > 5 {
		return 0
	}
	return i
}

// stratumMethod checks for a JSON-RPC stratum call around the "mining."
// at pos: "method" : "mining.<name>" (spaces allowed), and returns the
// call's start and length, or length 0.
func stratumMethod(p []byte, pos int) (int, int) {
	end := pos + len("mining.")
	name := end
	for end < len(p) && (isAlnum(p[end]) || p[end] == '_' || p[end] == '.') {
		end++
	}
	if end == name || end >= len(p) || p[end] != '"' {
		return 0, 0
	}
	j := pos - 1
	if j < 0 || p[j] != '"' {
		return 0, 0
	}
	j--
	for j >= 0 && (p[j] == ' ' || p[j] == '\t') {
		j--
	}
	if j < 0 || p[j] != ':' {
		return 0, 0
	}
	j--
	for j >= 0 && (p[j] == ' ' || p[j] == '\t') {
		j--
	}
	const key = `"method"`
	if j+1 < len(key) || string(p[j+1-len(key):j+1]) != key {
		return 0, 0
	}
	start := j + 1 - len(key)
	return start, end + 1 - start
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
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

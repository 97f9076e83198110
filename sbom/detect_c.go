package sbom

import "strconv"

// C and C++ libraries that write their version into their own read-only
// data, and how wasmward recognises them.

func generic(namespace string) func(name, version string) string {
	return func(name, version string) string { return purl("generic", namespace, name, version) }
}

func github(namespace, repo string) func(name, version string) string {
	return func(_, version string) string { return purl("github", namespace, repo, version) }
}

var (
	libSQLite    = &library{name: "sqlite", purl: generic(""), needs: []string{"sqlite-source-id", "sqlite-file-magic"}}
	libZlib      = &library{name: "zlib", purl: github("madler", "zlib")}
	libPNG       = &library{name: "libpng", purl: github("pnggroup", "libpng")}
	libJPEGTurbo = &library{name: "libjpeg-turbo", purl: github("libjpeg-turbo", "libjpeg-turbo")}
	libOpenSSL   = &library{name: "openssl", purl: generic("")}
	libDuckDB    = &library{name: "duckdb", purl: github("duckdb", "duckdb")}
	libICU       = &library{name: "icu", purl: github("unicode-org", "icu")}
)

// sqliteMinorLeast is the smallest SQLite 3 minor version taken: 3.7.0
// shipped in 2010, and Emscripten's "3.1.x" must not pass for SQLite.
const sqliteMinorLeast = 7

var cRules = append(sqliteSourceIDRules(), []*rule{
	// SQLite: the sqlite3_sourceid() string ("2023-03-22 11:56:21
	// 0d1fc92f...", with a "fts5: " prefix in some builds) identifies it;
	// the version is sqlite3_version[], a NUL-terminated "3.N.N" that the
	// linker places anywhere in the read-only data, taken only when it is
	// the only such string. The file header magic must be there too (DuckDB
	// carries it alone, to recognise SQLite files).
	{name: "sqlite-file-magic", lib: libSQLite, anchor: "SQLite format 3\x00", check: presence},
	{name: "sqlite-version", lib: libSQLite, anchor: "\x003.", check: checkSQLiteVersion},

	// zlib: inflate_copyright and deflate_copyright.
	{name: "zlib-inflate-banner", lib: libZlib, anchor: " inflate ", check: checkZlib},
	{name: "zlib-deflate-banner", lib: libZlib, anchor: " deflate ", check: checkZlib},

	// libpng: png_get_copyright's "libpng version 1.6.43".
	{name: "libpng-version-banner", lib: libPNG, anchor: "libpng version ", check: versionAfterAnchor(2, ConfidenceHigh)},

	// libjpeg-turbo: its version banner, else its copyright line
	// (JCOPYRIGHT_SHORT) without a version.
	{name: "libjpeg-turbo-version-banner", lib: libJPEGTurbo, anchor: "libjpeg-turbo version ", check: versionAfterAnchor(2, ConfidenceHigh)},
	{name: "libjpeg-turbo-copyright", lib: libJPEGTurbo, anchor: "The libjpeg-turbo Project", check: presence},

	// OpenSSL: OPENSSL_VERSION_TEXT, "OpenSSL 3.0.8 7 Feb 2023" (1.1.1
	// has two spaces before the day).
	{name: "openssl-version-banner", lib: libOpenSSL, anchor: "OpenSSL ", check: checkOpenSSL},

	// DuckDB: its C++ type names ("N6duckdb...", RTTI) identify it; a
	// "DuckDB v1.1.3" banner gives the version.
	{name: "duckdb-rtti", lib: libDuckDB, anchor: "N6duckdb", check: presence},
	{name: "duckdb-version-banner", lib: libDuckDB, anchor: "DuckDB v", check: checkDuckDBVersion},

	// ICU: the data package's path names its major version ("icudt78l/").
	{name: "icu-data-path", lib: libICU, anchor: "icudt", check: checkICU},
}...)

// sqliteSourceIDRules are the anchors of the source-id check: one per year,
// "2004-" to "2039-" (SQLite's source ids carry the check-in date).
func sqliteSourceIDRules() []*rule {
	var out []*rule
	for y := 2004; y <= 2039; y++ {
		out = append(out, &rule{name: "sqlite-source-id", lib: libSQLite, anchor: strconv.Itoa(y) + "-", check: checkSQLiteSourceID})
	}
	return out
}

// presence identifies the library, without a version, by the anchor alone.
func presence(r *rule, h hay, at int) (finding, bool) {
	s := max(at, 0)
	return finding{conf: ConfidenceMedium, ev: Evidence{Offset: s, Text: evidenceText(h.b[s : at+len(r.anchor)])}}, true
}

// versionAfterAnchor reads a dotted version of at least minParts
// components right after the anchor.
func versionAfterAnchor(minParts int, conf string) func(r *rule, h hay, at int) (finding, bool) {
	return func(r *rule, h hay, at int) (finding, bool) {
		vs := at + len(r.anchor)
		ve := dottedVersion(h.b, vs, minParts)
		if ve < 0 || (ve < len(h.b) && (isAlnum(h.b[ve]) || h.b[ve] == '-')) {
			return finding{}, false
		}
		return finding{version: string(h.b[vs:ve]), conf: conf, ev: Evidence{Offset: at, Text: evidenceText(h.b[at:ve])}}, true
	}
}

func isAlnum(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }

// checkSQLiteSourceID matches "YYYY-MM-DD HH:MM:SS " and at least 40 hex
// digits (SHA1 ids before 3.21, SHA3-256 after).
func checkSQLiteSourceID(r *rule, h hay, at int) (finding, bool) {
	b := h.b
	const layout = "dddd-dd-dd dd:dd:dd "
	if at+len(layout)+40 > len(b) {
		return finding{}, false
	}
	for i := 0; i < len(layout); i++ {
		c := b[at+i]
		if layout[i] == 'd' {
			if !isDigit(c) {
				return finding{}, false
			}
		} else if c != layout[i] {
			return finding{}, false
		}
	}
	j := at + len(layout)
	n := 0
	for j+n < len(b) && n < 80 && isHexLower(b[j+n]) {
		n++
	}
	if n < 40 || (j+n < len(b) && isAlnum(b[j+n])) {
		return finding{}, false
	}
	return finding{conf: ConfidenceMedium, ev: Evidence{Offset: at, Text: evidenceText(b[at : j+n])}}, true
}

func isHexLower(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') }

// checkSQLiteVersion matches a whole NUL-delimited "3.N.N" with N >= 7: a
// candidate, valid only next to a source id.
func checkSQLiteVersion(r *rule, h hay, at int) (finding, bool) {
	vs := at + 1
	ve := dottedVersion(h.b, vs, 3)
	if ve < 0 || !nulAt(h.b, ve) || ve-vs > 16 {
		return finding{}, false
	}
	minor := 0
	for i := vs + 2; i < ve && isDigit(h.b[i]); i++ {
		minor = minor*10 + int(h.b[i]-'0')
	}
	if minor < sqliteMinorLeast {
		return finding{}, false
	}
	return finding{version: string(h.b[vs:ve]), conf: ConfidenceHigh, role: roleCandidate,
		ev: Evidence{Offset: vs, Text: evidenceText(h.b[vs:ve])}}, true
}

// checkZlib matches " inflate 1.2.13 Copyright 1995-" (or deflate).
func checkZlib(r *rule, h hay, at int) (finding, bool) {
	vs := at + len(r.anchor)
	ve := dottedVersion(h.b, vs, 2)
	if ve < 0 {
		return finding{}, false
	}
	// zlib-ng and forks append a suffix: "1.3.0.zlib-ng".
	end := ve
	for end < len(h.b) && end-ve < 24 && h.b[end] != ' ' && h.b[end] != 0 {
		end++
	}
	if !hasAt(h.b, end, " Copyright 1995-") {
		return finding{}, false
	}
	textEnd := min(end+len(" Copyright 1995-")+4, len(h.b)) // and the year
	return finding{version: string(h.b[vs:ve]), ev: Evidence{Offset: at + 1, Text: evidenceText(h.b[at+1 : textEnd])}}, true
}

var months = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// checkOpenSSL matches "OpenSSL 3.0.8 7 Feb 2023" / "OpenSSL 1.1.1t  7 Feb 2023".
func checkOpenSSL(r *rule, h hay, at int) (finding, bool) {
	b := h.b
	vs := at + len(r.anchor)
	ve := dottedVersion(b, vs, 3)
	if ve < 0 {
		return finding{}, false
	}
	if ve < len(b) && b[ve] >= 'a' && b[ve] <= 'z' { // 1.1.1t
		ve++
	}
	j := ve
	sp := 0
	for j < len(b) && b[j] == ' ' && sp < 2 {
		j++
		sp++
	}
	d := digits(b, j)
	if sp == 0 || d == 0 || d > 2 || !hasAt(b, j+d, " ") {
		return finding{}, false
	}
	j += d + 1
	ok := false
	for _, m := range months {
		if hasAt(b, j, m+" ") {
			ok = true
			break
		}
	}
	if !ok || digits(b, j+4) != 4 {
		return finding{}, false
	}
	end := j + 8
	return finding{version: string(b[vs:ve]), ev: Evidence{Offset: at, Text: evidenceText(b[at:end])}}, true
}

// checkDuckDBVersion matches "DuckDB v1.1.3".
func checkDuckDBVersion(r *rule, h hay, at int) (finding, bool) {
	vs := at + len(r.anchor)
	ve := dottedVersion(h.b, vs, 3)
	if ve < 0 || (ve < len(h.b) && isAlnum(h.b[ve])) {
		return finding{}, false
	}
	return finding{version: string(h.b[vs:ve]), ev: Evidence{Offset: at, Text: evidenceText(h.b[at:ve])}}, true
}

// checkICU matches "icudt78l/" (or "b" for big-endian data): ICU is there;
// the data's major version goes into the evidence, not the component's
// version (ICU versions are MAJOR.MINOR).
func checkICU(r *rule, h hay, at int) (finding, bool) {
	j := at + len(r.anchor)
	d := digits(h.b, j)
	if d < 2 || d > 3 || j+d+1 >= len(h.b) || (h.b[j+d] != 'l' && h.b[j+d] != 'b') || h.b[j+d+1] != '/' {
		return finding{}, false
	}
	return finding{conf: ConfidenceMedium, ev: Evidence{Offset: at, Text: evidenceText(h.b[at : j+d+2])}}, true
}

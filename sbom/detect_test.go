package sbom

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/internal/modview"
	"github.com/wasmward/wasmward/internal/wasm"
)

const sqliteSourceID = "2023-03-22 11:56:21 0d1fc92f94cb6b76bffe3ec34d69cffde2924203304e8ffc4155597af0c191da"

// detected reads bin and returns its components identified from evidence.
func detected(t *testing.T, bin []byte) []Component {
	t.Helper()
	inv, err := Read("m.wasm", bin)
	if err != nil {
		t.Fatal(err)
	}
	var out []Component
	for _, c := range inv.Components {
		if c.Kind == KindDetected {
			out = append(out, c)
		}
	}
	return out
}

// ev is an expected piece of evidence: its offset is where text first
// occurs in the module (after skip bytes), found independently of the
// detector.
type ev struct {
	rule, loc, text string
}

func producers(field, name, version string) string {
	b := wasm.AppendU32(nil, 1)
	b = wasm.AppendName(b, field)
	b = wasm.AppendU32(b, 1)
	b = wasm.AppendName(b, name)
	return string(wasm.AppendName(b, version))
}

func TestDetectBanners(t *testing.T) {
	type want struct {
		name, version, purl, ecosystem, conf string
		evidence                             []ev
	}
	for _, tc := range []struct {
		name    string
		segs    []string
		customs []string
		want    []want
	}{
		{"sqlite", []string{"3.41.2\x00{}\x00json_pretty", "illa\x00fts5: " + sqliteSourceID + "\x00n/a", "_ptr\x00SQLite format 3\x00\x00DUCK"}, nil,
			[]want{{"sqlite", "3.41.2", "pkg:generic/sqlite@3.41.2", "", ConfidenceHigh, []ev{
				{"sqlite-version", "data", "3.41.2"}, {"sqlite-source-id", "data", sqliteSourceID}, {"sqlite-file-magic", "data", "SQLite format 3\\x00"}}}}},
		{"zlib", []string{"x\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00y", "\x00 deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler \x00"}, nil,
			[]want{{"zlib", "1.2.13", "pkg:github/madler/zlib@1.2.13", "", ConfidenceHigh, []ev{
				{"zlib-inflate-banner", "data", "inflate 1.2.13 Copyright 1995-2022"}, {"zlib-deflate-banner", "data", "deflate 1.2.13 Copyright 1995-2022"}}}}},
		{"zlib in a custom section", nil, []string{"rodata", "\x00 inflate 1.3.1 Copyright 1995-2024 Mark Adler \x00"},
			[]want{{"zlib", "1.3.1", "pkg:github/madler/zlib@1.3.1", "", ConfidenceHigh, []ev{{"zlib-inflate-banner", "custom:rodata", "inflate 1.3.1 Copyright 1995-2024"}}}}},
		{"libpng", []string{"\n libpng version 1.6.43\n Copyright (c) 2018-2024 Cosmin Truta\n"}, nil,
			[]want{{"libpng", "1.6.43", "pkg:github/pnggroup/libpng@1.6.43", "", ConfidenceHigh, []ev{{"libpng-version-banner", "data", "libpng version 1.6.43"}}}}},
		{"libjpeg-turbo", []string{"libjpeg-turbo version 3.1.0 (build 20241108)\x00", "Copyright (C) 1991-2024 The libjpeg-turbo Project and many others"}, nil,
			[]want{{"libjpeg-turbo", "3.1.0", "pkg:github/libjpeg-turbo/libjpeg-turbo@3.1.0", "", ConfidenceHigh, []ev{
				{"libjpeg-turbo-version-banner", "data", "libjpeg-turbo version 3.1.0"}, {"libjpeg-turbo-copyright", "data", "The libjpeg-turbo Project"}}}}},
		{"openssl 3", []string{"\x00OpenSSL 3.0.8 7 Feb 2023\x00"}, nil,
			[]want{{"openssl", "3.0.8", "pkg:generic/openssl@3.0.8", "", ConfidenceHigh, []ev{{"openssl-version-banner", "data", "OpenSSL 3.0.8 7 Feb 2023"}}}}},
		{"openssl 1.1.1", []string{"\x00OpenSSL 1.1.1t  7 Feb 2023\x00"}, nil,
			[]want{{"openssl", "1.1.1t", "pkg:generic/openssl@1.1.1t", "", ConfidenceHigh, []ev{{"openssl-version-banner", "data", "OpenSSL 1.1.1t  7 Feb 2023"}}}}},
		{"ffmpeg", []string{"100\x00Lavu57.28.100\x00Lavc59.37.100\x00Lavf/59.27.100\x00"}, nil,
			[]want{
				{"libavcodec", "59.37.100", "pkg:generic/ffmpeg/libavcodec@59.37.100", "", ConfidenceHigh, []ev{{"libavcodec-ident", "data", "Lavc59.37.100"}}},
				{"libavutil", "57.28.100", "pkg:generic/ffmpeg/libavutil@57.28.100", "", ConfidenceHigh, []ev{{"libavutil-ident", "data", "Lavu57.28.100"}}},
			}},
		{"libvpx", []string{"WebM Project VP9 Encoder v1.13.1\x00"}, nil,
			[]want{{"libvpx", "1.13.1", "pkg:github/webmproject/libvpx@1.13.1", "", ConfidenceHigh, []ev{{"libvpx-codec-name", "data", "WebM Project VP9 Encoder v1.13.1"}}}}},
		{"duckdb", []string{"N6duckdb9ExceptionE\x00", "DuckDB v1.1.3\x00"}, nil,
			[]want{{"duckdb", "1.1.3", "pkg:github/duckdb/duckdb@1.1.3", "", ConfidenceHigh, []ev{{"duckdb-version-banner", "data", "DuckDB v1.1.3"}, {"duckdb-rtti", "data", "N6duckdb"}}}}},
		{"rust crates", []string{
			"/cargo/registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.108/src/de.rs\x00",
			"/home/u/.cargo/registry/src/github.com-1ecc6299db9ec823/wasm-bindgen-futures-0.4.50/src/lib.rs",
			"/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/foo-bar-1.0.0-rc.1/src/x.rs",
			"/cargo/registry/src/my-registry-abcdef/internal-2.0.0/src/lib.rs",
			"/rust/deps/dlmalloc-0.2.6/src/dlmalloc.rs"}, nil,
			[]want{
				{"dlmalloc", "0.2.6", "pkg:cargo/dlmalloc@0.2.6", EcosystemCrates, ConfidenceMedium, []ev{{"rust-std-deps-path", "data", "rust/deps/dlmalloc-0.2.6/"}}},
				{"foo-bar", "1.0.0-rc.1", "pkg:cargo/foo-bar@1.0.0-rc.1", EcosystemCrates, ConfidenceMedium, []ev{{"cargo-registry-path", "data", "registry/src/index.crates.io-1949cf8c6b5b557f/foo-bar-1.0.0-rc.1/"}}},
				{"internal", "2.0.0", "pkg:cargo/internal@2.0.0", "", ConfidenceMedium, []ev{{"cargo-registry-path", "data", "registry/src/my-registry-abcdef/internal-2.0.0/"}}},
				{"serde_json", "1.0.108", "pkg:cargo/serde_json@1.0.108", EcosystemCrates, ConfidenceMedium, []ev{{"cargo-registry-path", "data", "registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.108/"}}},
				{"wasm-bindgen-futures", "0.4.50", "pkg:cargo/wasm-bindgen-futures@0.4.50", EcosystemCrates, ConfidenceMedium, []ev{{"cargo-registry-path", "data", "registry/src/github.com-1ecc6299db9ec823/wasm-bindgen-futures-0.4.50/"}}},
			}},
		{"wasm-bindgen from producers", nil, []string{"producers", producers("processed-by", "wasm-bindgen", "0.2.92 (2a4a49362)")},
			[]want{{"wasm-bindgen", "0.2.92", "pkg:cargo/wasm-bindgen@0.2.92", EcosystemCrates, ConfidenceHigh, []ev{{"wasm-bindgen-producers", "producers", "processed-by wasm-bindgen 0.2.92 (2a4a49362)"}}}}},
		{"emscripten uname", []string{"shorten\x00emscripten\x00Emscripten\x00CT", "#404040\x003.1.40\x00AAL2"}, nil,
			[]want{{"emscripten", "3.1.40", "pkg:github/emscripten-core/emscripten@3.1.40", "", ConfidenceMedium, []ev{
				{"emscripten-uname-release", "data", "3.1.40"}, {"emscripten-uname", "data", "\\x00emscripten\\x00Emscripten\\x00"}}}}},
		{"sqlite with two version candidates", []string{"3.41.2\x00", "\x003.42.0\x00", sqliteSourceID + "\x00", "SQLite format 3\x00"}, nil,
			[]want{{"sqlite", "", "pkg:generic/sqlite", "", ConfidenceMedium, []ev{{"sqlite-source-id", "data", sqliteSourceID}, {"sqlite-file-magic", "data", "SQLite format 3\\x00"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs := make([][]byte, len(tc.segs))
			for i, s := range tc.segs {
				segs[i] = []byte(s)
			}
			bin := synth.Data(segs, tc.customs...)
			got := detected(t, bin)
			if len(got) != len(tc.want) {
				t.Fatalf("detected %d components, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Name != w.name || g.Version != w.version || g.PURL != w.purl || g.Ref != w.purl || g.Ecosystem != w.ecosystem || g.Confidence != w.conf {
					t.Errorf("component %d = %s %s %s eco=%q conf=%s, want %s %s %s eco=%q conf=%s", i, g.Name, g.Version, g.PURL, g.Ecosystem, g.Confidence,
						w.name, w.version, w.purl, w.ecosystem, w.conf)
				}
				var wantEv []Evidence
				for _, e := range w.evidence {
					off := -1
					if e.loc != "producers" {
						raw := strings.NewReplacer(`\x00`, "\x00").Replace(e.text)
						off = bytes.Index(bin, []byte(raw))
						if off < 0 {
							t.Fatalf("test bug: %q not in the module", e.text)
						}
					}
					wantEv = append(wantEv, Evidence{Rule: e.rule, Location: e.loc, Offset: off, Text: e.text})
				}
				if !reflect.DeepEqual(g.Evidence, wantEv) {
					t.Errorf("%s evidence =\n%+v\nwant\n%+v", g.Name, g.Evidence, wantEv)
				}
			}
		})
	}
}

// TestDetectNegative: text that resembles a banner but is not one yields
// no component.
func TestDetectNegative(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs []string
	}{
		{"zlib banner split by unrelated text", []string{"\x00 inflate 1.2.13 is fast\x00 Copyright 1995-2022 Mark Adler"}},
		{"zlib banner split across segments", []string{"x inflate 1.2.13", " Copyright 1995-2022 Mark Adler"}},
		{"sqlite version without its source id", []string{"3.41.2\x00{}\x00", "\x003.41.2\x00"}},
		{"sqlite magic and version without its source id", []string{"3.41.2\x00", "SQLite format 3\x00"}},
		{"sqlite source id without the file magic", []string{"3.41.2\x00", sqliteSourceID + "\x00"}},
		{"SPDX license names", []string{"PNG Reference Library version 2libpng-2.0\x00bzip2-1.0.6\x00zlib/libpng License"}},
		{"libpng version without a number", []string{"libpng version %s\x00"}},
		{"ffmpeg ident not NUL-delimited", []string{"\x00Lavc59.37.100abc\x00", "xLavf59.27.100\x00"}},
		{"openssl without a date", []string{"OpenSSL 3.0.8\x00", "OpenSSL 3.0.8 is great"}},
		{"emscripten release without uname", []string{"\x003.1.71\x00"}},
		{"crate directory without a version", []string{"/registry/src/index.crates.io-6f17d22bba15001f/foo-bar/src/lib.rs", "/registry/src/index.crates.io-6f17d22bba15001f/x-1.2/src"}},
		{"source-id-like date with short hash", []string{"2023-03-22 11:56:21 0d1fc92f\x00SQLite format 3\x00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs := make([][]byte, len(tc.segs))
			for i, s := range tc.segs {
				segs[i] = []byte(s)
			}
			if got := detected(t, synth.Data(segs)); len(got) != 0 {
				t.Errorf("detected %+v", got)
			}
		})
	}
}

// TestDetectCaps: evidence per component and components per module are
// capped whatever the module repeats.
func TestDetectCaps(t *testing.T) {
	seg := bytes.Repeat([]byte("\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler "), 100)
	got := detected(t, synth.Data([][]byte{seg}))
	if len(got) != 1 || len(got[0].Evidence) != MaxEvidence {
		t.Fatalf("zlib repeated: %d components, evidence %+v", len(got), got)
	}
	var crates bytes.Buffer
	for i := 0; i < MaxDetected+50; i++ {
		fmt.Fprintf(&crates, "/registry/src/index.crates.io-6f17d22bba15001f/crate%d-1.0.%d/src/lib.rs\x00", i, i)
	}
	got = detected(t, synth.Data([][]byte{crates.Bytes()}))
	if len(got) != MaxDetected {
		t.Fatalf("%d crates detected, want the cap %d", len(got), MaxDetected)
	}
}

// hostileSegment is n bytes of anchors and near-misses: every rule's
// anchor followed by text that fails its check, repeated.
func hostileSegment(n int) []byte {
	var unit bytes.Buffer
	for _, r := range allDetectors.rules {
		unit.WriteString(r.anchor)
		unit.WriteString("9999.x ")
	}
	return bytes.Repeat(unit.Bytes(), n/unit.Len()+1)[:n]
}

// TestDetectHostileSpeed: a 30 MB data segment made of nothing but anchors
// and near-misses is searched in one pass; only the libraries whose anchor
// alone identifies them are reported, without a version, with capped
// evidence.
func TestDetectHostileSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("30 MB")
	}
	bin := synth.Data([][]byte{hostileSegment(30 << 20)})
	m, err := wasm.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	inv, err := Extract(viewOf(m))
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// Anchors alone identify some libraries (a C++ namespace, a source
	// path); no near-miss may produce a version.
	for _, c := range inv.Components {
		if c.Version != "" || c.Confidence != ConfidenceMedium || len(c.Evidence) != MaxEvidence {
			t.Errorf("%s: version %q, confidence %s, %d pieces of evidence", c.Name, c.Version, c.Confidence, len(c.Evidence))
		}
	}
	t.Logf("30 MB of anchors and near-misses: %v", took)
	if took > 10*time.Second {
		t.Errorf("detection took %v on 30 MB", took)
	}
}

// BenchmarkDetect30MB measures evidence detection on a 30 MB data segment
// of ordinary text with one banner at its end.
func BenchmarkDetect30MB(b *testing.B) {
	text := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog 2024-01-02 version 1.2.3\x00"), (30<<20)/70)
	text = append(text, " inflate 1.2.13 Copyright 1995-2022 Mark Adler "...)
	bin := synth.Data([][]byte{text})
	m, err := wasm.Decode(bin)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv, _ := Extract(viewOf(m))
		if len(inv.Components) != 1 {
			b.Fatalf("components %+v", inv.Components)
		}
	}
}

func viewOf(m *wasm.Module) Decoded { return modview.Of(m) }

// TestOSVMatchDetected: components identified from evidence take part in
// OSV matching: a crate from a registry path by its crates.io name, a C
// library by the purl of the advisory's affected package (SEMVER ranges
// only: a distribution's ECOSYSTEM range is not SemVer).
func TestOSVMatchDetected(t *testing.T) {
	db, err := LoadOSV("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, seg string
		want      string
	}{
		{"zlib before the fix", "\x00 inflate 1.2.12 Copyright 1995-2022 Mark Adler \x00", "CVE-TEST-ZLIB/pkg:github/madler/zlib@1.2.12/critical"},
		{"zlib fixed", "\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00", ""},
		{"crate from a panic path", "/cargo/registry/src/index.crates.io-6f17d22bba15001f/smallvec-1.6.0/src/lib.rs", "RUSTSEC-TEST-0001/pkg:cargo/smallvec@1.6.0/critical"},
		{"crate from another registry", "/cargo/registry/src/my-registry-abcdef/smallvec-1.6.0/src/lib.rs", ""},
	} {
		inv, err := Read("m.wasm", synth.Data([][]byte{[]byte(tc.seg)}))
		if err != nil {
			t.Fatal(err)
		}
		inv.MatchOSV(db)
		var got []string
		for _, v := range inv.Vulnerabilities {
			got = append(got, v.ID+"/"+v.Component+"/"+v.Rating)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: vulnerabilities %v, want %q", tc.name, got, tc.want)
		}
	}
}

package sbom

import (
	"bytes"
	"compress/zlib"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/internal/semver"
)

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// FuzzParseCargoAuditable checks that hostile .dep-v0 content yields an
// error or a graph whose root comes first, never a panic.
func FuzzParseCargoAuditable(f *testing.F) {
	for _, s := range []string{
		`{"packages":[{"name":"a","version":"1.0.0","source":"crates.io","root":true}]}`,
		`{"packages":[{"name":"a","version":"1","root":true,"dependencies":[1]},{"name":"b","version":"2","dependencies":[0]}]}`,
		`{"packages":[{"name":"a","version":"1","root":true,"dependencies":[-1]}]}`,
		`{"packages":[]}`, `null`, `[`,
	} {
		f.Add(deflate([]byte(s)))
	}
	f.Add([]byte("not zlib"))
	f.Fuzz(func(t *testing.T, data []byte) {
		comps, err := ParseCargoAuditable(data)
		if err == nil && (len(comps) == 0 || comps[0].Kind != KindMain) {
			t.Fatalf("accepted without a root first: %+v", comps)
		}
	})
}

// FuzzSemver checks that comparison is antisymmetric and parsing never panics.
func FuzzSemver(f *testing.F) {
	f.Add("1.2.3", "1.2.3-rc.1")
	f.Add("v0.0.0-20230101-abc", "0.0.0")
	f.Add("1.10", "1.9.9")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, oka := semver.ParseLoose(a)
		vb, okb := semver.ParseLoose(b)
		if oka && okb && va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("compare(%q, %q) not antisymmetric", a, b)
		}
	})
}

// FuzzDetect checks that evidence detection on arbitrary data segments
// never panics and reports evidence inside the module, within the caps.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		"\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00",
		"3.41.2\x00SQLite format 3\x00" + "2023-03-22 11:56:21 0d1fc92f94cb6b76bffe3ec34d69cffde2924203",
		"/cargo/registry/src/index.crates.io-6f17d22bba15001f/a-1.0.0-",
		"\x00emscripten\x00Emscripten\x00\x003.1.", "\x00Lavc59.", "OpenSSL 1.1.1t  7 Feb 20", "icudt7", "Shaper: FriBidi 1.",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bin := synth.Data([][]byte{data, data})
		inv, err := Read("f.wasm", bin)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Components) > MaxDetected {
			t.Fatalf("%d components", len(inv.Components))
		}
		for _, c := range inv.Components {
			if len(c.Evidence) > MaxEvidence || c.PURL == "" {
				t.Fatalf("component %+v", c)
			}
			for _, e := range c.Evidence {
				if e.Offset < -1 || e.Offset >= len(bin) {
					t.Fatalf("evidence offset %d outside the %d-byte module", e.Offset, len(bin))
				}
			}
		}
	})
}

package sbom

import (
	"bytes"
	"compress/zlib"
	"testing"

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

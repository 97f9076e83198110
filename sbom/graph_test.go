package sbom

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fixture/synth"
)

// graphJSON returns the BOM's "dependencies" and "compositions" as compact
// JSON ("null" when absent).
func graphJSON(t *testing.T, name string, bin []byte) (deps, comps string) {
	t.Helper()
	inv, err := Read(name, bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCycloneDX(&buf, inv, "test"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Dependencies json.RawMessage `json:"dependencies"`
		Compositions json.RawMessage `json:"compositions"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	compact := func(r json.RawMessage) string {
		if r == nil {
			return "null"
		}
		var b bytes.Buffer
		if err := json.Compact(&b, r); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	return compact(doc.Dependencies), compact(doc.Compositions)
}

// TestDependencyGraph: the graph states only what was observed. A module
// without metadata has no dependency entry (an entry without dependsOn
// would claim "no dependencies"); Go build info gives the module set, so
// main depends on all of it and the others' dependencies are unknown;
// cargo-auditable gives the whole crate graph, complete.
func TestDependencyGraph(t *testing.T) {
	goInv, err := readFixture(t, "sbom_dep")
	if err != nil {
		t.Fatal(err)
	}
	std := "pkg:golang/stdlib@" + strings.TrimPrefix(goInv.GoVersion, "go")
	for _, tc := range []struct {
		name        string
		bin         []byte
		deps, comps string
	}{
		{"no metadata", synth.Module(1, []byte{0x0b}, nil),
			`null`,
			`[{"aggregate":"unknown","assemblies":["module"]},{"aggregate":"unknown","dependencies":["module"]}]`},
		{"Go build info", fixture.Bytes(t, "sbom_dep"),
			`[{"ref":"module","dependsOn":["pkg:golang/example.com/sbom_dep"]},` +
				`{"ref":"pkg:golang/example.com/sbom_dep","dependsOn":["` + std + `","pkg:golang/github.com/google/uuid@v1.6.0"]}]`,
			`[{"aggregate":"incomplete","assemblies":["module"]},` +
				`{"aggregate":"incomplete","dependencies":["module","pkg:golang/example.com/sbom_dep"]},` +
				`{"aggregate":"unknown","dependencies":["` + std + `","pkg:golang/github.com/google/uuid@v1.6.0"]}]`},
		{"cargo-auditable", fixture.Bytes(t, "sbom_cargo"),
			`[{"ref":"module","dependsOn":["pkg:cargo/sbom_cargo_demo@0.1.0"]},` +
				`{"ref":"pkg:cargo/sbom_cargo_demo@0.1.0","dependsOn":["pkg:cargo/cc@1.0.83","pkg:cargo/libc@0.2.150","pkg:cargo/smallvec@1.6.0"]},` +
				`{"ref":"pkg:cargo/smallvec@1.6.0"},{"ref":"pkg:cargo/libc@0.2.150"},` +
				`{"ref":"pkg:cargo/cc@1.0.83","dependsOn":["pkg:cargo/libc@0.2.150"]}]`,
			`[{"aggregate":"incomplete","assemblies":["module"]},` +
				`{"aggregate":"complete","dependencies":["pkg:cargo/sbom_cargo_demo@0.1.0","pkg:cargo/smallvec@1.6.0","pkg:cargo/libc@0.2.150","pkg:cargo/cc@1.0.83"]},` +
				`{"aggregate":"incomplete","dependencies":["module"]}]`},
		{"evidence only", synth.Data([][]byte{[]byte("\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00")}),
			`[{"ref":"module","dependsOn":["pkg:github/madler/zlib@1.2.13"]}]`,
			`[{"aggregate":"incomplete","assemblies":["module"]},` +
				`{"aggregate":"incomplete","dependencies":["module"]},` +
				`{"aggregate":"unknown","dependencies":["pkg:github/madler/zlib@1.2.13"]}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deps, comps := graphJSON(t, tc.name, tc.bin)
			if deps != tc.deps {
				t.Errorf("dependencies =\n%s\nwant\n%s", deps, tc.deps)
			}
			if comps != tc.comps {
				t.Errorf("compositions =\n%s\nwant\n%s", comps, tc.comps)
			}
		})
	}
}

// goModule is a module whose data segment carries Go build info text.
func goModule(modinfo string) []byte {
	seg := append(append(append([]byte("x"), goInfoStart...), modinfo...), goInfoEnd...)
	return synth.Data([][]byte{seg})
}

// TestPURLEncoding: every purl part is percent-encoded by the purl library:
// "+" in versions (+incompatible, +dirty) is %2B, a scope's "@" is %40.
func TestPURLEncoding(t *testing.T) {
	for _, tc := range []struct{ typ, ns, name, version, want string }{
		{"golang", "github.com/docker", "docker", "v20.10.24+incompatible", "pkg:golang/github.com/docker/docker@v20.10.24%2Bincompatible"},
		{"golang", "example.com", "m", "v0.0.0-20240101000000-abcdef123456+dirty", "pkg:golang/example.com/m@v0.0.0-20240101000000-abcdef123456%2Bdirty"},
		{"golang", "github.com/Azure/go-autorest", "autorest", "v0.11.29", "pkg:golang/github.com/Azure/go-autorest/autorest@v0.11.29"},
		{"cargo", "", "foo", "1.0.0+build.5", "pkg:cargo/foo@1.0.0%2Bbuild.5"},
		{"npm", "@duckdb", "duckdb-wasm", "1.32.0", "pkg:npm/%40duckdb/duckdb-wasm@1.32.0"},
		{"generic", "", "sqlite", "3.41.2", "pkg:generic/sqlite@3.41.2"},
		{"generic", "", "odd name", "1 2", "pkg:generic/odd%20name@1%202"},
	} {
		if got := purl(tc.typ, tc.ns, tc.name, tc.version); got != tc.want {
			t.Errorf("purl(%s, %s, %s, %s) = %s, want %s", tc.typ, tc.ns, tc.name, tc.version, got, tc.want)
		}
	}

	// The same through the readers: Go build info and cargo-auditable.
	bin := goModule("path\texample.com/app\nmod\texample.com/app\tv1.0.0+dirty\t\n" +
		"dep\tgithub.com/docker/docker\tv20.10.24+incompatible\th1:abc=\n" +
		"dep\tgithub.com/old/thing\tv1.0.0\th1:def=\n=>\tgithub.com/New/Thing\tv1.1.0+incompatible\th1:ghi=\n")
	inv, err := Read("go.wasm", bin)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range inv.Components {
		got = append(got, c.PURL)
	}
	want := "pkg:golang/example.com/app@v1.0.0%2Bdirty pkg:golang/github.com/docker/docker@v20.10.24%2Bincompatible pkg:golang/github.com/New/Thing@v1.1.0%2Bincompatible"
	if strings.Join(got, " ") != want {
		t.Errorf("Go purls = %v, want %s", got, want)
	}
	comps, err := ParseCargoAuditable(deflate([]byte(`{"packages":[{"name":"app","version":"0.1.0+dirty","source":"local","root":true}]}`)))
	if err != nil || len(comps) != 1 || comps[0].PURL != "pkg:cargo/app@0.1.0%2Bdirty" {
		t.Errorf("cargo purl = %+v, %v", comps, err)
	}
}

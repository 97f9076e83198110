package sbom

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/semver"
)

// The sbom_cargo* fixtures are derived from sbom_cargo_base.wasm by the
// generator internal/fixture/src/gen/sbom_cargo; rebuild with
// scripts/build-fixtures.sh sbom_cargo_base sbom_cargo.

func readFixture(t *testing.T, name string) (*Inventory, error) {
	t.Helper()
	return Read(name+".wasm", fixture.Bytes(t, name))
}

func byRef(inv *Inventory) map[string]Component {
	m := map[string]Component{}
	for _, c := range inv.Components {
		m[c.Ref] = c
	}
	return m
}

func TestGoBuildInfo(t *testing.T) {
	inv, err := readFixture(t, "sbom_dep")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(inv.GoVersion, "go1.") {
		t.Fatalf("GoVersion = %q", inv.GoVersion)
	}
	if inv.GoBuildInfoOffset <= 0 {
		t.Fatalf("GoBuildInfoOffset = %d", inv.GoBuildInfoOffset)
	}
	stdVer := strings.TrimPrefix(inv.GoVersion, "go")
	want := []Component{
		{Ref: "pkg:golang/example.com/sbom_dep", Name: "example.com/sbom_dep", PURL: "pkg:golang/example.com/sbom_dep", Kind: KindMain},
		{Ref: "pkg:golang/stdlib@" + stdVer, Name: "stdlib", Version: stdVer, Ecosystem: EcosystemGo, PURL: "pkg:golang/stdlib@" + stdVer, Kind: KindStdlib},
		{Ref: "pkg:golang/github.com/google/uuid@v1.6.0", Name: "github.com/google/uuid", Version: "v1.6.0", Ecosystem: EcosystemGo,
			PURL: "pkg:golang/github.com/google/uuid@v1.6.0", Kind: KindDependency, Hash: "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="},
	}
	if len(inv.Components) != len(want) {
		t.Fatalf("components = %+v", inv.Components)
	}
	for i, w := range want {
		g := inv.Components[i]
		deps := g.DependsOn
		g.DependsOn = nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("component %d = %+v, want %+v", i, g, w)
		}
		if i == 0 && strings.Join(deps, " ") != want[1].Ref+" "+want[2].Ref {
			t.Errorf("main depends on %v", deps)
		}
	}
	var tools []string
	for _, tl := range inv.Tools {
		tools = append(tools, tl.Field+"="+tl.Name+"@"+tl.Version)
	}
	if got := strings.Join(tools, ","); got != "language=Go@"+inv.GoVersion+",processed-by=Go cmd/compile@"+inv.GoVersion {
		t.Errorf("tools = %s", got)
	}
}

func TestCargoAuditable(t *testing.T) {
	inv, err := readFixture(t, "sbom_cargo")
	if err != nil {
		t.Fatal(err)
	}
	got := byRef(inv)
	if len(got) != 4 || inv.Components[0].Ref != "pkg:cargo/sbom_cargo_demo@0.1.0" {
		t.Fatalf("components = %+v", inv.Components)
	}
	root := got["pkg:cargo/sbom_cargo_demo@0.1.0"]
	if root.Kind != KindMain || root.Ecosystem != "" || root.Source != "local" ||
		strings.Join(root.DependsOn, " ") != "pkg:cargo/cc@1.0.83 pkg:cargo/libc@0.2.150 pkg:cargo/smallvec@1.6.0" {
		t.Errorf("root = %+v", root)
	}
	if c := got["pkg:cargo/smallvec@1.6.0"]; c.Kind != KindDependency || c.Ecosystem != EcosystemCrates || c.Version != "1.6.0" {
		t.Errorf("smallvec = %+v", c)
	}
	if c := got["pkg:cargo/cc@1.0.83"]; c.Kind != KindBuild || strings.Join(c.DependsOn, " ") != "pkg:cargo/libc@0.2.150" {
		t.Errorf("cc = %+v", c)
	}
	if inv.CargoOffset != len(fixture.Bytes(t, "sbom_cargo_base")) {
		t.Errorf("CargoOffset = %d", inv.CargoOffset)
	}
}

func TestCargoHostile(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"sbom_cargo_bomb", "exceeds the 8388608-byte cap"},
		{"sbom_cargo_cycle", "dependency cycle"},
		{"sbom_cargo_tworoots", "two roots: one and two"},
		{"sbom_cargo_badindex", "dependency index 7 out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := readFixture(t, tc.name)
			var me *MetadataError
			if !errors.As(err, &me) || me.Source != "cargo-auditable" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want cargo-auditable error containing %q", err, tc.want)
			}
			if inv == nil || len(inv.Components) != 0 || inv.Subject.Size == 0 {
				t.Fatalf("inventory = %+v", inv)
			}
		})
	}
	// Direct hostile inputs that need no module.
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not zlib", []byte("hello"), "zlib"},
		{"empty", nil, "zlib"},
	} {
		if _, err := ParseCargoAuditable(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestOSVMatch(t *testing.T) {
	db, err := LoadOSV("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	if db.Len() != 6 { // seven files, one withdrawn
		t.Fatalf("loaded %d advisories", db.Len())
	}
	inv, err := readFixture(t, "sbom_dep")
	if err != nil {
		t.Fatal(err)
	}
	inv.MatchOSV(db)
	var got []string
	for _, v := range inv.Vulnerabilities {
		got = append(got, v.ID+"/"+v.Component+"/"+v.Rating+"/"+formatScore(v.Score))
	}
	stdRef := "pkg:golang/stdlib@" + strings.TrimPrefix(inv.GoVersion, "go")
	want := []string{"GO-TEST-0003/" + stdRef + "/medium/0.0", "GO-TEST-0001/pkg:golang/github.com/google/uuid@v1.6.0/critical/9.8"}
	if inv.GoVersion != "go1.26.8" {
		want = want[1:] // GO-TEST-0003 covers 1.26.0-1.26.8 only
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("vulnerabilities = %v, want %v", got, want)
	}

	inv, err = readFixture(t, "sbom_cargo")
	if err != nil {
		t.Fatal(err)
	}
	inv.MatchOSV(db)
	if len(inv.Vulnerabilities) != 1 || inv.Vulnerabilities[0].ID != "RUSTSEC-TEST-0001" ||
		inv.Vulnerabilities[0].Score != 10 || strings.Join(inv.Vulnerabilities[0].Fixed, ",") != "0.6.14,1.6.1" {
		t.Errorf("cargo vulnerabilities = %+v", inv.Vulnerabilities)
	}
}

func TestInRange(t *testing.T) {
	ev := func(kv ...string) []Event {
		var out []Event
		for i := 0; i < len(kv); i += 2 {
			switch kv[i] {
			case "i":
				out = append(out, Event{Introduced: kv[i+1]})
			case "f":
				out = append(out, Event{Fixed: kv[i+1]})
			case "l":
				out = append(out, Event{LastAffected: kv[i+1]})
			}
		}
		return out
	}
	for _, tc := range []struct {
		v      string
		events []Event
		want   bool
	}{
		{"1.0.0", ev("i", "0"), true},
		{"1.0.0", ev("i", "0", "f", "1.0.0"), false},
		{"0.9.9", ev("i", "0", "f", "1.0.0"), true},
		{"1.0.0-rc.1", ev("i", "0", "f", "1.0.0"), true},
		{"1.0.0-rc.1", ev("i", "1.0.0"), false},
		{"1.5.0", ev("i", "1.0.0", "l", "1.5.0"), true},
		{"1.5.1", ev("i", "1.0.0", "l", "1.5.0"), false},
		{"0.6.20", ev("i", "0.6.3", "f", "0.6.14", "i", "1.0.0", "f", "1.6.1"), false},
		{"0.6.5", ev("i", "0.6.3", "f", "0.6.14", "i", "1.0.0", "f", "1.6.1"), true},
		{"1.6.0", ev("f", "1.6.1", "i", "1.0.0"), true}, // unsorted events
		{"0.0.0-20230101000000-abcdefabcdef", ev("i", "0", "f", "0.1.0"), true},
		{"1.10.0", ev("i", "1.9.0", "f", "1.10.0"), false}, // numeric, not lexical
		{"1.2", ev("i", "1.2.0"), true},
	} {
		v, ok := semver.ParseLoose(tc.v)
		if !ok {
			t.Fatalf("parse %q failed", tc.v)
		}
		if got := inRange(v, tc.events); got != tc.want {
			t.Errorf("inRange(%s, %+v) = %v, want %v", tc.v, tc.events, got, tc.want)
		}
	}
	for _, bad := range []string{"", "x", "1.2.3.4", "1..2", "1.2.3-", "1.2.3-a..b", "-1.0.0"} {
		if _, ok := semver.ParseLoose(bad); ok {
			t.Errorf("ParseLoose(%q) accepted", bad)
		}
	}
}

func TestCVSS3(t *testing.T) {
	for _, tc := range []struct {
		vec  string
		want float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4},
		{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5},
		{"CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N", 0},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4},
	} {
		got, err := cvss3Base(tc.vec)
		if err != nil || got != tc.want {
			t.Errorf("cvss3Base(%s) = %v, %v; want %v", tc.vec, got, err, tc.want)
		}
	}
	for _, bad := range []string{"CVSS:2.0/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N"} {
		if _, err := cvss3Base(bad); err == nil {
			t.Errorf("cvss3Base(%s) accepted", bad)
		}
	}
}

func TestLoadOSVErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"id": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOSV(dir); err == nil || !strings.Contains(err.Error(), "bad.json: not OSV JSON") {
		t.Errorf("err = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"summary": "no id"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOSV(dir); err == nil || !strings.Contains(err.Error(), "without an id") {
		t.Errorf("err = %v", err)
	}
	if _, err := LoadOSV(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir accepted")
	}
}

func TestCycloneDX(t *testing.T) {
	bin := fixture.Bytes(t, "sbom_dep")
	inv, err := Read("sbom_dep.wasm", bin)
	if err != nil {
		t.Fatal(err)
	}
	db, err := LoadOSV("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	inv.MatchOSV(db)
	var buf, again bytes.Buffer
	if err := WriteCycloneDX(&buf, inv, "test"); err != nil {
		t.Fatal(err)
	}
	if err := WriteCycloneDX(&again, inv, "test"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("output is not deterministic")
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(buf.Bytes()), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != cdx.SpecVersion1_6 || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Fatalf("header = %s %v %s", bom.BOMFormat, bom.SpecVersion, bom.SerialNumber)
	}
	mc := bom.Metadata.Component
	s256, s512 := sha256.Sum256(bin), sha512.Sum512(bin)
	if mc.Name != "sbom_dep.wasm" || mc.BOMRef != "module" || len(*mc.Hashes) != 2 ||
		(*mc.Hashes)[0] != (cdx.Hash{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(s256[:])}) ||
		(*mc.Hashes)[1] != (cdx.Hash{Algorithm: cdx.HashAlgoSHA512, Value: hex.EncodeToString(s512[:])}) {
		t.Errorf("metadata component = %+v", mc)
	}
	if p := (*mc.Properties)[0]; p.Name != "wasmward:size" || p.Value != strconv.Itoa(len(bin)) {
		t.Errorf("size property = %+v", p)
	}
	var tools []string
	for _, c := range *bom.Metadata.Tools.Components {
		tools = append(tools, c.Name)
	}
	if strings.Join(tools, ",") != "wasmward,Go,Go cmd/compile" {
		t.Errorf("tools = %v", tools)
	}
	purls := map[string]bool{}
	for _, c := range *bom.Components {
		purls[c.PackageURL] = true
	}
	if !purls["pkg:golang/github.com/google/uuid@v1.6.0"] || !purls["pkg:golang/example.com/sbom_dep"] || len(purls) != 3 {
		t.Errorf("purls = %v", purls)
	}
	deps := *bom.Dependencies
	if deps[0].Ref != "module" || strings.Join(*deps[0].Dependencies, ",") != "pkg:golang/example.com/sbom_dep" {
		t.Errorf("root dependency = %+v", deps[0])
	}
	found := false
	for _, v := range *bom.Vulnerabilities {
		if v.ID == "GO-TEST-0001" {
			found = true
			r := (*v.Ratings)[0]
			if (*v.Affects)[0].Ref != "pkg:golang/github.com/google/uuid@v1.6.0" || r.Severity != cdx.SeverityCritical || *r.Score != 9.8 ||
				v.Recommendation != "Upgrade to 1.6.1 or later." {
				t.Errorf("vulnerability = %+v rating %+v", v, r)
			}
		}
	}
	if !found {
		t.Error("GO-TEST-0001 missing from the SBOM")
	}
}

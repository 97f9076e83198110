package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sbom"
)

// summary lists findings as "ID/severity", sorted.
func summary(r *Result) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.RuleID+"/"+f.Severity.String())
	}
	sort.Strings(out)
	return out
}

func find(r *Result, id string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.RuleID == id {
			out = append(out, f)
		}
	}
	return out
}

func scanFixture(t *testing.T, name string, opts Options) *Result {
	t.Helper()
	return Scan(context.Background(), name+".wasm", fixture.Bytes(t, name), opts)
}

func TestRules(t *testing.T) {
	db, err := sbom.LoadOSV("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	small := policy.Default()
	small.Limits.Memory = 1 << 20 // 16 pages
	for _, tc := range []struct {
		fixture string
		opts    Options
		want    []string
	}{
		{"scan_invalid", Options{Validate: true}, []string{"WW002/critical"}},
		{"scan_invalid", Options{}, nil}, // structure is fine; only validation sees it
		{"scan_imports", Options{}, []string{"WW101/high",
			"WW102/info", "WW102/info", "WW102/info", "WW102/info", "WW102/info", "WW102/info", "WW102/info"}},
		{"scan_memory_unbounded", Options{}, []string{"WW201/medium"}},
		{"scan_memory_huge", Options{}, []string{"WW202/high"}},
		{"scan_memory_unbounded", Options{Policy: &small}, []string{"WW201/medium"}}, // min 1 page fits
		// run does not enable threads: WW003 says so.
		{"scan_threads", Options{}, []string{"WW003/medium", "WW203/high"}},
		{"scan_threads", Options{AllowThreads: true}, []string{"WW003/medium", "WW203/info"}},
		{"scan_atomics_only", Options{}, []string{"WW003/medium", "WW101/high", "WW203/info"}}, // env.memory import not allowed; atomics on unshared memory
		{"scan_start", Options{}, []string{"WW301/low"}},
		{"scan_exports", Options{}, []string{"WW501/low", "WW502/low"}},
		{"scan_miner", Options{}, []string{"WW403/high", "WW403/high"}}, // pool URL, cryptonight_hash
		{"scan_markerlist", Options{}, nil},                             // a marker list is not use
		{"scan_locals", Options{}, nil},
		{"scan_locals", Options{Bounds: Bounds{MaxFunctionSize: 32, MaxLocals: 11}}, []string{"WW601/medium", "WW602/medium"}},
		{"scan_packed", Options{}, []string{"WW402/info"}}, // near-random, no structure
		{"scan_packed", Options{Bounds: Bounds{MaxDataSegment: 8 << 10}}, []string{"WW401/medium", "WW402/info"}},
		{"sbom_cargo_bomb", Options{}, []string{"WW703/medium"}},
		{"sbom_cargo", Options{Advisories: db}, []string{"WW702/critical"}},
		{"sbom_dep", Options{Advisories: db}, []string{"WW102/info", "WW102/info", "WW102/info", "WW102/info", "WW102/info",
			"WW201/medium", "WW701/info", "WW701/info", "WW701/info", "WW702/critical"}},
		{"scan_cprog", Options{}, []string{"WW102/info", "WW102/info", "WW102/info",
			"WW201/medium", "WW701/info", "WW701/info"}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			r := scanFixture(t, tc.fixture, tc.opts)
			if got := summary(r); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				for _, f := range r.Findings {
					t.Logf("%s %s %s: %s", f.RuleID, f.Severity, f.Location, f.Message)
				}
				t.Fatalf("findings = %v, want %v", got, tc.want)
			}
			for _, f := range r.Findings {
				if f.Title == "" || f.Message == "" || f.Remediation == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
		})
	}
}

func TestDecodeFailure(t *testing.T) {
	bin := fixture.Bytes(t, "scan_start")
	for _, tc := range []struct {
		name    string
		bin     []byte
		offset  int
		section string
	}{
		{"truncated", bin[:len(bin)-3], -2, ""},
		{"not wasm", []byte("\x7fELF\x02\x01\x01\x00"), 0, ""},
		{"empty", nil, 0, ""},
		{"component with a truncated section", []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0, 1, 5}, 8, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Scan(context.Background(), "x.wasm", tc.bin, Options{Validate: true})
			if len(r.Findings) != 1 || r.Findings[0].RuleID != RuleDecode || r.Findings[0].Severity != Critical {
				t.Fatalf("findings = %+v", r.Findings)
			}
			f := r.Findings[0]
			if tc.offset >= 0 && f.Location.Offset != tc.offset {
				t.Errorf("offset = %d, want %d", f.Location.Offset, tc.offset)
			}
			if tc.offset == -2 && (f.Location.Offset <= 8 || f.Location.Offset > len(tc.bin)) {
				t.Errorf("offset = %d, want inside the truncated module", f.Location.Offset)
			}
			if !r.AtLeast(Critical) {
				t.Error("AtLeast(Critical) = false")
			}
		})
	}
}

func TestLocations(t *testing.T) {
	bin := fixture.Bytes(t, "scan_miner")
	r := Scan(context.Background(), "m.wasm", bin, Options{})
	mf := find(r, RuleMinerMarker)
	if len(mf) != 2 {
		t.Fatalf("WW403 = %+v", mf)
	}
	for _, f := range mf {
		switch {
		case strings.Contains(f.Message, "pool URL"):
			if f.Location.Section != "data" || string(bin[f.Location.Offset:f.Location.Offset+f.Location.Length]) != "stratum+tcp://pool.example.invalid:3333" {
				t.Errorf("pool URL location = %+v", f.Location)
			}
		case strings.Contains(f.Message, `miner name "cryptonight"`):
			if f.Location.Section != "code" || f.Location.FunctionName != "cryptonight_hash" || !strings.Contains(f.Message, `function 0 "cryptonight_hash"`) {
				t.Errorf("cryptonight = %+v", f)
			}
		default:
			t.Errorf("unexpected %+v", f)
		}
	}

	r = scanFixture(t, "scan_locals", Options{Bounds: Bounds{MaxFunctionSize: 32, MaxLocals: 11}})
	f := find(r, RuleLargeFunction)[0]
	if f.Location.Function != 0 || f.Location.FunctionName != "big" || f.Location.Section != "code" || f.Location.Offset <= 0 {
		t.Errorf("large function location = %+v", f.Location)
	}
	if got := find(r, RuleManyLocals)[0].Message; got != "Function 0 (big) declares 12 locals, over the bound of 11." {
		t.Errorf("locals message = %q", got)
	}

	r = scanFixture(t, "scan_start", Options{})
	if f := find(r, RuleStartFunction)[0]; f.Location.FunctionName != "init" || f.Location.Function != 0 || f.Location.Section != "start" {
		t.Errorf("start = %+v", f)
	}

	// Export findings point at their export entry (the name's length byte):
	// the export section of scan_exports starts at 0x2b, its entries
	// "counter", "k", "table" at 0x2e, 0x38, 0x3c.
	r = scanFixture(t, "scan_exports", Options{})
	exp := fixture.Bytes(t, "scan_exports")
	for _, tc := range []struct {
		rule   string
		offset int
		name   string
	}{{RuleExportedMutGlobal, 0x2e, "counter"}, {RuleExportedTable, 0x3c, "table"}} {
		fs := find(r, tc.rule)
		if len(fs) != 1 {
			t.Fatalf("%s findings = %+v", tc.rule, fs)
		}
		l := fs[0].Location
		if l.Section != "export" || l.Offset != tc.offset || l.Function != -1 {
			t.Errorf("%s location = %+v, want export at %#x", tc.rule, l, tc.offset)
		}
		if n := int(exp[l.Offset]); string(exp[l.Offset+1:l.Offset+1+n]) != tc.name {
			t.Errorf("%s: bytes at %#x = %q, want the entry of %q", tc.rule, l.Offset, exp[l.Offset+1:l.Offset+1+n], tc.name)
		}
	}

	r = scanFixture(t, "scan_imports", Options{})
	f = find(r, RuleImportNotAllowed)[0]
	if f.Location.Section != "import" || f.Location.Offset <= 8 || !strings.Contains(f.Message, `1 import from "env"`) || !strings.Contains(f.Message, `func "exfiltrate"`) {
		t.Errorf("import finding = %+v", f)
	}
	if got := strings.Join(r.Capabilities, ","); got != "filesystem-read,filesystem-write,sockets,clocks,randomness,process-exit,environment" {
		t.Errorf("capabilities = %s", got)
	}

	// A policy that allows env.* silences WW101.
	p := policy.Default()
	p.Capabilities.Imports = append(p.Capabilities.Imports, "env.*")
	if r := scanFixture(t, "scan_imports", Options{Policy: &p}); len(find(r, RuleImportNotAllowed)) != 0 {
		t.Error("env.* allowed but WW101 reported")
	}
}

func TestMemoryLimitMax(t *testing.T) {
	p := policy.Default()
	p.Limits.Memory = 16 << 10 // below one page
	r := scanFixture(t, "scan_start", Options{Policy: &p})
	f := find(r, RuleMemoryOverLimit)
	if len(f) != 1 || !strings.Contains(f[0].Message, "minimum of 1 pages") {
		t.Fatalf("findings = %+v", r.Findings)
	}
	p.Limits.Memory = 64 << 10 // exactly one page: min fits; max 1 fits
	if r := scanFixture(t, "scan_start", Options{Policy: &p}); len(find(r, RuleMemoryOverLimit)) != 0 {
		t.Fatalf("findings = %+v", r.Findings)
	}
	p.Limits.Memory = 128 << 20
	if f := find(scanFixture(t, "scan_exports", Options{Policy: &p}), RuleMemoryOverLimit); len(f) != 0 {
		t.Fatalf("findings = %+v", f)
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range []string{"info", "LOW", "Medium", "high", "critical"} {
		if _, err := ParseSeverity(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil {
		t.Error("accepted severe")
	}
	r := &Result{}
	if _, ok := r.Max(); ok || r.AtLeast(Info) {
		t.Error("empty result has a max")
	}
}

func TestRuleCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || seen[r.Name] || r.Title == "" || r.Description == "" || r.Remediation == "" {
			t.Errorf("bad rule %+v", r)
		}
		seen[r.ID], seen[r.Name] = true, true
	}
	if len(Rules()) != 27 { // 21 scan rules, 6 of check (WW8xx)
		t.Errorf("%d rules", len(Rules()))
	}
}

// TestDuplicateMetadata: a second name or producers section is WW704 at the
// repeated section; the decoder keeps the first; wazero refuses the module.
func TestDuplicateMetadata(t *testing.T) {
	base := fixture.Bytes(t, "scan_start") // has one name section, at 0x28
	prod := wasm.AppendU32(nil, 1)
	prod = wasm.AppendName(prod, "language")
	prod = wasm.AppendU32(prod, 1)
	prod = wasm.AppendName(wasm.AppendName(prod, "C"), "1")
	names := wasm.AppendU32(wasm.AppendU32([]byte{0}, 6), 5) // module name "other"
	names = append(names, "other"...)
	bin := append([]byte(nil), base...)
	bin = wasm.AppendCustomSection(bin, "producers", prod)
	secondProducers := len(bin)
	bin = wasm.AppendCustomSection(bin, "producers", prod)
	secondName := len(bin)
	bin = wasm.AppendCustomSection(bin, "name", names)

	m, err := wasm.Decode(bin)
	if err != nil || m.Names == nil || m.Names.HasModule || m.NamesErr != nil {
		t.Fatalf("decode: %v, names %+v (want the first name section, which has no module name)", err, m.Names)
	}
	r := Scan(context.Background(), "d.wasm", bin, Options{})
	got := find(r, RuleDuplicateMetadata)
	if len(got) != 2 {
		t.Fatalf("WW704 findings = %+v", got)
	}
	for i, want := range []struct {
		off int
		msg string
	}{
		{secondProducers, `A second "producers" custom section; wasmward reads the first one, at offset 0x%x, and ignores this one.`},
		{secondName, `A second "name" custom section; wasmward reads the first one, at offset 0x28, and ignores this one. wazero refuses to compile a module with two name sections.`},
	} {
		f := got[i]
		msg := want.msg
		if strings.Contains(msg, "%x") {
			msg = fmt.Sprintf(msg, len(base))
		}
		if f.Severity != Low || f.Location.Section != "custom" || f.Location.Offset != want.off || f.Message != msg {
			t.Errorf("finding %d = %s %+v %q, want offset %#x %q", i, f.Severity, f.Location, f.Message, want.off, msg)
		}
	}
	if len(find(Scan(context.Background(), "s.wasm", base, Options{}), RuleDuplicateMetadata)) != 0 {
		t.Error("WW704 on a module with one name section")
	}
	// With --validate, wazero's refusal shows as WW002.
	r = Scan(context.Background(), "d.wasm", bin, Options{Validate: true})
	if v := find(r, RuleValidate); len(v) != 1 || !strings.Contains(v[0].Message, "redundant custom section name") {
		t.Errorf("validate findings = %+v", v)
	}
}

// TestMinerContext: WW403 fires on use (pool URLs with host and port,
// stratum calls, miner names on code), not on bare marker strings.
func TestMinerContext(t *testing.T) {
	for _, tc := range []struct {
		data string
		want string
	}{
		{`{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}`, `stratum call "\"method\":\"mining.subscribe\""`},
		{`{"id": 2, "method" : "mining.authorize", "params": ["w","x"]}`, `stratum call "\"method\" : \"mining.authorize\""`},
		{"pool=STRATUM+SSL://xmr.pool.example:14433 user=x", `stratum pool URL "STRATUM+SSL://xmr.pool.example:14433"`},
		{"stratum+tcp://", ""},
		{"stratum+tcp://host", ""},
		{"stratum+tcp://:3333", ""},
		{"mining.subscribe", ""},
		{`"method":"mining."`, ""},
		{`"methods":"mining.subscribe"`, ""},
		{"xmrig cryptonight coinhive", ""},
	} {
		r := Scan(context.Background(), "d.wasm", dataModule([]byte("prefix "+tc.data+" suffix")), Options{})
		var got []string
		for _, f := range find(r, RuleMinerMarker) {
			got = append(got, f.Message)
		}
		if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)) {
			t.Errorf("%q: WW403 = %q, want %q", tc.data, got, tc.want)
		}
	}
	// Names of code: an import and an export.
	r := Scan(context.Background(), "i.wasm", importModule("env.CryptoNight_slow_hash"), Options{})
	if f := find(r, RuleMinerMarker); len(f) != 1 || !strings.Contains(f[0].Message, `import "env.CryptoNight_slow_hash"`) {
		t.Errorf("import: %+v", f)
	}
}

// TestSelfScan: wasmward's own wasip1 build carries the marker list as
// data and must scan without WW403 (issue 11 item 11). The build is
// generated here (tens of seconds without a build cache).
func TestSelfScan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmward for wasip1")
	}
	out := filepath.Join(t.TempDir(), "wasmward.wasm")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/wasmward")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for wasip1: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(bin, []byte("cryptonight")) || !bytes.Contains(bin, []byte("stratum+")) {
		t.Fatal("the build does not carry the marker list; the test proves nothing")
	}
	r := Scan(context.Background(), "wasmward.wasm", bin, Options{})
	for _, f := range r.Findings {
		// (WW402 reports the demo module internal/quickstart embeds: a
		// real embedded module, not a marker.)
		if f.RuleID == RuleMinerMarker || f.Severity >= Critical {
			t.Errorf("%s %s at %s: %s", f.RuleID, f.Severity, f.Location, f.Message)
		}
	}
}

func TestMarkerMatcher(t *testing.T) {
	mm := newMarkerMatcher(useMarkers)
	in := []byte("Stratum+TCP://h MINING.x stratum+mining.")
	var got []string
	mm.each(in, func(k, pos int) { got = append(got, useMarkers[k]+"@"+itoa(pos)) })
	want := "stratum+@0 mining.@16 stratum+@25 mining.@33"
	if strings.Join(got, " ") != want {
		t.Errorf("matches = %v, want %s", got, want)
	}
}

// importModule builds a module importing the given module.name functions.
func importModule(imports ...string) []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	out = wasm.AppendSection(out, wasm.SectionType, []byte{1, 0x60, 0, 0})
	sec := wasm.AppendU32(nil, uint32(len(imports)))
	for _, im := range imports {
		mod, name, _ := strings.Cut(im, ".")
		sec = wasm.AppendName(wasm.AppendName(sec, mod), name)
		sec = append(sec, 0, 0) // func, type 0
	}
	return wasm.AppendSection(out, wasm.SectionImport, sec)
}

// TestImportGrouping: WW101 is one finding per import module, listing the
// names, with every import's entry as a related location.
func TestImportGrouping(t *testing.T) {
	bin := importModule("env.a", "js.x", "env.b", "wasi_snapshot_preview1.fd_write", "env.c")
	r := Scan(context.Background(), "i.wasm", bin, Options{})
	got := find(r, RuleImportNotAllowed)
	if len(got) != 2 {
		t.Fatalf("WW101 = %+v, want one for env and one for js", got)
	}
	for _, tc := range []struct {
		f     Finding
		mod   string
		msg   string
		names []string
	}{
		{got[0], "env", `3 imports from "env" not allowed by the policy's capabilities.imports [wasi_snapshot_preview1.*]: func "a", func "b", func "c".`, []string{"a", "b", "c"}},
		{got[1], "js", `1 import from "js" not allowed by the policy's capabilities.imports [wasi_snapshot_preview1.*]: func "x".`, []string{"x"}},
	} {
		if tc.f.Severity != High || tc.f.Message != tc.msg {
			t.Errorf("finding = %s %q, want high %q", tc.f.Severity, tc.f.Message, tc.msg)
		}
		if len(tc.f.Related) != len(tc.names) || tc.f.Location != tc.f.Related[0] {
			t.Fatalf("related = %+v", tc.f.Related)
		}
		for i, l := range tc.f.Related {
			// The entry: module name, then field name, each with its length.
			n := int(bin[l.Offset])
			if mod := string(bin[l.Offset+1 : l.Offset+1+n]); mod != tc.mod || l.Section != "import" {
				t.Errorf("related %d at %#x names module %q", i, l.Offset, mod)
			}
			fo := l.Offset + 1 + n
			if name := string(bin[fo+1 : fo+1+int(bin[fo])]); name != tc.names[i] || !strings.Contains(l.Label, `"`+tc.names[i]+`"`) {
				t.Errorf("related %d = %q (label %q), want %q", i, name, l.Label, tc.names[i])
			}
		}
	}
	// 779 imports from one module (duckdb's count) are still one finding,
	// its message listing 20 names and the count of the rest.
	var many []string
	for i := range 779 {
		many = append(many, fmt.Sprintf("env.f%d", i))
	}
	r = Scan(context.Background(), "m.wasm", importModule(many...), Options{})
	if got := find(r, RuleImportNotAllowed); len(got) != 1 || len(got[0].Related) != 779 || !strings.HasSuffix(got[0].Message, `func "f19" and 759 more.`) {
		t.Fatalf("WW101 = %d findings; %+v", len(got), got)
	}
}

// TestMemoryMaxOverCap: a declared maximum above limits.memory is info
// (growth stops at the cap); a minimum above it is high.
func TestMemoryMaxOverCap(t *testing.T) {
	mem := func(min, max uint32) []byte {
		out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
		lim := wasm.AppendU32(wasm.AppendU32([]byte{1, 1}, min), max)
		return wasm.AppendSection(out, wasm.SectionMemory, lim)
	}
	for _, tc := range []struct {
		min, max uint32
		want     string
	}{
		{256, 32768, "info: Memory 0's maximum of 32768 pages (2GiB) exceeds the policy's limits.memory of 128MiB; growth will stop at the cap."},
		{4096, 32768, "high: Memory 0's minimum of 4096 pages (256MiB) exceeds the policy's limits.memory of 128MiB; it cannot be instantiated."},
		{256, 2048, ""},
	} {
		var got []string
		for _, f := range find(Scan(context.Background(), "m.wasm", mem(tc.min, tc.max), Options{}), RuleMemoryOverLimit) {
			got = append(got, f.Severity.String()+": "+f.Message)
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("min %d max %d: WW202 = %q, want %q", tc.min, tc.max, got, tc.want)
		}
	}
}

// A library identified from a banner in the binary points its vulnerability
// finding at the banner, not at an offset of -1 or at metadata it lacks.
func TestVulnerableEvidenceLocation(t *testing.T) {
	db, err := sbom.LoadOSV("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	const banner = "inflate 1.2.12 Copyright 1995-2022 Mark Adler"
	for _, tc := range []struct {
		name    string
		bin     []byte
		section string
	}{
		{"data segment", synth.Data([][]byte{[]byte("\x00 " + banner + " \x00")}), "data"},
		{"custom section", synth.Data(nil, "notes", "\x00 "+banner+" \x00"), "custom"},
	} {
		r := Scan(context.Background(), "m.wasm", tc.bin, Options{Advisories: db})
		vf := find(r, RuleVulnerable)
		if len(vf) != 1 || !strings.Contains(vf[0].Message, "CVE-TEST-ZLIB") {
			t.Fatalf("%s: WW702 = %+v", tc.name, vf)
		}
		loc := vf[0].Location
		want := bytes.Index(tc.bin, []byte(banner))
		if loc.Section != tc.section || loc.Offset != want {
			t.Errorf("%s: location %+v, banner at %d", tc.name, loc, want)
		}
	}
}

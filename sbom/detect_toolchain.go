package sbom

import "strings"

// Toolchain runtimes linked into the module: Emscripten's libc and
// runtime, wasm-bindgen's glue. They are identified by names in the import
// and export sections and by the producers section, as well as by strings.

var (
	libEmscripten  = &library{name: "emscripten", purl: github("emscripten-core", "emscripten")}
	libWasmBindgen = &library{name: "wasm-bindgen", ecosystem: EcosystemCrates, purl: func(_, version string) string { return purl("cargo", "", "wasm-bindgen", version) }}
)

var toolchainRules = []*rule{
	// Emscripten's uname(): nodename "emscripten", sysname "Emscripten",
	// release the Emscripten version. The linker merges and reorders
	// strings, so the release is a candidate: a NUL-delimited version of
	// an Emscripten series, taken when it is the only one.
	{name: "emscripten-uname", lib: libEmscripten, anchor: "\x00emscripten\x00Emscripten\x00", check: presence},
	{name: "emscripten-uname-release", lib: libEmscripten, anchor: "\x002.0.", check: checkEmscriptenRelease, requires: "emscripten-uname"},
	{name: "emscripten-uname-release", lib: libEmscripten, anchor: "\x003.1.", check: checkEmscriptenRelease, requires: "emscripten-uname"},
	{name: "emscripten-uname-release", lib: libEmscripten, anchor: "\x004.0.", check: checkEmscriptenRelease, requires: "emscripten-uname"},
	// Assertion and debug paths of its system libraries.
	{name: "emscripten-system-path", lib: libEmscripten, anchor: "emscripten/system/lib/", check: presence},
}

// checkEmscriptenRelease matches a whole NUL-delimited "3.1.71".
func checkEmscriptenRelease(r *rule, h hay, at int) (finding, bool) {
	vs := max(at+1, 0)
	ve := dottedVersion(h.b, vs, 3)
	if ve < 0 || !nulAt(h.b, ve) || ve-vs > 10 {
		return finding{}, false
	}
	return finding{version: string(h.b[vs:ve]), conf: ConfidenceMedium, role: roleCandidate,
		ev: Evidence{Offset: vs, Text: evidenceText(h.b[vs:ve])}}, true
}

// nameFindings identifies toolchain runtimes from the producers section and
// the import and export names.
func nameFindings(d Decoded) []finding {
	var out []finding
	d.EachProducer(func(field, name, version string) {
		switch {
		case field == "processed-by" && name == "wasm-bindgen":
			v, _, _ := strings.Cut(version, " ") // "0.2.92 (2a4a49362)"
			out = append(out, finding{lib: libWasmBindgen, name: libWasmBindgen.name, version: v, conf: ConfidenceHigh,
				ev: Evidence{Rule: "wasm-bindgen-producers", Location: "producers", Offset: -1, Text: evidenceText([]byte(field + " " + name + " " + version))}})
		case strings.EqualFold(name, "emscripten") || strings.EqualFold(name, "emcc"):
			v, _, _ := strings.Cut(version, " ")
			if dottedVersion([]byte(v), 0, 3) != len(v) {
				v = ""
			}
			out = append(out, finding{lib: libEmscripten, name: libEmscripten.name, version: v, conf: ConfidenceHigh,
				ev: Evidence{Rule: "emscripten-producers", Location: "producers", Offset: -1, Text: evidenceText([]byte(field + " " + name + " " + version))}})
		}
	})
	var emImport, wbImport, wbExport, emExport, hbExport string
	d.EachImport(func(module, name string) {
		switch {
		case emImport == "" && (strings.HasPrefix(name, "emscripten_") || strings.HasPrefix(name, "_emscripten_")):
			emImport = module + "." + name
		case wbImport == "" && (strings.HasPrefix(name, "__wbindgen_") || strings.HasPrefix(name, "__wbg_")):
			wbImport = module + "." + name
		}
	})
	d.EachExport(func(name string) {
		switch {
		case wbExport == "" && strings.HasPrefix(name, "__wbindgen_"):
			wbExport = name
		case emExport == "" && (strings.HasPrefix(name, "emscripten_") || strings.HasPrefix(name, "_emscripten_")):
			emExport = name
		case hbExport == "" && strings.HasPrefix(name, "hb_") && len(name) > 3:
			hbExport = name // HarfBuzz's API: hb_blob_create, hb_shape, ...
		}
	})
	for _, n := range []struct {
		lib       *library
		rule, loc string
		text      string
	}{
		{libEmscripten, "emscripten-import", "import", emImport},
		{libEmscripten, "emscripten-export", "export", emExport},
		{libWasmBindgen, "wasm-bindgen-import", "import", wbImport},
		{libWasmBindgen, "wasm-bindgen-export", "export", wbExport},
		{libHB, "harfbuzz-export", "export", hbExport},
	} {
		if n.text != "" {
			out = append(out, finding{lib: n.lib, name: n.lib.name, conf: ConfidenceMedium,
				ev: Evidence{Rule: n.rule, Location: n.loc, Offset: -1, Text: evidenceText([]byte(n.text))}})
		}
	}
	return out
}

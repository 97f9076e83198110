package sbom

// C and C++ libraries without a version banner, identified by strings
// only they carry (their C++ namespaces in type names, their source paths
// in assertions, their own message prefixes). They are reported without a
// version, medium confidence: OSV cannot match them, but the SBOM says
// they are there.

var (
	libONNX  = &library{name: "onnxruntime", purl: github("microsoft", "onnxruntime")}
	libRE2   = &library{name: "re2", purl: github("google", "re2")}
	libAbsl  = &library{name: "abseil", purl: github("abseil", "abseil-cpp")}
	libOnig  = &library{name: "oniguruma", purl: github("kkos", "oniguruma")}
	libQJS   = &library{name: "quickjs", purl: generic("")}
	libVips  = &library{name: "libvips", purl: github("libvips", "libvips")}
	libGLib  = &library{name: "glib", purl: generic("")}
	libExpat = &library{name: "expat", purl: github("libexpat", "libexpat")}
	libAOM   = &library{name: "aom", purl: generic("")}
	libHeif  = &library{name: "libheif", purl: github("strukturag", "libheif")}
)

var cppRules = []*rule{
	{name: "onnxruntime-namespace", lib: libONNX, anchor: "onnxruntime::", check: presence},
	{name: "re2-source-path", lib: libRE2, anchor: "re2/re2/", check: presence},
	{name: "re2-source-path", lib: libRE2, anchor: "re2/walker-inl.h", check: presence},
	{name: "abseil-namespace", lib: libAbsl, anchor: "absl::", check: presence},
	{name: "abseil-source-path", lib: libAbsl, anchor: "absl/base/", check: presence},
	{name: "abseil-source-path", lib: libAbsl, anchor: "absl/time/", check: presence},
	{name: "oniguruma-version-format", lib: libOnig, anchor: "Oniguruma %d.%d.%d : Copyright", check: presence},
	{name: "quickjs-memory-usage", lib: libQJS, anchor: "QuickJS memory usage -- ", check: presence},
	{name: "quickjs-source-path", lib: libQJS, anchor: "quickjs/quickjs.c", check: presence},
	{name: "libvips-source-path", lib: libVips, anchor: "libvips/iofuncs/", check: presence},
	{name: "glib-log-domain", lib: libGLib, anchor: "GLib-GObject", check: presence},
	{name: "glib-source-path", lib: libGLib, anchor: "glib/gmem.c", check: presence},
	{name: "expat-accounting", lib: libExpat, anchor: "expat: Accounting(", check: presence},
	// aom_codec_iface_name(): "AOMedia Project AV1 Encoder v3.8.0".
	{name: "aom-codec-name", lib: libAOM, anchor: "AOMedia Project AV1 Encoder v", check: versionAfterAnchor(3, ConfidenceHigh)},
	{name: "aom-codec-name", lib: libAOM, anchor: "AOMedia Project AV1 Decoder v", check: versionAfterAnchor(3, ConfidenceHigh)},
	{name: "libheif-message", lib: libHeif, anchor: "libheif warning: ", check: presence},
	// zlib's inflate messages, in every build (the banner can be dropped).
	{name: "zlib-inflate-message", lib: libZlib, anchor: "invalid distance too far back", check: presence},
	// libpng's error and warning prefixes.
	{name: "libpng-message", lib: libPNG, anchor: "libpng error: ", check: presence},
	{name: "libpng-message", lib: libPNG, anchor: "libpng warning: ", check: presence},
}

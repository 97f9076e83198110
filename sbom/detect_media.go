package sbom

// FFmpeg and the codecs it is usually linked with.

var (
	libFFmpeg  = &library{name: "ffmpeg", purl: generic("")}
	libAVUtil  = &library{name: "libavutil", purl: generic("ffmpeg")}
	libAVCodec = &library{name: "libavcodec", purl: generic("ffmpeg")}
	libAVFmt   = &library{name: "libavformat", purl: generic("ffmpeg")}
	libAVDev   = &library{name: "libavdevice", purl: generic("ffmpeg")}
	libVPX     = &library{name: "libvpx", purl: github("webmproject", "libvpx")}
	libX264    = &library{name: "x264", purl: generic("")}
	libX265    = &library{name: "x265", purl: generic("")}
	libTheora  = &library{name: "libtheora", purl: generic("")}
	libVorbis  = &library{name: "libvorbis", purl: generic("")}
	libOpus    = &library{name: "opus", purl: generic("")}
	libWebP    = &library{name: "libwebp", purl: generic("")}
	libAss     = &library{name: "libass", purl: github("libass", "libass")}
	libFribidi = &library{name: "fribidi", purl: github("fribidi", "fribidi")}
	libHB      = &library{name: "harfbuzz", purl: github("harfbuzz", "harfbuzz")}
	libZimg    = &library{name: "zimg", purl: github("sekrit-twc", "zimg")}
)

var mediaRules = []*rule{
	// FFmpeg's libraries write their identity ("Lavc59.37.100",
	// LIBAVCODEC_IDENT) into the files they produce.
	{name: "libavutil-ident", lib: libAVUtil, anchor: "\x00Lavu", check: checkFFmpegIdent},
	{name: "libavcodec-ident", lib: libAVCodec, anchor: "\x00Lavc", check: checkFFmpegIdent},
	{name: "libavformat-ident", lib: libAVFmt, anchor: "\x00Lavf", check: checkFFmpegIdent},
	{name: "libavdevice-ident", lib: libAVDev, anchor: "\x00Lavd", check: checkFFmpegIdent},
	// The command-line tools' banner, when they are linked in.
	{name: "ffmpeg-version-banner", lib: libFFmpeg, anchor: "ffmpeg version ", check: checkFFmpegVersion},
	{name: "ffmpeg-version-banner", lib: libFFmpeg, anchor: "FFmpeg version ", check: checkFFmpegVersion},
	// libvpx: vpx_codec_iface_name(), "WebM Project VP8 Decoder v1.13.1".
	{name: "libvpx-codec-name", lib: libVPX, anchor: "WebM Project VP8 Encoder v", check: versionAfterAnchor(3, ConfidenceHigh)},
	{name: "libvpx-codec-name", lib: libVPX, anchor: "WebM Project VP8 Decoder v", check: versionAfterAnchor(3, ConfidenceHigh)},
	{name: "libvpx-codec-name", lib: libVPX, anchor: "WebM Project VP9 Encoder v", check: versionAfterAnchor(3, ConfidenceHigh)},
	{name: "libvpx-codec-name", lib: libVPX, anchor: "WebM Project VP9 Decoder v", check: versionAfterAnchor(3, ConfidenceHigh)},
	// x264's SEI banner names its core (build) number, not a release.
	{name: "x264-sei-banner", lib: libX264, anchor: "x264 - core ", check: presence},
	// FFmpeg names the codecs it wraps from external libraries ("libx265",
	// "libopus"); they are compiled only when the library is linked, so
	// with an FFmpeg ident present each name identifies its library.
	{name: "ffmpeg-external-codec", lib: libX264, anchor: "\x00libx264\x00", check: presence, requires: "libavcodec-ident"},
	{name: "ffmpeg-external-codec", lib: libX265, anchor: "\x00libx265\x00", check: presence, requires: "libavcodec-ident"},
	{name: "ffmpeg-external-codec", lib: libTheora, anchor: "\x00libtheora\x00", check: presence, requires: "libavcodec-ident"},
	{name: "ffmpeg-external-codec", lib: libVorbis, anchor: "\x00libvorbis\x00", check: presence, requires: "libavcodec-ident"},
	{name: "ffmpeg-external-codec", lib: libOpus, anchor: "\x00libopus\x00", check: presence, requires: "libavcodec-ident"},
	{name: "ffmpeg-external-codec", lib: libWebP, anchor: "\x00libwebp\x00", check: presence, requires: "libavcodec-ident"},
	{name: "ffmpeg-external-codec", lib: libVPX, anchor: "\x00libvpx-vp9\x00", check: presence, requires: "libavcodec-ident"},
	// libass's shaper description names the FriBidi it was built with and
	// HarfBuzz: "Shaper: FriBidi 1.0.9 (SIMPLE) HarfBuzz-ng %s (COMPLEX)".
	{name: "libass-shaper-info", lib: libAss, anchor: "Shaper: FriBidi ", check: presence},
	{name: "libass-shaper-info", lib: libFribidi, anchor: "Shaper: FriBidi ", check: versionAfterAnchor(3, ConfidenceHigh)},
	{name: "libass-shaper-info", lib: libHB, anchor: "HarfBuzz-ng ", check: presence, requires: "libass-shaper-info"},
	// zimg's assertion paths.
	{name: "zimg-source-path", lib: libZimg, anchor: "zimg/colorspace/", check: presence},
	{name: "zimg-source-path", lib: libZimg, anchor: "zimg/resize/", check: presence},
}

// checkFFmpegIdent matches "\x00Lavc59.37.100\x00": the NUL-delimited
// ident, exactly three components.
func checkFFmpegIdent(r *rule, h hay, at int) (finding, bool) {
	vs := at + len(r.anchor)
	ve := dottedVersion(h.b, vs, 3)
	if ve < 0 || !nulAt(h.b, ve) {
		return finding{}, false
	}
	start := max(at+1, 0)
	return finding{version: string(h.b[vs:ve]), ev: Evidence{Offset: start, Text: evidenceText(h.b[start:ve])}}, true
}

// checkFFmpegVersion matches "ffmpeg version 5.1.2" or "n5.1.2" (a release
// tag); a git describe ("N-109035-g...") is not a release and is skipped.
func checkFFmpegVersion(r *rule, h hay, at int) (finding, bool) {
	vs := at + len(r.anchor)
	if vs < len(h.b) && h.b[vs] == 'n' {
		vs++
	}
	ve := dottedVersion(h.b, vs, 2)
	if ve < 0 || (ve < len(h.b) && (isAlnum(h.b[ve]) || h.b[ve] == '-')) {
		return finding{}, false
	}
	return finding{version: string(h.b[vs:ve]), ev: Evidence{Offset: at, Text: evidenceText(h.b[at:ve])}}, true
}

package scan

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"

	"github.com/wasmward/wasmward/internal/wasm"
)

// WW402 looks for packed or encrypted payloads: data that a loader would
// unpack and run. Entropy alone does not say that (dense character-set
// tables reach 7.6-7.8 bits/byte, Go's P-256 table 8.0), so the rule asks
// for three things:
//
//   - near-random: a window at or above Bounds.EntropyThreshold (7.9);
//   - incompressible: DEFLATE gains less than 2% on it;
//   - structure: an executable (a WebAssembly module, ELF or PE image,
//     checked past its magic), a compressed container header (gzip, zip,
//     zstd, xz, bzip2, 7z) at or just before the run, or a base64 or hex
//     blob that decodes to one of these or to near-random bytes.
//
// Severity: an executable (in data directly, in a decoded blob or at the
// start of a gzip or zip member) is high; a container or encoded blob of
// near-random bytes medium; near-random, incompressible bytes without any
// structure info (a compressed asset or an encrypted blob: nothing says
// which). Known tables are not reported: Go's P-256 precomputed table.

// knownTable is random-looking data a toolchain links into ordinary
// programs, identified by its first bytes.
type knownTable struct {
	name   string
	prefix []byte
	length int
}

var knownTables = []knownTable{
	{
		// crypto/internal/fips140/nistec p256PrecomputedEmbed (Go 1.20+):
		// 43 tables of 32 affine points, 4 little-endian 64-bit limbs per
		// coordinate, Montgomery form; starts with the generator's x.
		name: "Go's P-256 precomputed table",
		prefix: []byte{0x3c, 0x14, 0xa9, 0x18, 0xd4, 0x30, 0xe7, 0x79, 0x01, 0xb6, 0xed, 0x5f, 0xfc, 0x95, 0xba, 0x75,
			0x10, 0x25, 0x62, 0x77, 0x2b, 0x73, 0xfb, 0x79, 0xc6, 0x55, 0x37, 0xa5, 0x76, 0x5f, 0x90, 0x18},
		length: 43 * 32 * 2 * 4 * 8,
	},
}

// span is a half-open range of file offsets.
type span struct{ start, end int }

// stream is the data segments' initialisers as one byte stream in file
// order, with a map back to file offsets.
type stream struct {
	segs []wasm.Data
}

// bytesAt copies up to n stream bytes starting at file offset off (or at
// the next segment when off falls between segments), following on into
// the next segments, and returns with them the file offset of each piece's
// first byte (pieces[k] holds the stream index where piece k starts).
func (st *stream) bytesAt(off, n int) (out []byte, fileOff func(i int) int) {
	type piece struct{ idx, file int }
	var pieces []piece
	for i := range st.segs {
		d := &st.segs[i]
		if off >= d.InitOffset+len(d.Init) || len(d.Init) == 0 {
			continue
		}
		from := 0
		if off > d.InitOffset {
			from = off - d.InitOffset
		}
		take := d.Init[from:]
		if len(take) > n-len(out) {
			take = take[:n-len(out)]
		}
		pieces = append(pieces, piece{len(out), d.InitOffset + from})
		out = append(out, take...)
		if len(out) >= n {
			break
		}
	}
	return out, func(i int) int {
		k := len(pieces) - 1
		for k > 0 && pieces[k].idx > i {
			k--
		}
		if k < 0 {
			return off
		}
		return pieces[k].file + i - pieces[k].idx
	}
}

// payloads applies WW402.
func (s *scanner) payloads() {
	b := s.bounds
	st := &stream{segs: s.m.Data}
	known := s.knownTableSpans()
	reported := s.embedded(st)

	// Windows of the stream, skipping known tables; consecutive windows
	// at or above the threshold form one run.
	type run struct {
		start, length, segment int
		max                    float64
	}
	var (
		hist      [256]int
		n         int
		winStart  = -1
		winSeg    int
		cur       *run
		runs      []run
		lastBytes int
	)
	flush := func(final bool) {
		if n == 0 || (final && n < b.EntropyMin) {
			if cur != nil {
				runs = append(runs, *cur)
				cur = nil
			}
			return
		}
		e := shannon(&hist, n)
		if e >= b.EntropyThreshold {
			if cur == nil {
				cur = &run{start: winStart, segment: winSeg}
			}
			cur.length = lastBytes - cur.start
			cur.max = math.Max(cur.max, e)
		} else if cur != nil {
			runs = append(runs, *cur)
			cur = nil
		}
		hist = [256]int{}
		n = 0
		winStart = -1
	}
	for i, d := range s.m.Data {
		p, off := d.Init, d.InitOffset
		for len(p) > 0 {
			if k := inSpans(known, off); k >= 0 {
				skip := min(known[k].end-off, len(p))
				p, off = p[skip:], off+skip
				continue
			}
			if winStart < 0 {
				winStart, winSeg = off, i
			}
			take := min(b.EntropyWindow-n, len(p))
			if k := nextSpan(known, off); k >= 0 && known[k].start-off < take {
				take = known[k].start - off
			}
			for _, c := range p[:take] {
				hist[c]++
			}
			n += take
			p, off = p[take:], off+take
			lastBytes = off
			if n == b.EntropyWindow {
				flush(false)
			}
		}
	}
	flush(true)
	if cur != nil {
		runs = append(runs, *cur)
	}

	for _, r := range runs {
		if overlaps(reported, r.start, r.start+r.length) {
			continue // already reported as an embedded executable
		}
		sample, _ := st.bytesAt(r.start, min(r.length, 256<<10))
		ratio := deflateRatio(sample)
		if ratio < 0.98 {
			continue // compresses: a dense table, not a payload
		}
		loc := Location{Section: "data", Offset: r.start, Length: r.length, Function: -1}
		// A container header in the run's first 4 KiB or in the window
		// before it (the run starts at a window boundary, the payload may
		// start anywhere in the window before).
		lead := b.EntropyWindow
		head, fileOff := st.bytesAt(r.start-lead, lead+4096)
		if kind, at, _ := container(head); kind != "" && fileOff(at) <= r.start+4096 {
			loc.Offset = fileOff(at)
			loc.Length = r.start + r.length - loc.Offset
			s.add(RuleHighEntropyData, Medium, loc, "A %s stream in data (segment %d): %d bytes at %.2f bits/byte that DEFLATE cannot shrink (%.0f%%); a compressed payload unpacked at run time.",
				kind, r.segment, r.length, r.max, ratio*100)
			continue
		}
		s.add(RuleHighEntropyData, Info, loc, "%d bytes of data from segment %d are near-random (%.2f bits/byte) and incompressible (DEFLATE %.0f%%), with no header that identifies them: a compressed asset or an encrypted blob.",
			r.length, r.segment, r.max, ratio*100)
	}
}

// knownTableSpans finds the known tables in the data segments.
func (s *scanner) knownTableSpans() []span {
	var out []span
	for _, d := range s.m.Data {
		for _, kt := range knownTables {
			for from := 0; ; {
				i := bytes.Index(d.Init[from:], kt.prefix)
				if i < 0 {
					break
				}
				start := d.InitOffset + from + i
				out = append(out, span{start, start + kt.length})
				from += i + kt.length
				if from >= len(d.Init) {
					break
				}
			}
		}
	}
	return out
}

func inSpans(sp []span, off int) int {
	for k, x := range sp {
		if x.start <= off && off < x.end {
			return k
		}
	}
	return -1
}

func nextSpan(sp []span, off int) int {
	best := -1
	for k, x := range sp {
		if x.start > off && (best < 0 || x.start < sp[best].start) {
			best = k
		}
	}
	return best
}

func overlaps(sp []span, start, end int) bool {
	for _, x := range sp {
		if x.start < end && start < x.end {
			return true
		}
	}
	return false
}

// deflateRatio is the size of p compressed by DEFLATE (default level)
// over its own size.
func deflateRatio(p []byte) float64 {
	if len(p) == 0 {
		return 0
	}
	var cw countWriter
	zw, _ := flate.NewWriter(&cw, flate.DefaultCompression)
	zw.Write(p)
	zw.Close()
	return float64(cw) / float64(len(p))
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// embedded reports executables in data (WW402 high) and base64 or hex
// blobs that decode to a payload, and returns the spans it reported.
func (s *scanner) embedded(st *stream) []span {
	var out []span
	for i, d := range s.m.Data {
		p := d.Init
		for _, magic := range [][]byte{wasmMagic, elfMagic, []byte("MZ")} {
			for from := 0; from < len(p); {
				j := bytes.Index(p[from:], magic)
				if j < 0 {
					break
				}
				at := from + j
				from = at + 1
				kind, size := executable(p[at:])
				if kind == "" {
					continue
				}
				loc := Location{Section: "data", Offset: d.InitOffset + at, Length: size, Function: -1}
				s.add(RuleHighEntropyData, High, loc, "Data segment %d holds %s (%d bytes of well-formed structure), a payload a loader can run.", i, kind, size)
				out = append(out, span{loc.Offset, loc.Offset + max(size, 1)})
				from = at + max(size, 1)
			}
		}
		for _, c := range containers[:2] { // gzip, zip: inflate and look
			for from := 0; from < len(p); {
				j := bytes.Index(p[from:], c.magic)
				if j < 0 {
					break
				}
				at := from + j
				from = at + 1
				if !c.ok(p[at:]) {
					continue
				}
				if kind, _, inner := container(p[at:]); kind == c.name && inner != "" {
					loc := Location{Section: "data", Offset: d.InitOffset + at, Length: len(p) - at, Function: -1}
					s.add(RuleHighEntropyData, High, loc, "Data segment %d holds %s in a %s stream, a payload a loader can unpack and run.", i, inner, kind)
					out = append(out, span{loc.Offset, loc.Offset + loc.Length})
					from = len(p)
				}
			}
		}
		out = append(out, s.encodedBlobs(i, d)...)
	}
	return out
}

var (
	wasmMagic = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	elfMagic  = []byte{0x7f, 'E', 'L', 'F'}
)

// executable checks for a WebAssembly module, ELF or PE image at the start
// of p, past its magic, and returns its kind and the bytes checked.
func executable(p []byte) (string, int) {
	switch {
	case bytes.HasPrefix(p, wasmMagic):
		if n := wasmSections(p); n > 0 {
			return "an embedded WebAssembly module", n
		}
	case bytes.HasPrefix(p, elfMagic) && len(p) >= 64:
		class, order, version := p[4], p[5], p[6]
		if (class == 1 || class == 2) && (order == 1 || order == 2) && version == 1 {
			var bo binary.ByteOrder = binary.LittleEndian
			if order == 2 {
				bo = binary.BigEndian
			}
			if t := bo.Uint16(p[16:]); t >= 1 && t <= 4 && bo.Uint32(p[20:]) == 1 {
				return "an embedded ELF image", 64
			}
		}
	case len(p) >= 0x40 && p[0] == 'M' && p[1] == 'Z':
		if pe := int(binary.LittleEndian.Uint32(p[0x3c:])); pe >= 0x40 && pe+24 <= len(p) && bytes.Equal(p[pe:pe+4], []byte("PE\x00\x00")) {
			return "an embedded PE (Windows) image", pe + 24
		}
	}
	return "", 0
}

// wasmSections walks the section headers after a WebAssembly header and
// returns the bytes covered when at least two well-formed sections, with
// non-custom ids in order, follow; else 0.
func wasmSections(p []byte) int {
	pos, count, last := 8, 0, 0
	for pos < len(p) {
		id := p[pos]
		if id > 13 {
			break
		}
		size, n, err := wasm.ReadU32(p[pos+1:])
		if err != nil || pos+1+n+int(size) > len(p) || size > 1<<30 {
			break
		}
		if id != 0 {
			if int(id) <= last && !(id == 12 || last == 12) {
				break
			}
			last = int(id)
		}
		pos += 1 + n + int(size)
		count++
	}
	if count < 2 {
		return 0
	}
	return pos
}

// container finds a compressed-container header in p and returns its kind,
// its position and, for gzip and zip members, what the first decompressed
// bytes are when they are an executable.
func container(p []byte) (kind string, at int, inner string) {
	best := -1
	for _, c := range containers {
		for from := 0; ; {
			i := bytes.Index(p[from:], c.magic)
			if i < 0 {
				break
			}
			if c.ok == nil || c.ok(p[from+i:]) {
				if best < 0 || from+i < best {
					best, kind = from+i, c.name
				}
				break
			}
			from += i + 1
		}
	}
	if best < 0 {
		return "", 0, ""
	}
	var r io.Reader
	switch kind {
	case "gzip":
		if zr, err := gzip.NewReader(bytes.NewReader(p[best:])); err == nil {
			r = zr
		}
	case "zip":
		q := p[best:]
		if len(q) >= 30 && binary.LittleEndian.Uint16(q[8:]) == 8 {
			skip := 30 + int(binary.LittleEndian.Uint16(q[26:])) + int(binary.LittleEndian.Uint16(q[28:]))
			if skip < len(q) {
				r = flate.NewReader(bytes.NewReader(q[skip:]))
			}
		}
	}
	if r != nil {
		head := make([]byte, 4096)
		n, _ := io.ReadFull(r, head)
		if k, _ := executable(head[:n]); k != "" {
			inner = k[len("an embedded "):]
			inner = "a compressed " + inner
		}
	}
	return kind, best, inner
}

var containers = []struct {
	name  string
	magic []byte
	ok    func([]byte) bool
}{
	{"gzip", []byte{0x1f, 0x8b, 0x08}, func(p []byte) bool { return len(p) > 3 && p[3] < 0x20 }},
	{"zip", []byte("PK\x03\x04"), func(p []byte) bool { return len(p) >= 30 && p[4] <= 63 && p[5] == 0 }},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, nil},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}, nil},
	{"bzip2", []byte("BZh"), func(p []byte) bool { return len(p) >= 10 && p[3] >= '1' && p[3] <= '9' && string(p[4:10]) == "1AY&SY" }},
	{"7z", []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}, nil},
}

// Encoded blobs: runs of base64 or hex characters long enough to carry a
// payload (4 KiB of base64, 8 KiB of hex) are decoded (the first 64 KiB)
// and judged like raw data.
const (
	minBase64Run = 4 << 10
	minHexRun    = 8 << 10
	blobSample   = 64 << 10
)

var base64Chars, hexChars [256]bool

func init() {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_" {
		base64Chars[c] = true
	}
	for _, c := range "0123456789abcdefABCDEF" {
		hexChars[c] = true
	}
}

func (s *scanner) encodedBlobs(seg int, d wasm.Data) []span {
	var out []span
	p := d.Init
	for i := 0; i < len(p); {
		if !base64Chars[p[i]] {
			i++
			continue
		}
		j, allHex := i, true
		for j < len(p) && base64Chars[p[j]] {
			allHex = allHex && hexChars[p[j]]
			j++
		}
		run := p[i:j]
		var dec []byte
		enc := ""
		switch {
		case allHex && len(run) >= minHexRun:
			enc = "hex"
			dec = make([]byte, hex.DecodedLen(min(len(run), 2*blobSample)&^1))
			hex.Decode(dec, run[:len(dec)*2])
		case !allHex && len(run) >= minBase64Run:
			enc = "base64"
			dec = decodeBase64(run[:min(len(run), blobSample/3*4)])
		}
		if dec != nil {
			if desc, sev := judgeDecoded(dec); desc != "" {
				loc := Location{Section: "data", Offset: d.InitOffset + i, Length: len(run), Function: -1}
				s.add(RuleHighEntropyData, sev, loc, "Data segment %d holds a %d-byte %s blob that decodes to %s.", seg, len(run), enc, desc)
				out = append(out, span{loc.Offset, loc.Offset + len(run)})
			}
		}
		i = j
	}
	return out
}

func decodeBase64(run []byte) []byte {
	run = bytes.TrimRight(run, "=")
	run = run[:len(run)&^3]
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		dec := make([]byte, enc.DecodedLen(len(run)))
		if n, err := enc.Decode(dec, run); err == nil {
			return dec[:n]
		}
	}
	return nil
}

// judgeDecoded says what a decoded blob is, if it is a payload.
func judgeDecoded(dec []byte) (string, Severity) {
	if k, _ := executable(dec); k != "" {
		return k[len("an embedded "):], High
	}
	if kind, at, inner := container(dec[:min(len(dec), 64)]); kind != "" && at == 0 {
		if inner != "" {
			return inner + " in a " + kind + " stream", High
		}
		return "a " + kind + " stream", Medium
	}
	if len(dec) >= 4<<10 {
		var hist [256]int
		for _, c := range dec {
			hist[c]++
		}
		if e := shannon(&hist, len(dec)); e >= 7.9 && deflateRatio(dec) >= 0.98 {
			return fmt.Sprintf("near-random bytes (%.2f bits/byte, incompressible)", e), Medium
		}
	}
	return "", 0
}

package scan

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

// dataModule builds a module with one memory large enough for segs, laid
// out one after another as active data segments.
func dataModule(segs ...[]byte) []byte {
	total := 0
	for _, s := range segs {
		total += len(s)
	}
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	out = wasm.AppendSection(out, wasm.SectionMemory, wasm.AppendU32([]byte{1, 0}, uint32(total>>16+1)))
	data := wasm.AppendU32(nil, uint32(len(segs)))
	off := 0
	for _, s := range segs {
		data = append(data, 0, 0x41)
		data = wasm.AppendS32(data, int32(off))
		data = append(data, 0x0b)
		data = wasm.AppendU32(data, uint32(len(s)))
		data = append(data, s...)
		off += len(s)
	}
	return wasm.AppendSection(out, wasm.SectionData, data)
}

// encrypted returns n bytes of AES-CTR keystream over zeros: what an
// encrypted payload looks like.
func encrypted(n int) []byte {
	key := sha256.Sum256([]byte("wasmward test key"))
	blk, _ := aes.NewCipher(key[:16])
	out := make([]byte, n)
	cipher.NewCTR(blk, make([]byte, 16)).XORKeyStream(out, out)
	return out
}

func gzipped(p []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(p)
	zw.Close()
	return b.Bytes()
}

// denseTable is a 16-bit code table like the character-set maps of
// duckdb and ffmpeg: high byte entropy (about 7.7 bits/byte) but regular.
func denseTable(n int) []byte {
	out := make([]byte, 0, n)
	for i := 0; len(out) < n; i++ {
		v := uint16(0x4e00 + i*7%20000)
		out = binary.LittleEndian.AppendUint16(out, v)
	}
	return out
}

// p256Table is a stand-in for Go's P-256 table: its real first 32 bytes,
// then random-looking points.
func p256Table() []byte {
	kt := knownTables[0]
	return append(append([]byte(nil), kt.prefix...), encrypted(kt.length-len(kt.prefix))...)
}

func TestPayloads(t *testing.T) {
	text := bytes.Repeat([]byte("ordinary strings and tables of a program\x00"), 2000)
	inner := fixture.Bytes(t, "scan_cprog") // a real wasm module as payload
	bigWasm := append(append([]byte(nil), inner...), encrypted(8<<10)...)
	for _, tc := range []struct {
		name string
		segs [][]byte
		want []string // severity: message fragment
	}{
		{"text", [][]byte{text}, nil},
		{"dense table", [][]byte{text, denseTable(256 << 10)}, nil},
		{"P-256 table", [][]byte{text, p256Table(), text}, nil},
		{"encrypted blob", [][]byte{text, encrypted(64 << 10)}, []string{"info: near-random (7.9"}},
		{"encrypted blob split over segments", split(encrypted(70<<10), 20<<10, 45<<10), []string{"info: near-random"}},
		{"gzip payload", [][]byte{text, gzipped(encrypted(64 << 10))}, []string{"medium: A gzip stream in data"}},
		{"gzipped wasm", [][]byte{text, gzipped(bigWasm)}, []string{"high: holds a compressed WebAssembly module in a gzip stream"}},
		{"embedded wasm", [][]byte{text, inner, text}, []string{"high: holds an embedded WebAssembly module"}},
		{"embedded ELF", [][]byte{text, elfHeader(), text}, []string{"high: holds an embedded ELF image"}},
		{"base64 wasm", [][]byte{text, []byte(base64.StdEncoding.EncodeToString(bigWasm)), text}, []string{"high: -byte base64 blob that decodes to WebAssembly module"}},
		{"base64 encrypted", [][]byte{text, []byte(base64.StdEncoding.EncodeToString(encrypted(16 << 10)))}, []string{"medium: base64 blob that decodes to near-random bytes"}},
		{"hex encrypted", [][]byte{text, []byte(hex.EncodeToString(encrypted(16 << 10)))}, []string{"medium: hex blob that decodes to near-random bytes"}},
		{"base64 text", [][]byte{[]byte(base64.StdEncoding.EncodeToString(text))}, nil},
		{"wasm magic alone", [][]byte{text, []byte("\x00asm\x01\x00\x00\x00\xff\xff"), text}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := dataModule(tc.segs...)
			r := Scan(context.Background(), "p.wasm", bin, Options{})
			var got []string
			for _, f := range find(r, RuleHighEntropyData) {
				got = append(got, f.Severity.String()+": "+f.Message)
				if f.Location.Offset < 0 || f.Location.Offset+f.Location.Length > len(bin) || f.Location.Length <= 0 {
					t.Errorf("location %+v outside the module (%d bytes)", f.Location, len(bin))
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("WW402 = %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				sev, frag, _ := strings.Cut(w, ": ")
				if !strings.HasPrefix(got[i], sev+": ") || !strings.Contains(got[i], frag) {
					t.Errorf("WW402 = %q, want %q", got[i], w)
				}
			}
		})
	}
}

// elfHeader is the 64-byte header of an x86-64 ELF executable.
func elfHeader() []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(h[16:], 2)    // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], 0x3e) // x86-64
	binary.LittleEndian.PutUint32(h[20:], 1)
	return h
}

// split cuts p at the given offsets.
func split(p []byte, at ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, a := range at {
		out = append(out, p[prev:a])
		prev = a
	}
	return append(out, p[prev:])
}

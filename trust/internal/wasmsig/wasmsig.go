// Package wasmsig encodes and decodes the payload of the "signature" custom
// section written by wasmsign2 (WebAssembly tool-conventions signatures),
// and computes the rolling SHA-256 hashes it signs.
//
// Layout of the payload:
//
//	varuint spec_version (1) | varuint content_type (1) | varuint hash_fn (1)
//	varuint32 set_count (<= 64)
//	set_count x ( varuint32 byte_len | varuint32 hash_count (<= 64) | hash_count x 32 bytes
//	              | varuint32 sig_count (<= 256)
//	              | sig_count x ( varuint32 byte_len | varuint32 key_id_len | key_id
//	                              | u8 alg | varuint32 sig_len | sig ) )
package wasmsig

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/wasmward/wasmward/internal/wasm"
)

// Names of the custom sections the format uses, and its constants.
const (
	SectionName   = "signature"
	DelimiterName = "signature_delimiter"

	SpecVersion        = 0x01
	ContentTypeModule  = 0x01
	HashSHA256         = 0x01
	AlgEd25519         = 0x01
	Domain             = "wasmsig"
	maxSets            = 64
	maxHashes          = 64
	maxSignatures      = 256
	maxKeyID           = 1024
	maxSignatureLength = 1024
)

// Data is a decoded signature section payload.
type Data struct {
	SpecVersion byte
	ContentType byte
	HashFn      byte
	Sets        []SignedHashes
}

// SignedHashes is a set of hashes and the signatures over them.
type SignedHashes struct {
	Hashes     [][32]byte
	Signatures []Signature
}

// Signature is one signature over a hash set. Signatures with an algorithm
// other than Ed25519 are dropped when parsing, as wasmsign2 does.
type Signature struct {
	KeyID     []byte
	Alg       byte
	Signature []byte
}

// Message is the byte string signed for hashes:
// "wasmsig" | spec_version | content_type | hash_fn | h1 | ... | hn.
func (d *Data) Message(hashes [][32]byte) []byte {
	msg := make([]byte, 0, len(Domain)+3+32*len(hashes))
	msg = append(msg, Domain...)
	msg = append(msg, d.SpecVersion, d.ContentType, d.HashFn)
	for _, h := range hashes {
		msg = append(msg, h[:]...)
	}
	return msg
}

// New returns empty signature data for a module hashed with SHA-256.
func New() *Data {
	return &Data{SpecVersion: SpecVersion, ContentType: ContentTypeModule, HashFn: HashSHA256}
}

// Marshal encodes the payload.
func (d *Data) Marshal() []byte {
	b := []byte{d.SpecVersion, d.ContentType, d.HashFn}
	b = wasm.AppendU32(b, uint32(len(d.Sets)))
	for _, s := range d.Sets {
		var set []byte
		set = wasm.AppendU32(set, uint32(len(s.Hashes)))
		for _, h := range s.Hashes {
			set = append(set, h[:]...)
		}
		set = wasm.AppendU32(set, uint32(len(s.Signatures)))
		for _, sig := range s.Signatures {
			var one []byte
			one = wasm.AppendU32(one, uint32(len(sig.KeyID)))
			one = append(one, sig.KeyID...)
			one = append(one, sig.Alg)
			one = wasm.AppendU32(one, uint32(len(sig.Signature)))
			one = append(one, sig.Signature...)
			set = wasm.AppendU32(set, uint32(len(one)))
			set = append(set, one...)
		}
		b = wasm.AppendU32(b, uint32(len(set)))
		b = append(b, set...)
	}
	return b
}

// Parse decodes a payload. Every error names the field and the byte offset
// in the payload.
func Parse(p []byte) (*Data, error) {
	r := &rd{b: p}
	d := &Data{}
	var err error
	if d.SpecVersion, err = r.smallVar("spec version"); err != nil {
		return nil, err
	}
	if d.ContentType, err = r.smallVar("content type"); err != nil {
		return nil, err
	}
	if d.HashFn, err = r.smallVar("hash function"); err != nil {
		return nil, err
	}
	if d.SpecVersion != SpecVersion {
		return nil, fmt.Errorf("signature section: unsupported spec version %d", d.SpecVersion)
	}
	if d.ContentType != ContentTypeModule {
		return nil, fmt.Errorf("signature section: unsupported content type %d", d.ContentType)
	}
	if d.HashFn != HashSHA256 {
		return nil, fmt.Errorf("signature section: unsupported hash function %d", d.HashFn)
	}
	n, err := r.count("signed hash set count", maxSets)
	if err != nil {
		return nil, err
	}
	for range n {
		sr, err := r.sub("signed hash set")
		if err != nil {
			return nil, err
		}
		var s SignedHashes
		hn, err := sr.count("hash count", maxHashes)
		if err != nil {
			return nil, err
		}
		if hn == 0 {
			return nil, sr.errf("hash count", "a signed hash set has no hashes")
		}
		for range hn {
			h, err := sr.take(32, "hash")
			if err != nil {
				return nil, err
			}
			s.Hashes = append(s.Hashes, [32]byte(h))
		}
		sn, err := sr.count("signature count", maxSignatures)
		if err != nil {
			return nil, err
		}
		for range sn {
			gr, err := sr.sub("signature")
			if err != nil {
				return nil, err
			}
			kl, err := gr.count("key id length", maxKeyID)
			if err != nil {
				return nil, err
			}
			kid, err := gr.take(kl, "key id")
			if err != nil {
				return nil, err
			}
			alg, err := gr.take(1, "algorithm")
			if err != nil {
				return nil, err
			}
			sl, err := gr.count("signature length", maxSignatureLength)
			if err != nil {
				return nil, err
			}
			sig, err := gr.take(sl, "signature bytes")
			if err != nil {
				return nil, err
			}
			if err := gr.end("signature"); err != nil {
				return nil, err
			}
			if alg[0] != AlgEd25519 {
				continue // unknown algorithms are skipped, as wasmsign2 does
			}
			s.Signatures = append(s.Signatures, Signature{KeyID: append([]byte(nil), kid...), Alg: alg[0], Signature: append([]byte(nil), sig...)})
		}
		if err := sr.end("signed hash set"); err != nil {
			return nil, err
		}
		d.Sets = append(d.Sets, s)
	}
	if err := r.end("signature section"); err != nil {
		return nil, err
	}
	return d, nil
}

// Body is the part of a module that signatures cover: the sections after the
// signature section, re-serialized with minimal LEB128 lengths, and the
// rolling hashes over its parts.
type Body struct {
	// Bytes is the re-serialized sections.
	Bytes []byte
	// Hashes are the rolling SHA-256 hashes: one after each
	// signature_delimiter section, and one at the end when the last section
	// is not a delimiter. The last hash is the SHA-256 of Bytes.
	Hashes [][32]byte
}

// Canonical re-serializes secs (which must not include a signature section)
// and computes their rolling hashes.
func Canonical(secs []wasm.Section) (*Body, error) {
	var out []byte
	b := &Body{}
	h := sha256.New()
	pending := false
	for i := range secs {
		s := &secs[i]
		if s.ID == wasm.SectionCustom && s.Name == SectionName {
			return nil, fmt.Errorf("a second %q section at offset %#x", SectionName, s.Offset)
		}
		start := len(out)
		out = append(out, byte(s.ID))
		if s.ID == wasm.SectionCustom {
			payload := wasm.AppendName(nil, s.Name)
			payload = append(payload, s.Data...)
			out = wasm.AppendU32(out, uint32(len(payload)))
			out = append(out, payload...)
		} else {
			out = wasm.AppendU32(out, uint32(len(s.Payload)))
			out = append(out, s.Payload...)
		}
		h.Write(out[start:])
		pending = true
		if s.ID == wasm.SectionCustom && s.Name == DelimiterName {
			b.Hashes = append(b.Hashes, [32]byte(h.Sum(nil)))
			pending = false
		}
	}
	if pending || len(b.Hashes) == 0 {
		b.Hashes = append(b.Hashes, [32]byte(h.Sum(nil)))
	}
	b.Bytes = out
	return b, nil
}

// ErrTruncated is the cause when the payload ends inside a field.
var ErrTruncated = errors.New("unexpected end")

type rd struct {
	b    []byte
	pos  int
	base int
}

func (r *rd) errf(field, format string, args ...any) error {
	return fmt.Errorf("signature section: %s at payload offset %d: %s", field, r.base+r.pos, fmt.Sprintf(format, args...))
}

func (r *rd) u32(field string) (uint32, error) {
	v, n, err := wasm.ReadU32(r.b[r.pos:])
	switch {
	case errors.Is(err, wasm.ErrUnexpectedEnd):
		return 0, fmt.Errorf("signature section: %s at payload offset %d: %w", field, r.base+r.pos, ErrTruncated)
	case err != nil:
		return 0, r.errf(field, "integer too long or too large")
	}
	r.pos += n
	return v, nil
}

// smallVar reads a one-byte varuint (values >= 0x80 are refused).
func (r *rd) smallVar(field string) (byte, error) {
	b, err := r.take(1, field)
	if err != nil {
		return 0, err
	}
	if b[0] >= 0x80 {
		r.pos--
		return 0, r.errf(field, "value out of range")
	}
	return b[0], nil
}

func (r *rd) count(field string, max int) (int, error) {
	v, err := r.u32(field)
	if err != nil {
		return 0, err
	}
	if int64(v) > int64(max) {
		return 0, r.errf(field, "%d exceeds the limit of %d", v, max)
	}
	return int(v), nil
}

func (r *rd) take(n int, field string) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos { // n < 0: a huge length on a 32-bit int
		return nil, fmt.Errorf("signature section: %s at payload offset %d: %w", field, r.base+r.pos, ErrTruncated)
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p, nil
}

// sub reads a length prefix and returns a reader over that many bytes.
func (r *rd) sub(field string) (*rd, error) {
	n, err := r.u32(field + " length")
	if err != nil {
		return nil, err
	}
	start := r.base + r.pos
	p, err := r.take(int(n), field)
	if err != nil {
		return nil, err
	}
	return &rd{b: p, base: start}, nil
}

func (r *rd) end(field string) error {
	if r.pos != len(r.b) {
		return r.errf(field, "%d unexpected trailing bytes", len(r.b)-r.pos)
	}
	return nil
}

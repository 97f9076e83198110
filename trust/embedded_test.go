package trust

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

func ed25519Key(t testing.TB) *PrivateKey { return mustKey(t, Ed25519) }

func signed(t testing.TB, bin []byte, opts SignOptions, keys ...*PrivateKey) []byte {
	t.Helper()
	for _, k := range keys {
		var err error
		if bin, err = SignModule(bin, k, opts); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func pubs(keys ...*PrivateKey) []*PublicKey {
	out := make([]*PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k.Public()
	}
	return out
}

// customSection encodes a custom section.
func customSection(name string, data []byte) []byte {
	payload := wasm.AppendName(nil, name)
	payload = append(payload, data...)
	out := wasm.AppendU32([]byte{0}, uint32(len(payload)))
	return append(out, payload...)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a, b, c := ed25519Key(t), ed25519Key(t), ed25519Key(t)
	one := signed(t, bin, SignOptions{}, a)
	if !bytes.Equal(one[len(one)-len(bin)+8:], bin[8:]) {
		t.Fatal("signing changed the module's sections")
	}
	res, err := VerifyModule(one, nil, pubs(a, b))
	if err != nil || len(res.Signers) != 1 || !res.Signers[0].Equal(a.Public()) {
		t.Fatalf("one signer: %v %+v", err, res)
	}
	two := signed(t, one, SignOptions{NoKeyID: true}, b)
	res, err = VerifyModule(two, nil, pubs(c, b, a))
	if err != nil || len(res.Signers) != 2 || res.Signatures != 2 {
		t.Fatalf("two signers: %v %+v", err, res)
	}
	if _, err := SignModule(two, a, SignOptions{}); err == nil || !strings.Contains(err.Error(), "already signed by this key") {
		t.Fatalf("same key twice: %v", err)
	}
	if _, err := SignModule(bin, mustKey(t, ECDSAP256), SignOptions{}); err == nil || !strings.Contains(err.Error(), "need an ed25519 key") {
		t.Fatalf("ecdsa embedded: %v", err)
	}
}

func TestDetached(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a, b := ed25519Key(t), ed25519Key(t)
	sig, err := SignDetached(bin, nil, a, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sig2, err := SignDetached(bin, sig, b, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyModule(bin, sig2, pubs(a, b))
	if err != nil || len(res.Signers) != 2 {
		t.Fatalf("detached: %v %+v", err, res)
	}
	// A detached signature is the embedded signature section's payload.
	emb := signed(t, bin, SignOptions{}, a)
	secs, _ := wasm.Sections(emb)
	if !bytes.Equal(secs[0].Data, sig) {
		t.Fatal("detached signature differs from the embedded section payload")
	}
	tampered := bytes.Clone(bin)
	tampered[len(tampered)-2] ^= 1
	if _, err := VerifyModule(tampered, sig, pubs(a)); !errors.Is(err, ErrModified) {
		t.Fatalf("detached, modified module: %v", err)
	}
	if _, err := SignDetached(emb, nil, b, SignOptions{}); err == nil {
		t.Fatal("detached signature of an embedded-signed module")
	}
	if _, err := VerifyModule(emb, sig, pubs(a)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("detached and embedded at once: %v", err)
	}
	if _, err := SignDetached(bin, nil, a, SignOptions{Version: "1.0.0"}); err == nil {
		t.Fatal("detached with a version")
	}
}

// padded returns bin with every section size written as a 5-byte LEB128.
func padded(t *testing.T, bin []byte) []byte {
	secs, err := wasm.Sections(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(bin[:8])
	for _, s := range secs {
		n := uint32(len(s.Payload))
		out = append(out, byte(s.ID), byte(n)|0x80, byte(n>>7)|0x80, byte(n>>14)|0x80, byte(n>>21)|0x80, byte(n>>28))
		out = append(out, s.Payload...)
	}
	return out
}

func TestPaddedLEB128IsReserialized(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a := ed25519Key(t)
	p := padded(t, bin)
	if bytes.Equal(p, bin) {
		t.Fatal("padding did nothing")
	}
	fromPadded := signed(t, p, SignOptions{}, a)
	fromMinimal := signed(t, bin, SignOptions{}, a)
	if !bytes.Equal(fromPadded, fromMinimal) {
		t.Fatal("signing a padded module did not re-serialize it to the minimal form")
	}
	if _, err := SignDetached(p, nil, a, SignOptions{}); err == nil || !strings.Contains(err.Error(), "non-minimal LEB128") {
		t.Fatalf("detached over padded: %v", err)
	}
}

func TestVersionSection(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a, b := ed25519Key(t), ed25519Key(t)
	v := signed(t, bin, SignOptions{Version: "1.2.3"}, a)
	res, err := VerifyModule(v, nil, pubs(a))
	if err != nil || res.Version != "1.2.3" {
		t.Fatalf("version: %v %+v", err, res)
	}
	// Another signer with the same version, or none: fine.
	if _, err := SignModule(v, b, SignOptions{Version: "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := SignModule(v, b, SignOptions{Version: "1.2.4"}); err == nil || !strings.Contains(err.Error(), `already carries version "1.2.3"`) {
		t.Fatalf("conflicting version: %v", err)
	}
	if _, err := SignModule(signed(t, bin, SignOptions{}, a), b, SignOptions{Version: "1.0.0"}); err == nil || !strings.Contains(err.Error(), "already signed") {
		t.Fatalf("version added to a signed module: %v", err)
	}
	if _, err := SignModule(bin, a, SignOptions{Version: "1.2"}); err == nil || !strings.Contains(err.Error(), "MAJOR.MINOR.PATCH") {
		t.Fatalf("bad version: %v", err)
	}
	// Changing the version after signing: the hash no longer matches.
	i := bytes.Index(v, []byte("1.2.3"))
	forged := bytes.Clone(v)
	forged[i+4] = '9'
	if _, err := VerifyModule(forged, nil, pubs(a)); !errors.Is(err, ErrModified) {
		t.Fatalf("forged version: %v", err)
	}
	// A second version section appended: modified (and malformed).
	two := append(bytes.Clone(v), customSection(VersionSection, []byte("9.9.9"))...)
	if _, err := VerifyModule(two, nil, pubs(a)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("two version sections: %v", err)
	}
}

// Every single-byte change anywhere in a signed module is refused, and
// the message says why.
func TestTamperAnyByte(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a := ed25519Key(t)
	for _, opts := range []SignOptions{{}, {NoKeyID: true, Version: "2.0.0"}} {
		s := signed(t, bin, opts, a)
		if _, err := VerifyModule(s, nil, pubs(a)); err != nil {
			t.Fatal(err)
		}
		for i := range s {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				m := bytes.Clone(s)
				m[i] ^= x
				res, err := VerifyModule(m, nil, pubs(a))
				if err == nil {
					t.Fatalf("byte %#x ^ %#x accepted: %+v", i, x, res)
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrModified) && !errors.Is(err, ErrUntrusted) && !errors.Is(err, ErrUnsigned) {
					t.Fatalf("byte %#x ^ %#x: unclassified error %v", i, x, err)
				}
			}
		}
	}
}

func TestTamperStructure(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a, stranger := ed25519Key(t), ed25519Key(t)
	s := signed(t, bin, SignOptions{}, a)
	secs, err := wasm.Sections(s)
	if err != nil {
		t.Fatal(err)
	}
	rebuild := func(order ...int) []byte {
		out := bytes.Clone(s[:8])
		for _, i := range order {
			out = append(out, secs[i].Raw...)
		}
		return out
	}
	all := make([]int, len(secs))
	for i := range all {
		all[i] = i
	}
	other := signed(t, append(bytes.Clone(bin), customSection("x", []byte("y"))...), SignOptions{}, a)
	otherSecs, _ := wasm.Sections(other)
	transplanted := append(bytes.Clone(s[:8]), otherSecs[0].Raw...)
	transplanted = append(transplanted, s[secs[0].End():]...)

	for _, tc := range []struct {
		name string
		bin  []byte
		keys []*PublicKey
		want error
		msg  string
	}{
		{"reordered sections", rebuild(append([]int{0, 2, 1}, all[3:]...)...), pubs(a), ErrModified, "reordered"},
		{"duplicated section", rebuild(append(all, len(secs)-1)...), pubs(a), ErrModified, "none of the 1 signed hash sets"},
		{"section removed", rebuild(all[:len(all)-1]...), pubs(a), ErrModified, "signed hash sets"},
		{"section appended", append(bytes.Clone(s), customSection("late", []byte("x"))...), pubs(a), ErrModified, "added"},
		{"untrusted key", s, pubs(stranger), ErrUntrusted, "1 signature(s) cover this module, none by the 1 key(s) given"},
		{"signature of another module", transplanted, pubs(a), ErrModified, "signed hash sets"},
		{"signature section not first", append(append(bytes.Clone(s[:8]), s[secs[0].End():]...), secs[0].Raw...), pubs(a), ErrMalformed, "not first"},
		{"second signature section", append(bytes.Clone(s), secs[0].Raw...), pubs(a), ErrMalformed, "a second signature section"},
		{"unsigned", bin, pubs(a), ErrUnsigned, "not signed"},
		{"empty signature section", append(append(bytes.Clone(bin[:8]), customSection("signature", []byte{1, 1, 1, 0})...), bin[8:]...), pubs(a), ErrUnsigned, "no signatures"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyModule(tc.bin, nil, tc.keys)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestTruncatedAnywhere(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a := ed25519Key(t)
	s := signed(t, bin, SignOptions{}, a)
	for n := range s {
		if _, err := VerifyModule(s[:n], nil, pubs(a)); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

// With signature_delimiter sections the module has several rolling hashes;
// a module cut at a delimiter matches an intermediate hash and must still
// be refused (wasmward verifies whole modules only).
func TestDelimitedPartsWholeModuleOnly(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	secs, _ := wasm.Sections(bin)
	delim := customSection("signature_delimiter", bytes.Repeat([]byte{7}, 16))
	m := bytes.Clone(bin[:8])
	cut := 0
	for i, s := range secs {
		m = append(m, s.Raw...)
		if i == 2 {
			m = append(m, delim...)
			cut = len(m)
		}
	}
	m = append(m, delim...)
	a := ed25519Key(t)
	s := signed(t, m, SignOptions{}, a)
	if _, err := VerifyModule(s, nil, pubs(a)); err != nil {
		t.Fatal(err)
	}
	sigLen := len(s) - len(m)
	if _, err := VerifyModule(s[:sigLen+cut], nil, pubs(a)); !errors.Is(err, ErrModified) {
		t.Fatalf("module cut at a delimiter: %v", err)
	}
}

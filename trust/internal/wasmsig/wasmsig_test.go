package wasmsig

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func sample() *Data {
	d := New()
	d.Sets = []SignedHashes{{
		Hashes:     [][32]byte{{1}, {2}},
		Signatures: []Signature{{KeyID: []byte("kid"), Alg: AlgEd25519, Signature: bytes.Repeat([]byte{9}, 64)}, {Alg: AlgEd25519, Signature: bytes.Repeat([]byte{8}, 64)}},
	}}
	return d
}

func TestRoundTrip(t *testing.T) {
	d := sample()
	back, err := Parse(d.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Marshal(), d.Marshal()) || len(back.Sets[0].Signatures) != 2 || string(back.Sets[0].Signatures[0].KeyID) != "kid" {
		t.Fatalf("round trip: %+v", back)
	}
	msg := d.Message(d.Sets[0].Hashes)
	if !bytes.HasPrefix(msg, []byte("wasmsig\x01\x01\x01\x01")) || len(msg) != 7+3+64 {
		t.Fatalf("message %x", msg)
	}
}

func TestUnknownAlgorithmSkipped(t *testing.T) {
	d := sample()
	d.Sets[0].Signatures[0].Alg = 0x02
	back, err := Parse(d.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Sets[0].Signatures) != 1 {
		t.Fatalf("signatures %d, want the unknown one skipped", len(back.Sets[0].Signatures))
	}
}

func TestParseHostile(t *testing.T) {
	good := sample().Marshal()
	for _, tc := range []struct {
		name string
		p    []byte
		want string
	}{
		{"empty", nil, "spec version at payload offset 0: unexpected end"},
		{"spec version 2", []byte{2, 1, 1, 0}, "unsupported spec version 2"},
		{"content type", []byte{1, 2, 1, 0}, "unsupported content type 2"},
		{"hash fn", []byte{1, 1, 7, 0}, "unsupported hash function 7"},
		{"varuint version", []byte{0x81, 0, 1, 1, 0}, "spec version at payload offset 0: value out of range"},
		{"too many sets", []byte{1, 1, 1, 65}, "signed hash set count at payload offset 4: 65 exceeds the limit of 64"},
		{"set longer than payload", []byte{1, 1, 1, 1, 0x7f}, "signed hash set at payload offset 5: unexpected end"},
		{"no hashes", []byte{1, 1, 1, 1, 2, 0, 0}, "a signed hash set has no hashes"},
		{"too many hashes", []byte{1, 1, 1, 1, 2, 65, 0}, "65 exceeds the limit of 64"},
		{"trailing", append(bytes.Clone(good), 0), "1 unexpected trailing bytes"},
		{"truncated", good[:len(good)-1], "unexpected end"},
		{"overlong leb", []byte{1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0}, "integer too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// Every truncation of a good payload fails cleanly.
	for n := range good {
		if _, err := Parse(good[:n]); err == nil {
			t.Fatalf("truncated to %d accepted", n)
		} else if !errors.Is(err, ErrTruncated) && !strings.Contains(err.Error(), "signature section") {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample().Marshal())
	f.Add([]byte{1, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		d, err := Parse(p)
		if err != nil {
			return
		}
		// What parses re-encodes to something that parses to the same data.
		again, err := Parse(d.Marshal())
		if err != nil {
			t.Fatalf("re-encoded payload does not parse: %v", err)
		}
		if !bytes.Equal(again.Marshal(), d.Marshal()) {
			t.Fatal("re-encoding is not stable")
		}
	})
}

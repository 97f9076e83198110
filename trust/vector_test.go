package trust

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// readVector reads testdata/wasmsig-ed25519.txt (a copy of the shared
// vector): "name hex..." lines, spaces inside the hex ignored.
func readVector(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/wasmsig-ed25519.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(strings.ReplaceAll(rest, " ", ""))
		if err != nil {
			t.Fatalf("vector %s: %v", name, err)
		}
		v[name] = b
	}
	return v
}

func TestWasmsigVector(t *testing.T) {
	v := readVector(t)
	key, err := NewEd25519PrivateKey(v["seed"])
	if err != nil {
		t.Fatal(err)
	}
	if got := key.Public().ed25519Key(); !bytes.Equal(got, v["public"]) {
		t.Fatalf("public key %x, want %x", got, v["public"])
	}
	if h := sha256.Sum256(v["body"]); !bytes.Equal(h[:], v["h"]) {
		t.Fatalf("body hash %x, want %x", h, v["h"])
	}
	if id := hex.EncodeToString(key.Public().WasmsigKeyID()); id != "58fb94a6933f01b8b7707a8b" {
		t.Fatalf("key id %s", id)
	}
	unsigned := append([]byte("\x00asm\x01\x00\x00\x00"), v["body"]...)

	// The vector verifies.
	res, err := VerifyModule(v["signed"], nil, []*PublicKey{key.Public()})
	if err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	if len(res.Signers) != 1 || res.Signatures != 1 {
		t.Fatalf("signers %d signatures %d", len(res.Signers), res.Signatures)
	}

	// Our signer reproduces it byte for byte (no key id).
	got, err := SignModule(unsigned, key, SignOptions{NoKeyID: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v["signed"]) {
		t.Fatalf("signed module differs:\n got %x\nwant %x", got, v["signed"])
	}

	// With the default key id, the two length prefixes become 0x72 and 0x4f.
	withID, err := SignModule(unsigned, key, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// header(8) 00 size(2 bytes now) | 09 "signature" | 01 01 01 | 01 | setlen | 01 | hash(32) | 01 | siglen ...
	sec := withID[8:]
	setLen := sec[3+10+3+1]
	sigLen := sec[3+10+3+1+1+1+32+1]
	if setLen != 0x72 || sigLen != 0x4f {
		t.Fatalf("length prefixes %#x %#x, want 0x72 0x4f", setLen, sigLen)
	}
	if _, err := VerifyModule(withID, nil, []*PublicKey{key.Public()}); err != nil {
		t.Fatal(err)
	}
}

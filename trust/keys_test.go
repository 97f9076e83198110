package trust

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pass(p string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(p), nil } }

func mustKey(t testing.TB, kt KeyType) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyRoundTrip(t *testing.T) {
	t.Parallel() // scrypt at cosign's strength costs ~0.5 s per encrypted key
	for _, kt := range []KeyType{Ed25519, ECDSAP256} {
		for _, passphrase := range []string{"", "correct horse"} {
			t.Run(fmt.Sprintf("%s/encrypted=%v", kt, passphrase != ""), func(t *testing.T) {
				t.Parallel()
				k := mustKey(t, kt)
				priv, err := k.MarshalPEM([]byte(passphrase))
				if err != nil {
					t.Fatal(err)
				}
				block, _ := pem.Decode(priv)
				wantType := pemPrivate
				if passphrase != "" {
					wantType = pemSigstoreSealed
				}
				if block == nil || block.Type != wantType {
					t.Fatalf("PEM type %v, want %q", block, wantType)
				}
				back, err := ParsePrivateKey(priv, pass(passphrase))
				if err != nil {
					t.Fatal(err)
				}
				if back.Type() != kt || !back.Public().Equal(k.Public()) {
					t.Fatalf("round trip changed the key")
				}
				pub, err := ParsePublicKey(k.Public().MarshalPEM())
				if err != nil {
					t.Fatal(err)
				}
				if !pub.Equal(k.Public()) {
					t.Fatal("public key round trip changed the key")
				}
				msg := []byte("message")
				sig, err := back.sign(msg)
				if err != nil {
					t.Fatal(err)
				}
				if !pub.verify(msg, sig) || pub.verify([]byte("messagE"), sig) {
					t.Fatal("sign/verify mismatch")
				}
			})
		}
	}
}

func TestEncryptedKeyPassphrase(t *testing.T) {
	t.Parallel()
	k := mustKey(t, ECDSAP256)
	priv, err := k.MarshalPEM([]byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParsePrivateKey(priv, pass("hunter2-secret"))
	if !errors.Is(err, ErrPassphrase) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("wrong passphrase: %v, want ErrPassphrase without the passphrase", err)
	}
	if _, err := ParsePrivateKey(priv, nil); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("no passphrase: %v, want ErrPassphrase", err)
	}
}

// The key pair in testdata was made by cosign v2.6.5 (generate-key-pair).
func TestCosignGeneratedKey(t *testing.T) {
	t.Parallel()
	k, err := LoadPrivateKeyAnyMode("testdata/cosign.key", pass("cosign-test-pass")) // git keeps no 0600
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKey("testdata/cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	if k.Type() != ECDSAP256 || !k.Public().Equal(pub) {
		t.Fatalf("cosign key: type %s, public halves equal %v", k.Type(), k.Public().Equal(pub))
	}
	if _, err := LoadPrivateKeyAnyMode("testdata/cosign.key", pass("nope")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestRawWasmsign2Keys(t *testing.T) {
	v := readVector(t)
	raw := append([]byte{0x81}, v["seed"]...)
	raw = append(raw, v["public"]...)
	k, err := ParsePrivateKey(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(append([]byte{0x01}, v["public"]...))
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().Equal(pub) || !bytes.Equal(pub.ed25519Key(), v["public"]) {
		t.Fatal("raw keys do not match the vector")
	}
	bad := bytes.Clone(raw)
	bad[len(bad)-1] ^= 1
	if _, err := ParsePrivateKey(bad, nil); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched raw key pair: %v", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	dsaLike := pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	for _, tc := range []struct {
		name string
		priv bool
		data []byte
		want string
	}{
		{"garbage private", true, []byte("hello"), "not a private key"},
		{"unknown PEM", true, dsaLike, `unsupported PEM block "DSA PRIVATE KEY"`},
		{"PBES2", true, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), "not supported"},
		{"bad PKCS8", true, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), "parse PKCS#8"},
		{"garbage public", false, []byte("hello"), "not a public key"},
		{"private as public", false, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), `unsupported PEM block "PRIVATE KEY"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.priv {
				_, err = ParsePrivateKey(tc.data, nil)
			} else {
				_, err = ParsePublicKey(tc.data)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// A private key prints as its type and fingerprint, whatever the verb.
func TestPrivateKeyNeverPrinted(t *testing.T) {
	v := readVector(t)
	k, err := NewEd25519PrivateKey(v["seed"])
	if err != nil {
		t.Fatal(err)
	}
	seedHex := hex.EncodeToString(v["seed"])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(strings.ToLower(out), seedHex[:16]) || strings.Contains(out, string(v["seed"][:8])) {
			t.Fatalf("%s prints the secret: %s", verb, out)
		}
		if !strings.Contains(out, "redacted") {
			t.Fatalf("%s: %q", verb, out)
		}
	}
	// Also inside a struct.
	out := fmt.Sprintf("%+v", struct{ K *PrivateKey }{k})
	if strings.Contains(strings.ToLower(out), seedHex[:16]) {
		t.Fatalf("struct print leaks: %s", out)
	}
}

func TestWriteKeyPair(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "ci")
	k := mustKey(t, Ed25519)
	if err := WriteKeyPair(k, prefix, nil); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := LoadPrivateKey(prefix+".key", nil); err != nil {
		t.Fatal(err)
	}
	if pub, err := LoadPublicKey(prefix + ".pub"); err != nil || !pub.Equal(k.Public()) {
		t.Fatalf("public key: %v", err)
	}
	if err := WriteKeyPair(mustKey(t, Ed25519), prefix, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwrite: %v", err)
	}
}

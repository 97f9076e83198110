package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// vb is VerifyBundle's error alone.
func vb(key *PublicKey, data, b []byte) error {
	_, err := VerifyBundle(key, data, b)
	return err
}

func TestCosignRoundTrip(t *testing.T) {
	k := mustKey(t, ECDSAP256)
	data := []byte("module bytes")
	sig, err := SignBlob(k, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBlob(k.Public(), data, append(sig, '\n')); err != nil {
		t.Fatal(err)
	}
	b, err := SignBundle(k, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBundle(k.Public(), data, b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["mediaType"] != BundleMediaType {
		t.Fatalf("bundle: %v %v", err, m["mediaType"])
	}
	if _, err := SignBlob(mustKey(t, Ed25519), data); err == nil {
		t.Fatal("ed25519 key made a cosign blob signature")
	}
}

func TestCosignRefusals(t *testing.T) {
	k, other := mustKey(t, ECDSAP256), mustKey(t, ECDSAP256)
	data := []byte("module bytes")
	sig, _ := SignBlob(k, data)
	b, _ := SignBundle(k, data)
	otherBundle, _ := SignBundle(other, data)
	tampered := bytes.Clone(data)
	tampered[0] ^= 1
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"blob modified", VerifyBlob(k.Public(), tampered, sig), "does not match this file"},
		{"blob wrong key", VerifyBlob(other.Public(), data, sig), "does not match this file"},
		{"blob not base64", VerifyBlob(k.Public(), data, []byte("!!!")), "neither base64 nor a raw signature"},
		{"blob ed25519 key", VerifyBlob(mustKey(t, Ed25519).Public(), data, sig), "need an ecdsa-p256 or rsa key"},
		{"bundle modified", vb(k.Public(), tampered, b), "digest mismatch"},
		{"bundle other key", vb(k.Public(), data, otherBundle), "signed by another key"},
		{"bundle media type", vb(k.Public(), data, bytes.Replace(b, []byte("v0.3+json"), []byte("v9+json"), 1)), "unsupported media type"},
		{"bundle not json", vb(k.Public(), data, []byte("{")), "bundle: not valid JSON"},
		{"bundle no signature", vb(k.Public(), data, []byte(`{"mediaType":"`+BundleMediaType+`"}`)), "no message signature"},
		{"bundle both contents", vb(k.Public(), data, bytes.Replace(b, []byte(`"messageSignature"`), []byte(`"dsseEnvelope":{},"messageSignature"`), 1)), "both a message signature and a DSSE envelope"},
		{"bundle dsse", vb(k.Public(), data, []byte(`{"mediaType":"`+BundleMediaType+`","dsseEnvelope":{}}`)), "DSSE envelope bundles are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", tc.err, tc.want)
			}
		})
	}
	// A bundle whose signature is swapped for another file's keeps the digest check honest.
	var bb bundle
	_ = json.Unmarshal(b, &bb)
	sig2, _ := SignBundle(k, []byte("other"))
	var ob bundle
	_ = json.Unmarshal(sig2, &ob)
	bb.MessageSignature.Signature = ob.MessageSignature.Signature
	swapped, _ := json.Marshal(&bb)
	if err := vb(k.Public(), data, swapped); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("swapped signature: %v", err)
	}
}

// Signatures made by the real cosign v2.6.5 (see testdata/README.md).
func TestCosignMadeSignatures(t *testing.T) {
	pub, err := LoadPublicKey("testdata/cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile("testdata/cosign-blob.txt")
	sig, _ := os.ReadFile("testdata/cosign-blob.sig")
	b, _ := os.ReadFile("testdata/cosign-blob.bundle")
	if err := VerifyBlob(pub, data, sig); err != nil {
		t.Fatalf("cosign sign-blob signature: %v", err)
	}
	if _, err := VerifyBundle(pub, data, b); err != nil {
		t.Fatalf("cosign bundle: %v", err)
	}
	// Our hint for the key is the one cosign wrote.
	var c bundle
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.VerificationMaterial.PublicKey.Hint != pub.CosignHint() {
		t.Fatalf("hint %s, cosign wrote %s", pub.CosignHint(), c.VerificationMaterial.PublicKey.Hint)
	}
	if err := VerifyBlob(pub, append(data, 'x'), sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("modified: %v", err)
	}
}

// RSA signatures, a bundle and an encrypted RSA key made by the real cosign
// v2.6.5 (see testdata/README.md): cosign signs RSA with PKCS#1 v1.5.
func TestCosignMadeRSASignatures(t *testing.T) {
	pub, err := LoadPublicKey("testdata/cosign-rsa.pub")
	if err != nil {
		t.Fatal(err)
	}
	if pub.Description() != "rsa-2048 pkcs1v15" {
		t.Fatalf("key %s", pub.Description())
	}
	data, _ := os.ReadFile("testdata/cosign-blob.txt")
	sig, _ := os.ReadFile("testdata/cosign-rsa-blob.sig")
	b, _ := os.ReadFile("testdata/cosign-rsa-blob.bundle")
	if err := VerifyBlob(pub, data, sig); err != nil {
		t.Fatalf("cosign RSA signature: %v", err)
	}
	if err := vb(pub, data, b); err != nil {
		t.Fatalf("cosign RSA bundle: %v", err)
	}
	pss, _ := pub.WithRSAScheme(PSS)
	if err := VerifyBlob(pss, data, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("PKCS#1 v1.5 signature verified as PSS: %v", err)
	}
	if err := VerifyBlob(pub, append(bytes.Clone(data), 'x'), sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("modified: %v", err)
	}
	k, err := LoadPrivateKeyAnyMode("testdata/cosign-rsa.key", pass("cosign-test-pass")) // git keeps no 0600
	if err != nil {
		t.Fatal(err)
	}
	if k.Type() != RSA || !k.Public().Equal(pub) {
		t.Fatal("cosign's encrypted RSA key does not match its public key")
	}
	mine, err := SignBlob(k, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(mine), bytes.TrimSpace(sig)) {
		t.Fatal("PKCS#1 v1.5 is deterministic: our signature with cosign's key differs from cosign's")
	}
}

package trust

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/trust/internal/dsse"
	"github.com/wasmward/wasmward/trust/internal/wasmsig"
)

// The three encodings of the identity point named in the issue: canonical
// (y = 1), y = 1 with the sign bit set (x = -0), and y = p + 1.
var identityEncodings = map[string]string{
	"identity":          "0100000000000000000000000000000000000000000000000000000000000000",
	"identity sign bit": "0100000000000000000000000000000000000000000000000000000000000080",
	"identity y=p+1":    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

// forgedSig is R = identity, S = 0: under a small-order key it verifies
// every message with crypto/ed25519.Verify.
var forgedSig = append([]byte{1}, make([]byte, 63)...)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Small-order and non-canonical Ed25519 keys are refused when a key file or
// a trust policy loads, in every file form, and the forged signature they
// admit does not verify even under a key that bypassed the loader.
func TestWeakEd25519Keys(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for name, enc := range identityEncodings {
		pk := mustHex(t, enc)
		// Premise: the standard library alone accepts the forgery.
		if !ed25519.Verify(pk, []byte("any message"), forgedSig) {
			t.Fatalf("%s: crypto/ed25519 refuses the forgery; the premise of this test is gone", name)
		}
		der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(pk))
		if err != nil {
			t.Fatal(err)
		}
		file := strings.ReplaceAll(name, " ", "_")
		forms := map[string][]byte{
			file + ".pub": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			file + ".der": der,
			file + ".raw": append([]byte{rawEd25519Public}, pk...),
		}
		for fn, data := range forms {
			path := filepath.Join(dir, fn)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadPublicKey(path)
			want := "a point of small order"
			if name != "identity" {
				want = "non-canonical encoding"
			}
			if err == nil || !strings.Contains(err.Error(), "ed25519 public key "+enc+": ") || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %v, want a refusal saying %q", fn, err, want)
			}
		}
		names = append(names, file)
	}

	// The attack of the issue: the three keys in a policy with a 3-of-3 rule.
	var pol strings.Builder
	pol.WriteString("keys:\n")
	for _, n := range names {
		fmt.Fprintf(&pol, "  - name: %s\n    public_key: %s.pub\n", n, n)
	}
	pol.WriteString("rules:\n  - modules: \"*\"\n    keys: [" + strings.Join(names, ", ") + "]\n    threshold: 3\n")
	_, err := LoadPolicy(writePolicy(t, dir, pol.String()))
	if err == nil || !strings.Contains(err.Error(), "trust.yaml: keys[0] ("+names[0]+"): public key ") || !strings.Contains(err.Error(), "ed25519 public key") {
		t.Fatalf("3-of-3 policy over identity keys: got %v, want a load error naming keys[0]", err)
	}

	// A module "signed" three times with the forgery, no key ID.
	bin := fixture.Bytes(t, "trust_hello")
	body, err := wasmsig.Canonical(mustSections(t, bin))
	if err != nil {
		t.Fatal(err)
	}
	data := wasmsig.New()
	set := wasmsig.SignedHashes{Hashes: body.Hashes}
	for range 3 {
		set.Signatures = append(set.Signatures, wasmsig.Signature{Alg: wasmsig.AlgEd25519, Signature: forgedSig})
	}
	data.Sets = append(data.Sets, set)
	forged := append(bytes.Clone(bin[:8]), customSection(wasmsig.SectionName, data.Marshal())...)
	forged = append(forged, body.Bytes...)
	var weak []*PublicKey
	for _, enc := range identityEncodings {
		pk := ed25519.PublicKey(mustHex(t, enc))
		weak = append(weak, &PublicKey{key: pk}) // bypasses newPublicKey on purpose
		if !ed25519.Verify(pk, data.Message(body.Hashes), forgedSig) {
			t.Fatal("premise: the forged module verifies with crypto/ed25519")
		}
	}
	if _, err := VerifyModule(forged, nil, weak); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("forged module under weak keys: got %v, want ErrUntrusted", err)
	}
	// A forged attestation likewise.
	pae := dsse.PAE(InTotoPayloadType, []byte("{}"))
	for _, k := range weak {
		if k.verify(pae, forgedSig) {
			t.Fatal("a forged DSSE signature verified under a small-order key")
		}
	}
}

// The verifier refuses a non-canonical S (S + L) and a non-canonical or
// small-order R, and keeps accepting honest signatures.
func TestEd25519StrictVerify(t *testing.T) {
	k := ed25519Key(t)
	pk := k.Public().ed25519Key()
	msg := []byte("strict")
	sig := ed25519.Sign(k.signer.(ed25519.PrivateKey), msg)
	if !verifyEd25519(pk, msg, sig) {
		t.Fatal("an honest signature was refused")
	}
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s := new(big.Int).SetBytes(reverse(sig[32:]))
	s.Add(s, l)
	bigS := append(bytes.Clone(sig[:32]), reverse(s.FillBytes(make([]byte, 32)))...)
	smallR := append(mustHex(t, identityEncodings["identity"]), sig[32:]...)
	nonCanonR := append(mustHex(t, identityEncodings["identity y=p+1"]), sig[32:]...)
	for name, bad := range map[string][]byte{"S+L": bigS, "small-order R": smallR, "non-canonical R": nonCanonR, "short": sig[:63]} {
		if verifyEd25519(pk, msg, bad) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

// threshold: 1.9 and null used to become 1.
func TestPolicyThresholdMustBeInteger(t *testing.T) {
	dir, _ := policyEnv(t, "a", "b")
	head := "keys:\n  - name: a\n    public_key: keys/a.pub\n  - name: b\n    public_key: keys/b.pub\nrules:\n  - modules: \"*\"\n    keys: [a, b]\n"
	for _, tc := range []struct{ value, want string }{
		{"1.9", `trust.yaml:9: threshold "1.9": want an integer`},
		{"null", `trust.yaml:9: threshold "null": want an integer`},
		{"~", `trust.yaml:9: threshold "~": want an integer`},
		{"", `trust.yaml:9: threshold "": want an integer`},
		{`"2"`, `trust.yaml:9: threshold "2": want an integer`},
		{"2.0", `trust.yaml:9: threshold "2.0": want an integer`},
		{"[2]", `trust.yaml:9: threshold "": want an integer`},
	} {
		_, err := LoadPolicy(writePolicy(t, dir, head+"    threshold: "+tc.value+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("threshold: %s: got %v, want %q", tc.value, err, tc.want)
		}
	}
	p, err := LoadPolicy(writePolicy(t, dir, head+"    threshold: 2\n"))
	if err != nil || p.rules[0].Threshold != 2 {
		t.Fatalf("threshold 2: %v", err)
	}
}

// Bundles are read as strictly as cosign reads them.
func TestBundleStrict(t *testing.T) {
	k := mustKey(t, ECDSAP256)
	data := []byte("module bytes")
	good, err := SignBundle(k, data)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q not in %s", old, good)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	v02 := strings.Replace(string(good), BundleMediaType, "application/vnd.dev.sigstore.bundle+json;version=0.2", 1)
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   string
	}{
		{"duplicate mediaType", edit(`{"mediaType":`, `{"mediaType":"x","mediaType":`), `key "mediaType" given twice`},
		{"case-variant key", edit(`{"mediaType":`, `{"MediaType":"x","mediaType":`), `key "MediaType" is a case variant of "mediaType"`},
		{"case variant second", edit(`"hint":`, `"hint":"x","Hint":`), `key "Hint" given twice (as "hint" and "Hint")`},
		{"kelvin-sign variant", edit(`"verificationMaterial":{`, `"verificationMaterial":{"public\u212aey":{},`), "is a case variant of \"publicKey\""},
		{"case-variant alone", edit(`"messageSignature"`, `"MessageSignature"`), `key "MessageSignature" is a case variant of "messageSignature"`},
		{"duplicate signature", edit(`"signature":`, `"signature":"AAAA","signature":`), `key "signature" given twice`},
		{"unknown key", edit(`{"mediaType":`, `{"extra":1,"mediaType":`), `unknown key "extra"`},
		{"v0.2 x509CertificateChain", []byte(strings.Replace(v02, `"verificationMaterial":{`, `"verificationMaterial":{"x509CertificateChain":{"certificates":[{"rawBytes":"MIIB"}]},`, 1)), "x509CertificateChain: keyless (certificate) bundles are not supported"},
		{"v0.3 certificate", edit(`"verificationMaterial":{`, `"verificationMaterial":{"certificate":{"rawBytes":"MIIB"},`), "certificate: keyless (certificate) bundles are not supported"},
		{"tlogEntries not a list", edit(`"verificationMaterial":{`, `"verificationMaterial":{"tlogEntries":5,`), "tlogEntries: json: cannot unmarshal number"},
		{"tlogEntries duplicate key", edit(`"verificationMaterial":{`, `"verificationMaterial":{"tlogEntries":[{"logIndex":"1","LogIndex":"2"}],`), "tlogEntries: key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := vb(k.Public(), data, tc.bundle)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Garbage tlog entries are ignored, loudly: the result says what was not checked.
	res, err := VerifyBundle(k.Public(), data, edit(`"verificationMaterial":{`, `"verificationMaterial":{"tlogEntries":[{"garbage":true},{}],"timestampVerificationData":{"rfc3161Timestamps":[]},`))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unverified) != 2 || !strings.HasPrefix(res.Unverified[0], "2 transparency log entries (not verified") || !strings.HasPrefix(res.Unverified[1], "signed timestamps (not verified") {
		t.Fatalf("unverified = %q", res.Unverified)
	}
	if res, err := VerifyBundle(k.Public(), data, good); err != nil || len(res.Unverified) != 0 {
		t.Fatalf("plain bundle: %v %q", err, res.Unverified)
	}
	// DSSE envelopes and statements refuse repeated keys too.
	env := []byte(`{"payload":"e30=","payloadType":"x","payloadType":"y","signatures":[{"sig":"AA=="}]}`)
	if _, _, err := dsse.Parse(env); err == nil || !strings.Contains(err.Error(), `key "payloadType" given twice`) {
		t.Fatalf("dsse duplicate: %v", err)
	}
}

// A raw DER signature file is used as is: trimming first cut signatures
// whose last byte is white space (~6 in 256).
func TestRawSignatureFiles(t *testing.T) {
	dir := t.TempDir()
	ec := mustKey(t, ECDSAP256)
	for _, k := range []*PrivateKey{ec, rsaTestKey(t)} {
		n, ws := 1024, 0
		if k.Type() == RSA {
			n = 256 // RSA signing is slower; raw RSA has no structure to check
		}
		for i := range n {
			msg := fmt.Appendf(nil, "module %d", i)
			d := sha256.Sum256(msg)
			raw, err := k.signDigest(d[:])
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsRune([]byte(" \t\n\v\f\r"), rune(raw[len(raw)-1])) || bytes.ContainsRune([]byte(" \t\n\v\f\r"), rune(raw[0])) {
				ws++
			}
			path := filepath.Join(dir, "sig")
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			file, _ := os.ReadFile(path)
			if err := VerifyBlob(k.Public(), msg, file); err != nil {
				t.Fatalf("%s signature %d (%x...%x): %v", k.Type(), i, raw[:2], raw[len(raw)-2:], err)
			}
			// base64 with a newline still works.
			if i%64 == 0 {
				if err := VerifyBlob(k.Public(), msg, []byte(base64.StdEncoding.EncodeToString(raw)+"\n")); err != nil {
					t.Fatalf("base64: %v", err)
				}
			}
		}
		if k.Type() == ECDSAP256 && ws == 0 {
			t.Fatalf("no ECDSA signature among %d ended in white space: the case under test never occurred", n)
		}
		t.Logf("%s: %d of %d raw signatures start or end with white space", k.Type(), ws, n)
	}
}

// Private key files readable by group or others are refused.
func TestKeyFilePermissions(t *testing.T) {
	dir := t.TempDir()
	k := mustKey(t, Ed25519)
	prefix := filepath.Join(dir, "k")
	if err := WriteKeyPair(k, prefix, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o604, false}, {0o620, false}, {0o644, false}} {
		if err := os.Chmod(prefix+".key", tc.mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPrivateKey(prefix+".key", nil)
		if tc.ok != (err == nil) || (!tc.ok && (!errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), fmt.Sprintf("(mode %04o)", tc.mode)))) {
			t.Errorf("mode %04o: got %v", tc.mode, err)
		}
		if _, err := LoadPrivateKeyAnyMode(prefix+".key", nil); err != nil {
			t.Errorf("mode %04o, any mode: %v", tc.mode, err)
		}
	}
}

// RSA keys: 2048 to 4096 bits, PKCS#1 v1.5 and PSS over SHA-256, in
// cosign signatures, bundles and attestations; never embedded.
func TestRSAKeys(t *testing.T) {
	k := rsaTestKey(t)
	pss, err := k.WithRSAScheme(PSS)
	if err != nil {
		t.Fatal(err)
	}
	data := fixture.Bytes(t, "trust_hello")
	for _, key := range []*PrivateKey{k, pss} {
		other, _ := key.Public().WithRSAScheme(map[RSAScheme]RSAScheme{PKCS1v15: PSS, PSS: PKCS1v15}[key.Public().RSAScheme()])
		sig, err := SignBlob(key, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyBlob(key.Public(), data, sig); err != nil {
			t.Fatalf("%s: %v", key.Public().Description(), err)
		}
		if err := VerifyBlob(other, data, sig); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s signature verified as %s: %v", key.Public().RSAScheme(), other.RSAScheme(), err)
		}
		b, err := SignBundle(key, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := vb(key.Public(), data, b); err != nil {
			t.Fatal(err)
		}
		if err := vb(key.Public(), append(bytes.Clone(data), 0), b); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("modified: %v", err)
		}
	}
	if _, err := SignModule(data, k, SignOptions{}); err == nil || !strings.Contains(err.Error(), "the wasmsign2 format defines no other algorithm") {
		t.Fatalf("embedded RSA: %v", err)
	}
	// Key sizes and round trips through files.
	for _, tc := range []struct {
		bits int
		want string
	}{{1024, "rsa key of 1024 bits: want 2048 to 4096 bits"}, {4104, "rsa key of 4104 bits: want 2048 to 4096 bits"}} {
		if _, err := GenerateRSAKey(tc.bits, PKCS1v15); err == nil || err.Error() != tc.want {
			t.Errorf("generate %d: %v", tc.bits, err)
		}
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	if _, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil || !strings.Contains(err.Error(), "rsa key of 1024 bits") {
		t.Errorf("1024-bit public key: %v", err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})
	if _, err := ParsePrivateKey(pkcs1, nil); err == nil || !strings.Contains(err.Error(), "rsa key of 1024 bits") {
		t.Errorf("1024-bit private key: %v", err)
	}
	pemKey, err := k.MarshalPEM([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(pemKey, pass("pw"))
	if err != nil || back.Type() != RSA || !back.Public().Equal(k.Public()) {
		t.Fatalf("encrypted rsa key round trip: %v", err)
	}
	// Attestations signed with RSA verify under a policy naming the scheme.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "r.pub"), pss.Public().MarshalPEM(), 0o644)
	pol, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: r\n    public_key: r.pub\n    rsa_scheme: pss\n"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := Attest(pss, "trust_hello", data, grantedPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if _, res, err := pol.VerifyAttestation(t.Context(), "trust_hello", data, env); err != nil || res.Signers[0].Name != "r" {
		t.Fatalf("rsa-pss attestation: %v", err)
	}
	pkcs, _ := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: r\n    public_key: r.pub\n"))
	if _, _, err := pkcs.VerifyAttestation(t.Context(), "trust_hello", data, env); err == nil {
		t.Fatal("a PSS attestation verified under a pkcs1v15 policy key")
	}
	if _, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: r\n    public_key: r.pub\n    rsa_scheme: pss2\n")); err == nil || !strings.Contains(err.Error(), `rsa scheme "pss2"`) {
		t.Fatalf("bad scheme: %v", err)
	}
}

var rsaOnce struct {
	sync.Once
	key *PrivateKey
	err error
}

// rsaTestKey is one 2048-bit RSA key (PKCS#1 v1.5) for all tests: making
// one costs up to seconds.
func rsaTestKey(t *testing.T) *PrivateKey {
	t.Helper()
	rsaOnce.Do(func() { rsaOnce.key, rsaOnce.err = GenerateRSAKey(2048, PKCS1v15) })
	if rsaOnce.err != nil {
		t.Fatal(rsaOnce.err)
	}
	return rsaOnce.key
}

func mustSections(t *testing.T, bin []byte) []wasm.Section {
	t.Helper()
	secs, err := wasm.Sections(bin)
	if err != nil {
		t.Fatal(err)
	}
	return secs
}

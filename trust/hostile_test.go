package trust

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/atomicfile"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/trust/internal/dsse"
	"github.com/wasmward/wasmward/trust/internal/wasmsig"
)

// withSection replaces the signature section of a signed module by data.
func withSection(t *testing.T, s []byte, data *wasmsig.Data) []byte {
	t.Helper()
	secs, err := wasm.Sections(s)
	if err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(s[:8]), customSection(wasmsig.SectionName, data.Marshal())...)
	return append(out, s[secs[0].End():]...)
}

func sigData(t *testing.T, s []byte) *wasmsig.Data {
	t.Helper()
	secs, err := wasm.Sections(s)
	if err != nil {
		t.Fatal(err)
	}
	d, err := wasmsig.Parse(secs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// One key's signature repeated (in its set, in a copied set, with and
// without key ID) counts once toward a threshold.
func TestHostileSameSignerTwice(t *testing.T) {
	dir, k := policyEnv(t, "a", "b")
	p, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: a\n    public_key: keys/a.pub\n  - name: b\n    public_key: keys/b.pub\nrules:\n  - modules: \"*\"\n    keys: [a, b]\n    threshold: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	bin := fixture.Bytes(t, "trust_hello")
	s := signed(t, bin, SignOptions{}, k["a"])
	d := sigData(t, s)
	one := d.Sets[0].Signatures[0]
	noID := one
	noID.KeyID = nil
	d.Sets[0].Signatures = append(d.Sets[0].Signatures, one, noID)
	d.Sets = append(d.Sets, d.Sets[0], wasmsig.SignedHashes{Hashes: append([][32]byte{d.Sets[0].Hashes[0]}, d.Sets[0].Hashes...), Signatures: []wasmsig.Signature{one}})
	forged := withSection(t, s, d)
	_, err = p.Verify(context.Background(), "m", forged)
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != ReasonThreshold || !strings.Contains(err.Error(), "1 of 2") {
		t.Fatalf("same signer repeated: %v", err)
	}
}

// The same public key in two encodings under two names is refused.
func TestHostileSameKeyTwoNames(t *testing.T) {
	dir, k := policyEnv(t, "a")
	raw := append([]byte{rawEd25519Public}, k["a"].Public().ed25519Key()...)
	if err := os.WriteFile(filepath.Join(dir, "keys", "a.raw"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParsePolicy([]byte("keys:\n  - name: a\n    public_key: keys/a.pub\n  - name: a2\n    public_key: keys/a.raw\nrules:\n  - modules: \"*\"\n    keys: [a, a2]\n    threshold: 2\n"), "t.yaml", dir)
	if err == nil || !strings.Contains(err.Error(), `same public key as "a"`) {
		t.Fatalf("same key twice: %v", err)
	}
}

func TestHostileVersionOrder(t *testing.T) {
	for _, tc := range []struct{ lo, hi string }{
		{"1.0.0-99999999999999999999", "1.0.0-100000000000000000000"},
		{"1.0.0-18446744073709551615", "1.0.0-18446744073709551616"},
		{"1.0.0-99999999999999999999", "1.0.0-a"},
		{"1.0.0-alpha", "1.0.0-alpha.1"},
		{"1.0.0-rc.9", "1.0.0-rc.10"},
		{"1.0.0-rc.1", "1.0.0"},
		{"v1.0.0", "1.0.1"},
	} {
		lo, err := ParseVersion(tc.lo)
		if err != nil {
			t.Fatal(err)
		}
		hi, err := ParseVersion(tc.hi)
		if err != nil {
			t.Fatal(err)
		}
		if lo.Compare(hi) != -1 || hi.Compare(lo) != 1 {
			t.Errorf("%s < %s: got %d", tc.lo, tc.hi, lo.Compare(hi))
		}
	}
	for _, bad := range []string{"", "v", "vv1.0.0", "V1.0.0", "01.0.0", "1.0.0-01", "1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0", "1.0.0.0", " 1.0.0", "1.0.0 ", "18446744073709551616.0.0", "1.0.0-é", "+1.0.0", "-1.0.0", "1.-0.0"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHostileStateCorrupt(t *testing.T) {
	for _, content := range []string{"", "{", `{"version":1,"modules":{"m":"1.0.0"`, "null", `{"version":1,"modules":{"m":"x"}}`, `{"version":2}`, "\x00\x00"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		// A good state first, then corrupted under a live State.
		s, err := OpenState(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Admit(context.Background(), "m", "2.0.0", false); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		err = s.Admit(context.Background(), "m", "1.0.0", false)
		var re *RefusedError
		if !errors.As(err, &re) || re.Reason != ReasonState {
			t.Errorf("corrupt state %q: %v", content, err)
		}
		if _, err := OpenState(path); err == nil {
			t.Errorf("OpenState of corrupt %q: no error", content)
		}
	}
}

func TestHostileGlob(t *testing.T) {
	dir, k := policyEnv(t, "a")
	p, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: a\n    public_key: keys/a.pub\nrules:\n  - modules: \"acme-*\"\n    keys: [a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := signed(t, fixture.Bytes(t, "trust_hello"), SignOptions{}, k["a"])
	for _, name := range []string{"", "acme-/x", "x/acme-y", "ACME-x", "acme"} {
		if _, err := p.Verify(context.Background(), name, s); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	star, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: a\n    public_key: keys/a.pub\nrules:\n  - modules: \"*\"\n    keys: [a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := star.Verify(context.Background(), "", s); err == nil || !strings.Contains(err.Error(), "has no name") {
		t.Errorf("empty name under \"*\": %v", err)
	}
	env, _ := Attest(k["a"], "", s, grantedPolicy())
	if _, _, err := star.VerifyAttestation(context.Background(), "", s, env); err == nil || !strings.Contains(err.Error(), "has no name") {
		t.Errorf("empty name attestation: %v", err)
	}
	for _, bad := range []string{"[", "a[", "*[", "\\", "[]a]", "a\\"} {
		if _, err := ParsePolicy([]byte("keys:\n  - name: a\n    public_key: keys/a.pub\nrules:\n  - modules: \""+strings.ReplaceAll(bad, "\\", "\\\\")+"\"\n    keys: [a]\n"), "t.yaml", dir); err == nil {
			t.Errorf("glob %q accepted", bad)
		}
	}
}

func TestHostilePolicyYAML(t *testing.T) {
	dir, _ := policyEnv(t, "a", "b")
	keys := "keys:\n  - name: a\n    public_key: keys/a.pub\n  - name: b\n    public_key: keys/b.pub\n"
	for _, tc := range []struct{ name, text string }{
		{"second document", keys + "rules:\n  - modules: \"*\"\n    keys: [a, b]\n    threshold: 2\n---\nrequire_signature: false\n"},
		{"duplicate threshold", keys + "rules:\n  - modules: \"*\"\n    keys: [a, b]\n    threshold: 2\n    threshold: 1\n"},
		{"not a mapping", "- a\n"},
	} {
		if _, err := ParsePolicy([]byte(tc.text), "t.yaml", dir); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestHostilePEM(t *testing.T) {
	a, b := ed25519Key(t), ed25519Key(t)
	two := append(a.Public().MarshalPEM(), b.Public().MarshalPEM()...)
	if _, err := ParsePublicKey(two); err == nil {
		t.Error("two public key blocks accepted")
	}
	if _, err := ParsePublicKey(append(a.Public().MarshalPEM(), "garbage"...)); err == nil {
		t.Error("trailing garbage accepted")
	}
	if _, err := ParsePublicKey(append(a.Public().MarshalPEM(), "\n\n"...)); err != nil {
		t.Errorf("trailing newlines: %v", err)
	}
	pa, _ := a.MarshalPEM(nil)
	pb, _ := b.MarshalPEM(nil)
	if _, err := ParsePrivateKey(append(pa, pb...), nil); err == nil {
		t.Error("two private key blocks accepted")
	}
}

func TestHostileWrongPassphraseNotEchoed(t *testing.T) {
	k := ed25519Key(t)
	pemData, err := k.MarshalPEM([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParsePrivateKey(pemData, pass("hunter2-secret"))
	if !errors.Is(err, ErrPassphrase) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

// A co-signer appending to an attestation must be signing the module they
// hold.
func TestHostileAppendAttestationOtherModule(t *testing.T) {
	a, b := ed25519Key(t), ed25519Key(t)
	bin := fixture.Bytes(t, "trust_hello")
	other := append(bytes.Clone(bin), customSection("x", nil)...)
	env, err := Attest(a, "evil", other, grantedPolicy())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		module string
		bin    []byte
		msg    string
	}{
		{"hello", bin, "attests another binary"},
		{"hello", other, `names the module "evil", not "hello"`},
	} {
		if _, err := AddAttestationSignature(env, tc.module, tc.bin, b); err == nil || !strings.Contains(err.Error(), "cannot co-sign") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("co-signing %s: %v", tc.module, err)
		}
	}
	if _, err := AddAttestationSignature(env, "evil", other, b); err != nil {
		t.Fatal(err)
	}
}

// Signature-section CPU cost is bounded.
func TestHostileManySignatures(t *testing.T) {
	bin := fixture.Bytes(t, "trust_hello")
	a := ed25519Key(t)
	s := signed(t, bin, SignOptions{NoKeyID: true}, a)
	d := sigData(t, s)
	set := d.Sets[0]
	junk := set.Signatures[0]
	junk.Signature = bytes.Clone(junk.Signature)
	junk.Signature[0] ^= 1
	set.Signatures = nil
	for range 256 {
		set.Signatures = append(set.Signatures, junk)
	}
	d.Sets = nil
	for i := range 64 {
		h := set
		h.Hashes = append([][32]byte{{byte(i)}}, set.Hashes...)
		d.Sets = append(d.Sets, h)
	}
	forged := withSection(t, s, d)
	var keys []*PublicKey
	for range 8 {
		keys = append(keys, ed25519Key(t).Public())
	}
	start := time.Now()
	_, err := VerifyModule(forged, nil, keys)
	t.Logf("%v in %v", err, time.Since(start))
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestHostileAttestation(t *testing.T) {
	dir, k := policyEnv(t, "ci", "release")
	bin := fixture.Bytes(t, "trust_hello")
	p, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: ci\n    public_key: keys/ci.pub\n  - name: release\n    public_key: keys/release.pub\nrules:\n  - modules: \"acme/*\"\n    keys: [ci, release]\n    threshold: 2\n  - modules: \"*\"\n    keys: [ci]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env, err := Attest(k["ci"], "acme/x", bin, grantedPolicy())
	if err != nil {
		t.Fatal(err)
	}
	// The same key's signature twice (and its base64 re-encoded) counts once.
	var e dsse.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
	e.Signatures = append(e.Signatures, dsse.Signature{KeyID: "release", Sig: e.Signatures[0].Sig}, dsse.Signature{Sig: base64.RawURLEncoding.EncodeToString(raw)})
	dup, _ := json.Marshal(&e)
	if _, _, err := p.VerifyAttestation(ctx, "acme/x", bin, dup); err == nil || !strings.Contains(err.Error(), "1 of 2") {
		t.Fatalf("one key, three signatures: %v", err)
	}
	// Padded with many bogus signatures: refused quickly.
	for range 5000 {
		e.Signatures = append(e.Signatures, dsse.Signature{Sig: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 64))})
	}
	padded, _ := json.Marshal(&e)
	start := time.Now()
	if _, _, err := p.VerifyAttestation(ctx, "acme/x", bin, padded); err == nil || !strings.Contains(err.Error(), "signature checks") {
		t.Fatalf("padded envelope: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("padded envelope took %v", d)
	}

	d := sha256.Sum256(bin)
	digest := hex.EncodeToString(d[:])
	subjects := func(s ...any) func(map[string]any) {
		return func(m map[string]any) { m["subject"] = s }
	}
	sub := func(name, dg string) map[string]any {
		return map[string]any{"name": name, "digest": map[string]any{"sha256": dg}}
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		msg  string // "" = accepted
	}{
		{"second subject matches", subjects(sub("other", digest), sub("hello", digest)), ""},
		{"upper-case digest", subjects(sub("hello", strings.ToUpper(digest))), ""},
		{"name only on another digest", subjects(sub("hello", strings.Repeat("0", 64)), sub("other", digest)), `names the module "other", not "hello"`},
		{"no sha256", subjects(map[string]any{"name": "hello", "digest": map[string]any{"sha512": digest}}), "another binary"},
		{"no subjects", subjects(), "another binary"},
		{"name case", subjects(sub("Hello", digest)), `names the module "Hello"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.VerifyAttestation(ctx, "hello", bin, resign(t, env, k["ci"], tc.edit))
			if tc.msg == "" && err != nil || tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
		})
	}

	// payloadType confusion: the PAE binds the type, and only in-toto is read.
	var e2 dsse.Envelope
	_ = json.Unmarshal(env, &e2)
	e2.PayloadType = "application/json"
	swapped, _ := json.Marshal(&e2)
	if _, _, err := p.VerifyAttestation(ctx, "hello", bin, swapped); err == nil || !strings.Contains(err.Error(), "none by a key") {
		t.Fatalf("payload type swapped: %v", err)
	}
	payload, _ := base64.StdEncoding.DecodeString(e2.Payload)
	e2.Signatures = nil
	otherType, err := addEnvelopeSignature(&e2, payload, k["ci"])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.VerifyAttestation(ctx, "hello", bin, otherType); err == nil || !strings.Contains(err.Error(), `payload type "application/json"`) {
		t.Fatalf("signed with another payload type: %v", err)
	}
}

// A private key file that appears between WriteKeyPair's check and its
// write is not replaced (atomicfile.WriteNew links, rename would clobber).
func TestHostileKeyFileNoClobber(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ci.key")
	if err := os.WriteFile(path, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteNew(path, []byte("ours"), 0o600); !errors.Is(err, os.ErrExist) {
		t.Fatalf("WriteNew over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "theirs" {
		t.Fatalf("existing file replaced: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left behind: %v", ents)
	}
	if err := atomicfile.WriteNew(filepath.Join(dir, "new.key"), []byte("ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "new.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v %v", st, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("temporary file left behind: %v", ents)
	}
}

// Whatever an attacker does to a signed module, if it still verifies, the
// sections after the signature section are exactly the ones signed.
func FuzzVerifyModule(f *testing.F) {
	bin := fixture.Bytes(f, "trust_hello")
	key, err := NewEd25519PrivateKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	s, err := SignModule(bin, key, SignOptions{Version: "1.0.0"})
	if err != nil {
		f.Fatal(err)
	}
	secs, _ := wasm.Sections(s)
	body := s[secs[0].End():]
	f.Add(s)
	f.Add(bin)
	f.Fuzz(func(t *testing.T, m []byte) {
		res, err := VerifyModule(m, nil, []*PublicKey{key.Public()})
		if err != nil {
			return
		}
		ms, err := wasm.Sections(m)
		if err != nil || len(ms) == 0 {
			t.Fatalf("verified but does not parse: %v", err)
		}
		if !bytes.Equal(m[ms[0].End():], body) || res.Version != "1.0.0" {
			t.Fatalf("verified with a different body or version %q", res.Version)
		}
	})
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// Key handling through the CLI: RSA keys end to end, refused key file
// permissions, empty passphrase variables, and loud bundle warnings.
func TestTrustKeysCLI(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	mod := fixture.Path(t, "trust_hello")
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	t.Setenv("COSIGN_PASSWORD", "")

	if code, out, e := trustRun(t, "keygen", "--type", "rsa", "--bits", "2048", "--output-key-prefix", p("rsa")); code != 0 || !strings.Contains(out, "(rsa-2048, unencrypted)") {
		t.Fatalf("keygen rsa: %d %s %s", code, out, e)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"rsa too small", []string{"keygen", "--type", "rsa", "--bits", "1024", "--out", p("small")}, 2, "--bits 1024: want 2048 to 4096"},
		{"rsa too large", []string{"keygen", "--type", "rsa", "--bits", "8192", "--out", p("large")}, 2, "--bits 8192: want 2048 to 4096"},
		{"bits without rsa", []string{"keygen", "--bits", "2048", "--out", p("e")}, 2, "--bits is for --type rsa"},
		{"rsa pkcs1 sign", []string{"sign", mod, "--format", "cosign", "--key", p("rsa.key"), "-o", p("m.sig"), "--bundle", p("m.bundle")}, 0, "wrote signature"},
		{"rsa pkcs1 verify", []string{"verify", mod, "--format", "cosign", "--key", p("rsa.pub"), "--sig", p("m.sig")}, 0, "verified: signed by rsa-2048 pkcs1v15"},
		{"rsa pkcs1 bundle", []string{"verify", mod, "--format", "cosign", "--key", p("rsa.pub"), "--bundle", p("m.bundle")}, 0, "verified: signed by rsa-2048 pkcs1v15"},
		{"rsa pkcs1 as pss", []string{"verify", mod, "--format", "cosign", "--key", p("rsa.pub"), "--rsa-scheme", "pss", "--sig", p("m.sig")}, 1, "signature verification failed"},
		{"rsa pss sign", []string{"sign", mod, "--format", "cosign", "--key", p("rsa.key"), "--rsa-scheme", "pss", "-o", p("pss.sig")}, 0, "wrote signature"},
		{"rsa pss verify", []string{"verify", mod, "--format", "cosign", "--key", p("rsa.pub"), "--rsa-scheme", "pss", "--sig", p("pss.sig")}, 0, "verified: signed by rsa-2048 pss"},
		{"rsa pss as pkcs1", []string{"verify", mod, "--format", "cosign", "--key", p("rsa.pub"), "--sig", p("pss.sig")}, 1, "signature verification failed"},
		{"rsa embedded", []string{"sign", mod, "--key", p("rsa.key"), "-o", p("x.wasm")}, 1, "embedded signatures need an ed25519 key, got rsa: the wasmsign2 format defines no other algorithm"},
		{"bad scheme", []string{"sign", mod, "--format", "cosign", "--key", p("rsa.key"), "--rsa-scheme", "pss2"}, 2, `rsa scheme "pss2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, e := trustRun(t, tc.args...)
			if code != tc.code || !strings.Contains(out+e, tc.want) {
				t.Fatalf("exit %d, want %d; output %q %q, want %q", code, tc.code, out, e, tc.want)
			}
		})
	}

	// A key file others may read is refused; the override warns.
	if err := os.Chmod(p("rsa.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, e := trustRun(t, "sign", mod, "--format", "cosign", "--key", p("rsa.key"))
	if code != exitUsage || !strings.Contains(e, "private key file is accessible to group or others (mode 0644): chmod 600 it") {
		t.Fatalf("0644 key: %d %q", code, e)
	}
	code, out, e := trustRun(t, "sign", mod, "--format", "cosign", "--key", p("rsa.key"), "--allow-insecure-key-permissions")
	if code != 0 || !strings.Contains(e, "warning: private key "+p("rsa.key")+" is accessible to group or others (mode 0644)") || out == "" {
		t.Fatalf("override: %d %q", code, e)
	}

	// Empty WASMWARD_KEY_PASSWORD counts as unset: keygen writes an
	// unencrypted key, and opening an encrypted key falls through to
	// COSIGN_PASSWORD instead of trying the empty passphrase.
	if code, out, _ := trustRun(t, "keygen", "--type", "ecdsa-p256", "--out", p("plain")); code != 0 || !strings.Contains(out, "unencrypted") {
		t.Fatalf("keygen with empty password: %d %s", code, out)
	}
	t.Setenv("WASMWARD_KEY_PASSWORD", "s3cret")
	if code, out, _ := trustRun(t, "keygen", "--type", "ecdsa-p256", "--out", p("enc")); code != 0 || !strings.Contains(out, "encrypted with $WASMWARD_KEY_PASSWORD") {
		t.Fatalf("keygen encrypted: %d %s", code, out)
	}
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	t.Setenv("COSIGN_PASSWORD", "s3cret")
	if code, _, e := trustRun(t, "sign", mod, "--format", "cosign", "--key", p("enc.key")); code != 0 {
		t.Fatalf("empty WASMWARD_KEY_PASSWORD did not fall through to COSIGN_PASSWORD: %d %s", code, e)
	}
	t.Setenv("COSIGN_PASSWORD", "")
	if code, _, e := trustRun(t, "sign", mod, "--format", "cosign", "--key", p("enc.key")); code != exitUsage || !strings.Contains(e, "the key is encrypted: set WASMWARD_KEY_PASSWORD (or COSIGN_PASSWORD) to its passphrase; an empty variable counts as unset") {
		t.Fatalf("both empty: %d %s", code, e)
	}

	// Bundle entries that are not verified are said so.
	b, _ := os.ReadFile(p("m.bundle"))
	withTlog := strings.Replace(string(b), `"verificationMaterial":{`, `"verificationMaterial":{"tlogEntries":[{"logIndex":"7"}],`, 1)
	os.WriteFile(p("tlog.bundle"), []byte(withTlog), 0o644)
	code, out, e = trustRun(t, "verify", mod, "--format", "cosign", "--key", p("rsa.pub"), "--bundle", p("tlog.bundle"))
	if code != 0 || !strings.Contains(e, "warning: the bundle carries 1 transparency log entry (not verified: no Rekor key is configured") {
		t.Fatalf("tlog bundle: %d %q %q", code, out, e)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// trustRun runs the CLI in-process and returns the exit code, stdout, stderr.
func trustRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTrustCommands(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	mod := fixture.Path(t, "trust_hello")
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	t.Setenv("COSIGN_PASSWORD", "")

	for _, n := range []string{"ci", "release"} {
		if code, _, e := trustRun(t, "keygen", "--output-key-prefix", p(n)); code != 0 {
			t.Fatalf("keygen %s: %d %s", n, code, e)
		}
	}
	if st, _ := os.Stat(p("ci.key")); st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode().Perm())
	}
	if code, _, e := trustRun(t, "keygen", "--output-key-prefix", p("ci")); code != 1 || !strings.Contains(e, "already exists") {
		t.Fatalf("keygen over an existing key: %d %s", code, e)
	}
	if code, _, _ := trustRun(t, "keygen", "--type", "dsa", "--output-key-prefix", p("x")); code != 2 {
		t.Fatalf("keygen bad type: %d", code)
	}
	// Private keys never reach the output.
	keyPEM, _ := os.ReadFile(p("ci.key"))
	keyBody := strings.Split(string(keyPEM), "\n")[1]

	code, out, e := trustRun(t, "sign", mod, "--key", p("ci.key"), "--module-version", "1.0.0", "-o", p("one.wasm"))
	if code != 0 {
		t.Fatalf("sign: %d %s", code, e)
	}
	if strings.Contains(out+e, keyBody) {
		t.Fatal("sign printed the private key")
	}
	if code, _, e := trustRun(t, "sign", p("one.wasm"), "--key", p("release.key"), "-o", p("two.wasm")); code != 0 {
		t.Fatalf("second signer: %d %s", code, e)
	}
	policy := "caller_names: true\nkeys:\n  - name: ci\n    public_key: ci.pub\n  - name: release\n    public_key: release.pub\nrules:\n  - modules: \"acme-*\"\n    keys: [ci, release]\n    threshold: 2\n  - modules: \"*\"\n    keys: [ci]\n"
	_ = os.WriteFile(p("trust.yaml"), []byte(policy), 0o644)
	_ = os.WriteFile(p("bad.yaml"), []byte(policy+"colour: red\n"), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"two signers", []string{"verify", p("two.wasm"), "--trust", p("trust.yaml"), "--name", "acme-hello"}, 0, "signed by release"},
		{"threshold not met", []string{"verify", p("one.wasm"), "--trust", p("trust.yaml"), "--name", "acme-hello"}, 1, "refused (threshold)"},
		{"default name", []string{"verify", p("one.wasm"), "--trust", p("trust.yaml")}, 0, `module one: verified (rule "*"`},
		{"version printed", []string{"verify", p("one.wasm"), "--trust", p("trust.yaml")}, 0, "version 1.0.0"},
		{"unsigned", []string{"verify", mod, "--trust", p("trust.yaml")}, 1, "refused (unsigned)"},
		{"by key", []string{"verify", p("two.wasm"), "--key", p("release.pub")}, 0, "signed by ed25519"},
		{"strict policy keys", []string{"verify", p("two.wasm"), "--trust", p("bad.yaml")}, 2, `bad.yaml:13: unknown key "colour"`},
		{"missing module", []string{"verify", p("nope.wasm"), "--trust", p("trust.yaml")}, 2, "read module"},
		{"no trust or key", []string{"verify", p("two.wasm")}, 2, "exactly one of --trust"},
		{"bad format", []string{"verify", p("two.wasm"), "--key", p("ci.pub"), "--format", "gpg"}, 2, "want wasmsig or cosign"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, e := trustRun(t, tc.args...)
			if code != tc.code || !strings.Contains(out+e, tc.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tc.code, out, e, tc.want)
			}
		})
	}

	// Detached.
	if code, _, e := trustRun(t, "sign", mod, "--key", p("ci.key"), "--detached", p("mod.sig")); code != 0 {
		t.Fatalf("detached: %d %s", code, e)
	}
	if code, out, e := trustRun(t, "verify", mod, "--detached", p("mod.sig"), "--trust", p("trust.yaml")); code != 0 || !strings.Contains(out, "signed by ci") {
		t.Fatalf("verify detached: %d %s %s", code, out, e)
	}

	// Cosign format, with an encrypted key.
	t.Setenv("WASMWARD_KEY_PASSWORD", "pw")
	if code, _, e := trustRun(t, "keygen", "--type", "ecdsa-p256", "--output-key-prefix", p("ec")); code != 0 {
		t.Fatalf("keygen ec: %d %s", code, e)
	}
	if code, _, e := trustRun(t, "sign", mod, "--format", "cosign", "--key", p("ec.key"), "-o", p("mod.cosig"), "--bundle", p("mod.bundle")); code != 0 {
		t.Fatalf("cosign sign: %d %s", code, e)
	}
	if code, out, _ := trustRun(t, "verify", mod, "--format", "cosign", "--key", p("ec.pub"), "--sig", p("mod.cosig")); code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("cosign verify sig: %d %s", code, out)
	}
	if code, _, _ := trustRun(t, "verify", mod, "--format", "cosign", "--key", p("ec.pub"), "--bundle", p("mod.bundle")); code != 0 {
		t.Fatalf("cosign verify bundle: %d", code)
	}
	if code, _, e := trustRun(t, "verify", p("one.wasm"), "--format", "cosign", "--key", p("ec.pub"), "--sig", p("mod.cosig")); code != 1 || !strings.Contains(e, "does not match") {
		t.Fatalf("cosign verify other file: %d %s", code, e)
	}
	t.Setenv("WASMWARD_KEY_PASSWORD", "pw-xyzzy-guess")
	if code, out, e := trustRun(t, "sign", mod, "--format", "cosign", "--key", p("ec.key")); code != 2 || strings.Contains(out+e, "xyzzy") || !strings.Contains(e, "wrong or missing passphrase") {
		t.Fatalf("wrong passphrase: %d %s %s", code, out, e)
	}
	t.Setenv("WASMWARD_KEY_PASSWORD", "")

	// Attestation.
	_ = os.WriteFile(p("policy.yaml"), []byte("limits:\n  memory: 32MiB\n  fuel: 5000\n"), 0o644)
	if code, _, e := trustRun(t, "attest", p("one.wasm"), "--policy", p("policy.yaml"), "--key", p("ci.key"), "-o", p("one.intoto.json")); code != 0 {
		t.Fatalf("attest: %d %s", code, e)
	}
	code, out, e = trustRun(t, "verify", p("one.wasm"), "--trust", p("trust.yaml"), "--attestation", p("one.intoto.json"))
	if code != 0 || !strings.Contains(out, "attestation verified (signed by ci)") || !strings.Contains(out, "fuel: 5000") {
		t.Fatalf("verify attestation: %d\n%s\n%s", code, out, e)
	}
	if code, _, e := trustRun(t, "verify", p("two.wasm"), "--trust", p("trust.yaml"), "--attestation", p("one.intoto.json")); code != 1 || !strings.Contains(e, "attests another binary") {
		t.Fatalf("attestation for another binary: %d %s", code, e)
	}
	// A co-signer signs only an attestation of the module it holds.
	if code, _, e := trustRun(t, "attest", p("two.wasm"), "--append", p("one.intoto.json"), "--key", p("release.key"), "-o", p("x.intoto.json")); code != 1 || !strings.Contains(e, "cannot co-sign") || !strings.Contains(e, "attests another binary") {
		t.Fatalf("append for another binary: %d %s", code, e)
	}
	if code, _, e := trustRun(t, "attest", p("one.wasm"), "--name", "other", "--append", p("one.intoto.json"), "--key", p("release.key"), "-o", p("x.intoto.json")); code != 1 || !strings.Contains(e, `names the module "one", not "other"`) {
		t.Fatalf("append for another name: %d %s", code, e)
	}
	if code, _, e := trustRun(t, "attest", p("one.wasm"), "--append", p("one.intoto.json"), "--key", p("release.key"), "-o", p("both.intoto.json")); code != 0 {
		t.Fatalf("append: %d %s", code, e)
	}
	if code, out, e := trustRun(t, "verify", p("one.wasm"), "--trust", p("trust.yaml"), "--attestation", p("both.intoto.json")); code != 0 || !strings.Contains(out, "attestation verified (signed by ci)") {
		t.Fatalf("co-signed attestation: %d %s %s", code, out, e)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/sandbox"
)

type cliCase struct {
	name   string
	args   []string
	code   int
	stdout string // substring
	stderr string // substring
}

func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, e := runCLI(t, "", tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(e, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tc.code, out, tc.stdout, e, tc.stderr)
			}
		})
	}
}

type trustDir struct {
	t   *testing.T
	dir string
}

func (d trustDir) p(n string) string { return filepath.Join(d.dir, n) }

func (d trustDir) write(n, text string) string {
	d.t.Helper()
	if err := os.WriteFile(d.p(n), []byte(text), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return d.p(n)
}

func (d trustDir) must(args ...string) {
	d.t.Helper()
	if code, out, e := runCLI(d.t, "", args...); code != 0 {
		d.t.Fatalf("%v: exit %d\n%s%s", args, code, out, e)
	}
}

func (d trustDir) copy(from, to string) string {
	d.t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		d.t.Fatal(err)
	}
	return d.write(to, string(b))
}

func newTrustDir(t *testing.T) trustDir {
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	t.Setenv("COSIGN_PASSWORD", "")
	return trustDir{t: t, dir: t.TempDir()}
}

// Issue 10 item 12: a module's identity is what is signed, not the name the
// caller gives the file.
func TestTrustIdentityFromSignedContent(t *testing.T) {
	d := newTrustDir(t)
	p := d.p
	d.must("keygen", "--output-key-prefix", p("low"))
	d.must("keygen", "--output-key-prefix", p("high"))
	rules := "keys:\n  - name: low\n    public_key: low.pub\n  - name: high\n    public_key: high.pub\nrules:\n  - modules: hello\n    keys: [high]\n  - modules: \"*\"\n    keys: [low]\n"
	d.write("trust.yaml", rules)
	d.write("caller.yaml", rules+"caller_names: true\n")
	d.write("reqatt.yaml", rules+"require_attestation: true\n")
	tool := fixture.Path(t, "sb_tool")

	// The attack: the same bytes, signed by the low-privilege key, as
	// hello.wasm (refused: rule hello needs high) and as Hello.wasm (ran
	// through the * rule). Without a signed name, both are now refused.
	d.must("sign", tool, "--key", p("low.key"), "-o", p("hello.wasm"))
	d.copy(p("hello.wasm"), "Hello.wasm")
	// Signed with the name: the name goes where the bytes go.
	d.must("sign", tool, "--key", p("low.key"), "--module-name", "hello", "-o", p("named-low.wasm"))
	d.copy(p("named-low.wasm"), "Hello2.wasm")
	d.must("sign", tool, "--key", p("high.key"), "--module-name", "hello", "--module-version", "2.0.0", "-o", p("hello-v2.wasm"))
	d.must("sign", tool, "--key", p("high.key"), "--module-name", "hello", "--module-version", "1.0.0", "-o", p("hello-v1.wasm"))
	d.copy(p("hello-v1.wasm"), "renamed.wasm")
	// Named only by its attestation.
	d.must("sign", tool, "--key", p("high.key"), "-o", p("anon.wasm"))
	d.copy(p("anon.wasm"), "Anon2.wasm")
	d.write("grant.yaml", "capabilities:\n  args: [hello]\n")
	d.must("attest", p("anon.wasm"), "--name", "hello", "--policy", p("grant.yaml"), "--key", p("high.key"), "-o", p("anon.intoto.json"))
	d.must("attest", p("hello-v2.wasm"), "--policy", p("grant.yaml"), "--key", p("high.key"), "-o", p("v2.intoto.json"))
	if code, _, e := runCLI(t, "", "attest", p("hello-v2.wasm"), "--name", "other", "--policy", p("grant.yaml"), "--key", p("high.key"), "-o", p("x.json")); code != exitUsage || !strings.Contains(e, `the module names itself "hello"`) {
		t.Fatalf("attest under another name: %d %s", code, e)
	}

	tr := func(policy string, extra ...string) []string {
		return append([]string{"run", "--trust", p(policy)}, extra...)
	}
	noName := "carries no signed name (sign it with --module-name NAME, or give an attestation)"
	runCases(t, []cliCase{
		{"unnamed as hello.wasm", tr("trust.yaml", p("hello.wasm"), "--", "hello"), exitRefused, "", noName},
		{"unnamed as Hello.wasm", tr("trust.yaml", p("Hello.wasm"), "--", "hello"), exitRefused, "", `not-allowed (module "Hello"): the module ` + noName},
		{"unnamed with --name", tr("trust.yaml", "--name", "Hello", p("hello.wasm"), "--", "hello"), exitRefused, "", noName},
		{"signed name hello, low key", tr("trust.yaml", p("named-low.wasm"), "--", "hello"), exitRefused, "", `signature: not-allowed (module "hello"): signed by low, which rule "hello" does not allow`},
		{"signed name hello, low key, renamed", tr("trust.yaml", p("Hello2.wasm"), "--", "hello"), exitRefused, "", `signature: not-allowed (module "hello"): signed by low`},
		{"signed name hello, low key, caller names on", tr("caller.yaml", p("Hello2.wasm"), "--", "hello"), exitRefused, "", `signature: not-allowed (module "hello")`},
		{"--name cannot override", tr("caller.yaml", "--name", "Hello", p("named-low.wasm"), "--", "hello"), exitRefused, "", `the module's signed name is "hello", not "Hello": a signed name cannot be overridden`},
		{"caller names where the policy says so", tr("caller.yaml", p("Hello.wasm"), "--", "hello"), 0, "hello from wasmward", ""},
		{"signed name, high key", tr("trust.yaml", p("hello-v2.wasm"), "--", "hello"), 0, "hello from wasmward", ""},
		{"attestation names it", tr("trust.yaml", "--attestation", p("anon.intoto.json"), p("Anon2.wasm")), 0, "hello from wasmward", ""},
		{"require-attestation flag", tr("trust.yaml", "--require-attestation", p("hello-v2.wasm"), "--", "hello"), exitRefused, "", `signature: attestation (module "hello"): an attestation is required and none was given`},
		{"require-attestation flag met", tr("trust.yaml", "--require-attestation", "--attestation", p("v2.intoto.json"), p("hello-v2.wasm")), 0, "hello from wasmward", ""},
		{"require_attestation key", tr("reqatt.yaml", p("hello-v2.wasm"), "--", "hello"), exitRefused, "", "an attestation is required and none was given"},
		{"require-attestation without trust", []string{"run", "--require-attestation", p("hello-v2.wasm")}, exitUsage, "", "--require-attestation needs --trust FILE"},
	})

	// Rollback state follows the signed name: a renamed old build is a
	// rollback, not a fresh history.
	runCases(t, []cliCase{
		{"v2 recorded", tr("trust.yaml", "--state", p("state.json"), p("hello-v2.wasm"), "--", "hello"), 0, "hello from wasmward", ""},
		{"v1 renamed is a rollback", tr("trust.yaml", "--state", p("state.json"), p("renamed.wasm"), "--", "hello"), exitRefused, "", `signature: rollback (module "hello"): version 1.0.0 is older than 2.0.0`},
	})
	var st struct{ Modules map[string]string }
	b, _ := os.ReadFile(p("state.json"))
	if err := json.Unmarshal(b, &st); err != nil || len(st.Modules) != 1 || st.Modules["hello"] != "2.0.0" {
		t.Fatalf("state %s: %v", b, err)
	}

	// The report says where the name came from.
	d.must(tr("trust.yaml", "--attestation", p("anon.intoto.json"), "--report", p("r.json"), p("Anon2.wasm"))...)
	var rep struct{ Trust trustInfo }
	b, _ = os.ReadFile(p("r.json"))
	if err := json.Unmarshal(b, &rep); err != nil || rep.Trust.Name != "hello" || rep.Trust.NameSource != "attestation" {
		t.Fatalf("report trust %s: %v", b, err)
	}
}

// run and serve agree: an unreadable state file refuses the module (126)
// in both, where serve used to exit 2.
func TestTrustStateOutcomeAgrees(t *testing.T) {
	d := newTrustDir(t)
	p := d.p
	d.must("keygen", "--output-key-prefix", p("ci"))
	d.write("trust.yaml", "keys: [{name: ci, public_key: ci.pub}]\n")
	d.must("sign", fixture.Path(t, "gw_hello"), "--key", p("ci.key"), "--module-name", "hello", "-o", p("hello.wasm"))
	if err := os.Mkdir(p("state-is-a-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, e := runCLI(t, "", "run", "--trust", p("trust.yaml"), "--state", p("state-is-a-dir"), p("hello.wasm"))
	if code != exitRefused || !strings.Contains(e, `signature: version-state (module "hello")`) {
		t.Fatalf("run: %d %s", code, e)
	}
	cfg := d.write("gw.yaml", "listen: 127.0.0.1:0\nadmin_listen: \"\"\nroutes: [{route: /a, module: hello.wasm}]\n")
	code, _, e = gwCLI(context.Background(), "serve", "--config", cfg, "--trust", p("trust.yaml"), "--state", p("state-is-a-dir"))
	if code != exitRefused || !strings.Contains(e, `signature: version-state (module "hello")`) {
		t.Fatalf("serve: %d %s", code, e)
	}
}

// Issue 10 item 15: detached cosign signatures and bundles gate run and
// serve when the trust policy accepts them.
func TestTrustCosignGate(t *testing.T) {
	d := newTrustDir(t)
	p := d.p
	d.must("keygen", "--type", "ecdsa-p256", "--output-key-prefix", p("ec"))
	d.must("keygen", "--type", "rsa", "--bits", "2048", "--output-key-prefix", p("rsa"))
	d.must("keygen", "--output-key-prefix", p("ed"))
	keys := "keys:\n  - name: ec\n    public_key: ec.pub\n  - name: rsa\n    public_key: rsa.pub\n  - name: ed\n    public_key: ed.pub\n"
	d.write("cosign.yaml", keys+"cosign_signatures: true\ncaller_names: true\n")
	d.write("nocosign.yaml", keys+"caller_names: true\n")
	d.write("both.yaml", keys+"cosign_signatures: true\nrules:\n  - modules: hello\n    keys: [ec, ed]\n    threshold: 2\n")
	tool := fixture.Path(t, "sb_tool")
	d.copy(tool, "m.wasm")
	d.must("sign", p("m.wasm"), "--format", "cosign", "--key", p("ec.key"), "-o", p("m.wasm.sig"))
	d.copy(tool, "b.wasm")
	d.must("sign", p("b.wasm"), "--format", "cosign", "--key", p("rsa.key"), "--bundle", p("b.wasm.bundle"))
	d.copy(tool, "x.wasm")
	d.copy(p("m.wasm.sig"), "elsewhere.sig")
	d.write("tampered.wasm", string(append(readFile(t, tool), 0, 1, 0)))
	d.copy(p("m.wasm.sig"), "tampered.wasm.sig")
	b := string(readFile(t, p("b.wasm.bundle")))
	d.copy(tool, "t.wasm")
	d.write("t.wasm.bundle", strings.Replace(b, `"verificationMaterial":{`, `"verificationMaterial":{"tlogEntries":[{"logIndex":"1"}],`, 1))
	// Two kinds of signature count together: embedded ed25519 (with the
	// name) and cosign ecdsa over the signed file.
	d.must("sign", tool, "--key", p("ed.key"), "--module-name", "hello", "-o", p("h.wasm"))
	d.must("sign", p("h.wasm"), "--format", "cosign", "--key", p("ec.key"), "-o", p("h.wasm.sig"))
	d.must("sign", tool, "--key", p("ed.key"), "--module-name", "hello", "-o", p("h1.wasm"))

	tr := func(policy string, extra ...string) []string {
		return append([]string{"run", "--trust", p(policy)}, extra...)
	}
	runCases(t, []cliCase{
		{"MODULE.sig next to it", tr("cosign.yaml", p("m.wasm"), "--", "hello"), 0, "hello from wasmward", ""},
		{"MODULE.bundle next to it (rsa)", tr("cosign.yaml", p("b.wasm"), "--", "hello"), 0, "hello from wasmward", ""},
		{"--sig elsewhere", tr("cosign.yaml", "--sig", p("elsewhere.sig"), p("x.wasm"), "--", "hello"), 0, "hello from wasmward", ""},
		{"no signature", tr("cosign.yaml", p("x.wasm"), "--", "hello"), exitRefused, "", "signature: unsigned"},
		{"tampered", tr("cosign.yaml", p("tampered.wasm"), "--", "hello"), exitRefused, "", "signature: untrusted (module \"tampered\"): no valid signature by a trusted key: the cosign signature or bundle verifies under none"},
		{"tlog entries said loudly", tr("cosign.yaml", p("t.wasm"), "--", "hello"), 0, "hello from wasmward", "wasmward: warning: the bundle carries 1 transparency log entry (not verified"},
		{"policy without cosign ignores neighbours", tr("nocosign.yaml", p("m.wasm"), "--", "hello"), exitRefused, "", "signature: unsigned"},
		{"policy without cosign refuses --sig", tr("nocosign.yaml", "--sig", p("elsewhere.sig"), p("x.wasm")), exitUsage, "", "does not accept them (cosign_signatures: true)"},
		{"embedded + cosign meet 2 of 2", tr("both.yaml", p("h.wasm"), "--", "hello"), 0, "hello from wasmward", ""},
		{"embedded alone is 1 of 2", tr("both.yaml", p("h1.wasm"), "--", "hello"), exitRefused, "", `signature: threshold (module "hello"): 1 of 2 required`},
		{"sig without trust", []string{"run", "--sig", p("m.wasm.sig"), p("m.wasm")}, exitUsage, "", "--sig needs --trust FILE"},
	})

	// serve: paths in the route's trust block, or MODULE.sig next to it.
	cfg := d.write("gw.yaml", "listen: 127.0.0.1:0\nroutes:\n  - {route: /a, module: m.wasm}\n  - {route: /b, module: x.wasm, trust: {signature: elsewhere.sig}}\n  - {route: /c, module: x.wasm}\n  - {route: /d, module: b.wasm, trust: {name: tool, attestation: none.json}}\n")
	gc, err := gateway.LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	verify, err := serveVerifier(&serveFlags{trust: trustFlags{policy: p("cosign.yaml")}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "", "signature: unsigned", "read attestation"} {
		_, err := verify(context.Background(), gc.Routes[i])
		var r *sandbox.Refusal
		switch {
		case want == "" && err != nil:
			t.Errorf("route %s: %v", gc.Routes[i].Path, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("route %s: %v, want %q", gc.Routes[i].Path, err, want)
		case want == "signature: unsigned" && !errors.As(err, &r):
			t.Errorf("route %s: %T is not a refusal", gc.Routes[i].Path, err)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serve takes attestations from the route's trust block: the module runs
// under the attested policy bounded by the route's, and require_attestation
// refuses a route without one.
func TestServeAttestation(t *testing.T) {
	d := newTrustDir(t)
	p := d.p
	d.must("keygen", "--output-key-prefix", p("ci"))
	d.write("trust.yaml", "keys: [{name: ci, public_key: ci.pub}]\nrequire_attestation: true\n")
	d.must("sign", fixture.Path(t, "gw_hello"), "--key", p("ci.key"), "--module-name", "hello", "-o", p("hello.wasm"))
	d.write("grant.yaml", "limits:\n  memory: 4MiB\n  timeout: 1h\ncapabilities:\n  env: {GREETING: attested}\n")
	d.must("attest", p("hello.wasm"), "--policy", p("grant.yaml"), "--key", p("ci.key"), "-o", p("hello.intoto.json"))
	d.write("mount.yaml", "capabilities:\n  mounts: [{host: /publisher, guest: /data}]\n")
	d.must("attest", p("hello.wasm"), "--policy", p("mount.yaml"), "--key", p("ci.key"), "-o", p("mount.intoto.json"))
	cfg := d.write("gw.yaml", "listen: 127.0.0.1:0\nadmin_listen: \"\"\nroutes:\n"+
		"  - {route: /a, module: hello.wasm, trust: {attestation: hello.intoto.json}}\n"+
		"  - {route: /b, module: hello.wasm}\n"+
		"  - {route: /c, module: hello.wasm, trust: {attestation: mount.intoto.json}}\n")
	gc, err := gateway.LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	verify, err := serveVerifier(&serveFlags{trust: trustFlags{policy: p("trust.yaml")}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := verify(context.Background(), gc.Routes[0])
	if err != nil || pol == nil {
		t.Fatalf("attested route: %v", err)
	}
	if pol.Limits.Memory != 4<<20 || pol.Limits.Timeout != gc.Routes[0].Policy.Limits.Timeout || pol.Capabilities.Env["GREETING"] != "attested" {
		t.Fatalf("attested policy: memory %d timeout %v (route %v) env %v", pol.Limits.Memory, pol.Limits.Timeout, gc.Routes[0].Policy.Limits.Timeout, pol.Capabilities.Env)
	}
	var r *sandbox.Refusal
	if _, err := verify(context.Background(), gc.Routes[1]); !errors.As(err, &r) || !strings.Contains(r.Violation.Detail, "an attestation is required and none was given") {
		t.Fatalf("route without attestation: %v", err)
	}
	if _, err := verify(context.Background(), gc.Routes[2]); !errors.As(err, &r) || r.Violation.Kind != sandbox.KindCapabilityDenied || !strings.Contains(r.Violation.Detail, "the attestation grants mount /data, but the operator gives it no host directory") {
		t.Fatalf("attested mount without a route mount: %v", err)
	}
	// Through the CLI: the refusal stops serve before it listens, exit 126.
	code, _, e := gwCLI(context.Background(), "serve", "--config", cfg, "--trust", p("trust.yaml"))
	if code != exitRefused || !strings.Contains(e, "route /b") || !strings.Contains(e, "an attestation is required") {
		t.Fatalf("serve: %d %s", code, e)
	}
}

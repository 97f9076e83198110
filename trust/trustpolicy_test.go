package trust

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// policyEnv writes key files for names and returns their dir and keys.
func policyEnv(t *testing.T, names ...string) (string, map[string]*PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	keys := map[string]*PrivateKey{}
	for _, n := range names {
		kt := Ed25519
		if strings.HasPrefix(n, "ec") {
			kt = ECDSAP256
		}
		k := mustKey(t, kt)
		if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keys", n+".pub"), k.Public().MarshalPEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		keys[n] = k
	}
	return dir, keys
}

func writePolicy(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "trust.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyParseErrors(t *testing.T) {
	dir, _ := policyEnv(t, "ci", "release")
	keys := "keys:\n  - name: ci\n    public_key: keys/ci.pub\n  - name: release\n    public_key: keys/release.pub\n"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown top key", keys + "require_signatures: true\n", `trust.yaml:6: unknown key "require_signatures"`},
		{"unknown key in keys", "keys:\n  - name: ci\n    public_key: keys/ci.pub\n    colour: red\n", `trust.yaml:4: unknown key "colour"`},
		{"unknown key in rule", keys + "rules:\n  - modules: \"*\"\n    keys: [ci]\n    thresold: 1\n", `trust.yaml:9: unknown key "thresold"`},
		{"bad type", keys + "require_signature: maybe\n", "trust.yaml:6:"},
		{"unknown key name", keys + "rules:\n  - modules: \"*\"\n    keys: [cj]\n", `rules[0]: unknown key "cj"`},
		{"threshold too high", keys + "rules:\n  - modules: \"*\"\n    keys: [ci]\n    threshold: 2\n", "threshold 2: must be between 1 and the 1 key(s)"},
		{"threshold zero", keys + "rules:\n  - modules: \"*\"\n    keys: [ci]\n    threshold: 0\n", "threshold 0"},
		{"bad glob", keys + "rules:\n  - modules: \"[a\"\n    keys: [ci]\n", `modules "[a"`},
		{"no modules", keys + "rules:\n  - keys: [ci]\n", "modules is empty"},
		{"duplicate name", "keys:\n  - name: ci\n    public_key: keys/ci.pub\n  - name: ci\n    public_key: keys/release.pub\n", `duplicate key name "ci"`},
		{"same key twice", "keys:\n  - name: ci\n    public_key: keys/ci.pub\n  - name: ci2\n    public_key: keys/ci.pub\n", `same public key as "ci"`},
		{"missing key file", "keys:\n  - name: ci\n    public_key: keys/nope.pub\n", "keys[0] (ci): read public key"},
		{"no keys", "require_signature: true\n", "no keys"},
		{"empty file", "", "no keys"},
		{"listed twice", keys + "rules:\n  - modules: \"*\"\n    keys: [ci, ci]\n", `key "ci" listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPolicy(writePolicy(t, dir, tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPolicyVerify(t *testing.T) {
	dir, k := policyEnv(t, "ci", "release", "dev", "ecdsa")
	bin := fixture.Bytes(t, "trust_hello")
	stranger := mustKey(t, Ed25519)
	p, err := LoadPolicy(writePolicy(t, dir, `
keys:
  - name: ci
    public_key: keys/ci.pub
  - name: release
    public_key: keys/release.pub
  - name: dev
    public_key: keys/dev.pub
  - name: ecdsa
    public_key: keys/ecdsa.pub
rules:
  - modules: "acme/*"
    keys: [ci, release]
    threshold: 2
  - modules: "dev-*"
    keys: [dev, ci]
require_signature: true
`))
	if err != nil {
		t.Fatal(err)
	}
	both := signed(t, bin, SignOptions{Version: "1.0.0"}, k["ci"], k["release"])
	ciOnly := signed(t, bin, SignOptions{}, k["ci"])
	devOnly := signed(t, bin, SignOptions{}, k["dev"])
	tampered := append(both[:len(both):len(both)], customSection("x", nil)...)
	ctx := context.Background()
	for _, tc := range []struct {
		name, module string
		bin          []byte
		reason       Reason
		signers      []string
		msg          string
	}{
		{"2 of 2", "acme/hello", both, "", []string{"ci", "release"}, ""},
		{"1 of 2", "acme/hello", ciOnly, ReasonThreshold, nil, "1 of 2 required signatures (signed by ci"},
		{"key not allowed for module", "acme/hello", devOnly, ReasonNotAllowed, nil, `signed by dev, which rule "acme/*" does not allow`},
		{"glob does not cross /", "acme/x/y", both, ReasonNotAllowed, nil, `no rule in`},
		{"no rule", "other", both, ReasonNotAllowed, nil, `covers module "other"`},
		{"second rule", "dev-tool", devOnly, "", []string{"dev"}, ""},
		{"second rule, only allowed signer counts", "dev-tool", both, "", []string{"ci"}, ""},
		{"unsigned", "dev-tool", bin, ReasonUnsigned, nil, "not signed"},
		{"modified", "acme/hello", tampered, ReasonModified, nil, "does not match"},
		{"untrusted", "dev-tool", signed(t, bin, SignOptions{}, stranger), ReasonUntrusted, nil, "none by the 4 key(s)"},
		{"truncated", "dev-tool", devOnly[:len(devOnly)-3], ReasonMalformed, nil, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := p.Verify(ctx, tc.module, tc.bin)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, s := range res.Signers {
					names = append(names, s.Name)
				}
				if strings.Join(names, ",") != strings.Join(tc.signers, ",") || !res.Signed || res.Module != tc.module {
					t.Fatalf("signers %v, want %v (%+v)", names, tc.signers, res)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.Reason != tc.reason || re.Module != tc.module || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want reason %s containing %q", err, tc.reason, tc.msg)
			}
		})
	}
	res, err := p.Verify(ctx, "acme/hello", both)
	if err != nil || res.Version != "1.0.0" || res.Threshold != 2 || res.Rule != "acme/*" {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestPolicyNoRulesAndOptionalSignature(t *testing.T) {
	dir, k := policyEnv(t, "ci", "other")
	bin := fixture.Bytes(t, "trust_hello")
	p, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: ci\n    public_key: keys/ci.pub\n  - name: other\n    public_key: "+filepath.Join(dir, "keys/other.pub")+"\nrequire_signature: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := p.Verify(ctx, "anything", bin)
	if err != nil || res.Signed {
		t.Fatalf("unsigned with require_signature false: %v %+v", err, res)
	}
	res, err = p.Verify(ctx, "anything", signed(t, bin, SignOptions{}, k["other"]))
	if err != nil || len(res.Signers) != 1 || res.Signers[0].Name != "other" {
		t.Fatalf("any trusted key: %v %+v", err, res)
	}
	// A signed module is still checked when signatures are optional.
	s := signed(t, bin, SignOptions{}, k["ci"])
	s[len(s)-1] ^= 1
	if _, err := p.Verify(ctx, "anything", s); err == nil {
		t.Fatal("a tampered signed module passed an optional-signature policy")
	}
	// Detached signatures go through the same policy.
	sig, err := SignDetached(bin, nil, k["ci"], SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.VerifyDetached(ctx, "anything", bin, sig); err != nil || res.Signers[0].Name != "ci" {
		t.Fatalf("detached: %v %+v", err, res)
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{"dist/acme-hello.wasm": "acme-hello", "x": "x", "/a/b.c.wasm": "b.c"} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

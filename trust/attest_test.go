package trust

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/trust/internal/dsse"
)

func grantedPolicy() policy.Policy {
	p := policy.Default()
	p.Limits.Memory = 16 << 20
	p.Limits.Timeout = policy.Duration(2 * time.Second)
	p.Limits.Fuel = 1000000
	p.Capabilities.Env = map[string]string{"MODE": "prod"}
	p.Capabilities.Args = []string{"--quiet"}
	p.Capabilities.Mounts = []policy.Mount{{Host: "/srv/data", Guest: "/data", ReadOnly: true}}
	return p
}

// resign replaces the envelope's payload with edit(statement) and signs it
// with key: a validly signed envelope with chosen content.
func resign(t *testing.T, env []byte, key *PrivateKey, edit func(map[string]any)) []byte {
	t.Helper()
	e, payload, err := dsse.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	payload, _ = json.Marshal(st)
	e.Payload = base64.StdEncoding.EncodeToString(payload)
	e.Signatures = nil
	out, err := addEnvelopeSignature(e, payload, key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAttestationRoundTrip(t *testing.T) {
	dir, k := policyEnv(t, "ci", "ecdsa")
	bin := fixture.Bytes(t, "trust_hello")
	p, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: ci\n    public_key: keys/ci.pub\n  - name: ecdsa\n    public_key: keys/ecdsa.pub\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := grantedPolicy()
	for _, signer := range []string{"ci", "ecdsa"} {
		t.Run(signer, func(t *testing.T) {
			env, err := Attest(k[signer], "hello", bin, want)
			if err != nil {
				t.Fatal(err)
			}
			got, res, err := p.VerifyAttestation(context.Background(), "hello", bin, env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("policy changed in transit:\n got %+v\nwant %+v", got, want)
			}
			if len(res.Signers) != 1 || res.Signers[0].Name != signer {
				t.Fatalf("signers %+v", res.Signers)
			}
			var e map[string]any
			_ = json.Unmarshal(env, &e)
			if e["payloadType"] != InTotoPayloadType {
				t.Fatalf("payload type %v", e["payloadType"])
			}
		})
	}
}

func TestAttestationRefusals(t *testing.T) {
	dir, k := policyEnv(t, "ci", "release")
	bin := fixture.Bytes(t, "trust_hello")
	p, err := LoadPolicy(writePolicy(t, dir, `keys:
  - name: ci
    public_key: keys/ci.pub
  - name: release
    public_key: keys/release.pub
rules:
  - modules: "acme/*"
    keys: [ci, release]
    threshold: 2
  - modules: "*"
    keys: [ci]
`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := Attest(k["ci"], "hello", bin, grantedPolicy())
	if err != nil {
		t.Fatal(err)
	}
	other := append([]byte(nil), bin...)
	other[len(other)-1] ^= 1
	stranger := mustKey(t, Ed25519)
	var e dsse.Envelope
	_ = json.Unmarshal(env, &e)
	payload, _ := base64.StdEncoding.DecodeString(e.Payload)
	alteredEnv := e
	alteredEnv.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"fuel":1000000`, `"fuel":0`, 1)))
	altered, _ := json.Marshal(&alteredEnv)
	strangerEnv, _ := Attest(stranger, "hello", bin, grantedPolicy())
	acmeOne, _ := Attest(k["ci"], "acme/x", bin, grantedPolicy())

	for _, tc := range []struct {
		name, module string
		bin, env     []byte
		reason       Reason
		msg          string
	}{
		{"another binary", "hello", other, env, ReasonModified, "attests another binary"},
		{"another name", "hi", bin, env, ReasonAttestation, `names the module "hello", not "hi"`},
		{"payload altered", "hello", bin, altered, ReasonUntrusted, "none by a key"},
		{"untrusted signer", "hello", bin, strangerEnv, ReasonUntrusted, "none by a key"},
		{"threshold", "acme/x", bin, acmeOne, ReasonThreshold, "1 of 2"},
		{"wrong predicate type", "hello", bin, resign(t, env, k["ci"], func(m map[string]any) { m["predicateType"] = "https://slsa.dev/provenance/v1" }), ReasonAttestation, "predicate type"},
		{"wrong statement type", "hello", bin, resign(t, env, k["ci"], func(m map[string]any) { m["_type"] = "x" }), ReasonAttestation, "statement type"},
		{"unknown policy key", "hello", bin, resign(t, env, k["ci"], func(m map[string]any) {
			m["predicate"].(map[string]any)["limits"].(map[string]any)["memroy"] = "1GiB"
		}), ReasonAttestation, `unknown key "memroy"`},
		{"invalid policy", "hello", bin, resign(t, env, k["ci"], func(m map[string]any) {
			m["predicate"].(map[string]any)["capabilities"].(map[string]any)["clock"] = "sundial"
		}), ReasonAttestation, "capabilities.clock"},
		{"no predicate", "hello", bin, resign(t, env, k["ci"], func(m map[string]any) { delete(m, "predicate") }), ReasonAttestation, "no predicate"},
		{"not json", "hello", bin, []byte("{"), ReasonAttestation, "dsse envelope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.VerifyAttestation(context.Background(), tc.module, tc.bin, tc.env)
			var re *RefusedError
			if !errors.As(err, &re) || re.Reason != tc.reason || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want reason %s containing %q", err, tc.reason, tc.msg)
			}
		})
	}

	// A second signer meets the 2-of-2 rule.
	both, err := AddAttestationSignature(acmeOne, "acme/x", bin, k["release"])
	if err != nil {
		t.Fatal(err)
	}
	if _, res, err := p.VerifyAttestation(context.Background(), "acme/x", bin, both); err != nil || len(res.Signers) != 2 {
		t.Fatalf("2 of 2: %v %+v", err, res)
	}
	if _, err := AddAttestationSignature(both, "acme/x", bin, k["ci"]); err == nil || !strings.Contains(err.Error(), "already signed") {
		t.Fatalf("duplicate signer: %v", err)
	}
}

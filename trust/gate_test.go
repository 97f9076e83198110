package trust

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// Gate.Admit names a module by what is signed (issue 10 item 12).
func TestGateIdentity(t *testing.T) {
	dir, k := policyEnv(t, "low", "high")
	bin := fixture.Bytes(t, "trust_hello")
	rules := "keys:\n  - name: low\n    public_key: keys/low.pub\n  - name: high\n    public_key: keys/high.pub\nrules:\n  - modules: hello\n    keys: [high]\n  - modules: \"*\"\n    keys: [low]\n"
	strict, err := LoadPolicy(writePolicy(t, dir, rules))
	if err != nil {
		t.Fatal(err)
	}
	caller, err := LoadPolicy(writePolicy(t, dir, rules+"caller_names: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lowAnon := signed(t, bin, SignOptions{}, k["low"])
	lowNamed := signed(t, bin, SignOptions{Name: "hello"}, k["low"])
	highNamed := signed(t, bin, SignOptions{Name: "hello"}, k["high"])
	highAnon := signed(t, bin, SignOptions{}, k["high"])
	env, err := Attest(k["high"], "hello", highAnon, grantedPolicy())
	if err != nil {
		t.Fatal(err)
	}
	twoNames := resign(t, env, k["high"], func(st map[string]any) {
		subs := st["subject"].([]any)
		other := map[string]any{"name": "Hello", "digest": subs[0].(map[string]any)["digest"]}
		st["subject"] = append(subs, other)
	})
	for _, tc := range []struct {
		name   string
		pol    *Policy
		m      Material
		want   string // "" admitted under wantName
		reason Reason
		source string
	}{
		{"unnamed, file hello", strict, Material{Module: lowAnon, File: "hello.wasm"}, "carries no signed name", ReasonNotAllowed, ""},
		{"unnamed, file Hello", strict, Material{Module: lowAnon, File: "Hello.wasm"}, "carries no signed name", ReasonNotAllowed, ""},
		{"caller names: file Hello", caller, Material{Module: lowAnon, File: "Hello.wasm"}, "", "", "caller"},
		{"caller names: file hello", caller, Material{Module: lowAnon, File: "hello.wasm"}, "signed by low, which rule \"hello\" does not allow", ReasonNotAllowed, ""},
		{"signed name, low key, any file", caller, Material{Module: lowNamed, File: "Hello.wasm"}, "signed by low, which rule \"hello\" does not allow", ReasonNotAllowed, ""},
		{"signed name, high key", strict, Material{Module: highNamed, File: "x.wasm"}, "", "", "signed"},
		{"signed name contradicted", caller, Material{Module: highNamed, Name: "other"}, "a signed name cannot be overridden", ReasonNotAllowed, ""},
		{"attestation names it", strict, Material{Module: highAnon, File: "x.wasm", Attestation: env}, "", "", "attestation"},
		{"attestation with two names", strict, Material{Module: highAnon, File: "x.wasm", Attestation: twoNames}, "names this binary 2 ways", ReasonAttestation, ""},
		{"bad caller name", caller, Material{Module: lowAnon, Name: "a\nb"}, "control or white-space", ReasonNotAllowed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := (&Gate{Policy: tc.pol}).Admit(ctx, tc.m)
			if tc.want == "" {
				if err != nil || a.NameSource != tc.source || (tc.source != "caller" && a.Name != "hello") {
					t.Fatalf("got %+v, %v; want admitted (%s)", a, err, tc.source)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.Reason != tc.reason || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %s refusal containing %q", err, tc.reason, tc.want)
			}
		})
	}
	// A name section is refused when malformed, and cannot be added to a
	// signed module.
	if _, err := SignModule(lowAnon, k["high"], SignOptions{Name: "hello"}); err == nil || !strings.Contains(err.Error(), "cannot add a name to a module that is already signed") {
		t.Fatalf("name added to a signed module: %v", err)
	}
	if _, err := SignModule(bin, k["high"], SignOptions{Name: strings.Repeat("x", 257)}); err == nil || !strings.Contains(err.Error(), "at most 256") {
		t.Fatalf("long name: %v", err)
	}
}

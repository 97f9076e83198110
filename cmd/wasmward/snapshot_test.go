package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/trust"
)

// snapshot --sign --attest: the snapshot carries a signature that verifies
// with the key, the statement's subject is the signed snapshot, and its
// provenance names the input's digest, the init export and the policy.
func TestSnapshotSignAndAttest(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	t.Setenv("COSIGN_PASSWORD", "")
	if code, _, e := trustRun(t, "keygen", "--output-key-prefix", p("k")); code != 0 {
		t.Fatalf("keygen: %s", e)
	}
	in := fixture.Path(t, "snap_counter")
	_ = os.WriteFile(p("pol.yaml"), []byte("limits:\n  fuel: 5000000\n  memory: 32MiB\n"), 0o644)
	code, out, e := trustRun(t, "snapshot", in, "-o", p("snap.wasm"), "--policy", p("pol.yaml"), "--sign", p("k.key"), "--attest", p("snap.intoto.json"))
	if code != 0 {
		t.Fatalf("snapshot: %d %s", code, e)
	}
	if !strings.Contains(out, "wrote snapshot "+p("snap.wasm")+" (wizer-initialize: ") {
		t.Errorf("output %q", out)
	}
	snap, _ := os.ReadFile(p("snap.wasm"))
	pubPEM, _ := os.ReadFile(p("k.pub"))
	pub, err := trust.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.VerifyModule(snap, nil, []*trust.PublicKey{pub}); err != nil {
		t.Fatalf("the snapshot's signature does not verify: %v", err)
	}
	// The guest behaves as initialised.
	code, out, e = trustRun(t, "run", p("snap.wasm"))
	if code != 0 || out != "counter=42 init_runs=1 greeting=hello from init #1\n" {
		t.Fatalf("run snapshot: %d %q %s", code, out, e)
	}

	env, _ := os.ReadFile(p("snap.intoto.json"))
	var envelope struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(env, &envelope); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(envelope.Payload)
	var st struct {
		Subject []struct {
			Name   string
			Digest map[string]string
		}
		PredicateType string
		Predicate     struct {
			BuildDefinition struct {
				BuildType          string
				ExternalParameters struct {
					InitFunc string
					Policy   struct {
						Limits struct{ Fuel uint64 }
					}
				}
				ResolvedDependencies []struct {
					Name   string
					Digest map[string]string
				}
			}
		}
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	inBin, _ := os.ReadFile(in)
	bd := st.Predicate.BuildDefinition
	switch {
	case envelope.PayloadType != trust.InTotoPayloadType || len(envelope.Signatures) != 1 || envelope.Signatures[0].KeyID != pub.Fingerprint():
		t.Errorf("envelope %s", env)
	case len(st.Subject) != 1 || st.Subject[0].Name != "snap" || st.Subject[0].Digest["sha256"] != digest.SHA256Hex(snap):
		t.Errorf("subject %+v, want snap with the signed snapshot's digest", st.Subject)
	case st.PredicateType != "https://slsa.dev/provenance/v1" || bd.BuildType != "https://wasmward.dev/snapshot/v1":
		t.Errorf("types %q %q", st.PredicateType, bd.BuildType)
	case len(bd.ResolvedDependencies) != 1 || bd.ResolvedDependencies[0].Name != "snap_counter" || bd.ResolvedDependencies[0].Digest["sha256"] != digest.SHA256Hex(inBin):
		t.Errorf("materials %+v, want the input's digest", bd.ResolvedDependencies)
	case bd.ExternalParameters.InitFunc != "wizer-initialize" || bd.ExternalParameters.Policy.Limits.Fuel != 5000000:
		t.Errorf("parameters %+v", bd.ExternalParameters)
	}
}

func TestSnapshotCLIErrors(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	in := fixture.Path(t, "snap_counter")
	_ = os.WriteFile(p("mounts.yaml"), []byte("capabilities:\n  mounts:\n    - host: "+dir+"\n      guest: /data\n"), 0o644)
	_ = os.WriteFile(p("tiny.yaml"), []byte("limits:\n  fuel: 10\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no init export", []string{"snapshot", in, "-o", p("x.wasm"), "--init-func", "setup"}, 126, `exports no function "setup"`},
		{"mounts refused", []string{"snapshot", in, "-o", p("x.wasm"), "--policy", p("mounts.yaml")}, 126, "the policy mounts /data"},
		{"init out of fuel", []string{"snapshot", in, "-o", p("x.wasm"), "--policy", p("tiny.yaml")}, 1, "violation fuel_exhausted"},
		{"attest without key", []string{"snapshot", in, "-o", p("x.wasm"), "--attest", p("x.json")}, 2, "--attest needs --sign KEY"},
		{"bad rename", []string{"snapshot", in, "-o", p("x.wasm"), "-r", "novalue"}, 2, `want dst=src`},
		{"missing output flag", []string{"snapshot", in}, 2, "output"},
		{"unreadable input", []string{"snapshot", p("nope.wasm"), "-o", p("x.wasm")}, 2, "read module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, e := trustRun(t, tc.args...)
			if code != tc.code || !strings.Contains(out+e, tc.want) {
				t.Fatalf("exit %d, want %d; output %q %q, want %q", code, tc.code, out, e, tc.want)
			}
			if strings.Count(strings.TrimSpace(e), "\n") != 0 {
				t.Errorf("error is not one line: %q", e)
			}
			if _, err := os.Stat(p("x.wasm")); err == nil {
				t.Errorf("an output file was written")
			}
		})
	}
}

// A snapshot that fails leaves an existing output file as it was: the file
// is written atomically, and only once the snapshot is complete.
func TestSnapshotFailureKeepsExistingOutput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.wasm")
	_ = os.WriteFile(out, []byte("previous snapshot"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "tiny.yaml"), []byte("limits:\n  fuel: 10\n"), 0o644)
	code, _, e := trustRun(t, "snapshot", fixture.Path(t, "snap_heavy"), "-o", out, "--policy", filepath.Join(dir, "tiny.yaml"))
	if code != 1 || !strings.Contains(e, "fuel_exhausted") {
		t.Fatalf("exit %d %q, want 1 and fuel_exhausted", code, e)
	}
	if b, _ := os.ReadFile(out); string(b) != "previous snapshot" {
		t.Errorf("the output file holds %q, want it untouched", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d files in the output directory, want 2 (no temporary left)", len(entries))
	}
}

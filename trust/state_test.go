package trust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

func TestVersionCompare(t *testing.T) {
	ordered := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := range ordered {
		for j := range ordered {
			a, err := ParseVersion(ordered[i])
			if err != nil {
				t.Fatal(err)
			}
			b, _ := ParseVersion(ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s vs %s: %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if a, _ := ParseVersion("v1.0.0+build.1"); a.Compare(Version{Major: 1}) != 0 {
		t.Error("build metadata changed precedence")
	}
	for _, bad := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3-a..b", "-1.2.3"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func TestStateRollback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		version   string
		downgrade bool
		reason    Reason
		recorded  string
	}{
		{"1.0.0", false, "", "1.0.0"},
		{"1.2.0", false, "", "1.2.0"},
		{"1.2.0", false, "", "1.2.0"},
		{"1.1.9", false, ReasonRollback, "1.2.0"},
		{"1.2.0-rc.1", false, ReasonRollback, "1.2.0"},
		{"", false, ReasonRollback, "1.2.0"},
		{"", true, "", "1.2.0"},
		{"1.1.0", true, "", "1.1.0"},
		{"bogus", false, ReasonMalformed, "1.1.0"},
	}
	for i, st := range steps {
		err := s.Admit(ctx, "acme/hello", st.version, st.downgrade)
		var re *RefusedError
		switch {
		case st.reason == "" && err != nil:
			t.Fatalf("step %d (%q): %v", i, st.version, err)
		case st.reason != "" && (!errors.As(err, &re) || re.Reason != st.reason):
			t.Fatalf("step %d (%q): %v, want %s", i, st.version, err, st.reason)
		}
		// A fresh State reads what the last one wrote.
		s2, err := OpenState(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s2.Accepted("acme/hello"); got != st.recorded {
			t.Fatalf("step %d: recorded %q, want %q", i, got, st.recorded)
		}
	}
	err = s.Admit(ctx, "acme/hello", "1.0.0", false)
	if err == nil || !strings.Contains(err.Error(), "version 1.0.0 is older than 1.1.0") {
		t.Fatalf("message: %v", err)
	}
	// Another module name is independent; unversioned modules never recorded.
	if err := s.Admit(ctx, "other", "", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Accepted("other"); got != "" {
		t.Fatalf("unversioned recorded as %q", got)
	}
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte("{not json"), 0o644)
	if _, err := OpenState(bad); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("corrupt state: %v", err)
	}
	_ = os.WriteFile(bad, []byte(`{"version":1,"modules":{"x":"banana"}}`), 0o644)
	if _, err := OpenState(bad); err == nil || !strings.Contains(err.Error(), `module "x"`) {
		t.Fatalf("bad version in state: %v", err)
	}
	// The directory disappears: Admit refuses rather than running unrecorded.
	sub := filepath.Join(dir, "gone")
	_ = os.Mkdir(sub, 0o755)
	s, err := OpenState(filepath.Join(sub, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(sub)
	var re *RefusedError
	if err := s.Admit(context.Background(), "m", "1.0.0", false); !errors.As(err, &re) || re.Reason != ReasonState {
		t.Fatalf("unwritable state: %v", err)
	}
}

func TestStateConcurrent(t *testing.T) {
	s, err := OpenState(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_ = s.Admit(context.Background(), fmt.Sprintf("m%d", i%3), fmt.Sprintf("1.%d.0", i), false)
		}(i)
	}
	wg.Wait()
	for m, want := range map[string]string{"m0": "1.18.0", "m1": "1.19.0", "m2": "1.20.0"} {
		if got, _ := s.Accepted(m); got != want {
			t.Errorf("%s: %q, want %q (the highest admitted)", m, got, want)
		}
	}
}

func TestGate(t *testing.T) {
	dir, k := policyEnv(t, "ci")
	bin := fixture.Bytes(t, "trust_hello")
	p, err := LoadPolicy(writePolicy(t, dir, "keys:\n  - name: ci\n    public_key: keys/ci.pub\ncaller_names: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenState(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Policy: p, State: st}
	ctx := context.Background()
	v2 := signed(t, bin, SignOptions{Version: "2.0.0"}, k["ci"])
	v1 := signed(t, bin, SignOptions{Version: "1.0.0"}, k["ci"])
	if _, err := g.Admit(ctx, Material{Name: "hello", Module: v2}); err != nil {
		t.Fatal(err)
	}
	var re *RefusedError
	if _, err := g.Admit(ctx, Material{Name: "hello", Module: v1}); !errors.As(err, &re) || re.Reason != ReasonRollback {
		t.Fatalf("downgrade: %v", err)
	}
	// A refused signature never touches the state.
	if _, err := g.Admit(ctx, Material{Name: "fresh", Module: signed(t, bin, SignOptions{Version: "9.0.0"}, mustKey(t, Ed25519))}); err == nil {
		t.Fatal("untrusted accepted")
	}
	if v, _ := st.Accepted("fresh"); v != "" {
		t.Fatalf("refused module recorded: %q", v)
	}
	env, err := Attest(k["ci"], "hello", v2, grantedPolicy())
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.Admit(ctx, Material{Name: "hello", Module: v2, Attestation: env})
	if err != nil || !a.Attested || a.Policy.Limits.Fuel != 1000000 || a.Signature.Version != "2.0.0" {
		t.Fatalf("attested: %v %+v", err, a)
	}
	// The attestation is for v2's bytes: it does not vouch for v1.
	g.AllowDowngrade = true
	if _, err := g.Admit(ctx, Material{Name: "hello", Module: v1, Attestation: env}); !errors.As(err, &re) || re.Reason != ReasonModified {
		t.Fatalf("attestation for another binary: %v", err)
	}
	g.RequireAttestation = true
	if _, err := g.Admit(ctx, Material{Name: "hello", Module: v2}); !errors.As(err, &re) || re.Reason != ReasonAttestation {
		t.Fatalf("required attestation missing: %v", err)
	}
}

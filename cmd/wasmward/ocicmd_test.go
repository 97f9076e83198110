package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/oci/ocitest"
	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/trust"
)

// writeKey writes a fresh unencrypted key pair as DIR/NAME.key and NAME.pub.
func writeKey(t *testing.T, dir, name string, typ trust.KeyType) (key, pub string) {
	t.Helper()
	k, err := trust.GenerateKey(typ)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := k.MarshalPEM(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, pub = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	os.WriteFile(key, pem, 0o600)
	os.WriteFile(pub, k.Public().MarshalPEM(), 0o644)
	return key, pub
}

func TestPushPullCLI(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // never the machine's credentials
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	reg := ocitest.Start(t, "", "")
	dir := t.TempDir()
	mod := fixture.Path(t, "gw_hello")
	want, _ := os.ReadFile(mod)
	ref := reg.Host + "/team/hello:v1"

	code, out, errs := runCLI(t, "", "push", mod, ref, "--created", "2026-01-02T03:04:05Z")
	if code != 0 {
		t.Fatalf("push: %d %s %s", code, out, errs)
	}
	m := regexp.MustCompile(`pushed (\S+/team/hello@(sha256:[0-9a-f]{64})) \(module (sha256:[0-9a-f]{64}), (\d+) bytes\)`).FindStringSubmatch(out)
	if m == nil || m[3] != string(store.DigestOf(want)) || m[4] != fmt.Sprint(len(want)) {
		t.Fatalf("push printed %q", out)
	}
	pinned, manifest := m[1], m[2]

	// -o writes the module, atomically, byte for byte.
	for _, r := range []string{ref, "oci://" + ref, pinned} {
		dst := filepath.Join(dir, "pulled.wasm")
		os.Remove(dst)
		if code, out, errs := runCLI(t, "", "pull", r, "-o", dst); code != 0 {
			t.Fatalf("pull %s: %d %s %s", r, code, out, errs)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
			t.Fatalf("pull %s wrote %d bytes, want the %d pushed", r, len(got), len(want))
		}
	}
	// A pin naming another manifest is refused, and nothing is written.
	other := reg.Host + "/team/hello@" + string(store.DigestOf([]byte("other")))
	dst := filepath.Join(dir, "refused.wasm")
	if code, _, errs := runCLI(t, "", "pull", other, "-o", dst); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("pull of a wrong pin: %d %s", code, errs)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a refused pull left %s", dst)
	}

	// Without -o the module goes into the store, pinned; ls shows it; gc
	// keeps it until unpinned.
	sdir := filepath.Join(dir, "store")
	if code, out, errs := runCLI(t, "", "pull", ref, "--store", sdir); code != 0 || !strings.Contains(out, "pinned as "+ref) {
		t.Fatalf("pull into the store: %d %s %s", code, out, errs)
	}
	code, out, errs = runCLI(t, "", "store", "ls", "--store", sdir, "--verify")
	if code != 0 || !strings.Contains(out, string(store.DigestOf(want))) || !strings.Contains(out, "pin/"+ref) {
		t.Fatalf("store ls: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, "", "store", "gc", "--store", sdir, "--grace", "0"); code != 0 || !strings.Contains(out, "removed 0 blob(s)") || !strings.Contains(out, "kept 1 referenced") {
		t.Fatalf("store gc of a pinned module: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "", "store", "unpin", ref, "--store", sdir); code != 0 || !strings.Contains(out, "unpinned") {
		t.Fatalf("store unpin: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "", "store", "gc", "--store", sdir, "--grace", "0"); code != 0 || !strings.Contains(out, "removed "+string(store.DigestOf(want))) {
		t.Fatalf("store gc after unpin: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, "", "store", "unpin", ref, "--store", sdir); code != 1 || !strings.Contains(errs, "no pin") {
		t.Fatalf("unpin of an absent pin: %d %s", code, errs)
	}
	_ = manifest
}

func TestStoreLsReportsCorruption(t *testing.T) {
	sdir := t.TempDir()
	st, err := store.Open(sdir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := st.PutBlob(context.Background(), []byte("module"))
	os.WriteFile(filepath.Join(sdir, "blobs", "sha256", d.Hex()), []byte("modulE"), 0o600)
	code, out, errs := runCLI(t, "", "store", "ls", "--store", sdir, "--verify")
	if code != 1 || !strings.Contains(out, "[corrupt]") || !strings.Contains(errs, "1 blob(s) missing or corrupt") {
		t.Fatalf("store ls --verify of a corrupt blob: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "store", "gc", "--store", sdir, "--grace", "-1s"); code != 2 || !strings.Contains(errs, "negative") {
		t.Fatalf("gc --grace -1s: %d %s", code, errs)
	}
}

func TestPullTrust(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	reg := ocitest.Start(t, "", "")
	dir := t.TempDir()
	mod := fixture.Path(t, "gw_hello")
	relKey, relPub := writeKey(t, dir, "release", trust.ECDSAP256)
	evilKey, _ := writeKey(t, dir, "evil", trust.ECDSAP256)
	edKey, edPub := writeKey(t, dir, "embed", trust.Ed25519)
	policy := filepath.Join(dir, "trust.yaml")
	os.WriteFile(policy, fmt.Appendf(nil, "keys:\n  - name: release\n    public_key: %s\n  - name: embed\n    public_key: %s\n", relPub, edPub), 0o644)

	// An embedded-signed module (named, as the policy requires).
	signedMod := filepath.Join(dir, "embedded.wasm")
	if code, _, errs := runCLI(t, "", "sign", mod, "--key", edKey, "--module-name", "hello", "-o", signedMod); code != 0 {
		t.Fatalf("sign: %s", errs)
	}
	push := func(module, tag string, args ...string) {
		t.Helper()
		if code, out, errs := runCLI(t, "", append([]string{"push", module, reg.Host + "/app:" + tag}, args...)...); code != 0 {
			t.Fatalf("push %s: %d %s %s", tag, code, out, errs)
		}
	}
	push(mod, "signed", "--key", relKey)
	push(mod, "unsigned", "--created", "2026-01-01T00:00:00Z")
	push(mod, "evil", "--key", evilKey, "--created", "2026-01-01T00:00:01Z")
	push(signedMod, "embedded")
	if code, _, errs := runCLI(t, "", "push", mod, reg.Host+"/app:ed", "--key", edKey); code != 2 || !strings.Contains(errs, "ed25519") {
		t.Fatalf("push --key ed25519: %d %s", code, errs)
	}

	tests := []struct {
		tag      string
		wantCode int
		wantErr  string
	}{
		{"signed", 0, "cosign signature by release"},
		{"embedded", 0, `embedded signature of "hello" by embed`},
		{"unsigned", 126, "has no cosign signature"},
		{"evil", 126, "made by none of the trusted keys"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "m.wasm")
			sdir := filepath.Join(t.TempDir(), "store")
			for _, target := range [][]string{{"-o", dst}, {"--store", sdir}} {
				code, out, errs := runCLI(t, "", append([]string{"pull", reg.Host + "/app:" + tt.tag, "--trust", policy}, target...)...)
				if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
					t.Fatalf("pull --trust %s: %d %q %q; want %d and %q", tt.tag, code, out, errs, tt.wantCode, tt.wantErr)
				}
			}
			_, err := os.Stat(dst)
			infos := []store.BlobInfo{}
			if st, err := store.Open(sdir, store.Options{}); err == nil {
				infos, _ = st.List(context.Background(), store.ListOptions{})
			}
			if tt.wantCode != 0 && (err == nil || len(infos) != 0) {
				t.Fatalf("a refused module was written (%v) or stored (%d)", err, len(infos))
			}
			if tt.wantCode == 0 && (err != nil || len(infos) != 1) {
				t.Fatalf("an accepted module was not written (%v) or stored (%d)", err, len(infos))
			}
		})
	}
}

func TestPushPullAuthCLI(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	const pass = "Very-Secret-Pa55"
	reg := ocitest.Start(t, "ci", pass)
	mod := fixture.Path(t, "gw_hello")
	ref := reg.Host + "/private/app:v1"
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no credentials", "", nil, 1, "check the credentials"},
		{"wrong password", "not-" + pass + "\n", []string{"--username", "ci", "--password-stdin"}, 1, "check the credentials"},
		{"password without user", pass, []string{"--password-stdin"}, 2, "go together"},
		{"empty stdin", "", []string{"--username", "ci", "--password-stdin"}, 2, "standard input is empty"},
		{"right password", pass + "\n", []string{"--username", "ci", "--password-stdin"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range [][]string{{"push", mod, ref}, {"pull", ref, "-o", filepath.Join(t.TempDir(), "m.wasm")}} {
				code, out, errs := runCLI(t, tt.stdin, append(cmd, tt.args...)...)
				if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
					t.Fatalf("%s: %d %q %q; want %d and %q", cmd[0], code, out, errs, tt.wantCode, tt.wantErr)
				}
				if strings.Contains(out+errs, pass) {
					t.Fatalf("%s printed the password: %q %q", cmd[0], out, errs)
				}
			}
		})
	}
}

//go:build !wasip1

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/oci"
	"github.com/wasmward/wasmward/internal/oci/ocitest"
	"github.com/wasmward/wasmward/trust"
)

// `wasmward deploy ROUTE oci://...` against `serve --trust --store` as real
// processes and a real registry: the artefact signed (push --key) by the
// policy's key deploys and serves; an unsigned one is refused with exit
// 126 before it is stored, audited as module_refused of kind signature,
// and v1 keeps serving.
func TestDeployOCIUnderTrustPolicy(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Start(t, "", "")
	dir := t.TempDir()
	key, err := trust.GenerateKey(trust.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.MarshalPEM(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"ci.key":     pem,
		"ci.pub":     key.Public().MarshalPEM(),
		"trust.yaml": []byte("keys:\n  - {name: ci, public_key: ci.pub}\nrequire_signature: false\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r := runProcess(t, "push", fixture.Path(t, "dep_v2"), reg.Host+"/svc:v2", "--key", filepath.Join(dir, "ci.key"), "--registry-config", filepath.Join(dir, "docker.json")); r.code != 0 {
		t.Fatalf("push --key: exit %d %s", r.code, r.stderr)
	}
	c, err := oci.New(oci.Options{DockerConfig: filepath.Join(dir, "docker.json")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(ctx, reg.Host+"/svc:unsigned", fixture.Bytes(t, "dep_broken"), oci.PushOptions{Created: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}

	storeDir := filepath.Join(dir, "store")
	p := startServe(t, deployConfig(t, dir, fixture.Path(t, "dep_v1")), nil, "", "--store", storeDir, "--trust", filepath.Join(dir, "trust.yaml"))
	r := p.deployCLI(t, dir, "deploy", "/svc", "oci://"+reg.Host+"/svc:unsigned")
	if r.code != exitRefused || !strings.Contains(r.stderr, "has no cosign signature") {
		t.Fatalf("deploy of an unsigned artefact: exit %d, want %d\n%s%s", r.code, exitRefused, r.stdout, r.stderr)
	}
	if body := fetch(t, "http://"+p.pub+"/svc"); body != "v1\n" {
		t.Errorf("after the refusal: %q", body)
	}
	if ls := runProcess(t, "store", "ls", "--store", storeDir); strings.Contains(ls.stdout, "617263b61a37") {
		t.Errorf("the refused module is in the store:\n%s", ls.stdout)
	}
	r = p.deployCLI(t, dir, "deploy", "/svc", "oci://"+reg.Host+"/svc:v2")
	if r.code != 0 || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("deploy of the signed artefact: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if body := fetch(t, "http://"+p.pub+"/svc"); body != "v2\n" {
		t.Errorf("after the deployment: %q", body)
	}
	b, err := os.ReadFile(p.audit)
	if err != nil {
		t.Fatal(err)
	}
	var refused bool
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"type":"module_refused"`) && strings.Contains(l, `"kind":"signature"`) && strings.Contains(l, "svc:unsigned") {
			refused = true
		}
	}
	if !refused {
		t.Errorf("no module_refused (signature) record for the unsigned artefact in the audit log")
	}
}

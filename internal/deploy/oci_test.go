//go:build !wasip1

package deploy

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/oci"
	"github.com/wasmward/wasmward/internal/oci/ocitest"
	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/trust"
)

// Deployments by OCI reference against a real registry (distribution,
// in-process on loopback), with the publisher check serve --trust makes:
// the artefact's cosign-style signature must verify with a key of the
// trust policy, checked on the fetch, before the bytes are stored or
// compiled. An artefact signed by alice (a trusted key) deploys and serves;
// an unsigned one, one signed by an untrusted key, and one whose content
// was altered on the way are refused (422, recorded refused, audited
// module_refused with kind signature or digest), never stored, and v1
// keeps serving every request throughout; a pin to a manifest the registry
// does not have is a 400. The signed artefact then deploys by its pinned
// reference too.
func TestOCIDeployChecksThePublisher(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Start(t, "", "")
	keyDir := t.TempDir()
	c, err := oci.New(oci.Options{DockerConfig: filepath.Join(keyDir, "docker.json")})
	if err != nil {
		t.Fatal(err)
	}
	newKey := func(name string) *trust.PrivateKey {
		k, err := trust.GenerateKey(trust.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keyDir, name+".pub"), k.Public().MarshalPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		return k
	}
	alice, mallory := newKey("alice"), newKey("mallory")
	// Embedded signatures are not required: this policy is about who
	// publishes to the registry.
	pol, err := trust.ParsePolicy([]byte("keys:\n  - {name: alice, public_key: alice.pub}\nrequire_signature: false\n"), "trust.yaml", keyDir)
	if err != nil {
		t.Fatal(err)
	}
	push := func(mod, ref string, created int64, key *trust.PrivateKey) oci.Pushed {
		t.Helper()
		p, err := c.Push(ctx, reg.Host+"/"+ref, fixture.Bytes(t, mod), oci.PushOptions{Created: time.Unix(created, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if key != nil {
			if _, err := c.Sign(ctx, p.Ref, key); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	signed := push("dep_v2", "svc:v2", 1, alice)
	push("dep_broken", "svc:unsigned", 2, nil)
	push("dep_violate", "svc:mallory", 3, mallory)
	push("dep_slow", "svc:tampered", 4, alice)

	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fetcher := func(tr http.RoundTripper) store.Fetcher {
		c, err := oci.New(oci.Options{DockerConfig: filepath.Join(keyDir, "docker.json"), Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		return oci.Fetcher{Client: c, Policy: pol}
	}
	e := newEnvOCI(t, testConfig, true, st, fetcher(nil))
	tampered := newEnvOCI(t, testConfig, true, st, fetcher(ocitest.Rewrite{Match: "/blobs/sha256:" + sha(t, "dep_slow"), Fn: ocitest.FlipLast}))
	tamperedManifest := newEnvOCI(t, testConfig, true, st, fetcher(ocitest.Rewrite{Match: "/manifests/", Fn: ocitest.FlipLast}))

	refused := []struct {
		name, module string
		e            *env
		fixture      string
		status       int
		kind, reason string
	}{
		{"unsigned", "oci://" + reg.Host + "/svc:unsigned", e, "dep_broken", http.StatusUnprocessableEntity, "signature", "has no cosign signature"},
		{"signed by an untrusted key", "oci://" + reg.Host + "/svc:mallory", e, "dep_violate", http.StatusUnprocessableEntity, "signature", "made by none of the trusted keys"},
		{"module altered in transit", "oci://" + reg.Host + "/svc:tampered", tampered, "dep_slow", http.StatusUnprocessableEntity, "digest", "does not match"},
		{"pinned manifest altered in transit", "oci://" + reg.Host + "/svc:v2@" + string(signed.Manifest), tamperedManifest, "", http.StatusUnprocessableEntity, "digest", "does not match its digest " + string(signed.Manifest)},
		{"pinned to a manifest the registry lacks", "oci://" + reg.Host + "/svc:v2@" + string(store.DigestOf([]byte("another manifest"))), e, "", http.StatusBadRequest, "", "not found"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.e.startLoad(t, 2)
			_, err := tc.e.client.Deploy(ctx, Request{Route: "/svc", Module: tc.module})
			time.Sleep(50 * time.Millisecond)
			bodies := l.end()
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || !strings.Contains(ae.Message, tc.reason) {
				t.Fatalf("deploy: %v, want HTTP %d with %q", err, tc.status, tc.reason)
			}
			if len(bodies) != 1 || bodies["v1 OK"] == 0 || len(l.errs) > 0 {
				t.Errorf("answers during the deployment: %v, errors %v", bodies, l.errs)
			}
			if tc.fixture != "" && st.HasBlob(store.Digest("sha256:"+sha(t, tc.fixture))) {
				t.Errorf("the refused module was stored")
			}
			if tc.kind == "" {
				return
			}
			if ae.Deployment == nil || ae.Deployment.State != Refused || ae.Deployment.Module != tc.module {
				t.Errorf("record: %+v", ae.Deployment)
			}
			a := tc.e.auditText(t)
			if !strings.Contains(a, `"type":"module_refused"`) || !strings.Contains(a, `"kind":"`+tc.kind+`"`) || !strings.Contains(a, tc.module) {
				t.Errorf("no module_refused record of kind %s for %s:\n%s", tc.kind, tc.module, grepLines(a, "module_refused"))
			}
			if list, _ := tc.e.client.Deployments(ctx, "/svc"); len(list) == 0 || list[0].State != Refused {
				t.Errorf("history: %+v", list)
			}
		})
	}

	// Signed by alice: deploys and serves, by tag and by pinned reference.
	for _, ref := range []string{"oci://" + reg.Host + "/svc:v2", "oci://" + signed.Ref} {
		rec, err := e.client.Deploy(ctx, Request{Route: "/svc", Module: ref, RetryFailed: true})
		if err != nil {
			t.Fatalf("deploy %s: %v", ref, err)
		}
		if rec = e.wait(t, rec.ID); rec.State != Succeeded || rec.SHA256 != sha(t, "dep_v2") {
			t.Fatalf("deploy %s: %s %s", ref, rec.State, rec.Reason)
		}
		if _, body, _ := e.get(t, http.DefaultClient, "/svc"); body != "v2\n" {
			t.Fatalf("after deploying %s: %q", ref, body)
		}
		if !st.HasBlob(store.Digest("sha256:" + sha(t, "dep_v2"))) {
			t.Errorf("the deployed module is not in the store")
		}
		if _, err := e.client.RollbackRoute(ctx, "/svc"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOCIName(t *testing.T) {
	for ref, want := range map[string]string{
		"registry.example/team/api:1.4":                            "api",
		"registry.example/team/api:1.4@sha256:" + sha(t, "dep_v1"): "api",
		"registry.example/api@sha256:" + sha(t, "dep_v1"):          "api",
		"localhost:5000/svc":                                       "svc",
	} {
		if got := ociName(ref); got != want {
			t.Errorf("ociName(%q) = %q, want %q", ref, got, want)
		}
	}
}

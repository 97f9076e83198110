package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/oci/ocitest"
	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/trust"
)

func module(t *testing.T) []byte {
	t.Helper()
	return fixture.Bytes(t, "gw_hello")
}

func client(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.DockerConfig == "" && opts.Username == "" {
		opts.DockerConfig = filepath.Join(t.TempDir(), "config.json") // none: never the developer's
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPushPullRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Start(t, "", "")
	c := client(t, Options{})
	mod := module(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ref := reg.Host + "/team/hello:v1"
	p, err := c.Push(ctx, ref, mod, PushOptions{Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if p.Module != store.DigestOf(mod) || p.Ref != reg.Host+"/team/hello@"+string(p.Manifest) {
		t.Fatalf("Pushed = %+v", p)
	}
	// Reproducible: the same module and time give the same manifest.
	p2, err := c.Push(ctx, ref, mod, PushOptions{Created: created})
	if err != nil || p2.Manifest != p.Manifest {
		t.Fatalf("second push = %+v, %v; want manifest %s", p2, err, p.Manifest)
	}
	for _, r := range []string{ref, "oci://" + ref, p.Ref, reg.Host + "/team/hello:v1@" + string(p.Manifest)} {
		art, err := c.Pull(ctx, r)
		if err != nil {
			t.Fatalf("Pull(%s): %v", r, err)
		}
		if !bytes.Equal(art.Module, mod) || art.Manifest != p.Manifest || art.ModuleDigest != p.Module || art.LayerMediaType != MediaTypeWasm {
			t.Fatalf("Pull(%s) = %+v", r, art)
		}
		want := Config{Created: "2026-01-02T03:04:05Z", Architecture: "wasm", OS: "wasip1", LayerDigests: []string{string(p.Module)}}
		if fmt.Sprint(art.Config) != fmt.Sprint(want) {
			t.Fatalf("config = %+v, want %+v", art.Config, want)
		}
	}
	// The manifest is the layout's, byte for byte what the registry holds.
	repo, _ := c.repo(mustRef(t, ref))
	_, raw, err := fetchManifest(ctx, repo, "v1")
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	json.Unmarshal(raw, &m)
	if m.MediaType != MediaTypeManifest || m.Config.MediaType != MediaTypeConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeWasm || m.Annotations[ocispec.AnnotationCreated] != "2026-01-02T03:04:05Z" {
		t.Fatalf("manifest = %s", raw)
	}
}

func mustRef(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDigestPinning(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Start(t, "", "")
	c := client(t, Options{})
	mod := module(t)
	v1, err := c.Push(ctx, reg.Host+"/app:v1", mod, PushOptions{Created: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := c.Push(ctx, reg.Host+"/app:v1", append(bytes.Clone(mod), 0, 1, 'x'), PushOptions{Created: time.Unix(2, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// The tag moved to v2; the pin still gets v1, whatever the tag says.
	art, err := c.Pull(ctx, reg.Host+"/app:v1@"+string(v1.Manifest))
	if err != nil || art.Manifest != v1.Manifest || !bytes.Equal(art.Module, mod) {
		t.Fatalf("pinned pull = %v, %v", art.Manifest, err)
	}
	if art, err := c.Pull(ctx, reg.Host+"/app:v1"); err != nil || art.Manifest != v2.Manifest {
		t.Fatalf("tag pull = %v, %v", art.Manifest, err)
	}

	tampered := func(match string) http.RoundTripper {
		return ocitest.Rewrite{Match: match, Fn: ocitest.FlipLast}
	}
	tests := []struct {
		name    string
		ref     string
		tr      http.RoundTripper
		wantErr string
	}{
		{"pin to an absent manifest", reg.Host + "/app@" + string(store.DigestOf([]byte("nothing"))), nil, "not found"},
		{"bad pin", reg.Host + "/app@sha256:1234", nil, "sha256:<64 hex digits>"},
		{"manifest altered in transit", reg.Host + "/app@" + string(v1.Manifest), tampered("/manifests/"), "does not match its digest"},
		{"tag: manifest altered in transit", reg.Host + "/app:v1", tampered("/manifests/"), "does not match its digest"},
		{"module altered in transit", reg.Host + "/app@" + string(v1.Manifest), tampered("/blobs/" + string(v1.Module)), "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, Options{Transport: tt.tr})
			art, err := c.Pull(ctx, tt.ref)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Pull = %v, %v; want error containing %q", art.Manifest, err, tt.wantErr)
			}
		})
	}
	// Pushing to a pin the manifest does not have is refused.
	if _, err := c.Push(ctx, reg.Host+"/app@"+string(v1.Manifest), mod, PushOptions{Created: time.Unix(3, 0)}); err == nil || !strings.Contains(err.Error(), "not the pinned") {
		t.Fatalf("push to a wrong pin = %v", err)
	}
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	const user, pass = "alice", "s3cret-Pa55word"
	reg := ocitest.Start(t, user, pass)
	mod := module(t)
	ref := reg.Host + "/private/app:v1"

	dockerCfg := func(u, p string) string {
		path := filepath.Join(t.TempDir(), "config.json")
		auth := base64.StdEncoding.EncodeToString([]byte(u + ":" + p))
		os.WriteFile(path, fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, reg.Host, auth), 0o600)
		return path
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no credentials", Options{}, "check the credentials"},
		{"wrong password", Options{Username: user, Password: "wrong-password"}, "check the credentials"},
		{"wrong password in docker config", Options{DockerConfig: dockerCfg(user, "wrong-password")}, "check the credentials"},
		{"username and password", Options{Username: user, Password: pass}, ""},
		{"docker config file", Options{DockerConfig: dockerCfg(user, pass)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, tt.opts)
			_, perr := c.Push(ctx, ref, mod, PushOptions{})
			_, gerr := c.Pull(ctx, ref)
			for _, err := range []error{perr, gerr} {
				if tt.wantErr == "" {
					if err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), pass) {
					t.Fatalf("the error discloses a password: %v", err)
				}
			}
		})
	}
}

// toLoopback dials every address at the registry: a non-loopback name that
// reaches it.
func toLoopback(host string) http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, host)
	}
	return tr
}

func TestPlainHTTPOnlyForLoopbackOrInsecure(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Start(t, "", "")
	_, port, _ := net.SplitHostPort(reg.Host)
	mod := module(t)
	tests := []struct {
		name     string
		host     string
		insecure bool
		wantErr  string
	}{
		{"loopback IP", reg.Host, false, ""},
		{"localhost", "localhost:" + port, false, ""},
		{"remote name", "registry.example:" + port, false, "plain HTTP"},
		{"remote IP", "192.0.2.10:" + port, false, "plain HTTP"},
		{"remote name with --insecure", "registry.example:" + port, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, Options{Insecure: tt.insecure, Transport: toLoopback(reg.Host)})
			_, err := c.Push(ctx, tt.host+"/app:v1", mod, PushOptions{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Pull(ctx, tt.host+"/app:v1"); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("push = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:5000": true, "LOCALHOST": true, "127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true,
		"registry.example": false, "10.0.0.1:5000": false, "localhost.example.com": false, "0.0.0.0:5000": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestSignAndVerify(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Start(t, "", "")
	c := client(t, Options{})
	mod := module(t)
	newKey := func() *trust.PrivateKey {
		k, err := trust.GenerateKey(trust.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	alice, bob, mallory := newKey(), newKey(), newKey()
	rsa, err := trust.GenerateRSAKey(2048, trust.PKCS1v15)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*trust.PublicKey{"alice": alice.Public(), "bob": bob.Public(), "rsa": rsa.Public()}

	signed, _ := c.Push(ctx, reg.Host+"/app:signed", mod, PushOptions{Created: time.Unix(1, 0)})
	if _, err := c.Sign(ctx, reg.Host+"/app:signed", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign(ctx, signed.Ref, rsa); err != nil {
		t.Fatal(err)
	}
	unsigned, _ := c.Push(ctx, reg.Host+"/app:unsigned", mod, PushOptions{Created: time.Unix(2, 0)})
	wrong, _ := c.Push(ctx, reg.Host+"/app:wrong", mod, PushOptions{Created: time.Unix(3, 0)})
	if _, err := c.Sign(ctx, wrong.Ref, mallory); err != nil {
		t.Fatal(err)
	}
	// A valid signature of another manifest, copied under this one's tag.
	copied, _ := c.Push(ctx, reg.Host+"/app:copied", mod, PushOptions{Created: time.Unix(4, 0)})
	repo, _ := c.repo(mustRef(t, signed.Ref))
	sdesc, _ := repo.Manifests().Resolve(ctx, SignatureTag(signed.Manifest))
	if err := repo.Manifests().Tag(ctx, sdesc, SignatureTag(copied.Manifest)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		ref     string
		want    []string
		wantErr string
	}{
		{"signed by alice and rsa", reg.Host + "/app:signed", []string{"alice", "rsa"}, ""},
		{"unsigned", unsigned.Ref, nil, "no tag sha256-" + unsigned.Manifest.Hex() + ".sig"},
		{"signed by an untrusted key", wrong.Ref, nil, "made by none of the trusted keys"},
		{"another manifest's signature", copied.Ref, nil, "signs manifest \"" + string(signed.Manifest) + "\", not " + string(copied.Manifest)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			art, err := c.Pull(ctx, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Verify(ctx, art, keys)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Verify = %v, %v; want ErrUnsigned containing %q", got, err, tt.wantErr)
				}
				// Through the store, nothing is stored.
				st, _ := store.Open(t.TempDir(), store.Options{})
				if _, err := st.Resolve(ctx, "oci://"+tt.ref, store.ResolveOptions{OCI: Fetcher{Client: c, Keys: keys}}); !errors.Is(err, ErrUnsigned) {
					t.Fatalf("Resolve = %v", err)
				}
				if infos, _ := st.List(ctx, store.ListOptions{}); len(infos) != 0 {
					t.Fatalf("a refused module was stored: %+v", infos)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tt.want)
			}
			// Through the store: verified, then stored under the module's digest.
			st, _ := store.Open(t.TempDir(), store.Options{})
			res, err := st.Resolve(ctx, "oci://"+tt.ref, store.ResolveOptions{OCI: Fetcher{Client: c, Keys: keys}})
			if err != nil || res.Digest != store.DigestOf(mod) || res.Manifest != art.Manifest || res.Pinned != art.Ref {
				t.Fatalf("Resolve = %+v, %v", res, err)
			}
			if b, err := st.Blob(ctx, res.Digest); err != nil || !bytes.Equal(b, mod) {
				t.Fatalf("the verified module is not in the store: %v", err)
			}
		})
	}
}

func TestPullRefusesWhatIsNotAWasmArtefact(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Start(t, "", "")
	c := client(t, Options{})
	if _, err := c.Push(ctx, reg.Host+"/app:text", []byte("#!/bin/sh\necho hi\n"), PushOptions{}); err == nil || !strings.Contains(err.Error(), "not a WebAssembly binary") {
		t.Fatalf("push of a shell script = %v", err)
	}
	mod := module(t)
	repo, _ := c.repo(mustRef(t, reg.Host+"/app:x"))
	layer := ocispec.Descriptor{MediaType: MediaTypeWasm, Digest: digest.FromBytes(mod), Size: int64(len(mod))}
	other := ocispec.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: digest.FromBytes([]byte("tar")), Size: 3}
	cfg := ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromBytes([]byte("{}")), Size: 2}
	pushBlob(ctx, repo, layer, mod)
	pushBlob(ctx, repo, other, []byte("tar"))
	pushBlob(ctx, repo, cfg, []byte("{}"))
	put := func(tag string, layers ...ocispec.Descriptor) {
		b, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: MediaTypeManifest, Config: cfg, Layers: layers})
		d := ocispec.Descriptor{MediaType: MediaTypeManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := repo.Manifests().PushReference(ctx, d, bytes.NewReader(b), tag); err != nil {
			t.Fatal(err)
		}
	}
	put("two", layer, layer)
	put("tar", other)
	put("none")
	for tag, want := range map[string]string{
		"two":  "has 2 layers",
		"tar":  "is not a WebAssembly module",
		"none": "has 0 layers",
	} {
		if _, err := c.Pull(ctx, reg.Host+"/app:"+tag); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pull :%s = %v, want error containing %q", tag, err, want)
		}
	}
}

// Package oci moves WebAssembly modules to and from OCI registries, in the
// CNCF TAG-Runtime wasm artefact layout (the one wkg and runwasi use): an
// OCI image manifest whose config has media type
// application/vnd.wasm.config.v0+json and whose single layer is the module,
// application/wasm. It signs and verifies artefacts the way cosign does
// (a simple-signing payload naming the manifest digest, stored under the
// tag sha256-HEX.sig), with wasmward's keys (package trust).
//
// Security defaults: plain HTTP only to a loopback registry (localhost,
// 127.0.0.0/8, ::1) unless Options.Insecure; credentials come from the
// docker config file or Options; they are never put in an error or a log.
// Every blob read is checked against its digest and bounded in size.
package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/internal/version"
)

// Media types of the wasm artefact layout.
const (
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.wasm.config.v0+json"
	MediaTypeWasm     = "application/wasm"
)

// Older or other layer media types, accepted on pull (cosign's `upload
// wasm`, Spin, runwasi's components); push always writes MediaTypeWasm.
var acceptedLayerTypes = map[string]bool{
	MediaTypeWasm: true,
	"application/vnd.wasm.content.layer.v1+wasm":                    true,
	"application/vnd.bytecodealliance.wasm.component.layer.v0+wasm": true,
}

// Config media types whose content Pull decodes (others, such as Spin's,
// are accepted and ignored: the layer decides).
var acceptedConfigTypes = map[string]bool{
	MediaTypeConfig:                       true,
	"application/vnd.wasm.config.v1+json": true,
}

// maxManifest bounds a manifest or config read from a registry.
const maxManifest = 4 << 20

// Options configure a Client.
type Options struct {
	// Insecure allows plain HTTP to a registry that is not on loopback.
	// Without it such a registry is spoken to over HTTPS only.
	Insecure bool
	// Username and Password, when Username is set, are the credentials
	// for every registry; otherwise they come from the docker config file.
	Username, Password string
	// DockerConfig is the docker config file to read credentials from
	// ("": $DOCKER_CONFIG/config.json, else ~/.docker/config.json). A
	// missing file means no credentials.
	DockerConfig string
	// Transport is the HTTP transport (nil: http.DefaultTransport with
	// retries). Tests use it to reach a loopback registry under another
	// name.
	Transport http.RoundTripper
}

// Client talks to OCI registries. It is safe for concurrent use.
type Client struct {
	opts  Options
	cred  auth.CredentialFunc
	httpc *http.Client
}

// New returns a client. A docker config file that exists but cannot be
// read is an error.
func New(opts Options) (*Client, error) {
	c := &Client{opts: opts}
	if opts.Username != "" {
		cred := auth.Credential{Username: opts.Username, Password: opts.Password}
		c.cred = func(context.Context, string) (auth.Credential, error) { return cred, nil }
	} else {
		var st credentials.Store
		var err error
		if opts.DockerConfig != "" {
			st, err = credentials.NewStore(opts.DockerConfig, credentials.StoreOptions{})
		} else {
			st, err = credentials.NewStoreFromDocker(credentials.StoreOptions{})
		}
		if err != nil {
			return nil, fmt.Errorf("registry credentials: %w", err)
		}
		c.cred = credentials.Credential(st)
	}
	tr := opts.Transport
	if tr == nil {
		tr = retry.NewTransport(http.DefaultTransport.(*http.Transport).Clone())
	}
	c.httpc = &http.Client{Transport: tr}
	return c, nil
}

// Reference is a parsed registry reference: REGISTRY/REPO[:TAG][@sha256:HEX].
type Reference struct {
	registry.Reference
	// Tag is the tag, "" when the reference names a digest only.
	Tag string
	// Digest is the pinned manifest digest, "" when not pinned.
	Digest string
}

// ParseReference parses REGISTRY/REPO[:TAG][@sha256:HEX], with or without
// an oci:// prefix. A reference with neither tag nor digest means :latest.
func ParseReference(s string) (Reference, error) {
	raw := strings.TrimPrefix(s, "oci://")
	var r Reference
	name, dig, pinned := strings.Cut(raw, "@")
	if pinned {
		if _, err := store.ParseDigest(dig); err != nil {
			return Reference{}, fmt.Errorf("reference %q: the pinned digest must be sha256:<64 hex digits>", s)
		}
		rr, err := registry.ParseReference(name + "@" + dig)
		if err != nil {
			return Reference{}, fmt.Errorf("reference %q: %w", s, err)
		}
		if err := rr.ValidateReferenceAsDigest(); err != nil || !strings.HasPrefix(dig, "sha256:") {
			return Reference{}, fmt.Errorf("reference %q: the pinned digest must be sha256:<64 hex digits>", s)
		}
		r.Reference, r.Digest = rr, dig
		// A tag before the digest is informative only; the digest decides.
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			r.Tag = name[i+1:]
		}
	} else {
		rr, err := registry.ParseReference(raw)
		if err != nil {
			return Reference{}, fmt.Errorf("reference %q: %w", s, err)
		}
		if rr.Reference == "" {
			rr.Reference = "latest"
		}
		r.Reference, r.Tag = rr, rr.Reference
	}
	return r, nil
}

// Repository returns REGISTRY/REPO.
func (r Reference) Repository() string { return r.Registry + "/" + r.Reference.Repository }

// IsLoopback reports whether a registry host (HOST or HOST:PORT) is on
// loopback: "localhost" or a loopback IP address.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// repo opens the repository of r.
func (c *Client) repo(r Reference) (*remote.Repository, error) {
	repo, err := remote.NewRepository(r.Repository())
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", r.Repository(), err)
	}
	repo.PlainHTTP = c.opts.Insecure || IsLoopback(r.Registry)
	repo.Client = &auth.Client{
		Client:     c.httpc,
		Header:     http.Header{"User-Agent": {"wasmward/" + version.Read().Version}},
		Credential: c.cred,
		Cache:      auth.NewCache(),
	}
	return repo, nil
}

// describe turns a registry error into one line that says what failed and
// hints at the fix, never containing credentials (oras-go's errors carry
// the request URL and the registry's error body, neither has them).
func describe(what string, r Reference, err error) error {
	var hint string
	switch {
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		hint = " (the registry speaks plain HTTP: wasmward uses it only for loopback registries or with --insecure)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
	case errors.Is(err, auth.ErrBasicCredentialNotFound), strings.Contains(err.Error(), "401"), strings.Contains(err.Error(), "unauthorized"):
		hint = " (check the credentials: --username/--password-stdin or the docker config file)"
	}
	return fmt.Errorf("%s %s: %w%s", what, r.Repository(), err, hint)
}

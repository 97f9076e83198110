package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/wasmward/wasmward/internal/store"
)

// Config is the artefact's config blob (application/vnd.wasm.config.v0+json).
type Config struct {
	Created      string   `json:"created"`
	Author       string   `json:"author,omitempty"`
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	LayerDigests []string `json:"layerDigests"`
	// Component is null for a core module; for a component, an object
	// (wasmward does not describe the component's worlds: empty lists).
	Component *Component `json:"component"`
}

// Component describes a component's interface in the config.
type Component struct {
	Exports []string `json:"exports"`
	Imports []string `json:"imports"`
}

// PushOptions configure Push.
type PushOptions struct {
	// Created is the creation time recorded in the config and the
	// manifest's org.opencontainers.image.created annotation (zero: now).
	// Fix it for reproducible manifest digests.
	Created time.Time
	// Author goes into the config's author field.
	Author string
	// Title is the layer's org.opencontainers.image.title annotation, the
	// file name `oras pull` saves the module as (default "module.wasm").
	Title string
}

// Pushed says what Push wrote.
type Pushed struct {
	// Manifest is the manifest's digest: what pins the artefact.
	Manifest store.Digest
	// Module is the layer's digest (the module's SHA-256).
	Module store.Digest
	// Ref is REGISTRY/REPO@MANIFEST.
	Ref string
}

// wasmKind returns the config os and component for module bytes, or an
// error when they are not a WebAssembly binary.
func wasmKind(b []byte) (string, *Component, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return "", nil, errors.New("not a WebAssembly binary (no \\0asm header)")
	}
	switch {
	case bytes.Equal(b[4:8], []byte{1, 0, 0, 0}):
		return "wasip1", nil, nil
	case b[6] == 1 && b[7] == 0: // component layer, any component version
		return "wasip2", &Component{Exports: []string{}, Imports: []string{}}, nil
	}
	return "", nil, fmt.Errorf("unknown WebAssembly binary version % x", b[4:8])
}

// Push uploads module to ref in the wasm artefact layout and returns the
// manifest digest. A ref pinned to a digest must match the manifest
// written (so `REF@sha256:...` can re-push a known artefact); a tag is
// moved to the new manifest.
func (c *Client) Push(ctx context.Context, ref string, module []byte, opts PushOptions) (Pushed, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return Pushed{}, err
	}
	osName, comp, err := wasmKind(module)
	if err != nil {
		return Pushed{}, fmt.Errorf("push %s: %w", ref, err)
	}
	if len(module) > store.MaxBlobSize {
		return Pushed{}, fmt.Errorf("push %s: module of %d bytes is over the %d-byte limit", ref, len(module), store.MaxBlobSize)
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	stamp := created.UTC().Format(time.RFC3339)
	title := opts.Title
	if title == "" {
		title = "module.wasm"
	}
	layer := ocispec.Descriptor{
		MediaType: MediaTypeWasm, Digest: digest.FromBytes(module), Size: int64(len(module)),
		Annotations: map[string]string{ocispec.AnnotationTitle: title},
	}
	cfgJSON, err := json.Marshal(Config{
		Created: stamp, Author: opts.Author, Architecture: "wasm", OS: osName,
		LayerDigests: []string{layer.Digest.String()}, Component: comp,
	})
	if err != nil {
		return Pushed{}, err
	}
	cfg := ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromBytes(cfgJSON), Size: int64(len(cfgJSON))}
	man := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   MediaTypeManifest,
		Config:      cfg,
		Layers:      []ocispec.Descriptor{layer},
		Annotations: map[string]string{ocispec.AnnotationCreated: stamp},
	}
	manJSON, err := json.Marshal(man)
	if err != nil {
		return Pushed{}, err
	}
	mdesc := ocispec.Descriptor{MediaType: MediaTypeManifest, Digest: digest.FromBytes(manJSON), Size: int64(len(manJSON))}
	if r.Digest != "" && r.Digest != mdesc.Digest.String() {
		return Pushed{}, fmt.Errorf("push %s: the manifest is %s, not the pinned %s", ref, mdesc.Digest, r.Digest)
	}
	repo, err := c.repo(r)
	if err != nil {
		return Pushed{}, err
	}
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{layer, module}, {cfg, cfgJSON}} {
		if err := pushBlob(ctx, repo, b.desc, b.data); err != nil {
			return Pushed{}, describe("push", r, err)
		}
	}
	if r.Digest != "" {
		err = repo.Manifests().Push(ctx, mdesc, bytes.NewReader(manJSON))
	} else {
		err = repo.Manifests().PushReference(ctx, mdesc, bytes.NewReader(manJSON), r.Tag)
	}
	if err != nil {
		return Pushed{}, describe("push", r, err)
	}
	return Pushed{
		Manifest: store.Digest(mdesc.Digest.String()),
		Module:   store.Digest(layer.Digest.String()),
		Ref:      r.Repository() + "@" + mdesc.Digest.String(),
	}, nil
}

func pushBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, data []byte) error {
	ok, err := repo.Blobs().Exists(ctx, desc)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	err = repo.Blobs().Push(ctx, desc, bytes.NewReader(data))
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}

// Artifact is a pulled wasm artefact.
type Artifact struct {
	// Ref is REGISTRY/REPO@MANIFEST: the reference, pinned.
	Ref string
	// Repository is REGISTRY/REPO.
	Repository string
	// Manifest is the manifest's digest.
	Manifest store.Digest
	// Module is the module's bytes, checked against the layer digest.
	Module []byte
	// ModuleDigest is the module's SHA-256 (the layer digest).
	ModuleDigest store.Digest
	// LayerMediaType is the layer's media type.
	LayerMediaType string
	// Config is the decoded config blob (zero for an unknown config type).
	Config Config
}

// Pull fetches the artefact ref names. The manifest must be an OCI image
// manifest in the wasm layout (or one of the older layer types) with
// exactly one layer; a pinned ref's manifest must hash to the pin; every
// blob is checked against its digest and bounded (manifest and config 4
// MiB, module store.MaxBlobSize). Signatures are not checked here: see
// Verify.
func (c *Client) Pull(ctx context.Context, ref string) (Artifact, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return Artifact{}, err
	}
	repo, err := c.repo(r)
	if err != nil {
		return Artifact{}, err
	}
	want := r.Tag
	if r.Digest != "" {
		want = r.Digest
	}
	desc, manJSON, err := fetchManifest(ctx, repo, want)
	if err != nil {
		return Artifact{}, describe("pull", r, err)
	}
	if r.Digest != "" && desc.Digest.String() != r.Digest {
		return Artifact{}, fmt.Errorf("pull %s: %w: the registry returned manifest %s, not the pinned %s", ref, store.ErrDigestMismatch, desc.Digest, r.Digest)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(manJSON, &man); err != nil {
		return Artifact{}, fmt.Errorf("pull %s: manifest %s: %w", ref, desc.Digest, err)
	}
	mt := man.MediaType
	if mt == "" {
		mt = desc.MediaType
	}
	if mt != MediaTypeManifest {
		return Artifact{}, fmt.Errorf("pull %s: manifest %s has media type %q: not a wasm artefact (want %s)", ref, desc.Digest, mt, MediaTypeManifest)
	}
	if len(man.Layers) != 1 {
		return Artifact{}, fmt.Errorf("pull %s: the artefact has %d layers; a wasm artefact has exactly one", ref, len(man.Layers))
	}
	layer := man.Layers[0]
	if !acceptedLayerTypes[layer.MediaType] {
		return Artifact{}, fmt.Errorf("pull %s: layer media type %q is not a WebAssembly module (want %s)", ref, layer.MediaType, MediaTypeWasm)
	}
	if layer.Digest.Algorithm() != digest.SHA256 || layer.Digest.Validate() != nil {
		return Artifact{}, fmt.Errorf("pull %s: layer digest %q: want sha256", ref, layer.Digest)
	}
	if layer.Size < 0 || layer.Size > store.MaxBlobSize {
		return Artifact{}, fmt.Errorf("pull %s: layer of %d bytes is over the %d-byte limit", ref, layer.Size, store.MaxBlobSize)
	}
	art := Artifact{
		Ref:            r.Repository() + "@" + desc.Digest.String(),
		Repository:     r.Repository(),
		Manifest:       store.Digest(desc.Digest.String()),
		ModuleDigest:   store.Digest(layer.Digest.String()),
		LayerMediaType: layer.MediaType,
	}
	if acceptedConfigTypes[man.Config.MediaType] && man.Config.Size <= maxManifest {
		if cfg, err := fetchBlob(ctx, repo, man.Config); err == nil {
			_ = json.Unmarshal(cfg, &art.Config) // informative only
		}
	}
	if art.Module, err = fetchBlob(ctx, repo, layer); err != nil {
		return Artifact{}, describe("pull", r, err)
	}
	if store.DigestOf(art.Module) != art.ModuleDigest {
		return Artifact{}, fmt.Errorf("pull %s: %w: the module's content does not match the layer digest %s", ref, store.ErrDigestMismatch, layer.Digest)
	}
	if _, _, err := wasmKind(art.Module); err != nil {
		return Artifact{}, fmt.Errorf("pull %s: layer %s: %w", ref, layer.Digest, err)
	}
	return art, nil
}

// fetchManifest resolves reference (a tag or a digest) and reads the
// manifest, bounded and checked against the digest the registry named.
func fetchManifest(ctx context.Context, repo *remote.Repository, reference string) (ocispec.Descriptor, []byte, error) {
	desc, rc, err := repo.Manifests().FetchReference(ctx, reference)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	defer rc.Close()
	if desc.Size > maxManifest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest %s of %d bytes is over the %d-byte limit", desc.Digest, desc.Size, maxManifest)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxManifest+1))
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	if len(b) > maxManifest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest over the %d-byte limit", maxManifest)
	}
	if desc.Digest.Algorithm() != digest.SHA256 || digest.FromBytes(b) != desc.Digest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%w: manifest content does not match its digest %s", store.ErrDigestMismatch, desc.Digest)
	}
	return desc, b, nil
}

// fetchBlob reads a blob of known size and digest, checking both.
func fetchBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != desc.Size || digest.FromBytes(b) != desc.Digest {
		return nil, fmt.Errorf("blob %s: %w (or its size)", desc.Digest, store.ErrDigestMismatch)
	}
	return b, nil
}

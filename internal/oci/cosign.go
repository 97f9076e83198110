package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/trust"
)

// cosign's signature layout (cosign sign, tag scheme): the manifest tagged
// sha256-HEX.sig has one layer per signature, each the simple-signing
// payload below, with the base64 signature in an annotation.
const (
	mediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	mediaTypeImageConfig   = "application/vnd.oci.image.config.v1+json"
	annotationSignature    = "dev.cosignproject.cosign/signature"
	cosignType             = "cosign container image signature"
	maxPayload             = 1 << 20
	maxSignatures          = 64
)

// simpleSigning is cosign's payload; field order is cosign's, so the bytes
// match what cosign writes for the same image.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// SignatureTag returns the tag under which cosign keeps the signatures of
// the manifest m: "sha256-HEX.sig".
func SignatureTag(m store.Digest) string { return "sha256-" + m.Hex() + ".sig" }

// Sign attaches a cosign-style signature by key to the artefact ref names
// (resolved to its manifest digest first): it signs cosign's simple-signing
// payload for REGISTRY/REPO and the manifest digest, and adds it as a layer
// of the manifest tagged sha256-HEX.sig, keeping signatures already there.
// `cosign verify --key` accepts it. Only ECDSA P-256 and RSA keys sign
// this way (cosign's schemes).
func (c *Client) Sign(ctx context.Context, ref string, key *trust.PrivateKey) (store.Digest, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	repo, err := c.repo(r)
	if err != nil {
		return "", err
	}
	want := r.Tag
	if r.Digest != "" {
		want = r.Digest
	}
	mdesc, err := repo.Manifests().Resolve(ctx, want)
	if err != nil {
		return "", describe("sign", r, err)
	}
	m := store.Digest(mdesc.Digest.String())
	if r.Digest != "" && string(m) != r.Digest {
		return "", fmt.Errorf("sign %s: the registry resolved it to %s, not the pinned %s", ref, m, r.Digest)
	}
	var p simpleSigning
	p.Critical.Identity.DockerReference = r.Repository()
	p.Critical.Image.DockerManifestDigest = string(m)
	p.Critical.Type = cosignType
	payload, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	sig, err := trust.SignBlob(key, payload)
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", ref, err)
	}
	layer := ocispec.Descriptor{
		MediaType:   mediaTypeSimpleSigning,
		Digest:      digest.FromBytes(payload),
		Size:        int64(len(payload)),
		Annotations: map[string]string{annotationSignature: string(sig)},
	}
	tag := SignatureTag(m)
	// Keep the signatures already attached.
	var layers []ocispec.Descriptor
	if _, old, err := fetchManifest(ctx, repo, tag); err == nil {
		var om ocispec.Manifest
		if json.Unmarshal(old, &om) == nil {
			layers = om.Layers
		}
	} else if !errors.Is(err, errdef.ErrNotFound) {
		return "", describe("sign", r, err)
	}
	layers = append(layers, layer)
	diffIDs := make([]string, len(layers))
	history := make([]map[string]string, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.Digest.String()
		history[i] = map[string]string{"created": "0001-01-01T00:00:00Z"}
	}
	cfgJSON, err := json.Marshal(map[string]any{
		"architecture": "", "os": "", "created": "0001-01-01T00:00:00Z", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}, "history": history,
	})
	if err != nil {
		return "", err
	}
	cfg := ocispec.Descriptor{MediaType: mediaTypeImageConfig, Digest: digest.FromBytes(cfgJSON), Size: int64(len(cfgJSON))}
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{layer, payload}, {cfg, cfgJSON}} {
		if err := pushBlob(ctx, repo, b.desc, b.data); err != nil {
			return "", describe("sign", r, err)
		}
	}
	manJSON, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: MediaTypeManifest, Config: cfg, Layers: layers})
	if err != nil {
		return "", err
	}
	sdesc := ocispec.Descriptor{MediaType: MediaTypeManifest, Digest: digest.FromBytes(manJSON), Size: int64(len(manJSON))}
	if err := repo.Manifests().PushReference(ctx, sdesc, bytes.NewReader(manJSON), tag); err != nil {
		return "", describe("sign", r, err)
	}
	return m, nil
}

// ErrUnsigned is returned (wrapped) by Verify when no attached signature
// verifies with a trusted key.
var ErrUnsigned = errors.New("no valid signature by a trusted key")

// Verify checks the cosign-style signatures attached to art (the manifest
// tagged sha256-HEX.sig in its repository) against keys, and returns the
// names of the keys whose signature verifies over a simple-signing payload
// that names art's manifest digest. None is ErrUnsigned, saying what was
// found. Ed25519 keys are skipped (cosign does not sign with them).
func (c *Client) Verify(ctx context.Context, art Artifact, keys map[string]*trust.PublicKey) ([]string, error) {
	r, err := ParseReference(art.Ref)
	if err != nil {
		return nil, err
	}
	repo, err := c.repo(r)
	if err != nil {
		return nil, err
	}
	tag := SignatureTag(art.Manifest)
	_, manJSON, err := fetchManifest(ctx, repo, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("verify %s: %w: the artefact has no cosign signature (no tag %s)", art.Ref, ErrUnsigned, tag)
	}
	if err != nil {
		return nil, describe("verify", r, err)
	}
	var sm ocispec.Manifest
	if err := json.Unmarshal(manJSON, &sm); err != nil {
		return nil, fmt.Errorf("verify %s: signature manifest %s: %w", art.Ref, tag, err)
	}
	if len(sm.Layers) > maxSignatures {
		return nil, fmt.Errorf("verify %s: %d signatures attached, more than the %d checked", art.Ref, len(sm.Layers), maxSignatures)
	}
	names := make([]string, 0, len(keys))
	for n, k := range keys {
		if k.Type() != trust.Ed25519 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	found := map[string]bool{}
	var reasons []string
	for i, l := range sm.Layers {
		sig := l.Annotations[annotationSignature]
		if l.MediaType != mediaTypeSimpleSigning || sig == "" || l.Size > maxPayload {
			reasons = append(reasons, fmt.Sprintf("signature %d: not a cosign simple-signing layer", i+1))
			continue
		}
		payload, err := fetchBlob(ctx, repo, l)
		if err != nil {
			return nil, describe("verify", r, err)
		}
		var p simpleSigning
		if err := json.Unmarshal(payload, &p); err != nil || p.Critical.Type != cosignType {
			reasons = append(reasons, fmt.Sprintf("signature %d: payload is not a cosign container image signature", i+1))
			continue
		}
		if p.Critical.Image.DockerManifestDigest != string(art.Manifest) {
			reasons = append(reasons, fmt.Sprintf("signature %d: signs manifest %q, not %s", i+1, p.Critical.Image.DockerManifestDigest, art.Manifest))
			continue
		}
		ok := false
		for _, n := range names {
			if trust.VerifyBlob(keys[n], payload, []byte(sig)) == nil {
				found[n], ok = true, true
			}
		}
		if !ok {
			reasons = append(reasons, fmt.Sprintf("signature %d: made by none of the trusted keys", i+1))
		}
	}
	if len(found) == 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "the signature manifest has no layers")
		}
		return nil, fmt.Errorf("verify %s: %w (%s)", art.Ref, ErrUnsigned, strings.Join(reasons, "; "))
	}
	signers := make([]string, 0, len(found))
	for n := range found {
		signers = append(signers, n)
	}
	sort.Strings(signers)
	return signers, nil
}

// VerifyPublisher decides whether art was published by someone pol
// trusts: a cosign-style signature of the artefact that verifies with one
// of pol's ECDSA/RSA keys (Verify), or else signatures embedded in the
// module that pol accepts (trust.Gate.Admit without a version state, so
// nothing is recorded). It returns how art was accepted. A refusal wraps
// ErrUnsigned and says what was found on both sides; any other error (the
// registry unreachable) is returned as it is.
//
// It checks who published the artefact: running or deploying the module
// applies pol's rules to its bytes again.
func (c *Client) VerifyPublisher(ctx context.Context, art Artifact, pol *trust.Policy) (string, error) {
	signers, cerr := c.Verify(ctx, art, pol.Keys())
	if cerr == nil {
		return "cosign signature by " + strings.Join(signers, ", "), nil
	}
	if !errors.Is(cerr, ErrUnsigned) {
		return "", cerr
	}
	g := &trust.Gate{Policy: pol}
	adm, eerr := g.Admit(ctx, trust.Material{Module: art.Module})
	if eerr == nil && adm.Signature.Signed && len(adm.Signature.Signers) > 0 {
		names := make([]string, len(adm.Signature.Signers))
		for i, sg := range adm.Signature.Signers {
			names[i] = sg.Name
		}
		return fmt.Sprintf("embedded signature of %q by %s", adm.Name, strings.Join(names, ", ")), nil
	}
	why := "the module carries no signature the policy accepts"
	if eerr != nil {
		why = eerr.Error()
	}
	return "", fmt.Errorf("refused %s: not published by a key of the trust policy (%w; embedded: %s)", art.Ref, cerr, why)
}

// Fetcher adapts a Client to store.Fetcher: it pulls, and refuses (an
// error wrapping ErrUnsigned) an artefact that Verify does not accept with
// Keys, when Keys is not nil, or that VerifyPublisher does not accept with
// Policy, when Policy is not nil. The refusal happens before Fetch returns,
// so a refused module is never stored nor compiled.
type Fetcher struct {
	Client *Client
	Keys   map[string]*trust.PublicKey
	Policy *trust.Policy
}

// Fetch implements store.Fetcher.
func (f Fetcher) Fetch(ctx context.Context, ref string) (store.Fetched, error) {
	art, err := f.Client.Pull(ctx, ref)
	if err != nil {
		return store.Fetched{}, err
	}
	if f.Keys != nil {
		if _, err := f.Client.Verify(ctx, art, f.Keys); err != nil {
			return store.Fetched{}, err
		}
	}
	if f.Policy != nil {
		if _, err := f.Client.VerifyPublisher(ctx, art, f.Policy); err != nil {
			return store.Fetched{}, err
		}
	}
	return store.Fetched{Bytes: art.Module, Manifest: art.Manifest, Ref: art.Ref}, nil
}

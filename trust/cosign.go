package trust

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Cosign-compatible detached signatures: what `cosign sign-blob --key`
// writes (a base64 ECDSA P-256 ASN.1 signature over the SHA-256 of the
// file) and the Sigstore bundle v0.3 JSON it writes with --bundle
// --new-bundle-format. Verification is offline: key only, no transparency
// log, no certificates.

// BundleMediaType is the media type of the bundles SignBundle writes.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// acceptedBundleTypes are the bundle media types VerifyBundle reads.
var acceptedBundleTypes = []string{
	BundleMediaType,
	"application/vnd.dev.sigstore.bundle+json;version=0.1",
	"application/vnd.dev.sigstore.bundle+json;version=0.2",
	"application/vnd.dev.sigstore.bundle+json;version=0.3",
}

// ErrBadSignature is returned (wrapped, with the reason) when a signature
// does not verify.
var ErrBadSignature = errors.New("signature verification failed")

// SignBlob signs the SHA-256 of data with an ECDSA P-256 key and returns the
// signature as cosign sign-blob prints it: standard base64 of the ASN.1 DER
// signature, without a newline.
func SignBlob(key *PrivateKey, data []byte) ([]byte, error) {
	d := sha256.Sum256(data)
	sig, err := key.signDigest(d[:])
	if err != nil {
		return nil, fmt.Errorf("sign blob: %w", err)
	}
	return []byte(b64(sig)), nil
}

// VerifyBlob checks a cosign sign-blob signature (base64, surrounding white
// space ignored; raw DER also accepted) over data with an ECDSA P-256 key.
func VerifyBlob(key *PublicKey, data, sig []byte) error {
	raw, err := decodeSig(sig)
	if err != nil {
		return fmt.Errorf("verify blob: signature: %w", err)
	}
	if key.Type() != ECDSAP256 {
		return fmt.Errorf("verify blob: cosign blob signatures need an ecdsa-p256 key, got %s", key.Type())
	}
	d := sha256.Sum256(data)
	if !key.verifyDigest(d[:], raw) {
		return fmt.Errorf("verify blob: %w: the signature does not match this file and key %s", ErrBadSignature, key.Fingerprint())
	}
	return nil
}

func decodeSig(sig []byte) ([]byte, error) {
	s := bytes.TrimSpace(sig)
	if len(s) > 0 && s[0] == 0x30 { // ASN.1 SEQUENCE: raw DER
		return s, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(s))
	if err != nil {
		return nil, errors.New("not base64")
	}
	return raw, nil
}

// bundle is the subset of the Sigstore bundle wasmward writes and reads.
type bundle struct {
	MediaType            string                `json:"mediaType"`
	VerificationMaterial *verificationMaterial `json:"verificationMaterial,omitempty"`
	MessageSignature     *messageSignature     `json:"messageSignature,omitempty"`
	DSSEEnvelope         json.RawMessage       `json:"dsseEnvelope,omitempty"`
}

type verificationMaterial struct {
	PublicKey   *publicKeyIdentifier `json:"publicKey,omitempty"`
	Certificate json.RawMessage      `json:"certificate,omitempty"`
	TlogEntries []json.RawMessage    `json:"tlogEntries,omitempty"`
}

type publicKeyIdentifier struct {
	Hint string `json:"hint,omitempty"`
}

type messageSignature struct {
	MessageDigest *hashOutput `json:"messageDigest,omitempty"`
	Signature     []byte      `json:"signature"`
}

type hashOutput struct {
	Algorithm string `json:"algorithm"`
	Digest    []byte `json:"digest"`
}

// SignBundle signs data like SignBlob and wraps the signature in a Sigstore
// bundle v0.3 (public key hint, message signature, no transparency log
// entry), as `cosign sign-blob --key K --bundle B --new-bundle-format
// --tlog-upload=false` writes it.
func SignBundle(key *PrivateKey, data []byte) ([]byte, error) {
	d := sha256.Sum256(data)
	sig, err := key.signDigest(d[:])
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	b := bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: &verificationMaterial{PublicKey: &publicKeyIdentifier{Hint: key.pub.CosignHint()}},
		MessageSignature:     &messageSignature{MessageDigest: &hashOutput{Algorithm: "SHA2_256", Digest: d[:]}, Signature: sig},
	}
	out, err := json.Marshal(&b)
	if err != nil {
		return nil, fmt.Errorf("sign bundle: %w", err)
	}
	return out, nil
}

// VerifyBundle checks a Sigstore bundle carrying a message signature over
// data with key, offline: transparency log entries and timestamps in the
// bundle are not checked (and not required). A bundle whose public key hint
// names another key, whose digest is not the SHA-256 of data, or that holds
// a certificate or a DSSE envelope instead is refused.
func VerifyBundle(key *PublicKey, data, bundleJSON []byte) error {
	var b bundle
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		return fmt.Errorf("verify bundle: parse: %w", err)
	}
	ok := false
	for _, t := range acceptedBundleTypes {
		ok = ok || b.MediaType == t
	}
	if !ok {
		return fmt.Errorf("verify bundle: unsupported media type %q", b.MediaType)
	}
	if b.MessageSignature != nil && len(b.DSSEEnvelope) > 0 {
		return errors.New("verify bundle: both a message signature and a DSSE envelope (a bundle has one content)")
	}
	if b.MessageSignature == nil {
		if len(b.DSSEEnvelope) > 0 {
			return errors.New("verify bundle: DSSE envelope bundles are not supported for blobs; want a message signature")
		}
		return errors.New("verify bundle: no message signature")
	}
	if vm := b.VerificationMaterial; vm != nil {
		if len(vm.Certificate) > 0 {
			return errors.New("verify bundle: certificate-based (keyless) bundles are not supported offline; want a public key bundle")
		}
		if vm.PublicKey != nil && vm.PublicKey.Hint != "" && vm.PublicKey.Hint != key.CosignHint() {
			return fmt.Errorf("verify bundle: %w: signed by another key (hint %s), not %s", ErrBadSignature, vm.PublicKey.Hint, key.Fingerprint())
		}
	}
	d := sha256.Sum256(data)
	if md := b.MessageSignature.MessageDigest; md != nil {
		if !strings.EqualFold(md.Algorithm, "SHA2_256") {
			return fmt.Errorf("verify bundle: unsupported digest algorithm %q", md.Algorithm)
		}
		if !bytes.Equal(md.Digest, d[:]) {
			return fmt.Errorf("verify bundle: %w: the bundle is for another file (digest mismatch)", ErrBadSignature)
		}
	}
	if key.Type() != ECDSAP256 {
		return fmt.Errorf("verify bundle: need an ecdsa-p256 key, got %s", key.Type())
	}
	if !key.verifyDigest(d[:], b.MessageSignature.Signature) {
		return fmt.Errorf("verify bundle: %w: the signature does not match this file and key %s", ErrBadSignature, key.Fingerprint())
	}
	return nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

package trust

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/wasmward/wasmward/trust/internal/strictjson"
)

// Cosign-compatible detached signatures: what `cosign sign-blob --key`
// writes (a base64 ECDSA P-256 ASN.1 or RSA signature over the SHA-256 of
// the file) and the Sigstore bundle v0.3 JSON it writes with --bundle
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

// SignBlob signs the SHA-256 of data with an ECDSA P-256 or RSA key and
// returns the signature as cosign sign-blob prints it: standard base64 of
// the signature (ASN.1 DER for ECDSA), without a newline.
func SignBlob(key *PrivateKey, data []byte) ([]byte, error) {
	d := sha256.Sum256(data)
	sig, err := key.signDigest(d[:])
	if err != nil {
		return nil, fmt.Errorf("sign blob: %w", err)
	}
	return []byte(base64.StdEncoding.EncodeToString(sig)), nil
}

// VerifyBlob checks a cosign sign-blob signature over data with an ECDSA
// P-256 or RSA key. The signature file may be base64 (surrounding white
// space ignored) or the raw signature bytes, untouched (see decodeSig).
func VerifyBlob(key *PublicKey, data, sig []byte) error {
	if !key.digestSigner() {
		return fmt.Errorf("verify blob: cosign blob signatures need an ecdsa-p256 or rsa key, got %s", key.Type())
	}
	raw, err := decodeSig(sig, key)
	if err != nil {
		return fmt.Errorf("verify blob: signature: %w", err)
	}
	d := sha256.Sum256(data)
	if !key.verifyDigest(d[:], raw) {
		return fmt.Errorf("verify blob: %w: the signature does not match this file and key %s (%s)", ErrBadSignature, key.Fingerprint(), key.Description())
	}
	return nil
}

// decodeSig reads a signature file. The format is decided on the bytes as
// they are, before any trimming: raw DER (an ECDSA signature whose SEQUENCE
// spans exactly the file) or raw RSA (exactly the key's size, not valid
// base64) is used as is, since a raw signature may well end in a byte that
// is white space; anything else must be base64, around which white space is
// ignored. Base64 text cannot be DER (its bytes are not ASN.1 INTEGER tags).
func decodeSig(sig []byte, key *PublicKey) ([]byte, error) {
	if isDERSignature(sig) {
		return sig, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sig)))
	if err == nil {
		return raw, nil
	}
	if k, ok := key.key.(*rsa.PublicKey); ok && len(sig) == k.Size() {
		return sig, nil
	}
	return nil, errors.New("neither base64 nor a raw signature")
}

// isDERSignature reports whether b is exactly one ASN.1 SEQUENCE of two
// INTEGERs (an ECDSA signature), with nothing after it.
func isDERSignature(b []byte) bool {
	var seq, r, s cryptobyte.String
	in := cryptobyte.String(b)
	return in.ReadASN1(&seq, asn1.SEQUENCE) && in.Empty() &&
		seq.ReadASN1(&r, asn1.INTEGER) && seq.ReadASN1(&s, asn1.INTEGER) && seq.Empty()
}

// bundle is the subset of the Sigstore bundle wasmward writes and reads.
type bundle struct {
	MediaType            string                `json:"mediaType"`
	VerificationMaterial *verificationMaterial `json:"verificationMaterial,omitempty"`
	MessageSignature     *messageSignature     `json:"messageSignature,omitempty"`
}

type verificationMaterial struct {
	PublicKey *publicKeyIdentifier `json:"publicKey,omitempty"`
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

// BundleResult is what VerifyBundle found besides the signature.
type BundleResult struct {
	// Unverified lists what the bundle carries that was not checked
	// (transparency log entries, timestamps), one phrase each, so that
	// callers can say so. Empty for the bundles SignBundle writes.
	Unverified []string
}

// VerifyBundle checks a Sigstore bundle (v0.1 to v0.3) carrying a message
// signature over data with key, offline. It is as strict as cosign's
// reader: a key given twice or in another letter case, and unknown keys,
// are refused. A bundle with certificates (keyless signing: certificate,
// x509CertificateChain) is refused, as keyless verification needs a trust
// root this offline path does not have. Transparency log entries and
// timestamps are not verified (no Rekor or TSA key is configured): they
// must be JSON arrays/objects, and are listed in BundleResult.Unverified.
// A bundle whose public key hint names another key, or whose digest is not
// the SHA-256 of data, is refused.
func VerifyBundle(key *PublicKey, data, bundleJSON []byte) (BundleResult, error) {
	b, res, err := parseBundle(bundleJSON)
	if err != nil {
		return BundleResult{}, fmt.Errorf("verify bundle: %w", err)
	}
	if b.VerificationMaterial != nil && b.VerificationMaterial.PublicKey != nil {
		if h := b.VerificationMaterial.PublicKey.Hint; h != "" && h != key.CosignHint() {
			return BundleResult{}, fmt.Errorf("verify bundle: %w: signed by another key (hint %s), not %s", ErrBadSignature, h, key.Fingerprint())
		}
	}
	d := sha256.Sum256(data)
	if md := b.MessageSignature.MessageDigest; md != nil {
		if md.Algorithm != "SHA2_256" {
			return BundleResult{}, fmt.Errorf("verify bundle: unsupported digest algorithm %q (want SHA2_256)", md.Algorithm)
		}
		if !bytes.Equal(md.Digest, d[:]) {
			return BundleResult{}, fmt.Errorf("verify bundle: %w: the bundle is for another file (digest mismatch)", ErrBadSignature)
		}
	}
	if !key.digestSigner() {
		return BundleResult{}, fmt.Errorf("verify bundle: need an ecdsa-p256 or rsa key, got %s", key.Type())
	}
	if !key.verifyDigest(d[:], b.MessageSignature.Signature) {
		return BundleResult{}, fmt.Errorf("verify bundle: %w: the signature does not match this file and key %s (%s)", ErrBadSignature, key.Fingerprint(), key.Description())
	}
	return res, nil
}

// parseBundle reads a bundle strictly (see VerifyBundle) into the parts
// wasmward verifies, and lists the parts it does not.
func parseBundle(data []byte) (*bundle, BundleResult, error) {
	var res BundleResult
	top, err := strictjson.Object(data, "bundle", "mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope")
	if err != nil {
		return nil, res, err
	}
	b := &bundle{}
	if err := json.Unmarshal(top["mediaType"], &b.MediaType); err != nil {
		return nil, res, fmt.Errorf("bundle: mediaType: %w", err)
	}
	if !slices.Contains(acceptedBundleTypes, b.MediaType) {
		return nil, res, fmt.Errorf("unsupported media type %q", b.MediaType)
	}
	_, hasDSSE := top["dsseEnvelope"]
	msg, hasMsg := top["messageSignature"]
	switch {
	case hasMsg && hasDSSE:
		return nil, res, errors.New("both a message signature and a DSSE envelope (a bundle has one content)")
	case hasDSSE:
		return nil, res, errors.New("DSSE envelope bundles are not supported for blobs; want a message signature")
	case !hasMsg:
		return nil, res, errors.New("no message signature")
	}
	ms, err := strictjson.Object(msg, "bundle messageSignature", "messageDigest", "signature")
	if err != nil {
		return nil, res, err
	}
	b.MessageSignature = &messageSignature{}
	if err := json.Unmarshal(ms["signature"], &b.MessageSignature.Signature); err != nil || len(b.MessageSignature.Signature) == 0 {
		return nil, res, fmt.Errorf("bundle messageSignature: signature: missing or not base64 (%v)", err)
	}
	if md, ok := ms["messageDigest"]; ok {
		m, err := strictjson.Object(md, "bundle messageDigest", "algorithm", "digest")
		if err != nil {
			return nil, res, err
		}
		b.MessageSignature.MessageDigest = &hashOutput{}
		if err := json.Unmarshal(m["algorithm"], &b.MessageSignature.MessageDigest.Algorithm); err != nil {
			return nil, res, fmt.Errorf("bundle messageDigest: algorithm: %w", err)
		}
		if err := json.Unmarshal(m["digest"], &b.MessageSignature.MessageDigest.Digest); err != nil {
			return nil, res, fmt.Errorf("bundle messageDigest: digest: %w", err)
		}
	}
	vmRaw, ok := top["verificationMaterial"]
	if !ok {
		return b, res, nil
	}
	vm, err := strictjson.Object(vmRaw, "bundle verificationMaterial", "publicKey", "certificate", "x509CertificateChain", "tlogEntries", "timestampVerificationData")
	if err != nil {
		return nil, res, err
	}
	for _, k := range []string{"certificate", "x509CertificateChain"} {
		if _, ok := vm[k]; ok {
			return nil, res, fmt.Errorf("verificationMaterial has %s: keyless (certificate) bundles are not supported; wasmward verifies bundles against a public key only, offline", k)
		}
	}
	b.VerificationMaterial = &verificationMaterial{}
	if pk, ok := vm["publicKey"]; ok {
		m, err := strictjson.Object(pk, "bundle publicKey", "hint")
		if err != nil {
			return nil, res, err
		}
		b.VerificationMaterial.PublicKey = &publicKeyIdentifier{}
		if h, ok := m["hint"]; ok {
			if err := json.Unmarshal(h, &b.VerificationMaterial.PublicKey.Hint); err != nil {
				return nil, res, fmt.Errorf("bundle publicKey: hint: %w", err)
			}
		}
	}
	if t, ok := vm["tlogEntries"]; ok {
		var entries []json.RawMessage
		if err := json.Unmarshal(t, &entries); err != nil {
			return nil, res, fmt.Errorf("bundle verificationMaterial: tlogEntries: %w", err)
		}
		if err := strictjson.Unique(t); err != nil {
			return nil, res, fmt.Errorf("bundle verificationMaterial: tlogEntries: %w", err)
		}
		if len(entries) > 0 {
			res.Unverified = append(res.Unverified, fmt.Sprintf("%d transparency log entr%s (not verified: no Rekor key is configured; the signature was checked with the key alone)", len(entries), plural(len(entries), "y", "ies")))
		}
	}
	if t, ok := vm["timestampVerificationData"]; ok {
		var ts map[string]json.RawMessage
		if err := json.Unmarshal(t, &ts); err != nil {
			return nil, res, fmt.Errorf("bundle verificationMaterial: timestampVerificationData: %w", err)
		}
		if err := strictjson.Unique(t); err != nil {
			return nil, res, fmt.Errorf("bundle verificationMaterial: timestampVerificationData: %w", err)
		}
		if len(ts) > 0 {
			res.Unverified = append(res.Unverified, "signed timestamps (not verified: no timestamp authority is configured)")
		}
	}
	return b, res, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

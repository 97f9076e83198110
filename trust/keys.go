package trust

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/wasmward/wasmward/internal/atomicfile"

	"github.com/wasmward/wasmward/trust/internal/sealed"
)

// KeyType names a signature algorithm wasmward signs and verifies with.
type KeyType string

// Key types.
const (
	// Ed25519 is pure Ed25519 (RFC 8032). Embedded module signatures
	// (wasmsign2 format) need it.
	Ed25519 KeyType = "ed25519"
	// ECDSAP256 is ECDSA over NIST P-256 with SHA-256: cosign's default.
	ECDSAP256 KeyType = "ecdsa-p256"
)

// PEM block types.
const (
	pemPrivate         = "PRIVATE KEY"
	pemPublic          = "PUBLIC KEY"
	pemSigstoreSealed  = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemCosignSealed    = "ENCRYPTED COSIGN PRIVATE KEY"
	pemPKCS8Encrypted  = "ENCRYPTED PRIVATE KEY"
	rawEd25519Public   = 0x01
	rawEd25519KeyPair  = 0x81
	wasmsigKeyIDLength = 12
)

// ErrPassphrase is returned (wrapped) when an encrypted private key needs a
// passphrase that was not given, or the one given does not open it.
var ErrPassphrase = errors.New("wrong or missing passphrase")

// PrivateKey is a signing key. It never formats its secret: printing it with
// fmt shows only the type and the public key's fingerprint.
type PrivateKey struct {
	signer crypto.Signer // ed25519.PrivateKey or *ecdsa.PrivateKey (P-256)
	pub    *PublicKey
}

// PublicKey is a verification key.
type PublicKey struct {
	key crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey (P-256)
	der []byte           // PKIX DER
}

// GenerateKey creates a new key of type t from crypto/rand.
func GenerateKey(t KeyType) (*PrivateKey, error) {
	switch t {
	case Ed25519:
		_, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ed25519 key: %w", err)
		}
		return newPrivateKey(sk)
	case ECDSAP256:
		sk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ecdsa-p256 key: %w", err)
		}
		return newPrivateKey(sk)
	default:
		return nil, fmt.Errorf("unknown key type %q (want %s or %s)", t, Ed25519, ECDSAP256)
	}
}

// NewEd25519PrivateKey wraps an Ed25519 seed (32 bytes) as a PrivateKey.
func NewEd25519PrivateKey(seed []byte) (*PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("ed25519 seed: %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return newPrivateKey(ed25519.NewKeyFromSeed(seed))
}

func newPrivateKey(s crypto.Signer) (*PrivateKey, error) {
	pub, err := newPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	return &PrivateKey{signer: s, pub: pub}, nil
}

func newPublicKey(k crypto.PublicKey) (*PublicKey, error) {
	switch k := k.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ed25519 public key: %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ecdsa key on curve %s: only P-256 is supported", k.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T (want ed25519 or ecdsa P-256)", k)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return &PublicKey{key: k, der: der}, nil
}

// Type is the key's algorithm.
func (k *PrivateKey) Type() KeyType { return k.pub.Type() }

// Public is the key's public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// String identifies the key without revealing it.
func (k *PrivateKey) String() string {
	return fmt.Sprintf("%s private key %s (redacted)", k.Type(), k.pub.Fingerprint())
}

// GoString is String: %#v never shows the secret either.
func (k *PrivateKey) GoString() string { return k.String() }

// Format makes every fmt verb print String, so that no verb reaches the
// secret fields.
func (k *PrivateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// MarshalPEM returns the key as PEM. Without a passphrase it is an
// unencrypted PKCS#8 "PRIVATE KEY" block; with one, the PKCS#8 DER is sealed
// with scrypt and NaCl secretbox in the format cosign writes ("ENCRYPTED
// SIGSTORE PRIVATE KEY"), so cosign can use the key and wasmward can use
// cosign's keys.
func (k *PrivateKey) MarshalPEM(passphrase []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	if len(passphrase) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
	}
	box, err := sealed.Seal(der, passphrase)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemSigstoreSealed, Bytes: box}), nil
}

// sign signs msg: Ed25519 signs it as is (pure Ed25519); ECDSA signs its
// SHA-256 and returns an ASN.1 DER signature.
func (k *PrivateKey) sign(msg []byte) ([]byte, error) {
	switch s := k.signer.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(s, msg), nil
	case *ecdsa.PrivateKey:
		d := sha256.Sum256(msg)
		return ecdsa.SignASN1(rand.Reader, s, d[:])
	}
	return nil, fmt.Errorf("unsupported key type %T", k.signer)
}

// signDigest signs a SHA-256 digest with an ECDSA key.
func (k *PrivateKey) signDigest(digest []byte) ([]byte, error) {
	s, ok := k.signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s key cannot sign a digest: an ecdsa-p256 key is needed", k.Type())
	}
	return ecdsa.SignASN1(rand.Reader, s, digest)
}

// Type is the key's algorithm.
func (p *PublicKey) Type() KeyType {
	if _, ok := p.key.(ed25519.PublicKey); ok {
		return Ed25519
	}
	return ECDSAP256
}

// Equal reports whether p and q are the same key.
func (p *PublicKey) Equal(q *PublicKey) bool { return q != nil && bytes.Equal(p.der, q.der) }

// Fingerprint is "sha256:" and the hex SHA-256 of the key's PKIX DER: a
// stable name for the key in messages and in DSSE key IDs.
func (p *PublicKey) Fingerprint() string {
	d := sha256.Sum256(p.der)
	return "sha256:" + hex.EncodeToString(d[:])
}

// CosignHint is what cosign writes as a bundle's public key hint: the
// standard base64 of the SHA-256 of the PKIX DER.
func (p *PublicKey) CosignHint() string {
	d := sha256.Sum256(p.der)
	return b64(d[:])
}

// WasmsigKeyID is the default key ID wasmsign2 derives for an Ed25519 key:
// the first 12 bytes of HMAC-SHA256(key = public key, message = "key_id").
// It is nil for other key types.
func (p *PublicKey) WasmsigKeyID() []byte {
	pk, ok := p.key.(ed25519.PublicKey)
	if !ok {
		return nil
	}
	m := hmac.New(sha256.New, pk)
	m.Write([]byte("key_id"))
	return m.Sum(nil)[:wasmsigKeyIDLength]
}

// MarshalPEM returns the key as a PKIX "PUBLIC KEY" PEM block.
func (p *PublicKey) MarshalPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: p.der})
}

// verify checks sig over msg as sign makes it.
func (p *PublicKey) verify(msg, sig []byte) bool {
	switch k := p.key.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, d[:], sig)
	}
	return false
}

// verifyDigest checks an ECDSA ASN.1 signature over a SHA-256 digest.
func (p *PublicKey) verifyDigest(digest, sig []byte) bool {
	k, ok := p.key.(*ecdsa.PublicKey)
	return ok && ecdsa.VerifyASN1(k, digest, sig)
}

// ed25519Key returns the raw Ed25519 public key, or nil.
func (p *PublicKey) ed25519Key() ed25519.PublicKey {
	k, _ := p.key.(ed25519.PublicKey)
	return k
}

// ParsePrivateKey reads a private key in any of the forms wasmward accepts:
//   - PEM "PRIVATE KEY" (PKCS#8; Ed25519 or ECDSA P-256), or its DER;
//   - PEM "ENCRYPTED SIGSTORE PRIVATE KEY" / "ENCRYPTED COSIGN PRIVATE KEY"
//     (cosign's scrypt + secretbox sealed PKCS#8), opened with passphrase;
//   - PEM "EC PRIVATE KEY" (SEC 1, P-256);
//   - a raw wasmsign2 key pair: 0x81 | seed(32) | public key(32).
//
// passphrase is called only for an encrypted key; it may be nil when no
// passphrase is available. The passphrase and the key never appear in errors.
func ParsePrivateKey(data []byte, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	if len(data) == 1+ed25519.PrivateKeySize && data[0] == rawEd25519KeyPair {
		sk := ed25519.NewKeyFromSeed(data[1 : 1+ed25519.SeedSize])
		if !bytes.Equal(sk[ed25519.SeedSize:], data[1+ed25519.SeedSize:]) {
			return nil, errors.New("raw wasmsign2 key pair: public half does not match the seed")
		}
		return newPrivateKey(sk)
	}
	block, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	if block == nil {
		if k, err := parsePKCS8(data); err == nil {
			return k, nil
		}
		return nil, errors.New("not a private key: want PEM (PKCS#8, SEC 1, cosign encrypted), PKCS#8 DER, or a raw wasmsign2 key pair")
	}
	switch block.Type {
	case pemPrivate:
		return parsePKCS8(block.Bytes)
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse EC private key: %w", err)
		}
		return newPrivateKey(k)
	case pemSigstoreSealed, pemCosignSealed:
		if passphrase == nil {
			return nil, fmt.Errorf("%s: %w", strings.ToLower(block.Type), ErrPassphrase)
		}
		pass, err := passphrase()
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		der, err := sealed.Open(block.Bytes, pass)
		if err != nil {
			if errors.Is(err, sealed.ErrDecrypt) {
				return nil, fmt.Errorf("decrypt private key: %w", ErrPassphrase)
			}
			return nil, fmt.Errorf("decrypt private key: %w", err)
		}
		return parsePKCS8(der)
	case pemPKCS8Encrypted:
		return nil, errors.New("PKCS#8 PBES2 encrypted keys are not supported: decrypt with openssl pkcs8, or use a key from wasmward keygen or cosign")
	default:
		return nil, fmt.Errorf("unsupported PEM block %q for a private key", block.Type)
	}
}

func parsePKCS8(der []byte) (*PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return newPrivateKey(s)
}

// ParsePublicKey reads a public key: PEM "PUBLIC KEY" (PKIX; Ed25519 or
// ECDSA P-256), its DER, or a raw wasmsign2 public key (0x01 | 32 bytes).
func ParsePublicKey(data []byte) (*PublicKey, error) {
	if len(data) == 1+ed25519.PublicKeySize && data[0] == rawEd25519Public {
		return newPublicKey(ed25519.PublicKey(bytes.Clone(data[1:])))
	}
	der := data
	block, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	if block != nil {
		if block.Type != pemPublic {
			return nil, fmt.Errorf("unsupported PEM block %q for a public key (want %q)", block.Type, pemPublic)
		}
		der = block.Bytes
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not a public key: want PEM \"PUBLIC KEY\" (PKIX), PKIX DER, or a raw wasmsign2 public key")
	}
	return newPublicKey(k)
}

// decodePEM returns the one PEM block in data, nil when data is not PEM.
// Text before the block is allowed (openssl writes some); anything but
// white space after it is refused, so that a file with a second key, or
// with a key appended by someone else, is not silently read as its first.
func decodePEM(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		if next, _ := pem.Decode(rest); next != nil {
			return nil, fmt.Errorf("more than one PEM block (%q, then %q): want exactly one key", block.Type, next.Type)
		}
		return nil, fmt.Errorf("unexpected data after the %q PEM block", block.Type)
	}
	return block, nil
}

// LoadPrivateKey reads the private key file at path (see ParsePrivateKey).
func LoadPrivateKey(path string, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	k, err := ParsePrivateKey(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads the public key file at path (see ParsePublicKey).
func LoadPublicKey(path string) (*PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// WriteKeyPair writes prefix.key (mode 0600; encrypted when passphrase is
// not empty) and prefix.pub (mode 0644), each atomically. It refuses to
// overwrite an existing private key file.
func WriteKeyPair(k *PrivateKey, prefix string, passphrase []byte) error {
	exists := fmt.Errorf("write key pair: %s.key already exists", prefix)
	if _, err := os.Lstat(prefix + ".key"); err == nil {
		return exists // early, before the slow encryption; atomicfile.WriteNew makes sure
	}
	priv, err := k.MarshalPEM(passphrase)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteNew(prefix+".key", priv, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return exists
		}
		return fmt.Errorf("write private key: %w", err)
	}
	if err := atomicfile.Write(prefix+".pub", k.pub.MarshalPEM(), 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	return nil
}

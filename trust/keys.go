package trust

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"filippo.io/edwards25519"

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
	// RSA is RSA with SHA-256, 2048 to 4096 bits, signing with PKCS#1 v1.5
	// (cosign's default) or PSS (see RSAScheme). The wasmsign2 format has no
	// RSA algorithm, so RSA keys sign cosign-style signatures and
	// attestations only.
	RSA KeyType = "rsa"
)

// RSAScheme is the signature scheme of an RSA key. The key files do not say
// which (a PKIX or PKCS#8 RSA key is the same for both), so the signer and
// the verifier choose it: the trust policy's rsa_scheme, or --rsa-scheme.
type RSAScheme string

// RSA signature schemes, both over SHA-256.
const (
	// PKCS1v15 is RSASSA-PKCS1-v1_5: what cosign signs and verifies with.
	PKCS1v15 RSAScheme = "pkcs1v15"
	// PSS is RSASSA-PSS with MGF1-SHA-256 and a 32-byte salt (the hash
	// length, RFC 8017's recommendation); other salt lengths are refused.
	PSS RSAScheme = "pss"
)

// RSA key sizes wasmward accepts. Smaller keys are breakable or close to it;
// larger ones cost verifiers time for nothing a 4096-bit key lacks.
const (
	MinRSABits     = 2048
	MaxRSABits     = 4096
	DefaultRSABits = 3072
)

// ParseRSAScheme reads "pkcs1v15" or "pss"; "" is PKCS1v15.
func ParseRSAScheme(s string) (RSAScheme, error) {
	switch RSAScheme(s) {
	case "", PKCS1v15:
		return PKCS1v15, nil
	case PSS:
		return PSS, nil
	}
	return "", fmt.Errorf("rsa scheme %q: want %s or %s", s, PKCS1v15, PSS)
}

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
	signer crypto.Signer // ed25519.PrivateKey, *ecdsa.PrivateKey (P-256) or *rsa.PrivateKey
	pub    *PublicKey
}

// PublicKey is a verification key. An Ed25519 key is a canonically encoded
// point of large order (see ParsePublicKey), so two PublicKey values are
// the same key exactly when their encodings are equal.
type PublicKey struct {
	key    crypto.PublicKey // ed25519.PublicKey, *ecdsa.PublicKey (P-256) or *rsa.PublicKey
	der    []byte           // PKIX DER
	scheme RSAScheme        // RSA keys only
}

// GenerateKey creates a new key of type t from crypto/rand; an RSA key has
// DefaultRSABits and signs with PKCS1v15 (see GenerateRSAKey).
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
	case RSA:
		return GenerateRSAKey(DefaultRSABits, PKCS1v15)
	default:
		return nil, fmt.Errorf("unknown key type %q (want %s, %s or %s)", t, Ed25519, ECDSAP256, RSA)
	}
}

// GenerateRSAKey creates an RSA key of bits (MinRSABits..MaxRSABits) that
// signs with scheme.
func GenerateRSAKey(bits int, scheme RSAScheme) (*PrivateKey, error) {
	if err := checkRSABits(bits); err != nil {
		return nil, err
	}
	sk, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate rsa key: %w", err)
	}
	k, err := newPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	return k.WithRSAScheme(scheme)
}

func checkRSABits(bits int) error {
	if bits < MinRSABits || bits > MaxRSABits {
		return fmt.Errorf("rsa key of %d bits: want %d to %d bits", bits, MinRSABits, MaxRSABits)
	}
	return nil
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
		if err := checkEd25519Point(k); err != nil {
			return nil, fmt.Errorf("ed25519 public key %x: %w", []byte(k), err)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ecdsa key on curve %s: only P-256 is supported", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if err := checkRSABits(k.N.BitLen()); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T (want ed25519, ecdsa P-256 or rsa)", k)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	pk := &PublicKey{key: k, der: der}
	if _, ok := k.(*rsa.PublicKey); ok {
		pk.scheme = PKCS1v15
	}
	return pk, nil
}

// checkEd25519Point refuses what RFC 8032 decoding lets through but a
// trusted key must not be: an encoding that is not the canonical one of its
// point (the same key under a second name would count twice toward a
// threshold) and a point of small order (one of the 8 points that a forged
// signature such as R = identity, S = 0 verifies under for every message).
// wasmsign2's Ed25519 library (ed25519-compact) refuses both too.
func checkEd25519Point(enc []byte) error {
	p, err := new(edwards25519.Point).SetBytes(enc)
	if err != nil {
		return errors.New("not a point on the curve")
	}
	if !bytes.Equal(p.Bytes(), enc) {
		return errors.New("non-canonical encoding of a point (another encoding of the same point; refused)")
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errors.New("a point of small order, under which forged signatures verify (refused)")
	}
	return nil
}

// verifyEd25519 is Ed25519 verification that refuses what
// crypto/ed25519.Verify lets through: an R that is not canonically encoded
// or has small order. (Verify already refuses a non-canonical S >= L, and
// compares R by its canonical encoding; A is checked when a PublicKey is
// made.) Together they make any signature that verifies here verify under
// every cofactored or cofactorless verifier.
func verifyEd25519(pk ed25519.PublicKey, msg, sig []byte) bool {
	if len(pk) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	if checkEd25519Point(sig[:32]) != nil {
		return false
	}
	return ed25519.Verify(pk, msg, sig)
}

// WithRSAScheme returns the key set to sign with scheme. It is an error
// for keys that are not RSA.
func (k *PrivateKey) WithRSAScheme(scheme RSAScheme) (*PrivateKey, error) {
	pub, err := k.pub.WithRSAScheme(scheme)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{signer: k.signer, pub: pub}, nil
}

// WithRSAScheme returns the key set to verify with scheme. It is an error
// for keys that are not RSA.
func (p *PublicKey) WithRSAScheme(scheme RSAScheme) (*PublicKey, error) {
	if p.Type() != RSA {
		return nil, fmt.Errorf("an rsa scheme (%s) was given for a %s key", scheme, p.Type())
	}
	s, err := ParseRSAScheme(string(scheme))
	if err != nil {
		return nil, err
	}
	q := *p
	q.scheme = s
	return &q, nil
}

// RSAScheme is the scheme an RSA key signs and verifies with ("" for other
// keys).
func (p *PublicKey) RSAScheme() RSAScheme { return p.scheme }

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

// sign signs msg: Ed25519 signs it as is (pure Ed25519); ECDSA and RSA
// sign its SHA-256 (ECDSA as ASN.1 DER).
func (k *PrivateKey) sign(msg []byte) ([]byte, error) {
	if s, ok := k.signer.(ed25519.PrivateKey); ok {
		return ed25519.Sign(s, msg), nil
	}
	d := sha256.Sum256(msg)
	return k.signDigest(d[:])
}

// pssOptions are the PSS parameters wasmward signs and verifies with.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}

// signDigest signs a SHA-256 digest with an ECDSA or RSA key.
func (k *PrivateKey) signDigest(digest []byte) ([]byte, error) {
	switch s := k.signer.(type) {
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, s, digest)
	case *rsa.PrivateKey:
		if k.pub.scheme == PSS {
			return rsa.SignPSS(rand.Reader, s, crypto.SHA256, digest, pssOptions)
		}
		return rsa.SignPKCS1v15(nil, s, crypto.SHA256, digest)
	}
	return nil, fmt.Errorf("%s key cannot sign a digest: an ecdsa-p256 or rsa key is needed", k.Type())
}

// Type is the key's algorithm.
func (p *PublicKey) Type() KeyType {
	switch p.key.(type) {
	case ed25519.PublicKey:
		return Ed25519
	case *rsa.PublicKey:
		return RSA
	}
	return ECDSAP256
}

// Description is the key type with its parameters: "ed25519",
// "ecdsa-p256", or "rsa-3072 pkcs1v15".
func (p *PublicKey) Description() string {
	if k, ok := p.key.(*rsa.PublicKey); ok {
		return fmt.Sprintf("rsa-%d %s", k.N.BitLen(), p.scheme)
	}
	return string(p.Type())
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
	return base64.StdEncoding.EncodeToString(d[:])
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
	if k, ok := p.key.(ed25519.PublicKey); ok {
		return verifyEd25519(k, msg, sig)
	}
	d := sha256.Sum256(msg)
	return p.verifyDigest(d[:], sig)
}

// verifyDigest checks an ECDSA ASN.1 or RSA signature over a SHA-256
// digest, RSA with the key's scheme only.
func (p *PublicKey) verifyDigest(digest, sig []byte) bool {
	switch k := p.key.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		if p.scheme == PSS {
			return rsa.VerifyPSS(k, crypto.SHA256, digest, sig, pssOptions) == nil
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	}
	return false
}

// digestSigner reports whether the key signs SHA-256 digests (ECDSA, RSA):
// the keys cosign-style signatures are made with.
func (p *PublicKey) digestSigner() bool { return p.Type() != Ed25519 }

// ed25519Key returns the raw Ed25519 public key, or nil.
func (p *PublicKey) ed25519Key() ed25519.PublicKey {
	k, _ := p.key.(ed25519.PublicKey)
	return k
}

// ParsePrivateKey reads a private key in any of the forms wasmward accepts:
//   - PEM "PRIVATE KEY" (PKCS#8; Ed25519, ECDSA P-256 or RSA), or its DER;
//   - PEM "ENCRYPTED SIGSTORE PRIVATE KEY" / "ENCRYPTED COSIGN PRIVATE KEY"
//     (cosign's scrypt + secretbox sealed PKCS#8), opened with passphrase;
//   - PEM "EC PRIVATE KEY" (SEC 1, P-256), "RSA PRIVATE KEY" (PKCS#1);
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
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse RSA private key: %w", err)
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

// ParsePublicKey reads a public key: PEM "PUBLIC KEY" (PKIX; Ed25519,
// ECDSA P-256 or RSA), its DER, or a raw wasmsign2 public key (0x01 | 32
// bytes). An Ed25519 key that is not a canonically encoded point of large
// order is refused, and so is an RSA key outside MinRSABits..MaxRSABits. An
// RSA key verifies with PKCS1v15 until WithRSAScheme says otherwise.
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
		if block != nil {
			return nil, fmt.Errorf("parse PKIX public key: %w", err)
		}
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

// ErrKeyPermissions is returned (wrapped) by LoadPrivateKey for a private
// key file that users other than its owner may read or write.
var ErrKeyPermissions = errors.New("private key file is accessible to group or others")

// LoadPrivateKey reads the private key file at path (see ParsePrivateKey).
// Like ssh, it refuses a file whose mode lets group or others read or write
// it (ErrKeyPermissions; on Windows, where modes say nothing, there is no
// such check): whoever else can read it can sign as its owner, encrypted or
// not, since an encrypted key is then open to offline guessing.
func LoadPrivateKey(path string, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	return loadPrivateKey(path, passphrase, true)
}

// LoadPrivateKeyAnyMode is LoadPrivateKey without the check of the file's
// permissions, for callers that let the user override it.
func LoadPrivateKeyAnyMode(path string, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	return loadPrivateKey(path, passphrase, false)
}

func loadPrivateKey(path string, passphrase func() ([]byte, error), checkMode bool) (*PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	defer f.Close()
	if checkMode && runtime.GOOS != "windows" {
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("read private key: %w", err)
		}
		if m := st.Mode().Perm(); m&0o077 != 0 {
			return nil, fmt.Errorf("private key %s: %w (mode %04o): chmod 600 it", path, ErrKeyPermissions, m)
		}
	}
	data, err := io.ReadAll(f)
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
	if err := atomicfile.WriteContained(prefix+".pub", k.pub.MarshalPEM(), 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	return nil
}

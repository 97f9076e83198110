// Package sealed encrypts and decrypts private keys in the format cosign
// writes ("ENCRYPTED SIGSTORE PRIVATE KEY"), which is go-securesystemslib's
// "encrypted" package: a JSON document holding scrypt parameters and salt,
// a NaCl secretbox nonce, and the sealed bytes.
package sealed

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// ErrDecrypt means the box did not open: the passphrase is wrong or the
// data was altered.
var ErrDecrypt = errors.New("decryption failed")

const (
	saltSize  = 32
	keySize   = 32
	nonceSize = 24
)

type params struct {
	N int `json:"N"`
	R int `json:"r"`
	P int `json:"p"`
}

// The scrypt parameter sets securesystemslib accepts; anything else is
// refused so that a hostile file cannot ask for gigabytes of memory.
var (
	legacy   = params{N: 1 << 15, R: 8, P: 1}
	standard = params{N: 1 << 16, R: 8, P: 1}
	owasp    = params{N: 1 << 17, R: 8, P: 1}
)

type document struct {
	KDF struct {
		Name   string `json:"name"`
		Params params `json:"params"`
		Salt   []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// Seal encrypts plaintext under passphrase with scrypt (N=2^16, r=8, p=1,
// cosign's current default) and secretbox, returning the JSON document.
func Seal(plaintext, passphrase []byte) ([]byte, error) {
	var d document
	d.KDF.Name = "scrypt"
	d.KDF.Params = standard
	d.KDF.Salt = make([]byte, saltSize)
	d.Cipher.Name = "nacl/secretbox"
	d.Cipher.Nonce = make([]byte, nonceSize)
	if _, err := rand.Read(d.KDF.Salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(d.Cipher.Nonce); err != nil {
		return nil, err
	}
	key, err := scrypt.Key(passphrase, d.KDF.Salt, d.KDF.Params.N, d.KDF.Params.R, d.KDF.Params.P, keySize)
	if err != nil {
		return nil, err
	}
	var k [keySize]byte
	var n [nonceSize]byte
	copy(k[:], key)
	copy(n[:], d.Cipher.Nonce)
	d.Ciphertext = secretbox.Seal(nil, plaintext, &n, &k)
	return json.Marshal(&d)
}

// Open decrypts a document written by Seal or by cosign.
func Open(doc, passphrase []byte) ([]byte, error) {
	var d document
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("encrypted key document: %w", err)
	}
	if d.KDF.Name != "scrypt" {
		return nil, fmt.Errorf("unknown kdf %q", d.KDF.Name)
	}
	if d.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("unknown cipher %q", d.Cipher.Name)
	}
	if p := d.KDF.Params; p != legacy && p != standard && p != owasp {
		return nil, fmt.Errorf("unsupported scrypt parameters N=%d r=%d p=%d", p.N, p.R, p.P)
	}
	if len(d.Cipher.Nonce) != nonceSize {
		return nil, fmt.Errorf("nonce is %d bytes, want %d", len(d.Cipher.Nonce), nonceSize)
	}
	key, err := scrypt.Key(passphrase, d.KDF.Salt, d.KDF.Params.N, d.KDF.Params.R, d.KDF.Params.P, keySize)
	if err != nil {
		return nil, err
	}
	var k [keySize]byte
	var n [nonceSize]byte
	copy(k[:], key)
	copy(n[:], d.Cipher.Nonce)
	out, ok := secretbox.Open(nil, d.Ciphertext, &n, &k)
	if !ok {
		return nil, ErrDecrypt
	}
	return out, nil
}

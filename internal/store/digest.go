package store

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wasmward/wasmward/internal/digest"
)

// Digest names content by its SHA-256: "sha256:" followed by 64 lower-case
// hexadecimal digits. The zero Digest is invalid.
type Digest string

// DigestOf returns the digest of b.
func DigestOf(b []byte) Digest {
	return Digest("sha256:" + digest.SHA256Hex(b))
}

// ParseDigest accepts "sha256:HEX" (64 hex digits, lower or upper case; the
// result is lower case) and nothing else.
func ParseDigest(s string) (Digest, error) {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return "", fmt.Errorf("digest %q: want sha256:<64 hex digits>", s)
	}
	if len(h) != 64 {
		return "", fmt.Errorf("digest %q: want 64 hex digits after sha256:, got %d", s, len(h))
	}
	h = strings.ToLower(h)
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("digest %q: not hexadecimal", s)
	}
	return Digest("sha256:" + h), nil
}

// Hex returns the 64 hex digits of d.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), "sha256:") }

// Short returns "sha256:" and the first 12 hex digits, for display.
func (d Digest) Short() string {
	if h := d.Hex(); len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return string(d)
}

// String returns d as "sha256:HEX".
func (d Digest) String() string { return string(d) }

// valid reports whether d is exactly what ParseDigest returns.
func (d Digest) valid() bool {
	p, err := ParseDigest(string(d))
	return err == nil && p == d
}

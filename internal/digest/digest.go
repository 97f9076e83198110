// Package digest is the one place wasmward turns bytes into the lowercase
// hex SHA-256 it prints, logs and compares (reports, audit records, SARIF,
// SBOM subjects, attestation subjects).
package digest

import (
	"crypto/sha256"
	"encoding/hex"
)

// SHA256Hex returns the lowercase hex SHA-256 of b (64 characters).
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/trust"
)

// defaultPasswordEnv is the environment variable holding the passphrase of
// wasmward's encrypted private keys. COSIGN_PASSWORD is read as a fallback
// so cosign's keys work unchanged.
const defaultPasswordEnv = "WASMWARD_KEY_PASSWORD"

func newKeygenCmd(s streams) *cobra.Command {
	var keyType, out, passEnv string
	cmd := &cobra.Command{
		Use:   "keygen --output-key-prefix PREFIX",
		Short: "Create a signing key pair (PREFIX.key, PREFIX.pub)",
		Long: `Create a key pair: PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (PKIX PEM).

When the environment variable named by --password-env (default ` + defaultPasswordEnv + `)
is set and not empty, the private key is encrypted with it in cosign's format
(scrypt + NaCl secretbox, "ENCRYPTED SIGSTORE PRIVATE KEY"), which cosign reads.
Embedded module signatures need ed25519; cosign-style signatures need ecdsa-p256.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("keygen: --output-key-prefix PREFIX is required")
			}
			t := trust.KeyType(keyType)
			if t != trust.Ed25519 && t != trust.ECDSAP256 {
				return usageErr("keygen: --type %q: want ed25519 or ecdsa-p256", keyType)
			}
			k, err := trust.GenerateKey(t)
			if err != nil {
				return withCode(exitFailure, err)
			}
			pass := []byte(os.Getenv(passEnv))
			if err := trust.WriteKeyPair(k, out, pass); err != nil {
				return withCode(exitFailure, fmt.Errorf("keygen: %w", err))
			}
			enc := "unencrypted"
			if len(pass) > 0 {
				enc = "encrypted with $" + passEnv
			}
			fmt.Fprintf(s.out, "wrote %s.key (%s, %s) and %s.pub\n", out, t, enc, out)
			fmt.Fprintf(s.out, "fingerprint %s\n", k.Public().Fingerprint())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyType, "type", string(trust.Ed25519), "key type: ed25519 or ecdsa-p256")
	f.StringVar(&out, "output-key-prefix", "", "write PREFIX.key and PREFIX.pub")
	alias(f, "out", "output-key-prefix")
	f.StringVar(&passEnv, "password-env", defaultPasswordEnv, "environment variable holding the passphrase that encrypts the key")
	return cmd
}

// passphraseFrom returns a passphrase source for encrypted private keys:
// the variable named env, else COSIGN_PASSWORD. The passphrase is never
// printed.
func passphraseFrom(env string) func() ([]byte, error) {
	return func() ([]byte, error) {
		if v, ok := os.LookupEnv(env); ok {
			return []byte(v), nil
		}
		if v, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
			return []byte(v), nil
		}
		return nil, fmt.Errorf("the key is encrypted: set %s (or COSIGN_PASSWORD)", env)
	}
}

// loadKey reads a private key for signing; unreadable or undecryptable keys
// are usage errors (exit 2).
func loadKey(path, passEnv string) (*trust.PrivateKey, error) {
	if path == "" {
		return nil, usageErr("--key is required")
	}
	k, err := trust.LoadPrivateKey(path, passphraseFrom(passEnv))
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return k, nil
}

// readInput reads a file the command was given; failures are usage errors.
func readInput(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("read %s: %v", what, err)
	}
	return b, nil
}

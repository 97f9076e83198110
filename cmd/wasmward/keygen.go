package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/trust"
)

// defaultPasswordEnv is the environment variable holding the passphrase of
// wasmward's encrypted private keys. COSIGN_PASSWORD is read as a fallback
// so cosign's keys work unchanged.
const defaultPasswordEnv = "WASMWARD_KEY_PASSWORD"

func newKeygenCmd(s streams) *cobra.Command {
	var keyType, out, passEnv string
	var bits int
	cmd := &cobra.Command{
		Use:   "keygen --output-key-prefix PREFIX",
		Short: "Create a signing key pair (PREFIX.key, PREFIX.pub)",
		Long: `Create a key pair: PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (PKIX PEM).

When the environment variable named by --password-env (default ` + defaultPasswordEnv + `)
is set and not empty, the private key is encrypted with it in cosign's format
(scrypt + NaCl secretbox, "ENCRYPTED SIGSTORE PRIVATE KEY"), which cosign reads.
An empty variable counts as unset: the key is written unencrypted, and says so.
Embedded module signatures need ed25519; cosign-style signatures and
attestations take ecdsa-p256 or rsa (--bits 2048 to 4096; the scheme,
pkcs1v15 or pss, is chosen when signing and in the trust policy).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("keygen: --output-key-prefix PREFIX is required")
			}
			t := trust.KeyType(keyType)
			var (
				k   *trust.PrivateKey
				err error
			)
			switch {
			case t == trust.RSA:
				if bits < trust.MinRSABits || bits > trust.MaxRSABits {
					return usageErr("keygen: --bits %d: want %d to %d", bits, trust.MinRSABits, trust.MaxRSABits)
				}
				k, err = trust.GenerateRSAKey(bits, trust.PKCS1v15)
			case cmd.Flags().Changed("bits"):
				return usageErr("keygen: --bits is for --type rsa")
			case t == trust.Ed25519 || t == trust.ECDSAP256:
				k, err = trust.GenerateKey(t)
			default:
				return usageErr("keygen: --type %q: want ed25519, ecdsa-p256 or rsa", keyType)
			}
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
			desc := string(t)
			if t == trust.RSA {
				desc = fmt.Sprintf("rsa-%d", bits)
			}
			fmt.Fprintf(s.out, "wrote %s.key (%s, %s) and %s.pub\n", out, desc, enc, out)
			fmt.Fprintf(s.out, "fingerprint %s\n", k.Public().Fingerprint())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyType, "type", string(trust.Ed25519), "key type: ed25519, ecdsa-p256 or rsa")
	f.IntVar(&bits, "bits", trust.DefaultRSABits, "rsa: key size in bits (2048 to 4096)")
	f.StringVar(&out, "output-key-prefix", "", "write PREFIX.key and PREFIX.pub")
	alias(f, "out", "output-key-prefix")
	f.StringVar(&passEnv, "password-env", defaultPasswordEnv, "environment variable holding the passphrase that encrypts the key")
	return cmd
}

// passphraseFrom returns a passphrase source for encrypted private keys:
// the variable named env, else COSIGN_PASSWORD. An empty variable counts as
// unset, as it does for keygen (which then writes an unencrypted key): an
// empty passphrase is never tried. The passphrase is never printed.
func passphraseFrom(env string) func() ([]byte, error) {
	return func() ([]byte, error) {
		for _, name := range []string{env, "COSIGN_PASSWORD"} {
			if v := os.Getenv(name); v != "" {
				return []byte(v), nil
			}
		}
		return nil, fmt.Errorf("the key is encrypted: set %s (or COSIGN_PASSWORD) to its passphrase; an empty variable counts as unset", env)
	}
}

// keyFlags are the flags of the commands that sign: the private key, where
// its passphrase is, the RSA scheme, and the override of the key file
// permission check.
type keyFlags struct {
	path, passEnv, rsaScheme string
	anyMode                  bool
}

func (k *keyFlags) register(f *pflag.FlagSet) {
	f.StringVar(&k.path, "key", "", "private key file (PEM, cosign encrypted, or raw wasmsign2)")
	f.StringVar(&k.passEnv, "password-env", defaultPasswordEnv, "environment variable holding the private key's passphrase")
	f.StringVar(&k.rsaScheme, "rsa-scheme", "", "rsa keys: signature scheme, pkcs1v15 (default, cosign's) or pss")
	f.BoolVar(&k.anyMode, "allow-insecure-key-permissions", false, "use a private key file that group or others may read (refused by default)")
}

// load reads the private key for signing; unreadable or undecryptable keys
// are usage errors (exit 2). A key file group or others may access is
// refused unless --allow-insecure-key-permissions, which warns instead.
func (k *keyFlags) load(s streams) (*trust.PrivateKey, error) {
	if k.path == "" {
		return nil, usageErr("--key is required")
	}
	load := trust.LoadPrivateKey
	if k.anyMode {
		load = trust.LoadPrivateKeyAnyMode
		if st, err := os.Stat(k.path); err == nil && st.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(s.err, "wasmward: warning: private key %s is accessible to group or others (mode %04o); used anyway (--allow-insecure-key-permissions)\n", k.path, st.Mode().Perm())
		}
	}
	key, err := load(k.path, passphraseFrom(k.passEnv))
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	if key.Type() == trust.RSA {
		scheme, err := trust.ParseRSAScheme(k.rsaScheme)
		if err != nil {
			return nil, usageErr("--rsa-scheme: %v", err)
		}
		return key.WithRSAScheme(scheme)
	}
	if k.rsaScheme != "" {
		return nil, usageErr("--rsa-scheme is for rsa keys; %s is %s", k.path, key.Type())
	}
	return key, nil
}

// readInput reads a file the command was given; failures are usage errors.
func readInput(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("read %s: %v", what, err)
	}
	return b, nil
}

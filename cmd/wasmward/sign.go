package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/trust"
)

func newSignCmd(s streams) *cobra.Command {
	var out, detached, format, bundle, version, moduleName string
	var key keyFlags
	var noKeyID bool
	cmd := &cobra.Command{
		Use:   "sign MODULE --key KEY (-o OUT | --detached FILE | --format cosign)",
		Short: "Sign a module (embedded wasmsign2 signature, detached, or cosign-style)",
		Long: `Sign a module.

--format wasmsig (default): add an Ed25519 signature in the wasmsign2 format and
write the signed module to -o OUT. Signing a signed module adds a signer.
--module-version X.Y.Z records a version in a wasmward.version custom section that the
signature covers (used for rollback protection); --module-name NAME records the
module's name the same way (a wasmward.name section): trust policy rules and
the version state use it, whatever the file is called. --detached FILE writes the
signature section payload on its own instead (adding to FILE if it exists).

--format cosign: sign like 'cosign sign-blob --key': a base64 ECDSA P-256 or
RSA (--rsa-scheme pkcs1v15, cosign's, or pss) signature over the SHA-256 of the
file, to -o OUT (stdout without -o), and with --bundle FILE a Sigstore bundle
v0.3 (no transparency log). The wasmsign2 format has Ed25519 only.

Encrypted keys are opened with the passphrase in $` + defaultPasswordEnv + ` (see
--password-env) or $COSIGN_PASSWORD; an empty variable counts as unset. A key
file that group or others may read is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "wasmsig":
				if bundle != "" {
					return usageErr("sign: --bundle needs --format cosign")
				}
				if (out == "") == (detached == "") {
					return usageErr("sign: give exactly one of -o OUT (embedded) or --detached FILE")
				}
			case "cosign":
				if detached != "" || version != "" || moduleName != "" || noKeyID {
					return usageErr("sign: --detached, --module-version, --module-name and --no-key-id are for --format wasmsig (for cosign, sign a module that already carries them)")
				}
			default:
				return usageErr("sign: --format %q: want wasmsig or cosign", format)
			}
			bin, err := readInput("module", args[0])
			if err != nil {
				return err
			}
			k, err := key.load(s)
			if err != nil {
				return err
			}
			if format == "cosign" {
				return signCosign(s, k, bin, out, bundle)
			}
			opts := trust.SignOptions{NoKeyID: noKeyID, Version: version, Name: moduleName}
			if detached != "" {
				existing, err := os.ReadFile(detached)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return usageErr("read detached signature: %v", err)
				}
				sig, err := trust.SignDetached(bin, existing, k, opts)
				if err != nil {
					return withCode(exitFailure, err)
				}
				if err := writeOutput(detached, sig, 0o644); err != nil {
					return withCode(exitFailure, err)
				}
				fmt.Fprintf(s.out, "wrote detached signature %s (key %s)\n", detached, k.Public().Fingerprint())
				return nil
			}
			signed, err := trust.SignModule(bin, k, opts)
			if err != nil {
				return withCode(exitFailure, err)
			}
			if err := writeOutput(out, signed, 0o644); err != nil {
				return withCode(exitFailure, err)
			}
			fmt.Fprintf(s.out, "wrote signed module %s (key %s)\n", out, k.Public().Fingerprint())
			return nil
		},
	}
	f := cmd.Flags()
	key.register(f)
	f.StringVarP(&out, "output", "o", "", "write the signed module (wasmsig) or the base64 signature (cosign) here")
	f.StringVar(&detached, "detached", "", "write a detached wasmsig signature to FILE instead of embedding it")
	f.StringVar(&format, "format", "wasmsig", "signature format: wasmsig or cosign")
	f.StringVar(&bundle, "bundle", "", "cosign: also write a Sigstore bundle v0.3 to FILE")
	f.StringVar(&version, "module-version", "", "record this semantic version of the module in the signed module")
	alias(f, "version", "module-version")
	f.StringVar(&moduleName, "module-name", "", "record this name in the signed module: its identity for trust policy rules and rollback state")
	cmd.MarkFlagsMutuallyExclusive("output", "detached")
	f.BoolVar(&noKeyID, "no-key-id", false, "leave the key ID out of the signature")
	return cmd
}

func signCosign(s streams, k *trust.PrivateKey, bin []byte, out, bundle string) error {
	if k.Type() == trust.Ed25519 {
		return usageErr("sign: --format cosign needs an ecdsa-p256 or rsa key, got %s", k.Type())
	}
	sig, err := trust.SignBlob(k, bin)
	if err != nil {
		return withCode(exitFailure, err)
	}
	if bundle != "" {
		b, err := trust.SignBundle(k, bin)
		if err != nil {
			return withCode(exitFailure, err)
		}
		if err := writeOutput(bundle, b, 0o644); err != nil {
			return withCode(exitFailure, err)
		}
		fmt.Fprintf(s.err, "wrote bundle %s\n", bundle)
	}
	switch {
	case out != "":
		if err := writeOutput(out, sig, 0o644); err != nil {
			return withCode(exitFailure, err)
		}
		fmt.Fprintf(s.err, "wrote signature %s\n", out)
	case bundle == "":
		fmt.Fprintf(s.out, "%s\n", sig)
	}
	return nil
}

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/trust"
)

func newVerifyCmd(s streams) *cobra.Command {
	var trustFile, name, detached, format, sigFile, bundle, attestation, rsaScheme string
	var keys []string
	cmd := &cobra.Command{
		Use:   "verify MODULE (--trust FILE | --key PUB...)",
		Short: "Verify a module's signatures (and attestation) against a trust policy or keys",
		Long: `Verify a module and print who signed it. Exit 0 when verified, 1 when not, 2 on usage errors.

--format wasmsig (default): the embedded signature (or --detached FILE), checked
against the trust policy --trust FILE for the module name --name (default: the
file's base name without .wasm), or against the keys --key PUB (any one suffices).
--attestation FILE also verifies a signed capability manifest (wasmward attest)
against the trust policy and prints the policy it grants.

--format cosign: --sig FILE (cosign sign-blob output) or --bundle FILE (Sigstore
bundle), with --key cosign.pub (ecdsa-p256, or rsa with --rsa-scheme pkcs1v15,
the default, or pss), offline: transparency log entries and timestamps in a
bundle are not verified, and a warning says so; keyless (certificate) bundles
are refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			display := name
			if display == "" {
				display = trust.ModuleName(args[0])
			}
			switch format {
			case "cosign":
				if len(keys) != 1 || trustFile != "" || detached != "" || attestation != "" {
					return usageErr("verify: --format cosign takes exactly one --key and no --trust, --detached or --attestation")
				}
				if (sigFile == "") == (bundle == "") {
					return usageErr("verify: --format cosign needs exactly one of --sig FILE or --bundle FILE")
				}
			case "wasmsig":
				if sigFile != "" || bundle != "" {
					return usageErr("verify: --sig and --bundle are for --format cosign")
				}
				if (trustFile == "") == (len(keys) == 0) {
					return usageErr("verify: give exactly one of --trust FILE or --key PUB")
				}
				if attestation != "" && trustFile == "" {
					return usageErr("verify: --attestation needs --trust")
				}
			default:
				return usageErr("verify: --format %q: want wasmsig or cosign", format)
			}
			bin, err := readInput("module", args[0])
			if err != nil {
				return err
			}
			var pubs []*trust.PublicKey
			for _, k := range keys {
				p, err := trust.LoadPublicKey(k)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if p.Type() == trust.RSA {
					scheme, err := trust.ParseRSAScheme(rsaScheme)
					if err != nil {
						return usageErr("--rsa-scheme: %v", err)
					}
					if p, err = p.WithRSAScheme(scheme); err != nil {
						return withCode(exitUsage, err)
					}
				}
				pubs = append(pubs, p)
			}
			if format == "cosign" {
				return verifyCosign(s, pubs[0], bin, sigFile, bundle)
			}
			var det []byte
			if detached != "" {
				if det, err = readInput("detached signature", detached); err != nil {
					return err
				}
			}
			if trustFile == "" {
				res, err := trust.VerifyModule(bin, det, pubs)
				if err != nil {
					return withCode(exitFailure, fmt.Errorf("verify %s: %w", args[0], err))
				}
				fmt.Fprintf(s.out, "module %s: verified\n", name)
				for _, k := range res.Signers {
					fmt.Fprintf(s.out, "signed by %s %s\n", k.Type(), k.Fingerprint())
				}
				printVersion(s, res.Version)
				return nil
			}
			pol, err := trust.LoadPolicy(trustFile)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var res trust.Result
			var adm trust.Admission
			if det != nil {
				res, err = pol.VerifyDetached(cmd.Context(), display, bin, det)
				if err == nil && attestation != "" {
					env, rerr := readInput("attestation", attestation)
					if rerr != nil {
						return rerr
					}
					adm.Policy, adm.Attestation, err = pol.VerifyAttestation(cmd.Context(), display, bin, env)
					adm.Attested = err == nil
				}
			} else {
				// The same decision as run --trust (without version state):
				// the name is the signed one where the module carries one.
				g := &trust.Gate{Policy: pol}
				m, merr := g.ReadMaterial(bin, name, trust.Files{Module: args[0], Attestation: attestation})
				if merr != nil {
					return withCode(exitUsage, merr)
				}
				adm, err = g.Admit(cmd.Context(), m)
				res, display = adm.Signature, adm.Name
			}
			if err != nil {
				return verifyFailed(err)
			}
			for _, u := range res.Unverified {
				fmt.Fprintf(s.err, "wasmward: warning: the bundle carries %s\n", u)
			}
			if !res.Signed {
				fmt.Fprintf(s.out, "module %s: unsigned, allowed (require_signature: false)\n", display)
			} else {
				fmt.Fprintf(s.out, "module %s: verified (%s)\n", display, ruleText(res))
				if adm.NameSource != "" {
					fmt.Fprintf(s.out, "name %s (%s)\n", adm.Name, adm.NameSource)
				}
				for _, sg := range res.Signers {
					fmt.Fprintf(s.out, "signed by %s\n", sg)
				}
				printVersion(s, res.Version)
			}
			if adm.Attested {
				names := make([]string, len(adm.Attestation.Signers))
				for i, sg := range adm.Attestation.Signers {
					names[i] = sg.Name
				}
				fmt.Fprintf(s.out, "attestation verified (signed by %s); granted policy:\n", strings.Join(names, ", "))
				y, err := adm.Policy.Marshal()
				if err != nil {
					return withCode(exitFailure, err)
				}
				fmt.Fprintf(s.out, "%s", indent(string(y), "  "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&trustFile, "trust", "", "trust policy file (YAML)")
	f.StringArrayVar(&keys, "key", nil, "public key file (repeatable): verify against these keys instead of a trust policy")
	f.StringVar(&name, "name", "", "module name the trust policy is evaluated for, where it allows caller names and the module carries no signed name (default: file base name without .wasm)")
	f.StringVar(&detached, "detached", "", "detached wasmsig signature file")
	f.StringVar(&format, "format", "wasmsig", "signature format: wasmsig or cosign")
	f.StringVar(&sigFile, "sig", "", "cosign: base64 signature file (cosign sign-blob output)")
	f.StringVar(&bundle, "bundle", "", "cosign: Sigstore bundle file")
	f.StringVar(&rsaScheme, "rsa-scheme", "", "rsa keys given with --key: pkcs1v15 (default, cosign's) or pss")
	f.StringVar(&attestation, "attestation", "", "signed capability manifest (DSSE in-toto JSON) to verify too")
	cmd.MarkFlagsMutuallyExclusive("trust", "key")
	cmd.MarkFlagsMutuallyExclusive("sig", "bundle")
	return cmd
}

func verifyCosign(s streams, key *trust.PublicKey, bin []byte, sigFile, bundle string) error {
	if bundle != "" {
		b, err := readInput("bundle", bundle)
		if err != nil {
			return err
		}
		res, err := trust.VerifyBundle(key, bin, b)
		if err != nil {
			return withCode(exitFailure, err)
		}
		for _, u := range res.Unverified {
			fmt.Fprintf(s.err, "wasmward: warning: the bundle carries %s\n", u)
		}
	} else {
		sig, err := readInput("signature", sigFile)
		if err != nil {
			return err
		}
		if err := trust.VerifyBlob(key, bin, sig); err != nil {
			return withCode(exitFailure, err)
		}
	}
	fmt.Fprintf(s.out, "verified: signed by %s %s\n", key.Description(), key.Fingerprint())
	return nil
}

// verifyFailed maps a failed verification (a *trust.RefusedError, or a
// cancelled context) to exit 1 with its one-line reason.
func verifyFailed(err error) error { return withCode(exitFailure, err) }

func ruleText(r trust.Result) string {
	if r.Rule == "" {
		return fmt.Sprintf("%d trusted signature(s), 1 required", len(r.Signers))
	}
	return fmt.Sprintf("rule %q: %d of %d required", r.Rule, len(r.Signers), r.Threshold)
}

func printVersion(s streams, v string) {
	if v != "" {
		fmt.Fprintf(s.out, "version %s\n", v)
	}
}

func indent(text, prefix string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

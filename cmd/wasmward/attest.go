package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/trust"
)

func newAttestCmd(s streams) *cobra.Command {
	var policyFile, out, name, appendTo string
	var key keyFlags
	cmd := &cobra.Command{
		Use:   "attest MODULE --policy FILE --key KEY -o FILE.intoto.json",
		Short: "Sign a capability manifest: the policy a module may run under",
		Long: `Write a DSSE envelope holding an in-toto Statement v1 whose subject is the
module (name and SHA-256) and whose predicate (type ` + trust.PredicateType + `)
is the policy in --policy FILE. 'run --attestation FILE' verifies it against the
trust policy and runs the module under exactly that policy.

--append FILE adds this key's signature to an existing attestation instead
(for trust policy rules that need several signers). It is refused unless FILE
attests MODULE: the same binary, under the same name. The name is the one the
module carries (sign --module-name), else --name, else the file's base name.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bin, err := readInput("module", args[0])
			if err != nil {
				return err
			}
			// A module that names itself is attested under that name.
			own, _, err := trust.ReadMeta(bin)
			if err != nil {
				return withCode(exitFailure, err)
			}
			switch {
			case own != "" && name != "" && name != own:
				return usageErr("attest: --name %q: the module names itself %q (its signed wasmward.name)", name, own)
			case own != "":
				name = own
			case name == "":
				name = trust.ModuleName(args[0])
			}
			k, err := key.load(s)
			if err != nil {
				return err
			}
			var env []byte
			if appendTo != "" {
				prev, err := readInput("attestation", appendTo)
				if err != nil {
					return err
				}
				if env, err = trust.AddAttestationSignature(prev, name, bin, k); err != nil {
					return withCode(exitFailure, err)
				}
			} else {
				p, err := policy.Load(policyFile)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if env, err = trust.Attest(k, name, bin, p); err != nil {
					return withCode(exitFailure, err)
				}
			}
			if err := writeOutput(out, env, 0o644); err != nil {
				return withCode(exitFailure, err)
			}
			fmt.Fprintf(s.out, "wrote attestation %s for module %s (key %s)\n", out, name, k.Public().Fingerprint())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyFile, "policy", "", "policy file (YAML) the module is granted")
	key.register(f)
	f.StringVarP(&out, "output", "o", "", "write the attestation (DSSE JSON) here")
	f.StringVar(&name, "name", "", "module name in the statement (default: file base name without .wasm)")
	f.StringVar(&appendTo, "append", "", "add a signature to this existing attestation")
	cmd.MarkFlagsMutuallyExclusive("policy", "append")
	cmd.MarkFlagsOneRequired("policy", "append")
	if err := cmd.MarkFlagRequired("output"); err != nil {
		panic(err)
	}
	return cmd
}

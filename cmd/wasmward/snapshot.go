package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/snapshot"
	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
	"github.com/wasmward/wasmward/trust"
)

func newSnapshotCmd(s streams) *cobra.Command {
	var out, initFunc, policyFile, attest, name string
	var renames []string
	var keep bool
	var key keyFlags
	cmd := &cobra.Command{
		Use:   "snapshot MODULE -o OUT [--init-func NAME] [--policy FILE] [--sign KEY] [--attest FILE]",
		Short: "Pre-initialise a module (wizer-compatible): run its init export once, keep the state",
		Long: `Instantiate MODULE under the policy (its memory cap, deadline and fuel; fuel
defaults to ` + fmt.Sprint(snapshot.DefaultFuel) + ` units when the policy leaves it unmetered), call its
init export (--init-func; default wizer.initialize, else wizer-initialize), and
write to -o OUT a module whose data segments, memory minimum and mutable
globals hold the state the call left. The init export, _initialize and the
start function are removed (they ran). --rename-func dst=src renames exports
as wizer's -r does (e.g. _start=wizer.resume).

Refused, as wizer refuses them: code that changes tables or drops segments,
imported memories, globals or tables, mutable reference globals, more than one
memory, shared memories; and policies that would let the initialisation hold
host resources (mounts, inherited stdin, network). See docs/snapshot.md.

The snapshot is a new artefact: --sign KEY embeds a wasmsign2 signature over
it, and --attest FILE (with --sign) writes an in-toto statement about it with a
SLSA provenance predicate recording the input's SHA-256, the init export and
the policy. An embedded signature of the input is dropped: it no longer
covers the bytes.

Exit status: 0 written; 126 refused (the module or policy cannot be
snapshotted); 1 the initialisation failed; 2 usage errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attest != "" && key.path == "" {
				return usageErr("snapshot: --attest needs --sign KEY (the statement is signed with it)")
			}
			opts := snapshot.Options{InitFunc: initFunc, KeepInitFunc: keep}
			for _, r := range renames {
				dst, src, ok := strings.Cut(r, "=")
				if !ok || dst == "" || src == "" {
					return usageErr("snapshot: --rename-func %q: want dst=src", r)
				}
				if opts.Renames == nil {
					opts.Renames = map[string]string{}
				}
				if _, dup := opts.Renames[dst]; dup {
					return usageErr("snapshot: --rename-func: %q is a destination twice", dst)
				}
				opts.Renames[dst] = src
			}
			bin, err := readInput("module", args[0])
			if err != nil {
				return err
			}
			if policyFile != "" {
				p, err := policy.Load(policyFile)
				if err != nil {
					return withCode(exitUsage, err)
				}
				opts.Policy = &p
			}
			var k *trust.PrivateKey
			if key.path != "" {
				if k, err = key.load(s); err != nil {
					return err
				}
			}
			res, err := snapshot.Snapshot(cmd.Context(), bin, opts)
			var refusal *sandbox.Refusal
			switch {
			case errors.Is(err, snapshot.ErrRefused):
				return withCode(exitRefused, err)
			case errors.As(err, &refusal):
				return withCode(exitRefused, err)
			case err != nil:
				return withCode(exitFailure, err)
			}
			snap := res.Module
			if k != nil {
				if snap, err = trust.SignModule(snap, k, trust.SignOptions{}); err != nil {
					return withCode(exitFailure, err)
				}
			}
			if err := writeOutput(out, snap, 0o644); err != nil {
				return withCode(exitFailure, err)
			}
			if err := checkWritten(out, snap); err != nil {
				return withCode(exitFailure, err)
			}
			fmt.Fprintf(s.out, "wrote snapshot %s (%s: %d pages, %d data segments, %d bytes of data, %d globals; init used %d fuel in %s)\n",
				out, res.InitFunc, res.MemoryPages, res.Segments, res.DataBytes, res.Globals, res.Init.FuelUsed, res.Init.Duration.Round(1000))
			if attest != "" {
				if name == "" {
					name = trust.ModuleName(out)
				}
				pred, err := snapshot.Provenance(res, trust.ModuleName(args[0]), bin, opts)
				if err != nil {
					return withCode(exitFailure, err)
				}
				env, err := trust.AttestPredicate(k, name, snap, snapshot.ProvenanceType, pred)
				if err != nil {
					return withCode(exitFailure, err)
				}
				if err := writeOutput(attest, env, 0o644); err != nil {
					return withCode(exitFailure, err)
				}
				fmt.Fprintf(s.out, "wrote attestation %s for snapshot %s (key %s)\n", attest, name, k.Public().Fingerprint())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "write the snapshot here")
	f.StringVarP(&initFunc, "init-func", "f", "", "the init export to call (default wizer.initialize, else wizer-initialize)")
	f.StringVar(&policyFile, "policy", "", "policy file (YAML) the initialisation runs under (default: the default policy)")
	f.StringArrayVarP(&renames, "rename-func", "r", nil, "rename export src to dst in the snapshot (dst=src; repeatable)")
	f.BoolVar(&keep, "keep-init-func", false, "keep exporting the init function")
	f.StringVar(&key.path, "sign", "", "sign the snapshot with this private key (embedded wasmsign2 signature)")
	f.StringVar(&key.passEnv, "password-env", defaultPasswordEnv, "environment variable holding the private key's passphrase")
	f.BoolVar(&key.anyMode, "allow-insecure-key-permissions", false, "use a private key file that group or others may read (refused by default)")
	f.StringVar(&attest, "attest", "", "write an in-toto provenance statement about the snapshot here (needs --sign)")
	f.StringVar(&name, "name", "", "the snapshot's name in the statement (default: OUT's base name without .wasm)")
	if err := cmd.MarkFlagRequired("output"); err != nil {
		panic(err)
	}
	return cmd
}

// checkWritten re-reads the snapshot from path and decodes it: what is on
// disk must be what was built and a module our decoder accepts. A file that
// fails is removed.
func checkWritten(path string, want []byte) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		// Written through to a device or pipe: nothing to read back.
		if _, err := wasm.Decode(want); err != nil {
			return fmt.Errorf("snapshot: check %s: %w", path, err)
		}
		return nil
	}
	got, err := os.ReadFile(path)
	if err == nil && string(got) != string(want) {
		err = errors.New("the file does not hold what was written")
	}
	if err == nil {
		_, err = wasm.Decode(got)
	}
	if err != nil {
		if st, serr := os.Stat(path); serr == nil && st.Mode().IsRegular() {
			_ = os.Remove(path)
		}
		return fmt.Errorf("snapshot: check %s after writing: %w", path, err)
	}
	return nil
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/internal/store"
)

// storeFlag is --store, shared by the commands that use the module store.
type storeFlag struct{ dir string }

func (f *storeFlag) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.dir, "store", "", "module store directory (default $WASMWARD_STORE, else $XDG_STATE_HOME/wasmward/store, else ~/.local/state/wasmward/store)")
}

// open opens the store; a directory that cannot be created is a usage error.
func (f *storeFlag) open() (*store.Store, error) {
	dir := f.dir
	if dir == "" {
		d, err := store.DefaultDir()
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		dir = d
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return st, nil
}

func newStoreCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Inspect and clean the local module store",
		Long: `The module store keeps modules by SHA-256 (blobs/sha256/HEX, verified on
every read) and the deployment state (state.db). See docs/deploy.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newStoreLsCmd(s), newStoreGCCmd(s), newStoreUnpinCmd(s))
	return cmd
}

func newStoreLsCmd(s streams) *cobra.Command {
	var sf storeFlag
	var verify, asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the modules in the store and what references them",
		Long: `List every blob in the store with its size, when it was added and the holders
that reference it (route versions, rollback targets, pins). A blob nobody
holds is removed by 'store gc'. --verify hashes every blob; a corrupt or
missing blob is listed with its problem and makes the command exit 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sf.open()
			if err != nil {
				return err
			}
			infos, err := st.List(cmd.Context(), store.ListOptions{Verify: verify})
			if err != nil {
				return withCode(exitFailure, err)
			}
			bad := 0
			for _, bi := range infos {
				if bi.Problem != "" {
					bad++
				}
			}
			if asJSON {
				b, _ := json.MarshalIndent(map[string]any{"store": st.Dir(), "blobs": infos}, "", "  ")
				fmt.Fprintf(s.out, "%s\n", b)
			} else {
				tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DIGEST\tSIZE\tADDED\tHELD BY")
				for _, bi := range infos {
					added, held := "-", "(unreferenced)"
					if !bi.Added.IsZero() {
						added = bi.Added.Local().Format(time.DateTime)
					}
					if len(bi.Holders) > 0 {
						held = strings.Join(bi.Holders, ", ")
					}
					if bi.Problem != "" {
						held += " [" + bi.Problem + "]"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", bi.Digest, bi.Size, added, safetext.OneLine(held))
				}
				tw.Flush()
			}
			if bad > 0 {
				return withCode(exitFailure, fmt.Errorf("store %s: %d blob(s) missing or corrupt", st.Dir(), bad))
			}
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&verify, "verify", false, "hash every blob and report corrupt ones")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newStoreGCCmd(s streams) *cobra.Command {
	var sf storeFlag
	var grace time.Duration
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove the modules nothing references",
		Long: `Remove every blob that no route version, rollback target or pin references,
and the temporary files an interrupted write left, once older than --grace
(a module written by a deploy or pull still in progress is younger). It runs
in one write transaction: a deploy in another process waits for it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if grace < 0 {
				return usageErr("--grace %s: must not be negative", grace)
			}
			st, err := sf.open()
			if err != nil {
				return err
			}
			rep, err := st.GC(cmd.Context(), store.GCOptions{Grace: grace, DryRun: dryRun})
			if err != nil {
				return withCode(exitFailure, err)
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, d := range rep.Removed {
				fmt.Fprintf(s.out, "%s %s\n", verb, d)
			}
			fmt.Fprintf(s.out, "%s %d blob(s), %d bytes, %d temporary file(s); kept %d referenced, %d younger than %s\n",
				verb, len(rep.Removed), rep.FreedBytes, rep.TempFiles, rep.Kept, rep.Young, grace)
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().DurationVar(&grace, "grace", store.DefaultGCGrace, "spare unreferenced blobs younger than this")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be removed, remove nothing")
	return cmd
}

func newStoreUnpinCmd(s streams) *cobra.Command {
	var sf storeFlag
	cmd := &cobra.Command{
		Use:   "unpin NAME",
		Short: "Drop a pin (the reference 'pull' stored a module under)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := sf.open()
			if err != nil {
				return err
			}
			var had []store.Digest
			err = st.Update(cmd.Context(), func(tx *store.Tx) error {
				var err error
				if had, err = tx.Refs(store.PinHolder(args[0])); err != nil {
					return err
				}
				return tx.Unpin(args[0])
			})
			if err != nil {
				return withCode(exitFailure, err)
			}
			if len(had) == 0 {
				return withCode(exitFailure, fmt.Errorf("store %s: no pin %q", st.Dir(), args[0]))
			}
			fmt.Fprintf(s.out, "unpinned %s (%s)\n", safetext.OneLine(args[0]), had[0])
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

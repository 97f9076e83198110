package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/audit"
)

func newAuditCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with the gateway's hash-chained audit log",
	}
	var anchor string
	var noAnchor bool
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check that an audit log is intact",
		Long: `Check the hash chain of an audit log: every record's seq follows the one
before and its prev is the SHA-256 of the line before. A change, insertion,
removal or reordering of any line is reported with its line number.

Removing lines from the end leaves a valid shorter chain: that is caught only
against an anchor, the head (seq and hash of the last record) kept elsewhere.
By default FILE.head, which the gateway rewrites after every write, is used
when it exists; --anchor names another, --no-anchor skips it.

Exit status: 0 intact, 1 tampered with (the line is printed), 2 unreadable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return auditVerify(s, args[0], anchor, noAnchor)
		},
	}
	verify.Flags().StringVar(&anchor, "anchor", "", "head file to check the log's end against (default FILE.head when present)")
	verify.Flags().BoolVar(&noAnchor, "no-anchor", false, "do not check against a head file")
	verify.MarkFlagsMutuallyExclusive("anchor", "no-anchor")
	cmd.AddCommand(verify)
	return cmd
}

func auditVerify(s streams, path, anchorPath string, noAnchor bool) error {
	f, err := os.Open(path)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("audit verify: %w", err))
	}
	defer f.Close()
	var head *audit.Head
	if !noAnchor {
		explicit := anchorPath != ""
		if !explicit {
			anchorPath = path + ".head"
		}
		h, err := audit.ReadHead(anchorPath)
		switch {
		case err == nil:
			head = &h
		case explicit || !errors.Is(err, os.ErrNotExist):
			return withCode(exitUsage, fmt.Errorf("audit verify: %w", err))
		}
	}
	var sum audit.Summary
	if head != nil {
		sum, err = audit.VerifyAnchor(f, *head)
	} else {
		sum, err = audit.Verify(f)
	}
	var te *audit.TamperError
	if errors.As(err, &te) {
		return withCode(exitFailure, fmt.Errorf("%s:%d: tampered: %s", path, te.Line, te.Reason))
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("audit verify: %w", err))
	}
	how := "no anchor: a truncated tail would not show"
	if head != nil {
		how = fmt.Sprintf("anchored at record %d by %s", head.Seq, anchorPath)
	}
	fmt.Fprintf(s.out, "%s: intact, %d records, head seq %d sha256 %s (%s)\n", path, sum.Records, sum.Head.Seq, sum.Head.Hash, how)
	return nil
}

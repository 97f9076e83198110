package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

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
		Use:   "verify FILE|DIR [FILE...]",
		Short: "Check that an audit log is intact, across its rotated files",
		Long: `Check the hash chain of an audit log: every record's seq follows the one
before and its prev is the SHA-256 of the line before. A change, insertion,
removal or reordering of any line is reported with its file and line number.

A rotated log is checked as one chain across its files (FILE.NNNNNNNNNNNNNNNNNNNN
for the rotated ones, in the order of their first records): a missing,
truncated or foreign file in the middle breaks it. With one FILE, its rotated
files are checked with it; with a DIR, the one log kept there; with several
FILEs, exactly those. A set that starts after record 1 must be explained by a
log_pruned record (retention) in the chain.

Removing lines from the end leaves a valid shorter chain: that is caught only
against an anchor, the head (seq and hash of the last record) kept elsewhere.
By default the current file's FILE.head, which the gateway rewrites after
every write, is used when it exists; --anchor names another, --no-anchor
skips it.

Exit status: 0 intact, 1 tampered with (the file and line are printed),
2 unreadable.`,
		Example: `  wasmward audit verify wasmward-audit.jsonl
  wasmward audit verify /var/log/wasmward/
  wasmward audit verify --anchor head-from-siem.json audit.jsonl.0* audit.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return auditVerify(s, args, anchor, noAnchor)
		},
	}
	verify.Flags().StringVar(&anchor, "anchor", "", "head file to check the log's end against (default FILE.head of the current file when present)")
	verify.Flags().BoolVar(&noAnchor, "no-anchor", false, "do not check against a head file")
	verify.MarkFlagsMutuallyExclusive("anchor", "no-anchor")
	cmd.AddCommand(verify)
	return cmd
}

// auditFiles resolves the verify arguments to the log's files and the
// current file (whose .head is the default anchor).
func auditFiles(args []string) (files []string, current string, err error) {
	if len(args) > 1 {
		// Exactly the files given; the current one is the one not rotated.
		for _, a := range args {
			if st, err := os.Stat(a); err != nil {
				return nil, "", err
			} else if st.IsDir() {
				return nil, "", fmt.Errorf("%s is a directory: give one directory or a list of files", a)
			}
		}
		current = args[len(args)-1]
		for _, a := range args {
			if i := strings.LastIndexByte(a, '.'); i < 0 || len(a)-i-1 != 20 || strings.Trim(a[i+1:], "0123456789") != "" {
				current = a
			}
		}
		return args, current, nil
	}
	current = args[0]
	st, err := os.Stat(current)
	if err != nil {
		return nil, "", err
	}
	if st.IsDir() {
		if current, err = audit.LogInDir(current); err != nil {
			return nil, "", err
		}
	}
	files, err = audit.LogFiles(current)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s: no such audit log", current)
	}
	return files, current, err
}

func auditVerify(s streams, args []string, anchorPath string, noAnchor bool) error {
	files, current, err := auditFiles(args)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("audit verify: %w", err))
	}
	var head *audit.Head
	if !noAnchor {
		explicit := anchorPath != ""
		if !explicit {
			anchorPath = current + ".head"
		}
		h, err := audit.ReadHead(anchorPath)
		switch {
		case err == nil:
			head = &h
		case explicit || !errors.Is(err, os.ErrNotExist):
			return withCode(exitUsage, fmt.Errorf("audit verify: %w", err))
		}
	}
	sum, err := audit.VerifyFiles(files, head)
	var te *audit.TamperError
	if errors.As(err, &te) {
		return withCode(exitFailure, fmt.Errorf("%s:%d: tampered: %s", te.File, te.Line, te.Reason))
	}
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("audit verify: %w", err))
	}
	how := "no anchor: a truncated tail would not show"
	if head != nil {
		how = fmt.Sprintf("anchored at record %d by %s", head.Seq, anchorPath)
	}
	where := current
	if len(files) > 1 {
		where = fmt.Sprintf("%s (%d files, from record %d)", current, len(files), sum.First)
	}
	fmt.Fprintf(s.out, "%s: intact, %d records, head seq %d sha256 %s (%s)\n", where, sum.Records, sum.Head.Seq, sum.Head.Hash, how)
	return nil
}

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newAuditCmd is a placeholder until the audit command lands.
func newAuditCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:    "audit",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("audit: not implemented yet"))
		},
	}
}

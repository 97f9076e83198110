package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newScanCmd is a placeholder until the scan command lands.
func newScanCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:    "scan",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("scan: not implemented yet"))
		},
	}
}

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newAttestCmd is a placeholder until the attest command lands.
func newAttestCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:    "attest",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("attest: not implemented yet"))
		},
	}
}

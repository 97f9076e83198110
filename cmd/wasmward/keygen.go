package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newKeygenCmd is a placeholder until the keygen command lands.
func newKeygenCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:    "keygen",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("keygen: not implemented yet"))
		},
	}
}

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSignCmd is a placeholder until the sign command lands.
func newSignCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:    "sign",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("sign: not implemented yet"))
		},
	}
}

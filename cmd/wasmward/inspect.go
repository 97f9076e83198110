package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newInspectCmd is a placeholder until the inspect command lands.
func newInspectCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:    "inspect",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("inspect: not implemented yet"))
		},
	}
}

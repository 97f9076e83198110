package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newSBOMCmd is a placeholder until the sbom command lands.
func newSBOMCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:    "sbom",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withCode(exitUsage, errors.New("sbom: not implemented yet"))
		},
	}
}

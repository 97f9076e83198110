package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/version"
	"github.com/wasmward/wasmward/sbom"
)

// newSBOMCmd builds `wasmward sbom MODULE [--osv DIR] [-o FILE]`: a
// CycloneDX JSON SBOM on stdout or written atomically to FILE. Malformed
// dependency metadata fails the command (exit 1) rather than yield a
// partial SBOM.
func newSBOMCmd(s streams) *cobra.Command {
	var osvDir, out string
	cmd := &cobra.Command{
		Use:   "sbom MODULE",
		Short: "Write a CycloneDX SBOM of what the module was built from",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var db *sbom.Database
			if osvDir != "" {
				var err error
				if db, err = sbom.LoadOSV(osvDir); err != nil {
					return withCode(exitUsage, err)
				}
			}
			bin, err := readModuleFile(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			inv, err := sbom.Read(filepath.Base(args[0]), bin)
			if err != nil {
				var me *sbom.MetadataError
				if errors.As(err, &me) {
					return withCode(exitFailure, fmt.Errorf("sbom %s: malformed dependency metadata: %w", args[0], err))
				}
				return withCode(exitFailure, fmt.Errorf("sbom %s: %w", args[0], err))
			}
			if db != nil {
				inv.MatchOSV(db)
			}
			if out != "" {
				if err := sbom.WriteCycloneDXFile(out, inv, version.Read().Version); err != nil {
					return withCode(exitFailure, err)
				}
				return nil
			}
			if err := sbom.WriteCycloneDX(s.out, inv, version.Read().Version); err != nil {
				return withCode(exitFailure, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&osvDir, "osv", "", "directory of OSV JSON advisories; matches are listed as vulnerabilities")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the SBOM to this file instead of stdout")
	return cmd
}

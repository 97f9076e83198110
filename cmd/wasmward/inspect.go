package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/inspect"
	"github.com/wasmward/wasmward/internal/wasm"
)

// newInspectCmd builds `wasmward inspect MODULE [--json] [--top N]`.
func newInspectCmd(s streams) *cobra.Command {
	var asJSON bool
	var top int
	cmd := &cobra.Command{
		Use:   "inspect MODULE",
		Short: "Describe a module (sections, imports, exports, memories, features, producers, largest functions) or a component (imports, exports, core modules)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bin, err := readModuleFile(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			var rep interface {
				WriteText(io.Writer) error
			}
			if wasm.IsComponent(bin) {
				c, err := wasm.DecodeComponent(bin)
				if err != nil {
					return withCode(exitFailure, fmt.Errorf("inspect %s: %w", args[0], err))
				}
				rep = inspect.InspectComponent(filepath.Base(args[0]), bin, c)
			} else {
				m, err := wasm.Decode(bin)
				if err != nil {
					return withCode(exitFailure, fmt.Errorf("inspect %s: %w", args[0], err))
				}
				rep = inspect.Inspect(filepath.Base(args[0]), bin, m, top)
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(rep)
			}
			return rep.WriteText(s.out)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON instead of text")
	cmd.Flags().IntVar(&top, "top", inspect.DefaultTop, "how many of the largest functions to list")
	return cmd
}

// readModuleFile reads a module with one read into a buffer of the file's
// size; the decoder aliases it, so the module is never copied again.
func readModuleFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	return b, nil
}

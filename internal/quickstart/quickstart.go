// Package quickstart is the gateway configuration that `wasmward serve` runs
// when no --config is given: quickstart.yaml and the example handlers it
// names (built from examples/src by scripts/build-fixtures.sh), embedded so
// that the quickstart works from any directory.
package quickstart

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/wasmward/wasmward/gateway"
)

//go:embed quickstart.yaml hello_http.wasm echo_http.wasm
var files embed.FS

// Name is the name the quickstart configuration goes by in logs and errors.
const Name = "quickstart.yaml (built in)"

// FS returns the files of the quickstart: quickstart.yaml and the modules it
// names, by the paths it names them.
func FS() fs.FS { return files }

// Config parses the quickstart configuration, reading its modules from the
// embedded files.
func Config() (*gateway.Config, error) {
	data, err := fs.ReadFile(files, "quickstart.yaml")
	if err != nil {
		return nil, fmt.Errorf("quickstart: %w", err)
	}
	return gateway.ParseConfig(data, Name, func(p string) ([]byte, error) {
		return fs.ReadFile(files, strings.TrimPrefix(p, "./"))
	}, "")
}

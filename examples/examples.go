// Package examples holds the example handlers built from examples/src by
// scripts/build-fixtures.sh and the quickstart gateway configuration that
// serves them, embedded so that `wasmward serve` works from any directory.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed quickstart.yaml hello_http.wasm echo_http.wasm
var quickstart embed.FS

// QuickstartName is the name the quickstart configuration goes by in logs
// and errors.
const QuickstartName = "quickstart.yaml (built in)"

// Quickstart returns the files of the quickstart: quickstart.yaml and the
// modules it names, by the paths it names them.
func Quickstart() fs.FS { return quickstart }

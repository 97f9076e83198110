//go:build tools

// Package tools pins the module's dependencies in go.mod before the code that
// uses them lands, so parallel work never races on go.mod.
package tools

import (
	_ "github.com/CycloneDX/cyclonedx-go"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "github.com/tetratelabs/wazero"
	_ "golang.org/x/crypto/scrypt"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/time/rate"
	_ "gopkg.in/yaml.v3"
)

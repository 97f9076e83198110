// Package version reports what this wasmward binary is: its own version, the
// Go toolchain and wazero it was built with, and the source revision, all read
// from the build info the Go linker embeds.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info describes a build. Fields the build info does not carry are empty.
type Info struct {
	// Version is the main module's version ("v0.3.0"), "devel" for a build
	// from a source checkout.
	Version string `json:"version"`
	// Go is the toolchain that built the binary ("go1.26.8").
	Go string `json:"go"`
	// Wazero is the version of the wazero runtime linked in.
	Wazero string `json:"wazero"`
	// Revision and Time are the VCS revision and commit time, when the
	// binary was built inside a checkout; Modified says the tree had
	// uncommitted changes.
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Read returns the Info of the running binary.
func Read() Info {
	info := Info{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	return fromBuildInfo(info, bi)
}

func fromBuildInfo(info Info, bi *debug.BuildInfo) Info {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		info.Version = v
	}
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/tetratelabs/wazero" {
			info.Wazero = d.Version
			if d.Replace != nil {
				info.Wazero = d.Replace.Version + " (replaced)"
			}
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line form `wasmward --version` prints:
// "wasmward v0.3.0 (wazero v1.12.0, go1.26.8, linux/amd64)".
func (i Info) String() string {
	parts := []string{}
	if i.Wazero != "" {
		parts = append(parts, "wazero "+i.Wazero)
	}
	parts = append(parts, i.Go, i.Platform)
	return fmt.Sprintf("wasmward %s (%s)", i.Version, strings.Join(parts, ", "))
}

// Long is the multi-line form `wasmward version` prints, one "key: value"
// per line.
func (i Info) Long() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wasmward: %s\n", i.Version)
	if i.Revision != "" {
		rev := i.Revision
		if i.Modified {
			rev += " (modified)"
		}
		fmt.Fprintf(&b, "revision: %s\n", rev)
	}
	if i.Time != "" {
		fmt.Fprintf(&b, "built from commit of: %s\n", i.Time)
	}
	w := i.Wazero
	if w == "" {
		w = "unknown"
	}
	fmt.Fprintf(&b, "wazero: %s\n", w)
	fmt.Fprintf(&b, "go: %s\n", i.Go)
	fmt.Fprintf(&b, "platform: %s\n", i.Platform)
	return b.String()
}

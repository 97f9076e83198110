//go:build !linux

package confine

import (
	"fmt"
	"runtime"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// New reports that confined mounts are not available on this platform. The
// Linux implementation relies on *at system calls that this package has not
// been ported to elsewhere; failing closed is better than an unconfined mount.
func New(hostDir string, readOnly bool) (experimentalsys.FS, error) {
	return nil, fmt.Errorf("open mount %q: confined mounts are not supported on %s", hostDir, runtime.GOOS)
}

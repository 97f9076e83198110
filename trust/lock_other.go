//go:build !unix

package trust

import (
	"context"
	"fmt"
	"runtime"
)

// lockFile is not available here: a version state shared without a lock
// can lose updates, so State refuses to work rather than risk it.
func lockFile(context.Context, string) (func(), error) {
	return nil, fmt.Errorf("version state: file locking is not implemented on %s", runtime.GOOS)
}

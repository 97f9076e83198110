//go:build !linux

package sandbox

import "errors"

// idleThread is Linux only.
func idleThread() error { return errors.ErrUnsupported }

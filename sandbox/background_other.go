//go:build !linux

package sandbox

import "errors"

func mainThread() bool { return false }

// idleThread is Linux only.
func idleThread() error { return errors.ErrUnsupported }

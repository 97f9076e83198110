//go:build !unix

package gateway

func openFileLimit() (uint64, bool) { return 0, false }

// RaiseOpenFileLimit does nothing where there is no RLIMIT_NOFILE.
func RaiseOpenFileLimit() (uint64, error) { return 0, nil }

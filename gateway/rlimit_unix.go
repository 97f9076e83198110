//go:build unix

package gateway

import "syscall"

// openFileLimit returns the process's soft RLIMIT_NOFILE.
func openFileLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}

// RaiseOpenFileLimit raises the process's soft RLIMIT_NOFILE to its hard
// limit (the most an unprivileged process may), and returns the soft limit
// in force afterwards. The gateway sizes its connection limit under it.
func RaiseOpenFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return uint64(rl.Cur), err
		}
		rl = want
	}
	return uint64(rl.Cur), nil
}

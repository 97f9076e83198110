//go:build unix

package gateway

import (
	"syscall"
	"testing"
)

// RaiseOpenFileLimit lifts the soft RLIMIT_NOFILE to the hard limit, and
// connLimit fits connections.max under what the process may open.
func TestRaiseOpenFileLimit(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Skip(err)
	}
	if orig.Max < 1024 {
		t.Skipf("hard limit %d too low to test", orig.Max)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig)
	low := orig
	low.Cur = 512
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	s := fakeServer(t, "connections: {max: 100000, admin_max: 10}\n"+fakeCfg, exitOK(""))
	if got := s.connLimit(); got != 512-10-128 {
		t.Fatalf("connLimit under a soft limit of 512: %d, want %d", got, 512-10-128)
	}
	got, err := RaiseOpenFileLimit()
	if err != nil || got != uint64(orig.Max) {
		t.Fatalf("RaiseOpenFileLimit: %d, %v; want %d", got, err, orig.Max)
	}
	var now syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
	if now.Cur != orig.Max {
		t.Fatalf("soft limit %d after raising, want %d", now.Cur, orig.Max)
	}
}

//go:build unix

package sandbox

import "syscall"

// reserveMemory maps n bytes of private anonymous memory without reserving
// swap for it: the kernel provides zeroed pages as they are first touched,
// so untouched capacity costs address space only. nil when mmap fails.
func reserveMemory(n uint64) []byte {
	if n == 0 || n > 1<<40 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		return nil
	}
	return b
}

// releaseMemory unmaps what reserveMemory returned; its pages go back to
// the kernel at once.
func releaseMemory(b []byte) {
	_ = syscall.Munmap(b)
}

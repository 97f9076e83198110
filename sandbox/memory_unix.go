//go:build unix

package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// reserveMemory maps n bytes of private anonymous memory without reserving
// swap for it: the kernel provides zeroed pages as they are first touched,
// so untouched capacity costs address space only. nil when mmap fails.
func reserveMemory(n uint64) []byte {
	if n == 0 || n > 1<<40 {
		return nil
	}
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
	if err != nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// releaseChunk is how much of a mapping one munmap returns. The kernel
// frees a mapping's pages without yielding its CPU: 64 MiB of touched
// pages took 7.5 ms on the 2-core test machine, during which a thread
// woken on that CPU (another tenant's request) waited for the next
// scheduler tick. 2 MiB is about 0.25 ms of it (BENCHMARKS.md, "Tenants").
const releaseChunk = 2 << 20

// releaseMemory unmaps what reserveMemory returned, from its end, a chunk
// per call, so that the CPU can go to others between chunks.
func releaseMemory(b []byte) {
	base := unsafe.Pointer(unsafe.SliceData(b))
	for n := uint64(len(b)); n > 0; {
		c := min(n, releaseChunk)
		n -= c
		_ = unix.MunmapPtr(unsafe.Add(base, n), uintptr(c))
	}
}

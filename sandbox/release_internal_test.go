//go:build linux

package sandbox

import (
	"errors"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapped reports, page by page, whether [p, p+n) is mapped: msync fails
// with ENOMEM on a range that holds unmapped pages.
func mapped(t *testing.T, p unsafe.Pointer, n uint64) (some, all bool) {
	t.Helper()
	all = true
	ps := uint64(unix.Getpagesize())
	for off := uint64(0); off < n; off += ps {
		err := unix.Msync(unsafe.Slice((*byte)(unsafe.Add(p, off)), ps), unix.MS_ASYNC)
		switch {
		case err == nil:
			some = true
		case errors.Is(err, unix.ENOMEM):
			all = false
		default:
			t.Fatalf("msync at +%d: %v", off, err)
		}
	}
	return some, all
}

// TestReleaseMemoryRanges: releaseMemory unmaps, chunk by chunk from the
// end, exactly the bytes of the slice it is given, whatever their length
// is in chunks (a multiple of the 64 KiB Wasm page, as reserve makes it):
// a page on either side, mapped in the same reservation and written
// before, stays mapped with its bytes, and no page of the slice stays.
func TestReleaseMemoryRanges(t *testing.T) {
	const guard = pageSize
	for _, n := range []uint64{pageSize, releaseChunk - pageSize, releaseChunk, releaseChunk + pageSize,
		5*releaseChunk/2 + 3*pageSize, 64 << 20} {
		arena := reserveMemory(guard + n + guard)
		if arena == nil {
			t.Fatal("reserveMemory failed")
		}
		clear(arena)
		arena[guard-1], arena[guard+n] = 0xA5, 0x5A
		b := arena[guard : guard+n]
		releaseMemory(b)
		base := unsafe.Pointer(unsafe.SliceData(arena))
		if some, _ := mapped(t, unsafe.Add(base, guard), n); some {
			t.Errorf("%d bytes released: some of their pages are still mapped", n)
		}
		if _, all := mapped(t, base, guard); !all || arena[guard-1] != 0xA5 {
			t.Fatalf("%d bytes released: the page before them was unmapped or changed", n)
		}
		if _, all := mapped(t, unsafe.Add(base, guard+n), guard); !all || arena[guard+n] != 0x5A {
			t.Fatalf("%d bytes released: the page after them was unmapped or changed", n)
		}
		releaseMemory(arena[:guard])
		releaseMemory(arena[guard+n:])
	}
}

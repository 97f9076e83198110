package sandbox

import (
	"math/bits"
	"sync"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmward/wasmward/policy"
)

// linearMemory backs one instance's linear memory and enforces the
// per-instance cap: growth past it is refused (memory.grow returns -1) and
// recorded as a memory_limit violation. It is a field of the pooled runState,
// so wazero's Allocate costs no allocation.
type linearMemory struct {
	st    *runState
	pool  *memPool
	buf   []byte
	limit uint64
	peak  uint64
	inUse bool
}

func (lm *linearMemory) reset(pool *memPool, limit uint64) {
	lm.pool, lm.limit, lm.peak, lm.buf, lm.inUse = pool, limit, 0, nil, false
}

// release returns the buffer to the pool if wazero did not free it.
func (lm *linearMemory) release() {
	if lm.buf != nil {
		lm.pool.put(lm.buf)
		lm.buf = nil
	}
	lm.inUse = false
}

// Allocate implements experimental.MemoryAllocator.
func (lm *linearMemory) Allocate(_, _ uint64) experimental.LinearMemory {
	if lm.inUse { // a second memory in one instance: give it its own backing
		other := &linearMemory{st: lm.st, pool: lm.pool, limit: lm.limit, inUse: true}
		return other
	}
	lm.inUse = true
	return lm
}

// Reallocate implements experimental.LinearMemory. wazero only grows.
func (lm *linearMemory) Reallocate(size uint64) []byte {
	if size > lm.limit {
		lm.st.record(&violationError{Kind: KindMemoryLimit, Detail: "memory.grow to " + policy.Size(size).String() +
			" denied: above the " + policy.Size(lm.limit).String() + " per-instance cap"})
		return nil
	}
	old := len(lm.buf)
	if size <= uint64(cap(lm.buf)) {
		lm.buf = lm.buf[:size]
	} else {
		nb := lm.pool.get(size, max(size, min(2*uint64(cap(lm.buf)), lm.limit)))
		copy(nb, lm.buf)
		if lm.buf != nil {
			lm.pool.put(lm.buf)
		}
		lm.buf = nb
	}
	if cap(lm.buf) > 1<<maxPoolShift {
		lm.prefault(lm.buf[old:size])
	}
	if size > lm.peak {
		lm.peak = size
	}
	return lm.buf
}

// prefault touches fresh pages of a large buffer in chunks, checking the
// deadline between chunks. The kernel's cost of first touching a page
// otherwise lands inside the guest's next bulk instruction (a memory.fill of
// a fresh GiB takes seconds), where no deadline check can interrupt it.
func (lm *linearMemory) prefault(b []byte) {
	const chunk = 4 << 20
	for len(b) > 0 {
		n := min(len(b), chunk)
		clear(b[:n])
		b = b[n:]
		if len(b) > 0 {
			lm.st.checkDeadline()
		}
	}
}

// Free implements experimental.LinearMemory.
func (lm *linearMemory) Free() {
	if lm.buf != nil {
		lm.pool.put(lm.buf)
		lm.buf = nil
	}
}

// memPool recycles linear memory buffers of power-of-two capacities between
// minPooled and maxPooled. Buffers are zeroed when they come back, so a new
// instance always sees zeroed memory; larger buffers are left to the GC.
type memPool struct {
	classes [maxPoolShift - minPoolShift + 1]sync.Pool
}

const (
	minPoolShift = 16 // 64 KiB, one page
	maxPoolShift = 24 // 16 MiB
)

func newMemPool() *memPool { return &memPool{} }

// get returns a zeroed buffer of length size and capacity at least want.
func (p *memPool) get(size, want uint64) []byte {
	if want < size {
		want = size
	}
	shift := minPoolShift
	if want > 1<<minPoolShift {
		shift = bits.Len64(want - 1)
	}
	if shift > maxPoolShift {
		return make([]byte, size, want)
	}
	if b, ok := p.classes[shift-minPoolShift].Get().(*[]byte); ok {
		return (*b)[:size]
	}
	return make([]byte, size, 1<<shift)
}

// put zeroes b's used part and keeps it for reuse when its capacity is a class.
func (p *memPool) put(b []byte) {
	c := uint64(cap(b))
	shift := bits.Len64(c) - 1
	if c == 0 || c != 1<<shift || shift < minPoolShift || shift > maxPoolShift {
		return
	}
	clear(b)
	b = b[:0]
	p.classes[shift-minPoolShift].Put(&b)
}

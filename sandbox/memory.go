package sandbox

import (
	"math/bits"
	"sync"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmward/wasmward/policy"
)

// linearMemory backs one instance's linear memory and enforces the
// per-instance cap: growth past it is refused (memory.grow returns -1) and
// recorded as a memory_limit violation. All memories of an instance share
// the cap, and with its tables (meter.TablesGlobal) they share the budget
// (cap + tableAllowance). It is a field of the pooled runState, so
// wazero's Allocate costs no allocation.
//
// Small memories come from a pool of power-of-two buffers (copied when they
// outgrow one). A memory that grows past the largest class gets a
// reservation of address space for everything it may ever reach (the cap
// or its declared maximum, whichever is smaller), where the kernel provides
// pages as they are first touched: growing it never copies and never holds
// two buffers, so host memory stays within the cap (it was about twice the
// cap when memory grew a page at a time). The reservation is unmapped when
// the instance is freed.
type linearMemory struct {
	st      *runState
	pool    *memPool
	primary *linearMemory // the instance's first memory, which keeps the totals; nil on it
	buf     []byte
	limit   uint64 // cap on the instance's linear memories together
	max     uint64 // the memory's own maximum, from Allocate
	mapped  bool   // buf is a reservation (reserve), not from the pool
	inUse   bool
	// img is the module's memory image (nil: none); imaged marks a buf
	// that came from it, which goes back to it.
	img    *memImage
	imaged bool
	imgH   *[]byte // the pool handle of an imaged buf

	// On the primary: the bytes of all the instance's memories, and the
	// most they held.
	total, peak uint64
}

// tableAllowance is how much host memory an instance's tables may hold
// beyond its linear memory cap: tables count against the cap, but this much
// is granted on top so that a program sized to its cap still has room for
// the function table every C or Rust program declares.
const tableAllowance = 64 << 10

func (lm *linearMemory) reset(pool *memPool, img *memImage, limit uint64) {
	lm.pool, lm.limit, lm.peak, lm.total, lm.buf, lm.inUse, lm.mapped = pool, limit, 0, 0, nil, false, false
	lm.img, lm.imaged = img, false
}

// release returns the buffer if wazero did not free it.
func (lm *linearMemory) release() {
	lm.Free()
	lm.inUse = false
}

// Allocate implements experimental.MemoryAllocator.
func (lm *linearMemory) Allocate(_, maxBytes uint64) experimental.LinearMemory {
	if lm.inUse { // a second memory in one instance: its own backing, shared totals
		return &linearMemory{st: lm.st, pool: lm.pool, primary: lm, limit: lm.limit, max: maxBytes, inUse: true}
	}
	lm.inUse, lm.max = true, maxBytes
	return lm
}

// Reallocate implements experimental.LinearMemory. wazero only grows.
func (lm *linearMemory) Reallocate(size uint64) []byte {
	acct := lm
	if lm.primary != nil {
		acct = lm.primary
	}
	old := uint64(len(lm.buf))
	total := acct.total - old + size
	if total > lm.limit {
		lm.st.record(&violationError{Kind: KindMemoryLimit, Detail: "memory.grow to " + policy.Size(total).String() +
			" denied: above the " + policy.Size(lm.limit).String() + " per-instance cap"})
		return nil
	}
	if tables := lm.st.tableBytes(); total+tables > lm.limit+tableAllowance {
		lm.st.record(&violationError{Kind: KindMemoryLimit, Detail: "memory.grow to " + policy.Size(total).String() +
			" denied: with " + policy.Size(tables).String() + " of tables, above the " + policy.Size(lm.limit).String() +
			" per-instance cap"})
		return nil
	}
	switch {
	case size <= uint64(cap(lm.buf)):
		lm.buf = lm.buf[:size]
	case lm.buf == nil && lm.img != nil && lm.primary == nil && size == lm.img.minBytes:
		// Instantiation: the module's data segments were moved into its
		// image (memimage.go).
		lm.buf, lm.imgH = lm.img.get(size)
		lm.imaged = true
	default:
		want := max(size, min(2*uint64(cap(lm.buf)), lm.limit))
		var nb []byte
		if want > 1<<maxPoolShift {
			nb = lm.reserve(size)
		}
		mapped := nb != nil
		if nb == nil {
			nb = lm.pool.get(size, want)
		}
		if lm.buf == nil && lm.img != nil && lm.primary == nil {
			copy(nb, lm.img.data) // not instantiation's size (wazero always asks for it): never without the image
		}
		copy(nb, lm.buf)
		// The old buffer goes back as what it was (pooled or mapped): the
		// new one's kind is set after, or a pooled Go buffer would be
		// unmapped and the new mapping never would.
		lm.freeBuf()
		lm.buf, lm.mapped = nb, mapped
	}
	acct.total = total
	if total > acct.peak {
		acct.peak = total
	}
	lm.st.setMemoryBytes(total)
	if cap(lm.buf) > 1<<maxPoolShift {
		// Touching fresh pages by the megabyte is long work: it is done in
		// the background (Config.WithBackgroundCPU).
		lm.st.demote()
		// May stop the guest at its deadline: the growth is accounted
		// (and reported) already.
		lm.prefault(lm.buf[old:size])
	}
	return lm.buf
}

// reserve maps address space for all the memory may reach and returns its
// first size bytes, or nil when the platform or the kernel refuses (the
// pool's buffers are used then).
func (lm *linearMemory) reserve(size uint64) []byte {
	n := min(lm.limit, lm.max)
	n = max(n, size)
	n = (n + pageSize - 1) &^ (pageSize - 1)
	b := reserveMemory(n)
	if b == nil {
		return nil
	}
	return b[:size]
}

// freeBuf gives the buffer back: unmapped if reserved, else to the pool.
func (lm *linearMemory) freeBuf() {
	switch {
	case lm.buf == nil:
	case lm.imaged:
		lm.img.put(lm.buf, lm.imgH)
		lm.imaged, lm.imgH = false, nil
	case lm.mapped:
		releaseMemory(lm.buf[:cap(lm.buf)])
		lm.mapped = false
	default:
		lm.pool.put(lm.buf)
	}
	lm.buf = nil
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
	lm.freeBuf()
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

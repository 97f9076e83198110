package sandbox

import (
	"testing"
)

// A recycled buffer is zero everywhere a new instance can see, however the
// previous one grew and dirtied it.
func TestMemoryPoolZeroes(t *testing.T) {
	pool := newMemPool()
	st := &runState{}
	for round := range 50 {
		lm := &linearMemory{st: st}
		lm.reset(pool, nil, 8<<20)
		b := lm.Reallocate(65536 * uint64(1+round%3))
		for _, size := range []uint64{3 << 16, 17 << 16, 40 << 16} {
			nb := lm.Reallocate(size)
			if nb == nil {
				t.Fatalf("round %d: growth to %d refused", round, size)
			}
			for i := len(b); i < len(nb); i++ {
				if nb[i] != 0 {
					t.Fatalf("round %d: byte %d of the grown memory is %d", round, i, nb[i])
				}
			}
			b = nb
			for i := range b { // dirty everything the guest can see
				b[i] = 0xa5
			}
		}
		full := b[:cap(b)]
		for i := len(b); i < len(full); i++ {
			if full[i] != 0 {
				t.Fatalf("round %d: byte %d beyond the length is %d", round, i, full[i])
			}
		}
		lm.Free()
		if lm.peak != 40<<16 {
			t.Fatalf("peak %d", lm.peak)
		}
	}
	lm := &linearMemory{st: st}
	lm.reset(pool, nil, 8<<20)
	b := lm.Reallocate(40 << 16)
	for i, c := range b[:cap(b)] {
		if c != 0 {
			t.Fatalf("recycled byte %d is %d", i, c)
		}
	}
	if lm.Reallocate(8<<20+65536) != nil || st.viol == nil || st.viol.Kind != KindMemoryLimit {
		t.Fatalf("growth past the cap: %+v", st.viol)
	}
}

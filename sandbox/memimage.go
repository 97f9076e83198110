package sandbox

import (
	"bytes"
	"math/bits"
	"sync"

	"github.com/wasmward/wasmward/internal/wasm"
)

// memImage is a module's initial linear memory: the bytes its active data
// segments write at instantiation, laid out once at compile time. The
// module given to wazero carries no active data segments; instead the
// memory allocator hands every instance a buffer that already holds the
// image, from a pool of buffers of this module only. A buffer coming back
// is restored (the image copied over its start, the rest of what the
// instance could reach zeroed) before it is pooled, so an instance only
// ever sees the image and zeros, never what an earlier one wrote. This
// replaces wazero's per-instance evaluation and copy of every segment (a
// pre-initialised Go handler has thousands) and the zeroing of the whole
// buffer by one copy of the image and a clear of what was used.
type memImage struct {
	data []byte // the image, trailing zeros trimmed
	// zero marks the restoreChunk-sized chunks of data that hold only
	// zeros (restore then reads the buffer alone).
	zero     []bool
	minBytes uint64 // the memory's declared minimum, what instantiation allocates
	class    uint64 // capacity of the pooled buffers
	pool     sync.Pool
}

// get returns a buffer of length size holding the image, zero past it,
// and the handle to give back with it to put.
func (im *memImage) get(size uint64) ([]byte, *[]byte) {
	if h, ok := im.pool.Get().(*[]byte); ok {
		return (*h)[:size], h
	}
	b := make([]byte, size, im.class)
	copy(b, im.data)
	return b, new([]byte)
}

// put restores b, a buffer from get that an instance used (and may have
// grown within its capacity), and pools it with its handle h: only
// b[:len(b)] was ever reachable, the rest of the capacity is still zero.
func (im *memImage) put(b []byte, h *[]byte) {
	copy(b, im.data)
	clear(b[len(im.data):])
	*h = b[:0]
	im.pool.Put(h)
}

// newMemImage returns the memory image of mod and inst (mod instrumented:
// the same data section) without its active data segments, or nil and
// inst unchanged when the module does not qualify: one defined memory of
// at most the largest pooled class, every active segment at a constant
// offset within the declared minimum (otherwise instantiation fails, and
// wazero's own error should say so), a data section the instrumentation
// left as it was.
func newMemImage(mod *wasm.Module, orig, inst []byte) (*memImage, []byte) {
	if len(mod.Memories) != 1 || mod.ImportCount(wasm.ExternMemory) != 0 || mod.Memories[0].Limits.Shared {
		return nil, inst
	}
	minBytes := mod.Memories[0].Limits.Min * pageSize
	if minBytes == 0 || minBytes > 1<<maxPoolShift {
		return nil, inst
	}
	var end uint64
	active := 0
	for i := range mod.Data {
		d := &mod.Data[i]
		if d.Mode != wasm.ModeActive {
			continue
		}
		off, ok := d.Offset.ConstInt()
		if !ok || d.Memory != 0 || uint64(uint32(off))+uint64(len(d.Init)) > minBytes {
			return nil, inst
		}
		active++
		end = max(end, uint64(uint32(off))+uint64(len(d.Init)))
	}
	if active == 0 {
		return nil, inst
	}
	origData, ok1 := dataSection(orig)
	instData, ok2 := dataSection(inst)
	if !ok1 || !ok2 || !bytes.Equal(origData.Payload, instData.Payload) {
		return nil, inst
	}
	img := make([]byte, end)
	var payload []byte
	kept := uint32(0)
	for i := range mod.Data {
		d := &mod.Data[i]
		if d.Mode == wasm.ModeActive {
			off, _ := d.Offset.ConstInt()
			copy(img[uint32(off):], d.Init)
		}
		if !mod.HasDataCount {
			continue // no memory.init or data.drop can name a segment
		}
		if d.Mode == wasm.ModeActive {
			// An empty passive segment behaves as a dropped active one
			// does after instantiation: memory.init traps unless the length is 0.
			payload = append(payload, 1, 0)
		} else {
			payload = append(wasm.AppendU32(append(payload, 1), uint32(len(d.Init))), d.Init...)
		}
		kept++
	}
	img = img[:len(bytes.TrimRight(img, "\x00"))]
	out := append([]byte(nil), inst[:instData.Offset]...)
	if kept > 0 {
		out = wasm.AppendSection(out, wasm.SectionData, append(wasm.AppendU32(nil, kept), payload...))
	}
	out = append(out, inst[instData.End():]...)
	return imageOf(img, minBytes), out
}

// imageOf is the image data (trailing zeros trimmed) of a memory whose
// declared minimum is minBytes.
func imageOf(data []byte, minBytes uint64) *memImage {
	class := uint64(1) << max(minPoolShift, bits.Len64(minBytes-1))
	zero := make([]bool, (len(data)+restoreChunk-1)/restoreChunk)
	for i := range zero {
		zero[i] = isZero(data[i*restoreChunk : min((i+1)*restoreChunk, len(data))])
	}
	return &memImage{data: data, zero: zero, minBytes: minBytes, class: class}
}

func dataSection(bin []byte) (wasm.Section, bool) {
	secs, err := wasm.Sections(bin)
	if err != nil {
		return wasm.Section{}, false
	}
	for _, s := range secs {
		if s.ID == wasm.SectionData {
			return s, true
		}
	}
	return wasm.Section{}, false
}

package netcap

import (
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// testMem is a flat guest memory for calling the host functions directly.
type testMem struct {
	api.Memory // nil: only the methods below are used
	b          []byte
	top        uint32
}

func newMem(n int) *testMem { return &testMem{b: make([]byte, n), top: 16} }

func (m *testMem) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[off : off+n], true
}

func (m *testMem) Write(off uint32, v []byte) bool {
	b, ok := m.Read(off, uint32(len(v)))
	if ok {
		copy(b, v)
	}
	return ok
}

func (m *testMem) WriteUint32Le(off, v uint32) bool {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return m.Write(off, b[:])
}

// put copies s into the memory and returns its offset and length.
func (m *testMem) put(s string) (uint64, uint64) {
	off := m.top
	copy(m.b[off:], s)
	m.top += uint32(len(s))
	return uint64(off), uint64(len(s))
}

// reqArgs lays out the arguments of req; the status and the handle go to
// offsets 0 and 4.
func (m *testMem) reqArgs(url, method string) []uint64 {
	m.top = 16
	u, ul := m.put(url)
	me, ml := m.put(method)
	return []uint64{u, ul, me, ml, 0, 0, 0, 0, 0, 4}
}

package wasm

import "unicode/utf8"

// reader is a cursor over a byte slice. Positions reported in errors are
// base+pos, so a reader over a sub-slice reports offsets in the whole input.
type reader struct {
	buf  []byte
	pos  int
	base int
	// alloc, when set, is charged for the records decoded from buf.
	alloc *allocBudget
}

// sub returns a reader of b, at offset base, charging the same budget.
func (r *reader) sub(b []byte, base int) reader {
	return reader{buf: b, base: base, alloc: r.alloc}
}

func (r *reader) off() int       { return r.base + r.pos }
func (r *reader) eof() bool      { return r.pos >= len(r.buf) }
func (r *reader) remaining() int { return len(r.buf) - r.pos }

func (r *reader) byte(where string) (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, errAt(r.off(), where, ErrUnexpectedEnd)
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

func (r *reader) bytes(n int, where string) ([]byte, error) {
	if n < 0 || n > len(r.buf)-r.pos {
		return nil, errAt(r.off(), where, ErrUnexpectedEnd)
	}
	b := r.buf[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return b, nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes whose value fits 32 bits.
func (r *reader) u32(where string) (uint32, error) {
	// Fast path: one byte.
	if r.pos < len(r.buf) && r.buf[r.pos] < 0x80 {
		v := r.buf[r.pos]
		r.pos++
		return uint32(v), nil
	}
	start := r.pos
	var v uint32
	for i := range 5 {
		if r.pos >= len(r.buf) {
			return 0, errAt(r.off(), where, ErrUnexpectedEnd)
		}
		b := r.buf[r.pos]
		r.pos++
		if i == 4 && b&0xF0 != 0 {
			return 0, errAt(r.base+start, where, ErrLEB)
		}
		v |= uint32(b&0x7F) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errAt(r.base+start, where, ErrLEB)
}

// u64 reads an unsigned LEB128 of at most 10 bytes whose value fits 64 bits.
func (r *reader) u64(where string) (uint64, error) {
	start := r.pos
	var v uint64
	for i := range 10 {
		if r.pos >= len(r.buf) {
			return 0, errAt(r.off(), where, ErrUnexpectedEnd)
		}
		b := r.buf[r.pos]
		r.pos++
		if i == 9 && b&0xFE != 0 {
			return 0, errAt(r.base+start, where, ErrLEB)
		}
		v |= uint64(b&0x7F) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errAt(r.base+start, where, ErrLEB)
}

// sN reads a signed LEB128 of at most ceil(n/7) bytes whose value fits n bits
// (n is 32, 33 or 64).
func (r *reader) sN(n int, where string) (int64, error) {
	start := r.pos
	maxBytes := (n + 6) / 7
	var v int64
	shift := 0
	for i := range maxBytes {
		if r.pos >= len(r.buf) {
			return 0, errAt(r.off(), where, ErrUnexpectedEnd)
		}
		b := r.buf[r.pos]
		r.pos++
		if i == maxBytes-1 {
			// Last permitted byte: no continuation, and the unused bits must
			// be a sign extension of the last used bit.
			if b&0x80 != 0 {
				return 0, errAt(r.base+start, where, ErrLEB)
			}
			if used := n - 7*i; used < 7 && !checkSignBits(b, used) {
				return 0, errAt(r.base+start, where, ErrLEB)
			}
		}
		v |= int64(b&0x7F) << shift
		shift += 7
		if b < 0x80 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, errAt(r.base+start, where, ErrLEB)
}

// checkSignBits reports whether bits [used..6] of b all equal bit used-1.
func checkSignBits(b byte, used int) bool {
	sign := (b >> (used - 1)) & 1
	for i := used; i < 7; i++ {
		if (b>>i)&1 != sign {
			return false
		}
	}
	return true
}

func (r *reader) s32(where string) (int32, error) {
	v, err := r.sN(32, where)
	return int32(v), err
}

func (r *reader) s33(where string) (int64, error) { return r.sN(33, where) }

func (r *reader) s64(where string) (int64, error) { return r.sN(64, where) }

// name reads a length-prefixed UTF-8 string without copying.
func (r *reader) nameBytes(where string) ([]byte, error) {
	start := r.off()
	n, err := r.u32(where)
	if err != nil {
		return nil, err
	}
	b, err := r.bytes(int(n), where)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, errfAt(start, where, "name is not valid UTF-8")
	}
	return b, nil
}

func (r *reader) name(where string) (string, error) {
	b, err := r.nameBytes(where)
	return string(b), err
}

// AppendU32 appends v as unsigned LEB128 (minimal encoding).
func AppendU32(dst []byte, v uint32) []byte { return AppendU64(dst, uint64(v)) }

// AppendU64 appends v as unsigned LEB128 (minimal encoding).
func AppendU64(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// AppendS32 appends v as signed LEB128 (minimal encoding).
func AppendS32(dst []byte, v int32) []byte { return AppendS64(dst, int64(v)) }

// AppendS64 appends v as signed LEB128 (minimal encoding). It also encodes
// s33 values (block types, heap types).
func AppendS64(dst []byte, v int64) []byte {
	for {
		b := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// AppendName appends a length-prefixed name.
func AppendName(dst []byte, s string) []byte {
	dst = AppendU32(dst, uint32(len(s)))
	return append(dst, s...)
}

// ReadU32 decodes the unsigned LEB128 of at most 5 bytes, whose value fits
// 32 bits, at the start of b, as the binary format encodes u32: it returns
// the value and the number of bytes read. The error wraps ErrUnexpectedEnd
// when b ends inside the number and ErrLEB when it is too long or too
// large. Formats nested in module bytes (a signature section's payload) read
// their integers with it rather than with a decoder of their own.
func ReadU32(b []byte) (v uint32, n int, err error) {
	r := reader{buf: b}
	v, err = r.u32("u32")
	return v, r.pos, err
}

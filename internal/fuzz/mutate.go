package fuzz

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"

	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/sandbox"
)

// maxInput bounds the size of a mutated byte input (and request body).
const maxInput = 4096

var interesting = []byte{0, 1, 0x7f, 0x80, 0xff, ' ', '\n', '/', '%', '0', 'a', 'A', '=', '&', '?', '.', ':'}

// hints is what runs taught the mutator: the comparisons the parent's run
// made that failed (their operands), and a dictionary of values compared
// in any kept input's run. Either may be empty.
type hints struct {
	cmps   []sandbox.Cmp
	tokens [][]byte
}

// mutateBytes returns a mutation of b: one to three of bit flips, random or
// interesting bytes, insertions, deletions, duplications and splices with
// another corpus input (other, may be nil); with hints, also operand
// replacements (see replaceOperand) and dictionary insertions.
func mutateBytes(rng *rand.Rand, b, other []byte, h hints) []byte {
	out := append([]byte(nil), b...)
	n := 1
	if rng.IntN(4) == 0 {
		n += 1 + rng.IntN(3) // sometimes stack a few
	}
	for ; n > 0; n-- {
		switch k := rng.IntN(8); {
		case k < 2 && len(h.cmps) > 0:
			out = replaceOperand(rng, out, h.cmps)
		case k == 2 && len(h.tokens) > 0:
			out = insertToken(rng, out, h.tokens[rng.IntN(len(h.tokens))])
		default:
			out = mutateOnce(rng, out, other)
		}
	}
	if len(out) > maxInput {
		out = out[:maxInput]
	}
	return out
}

func mutateOnce(rng *rand.Rand, b, other []byte) []byte {
	if len(b) == 0 {
		return append(b, byte(rng.IntN(256)))
	}
	i := rng.IntN(len(b))
	switch rng.IntN(10) {
	case 0: // flip a bit
		b[i] ^= 1 << rng.IntN(8)
	case 1: // a random byte
		b[i] = byte(rng.IntN(256))
	case 2, 9: // a printable byte (handlers parse text)
		b[i] = byte(' ' + rng.IntN(95))
	case 3: // an interesting byte
		b[i] = interesting[rng.IntN(len(interesting))]
	case 4: // insert bytes
		n := 1 + rng.IntN(4)
		ins := make([]byte, n)
		for k := range ins {
			ins[k] = byte(rng.IntN(256))
		}
		b = append(b[:i], append(ins, b[i:]...)...)
	case 5: // delete a range
		n := 1 + rng.IntN(min(len(b)-i, 8))
		b = append(b[:i], b[i+n:]...)
	case 6: // duplicate a range
		n := 1 + rng.IntN(min(len(b)-i, 16))
		chunk := append([]byte(nil), b[i:i+n]...)
		j := rng.IntN(len(b) + 1)
		b = append(b[:j], append(chunk, b[j:]...)...)
	case 7: // add or subtract a small number
		b[i] += byte(rng.IntN(35)) - 17
	case 8: // splice: a prefix of b, a suffix of other
		if len(other) > 0 {
			j := rng.IntN(len(other))
			b = append(b[:i:i], other[j:]...)
		} else {
			b[i] = byte(rng.IntN(256))
		}
	}
	return b
}

var (
	methods     = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
	headerNames = []string{"Content-Type", "Accept", "Authorization", "Cookie", "User-Agent", "X-Forwarded-For", "X-Request-Id"}
)

// Request fields mutateRequest changes.
const (
	fieldMethod = iota
	fieldPath
	fieldQuery
	fieldHeaders
	fieldBody
	nFields
)

// mutateRequest returns a mutation of one field of r (field, or one chosen
// at random when field < 0: the body half of the time): its method, path,
// query, a header (added, removed, renamed or changed) or body. It returns
// the field it changed.
func mutateRequest(rng *rand.Rand, r *wagireq.Request, other *wagireq.Request, field int, h hints) (*wagireq.Request, int) {
	c := r.Clone()
	var otherBody []byte
	if other != nil {
		otherBody = other.Body
	}
	if field < 0 {
		field = fieldBody
		if rng.IntN(2) == 0 {
			field = rng.IntN(nFields)
		}
	}
	switch field {
	case fieldMethod:
		if rng.IntN(2) == 0 {
			c.Method = methods[rng.IntN(len(methods))]
		} else {
			c.Method = string(mutateBytes(rng, []byte(c.Method), nil, h))
		}
	case fieldPath:
		c.Path = "/" + strings.TrimPrefix(string(mutateBytes(rng, []byte(c.Path), nil, h)), "/")
	case fieldQuery:
		c.Query = string(mutateBytes(rng, []byte(c.Query), nil, h))
	case fieldHeaders:
		switch k := rng.IntN(4); {
		case k == 0 || len(c.Headers) == 0:
			c.Headers = append(c.Headers, wagireq.Header{Name: headerNames[rng.IntN(len(headerNames))], Value: "x"})
		case k == 1:
			i := rng.IntN(len(c.Headers))
			c.Headers = append(c.Headers[:i], c.Headers[i+1:]...)
		case k == 2:
			i := rng.IntN(len(c.Headers))
			c.Headers[i].Value = string(mutateBytes(rng, []byte(c.Headers[i].Value), nil, h))
		default:
			i := rng.IntN(len(c.Headers))
			c.Headers[i].Name = string(mutateBytes(rng, []byte(c.Headers[i].Name), nil, h))
		}
	default:
		c.Body = mutateBytes(rng, c.Body, otherBody, h)
	}
	return c, field
}

// maxCmpTries bounds the comparisons replaceOperand tries before it
// inserts an operand instead.
const maxCmpTries = 16

// replaceOperand is input-to-state replacement (Redqueen, AFL++'s CmpLog):
// it picks a failed comparison whose one operand appears in b, as 1, 2, 4
// or 8 bytes (no wider than the comparison), little- or big-endian, and
// overwrites one occurrence with the other operand in the same encoding,
// so that the comparison, fed from those bytes, passes next time. When no
// tried comparison's operand appears in b, it inserts one operand's
// encoding at a random place (a token the code looks for).
func replaceOperand(rng *rand.Rand, b []byte, cmps []sandbox.Cmp) []byte {
	type hit struct {
		pos  int
		repl []byte
	}
	var hits []hit
	for try := 0; try < maxCmpTries && len(hits) == 0; try++ {
		c := cmps[rng.IntN(len(cmps))]
		for dir := range 2 {
			from, to := c.A, c.B
			if dir == 1 {
				from, to = c.B, c.A
			}
			for _, w := range []int{1, 2, 4, 8} {
				if w > int(c.Size) || !fits(from, c.Size, w) || !fits(to, c.Size, w) {
					continue
				}
				for _, big := range []bool{false, true} {
					pat, repl := encode(from, w, big), encode(to, w, big)
					for i := 0; i+w <= len(b); {
						j := bytes.Index(b[i:], pat)
						if j < 0 {
							break
						}
						hits = append(hits, hit{i + j, repl})
						i += j + 1
					}
				}
			}
		}
	}
	if len(hits) > 0 {
		h := hits[rng.IntN(len(hits))]
		copy(b[h.pos:], h.repl)
		return b
	}
	c := cmps[rng.IntN(len(cmps))]
	v := c.B
	if rng.IntN(2) == 0 {
		v = c.A
	}
	w := minWidth(v, c.Size)
	return insertToken(rng, b, encode(v, w, rng.IntN(2) == 0))
}

// insertToken inserts tok into b at a random place, or overwrites the
// bytes there (half the time each).
func insertToken(rng *rand.Rand, b, tok []byte) []byte {
	i := rng.IntN(len(b) + 1)
	if rng.IntN(2) == 0 && i+len(tok) <= len(b) {
		copy(b[i:], tok)
		return b
	}
	return append(b[:i], append(append([]byte(nil), tok...), b[i:]...)...)
}

// fits reports whether v, an operand of a comparison of size bytes, is the
// zero- or sign-extension of its low w bytes (a load of w bytes gave it).
func fits(v uint64, size uint8, w int) bool {
	if w >= int(size) {
		return true
	}
	bits := uint(8 * w)
	low := v & (1<<bits - 1)
	if low == v {
		return true
	}
	ext := uint64(int64(low<<(64-bits)) >> (64 - bits)) // sign-extended
	if size == 4 {
		ext = uint64(uint32(ext))
	}
	return ext == v
}

// minWidth is the narrowest of 1, 2, 4, 8 bytes v fits in.
func minWidth(v uint64, size uint8) int {
	for _, w := range []int{1, 2, 4} {
		if fits(v, size, w) {
			return w
		}
	}
	return int(size)
}

// encode returns the low w bytes of v, little- or big-endian.
func encode(v uint64, w int, big bool) []byte {
	var buf [8]byte
	if big {
		binary.BigEndian.PutUint64(buf[:], v)
		return append([]byte(nil), buf[8-w:]...)
	}
	binary.LittleEndian.PutUint64(buf[:], v)
	return append([]byte(nil), buf[:w]...)
}

package fuzz

import (
	"math/rand/v2"
	"strings"

	"github.com/wasmward/wasmward/internal/wagireq"
)

// maxInput bounds the size of a mutated byte input (and request body).
const maxInput = 4096

var interesting = []byte{0, 1, 0x7f, 0x80, 0xff, ' ', '\n', '/', '%', '0', 'a', 'A', '=', '&', '?', '.', ':'}

// mutateBytes returns a mutation of b: one to three of bit flips, random or
// interesting bytes, insertions, deletions, duplications and splices with
// another corpus input (other, may be nil).
func mutateBytes(rng *rand.Rand, b, other []byte) []byte {
	out := append([]byte(nil), b...)
	n := 1
	if rng.IntN(4) == 0 {
		n += 1 + rng.IntN(3) // sometimes stack a few
	}
	for ; n > 0; n-- {
		out = mutateOnce(rng, out, other)
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
func mutateRequest(rng *rand.Rand, r *wagireq.Request, other *wagireq.Request, field int) (*wagireq.Request, int) {
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
			c.Method = string(mutateBytes(rng, []byte(c.Method), nil))
		}
	case fieldPath:
		c.Path = "/" + strings.TrimPrefix(string(mutateBytes(rng, []byte(c.Path), nil)), "/")
	case fieldQuery:
		c.Query = string(mutateBytes(rng, []byte(c.Query), nil))
	case fieldHeaders:
		switch k := rng.IntN(4); {
		case k == 0 || len(c.Headers) == 0:
			c.Headers = append(c.Headers, wagireq.Header{Name: headerNames[rng.IntN(len(headerNames))], Value: "x"})
		case k == 1:
			i := rng.IntN(len(c.Headers))
			c.Headers = append(c.Headers[:i], c.Headers[i+1:]...)
		case k == 2:
			i := rng.IntN(len(c.Headers))
			c.Headers[i].Value = string(mutateBytes(rng, []byte(c.Headers[i].Value), nil))
		default:
			i := rng.IntN(len(c.Headers))
			c.Headers[i].Name = string(mutateBytes(rng, []byte(c.Headers[i].Name), nil))
		}
	default:
		c.Body = mutateBytes(rng, c.Body, otherBody)
	}
	return c, field
}

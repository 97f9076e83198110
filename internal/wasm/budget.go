package wasm

import (
	"fmt"
	"unsafe"
)

// DecodeBudget is the most host memory Decode spends on the records it
// keeps for a module of size bytes (Section, FuncType, Import, ... values
// and their slices; the module's bytes are aliased, not copied): 16 MiB
// plus 4 bytes per module byte. Real modules take under one byte of
// records per module byte (0.08-1.06 on the 67 modules of the real-module
// corpus); hostile shapes of many tiny entries (3-byte empty custom
// sections, 3-byte types, 2-byte segments) take 16 to 240 times their size
// without it. A module over the budget is refused with ErrDecodeBudget
// before the allocation that would exceed it. The name and producers
// sections are charged too; over the budget they are recorded in
// Module.NamesErr or ProducersErr like any other defect of theirs.
func DecodeBudget(size int) uint64 {
	return decodeBudgetBase + decodeBudgetPerByte*uint64(max(size, 0))
}

const (
	decodeBudgetBase    = 16 << 20
	decodeBudgetPerByte = 4
)

// sectionSize is what Decode keeps per section (custom ones included).
const sectionSize = uint64(unsafe.Sizeof(Section{}))

// countSections counts the section headers of bin up to the first that
// does not fit, reading only IDs and sizes.
func countSections(bin []byte) int {
	n, pos := 0, HeaderSize
	for pos < len(bin) {
		size, k, err := ReadU32(bin[min(pos+1, len(bin)):])
		if err != nil || uint64(pos+1+k)+uint64(size) > uint64(len(bin)) {
			break
		}
		pos += 1 + k + int(size)
		n++
	}
	return n
}

// allocBudget is what is left of a module's DecodeBudget.
type allocBudget struct {
	left, total uint64
}

func newAllocBudget(size int) *allocBudget {
	b := DecodeBudget(size)
	return &allocBudget{left: b, total: b}
}

// charge takes n bytes from r's budget, if it has one; at and where name
// the construct for the error.
func (r *reader) charge(n uint64, at int, where string) error {
	b := r.alloc
	if b == nil {
		return nil
	}
	if n > b.left {
		return errAt(at, where, fmt.Errorf("%w: its records need more than the %d MiB allowed for a module of %d bytes (16 MiB + 4 bytes per module byte)",
			ErrDecodeBudget, b.total>>20, (b.total-decodeBudgetBase)/decodeBudgetPerByte))
	}
	b.left -= n
	return nil
}

// vec reads a vector length as count does and charges the budget for n
// records of type T.
func vec[T any](r *reader, where string, minElem int) (int, error) {
	at := r.off()
	n, err := count(r, where, minElem)
	if err != nil {
		return 0, err
	}
	var z T
	if err := r.charge(uint64(n)*uint64(unsafe.Sizeof(z)), at, where); err != nil {
		return 0, err
	}
	return n, nil
}

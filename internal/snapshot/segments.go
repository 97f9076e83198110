package snapshot

import (
	"bytes"
	"sort"
)

// Segment is a range [Offset, End) of memory that a data segment holds.
type Segment struct {
	Offset, End int
}

// MaxSegments bounds the data segments of a snapshot: engines limit them
// (wizer keeps the same headroom under the JS API's 100000).
const MaxSegments = 10_000

// mergeGap is the largest run of zeros kept inside a segment rather than
// split at: a new active segment costs at least four bytes (memory index,
// i32.const and its immediate, length), so a gap of four or fewer zero
// bytes is cheaper to write out.
const mergeGap = 4

// Segments returns the data segments that hold mem's non-zero bytes: each
// maximal run of non-zero bytes, runs separated by at most mergeGap zeros
// merged, and, past MaxSegments, the runs with the smallest gaps merged
// until MaxSegments remain. Zero pages are skipped without being scanned
// byte by byte. The result is sorted and deterministic; it is the layout
// wizer writes for the same memory.
func Segments(mem []byte) []Segment {
	var segs []Segment
	zero := make([]byte, pageSize)
	for page := 0; page < len(mem); page += pageSize {
		end := min(page+pageSize, len(mem))
		if bytes.Equal(mem[page:end], zero[:end-page]) {
			continue
		}
		for i := page; i < end; {
			for i < end && mem[i] == 0 {
				i++
			}
			if i == end {
				break
			}
			j := i
			for j < end && mem[j] != 0 {
				j++
			}
			if n := len(segs); n > 0 && i-segs[n-1].End <= mergeGap {
				segs[n-1].End = j
			} else {
				segs = append(segs, Segment{Offset: i, End: j})
			}
			i = j
		}
	}
	return capSegments(segs)
}

// capSegments merges the segments with the smallest gaps between them
// until at most MaxSegments remain.
func capSegments(segs []Segment) []Segment {
	if len(segs) <= MaxSegments {
		return segs
	}
	type gap struct{ size, index int }
	gaps := make([]gap, len(segs)-1)
	for i := range gaps {
		gaps[i] = gap{segs[i+1].Offset - segs[i].End, i}
	}
	sort.SliceStable(gaps, func(a, b int) bool { return gaps[a].size < gaps[b].size })
	join := make([]bool, len(segs)) // join[i]: segs[i] extends the segment before it
	for _, g := range gaps[:len(segs)-MaxSegments] {
		join[g.index+1] = true
	}
	out := segs[:0]
	for i, s := range segs {
		if join[i] {
			out[len(out)-1].End = s.End
			continue
		}
		out = append(out, s)
	}
	return out
}

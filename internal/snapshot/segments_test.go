package snapshot

import (
	"reflect"
	"testing"
)

func TestSegments(t *testing.T) {
	mem := func(size int, set ...int) []byte {
		b := make([]byte, size)
		for _, i := range set {
			b[i] = 1
		}
		return b
	}
	cases := []struct {
		name string
		mem  []byte
		want []Segment
	}{
		{"all zero", mem(3 * pageSize), nil},
		{"one byte", mem(pageSize, 7), []Segment{{7, 8}}},
		{"gap of 4 merged", mem(pageSize, 10, 15), []Segment{{10, 16}}},
		{"gap of 5 split", mem(pageSize, 10, 16), []Segment{{10, 11}, {16, 17}}},
		{"across a page boundary", mem(2*pageSize, pageSize-1, pageSize), []Segment{{pageSize - 1, pageSize + 1}}},
		{"small gap across a zero page's edge", mem(3*pageSize, pageSize-2, 2*pageSize+1), []Segment{{pageSize - 2, pageSize - 1}, {2*pageSize + 1, 2*pageSize + 2}}},
		{"last byte", mem(pageSize, pageSize-1), []Segment{{pageSize - 1, pageSize}}},
		{"partial page", mem(100, 0, 99), []Segment{{0, 1}, {99, 100}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Segments(c.mem); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Segments = %v, want %v", got, c.want)
			}
		})
	}
}

// Past MaxSegments, the segments with the smallest gaps are merged first,
// down to exactly MaxSegments, keeping every non-zero byte covered.
func TestSegmentsCapped(t *testing.T) {
	const n = MaxSegments + 3
	b := make([]byte, n*8+64)
	var set []int
	for i := 0; i < n; i++ {
		set = append(set, i*8)
	}
	// Three smaller gaps: these are the ones merged.
	set[100], set[2000], set[5000] = set[99]+6, set[1999]+6, set[4999]+6
	for _, i := range set {
		b[i] = 1
	}
	got := Segments(b)
	if len(got) != MaxSegments {
		t.Fatalf("%d segments, want %d", len(got), MaxSegments)
	}
	for _, i := range []int{99, 1998, 4997} {
		if got[i].End-got[i].Offset != 7 {
			t.Errorf("segment %d = %v, want the merge of a 5-byte gap", i, got[i])
		}
	}
	covered := 0
	for _, s := range got {
		for j := s.Offset; j < s.End; j++ {
			covered += int(b[j])
		}
	}
	if covered != n {
		t.Errorf("segments cover %d non-zero bytes, want %d", covered, n)
	}
}

package snapshot

import (
	"bytes"
	"fmt"

	"github.com/wasmward/wasmward/internal/wasm"
)

// SectionDiff is one line of a section-level comparison of two modules.
type SectionDiff struct {
	// Section names the section: "type", "data", "custom name", ...
	Section string
	// Same reports whether both modules hold the section with equal bytes.
	Same bool
	// Detail says how they differ: which side lacks the section, the sizes,
	// and the offset of the first differing byte within the section.
	Detail string
}

// String formats the line as "data: differs: ..." or "type: same".
func (d SectionDiff) String() string {
	if d.Same {
		return d.Section + ": same"
	}
	return d.Section + ": differs: " + d.Detail
}

// DiffSections compares modules a and b section by section, in the order
// of a (then the sections only b has), pairing sections by id (custom
// sections by name and rank). It is how the differential against wizer
// reports where the bytes of two snapshots differ.
func DiffSections(a, b []byte) ([]SectionDiff, error) {
	sa, err := wasm.Sections(a)
	if err != nil {
		return nil, fmt.Errorf("first module: %w", err)
	}
	sb, err := wasm.Sections(b)
	if err != nil {
		return nil, fmt.Errorf("second module: %w", err)
	}
	key := func(secs []wasm.Section) ([]string, map[string]wasm.Section) {
		keys, byKey, seen := []string(nil), map[string]wasm.Section{}, map[string]int{}
		for _, s := range secs {
			k := s.ID.String()
			if s.ID == wasm.SectionCustom {
				k = "custom " + s.Name
			}
			if n := seen[k]; n > 0 {
				k = fmt.Sprintf("%s #%d", k, n+1)
			}
			seen[k]++
			keys = append(keys, k)
			byKey[k] = s
		}
		return keys, byKey
	}
	ka, ma := key(sa)
	kb, mb := key(sb)
	var out []SectionDiff
	for _, k := range ka {
		x := ma[k]
		y, ok := mb[k]
		switch {
		case !ok:
			out = append(out, SectionDiff{Section: k, Detail: fmt.Sprintf("only in the first (%d bytes)", len(x.Payload))})
		case bytes.Equal(x.Payload, y.Payload):
			out = append(out, SectionDiff{Section: k, Same: true})
		default:
			i := 0
			for i < len(x.Payload) && i < len(y.Payload) && x.Payload[i] == y.Payload[i] {
				i++
			}
			out = append(out, SectionDiff{Section: k, Detail: fmt.Sprintf("%d vs %d bytes, first difference at byte %d of the section", len(x.Payload), len(y.Payload), i)})
		}
	}
	for _, k := range kb {
		if _, ok := ma[k]; !ok {
			out = append(out, SectionDiff{Section: k, Detail: fmt.Sprintf("only in the second (%d bytes)", len(mb[k].Payload))})
		}
	}
	return out, nil
}

//go:build bugs

// Adversarial meter tests that fail today (see the security review report).
// Run with `go test -tags bugs ./internal/meter -run TestAdvBug`.
package meter

import (
	"bytes"
	"testing"
	"time"
)

// BUG: Instrument's time is quadratic in block nesting depth: 32000 nested
// blocks (96 KB) take ~0.9 s, 64000 (192 KB) ~3.5 s, a 1 MB body ~100 s;
// nested loops also grow 15x (each becomes block/loop/block/loop), which
// feeds wazero's own quadratic compile (sandbox
// TestAdvBugCompileIgnoresContext). Compile runs before any deadline and
// ignores its context, so a small module pins a CPU for minutes. Safe:
// linear time, or a refusal of nesting deeper than a documented bound.
func TestAdvBugInstrumentQuadraticInNesting(t *testing.T) {
	const depth = 64000
	for _, op := range []byte{0x02, 0x03} {
		body := append(append(bytes.Repeat([]byte{op, 0x40}, depth), bytes.Repeat([]byte{0x0b}, depth)...), 0x0b)
		bin := advModule(1, body, nil)
		start := time.Now()
		_, err := Instrument(bin, Options{})
		if el := time.Since(start); el > time.Second {
			t.Errorf("opcode %#x nested %d deep (%d bytes): Instrument took %v (err %v)", op, depth, len(bin), el, err)
		}
	}
}

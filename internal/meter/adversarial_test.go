package meter

import (
	"bytes"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture/synth"

	"github.com/wasmward/wasmward/internal/wasm"
)

// Instrument runs before anything bounds the module: its time and output
// size must stay linear in the input for shapes an attacker can make huge
// cheaply. Deep nesting is in TestAdvInstrumentLinearInNesting.
func TestAdvInstrumentLinearShapes(t *testing.T) {
	brTable := func(targets int) []byte {
		var b []byte
		b = append(b, 0x02, 0x40, 0x41, 0x00, 0x0e)
		b = wasm.AppendU32(b, uint32(targets))
		for range targets {
			b = append(b, 0x00)
		}
		b = append(b, 0x00, 0x0b, 0x0b)
		return b
	}
	for _, tc := range []struct {
		name   string
		bin    []byte
		growth int // output may be at most growth x input + 4 KiB
	}{
		{"200k empty functions", synth.Module(200000, []byte{0x0b}, nil), 64},
		{"1 MiB straight-line body", synth.Module(1, append(bytes.Repeat([]byte{0x01}, 1<<20), 0x0b), nil), 2},
		{"256k sequential loops", synth.Module(1, append(bytes.Repeat([]byte{0x03, 0x40, 0x0b}, 256<<10), 0x0b), nil), 40},
		{"br_table with 500k targets", synth.Module(1, brTable(500000), nil), 2},
		{"4 billion locals declared", synth.Module(1, []byte{0x0b}, []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f}), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := cpuTime()
			out, err := Instrument(tc.bin, Options{})
			el := cpuTime() - start
			if el > 2*time.Second {
				t.Fatalf("Instrument of %d bytes took %v", len(tc.bin), el)
			}
			if err == nil && len(out) > tc.growth*len(tc.bin)+4096 {
				t.Fatalf("output %d bytes from %d", len(out), len(tc.bin))
			}
		})
	}
}

// Instrument was quadratic in control nesting (every instruction summed
// the labels inserted over all open frames). With the nesting bound lifted,
// 64000 nested blocks or loops (192 KB) must instrument in about linear
// time: the quadratic version took ~3 s each, linear takes ~50 ms.
func TestAdvInstrumentLinearInNesting(t *testing.T) {
	const depth = 64000
	for _, op := range []byte{0x02, 0x03, 0x04} {
		open := []byte{op, 0x40}
		if op == 0x04 {
			open = []byte{0x41, 0x01, op, 0x40} // i32.const 1; if
		}
		body := append(append(bytes.Repeat(open, depth), bytes.Repeat([]byte{0x0b}, depth)...), 0x0b)
		bin := synth.Module(1, body, nil)
		start := cpuTime()
		out, err := Instrument(bin, Options{MaxNesting: depth})
		el := cpuTime() - start
		if err != nil {
			t.Fatalf("opcode %#x nested %d deep: %v", op, depth, err)
		}
		if el > time.Second {
			t.Errorf("opcode %#x nested %d deep (%d bytes): Instrument took %v", op, depth, len(bin), el)
		}
		if len(out) > 16*len(bin)+4096 {
			t.Errorf("opcode %#x: output %d bytes from %d", op, len(out), len(bin))
		}
	}
}

// Indices just past the module's own index spaces would land on the
// meter's state once it appends its globals, locals and imports: they must
// be refused, never made valid.
func TestAdvInstrumentRefusesIndicesIntoMeterState(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"global.set of the would-be fuel global", []byte{0x42, 0x00, 0x24, 0x00, 0x0b}},
		{"global.get of the would-be depth global", []byte{0x23, 0x01, 0x1a, 0x0b}},
		{"local.set of the would-be fuel scratch local", []byte{0x42, 0x00, 0x21, 0x00, 0x0b}},
		{"call of the would-be fuel import", []byte{0x42, 0x00, 0x10, 0x01, 0x1a, 0x0b}},
		{"br past the function label", []byte{0x0c, 0x01, 0x0b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := Instrument(synth.Module(1, tc.body, nil), Options{}); err == nil {
				t.Fatalf("instrumented (%d bytes); want a refusal", len(out))
			}
		})
	}
}

package wasm

import (
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// BenchmarkDecodeGo decodes a multi-megabyte Go wasip1 module and walks
// every instruction of every body: the decode+scan path of `wasmward scan`.
func BenchmarkDecodeGo(b *testing.B) {
	bin := fixture.Bytes(b, "wasm_gohello")
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Decode(bin)
		if err != nil {
			b.Fatal(err)
		}
		var in Instr
		var ir InstrReader
		n := 0
		for i := range m.Code {
			ir.Reset(m.Code[i].Body)
			for ir.Next(&in) {
				n++
			}
			if ir.Err() != nil {
				b.Fatal(ir.Err())
			}
		}
	}
}

// BenchmarkDecodeOnlyGo is Decode alone (which includes one walk of every
// body).
func BenchmarkDecodeOnlyGo(b *testing.B) {
	bin := fixture.Bytes(b, "wasm_gohello")
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(bin); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSectionsGo splits the same module into sections only.
func BenchmarkSectionsGo(b *testing.B) {
	bin := fixture.Bytes(b, "wasm_gohello")
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sections(bin); err != nil {
			b.Fatal(err)
		}
	}
}

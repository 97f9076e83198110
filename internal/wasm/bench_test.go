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
		n := 0
		for i := range m.Code {
			ir := m.Code[i].Body.Instrs()
			for ir.Next(&in) {
				n++
			}
			if ir.Err() != nil {
				b.Fatal(ir.Err())
			}
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

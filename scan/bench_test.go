package scan

import (
	"context"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// BenchmarkScanGo scans the 3 MB Go wasip1 fixture with the default rules.
func BenchmarkScanGo(b *testing.B) {
	bin := fixture.Bytes(b, "sbom_dep")
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		Scan(context.Background(), "sbom_dep.wasm", bin, Options{})
	}
}

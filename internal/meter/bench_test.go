package meter

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmward/wasmward/internal/fixture"
)

// BenchmarkOverhead runs the meter_bench workloads plain and instrumented
// (fuel in 1M-unit slices, the deadline checked at each refill as the
// sandbox does) on the compiler engine. Compare the ns/op of the two
// variants of each workload:
//
//	go test ./internal/meter -run '^$' -bench Overhead -benchtime 5x
func BenchmarkOverhead(b *testing.B) {
	workloads := []struct {
		fn  string
		arg uint64
	}{{"hash", 16}, {"crunch", 8}, {"fib", 27}, {"mandel", 300}}
	plain := fixture.Bytes(b, "meter_bench")
	metered, err := Instrument(plain, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, w := range workloads {
		for _, v := range []struct {
			name string
			bin  []byte
		}{{"plain", plain}, {"fuel", metered}} {
			b.Run(w.fn+"/"+v.name, func(b *testing.B) {
				r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
				defer r.Close(ctx)
				host := &testHost{slice: 1_000_000, budget: 1 << 62}
				if _, err := r.NewHostModuleBuilder(ImportModule).
					NewFunctionBuilder().WithFunc(host.fuel).Export(FuelFunc).
					NewFunctionBuilder().WithFunc(func(context.Context) { panic(errStackLimit) }).Export(StackFunc).
					Instantiate(ctx); err != nil {
					b.Fatal(err)
				}
				m, err := r.Instantiate(ctx, v.bin)
				if err != nil {
					b.Fatal(err)
				}
				fn := m.ExportedFunction(w.fn)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := fn.Call(ctx, w.arg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if v.name == "fuel" {
					b.ReportMetric(float64(host.consumed(m))/float64(b.N), "fuel/op")
				}
			})
		}
	}
}

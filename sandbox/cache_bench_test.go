package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// cpuTime is the CPU time (user and system) the process has used: on a
// shared machine it varies less with the load than elapsed time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startupModules are the project's own modules among bench/startup's 20
// routes (the corpus's are not in the repository): Go and C handlers and
// programs, 14 MB in all.
var startupModules = []string{"gw_hello_go", "gw_echo_go", "conf_go", "wasm_gohello", "sbom_dep",
	"gw_hello", "gw_echo", "gw_counter", "sb_tool", "conf_wasi", "conf_misc"}

// BenchmarkStartup measures what `serve` start-up costs in process: a
// runtime with a compile cache opened, every module of startupModules
// compiled, the runtime closed; cold with the cache directory emptied
// before each iteration, warm with it filled by an earlier start.
// cpu-ns/op is the process's CPU time per start (all goroutines: wazero
// compiles on every core), steadier than ns/op on a loaded machine.
//
//	go test ./sandbox -run '^$' -bench Startup -benchtime 3x
func BenchmarkStartup(b *testing.B) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, 32)
	var bins [][]byte
	for _, n := range startupModules {
		bins = append(bins, fixture.Bytes(b, n))
	}
	start := func(b *testing.B, dir string) sandbox.CacheStats {
		rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCompilationCache(dir, key))
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Close(ctx)
		for i, bin := range bins {
			if _, err := rt.Compile(ctx, bin, policy.Default()); err != nil {
				b.Fatalf("%s: %v", startupModules[i], err)
			}
		}
		return rt.CacheStats()
	}
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			start(b, dir)
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				if !warm {
					b.StopTimer()
					ents, _ := filepath.Glob(filepath.Join(dir, "*"))
					for _, e := range ents {
						os.Remove(e)
					}
					b.StartTimer()
				}
				c0 := cpuTime()
				st := start(b, dir)
				cpu += cpuTime() - c0
				if want := uint64(len(bins)); warm && st.Hits != want || !warm && st.Misses != want {
					b.Fatalf("%+v, want %d %s", st, want, name)
				}
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

package sandbox_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fixture/synth"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// The idle budget counts what an idle instance really holds: its memory and
// tables, and wazero's instance, its call engine and stack and the run state
// beside them. Without the overhead, a module without memory cost the
// budget nothing and a module's whole list of idle instances stayed in
// memory outside any bound in bytes. The heap an idle instance keeps
// (measured over many) must not exceed what the budget charged for it.
func TestReuseIdleAccounting(t *testing.T) {
	ctx := context.Background()
	const n = 40
	for _, tc := range []struct {
		name string
		bin  []byte
	}{
		{"no memory", synth.Module(1, []byte{0x0b}, nil)},
		{"gw_hello", fixture.Bytes(t, "gw_hello")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRuntime(t)
			var ms []*sandbox.Module
			for range n {
				m, err := rt.Compile(ctx, tc.bin, policy.Default())
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close(ctx)
				ms = append(ms, m)
			}
			var a, b runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&a)
			before := sandbox.IdleBytes(rt)
			for _, m := range ms {
				if r := run(t, m, sandbox.Invocation{}); r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 {
					t.Fatalf("run: %+v", r.rep)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&b)
			held := (int64(b.HeapInuse) - int64(a.HeapInuse)) / n
			charged := (sandbox.IdleBytes(rt) - before) / n
			if held <= 0 || charged < held {
				t.Fatalf("an idle instance holds %d bytes of heap and is charged %d against the idle budget", held, charged)
			}
			t.Logf("an idle instance holds %d bytes of heap and is charged %d", held, charged)
		})
	}
}

package sandbox_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// BenchmarkRunHello measures what the gateway pays per request: instantiate a
// fresh instance of a compiled C (wasi-libc) hello and run it to completion.
func BenchmarkRunHello(b *testing.B) {
	rt := newRuntime(b)
	m := compile(b, rt, "sb_tool", policy.Default())
	in := sandbox.Invocation{Name: "hello", Args: []string{"hello"}, Stdout: discard{}, NonBlocking: true}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := m.Run(ctx, in)
		if err != nil || rep.Outcome != sandbox.OutcomeExit || rep.ExitCode != 0 {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}

// BenchmarkRunHelloBackground is BenchmarkRunHello on a Runtime with
// Config.WithBackgroundCPU, which hands every run to a worker goroutine
// (the hello itself never moves to the background: it uses 109 fuel
// units). The difference to BenchmarkRunHello is the hand-off's cost.
func BenchmarkRunHelloBackground(b *testing.B) {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithBackgroundCPU(true))
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	m := compile(b, rt, "sb_tool", policy.Default())
	in := sandbox.Invocation{Name: "hello", Args: []string{"hello"}, Stdout: discard{}, NonBlocking: true}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := m.Run(ctx, in)
		if err != nil || rep.Outcome != sandbox.OutcomeExit || rep.ExitCode != 0 || rep.Background {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}

// BenchmarkRunHelloParallel is BenchmarkRunHello from GOMAXPROCS goroutines,
// on the worker path (the stream is not NonBlocking).
func BenchmarkRunHelloParallel(b *testing.B) {
	rt := newRuntime(b)
	m := compile(b, rt, "sb_tool", policy.Default())
	in := sandbox.Invocation{Name: "hello", Args: []string{"hello"}, Stdout: discard{}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			rep, err := m.Run(ctx, in)
			if err != nil || rep.Outcome != sandbox.OutcomeExit {
				b.Errorf("%v %+v", err, rep)
				return
			}
		}
	})
}

// BenchmarkPlainWazeroHello is the baseline: the same module, uninstrumented,
// instantiated and run by wazero as Go hosts typically use it (no limits).
func BenchmarkPlainWazeroHello(b *testing.B) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	cm, err := r.CompileModule(ctx, fixture.Bytes(b, "sb_tool"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := wazero.NewModuleConfig().WithName("").WithStdout(discard{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := r.InstantiateModule(ctx, cm, cfg.WithArgs("hello", "hello"))
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Close(ctx)
	}
}

// BenchmarkRunHelloEnv is BenchmarkRunHello with 20 CGI-style variables, what
// the gateway passes per request.
func BenchmarkRunHelloEnv(b *testing.B) {
	rt := newRuntime(b)
	m := compile(b, rt, "sb_tool", policy.Default())
	var env []string
	for i := range 20 {
		env = append(env, "HTTP_HEADER_"+strconv.Itoa(i)+"=value-"+strconv.Itoa(i))
	}
	in := sandbox.Invocation{Name: "hello", Args: []string{"hello"}, Env: env, Stdout: discard{}, NonBlocking: true}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := m.Run(ctx, in)
		if err != nil || rep.Outcome != sandbox.OutcomeExit || rep.ExitCode != 0 {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}

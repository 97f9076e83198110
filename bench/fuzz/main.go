// Command fuzz measures the fuzzer on a C and a Go WAGI handler: its
// executions per second, and the coverage instrumentation's overhead as the
// time per execution of the same request on a plain runtime and on a
// coverage runtime (counters read back), interleaved in one process.
//
//	go run ./bench/fuzz [-execs 3000] [-iters 400]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/fuzz"
	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

func main() {
	execs := flag.Int64("execs", 3000, "fuzzing executions per handler")
	iters := flag.Int("iters", 400, "interleaved executions per runtime for the overhead")
	flag.Parse()
	if err := run(*execs, *iters); err != nil {
		fmt.Fprintln(os.Stderr, "fuzz bench:", err)
		os.Exit(1)
	}
}

func run(execs int64, iters int) error {
	ctx := context.Background()
	p := policy.Default()
	p.Limits.Timeout = policy.Duration(2 * time.Second)
	fmt.Println("| handler | fuzz execs/s (-j 1) | plain ms/exec | coverage ms/exec | overhead |")
	fmt.Println("|---|---|---|---|---|")
	for _, name := range []string{"fz_magic", "gw_echo_go"} {
		bin, err := os.ReadFile(filepath.Join(fixture.Dir(), "wasm", name+".wasm"))
		if err != nil {
			return err
		}
		n := execs
		if name == "gw_echo_go" {
			n = max(execs/10, 64)
		}
		res, err := fuzz.Run(ctx, bin, fuzz.Options{Target: fuzz.Target{Kind: fuzz.Request}, Policy: p, Executions: n, Seed: 1, Workers: 1})
		if err != nil {
			return err
		}
		plain, cov, err := overhead(ctx, bin, p, iters)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.0f | %.3f | %.3f | %+.0f%% |\n", name, res.ExecsPerSecond(), plain, cov, 100*(cov/plain-1))
	}
	return nil
}

// overhead returns the median milliseconds per execution of one request
// on a plain runtime and on a coverage runtime, alternating.
func overhead(ctx context.Context, bin []byte, p policy.Policy, iters int) (float64, float64, error) {
	req := &wagireq.Request{Method: "POST", Path: "/x", Body: []byte("hello")}
	var mods [2]*sandbox.Module
	for i, cov := range []bool{false, true} {
		rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCoverage(cov))
		if err != nil {
			return 0, 0, err
		}
		defer rt.Close(ctx)
		if mods[i], err = rt.Compile(ctx, bin, p); err != nil {
			return 0, 0, err
		}
	}
	var times [2][]float64
	var c sandbox.Coverage
	var out bytes.Buffer
	for it := 0; it < iters; it++ {
		for k := range 2 {
			i := (k + it) % 2
			out.Reset()
			in := sandbox.Invocation{Env: req.Env(), Stdin: bytes.NewReader(req.Body), Stdout: &out}
			if i == 1 {
				in.Coverage = &c
			}
			start := time.Now()
			rep, err := mods[i].Run(ctx, in)
			if err != nil || rep.Outcome != sandbox.OutcomeExit {
				return 0, 0, fmt.Errorf("run: %v %v", err, rep)
			}
			times[i] = append(times[i], float64(time.Since(start).Nanoseconds())/1e6)
		}
	}
	med := func(xs []float64) float64 { sort.Float64s(xs); return xs[len(xs)/2] }
	return med(times[0]), med(times[1]), nil
}

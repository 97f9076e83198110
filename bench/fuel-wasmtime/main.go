// Command fuel-wasmtime runs the programs of the fuel benchmark (../fuel/wasm)
// under wasmtime through wasmtime-go (cgo, hence this separate module, which
// the wasmward module never imports) and, as the common reference, under
// plain wazero:
//
//   - wazero:         wazero's compiler, no interruption (the baseline of bench/fuel);
//   - wasmtime:       wasmtime (Cranelift), no interruption;
//   - wasmtime+fuel:  wasmtime with fuel consumption and a large budget;
//   - wasmtime+epoch: wasmtime with epoch interruption and a generous deadline
//     (a ticker advances the epoch every 10 ms).
//
// Rounds are interleaved like bench/fuel's; the table compares medians of the
// CPU time of the process during each run. See BENCHMARKS.md.
//
//	cd bench/fuel-wasmtime && go run . -rounds 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

const (
	benchFuel     = 1_000_000_000_000
	epochTick     = 10 * time.Millisecond
	benchDeadline = 10 * time.Minute
)

var programs = []string{"sha256", "lz", "recurse", "float"}

var variants = []string{"wazero", "wasmtime", "wasmtime+fuel", "wasmtime+epoch"}

func main() {
	rounds := flag.Int("rounds", 5, "interleaved rounds; medians are over rounds")
	dir := flag.String("wasm", "../fuel/wasm", "directory holding the benchmark's NAME.wasm")
	flag.Parse()
	if err := run(*rounds, *dir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fuel-wasmtime:", err)
		os.Exit(1)
	}
}

type sample struct {
	compile, wall, cpu time.Duration
	fuel               uint64
}

func run(rounds int, dir string, out io.Writer) error {
	bins := map[string][]byte{}
	for _, p := range programs {
		b, err := os.ReadFile(filepath.Join(dir, p+".wasm"))
		if err != nil {
			return err
		}
		bins[p] = b
	}
	engines := map[string]*wasmtime.Engine{}
	for _, v := range variants[1:] {
		cfg := wasmtime.NewConfig()
		cfg.SetConsumeFuel(v == "wasmtime+fuel")
		cfg.SetEpochInterruption(v == "wasmtime+epoch")
		engines[v] = wasmtime.NewEngineWithConfig(cfg)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the epoch clock
		t := time.NewTicker(epochTick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				engines["wasmtime+epoch"].IncrementEpoch()
			}
		}
	}()

	samples := map[string]map[string][]sample{}
	want := map[string]string{}
	for r := 0; r < rounds; r++ {
		for i, p := range programs {
			if samples[p] == nil {
				samples[p] = map[string][]sample{}
			}
			for j := range variants {
				v := variants[(j+r*len(programs)+i)%len(variants)]
				s, got, err := once(v, engines[v], bins[p])
				if err != nil {
					return fmt.Errorf("round %d, %s under %s: %w", r+1, p, v, err)
				}
				if w, ok := want[p]; ok && w != got {
					return fmt.Errorf("round %d, %s under %s: output %q, other runs printed %q", r+1, p, v, got, w)
				}
				want[p] = got
				samples[p][v] = append(samples[p][v], s)
				fmt.Fprintf(out, "round %d %-8s %-15s wall %7.3fs cpu %7.3fs  %s\n", r+1, p, v, s.wall.Seconds(), s.cpu.Seconds(), strings.TrimSpace(got))
			}
		}
	}

	fmt.Fprintf(out, "\n%s %s/%s, %d CPUs, %d rounds; medians of cpu time\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), rounds)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "program\t")
	for _, v := range variants {
		fmt.Fprintf(tw, "%s\tratio\t", v)
	}
	fmt.Fprint(tw, "wasmtime fuel\t\n")
	logSum := make([]float64, len(variants))
	for _, p := range programs {
		fmt.Fprintf(tw, "%s\t", p)
		base := medianCPU(samples[p][variants[0]])
		var fuel uint64
		for j, v := range variants {
			m := medianCPU(samples[p][v])
			r := float64(m) / float64(base)
			logSum[j] += math.Log(r)
			fmt.Fprintf(tw, "%.3fs\t%.2fx\t", m.Seconds(), r)
			for _, s := range samples[p][v] {
				fuel = max(fuel, s.fuel)
			}
		}
		fmt.Fprintf(tw, "%.3g\t\n", float64(fuel))
	}
	fmt.Fprint(tw, "geomean\t")
	for j := range variants {
		fmt.Fprintf(tw, "\t%.3fx\t", math.Exp(logSum[j]/float64(len(programs))))
	}
	fmt.Fprint(tw, "\t\n")
	return tw.Flush()
}

func medianCPU(ss []sample) time.Duration {
	var ds []time.Duration
	for _, s := range ss {
		ds = append(ds, s.cpu)
	}
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// processCPU is the CPU time the process has used (all threads).
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// once compiles bin for variant v, runs it once and returns timings and stdout.
func once(v string, engine *wasmtime.Engine, bin []byte) (sample, string, error) {
	runtime.GC()
	if v == "wazero" {
		return onceWazero(bin)
	}
	var s sample
	t0 := time.Now()
	mod, err := wasmtime.NewModule(engine, bin)
	s.compile = time.Since(t0)
	if err != nil {
		return s, "", fmt.Errorf("compile: %w", err)
	}
	defer mod.Close()
	tmp, err := os.CreateTemp("", "fuel-wasmtime-*.out")
	if err != nil {
		return s, "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	c0, t0 := processCPU(), time.Now()
	store := wasmtime.NewStore(engine)
	defer store.Close()
	wasi := wasmtime.NewWasiConfig()
	wasi.SetArgv([]string{"bench"})
	if err := wasi.SetStdoutFile(tmp.Name()); err != nil {
		return s, "", err
	}
	store.SetWasi(wasi)
	switch v {
	case "wasmtime+fuel":
		if err := store.SetFuel(benchFuel); err != nil {
			return s, "", err
		}
	case "wasmtime+epoch":
		store.SetEpochDeadline(uint64(benchDeadline / epochTick))
	}
	linker := wasmtime.NewLinker(engine)
	defer linker.Close()
	if err := linker.DefineWasi(); err != nil {
		return s, "", err
	}
	inst, err := linker.Instantiate(store, mod)
	if err != nil {
		return s, "", fmt.Errorf("instantiate: %w", err)
	}
	_, err = inst.GetFunc(store, "_start").Call(store)
	var werr *wasmtime.Error
	if errors.As(err, &werr) {
		if code, ok := werr.ExitStatus(); ok && code == 0 {
			err = nil
		}
	}
	s.wall, s.cpu = time.Since(t0), processCPU()-c0
	if err != nil {
		return s, "", fmt.Errorf("run: %w", err)
	}
	if v == "wasmtime+fuel" {
		left, err := store.GetFuel()
		if err != nil {
			return s, "", err
		}
		s.fuel = benchFuel - left
	}
	got, err := os.ReadFile(tmp.Name())
	return s, string(got), err
}

func onceWazero(bin []byte) (sample, string, error) {
	var s sample
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	t0 := time.Now()
	cm, err := rt.CompileModule(ctx, bin)
	s.compile = time.Since(t0)
	if err != nil {
		return s, "", fmt.Errorf("compile: %w", err)
	}
	var stdout strings.Builder
	c0, t0 := processCPU(), time.Now()
	mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithArgs("bench").WithStdout(&stdout))
	s.wall, s.cpu = time.Since(t0), processCPU()-c0
	if mod != nil {
		mod.Close(ctx)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil {
		return s, "", fmt.Errorf("run: %w", err)
	}
	return s, stdout.String(), nil
}

// Command fuel is the metering overhead benchmark of wasmward: it runs a suite
// of CPU-bound C programs (compiled to wasm32-wasi, embedded from wasm/) under
//
//   - plain:    wazero's compiler, no interruption at all (the baseline);
//   - close:    wazero with WithCloseOnContextDone(true) and a generous deadline,
//     wazero's own way to stop a runaway guest;
//   - meter:    the module instrumented by internal/meter (fuel + call depth),
//     on plain wazero with a host fuel function that refills from a large
//     budget and checks a generous deadline at every refill;
//   - wasmward: the module run through wasmward's sandbox (sandbox.Compile,
//     Module.Run) under a policy with a large fuel budget and a generous
//     timeout, so both are active: what `wasmward run` costs.
//
// Runs are interleaved (every round runs every program under every variant, in
// a rotating order), so that drift on a noisy machine hits all variants alike.
// It reports the median execution time per program and variant (compilation is
// timed separately and excluded), each variant's ratio to plain, and the
// geometric mean of the ratios; it fails if the variants' outputs (checksums)
// differ. See BENCHMARKS.md.
//
//	go run ./bench/fuel -rounds 5
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

//go:embed wasm/*.wasm
var wasmFS embed.FS

// program is one module of the suite and the arguments it runs with.
type program struct {
	name string
	args []string
}

// programs is the suite. Sizes are the defaults built into each program, chosen
// to run 0.5-1 s under plain wazero on a 2-core machine.
var programs = []program{
	{name: "sha256"},
	{name: "lz"},
	{name: "recurse"},
	{name: "float"},
}

// quickArgs are small sizes for a smoke run (-quick) and the test.
var quickArgs = map[string][]string{
	"sha256":  {"1"},
	"lz":      {"1"},
	"recurse": {"1"},
	"float":   {"1"},
}

// variant is one way of running a module.
type variant interface {
	// name is the column label.
	name() string
	// compile prepares bin for runs. It returns a runner and is timed by the caller.
	compile(ctx context.Context, bin []byte) (runner, error)
	close(ctx context.Context) error
}

// runner runs a prepared module once.
type runner interface {
	// run instantiates and runs the module with args and returns its stdout.
	// The caller times it.
	run(ctx context.Context, args []string, stdout io.Writer) error
	// fuel is the fuel the last run consumed, 0 if the variant does not meter.
	fuel() uint64
	close(ctx context.Context) error
}

// sample is one timed run.
type sample struct {
	compile, run time.Duration
	cpu          time.Duration // CPU time of the process during the run, 0 if unknown
	fuel         uint64
}

func main() {
	if err := mainErr(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fuel benchmark:", err)
		os.Exit(1)
	}
}

func mainErr(argv []string, out io.Writer) error {
	fs := flag.NewFlagSet("fuel", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "number of interleaved rounds; medians are over rounds")
	quick := fs.Bool("quick", false, "tiny input sizes: a smoke test of the harness, not a measurement")
	only := fs.String("programs", "", "comma-separated subset of programs (default all)")
	vars := fs.String("variants", "plain,close,meter,wasmward", "comma-separated variants to run; the first is the baseline of the ratios")
	markdown := fs.Bool("markdown", false, "also print the result tables as Markdown")
	dump := fs.String("dump", "", "write the instrumented modules to this directory (for wasm-objdump -d) and exit")
	metric := fs.String("metric", "cpu", "what the table compares: cpu (CPU time of the process during the run; wall where unavailable) or wall")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	if *metric != "cpu" && *metric != "wall" {
		return fmt.Errorf("-metric %q: want cpu or wall", *metric)
	}
	if _, ok := processCPU(); !ok {
		*metric = "wall"
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds %d: need at least 1", *rounds)
	}
	progs, err := selectPrograms(*only, *quick)
	if err != nil {
		return err
	}
	if *dump != "" {
		return dumpInstrumented(progs, *dump, out)
	}
	ctx := context.Background()
	vs, err := newVariants(ctx, strings.Split(*vars, ","))
	if err != nil {
		return err
	}
	defer func() {
		for _, v := range vs {
			_ = v.close(ctx)
		}
	}()
	res, err := measure(ctx, progs, vs, *rounds, out)
	if err != nil {
		return err
	}
	res.metric = *metric
	fmt.Fprintf(out, "\n%s %s/%s, %d CPUs, GOMAXPROCS %d, %d rounds; medians of %s time\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), *rounds, *metric)
	res.text(out)
	if *markdown {
		res.markdown(out)
	}
	return nil
}

func selectPrograms(only string, quick bool) ([]program, error) {
	var progs []program
	for _, p := range programs {
		if only != "" && !slices.Contains(strings.Split(only, ","), p.name) {
			continue
		}
		if quick {
			p.args = quickArgs[p.name]
		}
		progs = append(progs, p)
	}
	if len(progs) == 0 {
		return nil, fmt.Errorf("-programs %q: matches none of the suite", only)
	}
	return progs, nil
}

func newVariants(ctx context.Context, names []string) ([]variant, error) {
	var vs []variant
	for _, n := range names {
		var v variant
		var err error
		switch strings.TrimSpace(n) {
		case "plain":
			v, err = newWazero(ctx, false)
		case "close":
			v, err = newWazero(ctx, true)
		case "meter":
			v, err = newMeter(ctx)
		case "wasmward":
			v, err = newSandbox(ctx)
		default:
			err = fmt.Errorf("unknown variant %q (want plain, close, meter or wasmward)", n)
		}
		if err != nil {
			for _, v := range vs {
				_ = v.close(ctx)
			}
			return nil, fmt.Errorf("variant %s: %w", n, err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// results holds samples[program][variant] and each program's reference output.
type results struct {
	metric  string // "cpu" or "wall"
	progs   []program
	vs      []variant
	samples [][][]sample
}

func measure(ctx context.Context, progs []program, vs []variant, rounds int, log io.Writer) (*results, error) {
	res := &results{progs: progs, vs: vs, samples: make([][][]sample, len(progs))}
	bins := make([][]byte, len(progs))
	for i, p := range progs {
		b, err := wasmFS.ReadFile("wasm/" + p.name + ".wasm")
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", p.name, err)
		}
		bins[i] = b
		res.samples[i] = make([][]sample, len(vs))
	}
	want := make([]string, len(progs))
	for r := range rounds {
		for i, p := range progs {
			// Rotate the order so no variant always runs first (or right after
			// the slowest one).
			shift := r*len(progs) + i
			for j := range vs {
				vi := (j + shift) % len(vs)
				s, got, err := once(ctx, vs[vi], bins[i], p.args)
				if err != nil {
					return nil, fmt.Errorf("round %d, %s under %s: %w", r+1, p.name, vs[vi].name(), err)
				}
				if want[i] == "" {
					want[i] = got
				} else if got != want[i] {
					return nil, fmt.Errorf("round %d, %s under %s: output %q, other runs printed %q", r+1, p.name, vs[vi].name(), got, want[i])
				}
				res.samples[i][vi] = append(res.samples[i][vi], s)
				fmt.Fprintf(log, "round %d %-8s %-9s wall %7.3fs cpu %7.3fs  %s\n", r+1, p.name, vs[vi].name(),
					s.run.Seconds(), s.cpu.Seconds(), strings.TrimSpace(got))
			}
		}
	}
	return res, nil
}

// once compiles bin afresh, runs it once and returns the timings and stdout.
func once(ctx context.Context, v variant, bin []byte, args []string) (sample, string, error) {
	var s sample
	// Start every run from a collected heap so one run's garbage does not
	// bill the next.
	runtime.GC()
	debug.FreeOSMemory()
	t0 := time.Now()
	rn, err := v.compile(ctx, bin)
	s.compile = time.Since(t0)
	if err != nil {
		return s, "", fmt.Errorf("compile: %w", err)
	}
	defer rn.close(ctx)
	var out strings.Builder
	// The process's CPU time over the run is the guest's (plus its host
	// calls and whatever the Go runtime does meanwhile, the same for every
	// variant); unlike wall time, it does not count the time other processes
	// of a shared machine hold the CPUs. (Thread CPU time would miss the
	// sandbox, which runs the guest on a goroutine of its own.)
	c0, cpuOK := processCPU()
	t0 = time.Now()
	err = rn.run(ctx, args, &out)
	s.run = time.Since(t0)
	if c1, ok := processCPU(); ok && cpuOK {
		s.cpu = c1 - c0
	}
	if err != nil {
		return s, out.String(), fmt.Errorf("run: %w", err)
	}
	s.fuel = rn.fuel()
	return s, out.String(), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type row struct {
	prog     string
	run      []time.Duration // median per variant
	compile  []time.Duration
	ratio    []float64 // run[v] / run[0]
	fuel     uint64    // fuel of the metered variant, 0 if none
	spreadPc []float64 // (max-min)/median per variant, in percent
}

func (res *results) rows() ([]row, []float64) {
	var rows []row
	logSum := make([]float64, len(res.vs))
	for i, p := range res.progs {
		rw := row{prog: p.name}
		for j := range res.vs {
			var runs, comps []time.Duration
			for _, s := range res.samples[i][j] {
				if res.metric == "cpu" {
					runs = append(runs, s.cpu)
				} else {
					runs = append(runs, s.run)
				}
				comps = append(comps, s.compile)
				if s.fuel != 0 {
					rw.fuel = s.fuel
				}
			}
			m := median(runs)
			rw.run = append(rw.run, m)
			rw.compile = append(rw.compile, median(comps))
			rw.spreadPc = append(rw.spreadPc, 100*float64(slices.Max(runs)-slices.Min(runs))/float64(m))
		}
		for j := range res.vs {
			r := float64(rw.run[j]) / float64(rw.run[0])
			rw.ratio = append(rw.ratio, r)
			logSum[j] += math.Log(r)
		}
		rows = append(rows, rw)
	}
	geo := make([]float64, len(res.vs))
	for j := range geo {
		geo[j] = math.Exp(logSum[j] / float64(len(res.progs)))
	}
	return rows, geo
}

func (res *results) text(out io.Writer) {
	rows, geo := res.rows()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "program\t")
	for _, v := range res.vs {
		fmt.Fprintf(tw, "%s\tratio\tspread\t", v.name())
	}
	fmt.Fprint(tw, "fuel\t\n")
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t", rw.prog)
		for j := range res.vs {
			fmt.Fprintf(tw, "%.3fs\t%.2fx\t%.0f%%\t", rw.run[j].Seconds(), rw.ratio[j], rw.spreadPc[j])
		}
		fmt.Fprintf(tw, "%s\t\n", fuelString(rw.fuel))
	}
	fmt.Fprint(tw, "geomean\t")
	for j := range res.vs {
		fmt.Fprintf(tw, "\t%.3fx\t\t", geo[j])
	}
	fmt.Fprint(tw, "\t\n")
	tw.Flush()
	fmt.Fprintln(out, "\ncompile (median, excluded from the run times above):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t", rw.prog)
		for j, v := range res.vs {
			fmt.Fprintf(tw, "%s %.1fms\t", v.name(), float64(rw.compile[j].Microseconds())/1000)
		}
		fmt.Fprint(tw, "\n")
	}
	tw.Flush()
}

func (res *results) markdown(out io.Writer) {
	rows, geo := res.rows()
	fmt.Fprint(out, "\n| program |")
	for _, v := range res.vs {
		fmt.Fprintf(out, " %s | ratio |", v.name())
	}
	fmt.Fprint(out, " fuel used |\n|---|")
	for range res.vs {
		fmt.Fprint(out, "---:|---:|")
	}
	fmt.Fprint(out, "---:|\n")
	for _, rw := range rows {
		fmt.Fprintf(out, "| %s |", rw.prog)
		for j := range res.vs {
			fmt.Fprintf(out, " %.3f s | %.2fx |", rw.run[j].Seconds(), rw.ratio[j])
		}
		fmt.Fprintf(out, " %s |\n", fuelString(rw.fuel))
	}
	fmt.Fprint(out, "| **geomean** |")
	for j := range res.vs {
		fmt.Fprintf(out, " | **%.3fx** |", geo[j])
	}
	fmt.Fprint(out, " |\n\nCompile time (median; excluded above):\n\n| program |")
	for _, v := range res.vs {
		fmt.Fprintf(out, " %s |", v.name())
	}
	fmt.Fprint(out, "\n|---|")
	for range res.vs {
		fmt.Fprint(out, "---:|")
	}
	fmt.Fprint(out, "\n")
	for _, rw := range rows {
		fmt.Fprintf(out, "| %s |", rw.prog)
		for j := range res.vs {
			fmt.Fprintf(out, " %.1f ms |", float64(rw.compile[j].Microseconds())/1000)
		}
		fmt.Fprint(out, "\n")
	}
}

func fuelString(f uint64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3g", float64(f))
}

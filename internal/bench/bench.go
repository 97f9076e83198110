// Package bench measures a module under its policy (limits on): compile,
// instantiate and run time, fuel and peak memory over many iterations,
// with order statistics and spread, and compares two modules run
// interleaved in one process with a bootstrap confidence interval on the
// ratio of their median times.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Workload is what one iteration runs: _start with Stdin (a command), an
// HTTP request (a WAGI handler), or an export with numeric arguments.
type Workload struct {
	// Function is the export to call ("" runs _start); Args its arguments
	// as decimal text, parsed by the export's signature.
	Function string
	Args     []string
	// Request, when set, is given to a WAGI handler: its CGI environment
	// and its body on stdin.
	Request *wagireq.Request
	// Stdin is the standard input of each iteration (without Request).
	Stdin []byte
}

// Options configures Run and Compare.
type Options struct {
	Policy policy.Policy
	// Iterations measured, after Warmup iterations that are not.
	Iterations, Warmup int
	// CompileSamples is how many times the module is compiled, each in a
	// fresh runtime (compiling is far slower than running, and wazero
	// caches per runtime); 0 means min(Iterations, 5).
	CompileSamples int
	Workload       Workload
	// Seed seeds the bootstrap resampling of Compare.
	Seed uint64
	// Engine selects the wazero engine.
	Engine sandbox.Engine
}

// Stats are order statistics of one measure over the iterations.
type Stats struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	// Spread is the interquartile range divided by the median (0 when the
	// median is 0): how noisy the measure is, robust to outliers.
	Spread float64 `json:"spread"`
}

// Result is what Run measured. Times are in milliseconds, memory in bytes.
type Result struct {
	SHA256      string `json:"sha256"`
	Compile     Stats  `json:"compile_ms"`
	Instantiate Stats  `json:"instantiate_ms"`
	Run         Stats  `json:"run_ms"`
	// Total is instantiate plus run, per iteration: what a request costs.
	Total      Stats `json:"total_ms"`
	Fuel       Stats `json:"fuel"`
	PeakMemory Stats `json:"peak_memory_bytes"`
	// samples of Total, for Compare.
	total []float64
}

// Comparison is what Compare measured: Ratio is the candidate's median
// total time over the baseline's, [Low, High] its 95% bootstrap confidence
// interval.
type Comparison struct {
	Candidate *Result `json:"candidate"`
	Baseline  *Result `json:"baseline"`
	Ratio     float64 `json:"ratio"`
	Low       float64 `json:"ratio_low"`
	High      float64 `json:"ratio_high"`
	// FuelRatio is the ratio of median fuel (deterministic: no interval).
	FuelRatio float64 `json:"fuel_ratio"`
}

// Slower reports whether the candidate is slower than the baseline by more
// than threshold (0.05 for 5%), with confidence: the ratio exceeds
// 1+threshold and the whole 95% interval lies above 1.
func (c *Comparison) Slower(threshold float64) bool {
	return c.Ratio > 1+threshold && c.Low > 1
}

// bootstrapResamples is the number of resamples of the confidence interval.
const bootstrapResamples = 2000

// Run measures bin.
func Run(ctx context.Context, bin []byte, opt Options) (*Result, error) {
	rs, err := measure(ctx, [][]byte{bin}, opt)
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// Compare measures candidate and baseline in one process, their iterations
// interleaved (ABBA order, so drift and warm-up hit both alike).
func Compare(ctx context.Context, candidate, baseline []byte, opt Options) (*Comparison, error) {
	rs, err := measure(ctx, [][]byte{candidate, baseline}, opt)
	if err != nil {
		return nil, err
	}
	c := &Comparison{Candidate: rs[0], Baseline: rs[1]}
	c.Ratio = ratio(median(rs[0].total), median(rs[1].total))
	c.Low, c.High = bootstrap(rs[0].total, rs[1].total, opt.Seed)
	c.FuelRatio = ratio(rs[0].Fuel.Median, rs[1].Fuel.Median)
	return c, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return a / b
}

type subject struct {
	mod     *sandbox.Module
	params  []uint64
	compile []float64
	inst    []float64
	run     []float64
	total   []float64
	fuel    []float64
	mem     []float64
}

func measure(ctx context.Context, bins [][]byte, opt Options) ([]*Result, error) {
	if opt.Iterations < 1 {
		return nil, fmt.Errorf("bench: iterations must be at least 1, got %d", opt.Iterations)
	}
	if opt.Warmup < 0 {
		return nil, fmt.Errorf("bench: warmup must not be negative, got %d", opt.Warmup)
	}
	samples := opt.CompileSamples
	if samples <= 0 {
		samples = min(opt.Iterations, 5)
	}
	cfg := sandbox.NewConfig().WithEngine(opt.Engine).WithStdin(bytes.NewReader(nil))
	subs := make([]*subject, len(bins))
	for i, bin := range bins {
		s := &subject{}
		for range samples {
			d, err := compileOnce(ctx, cfg, bin, opt.Policy)
			if err != nil {
				return nil, err
			}
			s.compile = append(s.compile, ms(d))
		}
		subs[i] = s
	}
	rt, err := sandbox.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer rt.Close(context.Background())
	for i, bin := range bins {
		m, err := rt.Compile(ctx, bin, opt.Policy)
		if err != nil {
			return nil, fmt.Errorf("bench: compile: %w", err)
		}
		defer m.Close(context.Background())
		subs[i].mod = m
		if subs[i].params, err = params(m, opt.Workload); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	for it := -opt.Warmup; it < opt.Iterations; it++ {
		order := subs
		if len(subs) == 2 && it%2 != 0 {
			order = []*subject{subs[1], subs[0]}
		}
		for _, s := range order {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			out.Reset()
			var tm sandbox.Timing
			in := invocation(opt.Workload, s.params, &out)
			in.Timing = &tm
			rep, err := s.mod.Run(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("bench: %s: %w", iterName(it, opt.Warmup), err)
			}
			if bad := failed(rep); bad != "" {
				return nil, fmt.Errorf("bench: %s: the module %s (a benchmark measures successful runs)", iterName(it, opt.Warmup), bad)
			}
			if it < 0 {
				continue
			}
			s.inst = append(s.inst, ms(tm.Instantiate))
			s.run = append(s.run, ms(tm.Call))
			s.total = append(s.total, ms(tm.Instantiate+tm.Call))
			s.fuel = append(s.fuel, float64(rep.FuelUsed))
			s.mem = append(s.mem, float64(rep.PeakMemoryBytes))
		}
	}
	res := make([]*Result, len(subs))
	for i, s := range subs {
		res[i] = &Result{SHA256: s.mod.SHA256(), Compile: stats(s.compile), Instantiate: stats(s.inst),
			Run: stats(s.run), Total: stats(s.total), Fuel: stats(s.fuel), PeakMemory: stats(s.mem), total: s.total}
	}
	return res, nil
}

// iterName names iteration it of the loop that starts at -warmup:
// "warm-up iteration 1" .. "warm-up iteration W", then "iteration 1" ...
func iterName(it, warmup int) string {
	if it < 0 {
		return fmt.Sprintf("warm-up iteration %d", it+warmup+1)
	}
	return fmt.Sprintf("iteration %d", it+1)
}

// failed says how a run did not succeed, or "".
func failed(rep *sandbox.Report) string {
	switch rep.Outcome {
	case sandbox.OutcomeExit:
		if rep.ExitCode != 0 {
			return fmt.Sprintf("exited with status %d", rep.ExitCode)
		}
		return ""
	case sandbox.OutcomeTrap:
		return "trapped: " + rep.Trap
	case sandbox.OutcomeViolation, sandbox.OutcomeRefused:
		return "was stopped: " + rep.Violation.Error()
	}
	return string(rep.Outcome)
}

func compileOnce(ctx context.Context, cfg sandbox.Config, bin []byte, p policy.Policy) (time.Duration, error) {
	rt, err := sandbox.New(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer rt.Close(context.Background())
	start := time.Now()
	m, err := rt.Compile(ctx, bin, p)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("bench: compile: %w", err)
	}
	_ = m.Close(ctx)
	return d, nil
}

// ErrWorkload is wrapped by the errors of a workload the module cannot
// run: no such export, the wrong number of arguments, an argument that is
// no value of its parameter's type. The caller's mistake, not the module's.
var ErrWorkload = errors.New("invalid workload")

// params parses the workload's arguments by the export's signature.
func params(m *sandbox.Module, w Workload) ([]uint64, error) {
	if w.Function == "" {
		if len(w.Args) > 0 && w.Request != nil {
			return nil, fmt.Errorf("bench: %w: a WAGI request takes no arguments", ErrWorkload)
		}
		return nil, nil
	}
	sig, ok := m.Export(w.Function)
	if !ok {
		return nil, fmt.Errorf("bench: %w: the module exports no function %q", ErrWorkload, w.Function)
	}
	if len(sig.Params) != len(w.Args) {
		return nil, fmt.Errorf("bench: %w: %s takes %d arguments, got %d", ErrWorkload, w.Function, len(sig.Params), len(w.Args))
	}
	ps := make([]uint64, len(w.Args))
	for i, a := range w.Args {
		v, err := sandbox.EncodeValue(sig.Params[i], a)
		if err != nil {
			return nil, fmt.Errorf("bench: %w: argument %d: %w", ErrWorkload, i+1, err)
		}
		ps[i] = v
	}
	return ps, nil
}

func invocation(w Workload, ps []uint64, out io.Writer) sandbox.Invocation {
	in := sandbox.Invocation{Function: w.Function, Params: ps, Stdout: out, NonBlocking: true}
	switch {
	case w.Request != nil:
		in.Env = w.Request.Env()
		in.Stdin = bytes.NewReader(w.Request.Body)
	default:
		in.Args = nil
		in.Stdin = bytes.NewReader(w.Stdin)
	}
	if w.Function == "" {
		in.Args = w.Args
	}
	return in
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// stats computes the order statistics of xs (nearest-rank percentiles).
func stats(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	st := Stats{N: len(s), Min: s[0], Max: s[len(s)-1], Median: quantile(s, 0.5), P90: quantile(s, 0.9),
		P99: quantile(s, 0.99), Mean: sum / float64(len(s))}
	if st.Median != 0 {
		st.Spread = (quantile(s, 0.75) - quantile(s, 0.25)) / st.Median
	}
	return st
}

// quantile is the nearest-rank q-quantile of sorted s.
func quantile(s []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return quantile(s, 0.5)
}

// bootstrap returns the 95% percentile-bootstrap interval of
// median(a)/median(b), resampling both with replacement.
func bootstrap(a, b []float64, seed uint64) (lo, hi float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909))
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, bootstrapResamples)
	for k := range ratios {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		ratios[k] = ratio(median(ra), median(rb))
	}
	sort.Float64s(ratios)
	return quantile(ratios, 0.025), quantile(ratios, 0.975)
}

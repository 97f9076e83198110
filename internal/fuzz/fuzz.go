// Package fuzz is wasmward's coverage-guided fuzzer for modules: it runs
// inputs through the sandbox (under the policy, limits on) with the
// meter's edge-coverage counters, keeps the inputs that reach new
// (site, hit-count bucket) pairs, and reports findings: traps, violations,
// invalid WAGI responses and non-zero exits, deduplicated by where they
// happened, minimised and written with a reproduction command.
//
// A run is deterministic for a seed: inputs are generated in fixed-size
// rounds by one random source and their results folded in input order,
// whatever the number of workers, so the same seed and number of
// executions give the same corpus and findings (runs that end in a
// wall-clock timeout are the exception).
package fuzz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/atomicfile"
	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// roundSize is the number of inputs generated per round: fixed, so that
// results do not depend on the number of workers.
const roundSize = 32

// maxMinimizeRuns bounds the executions spent minimising one finding.
const maxMinimizeRuns = 400

// Options configures Run.
type Options struct {
	Target Target
	// Policy the module runs under (its limits included).
	Policy policy.Policy
	// Duration stops the run after this much time (0: no time bound).
	Duration time.Duration
	// Executions stops the run after this many executions of generated
	// inputs, seeds included (0: no bound). One of Duration, Executions
	// or the context must end the run.
	Executions int64
	// Seed makes the run deterministic.
	Seed uint64
	// Workers is the number of inputs run in parallel (at least 1).
	Workers int
	// Dir is the corpus directory: its files are the seeds, inputs that
	// reach new coverage are added to it, findings go to Dir/crashes.
	// "" keeps everything in memory (Result still lists the findings).
	Dir string
	// Blind ignores coverage and comparison operands: every input is a
	// mutation of a seed. The baseline that shows what feedback buys.
	Blind bool
	// Module and PolicyFile name the module and policy files in the
	// reproduction commands (Module defaults to "MODULE").
	Module, PolicyFile string
	// Engine selects the wazero engine (default: the compiler).
	Engine sandbox.Engine
	// Progress, when not nil, receives a status line every few seconds.
	Progress io.Writer
}

// Finding is one distinct problem the fuzzer found.
type Finding struct {
	// Kind is "trap", "violation" (with Violation set), "invalid_response"
	// or "exit" (a non-zero exit status where the target expects 0).
	Kind      string `json:"kind"`
	Violation string `json:"violation,omitempty"`
	// Detail is one line: the trap message, the violation's detail, why the
	// response is invalid, or the exit status.
	Detail string `json:"detail"`
	// Func and Offset locate it: the basic block of the original module
	// where the run stopped (traps and violations) or ended.
	Func   uint32 `json:"func"`
	Offset int    `json:"offset"`
	// Stack is the trap's call stack (innermost first), when it trapped.
	Stack []string `json:"stack,omitempty"`
	// Key is what findings are deduplicated by.
	Key string `json:"key"`
	// Hits counts the inputs that produced it; Exec is the number of the
	// execution that found it first (1-based).
	Hits int   `json:"hits"`
	Exec int64 `json:"exec"`
	// Input is the minimised input, in the target's file form.
	Input []byte `json:"-"`
	// File is where the input was written ("" without Options.Dir).
	File string `json:"file,omitempty"`
	// Repro is a shell command that reproduces it with `wasmward run`.
	Repro string `json:"repro"`
}

// Result is what a run did.
type Result struct {
	Executions int64         `json:"executions"`
	Elapsed    time.Duration `json:"-"`
	// Corpus is the number of inputs kept (seeds included).
	Corpus int `json:"corpus"`
	// Features is the number of distinct (coverage site, hit-count bucket)
	// pairs reached; Sites the number of coverage sites of the module.
	Features int        `json:"features"`
	Sites    int        `json:"sites"`
	Findings []*Finding `json:"findings"`
}

// ExecsPerSecond is Executions divided by the elapsed time.
func (r *Result) ExecsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Executions) / r.Elapsed.Seconds()
}

type fuzzer struct {
	opt    Options
	mod    *sandbox.Module
	sig    sandbox.Signature
	sites  []sandbox.CoverageSite
	rng    *rand.Rand
	corpus []entry
	seen   []uint8  // per counter: the hit-count buckets reached
	hits   []uint32 // per feature: how many executions reached it
	nfeat  int
	found  map[string]*Finding
	order  []*Finding
	execs  int64
	// tokens is the dictionary: operands of the failed comparisons of the
	// kept inputs' runs (encoded in their narrowest width, both byte
	// orders), first maxTokens distinct ones; seenTok indexes it.
	tokens  [][]byte
	seenTok map[string]bool
}

// maxTokens bounds the dictionary; maxEntryCmps the failed comparisons kept
// per corpus input.
const (
	maxTokens    = 512
	maxEntryCmps = 256
)

// entry is a corpus input and, for requests, the field whose mutation
// produced it (-1 for seeds): mutating it again is likeliest to go further
// (the next byte of a comparison).
type entry struct {
	data  []byte
	field int
	feats []int32       // the features the input reaches (counter*8 + bucket bit)
	cmps  []sandbox.Cmp // the comparisons its run made that failed
}

// outcome is what one execution did.
type outcome struct {
	finding *Finding // nil: nothing wrong
	newCov  bool
	cov     []uint16
	feats   []int32
	cmps    []sandbox.Cmp
}

type worker struct {
	cov sandbox.Coverage
	out bytes.Buffer
}

// Run fuzzes the module bin. It returns an error for a module or target
// that cannot be fuzzed (refused by the policy, no such export, a corpus
// file that is no request); findings are in the Result, not errors.
func Run(ctx context.Context, bin []byte, opt Options) (*Result, error) {
	if opt.Workers < 1 {
		opt.Workers = 1
	}
	if opt.Module == "" {
		opt.Module = "MODULE"
	}
	if opt.Duration <= 0 && opt.Executions <= 0 && ctx.Done() == nil {
		return nil, errors.New("fuzz: no bound: set a duration, a number of executions or a context that ends")
	}
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithEngine(opt.Engine).WithCoverage(true))
	if err != nil {
		return nil, fmt.Errorf("fuzz: %w", err)
	}
	defer rt.Close(context.Background())
	mod, err := rt.Compile(ctx, bin, opt.Policy)
	if err != nil {
		return nil, fmt.Errorf("fuzz: compile: %w", err)
	}
	defer mod.Close(context.Background())
	f := &fuzzer{opt: opt, mod: mod, sites: mod.CoverageSites(), found: map[string]*Finding{},
		rng:  rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)),
		seen: make([]uint8, mod.CounterCount()), hits: make([]uint32, 8*mod.CounterCount()), seenTok: map[string]bool{}}
	if opt.Target.Kind == Invoke {
		sig, ok := mod.Export(opt.Target.Function)
		if !ok {
			return nil, fmt.Errorf("fuzz: the module exports no function %q", opt.Target.Function)
		}
		if err := checkSignature(opt.Target.Function, sig); err != nil {
			return nil, fmt.Errorf("fuzz: %w", err)
		}
		f.sig = sig
	}
	seeds, err := f.loadSeeds()
	if err != nil {
		return nil, err
	}
	workers := make([]*worker, opt.Workers)
	for i := range workers {
		workers[i] = &worker{}
	}
	start := time.Now()
	var deadline time.Time
	if opt.Duration > 0 {
		deadline = start.Add(opt.Duration)
	}
	lastReport := start

	// Seeds run first and are kept whatever their coverage.
	batch := seeds
	fields := make([]int, len(seeds))
	for i := range fields {
		fields[i] = -1
	}
	isSeed := true
	for {
		if n := opt.Executions; n > 0 && f.execs+int64(len(batch)) > n {
			batch = batch[:max(n-f.execs, 0)]
		}
		if len(batch) == 0 {
			break
		}
		outs := f.runBatch(ctx, workers, batch)
		if ctx.Err() != nil {
			break
		}
		for i, o := range outs {
			f.execs++
			if o.finding != nil {
				f.record(ctx, workers[0], batch[i], o.finding)
			}
			if isSeed || (o.newCov && !opt.Blind) {
				if err := f.keep(entry{batch[i], fields[i], o.feats, o.cmps}); err != nil {
					return nil, err
				}
			}
		}
		isSeed = false
		if opt.Executions > 0 && f.execs >= opt.Executions {
			break
		}
		now := time.Now()
		if !deadline.IsZero() && now.After(deadline) {
			break
		}
		if opt.Progress != nil && now.Sub(lastReport) >= 2*time.Second {
			lastReport = now
			fmt.Fprintf(opt.Progress, "fuzz: %d execs (%.0f/s), corpus %d, features %d, findings %d\n",
				f.execs, float64(f.execs)/now.Sub(start).Seconds(), len(f.corpus), f.nfeat, len(f.order))
		}
		batch, fields = f.generate(roundSize)
	}
	return &Result{Executions: f.execs, Elapsed: time.Since(start), Corpus: len(f.corpus),
		Features: f.nfeat, Sites: len(f.sites), Findings: f.order}, nil
}

// loadSeeds reads the corpus directory (sorted by name, so the order is
// deterministic) or returns the default seed.
func (f *fuzzer) loadSeeds() ([][]byte, error) {
	var seeds [][]byte
	if f.opt.Dir != "" {
		ents, err := os.ReadDir(f.opt.Dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("fuzz: read corpus: %w", err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(f.opt.Dir, e.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("fuzz: read corpus: %w", err)
			}
			if f.opt.Target.Kind == Request {
				_, c := canonical(data)
				if c == nil {
					return nil, fmt.Errorf("fuzz: corpus file %s: not an HTTP request (the request target's inputs are HTTP/1.1 requests)", p)
				}
				data = c
			}
			seeds = append(seeds, data)
		}
	}
	if len(seeds) == 0 {
		switch f.opt.Target.Kind {
		case Request:
			seeds = append(seeds, (&wagireq.Request{Method: "GET", Path: "/", Body: []byte("hello")}).Marshal())
		case Invoke:
			seeds = append(seeds, make([]byte, 8*len(f.sig.Params)))
		default:
			seeds = append(seeds, []byte("hello"))
		}
	}
	return seeds, nil
}

// generate returns n mutations of corpus inputs and, for requests, the
// field each changed.
func (f *fuzzer) generate(n int) ([][]byte, []int) {
	out, fields := make([][]byte, 0, n), make([]int, 0, n)
	for len(out) < n {
		// Mostly mutated where its parent was: the field whose change
		// reached new code is the likeliest to lead further.
		parent, field := f.pick(), -1
		if f.rng.IntN(4) != 0 {
			field = parent.field
		}
		other := f.corpus[f.rng.IntN(len(f.corpus))]
		h := hints{cmps: parent.cmps, tokens: f.tokens}
		if f.opt.Blind {
			h = hints{}
		}
		if f.opt.Target.Kind != Request {
			out, fields = append(out, mutateBytes(f.rng, parent.data, other.data, h)), append(fields, -1)
			continue
		}
		pr, _ := wagireq.Parse(parent.data)
		or, _ := wagireq.Parse(other.data)
		if pr == nil {
			continue
		}
		mr, used := mutateRequest(f.rng, pr, or, field, h)
		_, data := canonical(mr.Marshal())
		if data == nil {
			data = parent.data // the mutation made no valid request: run the parent again
		}
		out, fields = append(out, data), append(fields, used)
	}
	return out, fields
}

// runBatch runs inputs on the workers and returns their outcomes in order.
// Coverage is folded in order too, so newCov is deterministic.
func (f *fuzzer) runBatch(ctx context.Context, workers []*worker, inputs [][]byte) []outcome {
	outs := make([]outcome, len(inputs))
	var wg sync.WaitGroup
	next := make(chan int)
	for _, w := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			for i := range next {
				outs[i] = f.exec(ctx, w, inputs[i])
				outs[i].cov = append([]uint16(nil), w.cov.Counters...)
				outs[i].cmps = append([]sandbox.Cmp(nil), w.cov.Cmps[:min(len(w.cov.Cmps), maxEntryCmps)]...)
			}
		}(w)
	}
	for i := range inputs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range outs {
		outs[i].newCov, outs[i].feats = f.fold(outs[i].cov)
		outs[i].cov = nil
	}
	return outs
}

// bucket maps a hit count to one of 8 classes (1, 2, 3, 4-7, 8-15, 16-31,
// 32-127, 128+), as AFL does: loops that run a different number of times
// are different behaviour, a few more iterations are not.
func bucket(c uint16) uint8 {
	switch {
	case c == 1:
		return 1
	case c == 2:
		return 2
	case c == 3:
		return 4
	case c < 8:
		return 8
	case c < 16:
		return 16
	case c < 32:
		return 32
	case c < 128:
		return 64
	}
	return 128
}

// fold counts the features of one run's counters and reports whether any
// was new, with the run's features.
func (f *fuzzer) fold(cov []uint16) (bool, []int32) {
	isNew := false
	var feats []int32
	for k, c := range cov {
		if c == 0 || k >= len(f.seen) {
			continue
		}
		b := bucket(c)
		feat := int32(k*8 + bits.TrailingZeros8(b))
		feats = append(feats, feat)
		f.hits[feat]++
		if f.seen[k]&b == 0 {
			f.seen[k] |= b
			f.nfeat++
			isNew = true
		}
	}
	return isNew, feats
}

// pick chooses the next input to mutate: half the time the one kept last
// (what just reached new code is the likeliest to lead further), a quarter
// the one reaching the rarest feature (the fewest executions reached it:
// the frontier, which libFuzzer's and AFL's schedules favour), else any.
func (f *fuzzer) pick() entry {
	switch f.rng.IntN(4) {
	case 0:
		best, score := len(f.corpus)-1, uint32(math.MaxUint32)
		for i, e := range f.corpus {
			for _, ft := range e.feats {
				if h := f.hits[ft]; h < score || h == score && i > best {
					best, score = i, h
				}
			}
		}
		return f.corpus[best]
	case 1, 2:
		return f.corpus[len(f.corpus)-1]
	}
	return f.corpus[f.rng.IntN(len(f.corpus))]
}

// exec runs one input and classifies what it did.
func (f *fuzzer) exec(ctx context.Context, w *worker, data []byte) outcome {
	w.out.Reset()
	in := sandbox.Invocation{Name: filepath.Base(f.opt.Module), Stdout: &w.out, Coverage: &w.cov}
	switch f.opt.Target.Kind {
	case Request:
		r, err := wagireq.Parse(data)
		if err != nil {
			return outcome{}
		}
		in.Env = r.Env()
		in.Stdin = bytes.NewReader(r.Body)
	case Stdin:
		in.Stdin = bytes.NewReader(data)
	case Invoke:
		in.Function = f.opt.Target.Function
		in.Params = params(f.sig, data)
		in.Stdin = bytes.NewReader(nil)
	}
	rep, err := f.mod.Run(ctx, in)
	if err != nil {
		// A host failure or an invocation error (checked before): not the
		// guest's; count the run, report nothing.
		return outcome{}
	}
	return outcome{finding: f.classify(rep, w)}
}

// classify returns the finding a report shows, or nil.
func (f *fuzzer) classify(rep *sandbox.Report, w *worker) *Finding {
	fd := &Finding{}
	if last := w.cov.Last; last >= 0 && last < len(f.sites) {
		fd.Func, fd.Offset = f.sites[last].Func, f.sites[last].Offset
	}
	switch rep.Outcome {
	case sandbox.OutcomeTrap:
		fd.Kind, fd.Detail = "trap", rep.Trap
		fd.Stack = append([]string(nil), w.cov.Stack...)
	case sandbox.OutcomeViolation:
		fd.Kind, fd.Violation, fd.Detail = "violation", string(rep.Violation.Kind), rep.Violation.Detail
	case sandbox.OutcomeExit:
		switch {
		case f.opt.Target.Kind == Invoke:
			return nil
		case rep.ExitCode != 0:
			fd.Kind, fd.Detail = "exit", fmt.Sprintf("exit status %d", rep.ExitCode)
		case f.opt.Target.Kind == Request:
			err := gateway.CheckResponse(w.out.Bytes())
			if err == nil {
				return nil
			}
			fd.Kind, fd.Detail = "invalid_response", err.Error()
		default:
			return nil
		}
	default:
		return nil
	}
	fd.Key = f.key(fd)
	return fd
}

// key deduplicates findings: the kind (and violation kind) and where the
// run stopped, plus for traps the two callers, so that traps in a shared
// function (abort) reached from different places stay apart. An invalid
// response is keyed by why it is invalid (the first word of the error),
// not by where the handler ended.
func (f *fuzzer) key(fd *Finding) string {
	switch fd.Kind {
	case "invalid_response":
		kind, _, _ := strings.Cut(fd.Detail, ":")
		return "invalid_response/" + kind
	case "exit":
		return fmt.Sprintf("exit/%s/func%d+%#x", fd.Detail, fd.Func, fd.Offset)
	case "violation":
		return fmt.Sprintf("violation/%s/func%d+%#x", fd.Violation, fd.Func, fd.Offset)
	}
	k := fmt.Sprintf("trap/func%d+%#x", fd.Func, fd.Offset)
	for i := 1; i < len(fd.Stack) && i <= 2; i++ {
		k += "<" + fd.Stack[i]
	}
	return k
}

// record counts a finding, and minimises and writes a new one.
func (f *fuzzer) record(ctx context.Context, w *worker, data []byte, fd *Finding) {
	if old, ok := f.found[fd.Key]; ok {
		old.Hits++
		return
	}
	fd.Hits, fd.Exec = 1, f.execs
	fd.Input = f.minimize(ctx, w, data, fd.Key)
	fd.Repro, fd.File = f.repro(fd)
	f.found[fd.Key] = fd
	f.order = append(f.order, fd)
	if f.opt.Progress != nil {
		fmt.Fprintf(f.opt.Progress, "fuzz: new finding %s: %s\n  reproduce: %s\n", fd.Key, fd.Detail, fd.Repro)
	}
}

// keep adds an input to the corpus (and its directory), and its failed
// comparisons' operands to the dictionary.
func (f *fuzzer) keep(e entry) error {
	f.corpus = append(f.corpus, e)
	for _, c := range e.cmps {
		for _, v := range []uint64{c.A, c.B} {
			w := minWidth(v, c.Size)
			for _, big := range []bool{false, true} {
				tok := encode(v, w, big)
				if len(f.tokens) >= maxTokens || f.seenTok[string(tok)] {
					continue
				}
				f.seenTok[string(tok)] = true
				f.tokens = append(f.tokens, tok)
			}
		}
	}
	data := e.data
	if f.opt.Dir == "" {
		return nil
	}
	name := filepath.Join(f.opt.Dir, hashName(data)+f.opt.Target.ext())
	if _, err := os.Stat(name); err == nil {
		return nil
	}
	if err := os.MkdirAll(f.opt.Dir, 0o755); err != nil {
		return fmt.Errorf("fuzz: corpus: %w", err)
	}
	if err := atomicfile.Write(name, data, 0o644); err != nil {
		return fmt.Errorf("fuzz: corpus: %w", err)
	}
	return nil
}

func hashName(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// minimize shrinks data while the run still produces the finding key:
// chunks of the bytes (of the body, for requests), then for requests the
// headers, query and path.
func (f *fuzzer) minimize(ctx context.Context, w *worker, data []byte, key string) []byte {
	budget := maxMinimizeRuns
	same := func(cand []byte) bool {
		if budget <= 0 || ctx.Err() != nil {
			return false
		}
		budget--
		o := f.exec(ctx, w, cand)
		return o.finding != nil && o.finding.Key == key
	}
	if f.opt.Target.Kind != Request {
		if f.opt.Target.Kind == Invoke {
			return data // the arguments' bytes have a fixed meaning
		}
		return shrink(data, same)
	}
	r, err := wagireq.Parse(data)
	if err != nil {
		return data
	}
	try := func(c *wagireq.Request) bool { return same(c.Marshal()) }
	c := r.Clone()
	c.Body = shrink(c.Body, func(b []byte) bool { d := c.Clone(); d.Body = b; return try(d) })
	for i := len(c.Headers) - 1; i >= 0; i-- {
		d := c.Clone()
		d.Headers = append(d.Headers[:i], d.Headers[i+1:]...)
		if try(d) {
			c = d
		}
	}
	c.Query = string(shrink([]byte(c.Query), func(b []byte) bool { d := c.Clone(); d.Query = string(b); return try(d) }))
	c.Path = "/" + string(shrink([]byte(strings.TrimPrefix(c.Path, "/")), func(b []byte) bool {
		d := c.Clone()
		d.Path = "/" + string(b)
		return try(d)
	}))
	_, out := canonical(c.Marshal())
	if out == nil {
		return data
	}
	return out
}

// shrink removes chunks of b (halves, quarters, ... single bytes) while
// keep accepts the result.
func shrink(b []byte, keep func([]byte) bool) []byte {
	b = append([]byte(nil), b...)
	for n := len(b) / 2; n >= 1; n /= 2 {
		for i := 0; i+n <= len(b); {
			cand := append(append([]byte(nil), b[:i]...), b[i+n:]...)
			if keep(cand) {
				b = cand
			} else {
				i += n
			}
		}
	}
	return b
}

// repro writes a finding's files (when there is a corpus directory) and
// returns the command that reproduces it and the input's path.
func (f *fuzzer) repro(fd *Finding) (string, string) {
	id := strings.ReplaceAll(fd.Kind, "_", "-") + "-" + hashName([]byte(fd.Key))
	dir := filepath.Join(f.opt.Dir, "crashes")
	if f.opt.Dir == "" {
		dir = "crashes"
	}
	input := filepath.Join(dir, id+f.opt.Target.ext())
	args := []string{"wasmward", "run"}
	if f.opt.PolicyFile != "" {
		args = append(args, "--policy", f.opt.PolicyFile)
	}
	// run's deadline bounds compilation too, which the fuzzer did once,
	// outside every input's: only a timeout finding needs the per-input
	// deadline, elsewhere the policy's (never shorter) keeps a loaded
	// machine from refusing the module before it runs.
	if fd.Kind == "violation" && fd.Violation == string(sandbox.KindTimeout) {
		args = append(args, "--timeout", f.opt.Policy.Limits.Timeout.Std().String())
	}
	stdinFile := ""
	if f.opt.Target.Kind != Invoke {
		args = append(args, "--stdin", "inherit")
	}
	switch f.opt.Target.Kind {
	case Request:
		r, err := wagireq.Parse(fd.Input)
		if err == nil {
			for _, kv := range r.Env() {
				args = append(args, "--env", kv)
			}
			stdinFile = filepath.Join(dir, id+".body")
		}
		args = append(args, f.opt.Module)
	case Stdin:
		args = append(args, f.opt.Module)
		stdinFile = input
	case Invoke:
		args = append(args, "--invoke", f.opt.Target.Function, f.opt.Module, "--")
		args = append(args, argText(f.sig, params(f.sig, fd.Input))...)
	}
	cmd := shellJoin(args)
	if stdinFile != "" {
		cmd += " < " + shellQuote(stdinFile)
	}
	if f.opt.Dir == "" {
		return cmd, ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cmd, ""
	}
	_ = atomicfile.Write(input, fd.Input, 0o644)
	if f.opt.Target.Kind == Request {
		if r, err := wagireq.Parse(fd.Input); err == nil {
			_ = atomicfile.Write(stdinFile, r.Body, 0o644)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "finding: %s\nkey: %s\ndetail: %s\nsite: function %d, offset %#x\n", fd.Kind, fd.Key, fd.Detail, fd.Func, fd.Offset)
	if len(fd.Stack) > 0 {
		fmt.Fprintf(&b, "stack: %s\n", strings.Join(fd.Stack, " < "))
	}
	fmt.Fprintf(&b, "input: %s\nreproduce: %s\n", input, cmd)
	_ = atomicfile.Write(filepath.Join(dir, id+".txt"), []byte(b.String()), 0o644)
	return cmd, input
}

// shellJoin quotes args for a POSIX shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SortFindings orders findings by key (for stable reports).
func SortFindings(fs []*Finding) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
}

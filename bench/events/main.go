// Command events is the event-processing benchmark of wasmward: events per
// second and per-event latency for
//
//   - the empty processor (ev_empty: alloc and process_event return at
//     once): the host's cost per event (copy in, two guest calls, limits);
//   - the counting processor in C (ev_count, examples/count.wasm) and in
//     Go (ev_count_go);
//   - a native Go consumer doing the counting processor's work (find the
//     key, count it in a map, format the output) in the same process;
//
// at three levels: the processor alone (Processor.Process), NDJSON end to
// end (in-memory input, output discarded) and NATS JetStream end to end (a
// server in this process on loopback; events published first, then one
// worker on a durable consumer publishes each output with a publish ack and
// acks the event). See BENCHMARKS.md.
//
//	go run ./bench/events
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmward/wasmward/internal/events"
	"github.com/wasmward/wasmward/internal/events/natstest"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

func main() {
	n := flag.Int("n", 200000, "events per processor-level run")
	e2e := flag.Int("e2e", 50000, "events per NDJSON run")
	jsN := flag.Int("js", 10000, "events per JetStream run")
	flag.Parse()
	if err := run(os.Stdout, *n, *e2e, *jsN); err != nil {
		fmt.Fprintln(os.Stderr, "bench/events:", err)
		os.Exit(1)
	}
}

// result is one row of the report.
type result struct {
	level, consumer string
	events          int
	total           time.Duration
	lat             []time.Duration
}

func (r result) row(w io.Writer) {
	slices.Sort(r.lat)
	q := func(p float64) string {
		if len(r.lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(r.lat[int(p*float64(len(r.lat)-1))].Nanoseconds())/1e3)
	}
	fmt.Fprintf(w, "%s\t%s\t%d\t%.0f\t%s\t%s\n", r.level, r.consumer, r.events,
		float64(r.events)/r.total.Seconds(), q(0.5), q(0.99))
}

func run(w io.Writer, n, e2e, jsN int) error {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, events.HostFunctions(sandbox.NewConfig()))
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	var rows []result
	for _, name := range []string{"ev_empty", "ev_count", "ev_count_go"} {
		r, err := processorRun(ctx, rt, name, n)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	rows = append(rows, nativeRun(n, false), nativeRun(n, true))
	for _, name := range []string{"ev_empty", "ev_count"} {
		r, err := ndjsonRun(ctx, rt, name, e2e)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	r, err := ndjsonRun(ctx, rt, "", e2e)
	if err != nil {
		return err
	}
	rows = append(rows, r)
	js, err := jetstreamRuns(ctx, rt, jsN)
	if err != nil {
		return err
	}
	rows = append(rows, js...)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "level\tconsumer\tevents\tevents/s\tmedian µs\tp99 µs")
	for _, r := range rows {
		r.row(tw)
	}
	return tw.Flush()
}

// event is the i-th benchmark event: one of 100 keys.
func event(i int) []byte {
	return []byte(`{"key":"k` + strconv.Itoa(i%100) + `","n":` + strconv.Itoa(i) + `}`)
}

func processor(ctx context.Context, rt *sandbox.Runtime, name string) (*events.Processor, func(), error) {
	bin, err := os.ReadFile(filepath.Join(fixture.Dir(), "wasm", name+".wasm"))
	if err != nil {
		return nil, nil, err
	}
	pol := policy.Default()
	pol.Limits.Fuel = 10_000_000
	mod, err := rt.Compile(ctx, bin, pol)
	if err != nil {
		return nil, nil, err
	}
	p, err := events.NewProcessor(bin, mod, name+".wasm", nil)
	if err != nil {
		return nil, nil, err
	}
	return p, func() { p.Close(ctx); _ = mod.Close(ctx) }, nil
}

// processorRun times Processor.Process alone.
func processorRun(ctx context.Context, rt *sandbox.Runtime, name string, n int) (result, error) {
	p, closeFn, err := processor(ctx, rt, name)
	if err != nil {
		return result{}, err
	}
	defer closeFn()
	evs := make([][]byte, 100)
	for i := range evs {
		evs[i] = event(i)
	}
	var res events.Result
	for i := 0; i < 1000; i++ { // warm up: the instance, the stacks
		if err := p.Process(ctx, evs[i%100], &res); err != nil || res.Reason != "" {
			return result{}, fmt.Errorf("%s: %v %s", name, err, res.Reason)
		}
	}
	r := result{level: "processor", consumer: name, events: n, lat: make([]time.Duration, 0, n)}
	start := time.Now()
	for i := 0; i < n; i++ {
		t := time.Now()
		if err := p.Process(ctx, evs[i%100], &res); err != nil || res.Reason != "" {
			return result{}, fmt.Errorf("%s: %v %s", name, err, res.Reason)
		}
		r.lat = append(r.lat, time.Since(t))
	}
	r.total = time.Since(start)
	return r, nil
}

// native is the counting processor's work in Go.
type native struct {
	counts map[string]uint32
	out    []byte
}

func (c *native) process(ev []byte) []byte {
	i := bytes.Index(ev, []byte(`"key"`))
	if i < 0 {
		return nil
	}
	s := ev[i+5:]
	for len(s) > 0 && (s[0] == ' ' || s[0] == ':') {
		s = s[1:]
	}
	if len(s) == 0 || s[0] != '"' {
		return nil
	}
	end := bytes.IndexByte(s[1:], '"')
	if end <= 0 || end > 64 {
		return nil
	}
	key := s[1 : 1+end]
	c.counts[string(key)]++
	c.out = append(append(append(c.out[:0], `{"key":"`...), key...), `","count":`...)
	c.out = strconv.AppendUint(c.out, uint64(c.counts[string(key)]), 10)
	c.out = append(c.out, '}')
	return c.out
}

func nativeRun(n int, count bool) result {
	evs := make([][]byte, 100)
	for i := range evs {
		evs[i] = event(i)
	}
	c := &native{counts: map[string]uint32{}}
	name := "native-empty"
	if count {
		name = "native-count"
	}
	r := result{level: "processor", consumer: name, events: n, lat: make([]time.Duration, 0, n)}
	sink := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		t := time.Now()
		if count {
			sink += len(c.process(evs[i%100]))
		} else {
			sink += len(evs[i%100])
		}
		r.lat = append(r.lat, time.Since(t))
	}
	r.total = time.Since(start)
	_ = sink
	return r
}

// nativeLoop is events.Loop with the native counting consumer in place of
// a module: the same source, sink and acknowledgements.
func nativeLoop(ctx context.Context, ep *events.Endpoints, n int, observe func(time.Duration)) error {
	c := &native{counts: map[string]uint32{}}
	msgs := []events.Message{{}}
	for i := 0; i < n; i++ {
		d, err := ep.Source.Next(ctx)
		if err != nil {
			return err
		}
		t := time.Now()
		if out := c.process(d.Data); out != nil {
			msgs[0].Data = out
			if err := ep.Sink.Publish(ctx, d, msgs); err != nil {
				return err
			}
		}
		if err := ep.Source.Ack(ctx, d); err != nil {
			return err
		}
		observe(time.Since(t))
	}
	return nil
}

// ndjsonRun feeds e2e events from memory through a worker whose outputs
// are discarded; name "" is the native consumer.
func ndjsonRun(ctx context.Context, rt *sandbox.Runtime, name string, n int) (result, error) {
	var in bytes.Buffer
	for i := 0; i < n; i++ {
		in.Write(event(i))
		in.WriteByte('\n')
	}
	dir, err := os.MkdirTemp("", "bench-events")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	ep, err := events.Open(ctx, events.Specs{Source: "ndjson:-", Sink: "ndjson:-", DeadLetter: "ndjson:" + filepath.Join(dir, "dead"),
		Stdin: &in, Stdout: io.Discard}, policy.Default(), time.Minute)
	if err != nil {
		return result{}, err
	}
	defer ep.Close()
	r := result{level: "ndjson", consumer: name, events: n, lat: make([]time.Duration, 0, n)}
	observe := func(d time.Duration) { r.lat = append(r.lat, d) }
	if name == "" {
		r.consumer = "native-count"
	}
	start := time.Now()
	st, err := drive(ctx, rt, name, ep, n, observe)
	r.total = time.Since(start)
	if err == nil && (st.Events != uint64(n) || st.DeadLettered != 0) {
		err = fmt.Errorf("%s: %+v", r.consumer, st)
	}
	return r, err
}

// drive runs the worker for name ("": the native consumer) on ep until
// ctx ends, the source does or n events are done.
func drive(ctx context.Context, rt *sandbox.Runtime, name string, ep *events.Endpoints, n int, observe func(time.Duration)) (events.Stats, error) {
	if name == "" {
		return events.Stats{Events: uint64(n)}, nativeLoop(ctx, ep, n, observe)
	}
	p, closeFn, err := processor(ctx, rt, name)
	if err != nil {
		return events.Stats{}, err
	}
	defer closeFn()
	l := events.Loop{Processor: p, Source: ep.Source, Sink: ep.Sink, DeadLetter: ep.DeadLetter, Observe: observe}
	return l.Run(ctx)
}

// jetstreamRuns publishes n events to a stream, then runs one worker per
// consumer (each a durable consumer of its own over the same events) until
// every event is acknowledged.
func jetstreamRuns(ctx context.Context, rt *sandbox.Runtime, n int) ([]result, error) {
	dir, err := os.MkdirTemp("", "bench-events-js")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	url, stop, err := natstest.Run(dir)
	if err != nil {
		return nil, err
	}
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	for name, subj := range map[string][]string{"EVENTS": {"events.>"}, "OUT": {"out.>"}} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subj}); err != nil {
			return nil, err
		}
	}
	for i := 0; i < n; i++ {
		if _, err := js.PublishAsync("events.a", event(i)); err != nil {
			return nil, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return nil, fmt.Errorf("publishing %d events took more than a minute", n)
	}
	var rows []result
	for _, name := range []string{"ev_empty", "ev_count", ""} {
		consumer := name
		if consumer == "" {
			consumer = "native"
		}
		ep, err := events.Open(ctx, events.Specs{Source: url + "/EVENTS?consumer=" + consumer + "&batch=256",
			Sink: url + "/out." + consumer, DeadLetter: url + "/out.dead"}, policy.Default(), time.Minute)
		if err != nil {
			return nil, err
		}
		r := result{level: "jetstream", consumer: name, events: n, lat: make([]time.Duration, 0, n)}
		rctx, cancel := context.WithCancel(ctx)
		observe := func(d time.Duration) {
			r.lat = append(r.lat, d)
			if len(r.lat) == n {
				cancel()
			}
		}
		if name == "" {
			r.consumer = "native-count"
		}
		start := time.Now()
		_, err = drive(rctx, rt, name, ep, n, observe)
		r.total = time.Since(start)
		cancel()
		_ = ep.Close()
		if err != nil {
			return nil, err
		}
		if len(r.lat) != n {
			return nil, fmt.Errorf("jetstream %s: %d of %d events", r.consumer, len(r.lat), n)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

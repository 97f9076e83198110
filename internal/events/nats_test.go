package events

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmward/wasmward/internal/events/natstest"
	"github.com/wasmward/wasmward/policy"
)

// jsFixture is a server with an EVENTS stream (events.>) and an OUT stream
// (out.>, dead.>).
func jsFixture(t *testing.T) (url string, js jetstream.JetStream) {
	t.Helper()
	url = natstest.Start(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, subj := range map[string][]string{"EVENTS": {"events.>"}, "OUT": {"out.>", "dead.>"}} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subj}); err != nil {
			t.Fatal(err)
		}
	}
	return url, js
}

// stored is one message of the OUT stream.
type stored struct {
	subject, data, reason, source string
}

// readOut returns the first n messages of the OUT stream, waiting up to
// timeout for them.
func readOut(t *testing.T, js jetstream.JetStream, n int, timeout time.Duration) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := js.Stream(ctx, "OUT")
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatalf("OUT stream: %v", err)
		}
		if info.State.Msgs >= uint64(n) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("OUT holds %d messages after %s, want %d", info.State.Msgs, timeout, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var out []stored
	for seq := uint64(1); len(out) < n; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("OUT message %d: %v", seq, err)
		}
		out = append(out, stored{subject: m.Subject, data: string(m.Data),
			reason: m.Header.Get(HeaderReason), source: m.Header.Get(HeaderSource)})
	}
	return out
}

func publish(t *testing.T, js jetstream.JetStream, subject string, events ...string) {
	t.Helper()
	for _, ev := range events {
		if _, err := js.Publish(context.Background(), subject, []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
}

// runLoop runs a worker in this process until ctx ends or the source fails.
func runLoop(t *testing.T, ctx context.Context, url string, proc *Processor, pol policy.Policy, source string) (Stats, error) {
	t.Helper()
	ep, err := Open(ctx, Specs{Source: url + "/EVENTS?ack_wait=1s&consumer=" + source, Sink: url + "/out.results", DeadLetter: url + "/dead.letters"}, pol, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	if proc.kv == nil && ep.KV != nil {
		proc.kv = ep.KV
	}
	l := Loop{Processor: proc, Source: ep.Source, Sink: ep.Sink, DeadLetter: ep.DeadLetter,
		MaxDeliver: pol.Events.MaxDeliver, Retries: 2, Backoff: 10 * time.Millisecond}
	return l.Run(ctx)
}

// TestJetStreamWorker: one worker on a durable consumer publishes each
// event's outputs (emit and emit_to) and dead-letters failures with their
// reason, in the stream's order; the events are acknowledged (a second
// worker on the consumer gets nothing).
func TestJetStreamWorker(t *testing.T) {
	url, js := jsFixture(t)
	rt := newRuntime(t)
	pol := testPolicy()
	pol.Events.Subjects = []string{"out.alerts"}
	proc := newProcessor(t, rt, "ev_test", pol, nil)
	publish(t, js, "events.a", "o:1", "t:", "c:", "s:out.alerts", "s:out.other", "r:", "o:2")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := runLoop(t, ctx, url, proc, pol, "w"); done <- err }()
	got := readOut(t, js, 7, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []stored{
		{"out.results", "1", "", "EVENTS:1"},
		{"dead.letters", "t:", "trap: wasm error: unreachable", "EVENTS:2"},
		{"out.results", "1", "", "EVENTS:3"}, // a fresh instance after the trap
		{"out.alerts", "1", "", "EVENTS:4"},
		{"dead.letters", "s:out.other", `violation capability_denied: emit_to: subject "out.other" is not allowed by the policy's events.subjects`, "EVENTS:5"},
		{"dead.letters", "r:", "rejected: process_event returned 1", "EVENTS:6"},
		{"out.results", "2", "", "EVENTS:7"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("OUT:\n%v\nwant:\n%v", got, want)
	}
	// Everything was acknowledged: the consumer has nothing pending.
	cons, err := js.Consumer(context.Background(), "EVENTS", "w")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 || info.AckFloor.Stream != 7 {
		t.Fatalf("consumer: ack pending %d, pending %d, ack floor %d; want 0, 0, 7", info.NumAckPending, info.NumPending, info.AckFloor.Stream)
	}
}

// TestJetStreamPoisonRedelivery: an event delivered more than
// events.max_deliver times (here: never acknowledged by workers that died
// on it) is dead-lettered unprocessed with the count.
func TestJetStreamPoisonRedelivery(t *testing.T) {
	url, js := jsFixture(t)
	publish(t, js, "events.a", "o:poison")
	ctx := context.Background()
	st, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	// Two "workers" that take the event and die without an ack.
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second, MaxDeliver: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			_ = m // not acknowledged: redelivered after the ack wait
		}
	}
	rt := newRuntime(t)
	pol := testPolicy()
	pol.Events.MaxDeliver = 2
	proc := newProcessor(t, rt, "ev_test", pol, nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = runLoop(t, rctx, url, proc, pol, "w")
	}()
	got := readOut(t, js, 1, 15*time.Second)
	cancel()
	<-done
	if got[0].subject != "dead.letters" || got[0].data != "o:poison" ||
		got[0].reason != "delivered 3 times without completing (events.max_deliver is 2)" {
		t.Fatalf("OUT: %+v", got)
	}
}

// TestJetStreamKV: kv_get/kv_put against a real JetStream key-value
// bucket: the counts survive the worker (a second processor continues
// them) and keys carry the module's prefix.
func TestJetStreamKV(t *testing.T) {
	url, js := jsFixture(t)
	rt := newRuntime(t)
	pol := testPolicy()
	pol.Events.KV = &policy.KV{Bucket: "state"}
	publish(t, js, "events.a", "x", "y", "x")
	for round, want := range [][]string{{"1", "1", "2"}, {"3", "2", "4"}} {
		proc := newProcessor(t, rt, "ev_kv", pol, &memKV{}) // the bucket's once open
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			ep, err := Open(ctx, Specs{Source: url + "/EVENTS?consumer=kv" + fmt.Sprint(round), Sink: url + "/out.results", DeadLetter: url + "/dead.letters"}, pol, 30*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer ep.Close()
			proc.kv = ep.KV
			l := Loop{Processor: proc, Source: ep.Source, Sink: ep.Sink, DeadLetter: ep.DeadLetter, MaxDeliver: 5}
			if _, err := l.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
		got := readOut(t, js, 3*(round+1), 10*time.Second)[3*round:]
		cancel()
		<-done
		var data []string
		for _, m := range got {
			data = append(data, m.data)
		}
		if strings.Join(data, ",") != strings.Join(want, ",") {
			t.Fatalf("round %d: outputs %v, want %v", round, data, want)
		}
	}
	kv, err := js.KeyValue(context.Background(), "state")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "ev_kv.x,ev_kv.y" {
		t.Fatalf("keys %v, want ev_kv.x, ev_kv.y", keys)
	}
}

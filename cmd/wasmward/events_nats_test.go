package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmward/wasmward/internal/events"
	"github.com/wasmward/wasmward/internal/events/natstest"
	"github.com/wasmward/wasmward/internal/fixture"
)

// eventStreams starts a NATS server with JetStream and creates the streams
// EVENTS (events.>) and OUT (out.>, dead.>) on it.
func eventStreams(t *testing.T) (string, jetstream.JetStream) {
	t.Helper()
	url := natstest.Start(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for name, subj := range map[string][]string{"EVENTS": {"events.>"}, "OUT": {"out.>", "dead.>"}} {
		if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: name, Subjects: subj}); err != nil {
			t.Fatal(err)
		}
	}
	return url, js
}

// TestEventsScaleOut runs three `wasmward events` processes on one durable
// JetStream consumer, SIGKILLs one mid-stream and checks that every
// event's output reaches the output stream, that the dead-letter subject
// holds exactly the poison events, and that duplicates (if any) are no
// more than the killed worker held in flight.
func TestEventsScaleOut(t *testing.T) {
	const (
		total = 900
		batch = 8
	)
	url, js := eventStreams(t)
	ctx := context.Background()
	poison := map[string]bool{}
	for i := 0; i < total; i++ {
		ev := fmt.Sprintf("d:%d", i) // about a million units of fuel, then emit the id
		if i%50 == 7 {
			ev = fmt.Sprintf("t:%d", i) // traps
			poison[ev] = true
		}
		if _, err := js.PublishAsync(fmt.Sprintf("events.k%d", i%3), []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publishing the events took more than 10s")
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("%s/EVENTS?consumer=workers&batch=%d&ack_wait=2s", url, batch)
	var workers []*exec.Cmd
	var stderrs []*strings.Builder
	for i := 0; i < 3; i++ {
		cmd := exec.Command(exe, "events", fixture.Path(t, "ev_test"), "--source", src,
			"--sink", url+"/out.results", "--dead-letter", url+"/dead.letters")
		cmd.Env = append(os.Environ(), "WASMWARD_TEST_CLI=1")
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, cmd)
		stderrs = append(stderrs, &errb)
	}
	defer func() {
		for _, w := range workers {
			_ = w.Process.Kill()
			_ = w.Wait()
		}
	}()
	out, err := js.Stream(ctx, "OUT")
	if err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		info, err := out.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	deadline := time.Now().Add(60 * time.Second)
	for count() < total/4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d outputs after 60s", count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := workers[0].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = workers[0].Wait()
	killedAt := count()
	if killedAt >= total {
		t.Fatalf("all %d events were done before the kill: the test did not kill mid-stream", total)
	}
	for count() < total {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d outputs and dead letters after 60s (killed at %d)", count(), total, killedAt)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let redeliveries of anything still in flight finish.
	time.Sleep(3 * time.Second)
	n := count()
	results, dead := map[string]int{}, map[string]int{}
	for seq := uint64(1); seq <= n; seq++ {
		m, err := out.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("OUT %d: %v", seq, err)
		}
		switch m.Subject {
		case "out.results":
			results[string(m.Data)]++
		case "dead.letters":
			if r := m.Header.Get(events.HeaderReason); r != "trap: wasm error: unreachable" {
				t.Errorf("dead letter %q: reason %q", m.Data, r)
			}
			dead[string(m.Data)]++
		}
	}
	dups := int(n) - total
	for i := 0; i < total; i++ {
		id := fmt.Sprint(i)
		if poison["t:"+id] {
			if dead["t:"+id] == 0 {
				t.Errorf("poison event t:%s is not in the dead letters", id)
			}
			continue
		}
		if results[id] == 0 {
			t.Errorf("event d:%s has no output", id)
		}
	}
	if len(dead) != len(poison) {
		t.Errorf("dead letters hold %d distinct events, want the %d poison events: %v", len(dead), len(poison), dead)
	}
	if dups < 0 || dups > batch+1 {
		t.Errorf("%d duplicates, want at most the %d events the killed worker held", dups, batch+1)
	}
	// The survivors stop on SIGTERM and exit 0.
	for i, w := range workers[1:] {
		_ = w.Process.Signal(syscall.SIGTERM)
		err := w.Wait()
		if code := w.ProcessState.ExitCode(); code != 0 {
			t.Errorf("worker %d: exit %d (%v), stderr %q", i+1, code, err, stderrs[i+1].String())
		}
	}
	workers = nil
	t.Logf("killed at %d outputs; %d messages, %d duplicates", killedAt, n, dups)
}

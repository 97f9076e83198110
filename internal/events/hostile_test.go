package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmward/wasmward/policy"
)

// TestEmitToReservedSubjects: a wildcard in events.subjects does not reach
// the server's own namespaces: with ">" a module could otherwise publish
// JetStream API requests ($JS.API.STREAM.DELETE.EVENTS), write any key of
// any key-value bucket past its kv prefix ($KV.BUCKET.other.key) or answer
// other clients' requests (_INBOX...). A pattern that names the namespace
// grants it.
func TestEmitToReservedSubjects(t *testing.T) {
	rt := newRuntime(t)
	tests := []struct {
		subjects []string
		subject  string
		allowed  bool
	}{
		{[]string{">"}, "alerts.x", true},
		{[]string{">"}, "$JS.API.STREAM.DELETE.EVENTS", false},
		{[]string{">"}, "$KV.state.other.count", false},
		{[]string{">"}, "$SYS.REQ.SERVER.PING", false},
		{[]string{">"}, "_INBOX.abc.def", false},
		{[]string{"*.>"}, "$KV.state.other.count", false},
		{[]string{"*.*.*.*"}, "$KV.state.other.count", false},
		{[]string{"*"}, "$JS", false},
		{[]string{"$KV.state.>"}, "$KV.state.ev_test.count", true},
		{[]string{"$KV.state.>"}, "$KV.other.ev_test.count", false},
		{[]string{"_INBOX.>"}, "_INBOX.abc", true},
		{[]string{"alerts.*"}, "alerts.x y", false},
		{[]string{"alerts.*"}, "alerts.*", false},
		{[]string{"alerts.>"}, "alerts..x", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.subjects, tc.subject), func(t *testing.T) {
			pol := testPolicy()
			pol.Events.Subjects = tc.subjects
			p := newProcessor(t, rt, "ev_test", pol, nil)
			res := process(t, p, "s:"+tc.subject)
			if tc.allowed {
				if res.Reason != "" || outputs(res) != tc.subject+"=1" {
					t.Fatalf("reason %q outputs %q, want %s=1", res.Reason, outputs(res), tc.subject)
				}
				return
			}
			want := "violation capability_denied: emit_to: subject " + strconv.Quote(tc.subject) + " is not allowed by the policy's events.subjects"
			if res.Reason != want || len(res.Outputs) != 0 {
				t.Fatalf("reason %q outputs %q, want %q", res.Reason, outputs(res), want)
			}
		})
	}
}

// TestJetStreamOversized: events at the server's max_payload. An event
// whose output cannot be stored (its data and headers above max_payload)
// is dead-lettered with the reason instead of failing the worker (which
// then failed every worker the event was redelivered to); a dead letter
// that would not fit keeps the event's first 4 KiB and its length in a
// header, where it made the event impossible to acknowledge. The worker
// goes on with the next event and everything is acknowledged.
func TestJetStreamOversized(t *testing.T) {
	url, js := jsFixture(t)
	limit := int(js.Conn().MaxPayload())
	big := strings.Repeat("x", limit-2-16) // "o:"/"t:" + this fits the source by 16 bytes
	publish(t, js, "events.a", "o:"+big, "t:"+big, "o:after")
	rt := newRuntime(t)
	pol := testPolicy()
	proc := newProcessor(t, rt, "ev_test", pol, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var st Stats
	go func() {
		var err error
		st, err = runLoop(t, ctx, url, proc, pol, "w")
		done <- err
	}()
	got := readOut(t, js, 3, 20*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	size := len(big) + len("NATS/1.0\r\n\r\n") + len("Wasmward-Source: EVENTS:1\r\n") + len("Nats-Msg-Id: EVENTS/w/1/0\r\n")
	want := []stored{
		{"dead.letters", "o:" + big[:truncatedBytes-2], fmt.Sprintf("publish EVENTS:1: unpublishable output: output 1 to out.results is %d bytes with its headers, above the server's max_payload of %d", size, limit), "EVENTS:1"},
		{"dead.letters", "t:" + big[:truncatedBytes-2], "trap: wasm error: unreachable", "EVENTS:2"},
		{"out.results", "after", "", "EVENTS:3"},
	}
	for i := range want {
		if got[i] != want[i] {
			g, w := got[i], want[i]
			g.data, w.data = fmt.Sprintf("%d bytes %.8q", len(g.data), g.data), fmt.Sprintf("%d bytes %.8q", len(w.data), w.data)
			t.Errorf("OUT %d: %+v\nwant %+v", i+1, g, w)
		}
	}
	s, err := js.Stream(context.Background(), "OUT")
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if h := m.Header.Get(HeaderTruncated); h != strconv.Itoa(len(big)+2) {
			t.Errorf("dead letter %d: %s %q, want %d", seq, HeaderTruncated, h, len(big)+2)
		}
	}
	if st.Events != 3 || st.DeadLettered != 2 || st.Outputs != 1 {
		t.Errorf("stats %+v", st)
	}
	cons, err := js.Consumer(context.Background(), "EVENTS", "w")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.AckFloor.Stream != 3 {
		t.Fatalf("consumer: ack pending %d, ack floor %d; want 0, 3", info.NumAckPending, info.AckFloor.Stream)
	}
}

// TestKVKeyBound: a key over 256 bytes is the guest's failure (the event is
// dead-lettered), not a key-value request the server refuses (a host
// failure that stopped the worker and every worker the event reached).
func TestKVKeyBound(t *testing.T) {
	rt := newRuntime(t)
	pol := testPolicy()
	pol.Events.KV = &policy.KV{Bucket: "state", Bytes: 1 << 20}
	tests := []struct {
		key, want, reason string
	}{
		{strings.Repeat("k", 256), "1", ""},
		{strings.Repeat("k", 257), "", "violation capability_denied: kv_get: key of 257 bytes, above 256"},
		{strings.Repeat("k", 5000), "", "violation capability_denied: kv_get: key of 5000 bytes, above 256"},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(len(tc.key)), func(t *testing.T) {
			p := newProcessor(t, rt, "ev_kv", pol, &memKV{m: map[string][]byte{}})
			res := process(t, p, tc.key)
			if res.Reason != tc.reason || outputs(res) != tc.want {
				t.Fatalf("reason %q outputs %q, want %q %q", res.Reason, outputs(res), tc.reason, tc.want)
			}
		})
	}
}

// TestKVPutUnpublishable: a value the server's max_payload refuses is
// ErrUnpublishable from the JetStream bucket, and the processor
// dead-letters the event with it instead of failing as the store would.
func TestKVPutUnpublishable(t *testing.T) {
	_, js := jsFixture(t)
	ctx := context.Background()
	bucket, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "state"})
	if err != nil {
		t.Fatal(err)
	}
	kv := natsKV{kv: bucket}
	if err := kv.Put(ctx, "ev_kv.small", []byte("1")); err != nil {
		t.Fatal(err)
	}
	err = kv.Put(ctx, "ev_kv.big", make([]byte, js.Conn().MaxPayload()+1))
	if !errors.Is(err, ErrUnpublishable) {
		t.Fatalf("oversized put: %v, want ErrUnpublishable", err)
	}
	rt := newRuntime(t)
	pol := testPolicy()
	pol.Events.KV = &policy.KV{Bucket: "state", Bytes: 1 << 20}
	p := newProcessor(t, rt, "ev_kv", pol, &memKV{fail: err})
	res := process(t, p, "big:1")
	if want := "kv_put ev_kv.big: " + err.Error(); res.Reason != want || len(res.Outputs) != 0 {
		t.Fatalf("reason %q outputs %q, want %q", res.Reason, outputs(res), want)
	}
}

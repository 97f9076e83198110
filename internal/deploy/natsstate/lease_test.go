package natsstate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmward/wasmward/internal/events/natstest"
)

// bucket returns a fresh key-value bucket on an in-process NATS server.
func bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	nc, err := nats.Connect(natstest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "lease_test", History: 1})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func step(t *testing.T, l *Lease) bool {
	t.Helper()
	held, err := l.Step(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", l.holder, err)
	}
	return held
}

// stepUntil steps l until it holds the lease, or fails after limit.
func stepUntil(t *testing.T, l *Lease, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !step(t, l) {
		if time.Since(start) > limit {
			t.Fatalf("%s did not take the lease within %s", l.holder, limit)
		}
		time.Sleep(l.ttl / 20)
	}
	return time.Since(start)
}

const testTTL = 400 * time.Millisecond

func TestLeaseOneHolderAmongContenders(t *testing.T) {
	kv := bucket(t)
	a, b := NewLease(kv, "lease", "a", testTTL), NewLease(kv, "lease", "b", testTTL)
	if !step(t, a) || !a.Held() {
		t.Fatal("a: a free lease was not taken")
	}
	// For longer than a TTL, with a renewing, b never gets it.
	for end := time.Now().Add(3 * testTTL); time.Now().Before(end); time.Sleep(testTTL / 8) {
		if !step(t, a) {
			t.Fatal("a lost a lease it renewed")
		}
		if step(t, b) || b.Held() {
			t.Fatal("b took a lease a renews")
		}
	}
	e, err := kv.Get(context.Background(), "lease")
	if err != nil || string(e.Value()) != `{"holder":"a","ttl":"400ms"}` {
		t.Fatalf("the lease key: %v %q", err, e.Value())
	}
}

// A holder that stops renewing is not the holder after TTL, and a
// contender takes the lease at least a TTL after it last saw it change
// and within a bounded time after that; the old holder cannot renew then.
func TestLeaseExpiryMovesIt(t *testing.T) {
	kv := bucket(t)
	a, b := NewLease(kv, "lease", "a", testTTL), NewLease(kv, "lease", "b", testTTL)
	aSent := time.Now()
	if !step(t, a) {
		t.Fatal("a did not take a free lease")
	}
	took := stepUntil(t, b, 3*testTTL)
	if since := time.Since(aSent); since < testTTL {
		t.Fatalf("b took the lease %s after a's last write, before the TTL %s", since, testTTL)
	}
	if took > testTTL+testTTL/2 {
		t.Errorf("b took the lease %s after it first looked; want within 1.5 TTL", took)
	}
	if a.Held() {
		t.Fatal("a still counts itself the holder after b took the lease")
	}
	if step(t, a) || a.Held() {
		t.Fatal("a renewed a lease b holds")
	}
	if !b.Held() || !step(t, b) {
		t.Fatal("b lost the lease")
	}
}

// The holder's renewal and a contender's take-over race on the same
// revision: exactly one wins, every time.
func TestLeaseRenewalRace(t *testing.T) {
	kv := bucket(t)
	for i := range 10 {
		key := fmt.Sprintf("lease%d", i)
		a, b := NewLease(kv, key, "a", testTTL), NewLease(kv, key, "b", testTTL)
		if !step(t, a) {
			t.Fatal("a did not take a free lease")
		}
		if step(t, b) {
			t.Fatal("b took a held lease")
		}
		// Both are now due: a's lease expired, b has watched it for a TTL.
		for b.seenAt.Add(testTTL).After(time.Now()) || a.Held() {
			time.Sleep(testTTL / 20)
		}
		var wg sync.WaitGroup
		var aHeld, bHeld bool
		wg.Add(2)
		go func() { defer wg.Done(); aHeld, _ = a.Step(context.Background()) }()
		go func() { defer wg.Done(); bHeld, _ = b.Step(context.Background()) }()
		wg.Wait()
		if aHeld == bHeld || a.Held() == b.Held() {
			t.Fatalf("round %d: a holds %v, b holds %v: want exactly one", i, aHeld, bHeld)
		}
	}
}

// Release hands the lease over at once, not after a TTL.
func TestLeaseRelease(t *testing.T) {
	kv := bucket(t)
	a, b := NewLease(kv, "lease", "a", time.Hour), NewLease(kv, "lease", "b", time.Hour)
	if !step(t, a) {
		t.Fatal("a did not take a free lease")
	}
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Held() {
		t.Fatal("a holds a released lease")
	}
	if !step(t, b) {
		t.Fatal("b did not take a released lease at once")
	}
}

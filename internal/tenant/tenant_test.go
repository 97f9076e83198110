package tenant

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBucket(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := NewBucket(100, 200, c.now)
	if got := b.Take(150); got != 150 {
		t.Fatalf("Take(150) of a full bucket of 200 = %d", got)
	}
	if got := b.Take(80); got != 50 {
		t.Fatalf("Take(80) with 50 left = %d, want 50", got)
	}
	if got := b.Take(1); got != 0 {
		t.Fatalf("Take of an empty bucket = %d", got)
	}
	if w := b.Wait(); w != 10*time.Millisecond {
		t.Fatalf("Wait of an empty bucket at 100/s = %v, want 10ms", w)
	}
	c.t = c.t.Add(500 * time.Millisecond) // +50
	b.Return(30)
	if got := b.Take(1000); got != 80 {
		t.Fatalf("after 0.5s and a return of 30: Take = %d, want 80", got)
	}
	c.t = c.t.Add(10 * time.Second)
	if l := b.Level(); l != 200 {
		t.Fatalf("level after 10s = %v, want the burst 200", l)
	}
}

func mustNew(t *testing.T, o Options, cfgs ...Config) *Scheduler {
	t.Helper()
	s, err := New(o, cfgs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func refusal(t *testing.T, err error) *Refusal {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("error %v, want a *Refusal", err)
	}
	return r
}

// The memory budget: instances reserve their cap; one that does not fit
// waits, is admitted when memory comes back, and is refused with 503 and
// Retry-After at its queue timeout. A tenant's own quotas refuse with 429.
func TestAdmitBudgetAndQuotas(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		quotas Quotas
		budget int64
		mem    int64
		held   int // admitted before the one that must wait
		reason string
		status int
	}{
		{"memory budget", Quotas{QueueTimeout: 50 * time.Millisecond}, 100 * mib, 30 * mib, 3, ReasonMemoryBudget, http.StatusServiceUnavailable},
		{"instances quota", Quotas{Instances: 2, QueueTimeout: 50 * time.Millisecond}, 100 * mib, 1 * mib, 2, ReasonInstances, http.StatusTooManyRequests},
		{"memory quota", Quotas{Memory: 10 * mib, QueueTimeout: 50 * time.Millisecond}, 100 * mib, 4 * mib, 2, ReasonMemoryQuota, http.StatusTooManyRequests},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, Options{MemoryBudget: tc.budget}, Config{Name: "a", Quotas: tc.quotas})
			a := s.Tenant("a")
			ctx := context.Background()
			var held []Ticket
			for range tc.held {
				k, err := a.Admit(ctx, tc.mem, time.Time{})
				if err != nil {
					t.Fatalf("admit within the bounds: %v", err)
				}
				held = append(held, k)
			}
			if _, used := s.Budget(); used != int64(tc.held)*tc.mem {
				t.Fatalf("reserved %d, want %d", used, int64(tc.held)*tc.mem)
			}
			start := time.Now()
			_, err := a.Admit(ctx, tc.mem, time.Time{})
			r := refusal(t, err)
			if r.Reason != tc.reason || r.Status != tc.status || r.RetryAfter <= 0 {
				t.Fatalf("refusal %+v, want %s %d with a Retry-After", r, tc.reason, tc.status)
			}
			if el := time.Since(start); el < 50*time.Millisecond || el > 2*time.Second {
				t.Fatalf("refused after %v, want at the 50ms queue timeout", el)
			}
			// A waiter is admitted when a ticket comes back.
			done := make(chan error, 1)
			go func() {
				k, err := a.Admit(ctx, tc.mem, time.Now().Add(5*time.Second))
				if err == nil {
					k.Release()
				}
				done <- err
			}()
			waitFor(t, func() bool { return a.Stats().Queued == 1 })
			held[0].Release()
			if err := <-done; err != nil {
				t.Fatalf("waiter not admitted after a release: %v", err)
			}
			for _, k := range held[1:] {
				k.Release()
			}
			if _, used := s.Budget(); used != 0 {
				t.Fatalf("reserved %d after every release, want 0", used)
			}
			if st := a.Stats(); st.Running != 0 || st.Reserved != 0 || st.Queued != 0 {
				t.Fatalf("tenant state after every release: %+v", st)
			}
		})
	}
}

func TestAdmitRefusesWhatNeverFits(t *testing.T) {
	s := mustNew(t, Options{MemoryBudget: 100}, Config{Name: "a", Quotas: Quotas{Memory: 50}})
	_, err := s.Tenant("a").Admit(context.Background(), 101, time.Time{})
	if r := refusal(t, err); r.Reason != ReasonMemoryBudget || r.Status != http.StatusServiceUnavailable {
		t.Fatalf("instance above the budget: %+v", r)
	}
	_, err = s.Tenant("a").Admit(context.Background(), 60, time.Time{})
	if r := refusal(t, err); r.Reason != ReasonMemoryQuota || r.Status != http.StatusTooManyRequests {
		t.Fatalf("instance above the tenant's memory quota: %+v", r)
	}
}

func TestQueueFull(t *testing.T) {
	s := mustNew(t, Options{MemoryBudget: 10, MaxInstances: 1}, Config{Name: "a", Quotas: Quotas{Queue: 2, QueueTimeout: 5 * time.Second}})
	a := s.Tenant("a")
	k, err := a.Admit(context.Background(), 1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := a.Admit(ctx, 1, time.Time{}); errs <- err }()
	}
	waitFor(t, func() bool { return a.Stats().Queued == 2 })
	_, err = a.Admit(context.Background(), 1, time.Time{})
	if r := refusal(t, err); r.Reason != ReasonQueueFull || r.Status != http.StatusServiceUnavailable {
		t.Fatalf("third waiter: %+v, want queue_full 503 (the budget holds it back, not a quota)", r)
	}
	cancel()
	for range 2 {
		if r := refusal(t, <-errs); r.Reason != ReasonInstances {
			t.Fatalf("cancelled waiter: %+v", r)
		}
	}
	k.Release()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

type grant struct {
	tenant string
	seq    int
	k      Ticket
}

// enqueue starts an Admit for t and returns once it waits in the queue.
func enqueue(t *testing.T, tn *Tenant, seq int, out chan<- grant) {
	t.Helper()
	before := tn.Stats().QueuedTotal
	go func() {
		k, err := tn.Admit(context.Background(), 1, time.Now().Add(time.Minute))
		if err != nil {
			panic(fmt.Sprintf("%s #%d: %v", tn.Name(), seq, err))
		}
		out <- grant{tn.Name(), seq, k}
	}()
	waitFor(t, func() bool { return tn.Stats().QueuedTotal == before+1 })
}

// Starvation: tenant A keeps its queue full, tenant B sends a request now
// and then. With one instance for both, each of B's requests is admitted
// within the releases its weight share promises (for weights wa:wb, by the
// ceil(wa/wb)+1-th release after it arrives), and when both keep queues
// full, admissions follow the weights exactly (within one).
func TestWeightedFairness(t *testing.T) {
	tests := []struct {
		wa, wb    int
		trickle   int // B enqueues one request every trickle releases; 0: B keeps a full queue too
		maxWait   int // the most releases a B request may wait
		wantShare float64
	}{
		{wa: 1, wb: 1, trickle: 5, maxWait: 2},
		{wa: 3, wb: 1, trickle: 7, maxWait: 4},
		{wa: 1, wb: 3, trickle: 3, maxWait: 1},
		{wa: 1, wb: 1, wantShare: 0.5},
		{wa: 3, wb: 1, wantShare: 0.25},
		{wa: 1, wb: 4, wantShare: 0.8},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("weights %d:%d trickle %d", tc.wa, tc.wb, tc.trickle), func(t *testing.T) {
			s := mustNew(t, Options{MemoryBudget: 1 << 30, MaxInstances: 1},
				Config{Name: "a", Weight: tc.wa, Quotas: Quotas{Queue: 16}},
				Config{Name: "b", Weight: tc.wb, Quotas: Quotas{Queue: 16}})
			a, b := s.Tenant("a"), s.Tenant("b")
			out := make(chan grant, 64)
			held, err := a.Admit(context.Background(), 1, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			seqA, seqB := 0, 0
			for range 8 {
				seqA++
				enqueue(t, a, seqA, out)
			}
			arrived := map[int]int{} // B's seq -> release count when it arrived
			if tc.trickle == 0 {
				for range 8 {
					seqB++
					enqueue(t, b, seqB, out)
				}
			}
			const releases = 120
			var bGrants int
			for n := 1; n <= releases; n++ {
				if tc.trickle > 0 && n%tc.trickle == 1 {
					seqB++
					arrived[seqB] = n
					enqueue(t, b, seqB, out)
				}
				held.Release()
				g := <-out
				held = g.k
				if g.tenant == "a" {
					seqA++
					enqueue(t, a, seqA, out) // A floods: its queue stays full
					continue
				}
				bGrants++
				if tc.trickle == 0 {
					seqB++
					enqueue(t, b, seqB, out)
					continue
				}
				if wait := n - arrived[g.seq] + 1; wait > tc.maxWait {
					t.Errorf("B #%d admitted at release %d, %d releases after it arrived (at most %d for weights %d:%d)",
						g.seq, n, wait, tc.maxWait, tc.wa, tc.wb)
				}
				delete(arrived, g.seq)
			}
			if tc.trickle > 0 {
				if len(arrived) > 1 {
					t.Errorf("B requests still waiting at the end: %v", arrived)
				}
			} else if want := tc.wantShare * releases; float64(bGrants) < want-1 || float64(bGrants) > want+1 {
				t.Errorf("B admitted %d of %d, want %.0f±1 for weights %d:%d", bGrants, releases, want, tc.wa, tc.wb)
			}
			held.Release()
			// Drain: the remaining waiters are admitted one by one.
			for a.Stats().Queued+b.Stats().Queued > 0 {
				(<-out).k.Release()
			}
			for len(out) > 0 {
				(<-out).k.Release()
			}
		})
	}
}

func TestByKeyAndHost(t *testing.T) {
	h := func(k string) [sha256.Size]byte { return sha256.Sum256([]byte(k)) }
	s := mustNew(t, Options{MemoryBudget: 1 << 20},
		Config{Name: "a", Hosts: []string{"a.example"}, KeyHashes: [][sha256.Size]byte{h("key-a1"), h("key-a2")}},
		Config{Name: "b", KeyHashes: [][sha256.Size]byte{h("key-b")}})
	for key, want := range map[string]string{"key-a1": "a", "key-a2": "a", "key-b": "b", "key-c": "", "": "", "key-a": ""} {
		got := ""
		if tn := s.ByKey(key); tn != nil {
			got = tn.Name()
		}
		if got != want {
			t.Errorf("ByKey(%q) = %q, want %q", key, got, want)
		}
	}
	if s.ByHost("a.example") != s.Tenant("a") || s.ByHost("b.example") != nil {
		t.Error("ByHost")
	}
	if s.Tenant(DefaultName) == nil {
		t.Error("no default tenant added")
	}
	if _, err := New(Options{MemoryBudget: 1}, []Config{{Name: "x", Hosts: []string{"h"}}, {Name: "y", Hosts: []string{"h"}}}); err == nil {
		t.Error("a host of two tenants was accepted")
	}
}

func TestMachineMemory(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
	}
	meminfo := "MemTotal:       24576000 kB\nMemFree: 1 kB\n"
	tests := []struct {
		name  string
		files map[string]string
		want  int64
		src   string
	}{
		{"meminfo only", map[string]string{"/proc/meminfo": meminfo}, 24576000 << 10, "MemTotal"},
		{"cgroup v2 lower", map[string]string{"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory.max": "2147483648\n"}, 2 << 30, "cgroup memory.max"},
		{"cgroup v2 max", map[string]string{"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory.max": "max\n"}, 24576000 << 10, "MemTotal"},
		{"cgroup v1", map[string]string{"/proc/meminfo": meminfo, "/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 1 << 30, "cgroup memory.max"},
		{"nothing", map[string]string{}, fallbackMemory, "fallback"},
	}
	for _, tc := range tests {
		got, src := machineMemory(files(tc.files))
		if got != tc.want || src != tc.src {
			t.Errorf("%s: %d %s, want %d %s", tc.name, got, src, tc.want, tc.src)
		}
	}
}

func TestAllowQuotas(t *testing.T) {
	now := time.Unix(1000, 0)
	c := &clock{t: now}
	s := mustNew(t, Options{MemoryBudget: 1 << 20, Now: c.now}, Config{Name: "a", Quotas: Quotas{
		RequestsPerSecond: 2, RequestBurst: 2, BodyBytesPerSecond: 100, FuelPerSecond: 1000, OutboundBytesPerSecond: 10}})
	a := s.Tenant("a")
	tests := []struct {
		body    int64
		network bool
		reason  string
	}{
		{body: 60},
		{body: 60, reason: ReasonBodyRate}, // 40 left; the request token is given back
		{body: 10},
		{body: 0, reason: ReasonRate},
	}
	for i, tc := range tests {
		r := a.Allow(now, tc.body, tc.network)
		got := ""
		if r != nil {
			got = r.Reason
			if r.Status != http.StatusTooManyRequests || r.RetryAfter <= 0 {
				t.Errorf("#%d: %+v, want 429 with a Retry-After", i, r)
			}
		}
		if got != tc.reason {
			t.Errorf("#%d: refusal %q, want %q", i, got, tc.reason)
		}
	}
	now = now.Add(10 * time.Second)
	c.t = now
	a.Fuel().Take(1000)
	if r := a.Allow(now, 0, false); r == nil || r.Reason != ReasonFuel {
		t.Errorf("empty fuel bucket: %+v, want fuel", r)
	}
	now = now.Add(time.Second)
	c.t = now
	if got := a.Outbound().Take(25); got != 10 {
		t.Errorf("Take(25) of a full outbound bucket of 10 = %d", got)
	}
	if r := a.Allow(now, 0, true); r == nil || r.Reason != ReasonOutbound || r.RetryAfter != 100*time.Millisecond {
		t.Errorf("empty outbound bucket at 10/s: %+v, want outbound, retry after 100ms", r)
	}
	// A run stopped by a quota may retry when both buckets have a token:
	// the fuel bucket (1000/s) is full again, the outbound one is not.
	if d := a.RetryAfter(); d != 100*time.Millisecond {
		t.Errorf("RetryAfter = %v, want the outbound bucket's 100ms", d)
	}
	if r := a.Allow(now, 0, false); r != nil {
		t.Errorf("a route without the network capability is not held back by the outbound quota: %+v", r)
	}
}

package events

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

func newRuntime(t testing.TB) *sandbox.Runtime {
	t.Helper()
	rt, err := sandbox.New(context.Background(), HostFunctions(sandbox.NewConfig()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// testPolicy is the policy the tests start from: small, fast limits.
func testPolicy() policy.Policy {
	p := policy.Default()
	p.Limits.Timeout = policy.Duration(5 * time.Second)
	p.Limits.Memory = 4 << 20
	p.Limits.Fuel = 5_000_000
	return p
}

func newProcessor(t testing.TB, rt *sandbox.Runtime, name string, p policy.Policy, kv KV) *Processor {
	t.Helper()
	bin := fixture.Bytes(t, name)
	mod, err := rt.Compile(context.Background(), bin, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mod.Close(context.Background()) })
	proc, err := NewProcessor(bin, mod, name+".wasm", kv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Close(context.Background()) })
	return proc
}

func process(t *testing.T, p *Processor, ev string) Result {
	t.Helper()
	var res Result
	if err := p.Process(context.Background(), []byte(ev), &res); err != nil {
		t.Fatalf("event %q: %v", ev, err)
	}
	res.Outputs = append([]Message(nil), res.Outputs...)
	return res
}

func outputs(r Result) string {
	var s []string
	for _, m := range r.Outputs {
		if m.Subject != "" {
			s = append(s, m.Subject+"="+string(m.Data))
		} else {
			s = append(s, string(m.Data))
		}
	}
	return strings.Join(s, ",")
}

// TestProcessorEvents runs each behaviour of ev_test and checks its
// outputs or its dead-letter reason, and that a failed event's instance is
// replaced before the next event (the count starts again at 1).
func TestProcessorEvents(t *testing.T) {
	rt := newRuntime(t)
	pol := testPolicy()
	pol.Events.Subjects = []string{"out.*", "audit.>"}
	pol.Events.Emits = 10
	pol.Events.EmitBytes = 64
	tests := []struct {
		event    string
		want     string // outputs
		reason   string // dead-letter reason prefix
		replaced bool
	}{
		{event: "o:hello", want: "hello"},
		{event: "c:", want: "2"},
		{event: "s:out.a", want: "out.a=1"},
		{event: "s:audit.x.y", want: "audit.x.y=1"},
		{event: "s:out.a.b", reason: "violation capability_denied: emit_to: subject \"out.a.b\" is not allowed", replaced: true},
		{event: "s:other", reason: "violation capability_denied", replaced: true},
		{event: "s:out.*", reason: "violation capability_denied", replaced: true},
		{event: "t:", reason: "trap: wasm error: unreachable", replaced: true},
		{event: "r:", reason: "rejected: process_event returned 1"},
		{event: "x", reason: "rejected: process_event returned 2"},
		{event: "l:", reason: "violation fuel_exhausted: the event's fuel budget of 5000000 exhausted", replaced: true},
		{event: "g:", reason: "violation memory_limit: memory.grow to 4160KiB denied: above the 4MiB per-instance cap", replaced: true},
		{event: "e:0", reason: "violation output_limit: emit: more than 10 messages for one event", replaced: true},
		{event: "e:" + strings.Repeat("x", 40), reason: "violation output_limit: emit: more than 64B for one event", replaced: true},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			p := newProcessor(t, rt, "ev_test", pol, nil)
			process(t, p, "o:warm") // the instance exists and has seen one event
			res := process(t, p, tc.event)
			if tc.reason != "" {
				if !strings.HasPrefix(res.Reason, tc.reason) || len(res.Outputs) != 0 {
					t.Fatalf("reason %q outputs %q, want reason %q and no outputs", res.Reason, outputs(res), tc.reason)
				}
			} else if res.Reason != "" || outputs(res) != tc.want {
				t.Fatalf("outputs %q reason %q, want %q", outputs(res), res.Reason, tc.want)
			}
			if got := p.Replaced() == 1; got != tc.replaced {
				t.Fatalf("replaced %d instances, want replaced=%v", p.Replaced(), tc.replaced)
			}
			// The next event sees a fresh instance after a failure and the
			// same one otherwise.
			want := "3"
			if tc.replaced {
				want = "1"
			}
			if got := outputs(process(t, p, "c:")); got != want {
				t.Fatalf("count after the event = %s, want %s", got, want)
			}
		})
	}
}

// TestProcessorDeadline: an event that loops is stopped at the policy's
// timeout when it has no fuel budget.
func TestProcessorDeadline(t *testing.T) {
	rt := newRuntime(t)
	pol := testPolicy()
	pol.Limits.Fuel = 0
	pol.Limits.Timeout = policy.Duration(300 * time.Millisecond)
	p := newProcessor(t, rt, "ev_test", pol, nil)
	start := time.Now()
	res := process(t, p, "l:")
	el := time.Since(start)
	if !strings.HasPrefix(res.Reason, "violation timeout: the event's deadline of 300ms exceeded") {
		t.Fatalf("reason %q", res.Reason)
	}
	if el < 300*time.Millisecond || el > 2*time.Second {
		t.Fatalf("stopped after %s, want about 300ms", el)
	}
}

// TestProcessorRecycle: events.recycle_after and events.instance_fuel
// replace the instance (counters restart, init runs again) without failing
// any event.
func TestProcessorRecycle(t *testing.T) {
	rt := newRuntime(t)
	tests := []struct {
		name   string
		set    func(*policy.Policy)
		events []string
		want   []string
	}{
		{"recycle_after", func(p *policy.Policy) { p.Events.RecycleAfter = 2 },
			[]string{"c:", "c:", "c:", "i:", "c:"}, []string{"1", "2", "1", "1", "1"}},
		// Each w:1 burns 1.8M units: the third does not fit in what is
		// left of the instance's 4M and runs again on a fresh instance.
		{"instance_fuel", func(p *policy.Policy) { p.Events.InstanceFuel = 4_000_000 },
			[]string{"c:", "w:1", "w:1", "c:", "w:1", "c:"}, []string{"1", "w", "w", "4", "w", "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol := testPolicy()
			tc.set(&pol)
			p := newProcessor(t, rt, "ev_test", pol, nil)
			var got []string
			for _, ev := range tc.events {
				res := process(t, p, ev)
				if res.Reason != "" {
					t.Fatalf("event %q dead-lettered: %s", ev, res.Reason)
				}
				got = append(got, outputs(res))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("outputs %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCheckABI: a module without the ABI is refused naming the export.
func TestCheckABI(t *testing.T) {
	tests := []struct{ name, want string }{
		{"ev_badsig", `not an event processor: export "process_event": signature (i32) -> (i32), want (i32, i32) -> (i32)`},
		{"trap", `not an event processor: export "alloc": missing, want a function (i32) -> (i32)`},
		{"meter_depth", `not an event processor: export "memory": want a memory, found none`},
		{"ev_test", ""},
		{"ev_count", ""},
		{"ev_count_go", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckABI(fixture.Bytes(t, tc.name))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrABI) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// memKV is an in-memory KV for the processor's tests.
type memKV struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func (k *memKV) Get(_ context.Context, key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return nil, false, k.fail
	}
	v, ok := k.m[key]
	return v, ok, nil
}

func (k *memKV) Put(_ context.Context, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return k.fail
	}
	k.m[key] = append([]byte(nil), v...)
	return nil
}

// TestProcessorKV: kv_get/kv_put are refused without a grant, keys carry
// the module's prefix, state survives an instance's replacement, and the
// per-event byte limit holds.
func TestProcessorKV(t *testing.T) {
	rt := newRuntime(t)
	pol := testPolicy()
	_, err := rt.Compile(context.Background(), fixture.Bytes(t, "ev_kv"), pol)
	var ref *sandbox.Refusal
	if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindCapabilityDenied ||
		ref.Violation.Detail != "import wasmward.kv_get: the policy grants no key-value store (events.kv)" {
		t.Fatalf("compile without the grant: %v", err)
	}

	pol.Events.KV = &policy.KV{Bucket: "state", Bytes: 4096}
	kv := &memKV{m: map[string][]byte{}}
	p := newProcessor(t, rt, "ev_kv", pol, kv)
	for i, want := range []string{"1", "2"} {
		if got := outputs(process(t, p, "a")); got != want {
			t.Fatalf("event %d: %s, want %s", i, got, want)
		}
	}
	p.drop(context.Background()) // state outlives the instance
	if got := outputs(process(t, p, "a")); got != "3" {
		t.Fatalf("after replacement: %s, want 3", got)
	}
	if got := string(kv.m["ev_kv.a"]); got != "3" || len(kv.m) != 1 {
		t.Fatalf("store %q, want ev_kv.a=3 only", kv.m)
	}
	if res := process(t, p, "big:5"); !strings.HasPrefix(res.Reason, "violation output_limit: kv_put: more than 4KiB of keys and values for one event") {
		t.Fatalf("big put: %q", res.Reason)
	}
	if res := process(t, p, "a b"); !strings.HasPrefix(res.Reason, `violation capability_denied: kv_get: key "a b" is not a key`) {
		t.Fatalf("bad key: %q", res.Reason)
	}
	kv.fail = errors.New("bucket unavailable")
	var res Result
	if err := p.Process(context.Background(), []byte("a"), &res); err == nil || !strings.Contains(err.Error(), "bucket unavailable") {
		t.Fatalf("failing store: err %v, reason %q; want the host's error", err, res.Reason)
	}
}

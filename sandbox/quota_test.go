package sandbox_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// pool is a FuelQuota holding a fixed amount of fuel.
type pool struct {
	mu                  sync.Mutex
	left, taken, backed int64
}

func (p *pool) Take(n int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n = min(n, p.left)
	p.left -= n
	p.taken += n
	return n
}

func (p *pool) Return(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.left += n
	p.backed += n
}

// A run drawing from a fuel quota is stopped with a quota violation when
// the quota gives out before the policy's fuel limit, with a fuel_exhausted
// one when the policy's limit is the smaller, and what a finished run took
// but did not use goes back to the pool.
func TestFuelQuota(t *testing.T) {
	rt := newRuntime(t)
	tests := []struct {
		name    string
		fixture string
		fuel    uint64 // the policy's limits.fuel
		quota   int64
		kind    sandbox.Kind // "" for a clean exit
		used    uint64       // want FuelUsed (0: not checked)
	}{
		{"quota below the policy limit", "sb_loop", 50_000_000, 3_000_000, sandbox.KindQuota, 3_000_000},
		{"quota without a policy limit", "sb_loop", 0, 2_500_000, sandbox.KindQuota, 2_500_000},
		{"policy limit below the quota", "sb_loop", 1_000_000, 50_000_000, sandbox.KindFuelExhausted, 1_000_000},
		{"run within the quota", "gw_hello", 0, 50_000_000, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, rt, tc.fixture, withLimits(func(l *policy.Limits) {
				l.Fuel = tc.fuel
				l.Timeout = policy.Duration(10 * time.Second)
			}))
			p := &pool{left: tc.quota}
			r := run(t, m, sandbox.Invocation{Quota: p})
			if tc.kind == "" {
				if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 {
					t.Fatalf("outcome %s %v, want a clean exit", r.rep.Outcome, r.rep.Violation)
				}
			} else if r.rep.Violation == nil || r.rep.Violation.Kind != tc.kind {
				t.Fatalf("violation %v, want %s", r.rep.Violation, tc.kind)
			}
			if tc.used != 0 && r.rep.FuelUsed != tc.used {
				t.Errorf("fuel_used = %d, want %d", r.rep.FuelUsed, tc.used)
			}
			// The pool lost exactly what the run used.
			if got := tc.quota - p.left; got != int64(r.rep.FuelUsed) {
				t.Errorf("the pool lost %d, the run used %d (taken %d, returned %d)", got, r.rep.FuelUsed, p.taken, p.backed)
			}
		})
	}
}

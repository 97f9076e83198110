package sandbox_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// A run drawing from an outbound quota sends a request only when the pool
// pays for all its bytes first: the server never sees a request beyond the
// quota. A response body is delivered as far as the pool pays; the run
// that finds the pool unable to pay is stopped with a quota violation and
// what the pool gave but the body did not fill goes back.
func TestOutboundQuota(t *testing.T) {
	const body = 100
	var seen atomic.Int64 // requests the server received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		io.WriteString(w, strings.Repeat("z", body))
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "http://api.test:" + port + "/count"
	req := int64(len(url) + len("GET")) // what netcap charges for one request
	rt := netRuntime(t, &testResolver{answers: map[string][]string{"api.test": {"127.0.0.1"}}})
	m := compile(t, rt, "net_fetch", netPolicy(policy.HTTPRule{URL: "http://api.test:" + port + "/", AllowPrivate: true}))

	one := req + body
	tests := []struct {
		name      string
		count     int   // requests the guest sends
		quota     int64 // the pool
		sent      int64 // requests the server must receive
		delivered uint64
		stopped   string // the denial's reason when the run is stopped, "" for a clean exit
	}{
		{"quota for every request", 3, 3 * one, 3, 3 * body, ""},
		{"exactly one request and its body", 1, one, 1, body, ""},
		{"the third request is one byte short", 3, 2*one + req - 1, 2, 2 * body, "request of " + strconv.FormatInt(req, 10) + " bytes: the tenant's outbound bytes are spent"},
		{"the third body is cut at 40 bytes", 3, 2*one + req + 40, 3, 2*body + 40, "response body beyond the tenant's outbound bytes"},
		{"an empty pool sends nothing", 1, 0, 0, 0, "request of " + strconv.FormatInt(req, 10) + " bytes: the tenant's outbound bytes are spent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen.Store(0)
			p := &pool{left: tc.quota}
			r := run(t, m, sandbox.Invocation{Args: []string{"-n", strconv.Itoa(tc.count), url}, Outbound: p})
			if got := seen.Load(); got != tc.sent {
				t.Errorf("the server received %d requests, want %d", got, tc.sent)
			}
			n := r.rep.Network
			if n == nil || n.ResponseBytes != tc.delivered {
				t.Fatalf("network report %+v, want %d response bytes delivered", n, tc.delivered)
			}
			if tc.stopped == "" {
				if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 || len(n.Denials) != 0 {
					t.Fatalf("outcome %s exit %d %v denials %s, want a clean exit", r.rep.Outcome, r.rep.ExitCode, r.rep.Violation, denialReasons(r.rep))
				}
			} else {
				if v := r.rep.Violation; v == nil || v.Kind != sandbox.KindQuota || v.Detail != "the tenant's outbound bytes are spent" {
					t.Fatalf("violation %v, want quota: the tenant's outbound bytes are spent", v)
				}
				if d := n.Denials; len(d) != 1 || d[0].Reason != "quota" || d[0].Detail != tc.stopped {
					t.Fatalf("denials %s, want quota: %s", denialReasons(r.rep), tc.stopped)
				}
			}
			// The pool lost exactly what was sent and delivered.
			if got, want := tc.quota-p.left, int64(n.RequestBytes+n.ResponseBytes); got != want {
				t.Errorf("the pool lost %d, the run sent and received %d (taken %d, returned %d)", got, want, p.taken, p.backed)
			}
		})
	}
}

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// startupConfig is a configuration of n routes /r0.. serving modules whose
// bytes are their names m0...
func startupConfig(t *testing.T, n int) *Config {
	t.Helper()
	var y strings.Builder
	y.WriteString("rate_limit: {requests_per_second: 0}\nroutes:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - {route: /r%d, module: m%d}\n", i, i)
	}
	cfg, err := ParseConfig([]byte(y.String()), "t.yaml", func(p string) ([]byte, error) { return []byte(p), nil }, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestNewPreparesRoutesConcurrently: New compiles up to GOMAXPROCS modules
// at once (each fake compilation waits until that many are in flight, so a
// sequential New fails it), calls Verify one route at a time, and builds,
// logs and serves the routes in configuration order, each with its module.
func TestNewPreparesRoutesConcurrently(t *testing.T) {
	const n = 8
	want := min(runtime.GOMAXPROCS(0), n)
	var inflight, most, verifying, mostVerifying atomic.Int64
	var compiles atomic.Int64
	all := make(chan struct{}) // closed when want compilations have started
	var logs syncBuffer
	s, err := New(context.Background(), startupConfig(t, n), Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Verify: func(context.Context, Route) (*policy.Policy, error) {
			v := verifying.Add(1)
			defer verifying.Add(-1)
			for m := mostVerifying.Load(); v > m && !mostVerifying.CompareAndSwap(m, v); m = mostVerifying.Load() {
			}
			time.Sleep(time.Millisecond)
			return nil, nil
		},
		compile: func(_ context.Context, bin []byte, _ policy.Policy) (module, error) {
			c := inflight.Add(1)
			defer inflight.Add(-1)
			for m := most.Load(); c > m && !most.CompareAndSwap(m, c); m = most.Load() {
			}
			// The first want compilations wait for each other.
			if compiles.Add(1) == int64(want) {
				close(all)
			}
			select {
			case <-all:
			case <-time.After(5 * time.Second):
			}
			return &closingModule{name: string(bin)}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if most.Load() != int64(want) {
		t.Errorf("at most %d compilations at once, want %d (GOMAXPROCS %d)", most.Load(), want, runtime.GOMAXPROCS(0))
	}
	if mostVerifying.Load() != 1 {
		t.Errorf("Verify called %d at once, want one at a time", mostVerifying.Load())
	}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Msg, Route string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == "route ready" {
			order = append(order, rec.Route)
		}
	}
	for i := range n {
		if i >= len(order) || order[i] != fmt.Sprintf("/r%d", i) {
			t.Fatalf("routes logged in the order %v, want /r0../r%d", order, n-1)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/r%d", i), nil))
		if body, _ := io.ReadAll(rec.Body); rec.Code != http.StatusOK || string(body) != fmt.Sprintf("m%d", i) {
			t.Errorf("/r%d: %d %q", i, rec.Code, body)
		}
	}
}

// TestNewRouteFailure: when modules are refused, New fails with the first
// failing route in configuration order (not the first to finish), and
// every module compiled meanwhile is closed.
func TestNewRouteFailure(t *testing.T) {
	var mu sync.Mutex
	var mods []*closingModule
	_, err := New(context.Background(), startupConfig(t, 6), Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		compile: func(_ context.Context, bin []byte, _ policy.Policy) (module, error) {
			switch string(bin) {
			case "m2":
				time.Sleep(50 * time.Millisecond) // finishes after m3 fails
				return nil, &sandbox.Refusal{Violation: sandbox.Violation{Kind: sandbox.KindImportDenied, Detail: "m2"}}
			case "m3":
				return nil, &sandbox.Refusal{Violation: sandbox.Violation{Kind: sandbox.KindImportDenied, Detail: "m3"}}
			}
			m := &closingModule{name: string(bin)}
			mu.Lock()
			mods = append(mods, m)
			mu.Unlock()
			return m, nil
		},
	})
	if err == nil || !strings.HasPrefix(err.Error(), "route /r2: compile m2: ") {
		t.Fatalf("err %v, want route /r2's refusal", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(mods) == 0 {
		t.Fatal("no module compiled before the failure")
	}
	for _, m := range mods {
		if !m.closed.Load() {
			t.Errorf("%s compiled and not closed", m.name)
		}
	}
}

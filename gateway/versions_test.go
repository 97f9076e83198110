package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// closingModule is a fake compiled module that knows when it was closed
// and fails a run that starts or ends after that.
type closingModule struct {
	name    string
	running atomic.Int64
	closed  atomic.Bool
	bad     atomic.Int64 // runs that overlapped the close
	delay   time.Duration
}

func (m *closingModule) Run(ctx context.Context, in sandbox.Invocation) (*sandbox.Report, error) {
	m.running.Add(1)
	defer m.running.Add(-1)
	if m.closed.Load() {
		m.bad.Add(1)
		return nil, errors.New("run on a closed module")
	}
	time.Sleep(m.delay)
	io.WriteString(in.Stdout, "Content-Type: text/plain\n\n"+m.name)
	if m.closed.Load() {
		m.bad.Add(1)
	}
	return &sandbox.Report{Outcome: sandbox.OutcomeExit}, nil
}
func (m *closingModule) SHA256() string { return digest.SHA256Hex([]byte(m.name)) }
func (m *closingModule) Close(context.Context) error {
	if m.running.Load() > 0 {
		m.bad.Add(1)
	}
	m.closed.Store(true)
	return nil
}

// Versions swapped under concurrent requests: every request is answered
// 200 by some version, no module is closed while a run is inside it, every
// version no longer referenced is closed, and a canary share is honoured.
func TestVersionSwapsUnderConcurrency(t *testing.T) {
	var mu sync.Mutex
	var mods []*closingModule
	cfg, err := ParseConfig([]byte("rate_limit: {requests_per_second: 0}\nroutes:\n  - {route: /r, module: m.wasm}\n"), "t.yaml",
		func(string) ([]byte, error) { return []byte("v0"), nil }, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		compile: func(_ context.Context, bin []byte, _ policy.Policy) (module, error) {
			mu.Lock()
			defer mu.Unlock()
			m := &closingModule{name: string(bin), delay: 200 * time.Microsecond}
			mods = append(mods, m)
			return m, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	h := s.Handler()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/r", nil))
				if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "v") {
					failures.Add(1)
				}
			}
		}()
	}
	for i := 1; i <= 51; i++ { // ends on a replace: one version serves
		v, err := s.Prepare(context.Background(), "/r", ModuleSource{Ref: "m.wasm", Wasm: []byte("v" + string(rune('0'+i%10)))})
		if err != nil {
			t.Fatal(err)
		}
		active, canary, _, _ := s.Versions("/r")
		if canary != nil {
			canary.Release()
		}
		if i%2 == 0 {
			err = s.SetVersions("/r", active, v, 30)
		} else {
			err = s.SetVersions("/r", v, nil, 0)
		}
		active.Release()
		v.Release()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed across the swaps", n)
	}
	mu.Lock()
	closed := 0
	for _, m := range mods {
		if m.bad.Load() > 0 {
			t.Errorf("module %s closed while a run was inside it", m.name)
		}
		if m.closed.Load() {
			closed++
		}
	}
	if closed != len(mods)-1 || s.OpenVersions() != 1 {
		t.Errorf("%d of %d modules closed, %d versions open; want all but the active one closed", closed, len(mods), s.OpenVersions())
	}
	mu.Unlock()

	// A canary at 30% gets 30 of every 100 requests.
	active, _, _, _ := s.Versions("/r")
	c, err := s.Prepare(context.Background(), "/r", ModuleSource{Ref: "m.wasm", Wasm: []byte("vcanary")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetVersions("/r", active, c, 30); err != nil {
		t.Fatal(err)
	}
	active.Release()
	c.Release()
	got := 0
	for i := 0; i < 100; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/r", nil))
		if w.Body.String() == "vcanary" {
			got++
		}
	}
	if got != 30 {
		t.Errorf("canary got %d of 100 requests, want 30", got)
	}
	if sig := c.Signals(time.Minute); sig.Requests != 30 || sig.Errors != 0 {
		t.Errorf("canary signals %+v", sig)
	}
}

// Misuse of SetVersions is refused and changes nothing.
func TestSetVersionsRefusals(t *testing.T) {
	s := fakeServer(t, "routes:\n  - {route: /a, module: m.wasm}\n  - {route: /b, module: m.wasm}\n", nil)
	a, _, _, _ := s.Versions("/a")
	defer a.Release()
	b, _, _, _ := s.Versions("/b")
	defer b.Release()
	tests := []struct {
		name           string
		route          string
		active, canary *Version
		pct            int
		want           string
	}{
		{"no active", "/a", nil, nil, 0, "need an active version"},
		{"share without canary", "/a", a, nil, 10, "need an active version"},
		{"share above 100", "/a", a, b, 101, "need an active version"},
		{"other route's version", "/a", b, nil, 0, "prepared for /b"},
		{"unknown route", "/c", a, nil, 0, "no such route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.SetVersions(tc.route, tc.active, tc.canary, tc.pct)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got, _, _, _ := s.Versions("/a"); got != a {
				t.Errorf("the route's version changed")
			} else {
				got.Release()
			}
		})
	}
}

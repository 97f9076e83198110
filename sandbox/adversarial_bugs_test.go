//go:build bugs

// Adversarial tests that fail today: each is a real bug (see the security
// review report). Run with `go test -tags bugs ./sandbox -run TestAdvBug`.
package sandbox_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// BUG: table.grow is not bounded by the per-instance memory cap. With the
// default policy (128 MiB, no fuel budget) one table.grow of 64Mi elements
// makes wazero allocate 512 MiB of host memory and succeeds; a delta of
// 0xfffffffe would ask for 32 GiB and get the host OOM-killed. Safe: the
// grow fails (-1) with a memory_limit violation, like memory.grow.
func TestAdvBugTableGrowEscapesMemoryCap(t *testing.T) {
	rt := advRuntime(t)
	m := advCompile(t, rt, fixture.Bytes(t, "adv_tablegrow"), advPolicy(nil))
	r := advRun(t, m, sandbox.Invocation{Function: "big"})
	if len(r.rep.Results) == 1 && int32(r.rep.Results[0]) != -1 {
		t.Errorf("table.grow of 64Mi elements (512 MiB) under a %s cap succeeded (returned %d)",
			policy.Size(policy.DefaultMemory), int32(r.rep.Results[0]))
	}
	advViolation(t, r.rep, sandbox.KindMemoryLimit)
}

// BUG: Compile ignores its context (wazero's CompileModule does not check
// it) and its time is quadratic in block nesting: a 24 KB function of 8000
// nested empty loops takes ~5 s to compile (16000: ~28 s; the meter's
// block/loop/block wrapper makes wazero's quadratic pass ~8x slower), and
// Compile returns success long after a 200 ms deadline. Safe: Compile
// refuses absurd nesting up front and returns ctx.Err() by the deadline.
func TestAdvBugCompileIgnoresContext(t *testing.T) {
	rt := advRuntime(t)
	const depth = 8000
	body := append(append(bytes.Repeat([]byte{0x03, 0x40}, depth), bytes.Repeat([]byte{0x0b}, depth)...), 0x0b)
	bin := advModule(1, body, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	m, err := rt.Compile(ctx, bin, advPolicy(nil))
	el := time.Since(start)
	if err == nil {
		_ = m.Close(context.Background())
	}
	if el > time.Second {
		t.Errorf("Compile of a %d-byte module took %v under a 200ms context (err %v)", len(bin), el, err)
	}
	if err == nil {
		t.Errorf("Compile succeeded after its context's deadline")
	}
}

// advLateWriter records writes with their time.
type advLateWriter struct {
	mu  sync.Mutex
	buf []byte
	at  []time.Time
}

func (w *advLateWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	w.at = append(w.at, time.Now())
	return len(p), nil
}

// BUG: a guest can make Run abandon it and then keep doing I/O through the
// caller's Stdin/Stdout after Run returned. table.grow of 2 GiB (unbounded
// by the cap, see above) runs inside wazero for over a second with no fuel
// check; the watchdog gives up and Run returns a timeout; then the
// straight-line code after the grow (calls are not fuel checks) calls
// fd_read and fd_write, which still reach the Invocation's reader and
// writer. In the gateway those belong to a pooled per-request state that
// the next request already reuses: cross-request read of the body and
// injection into another client's response (gateway
// TestAdvBugAbandonedRunPoisonsPooledState). Costs 2 GiB of RSS for ~1 s.
// Safe: no read or write reaches the Invocation after Run returned.
func TestAdvBugIOAfterRunReturned(t *testing.T) {
	rt := advRuntime(t)
	p := advPolicy(func(l *policy.Limits) { l.Timeout = policy.Duration(300 * time.Millisecond) })
	m := advCompile(t, rt, fixture.Bytes(t, "adv_abandon"), p)
	w := &advLateWriter{}
	start := time.Now()
	rep, err := m.Run(context.Background(), sandbox.Invocation{Stdout: w, Stdin: strings.NewReader("request body")})
	returned := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	advViolation(t, rep, sandbox.KindTimeout)
	t.Logf("Run returned after %v: %s", returned.Sub(start), rep.Violation.Detail)
	time.Sleep(3 * time.Second) // let the abandoned guest finish
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.at {
		if at.After(returned) {
			t.Fatalf("the guest wrote %q to the caller's Stdout %v after Run returned (%s)", w.buf, at.Sub(returned), rep.Violation.Detail)
		}
	}
}

// advModule assembles a minimal module: one type () -> (), n copies of body
// as defined functions, the first exported as _start.
func advModule(nfuncs int, body []byte, locals []byte) []byte {
	uleb := func(b []byte, v uint64) []byte {
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v != 0 {
				b = append(b, c|0x80)
				continue
			}
			return append(b, c)
		}
	}
	section := func(out []byte, id byte, payload []byte) []byte {
		out = append(out, id)
		out = uleb(out, uint64(len(payload)))
		return append(out, payload...)
	}
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	out = section(out, 1, []byte{1, 0x60, 0, 0})
	var fs []byte
	fs = uleb(fs, uint64(nfuncs))
	for i := 0; i < nfuncs; i++ {
		fs = append(fs, 0)
	}
	out = section(out, 3, fs)
	out = section(out, 7, []byte{1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0})
	if locals == nil {
		locals = []byte{0}
	}
	fb := append(append([]byte(nil), locals...), body...)
	var code []byte
	code = uleb(code, uint64(nfuncs))
	for i := 0; i < nfuncs; i++ {
		code = uleb(code, uint64(len(fb)))
		code = append(code, fb...)
	}
	return section(out, 10, code)
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
)

// procStatusKiB reads a "Name:  N kB" field of /proc/PID/status.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, l)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// rssSlack is the constant the RSS bound allows beyond memory_budget and
// the process's resident size when it became ready: the Go heap of
// in-flight requests (bodies, buffers, goroutines) and what the runtime
// has not yet returned to the kernel. docs/tenancy.md states it.
const rssSlack = 128 << 20

// TestServeMemoryBudgetBoundsRSS: many concurrent requests to a handler
// that fills its whole 64MiB memory cap. Admission reserves each
// instance's cap from memory_budget (256MiB: three instances at a time),
// the rest wait in the tenant's queue; the process's peak RSS (VmHWM) stays
// within the budget plus its resident size at start plus rssSlack. Without
// the budget the same load peaks at about concurrency x 64MiB (768MiB for
// 12 requests; see docs/tenancy.md).
func TestServeMemoryBudgetBoundsRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and allocates 256MiB")
	}
	const budget = 256 << 20
	const clients = 12
	cfg := fmt.Sprintf(`rate_limit: {requests_per_second: 0}
memory_budget: %d
request: {timeout: 60s}
tenants:
  - name: default
    quotas: {queue: 64, queue_timeout: 60s}
routes:
  - route: /bomb
    module: %s
    max_concurrency: 64
    policy: {limits: {memory: 64MiB, timeout: 30s}}
`, budget, fixture.Path(t, "gw_evil"))
	p := startServe(t, cfg, nil, "")
	pid := p.cmd.Process.Pid
	base := procStatusKiB(t, pid, "VmRSS") << 10

	var wg sync.WaitGroup
	statuses := make([]string, clients)
	c := http.Client{Timeout: 90 * time.Second}
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get("http://" + p.pub + "/bomb?memory")
			if err != nil {
				statuses[i] = err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses[i] = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}()
	}
	wg.Wait()
	peak := procStatusKiB(t, pid, "VmHWM") << 10
	for i, s := range statuses {
		// The handler fills its cap until memory.grow fails: a
		// memory_limit violation, 502. Never 503: it waits its turn.
		if !strings.HasPrefix(s, "502 ") {
			t.Errorf("request %d: %s, want 502 (memory_limit, after waiting its turn in the queue)", i, s)
		}
	}
	bound := int64(budget) + base + rssSlack
	t.Logf("peak RSS %d MiB, at start %d MiB, bound %d MiB", peak>>20, base>>20, bound>>20)
	if peak > bound {
		t.Errorf("peak RSS %d MiB above memory_budget %d MiB + %d MiB at start + %d MiB", peak>>20, budget>>20, base>>20, rssSlack>>20)
	}
	// The instances did fill their caps: a handler that allocated less
	// would prove nothing about the bound.
	if peak < base+budget/2 {
		t.Errorf("peak RSS %d MiB: the handlers did not allocate (start %d MiB)", peak>>20, base>>20)
	}
}

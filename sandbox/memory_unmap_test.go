//go:build linux

package sandbox_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

func vmRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A memory that outgrows the pooled classes moves to its own mapping; the
// mapping must be unmapped when the instance ends. It was not: the switch
// marked the state mapped before the old (pooled, Go heap) buffer was
// freed, so that buffer was unmapped under the Go heap and the new mapping
// was later dropped unmapped, leaking the whole cap per run (about 70MiB
// per run of this bomb: 8 runs grew RSS by 550MiB).
func TestLargeMemoryUnmappedAfterRun(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "gw_evil", withLimits(func(l *policy.Limits) {
		l.Memory = 64 << 20
		l.Timeout = policy.Duration(30 * time.Second)
	}))
	bomb := func() {
		r := run(t, m, sandbox.Invocation{Env: []string{"QUERY_STRING=memory"}})
		if r.rep.Violation == nil || r.rep.Violation.Kind != sandbox.KindMemoryLimit || r.rep.PeakMemoryBytes < 60<<20 {
			t.Fatalf("the bomb did not fill its cap: %+v", r.rep)
		}
	}
	bomb() // the pools and the runtime's own memory settle
	bomb()
	before := vmRSS(t)
	const runs = 8
	for range runs {
		bomb()
	}
	if grown := vmRSS(t) - before; grown > 48<<20 {
		t.Errorf("RSS grew %d MiB over %d runs of a 64MiB bomb, want under 48MiB (every mapping unmapped)", grown>>20, runs)
	}
}

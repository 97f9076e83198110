package tenant

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// DefaultBudgetFraction is the share of the machine's memory (or of the
// cgroup's memory.max, when lower) that memory_budget defaults to: half,
// so that the compiled modules, the Go heap, request and response bodies
// (request.body_budget) and the kernel's page cache keep room beside the
// guests' linear memories.
const DefaultBudgetFraction = 0.5

// fallbackMemory is assumed when the machine's memory cannot be read.
const fallbackMemory = 4 << 30

// DefaultBudget returns the default memory budget and where the memory it
// is a fraction of came from ("cgroup memory.max", "MemTotal" or
// "fallback").
func DefaultBudget() (int64, string) {
	mem, src := machineMemory(os.ReadFile)
	return int64(float64(mem) * DefaultBudgetFraction), src
}

// machineMemory is the lower of the cgroup's memory limit (v2 memory.max,
// v1 memory.limit_in_bytes) and MemTotal.
func machineMemory(read func(string) ([]byte, error)) (int64, string) {
	total, src := int64(0), "fallback"
	if b, err := read("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb > 0 {
					total, src = kb<<10, "MemTotal"
				}
			}
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := read(p)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 { // "max": no limit
			continue
		}
		if total == 0 || v < total {
			total, src = v, "cgroup memory.max"
		}
		break
	}
	if total == 0 {
		total = fallbackMemory
	}
	return total, src
}

package alert

import (
	"sort"
	"time"
)

// Usage is what one run used, against its caps: the report's figures and
// the policy's limits.
type Usage struct {
	PeakMemory uint64
	MemoryCap  uint64
	Duration   time.Duration
	Fuel       uint64
	Stdout     uint64
	Stderr     uint64
	OutputCap  uint64
	HostCalls  map[string]uint64
}

// CheckSoft appends to dst the soft thresholds of t that u reaches (at or
// above each threshold) and returns it. A run that reaches none appends
// nothing and allocates nothing.
func CheckSoft(dst []SoftEvent, t *Thresholds, u *Usage) []SoftEvent {
	if t == nil {
		return dst
	}
	if t.MemoryPercent > 0 && u.MemoryCap > 0 {
		if p := 100 * float64(u.PeakMemory) / float64(u.MemoryCap); p >= t.MemoryPercent {
			dst = append(dst, SoftEvent{Kind: SoftMemory, Value: p, Threshold: t.MemoryPercent})
		}
	}
	if t.Duration > 0 && u.Duration >= t.Duration {
		dst = append(dst, SoftEvent{Kind: SoftDuration, Value: ms(u.Duration), Threshold: ms(t.Duration)})
	}
	if t.Fuel > 0 && u.Fuel >= t.Fuel {
		dst = append(dst, SoftEvent{Kind: SoftFuel, Value: float64(u.Fuel), Threshold: float64(t.Fuel)})
	}
	if t.OutputPercent > 0 && u.OutputCap > 0 {
		if p := 100 * float64(max(u.Stdout, u.Stderr)) / float64(u.OutputCap); p >= t.OutputPercent {
			dst = append(dst, SoftEvent{Kind: SoftOutput, Value: p, Threshold: t.OutputPercent})
		}
	}
	if len(t.HostCalls) > 0 && len(u.HostCalls) > 0 {
		start := len(dst)
		for name, lim := range t.HostCalls {
			if n := u.HostCalls[name]; n >= lim {
				dst = append(dst, SoftEvent{Kind: SoftHostCalls, Name: name, Value: float64(n), Threshold: float64(lim)})
			}
		}
		added := dst[start:]
		sort.Slice(added, func(i, j int) bool { return added[i].Name < added[j].Name })
	}
	return dst
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

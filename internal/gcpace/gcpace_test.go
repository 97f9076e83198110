package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

var sink []byte

// settle runs a collection with nothing allocated meanwhile, waits until
// the pacer (when it runs) has seen it, and returns the heap goal for the
// next cycle.
func settle(t *testing.T, p *Pacer) uint64 {
	t.Helper()
	seen := p.cycles.Load()
	runtime.GC()
	for i := 0; p.floor > 0 && p.cycles.Load() == seen; i++ {
		if i == 500 {
			t.Fatal("the pacer saw no collection within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// churn allocates total bytes of garbage in 4 KiB pieces, writing each, and
// returns how many collections ran meanwhile.
func churn(total int) uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start := ms.NumGC
	for range total / 4096 {
		b := make([]byte, 4096)
		for i := 0; i < len(b); i += 64 {
			b[i] = byte(i)
		}
		sink = b
	}
	runtime.ReadMemStats(&ms)
	return ms.NumGC - start
}

// TestFloor: with a live heap well under a MiB, GOGC 400 alone gives Go's
// minimum goal (4 MiB * 4); with a floor the goal is the floor, and the
// collector runs a fraction as often. A memory limit below the floor
// still wins.
func TestFloor(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const total = 256 << 20
	var unpaced uint32
	for _, tc := range []struct {
		name         string
		floor, limit int64
		lo, hi       uint64 // the heap goal's range, MiB
		raised       bool   // GOGC above 400
	}{
		{"no floor", 0, -1, 15, 18, false},
		{"64MiB floor", 64 << 20, -1, 58, 70, true},
		{"128MiB floor", 128 << 20, -1, 115, 141, true},
		// The goal under a limit leaves room for the runtime's own memory.
		{"floor above the memory limit", 128 << 20, 32 << 20, 8, 32, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.limit > 0 {
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(tc.limit))
			}
			p := Start(400, tc.floor)
			defer p.Stop()
			goal := settle(t, p)
			if goal>>20 < tc.lo || goal>>20 > tc.hi {
				t.Errorf("heap goal %d MiB, want %d-%d", goal>>20, tc.lo, tc.hi)
			}
			if raised := p.Percent() > 400; raised != tc.raised {
				t.Errorf("GOGC %d, raised = %v, want %v", p.Percent(), raised, tc.raised)
			}
			gcs := churn(total)
			t.Logf("heap goal %d MiB, GOGC %d; %d collections for %d MiB of garbage", goal>>20, p.Percent(), gcs, total>>20)
			switch {
			case tc.floor == 0:
				unpaced = gcs
			case tc.limit < 0 && gcs > unpaced/2:
				t.Errorf("%d collections with the floor, %d without: want at most half", gcs, unpaced)
			case tc.limit > 0 && gcs < unpaced/2:
				t.Errorf("%d collections under a 32 MiB memory limit, %d with a 16 MiB goal: the floor overrode the limit", gcs, unpaced)
			}
		})
	}
}

// TestLiveHeapAboveFloor: a live heap whose GOGC goal is above the floor
// is paced by GOGC alone.
func TestLiveHeapAboveFloor(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	live := make([][]byte, 24)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	p := Start(400, 32<<20) // 24 MiB live * 5 = 120 MiB > 32 MiB
	defer p.Stop()
	churn(64 << 20)
	runtime.KeepAlive(live)
	if p.Percent() != 400 {
		t.Errorf("GOGC %d with 24 MiB live and a 32 MiB floor, want 400", p.Percent())
	}
}

// TestStopRestores: Stop puts back the GOGC the process had, and the pacer
// changes nothing after it.
func TestStopRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(123))
	p := Start(400, 64<<20)
	settle(t, p)
	if got := p.Percent(); got <= 400 {
		t.Errorf("GOGC %d while pacing with a floor and no live heap, want above 400", got)
	}
	p.Stop()
	p.Stop()
	runtime.GC()
	runtime.GC()
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("GOGC %d after Stop, want 123", got)
	}
}

func TestFloorOfBudget(t *testing.T) {
	for _, tc := range []struct{ budget, want int64 }{
		{0, 0}, {-1, 0}, {64 << 20, 8 << 20}, {512 << 20, 64 << 20}, {1 << 30, 128 << 20}, {12 << 30, 128 << 20},
	} {
		if got := Floor(tc.budget); got != tc.want {
			t.Errorf("Floor(%d) = %d, want %d", tc.budget, got, tc.want)
		}
	}
}

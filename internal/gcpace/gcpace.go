// Package gcpace paces the Go garbage collector of a long-running server
// whose live heap is small but whose allocation rate is high (a gateway
// that builds a fresh instance per request): GOGC sets how far the heap may
// grow beyond the live set, and a floor keeps the heap goal from falling so
// low that the collector runs hundreds of times a second.
//
// Go has no floor setting of its own, so Start re-derives GOGC after every
// collection from the live heap it measured: the goal is the larger of
// what GOGC alone gives and the floor. The process's memory limit
// (debug.SetMemoryLimit, GOMEMLIMIT) still caps the heap: under it the
// collector runs earlier, floor or not.
package gcpace

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// MaxFloor is the largest floor Floor returns.
const MaxFloor = 128 << 20

// Floor is the heap-goal floor for a server whose instances may reserve
// budget bytes: an eighth of the budget, at most MaxFloor. Budgets of a
// few MiB give a floor below Go's own minimum goal (4 MiB times GOGC/100),
// which then has no effect.
func Floor(budget int64) int64 {
	return min(max(budget/8, 0), MaxFloor)
}

// Pacer is a running pacing; Stop ends it.
type Pacer struct {
	percent int
	floor   int64
	old     int
	stopped atomic.Bool
	stop    sync.Once
	samples []metrics.Sample
	// set is the GOGC the pacer last set; cycles counts the collections
	// it saw (for tests).
	set    atomic.Int64
	cycles atomic.Int64
}

// Start sets GOGC to percent (at least 1) and, after every collection,
// raises it so that the next heap goal is at least floor bytes; floor <= 0
// paces with percent alone. Stop restores the GOGC the process had.
func Start(percent int, floor int64) *Pacer {
	p := &Pacer{percent: max(percent, 1), floor: floor, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	p.set.Store(int64(p.percent))
	p.old = debug.SetGCPercent(p.percent)
	if floor > 0 {
		p.adjust()
		p.arm()
	}
	return p
}

// Stop ends the pacing and restores the GOGC the process had before Start.
func (p *Pacer) Stop() {
	p.stop.Do(func() {
		p.stopped.Store(true)
		debug.SetGCPercent(p.old)
	})
}

// Percent is the GOGC the pacer set last.
func (p *Pacer) Percent() int { return int(p.set.Load()) }

// sentinel is allocated per cycle; its cleanup runs once a collection found
// it unreachable.
type sentinel struct{ _ [16]byte }

func (p *Pacer) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(p *Pacer) {
		if p.stopped.Load() {
			return
		}
		p.cycles.Add(1)
		p.adjust()
		p.arm()
	}, p)
}

// heapMinimum is Go's smallest heap goal at GOGC 100; it scales with GOGC.
const heapMinimum = 4 << 20

// adjust sets GOGC for the next cycle. Go's heap goal is the larger of
// live + (live + stacks + globals) * GOGC / 100 and 4 MiB * GOGC / 100, so
// the floor needs the smaller of (floor - live) * 100 / (live + stacks +
// globals) and floor * 100 / 4 MiB: with a small live heap the second one
// sets the goal, at the floor.
func (p *Pacer) adjust() {
	metrics.Read(p.samples)
	var v [3]uint64
	for i, s := range p.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	live, roots := int64(v[0]), int64(v[0]+v[1]+v[2])
	want := int64(p.percent)
	if goal := max(live+roots*want/100, heapMinimum*want/100); goal < p.floor {
		want = p.floor * 100 / heapMinimum
		if roots > 0 {
			want = min(want, (p.floor-live)*100/roots)
		}
		want = min(want, math.MaxInt32)
	}
	if want == p.set.Load() {
		return
	}
	p.set.Store(want)
	debug.SetGCPercent(int(want))
}

package audit

import (
	"time"
)

// MaxAggregateKeys bounds the runs of identical events tracked at once;
// past it, new kinds of event are written one by one (never dropped).
const MaxAggregateKeys = 4096

// aggKey is what makes two events identical for aggregation: everything
// but the request ID.
type aggKey struct {
	typ, route, module, sha, client, kind, detail, tenant string
}

// agg is one run of identical events: the first was written, n more came
// before until.
type agg struct {
	until time.Time
	n     uint64
	since time.Time
	last  Event
}

func aggregatable(typ string) bool {
	switch typ {
	case TypeViolation, TypeTrap, TypeBadResponse, TypeHostError, TypeQuota:
		return true
	}
	return false
}

// aggregate folds e into a run of identical events and reports whether it
// did (the caller then writes nothing). The first event of a run is not
// folded: it is written at once. Called with l.mu held.
func (l *Log) aggregate(e Event) bool {
	w := l.opts.AggregateWindow
	if w <= 0 || !aggregatable(e.Type) || e.Count != 0 {
		return false
	}
	k := aggKey{e.Type, e.Route, e.Module, e.SHA256, e.Client, e.Kind, e.Detail, e.Tenant}
	now := l.now()
	if a, ok := l.aggs[k]; ok {
		if now.Before(a.until) {
			if a.n == 0 {
				a.since = now
			}
			a.n++
			a.last = e
			l.stats.Aggregated++
			return true
		}
		l.emit(k, a)
	}
	if len(l.aggs) < MaxAggregateKeys {
		l.aggs[k] = &agg{until: now.Add(w)}
	}
	return false
}

// emit queues the aggregated record of a run, if it folded any event, and
// forgets the run. Called with l.mu held.
func (l *Log) emit(k aggKey, a *agg) {
	delete(l.aggs, k)
	if a.n == 0 {
		return
	}
	e := a.last
	e.Count = a.n
	e.Since = a.since.UTC().Format(time.RFC3339Nano)
	l.enqueue(e)
}

// flushAllAggregates queues every run's record. Called with l.mu held.
func (l *Log) flushAllAggregates() {
	for k, a := range l.aggs {
		l.emit(k, a)
	}
}

// flushAggregates queues the records of runs whose window has ended, a few
// times per window, until Close.
func (l *Log) flushAggregates() {
	t := time.NewTicker(max(l.opts.AggregateWindow/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.closing:
			return
		case <-t.C:
		}
		l.mu.Lock()
		now := l.now()
		for k, a := range l.aggs {
			if !now.Before(a.until) {
				l.emit(k, a)
			}
		}
		l.mu.Unlock()
	}
}

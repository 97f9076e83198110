package natsstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease is a lease on one key of a JetStream key-value bucket, taken and
// renewed by compare-and-set on the key's revision.
//
// The holder renews it every TTL/4 with an update conditional on the
// revision it wrote last, and counts itself the holder only until TTL
// after it sent the last write that succeeded (by its own monotonic
// clock). A contender takes the key over only after it has seen the same
// revision for a whole TTL by its own clock, which starts after that write
// was stored: so a holder stops counting itself the holder before anyone
// else can take the lease, without comparing clocks between machines.
// Two contenders updating the same revision: the bucket accepts one.
type Lease struct {
	kv     jetstream.KeyValue
	key    string
	holder string
	ttl    time.Duration

	mu      sync.Mutex
	rev     uint64    // the revision this holder wrote last (0: none)
	until   time.Time // held until then (monotonic)
	seenRev uint64    // a contender's view: the revision seen ...
	seenAt  time.Time // ... since then
}

// leaseValue is what the lease key holds (for operators: who holds it).
type leaseValue struct {
	Holder string `json:"holder"`
	TTL    string `json:"ttl"`
}

// NewLease returns a lease on key held under the name holder.
func NewLease(kv jetstream.KeyValue, key, holder string, ttl time.Duration) *Lease {
	return &Lease{kv: kv, key: key, holder: holder, ttl: ttl}
}

// Held reports whether this holder holds the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.heldLocked(time.Now())
}

func (l *Lease) heldLocked(now time.Time) bool { return l.rev != 0 && now.Before(l.until) }

// TTL is the lease's lifetime without a renewal.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Step takes the lease when it is free or expired, or renews it when
// held, once; it reports whether the lease is held after it. An error is
// a failure to reach the bucket (the lease is then held until it expires).
// Steps must not run concurrently (Run is the one caller); Held may be
// called at any time and never waits for the bucket.
func (l *Lease) Step(ctx context.Context) (bool, error) {
	start := time.Now()
	val, _ := json.Marshal(leaseValue{Holder: l.holder, TTL: l.ttl.String()})
	l.mu.Lock()
	mine := l.rev
	l.mu.Unlock()
	if mine != 0 {
		// Renew (also after an expiry: the update succeeds only if no one
		// took the key meanwhile).
		rev, err := l.kv.Update(ctx, l.key, val, mine)
		switch {
		case err == nil:
			return l.took(rev, start), nil
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			l.mu.Lock()
			l.rev = 0 // taken over or released
			l.mu.Unlock()
		default:
			return l.Held(), fmt.Errorf("renew the lease %s: %w", l.key, err)
		}
	}
	e, err := l.kv.Get(ctx, l.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		rev, err := l.kv.Create(ctx, l.key, val)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return false, nil
			}
			return false, fmt.Errorf("take the lease %s: %w", l.key, err)
		}
		return l.took(rev, start), nil
	case err != nil:
		return false, fmt.Errorf("read the lease %s: %w", l.key, err)
	}
	l.mu.Lock()
	if e.Revision() != l.seenRev {
		l.seenRev, l.seenAt = e.Revision(), start
		l.mu.Unlock()
		return false, nil
	}
	waited := start.Sub(l.seenAt)
	l.mu.Unlock()
	if waited < l.ttl {
		return false, nil
	}
	rev, err := l.kv.Update(ctx, l.key, val, e.Revision())
	switch {
	case err == nil:
		return l.took(rev, start), nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return false, nil
	default:
		return false, fmt.Errorf("take over the lease %s: %w", l.key, err)
	}
}

// took records a write of the lease at revision rev, sent at start.
func (l *Lease) took(rev uint64, start time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev, l.until = rev, start.Add(l.ttl)
	return l.heldLocked(time.Now())
}

// Release gives the lease up when held, so that another contender takes it
// at once instead of after a TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	rev := l.rev
	l.rev = 0
	l.mu.Unlock()
	if rev == 0 {
		return nil
	}
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("release the lease %s: %w", l.key, err)
	}
	return nil
}

// Run steps the lease every TTL/4 until ctx ends and calls changed (from
// Run's goroutine) when it is gained or lost (an expiry without a renewal
// within TTL/4 of it; Held says so at once). Errors go to report. On
// return the lease is released.
func (l *Lease) Run(ctx context.Context, changed func(held bool), report func(error)) {
	tick := time.NewTicker(l.ttl / 4)
	defer tick.Stop()
	held := false
	for {
		sctx, cancel := context.WithTimeout(ctx, l.ttl/4)
		_, err := l.Step(sctx)
		cancel()
		if err != nil && ctx.Err() == nil && report != nil {
			report(err)
		}
		if now := l.Held(); now != held {
			held = now
			changed(held)
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = l.Release(rctx)
			cancel()
			if held {
				changed(false)
			}
			return
		case <-tick.C:
		}
	}
}

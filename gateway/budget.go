package gateway

import (
	"context"
	"sync"
	"time"
)

// bodyBudget bounds the bytes of request and response bodies buffered
// across all requests at once (request.body_budget). Requests take bytes
// through a lease as their buffers grow, and give them all back when they
// end.
type bodyBudget struct {
	max int64

	mu      sync.Mutex
	used    int64
	waiters int
	freed   chan struct{} // closed and replaced when bytes come back and someone waits
}

func newBodyBudget(max int64) *bodyBudget {
	return &bodyBudget{max: max, freed: make(chan struct{})}
}

// take takes n bytes, waiting until deadline (or until ctx ends) for them
// to be free. It reports whether it took them.
func (b *bodyBudget) take(ctx context.Context, n int64, deadline time.Time) bool {
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return true
		}
		wait := time.Until(deadline)
		if wait <= 0 || n > b.max {
			b.mu.Unlock()
			return false
		}
		b.waiters++
		ch := b.freed
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		ok := true
		select {
		case <-ch:
		case <-timer.C:
			ok = false
		case <-ctx.Done():
			ok = false
		}
		b.mu.Lock()
		b.waiters--
		b.mu.Unlock()
		if !ok {
			return false
		}
	}
}

func (b *bodyBudget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.waiters > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
	b.mu.Unlock()
}

// inUse reports the bytes taken now.
func (b *bodyBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// lease is one request's share of the budget. After end, it takes nothing
// more: a guest that outlives its request (an abandoned run) cannot charge
// bytes that would never be given back.
type lease struct {
	mu    sync.Mutex
	b     *bodyBudget
	held  int64
	ended bool
}

func (l *lease) start(b *bodyBudget) {
	l.mu.Lock()
	l.b, l.held, l.ended = b, 0, false
	l.mu.Unlock()
}

// grow takes n more bytes for the request, waiting until deadline.
func (l *lease) grow(ctx context.Context, n int64, deadline time.Time) bool {
	if n <= 0 {
		return true
	}
	l.mu.Lock()
	b, ended := l.b, l.ended
	l.mu.Unlock()
	if b == nil {
		return true // no budget (unit tests that bypass New)
	}
	if ended || !b.take(ctx, n, deadline) {
		return false
	}
	l.mu.Lock()
	if l.ended { // ended while waiting
		l.mu.Unlock()
		b.give(n)
		return false
	}
	l.held += n
	l.mu.Unlock()
	return true
}

// end gives every byte back.
func (l *lease) end() {
	l.mu.Lock()
	b, n := l.b, l.held
	l.held, l.ended = 0, true
	l.mu.Unlock()
	if b != nil {
		b.give(n)
	}
}

package tenant

import (
	"math"
	"sync"
	"time"
)

// Bucket is a token bucket for quantities that are known only while they
// are consumed (fuel, outbound bytes), where golang.org/x/time/rate wants
// the amount up front. Take hands out what is there, never more, and
// Return gives back what was taken but not consumed: the bucket is never
// in debt. It is safe for concurrent use.
type Bucket struct {
	rate  float64 // tokens per second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
	now    func() time.Time
}

// NewBucket returns a full bucket refilling at rate tokens per second up
// to burst. now is the clock (time.Now when nil).
func NewBucket(rate, burst float64, now func() time.Time) *Bucket {
	if now == nil {
		now = time.Now
	}
	return &Bucket{rate: rate, burst: burst, tokens: burst, last: now(), now: now}
}

func (b *Bucket) refill() {
	t := b.now()
	if d := t.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = t
	}
}

// Take takes up to n tokens and returns how many it took: 0 when the
// bucket is empty (or in debt).
func (b *Bucket) Take(n int64) int64 {
	if n <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	got := min(float64(n), math.Floor(b.tokens))
	if got <= 0 {
		return 0
	}
	b.tokens -= got
	return int64(got)
}

// Return gives back n tokens taken but not consumed.
func (b *Bucket) Return(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.refill()
	b.tokens = min(b.burst, b.tokens+float64(n))
	b.mu.Unlock()
}

// Wait reports 0 when the bucket holds at least one token, otherwise how
// long until it will.
func (b *Bucket) Wait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	if b.tokens >= 1 {
		return 0
	}
	if b.rate <= 0 {
		return time.Hour
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// Level reports the tokens in the bucket now.
func (b *Bucket) Level() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	return b.tokens
}

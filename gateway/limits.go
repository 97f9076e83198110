package gateway

import (
	"container/list"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientLimiter is a token bucket per client address, over a bounded map:
// when it holds maxClients clients, the least recently seen is forgotten
// (it starts again with a full bucket, which is the cost of bounding memory).
// IPv6 clients are keyed by their /64, the smallest block an end site gets,
// so rotating addresses within it does not mint fresh buckets.
type clientLimiter struct {
	limit      rate.Limit
	burst      int
	maxClients int

	mu      sync.Mutex
	clients map[netip.Addr]*list.Element
	lru     list.List // of *clientEntry, front = most recent
}

type clientEntry struct {
	addr netip.Addr
	lim  *rate.Limiter
}

func newClientLimiter(rl RateLimit) *clientLimiter {
	if rl.RequestsPerSecond <= 0 {
		return nil
	}
	return &clientLimiter{
		limit:      rate.Limit(rl.RequestsPerSecond),
		burst:      rl.Burst,
		maxClients: rl.MaxClients,
		clients:    make(map[netip.Addr]*list.Element),
	}
}

// allow takes a token for addr. When there is none it returns false and how
// long until one is available.
func (c *clientLimiter) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	if c == nil {
		return true, 0
	}
	key := clientKey(addr)
	c.mu.Lock()
	var lim *rate.Limiter
	if e, ok := c.clients[key]; ok {
		c.lru.MoveToFront(e)
		lim = e.Value.(*clientEntry).lim
	} else {
		if len(c.clients) >= c.maxClients {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.clients, old.Value.(*clientEntry).addr)
		}
		lim = rate.NewLimiter(c.limit, c.burst)
		c.clients[key] = c.lru.PushFront(&clientEntry{addr: key, lim: lim})
	}
	ok := lim.AllowN(now, 1)
	var wait time.Duration
	if !ok {
		r := lim.ReserveN(now, 1)
		wait = r.DelayFrom(now)
		r.CancelAt(now)
	}
	c.mu.Unlock()
	return ok, wait
}

// clientKey is the key of a client address for per-client limits: the
// address, or its /64 for IPv6 (the smallest block an end site gets, so
// rotating addresses within it does not mint fresh budgets).
func clientKey(addr netip.Addr) netip.Addr {
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return addr
}

// size reports the clients tracked.
func (c *clientLimiter) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.clients)
}

// clientAddr returns the client's address: the peer's, unless the peer is a
// trusted proxy, in which case X-Forwarded-For is walked from the right past
// trusted proxies to the first address that is not one. A malformed entry
// stops the walk at the last address known good.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	addr := ap.Addr().Unmap()
	if len(trusted) == 0 || !isTrusted(addr, trusted) {
		return addr
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := xff[i]
		for parts != "" {
			j := strings.LastIndexByte(parts, ',')
			item := strings.TrimSpace(parts[j+1:])
			if j < 0 {
				parts = ""
			} else {
				parts = parts[:j]
			}
			a, err := netip.ParseAddr(item)
			if err != nil {
				// "203.0.113.7:4711" and "[2001:db8::1]:443": an entry
				// with a port is the address it names (RFC 7239 allows
				// ports; some proxies add them to X-Forwarded-For too).
				ap, perr := netip.ParseAddrPort(item)
				if perr != nil {
					return addr
				}
				a = ap.Addr()
			}
			addr = a.Unmap()
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

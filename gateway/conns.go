package gateway

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker bounds and watches the connections of one listener: a global
// and a per-client-address limit, eviction of idle connections to make room,
// a shorter idle timeout under pressure, and the shutdown's idle-connection
// closing. Each accepted connection is a *trackedConn.
type connTracker struct {
	max, perClient    int // perClient 0: no per-client limit
	pressureIdle      time.Duration
	exempt            []netip.Prefix // peers without a per-client limit (trusted proxies)
	rewrite           func([]byte) []byte
	onRefuse, onEvict func(reason string)
	onOpen            func(delta int)
	mu                sync.Mutex
	conns             map[*trackedConn]struct{}
	byAddr            map[netip.Addr]int
	pressureThreshold int
	stopReaper        chan struct{}
	stopReaperOnce    sync.Once
}

// trackedConn is an accepted connection with what the tracker and the
// handler need to know about it.
type trackedConn struct {
	net.Conn
	t    *connTracker
	addr netip.Addr // the client's key (clientKey)

	state     atomic.Int32 // http.ConnState
	gotBytes  atomic.Bool  // bytes read since the connection last went idle
	idleSince atomic.Int64 // unix nanoseconds; the accept time for a new connection
	inHandler atomic.Bool  // the gateway's handler runs a request of it
	http10TE  atomic.Bool  // an HTTP/1.0 request head with Transfer-Encoding was read
	released  atomic.Bool
	scan      headScanner            // used by Read only (net/http never reads a conn concurrently)
	port      atomic.Pointer[string] // the local port, once asked for (localPort)
}

// localPort returns the port the connection arrived on, worked out on the
// first request that asks (one whose Host names no port) and kept.
func (c *trackedConn) localPort() string {
	if p := c.port.Load(); p != nil {
		return *p
	}
	_, p, err := net.SplitHostPort(c.LocalAddr().String())
	if err != nil {
		p = ""
	}
	c.port.Store(&p)
	return p
}

type connKey struct{}

func newConnTracker(max, perClient int, pressureIdle time.Duration, exempt []netip.Prefix) *connTracker {
	t := &connTracker{
		max: max, perClient: perClient, pressureIdle: pressureIdle, exempt: exempt,
		conns: map[*trackedConn]struct{}{}, byAddr: map[netip.Addr]int{},
		pressureThreshold: max - max/4,
		stopReaper:        make(chan struct{}),
		onRefuse:          func(string) {}, onEvict: func(string) {}, onOpen: func(int) {},
	}
	return t
}

// listener wraps l so that every accepted connection is admitted by t.
func (t *connTracker) listener(l net.Listener) net.Listener { return &trackedListener{l, t} }

type trackedListener struct {
	net.Listener
	t *connTracker
}

// Accept returns the next connection the limits admit; refused ones are
// closed at once, without a reply (the cheapest answer to a flood).
func (l *trackedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.t.admit(c); tc != nil {
			return tc, nil
		}
	}
}

// admit registers c, first closing the connection idle the longest (of the
// same client at the per-client limit) when a limit is reached. When no
// connection is idle, c is closed and admit returns nil.
func (t *connTracker) admit(c net.Conn) *trackedConn {
	addr := netip.IPv4Unspecified()
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		addr = ap.Addr().Unmap()
	}
	exempt := isTrusted(addr, t.exempt)
	tc := &trackedConn{Conn: c, t: t, addr: clientKey(addr)}
	addr = tc.addr
	tc.state.Store(int32(http.StateNew))
	tc.idleSince.Store(time.Now().UnixNano())

	var victims []*trackedConn
	refused := ""
	t.mu.Lock()
	if t.perClient > 0 && !exempt && t.byAddr[addr] >= t.perClient {
		if v := t.oldestIdle(func(o *trackedConn) bool { return o.addr == addr }); v != nil {
			t.forget(v)
			victims = append(victims, v)
		} else {
			refused = "client_limit"
		}
	}
	if refused == "" && len(t.conns) >= t.max {
		if v := t.oldestIdle(nil); v != nil {
			t.forget(v)
			victims = append(victims, v)
		} else {
			refused = "limit"
		}
	}
	if refused == "" {
		t.conns[tc] = struct{}{}
		t.byAddr[addr]++
	}
	t.mu.Unlock()
	for _, v := range victims {
		t.onEvict("limit")
		v.Conn.Close()
	}
	if refused != "" {
		t.onRefuse(refused)
		c.Close()
		return nil
	}
	t.onOpen(1 - len(victims))
	return tc
}

// oldestIdle returns the evictable connection idle the longest among those
// match accepts (nil: all). Called with t.mu held.
func (t *connTracker) oldestIdle(match func(*trackedConn) bool) *trackedConn {
	var best *trackedConn
	var bestSince int64
	for c := range t.conns {
		if !c.evictable() || (match != nil && !match(c)) {
			continue
		}
		if s := c.idleSince.Load(); best == nil || s < bestSince {
			best, bestSince = c, s
		}
	}
	return best
}

// forget removes c from the counts, once. Called with t.mu held.
func (t *connTracker) forget(c *trackedConn) bool {
	if !c.released.CompareAndSwap(false, true) {
		return false
	}
	delete(t.conns, c)
	if n := t.byAddr[c.addr] - 1; n > 0 {
		t.byAddr[c.addr] = n
	} else {
		delete(t.byAddr, c.addr)
	}
	return true
}

// evictable reports a connection that holds no request: new or idle, and
// nothing read since.
func (c *trackedConn) evictable() bool {
	st := http.ConnState(c.state.Load())
	return (st == http.StateNew || st == http.StateIdle) && !c.gotBytes.Load()
}

// connState is the http.Server's ConnState hook.
func (t *connTracker) connState(c net.Conn, st http.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	if st == http.StateIdle {
		tc.gotBytes.Store(false)
		tc.idleSince.Store(time.Now().UnixNano())
	}
	tc.state.Store(int32(st))
	if st == http.StateClosed || st == http.StateHijacked {
		t.mu.Lock()
		released := t.forget(tc)
		t.mu.Unlock()
		if released {
			t.onOpen(-1)
		}
	}
}

// open reports the connections held now.
func (t *connTracker) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// busy reports the connections holding a request (not evictable).
func (t *connTracker) busy() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c := range t.conns {
		if !c.evictable() {
			n++
		}
	}
	return n
}

// closeIdle closes the evictable connections idle for at least d (since
// their last request or since since, whichever is later) and returns how
// many connections remain.
func (t *connTracker) closeIdle(d time.Duration, since time.Time) (closed, remain int) {
	cut := time.Now().Add(-d).UnixNano()
	if s := since.UnixNano(); cut < s {
		cut = -1 // nothing is idle long enough yet
	}
	var victims []*trackedConn
	t.mu.Lock()
	for c := range t.conns {
		if c.evictable() && c.idleSince.Load() <= cut {
			t.forget(c)
			victims = append(victims, c)
		}
	}
	remain = len(t.conns)
	t.mu.Unlock()
	for _, v := range victims {
		v.Conn.Close()
	}
	if len(victims) > 0 {
		t.onOpen(-len(victims))
	}
	return len(victims), remain
}

// reap closes, while more than three quarters of the limit are open,
// connections idle for longer than the pressure idle timeout, until stop.
func (t *connTracker) reap() {
	tick := time.NewTicker(min(max(t.pressureIdle/4, 50*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-t.stopReaper:
			return
		case <-tick.C:
		}
		if t.open() > t.pressureThreshold {
			if n, _ := t.closeIdle(t.pressureIdle, time.Time{}); n > 0 {
				for range n {
					t.onEvict("pressure")
				}
			}
		}
	}
}

func (t *connTracker) stop() { t.stopReaperOnce.Do(func() { close(t.stopReaper) }) }

// Read marks the connection busy as soon as a byte of a request arrives (so
// that it is never evicted or closed as idle with a request in it) and
// scans request heads for HTTP/1.0 with Transfer-Encoding.
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		if !c.gotBytes.Load() {
			c.gotBytes.Store(true)
		}
		if c.scan.feed(b[:n]) {
			c.http10TE.Store(true)
		}
	}
	return n, err
}

// Write passes net/http's own replies (written outside the gateway's
// handler: 400, 431, 501 for unreadable requests, 417) through the
// tracker's rewrite, which adds the security headers and a request ID.
func (c *trackedConn) Write(b []byte) (int, error) {
	if c.t.rewrite != nil && !c.inHandler.Load() && bytes.HasPrefix(b, []byte("HTTP/1.")) {
		if nb := c.t.rewrite(b); len(nb) != len(b) {
			n, err := c.Conn.Write(nb)
			if n == len(nb) {
				return len(b), err
			}
			return min(n, len(b)), err
		}
	}
	return c.Conn.Write(b)
}

// connOf returns the tracked connection a request arrived on (nil when the
// handler is served some other way, as in unit tests).
func connOf(r *http.Request) *trackedConn {
	tc, _ := r.Context().Value(connKey{}).(*trackedConn)
	return tc
}

// http10TE reports whether an HTTP/1.0 request head with Transfer-Encoding
// was read on r's connection.
func http10TE(r *http.Request) bool {
	tc := connOf(r)
	return tc != nil && tc.http10TE.Load()
}

// withConn is the http.Server's ConnContext hook.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// headScanner finds HTTP/1.0 request heads carrying Transfer-Encoding in the
// bytes read from a connection. net/http deletes Transfer-Encoding from an
// HTTP/1.0 request before a handler sees it (Go issue 12785), so this is
// the only place it is still visible. It looks at line starts and ends only
// (bounded memory, no copy of the stream): a line "METHOD target HTTP/1.0"
// opens a head, a blank line closes it, and a "Transfer-Encoding:" line
// inside one sets the flag. Body bytes that happen to look like such a head
// set it too; that refuses (400) a later HTTP/1.0 request on the same
// connection, never lets one through.
type headScanner struct {
	n      int      // bytes of the current line so far
	prefix [24]byte // its first bytes
	tail   [10]byte // its last bytes, tail[10-min(n,10):]
	inHead bool     // inside an HTTP/1.0 request head
}

// feed scans b and reports whether a Transfer-Encoding line of an HTTP/1.0
// request head ended in it.
func (s *headScanner) feed(b []byte) bool {
	found := false
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if s.n < len(s.prefix) {
			copy(s.prefix[s.n:], seg)
		}
		if len(seg) >= len(s.tail) {
			copy(s.tail[:], seg[len(seg)-len(s.tail):])
		} else {
			copy(s.tail[:], s.tail[len(seg):])
			copy(s.tail[len(s.tail)-len(seg):], seg)
		}
		s.n += len(seg)
		if i >= 0 {
			found = s.endLine() || found
		}
	}
	return found
}

func (s *headScanner) endLine() bool {
	n := s.n
	tail := s.tail[len(s.tail)-min(n, len(s.tail)):]
	if len(tail) > 0 && tail[len(tail)-1] == '\r' {
		tail, n = tail[:len(tail)-1], n-1
	}
	prefix := s.prefix[:min(n, len(s.prefix))]
	s.n = 0
	switch {
	case n == 0:
		s.inHead = false
	case bytes.HasSuffix(tail, []byte(" HTTP/1.0")) && requestLineStart(prefix):
		s.inHead = true
	case s.inHead && len(prefix) >= 18 && equalFoldASCII(prefix[:18], "transfer-encoding:"):
		return true
	}
	return false
}

// requestLineStart reports whether p starts with an upper-case method and a
// space.
func requestLineStart(p []byte) bool {
	for i, c := range p {
		if c == ' ' {
			return i > 0
		}
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return false
}

func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

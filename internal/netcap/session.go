package netcap

import (
	"github.com/wasmward/wasmward/internal/httpfield"

	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/internal/safetext"
)

// Report is what a run did on the network. It names hosts, never URLs,
// paths or queries.
type Report struct {
	// Requests counts requests sent, redirects included.
	Requests uint64 `json:"requests"`
	// RequestBytes and ResponseBytes count URL, header and body bytes sent
	// and response body bytes delivered to the guest.
	RequestBytes  uint64 `json:"request_bytes"`
	ResponseBytes uint64 `json:"response_bytes"`
	// Hosts counts, per destination host, what was sent and received.
	Hosts map[string]*HostCount `json:"hosts,omitempty"`
	// Denied counts refused attempts by reason (not_allowed,
	// private_address, redirect, budget).
	Denied map[string]uint64 `json:"denied,omitempty"`
	// Denials are the first 32 refused attempts with their reasons.
	Denials []Denial `json:"denials,omitempty"`
}

// DeniedTotal is the number of refused attempts, all reasons together
// (Denials lists at most the first 32).
func (r *Report) DeniedTotal() uint64 {
	var n uint64
	for _, c := range r.Denied {
		n += c
	}
	return n
}

// HostCount is the traffic to one host.
type HostCount struct {
	// Rule is the host of the policy rule that allowed it ("*.example.com"
	// for a wildcard): bounded by the policy, so a safe metric label.
	Rule          string `json:"rule"`
	Requests      uint64 `json:"requests"`
	ResponseBytes uint64 `json:"response_bytes"`
}

// Denial is one refused attempt.
type Denial struct {
	Reason string `json:"reason"`
	// Host is the destination host (escaped: it is the guest's text).
	Host   string `json:"host,omitempty"`
	Detail string `json:"detail"`
}

// Session is the network state of one run: its open responses and counts.
// It is used by one guest at a time; reuse it with Begin.
type Session struct {
	c        *Client
	ctx      context.Context
	deadline time.Time
	open     map[uint32]*response
	next     uint32
	rep      Report
	// quota is the run's shared pool of bytes (SetQuota), spent when it
	// could not pay for a request or for more of a response body.
	quota Quota
	spent bool
}

// Quota is a pool of bytes shared by runs (a tenant's outbound bytes per
// second). Take takes up to n bytes and returns how many it took (0: the
// pool is empty); Return gives back bytes taken but not used.
type Quota interface {
	Take(n int64) int64
	Return(n int64)
}

// SetQuota makes the run begun last draw from q, on top of the run's
// limits: a request is sent only when q pays for all its bytes first (so
// bytes beyond the quota never leave the host), and a response body is
// delivered only as far as q pays for it. When q cannot pay, the call
// fails with RequestError, the denial is recorded with ReasonQuota and
// QuotaSpent reports true. nil (the default after Begin) draws from
// nothing.
func (s *Session) SetQuota(q Quota) { s.quota = q }

// QuotaSpent reports whether the run found its Quota unable to pay.
func (s *Session) QuotaSpent() bool { return s.spent }

// pay takes n bytes from the quota, all or nothing.
func (s *Session) pay(n uint64) bool {
	if s.quota == nil || n == 0 {
		return true
	}
	want := int64(min(n, math.MaxInt64))
	if got := s.quota.Take(want); got < want {
		s.quota.Return(got)
		s.spent = true
		return false
	}
	return true
}

type response struct {
	resp     *http.Response
	cancel   context.CancelFunc
	host     *HostCount
	hostName string
	overflow bool // the budget stopped this body: further reads fail
}

// NewSession returns a session of the client; call Begin before each run.
func (c *Client) NewSession() *Session {
	return &Session{c: c, open: map[uint32]*response{}}
}

// Begin resets the session for a run bounded by ctx and deadline.
func (s *Session) Begin(ctx context.Context, deadline time.Time) {
	s.End()
	s.ctx, s.deadline, s.next = ctx, deadline, 0
	s.rep = Report{}
	s.quota, s.spent = nil, false
}

// End closes every response still open and drops the run's context.
func (s *Session) End() {
	for h, r := range s.open {
		r.close()
		delete(s.open, h)
	}
	s.ctx = nil
}

// Report returns the run's counts (nil when the guest made no attempt).
func (s *Session) Report() *Report {
	if s.rep.Requests == 0 && len(s.rep.Denied) == 0 {
		return nil
	}
	r := s.rep
	return &r
}

func (r *response) close() {
	_ = r.resp.Body.Close()
	r.cancel()
}

func (s *Session) deny(reason, host, format string, args ...any) {
	if s.rep.Denied == nil {
		s.rep.Denied = map[string]uint64{}
	}
	s.rep.Denied[reason]++
	if len(s.rep.Denials) < maxDenials {
		s.rep.Denials = append(s.rep.Denials, Denial{Reason: reason, Host: safetext.Escape(host), Detail: safetext.Escape(fmt.Sprintf(format, args...))})
	}
}

// Func is one host function of the ABI: every parameter and the result
// are i32; the result is an error code.
type Func struct {
	Name   string
	Params []string
	Call   func(s *Session, mem api.Memory, stack []uint64) uint32
}

// Funcs are the ABI's functions (see docs/network.md).
func Funcs() []Func {
	return []Func{
		{"req", []string{"url_ptr", "url_len", "method_ptr", "method_len", "headers_ptr", "headers_len", "body_ptr", "body_len", "status_code_ptr", "res_handle_ptr"}, (*Session).req},
		{"close", []string{"handle"}, (*Session).closeHandle},
		{"header_get", []string{"handle", "name_ptr", "name_len", "value_ptr", "value_len", "value_written_ptr"}, (*Session).headerGet},
		{"headers_get_all", []string{"handle", "buf_ptr", "buf_len", "buf_written_ptr"}, (*Session).headersGetAll},
		{"body_read", []string{"handle", "buf_ptr", "buf_len", "buf_read_ptr"}, (*Session).bodyRead},
	}
}

func read(mem api.Memory, ptr, n uint64) ([]byte, uint32) {
	if mem == nil {
		return nil, MemoryNotFound
	}
	b, ok := mem.Read(uint32(ptr), uint32(n))
	if !ok {
		return nil, MemoryAccessError
	}
	return b, Success
}

func readString(mem api.Memory, ptr, n uint64) (string, uint32) {
	b, e := read(mem, ptr, n)
	if e != Success {
		return "", e
	}
	if !utf8.Valid(b) {
		return "", UTF8Error
	}
	return string(b), Success
}

// forbidden are request headers the guest may not set: they frame the
// message or steer proxies and connections, which the host owns.
func forbidden(name string) bool {
	switch httpfield.Classify(name) {
	case httpfield.Framing, httpfield.Proxy:
		return true
	}
	return httpfield.EqualFold(name, "host") || httpfield.EqualFold(name, "expect") || httpfield.EqualFold(name, "http2-settings")
}

// parseHeaders reads the ABI's header encoding: "name:value" lines
// separated by "\n".
func parseHeaders(s string) (http.Header, string, bool) {
	h := http.Header{}
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !httpfield.Valid(name) || strings.ContainsAny(value, "\r\x00") {
			return nil, "", false
		}
		if forbidden(name) {
			return nil, name, false
		}
		if n++; n > maxRequestHeaders {
			return nil, "", false
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, "", true
}

// target is a checked request URL.
type target struct {
	u    *url.URL
	host string // canonical: lowercase name or IP address
	rule *rule
}

// check parses raw and finds the rule that allows it with method. The
// error code is InvalidURL or DestinationNotAllowed; reason and detail say
// why for the audit.
func (s *Session) check(raw, method string) (t target, code uint32, host, detail string) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return t, InvalidURL, "", "not an absolute http(s) URL"
	}
	u.Fragment, u.RawFragment = "", ""
	scheme := strings.ToLower(u.Scheme)
	if u.User != nil {
		return t, InvalidURL, u.Hostname(), "credentials in the URL"
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	a, numeric, ok := parseHost(h)
	if !ok || h == "" || strings.ContainsAny(h, "%*") {
		if numeric {
			return t, DestinationNotAllowed, h, "numeric host spelling that is no IPv4 address"
		}
		return t, InvalidURL, h, "invalid host"
	}
	var port uint16
	switch scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return t, DestinationNotAllowed, h, "scheme " + scheme + " is not allowed"
	}
	if p := u.Port(); p != "" {
		var n uint64
		if _, err := fmt.Sscan(p, &n); err != nil || n == 0 || n > 65535 || fmt.Sprint(n) != p {
			return t, InvalidURL, h, "invalid port"
		}
		port = uint16(n)
	}
	if a.IsValid() {
		h = a.Unmap().String()
		if Private(a) != "" && numeric {
			// 2130706433, 0x7f.1: refused outright, whatever the rules say.
			return t, DestinationNotAllowed, h, fmt.Sprintf("numeric spelling of %s (%s)", h, Private(a))
		}
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if c := path.Clean(p); c != p && c+"/" != p || strings.Contains(p, "\\") {
		return t, InvalidURL, h, "path with dot segments"
	}
	var hostOK *rule
	for i := range s.c.rules {
		r := &s.c.rules[i]
		if !r.matches(scheme, h, port, p) {
			continue
		}
		hostOK = r
		if r.AllowsMethod(method) {
			// Rewrite the URL with the canonical host, so the dialer sees
			// the address that was checked, never a spelling of it.
			u.Scheme = scheme
			u.Host = hostPort(h, port)
			if scheme == "http" && port == 80 || scheme == "https" && port == 443 {
				// The scheme's default port is not written: the Host
				// header carries none, as clients send it.
				u.Host = strings.TrimSuffix(u.Host, fmt.Sprintf(":%d", port))
			}
			return target{u: u, host: h, rule: r}, Success, h, ""
		}
	}
	dest := scheme + "://" + hostPort(h, port)
	if hostOK != nil {
		return t, DestinationNotAllowed, h, "method " + method + " is not allowed for " + dest
	}
	return t, DestinationNotAllowed, h, dest + " is not in capabilities.network.http"
}

func hostPort(h string, port uint16) string {
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return fmt.Sprintf("%s:%d", h, port)
}

func (r *rule) matches(scheme, host string, port uint16, p string) bool {
	e := r.ep
	if e.Scheme != scheme || e.Port != port {
		return false
	}
	if e.Wildcard {
		if !strings.HasSuffix(host, "."+e.Host) {
			return false
		}
	} else if host != e.Host {
		return false
	}
	if e.Path == "" || p == e.Path {
		return true
	}
	prefix := e.Path
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return strings.HasPrefix(p, prefix)
}

func (r *rule) label() string {
	if r.ep.Wildcard {
		return "*." + r.ep.Host
	}
	return r.ep.Host
}

// req sends a request (ABI: req).
func (s *Session) req(mem api.Memory, st []uint64) uint32 {
	if s.ctx == nil {
		return RuntimeError
	}
	raw, e := readString(mem, st[0], st[1])
	if e != Success {
		return e
	}
	method, e := readString(mem, st[2], st[3])
	if e != Success {
		return e
	}
	hdrs, e := readString(mem, st[4], st[5])
	if e != Success {
		return e
	}
	body, e := read(mem, st[6], st[7])
	if e != Success {
		return e
	}
	if !httpfield.Valid(method) {
		return InvalidMethod
	}
	if method == "CONNECT" || method == "TRACE" {
		s.deny(ReasonNotAllowed, "", "method %s is never allowed", method)
		return DestinationNotAllowed
	}
	header, bad, ok := parseHeaders(hdrs)
	if !ok {
		if bad != "" {
			s.deny(ReasonNotAllowed, "", "the guest may not set the %s header", bad)
		}
		return InvalidEncoding
	}
	t, code, host, why := s.check(raw, method)
	if code != Success {
		if code == DestinationNotAllowed {
			reason := ReasonNotAllowed
			if strings.HasPrefix(why, "numeric spelling") {
				reason = ReasonPrivateAddress
			}
			s.deny(reason, host, "%s", why)
		}
		return code
	}
	if len(s.open) >= MaxOpenResponses {
		s.deny(ReasonBudget, host, "%d responses are open already (close some)", MaxOpenResponses)
		return TooManySessions
	}
	// The body is copied: the transport may still write it after the
	// response arrived, and the guest's memory is the guest's again then.
	payload := bytes.Clone(body)
	size := uint64(len(raw) + len(method) + len(hdrs) + len(body))

	lim := s.c.limits
	deadline := s.deadline
	if d := time.Now().Add(lim.RequestTimeout.Std()); d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	redirects := uint32(0)
	for {
		if s.rep.Requests >= uint64(lim.Requests) {
			cancel()
			s.deny(ReasonBudget, t.host, "the run's %d requests are spent", lim.Requests)
			return TooManySessions
		}
		if s.rep.RequestBytes+size > uint64(lim.RequestBytes) {
			cancel()
			s.deny(ReasonBudget, t.host, "request of %d bytes: the run's %d request bytes would be exceeded", size, lim.RequestBytes)
			return RequestError
		}
		hreq, err := http.NewRequestWithContext(ctx, method, t.u.String(), bytes.NewReader(payload))
		if err != nil {
			cancel()
			return InvalidURL
		}
		if !s.pay(size) {
			cancel()
			s.deny(ReasonQuota, t.host, "request of %d bytes: the tenant's outbound bytes are spent", size)
			return RequestError
		}
		if len(payload) == 0 {
			hreq.Body, hreq.ContentLength = http.NoBody, 0
		}
		hreq.Header = header.Clone()
		s.rep.Requests++
		s.rep.RequestBytes += size
		hc := s.hostCount(t)
		hc.Requests++
		tr := s.c.transports[0]
		if t.rule.allowPrivate {
			tr = s.c.transports[1]
		}
		resp, err := tr.RoundTrip(hreq)
		if err != nil {
			cancel()
			var de *deniedError
			if errors.As(err, &de) {
				if redirects > 0 {
					s.deny(ReasonRedirect, de.host, "redirect target: %s", de.detail)
				} else {
					s.deny(de.reason, de.host, "%s", de.detail)
				}
				return DestinationNotAllowed
			}
			return RequestError
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			return s.keep(mem, st, &response{resp: resp, cancel: cancel, host: hc, hostName: t.host})
		}
		// A redirect: drain a little (so the connection can be reused),
		// close, and check the next hop like a new request.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
		if redirects++; redirects > lim.Redirects {
			cancel()
			s.deny(ReasonRedirect, t.host, "more than %d redirects", lim.Redirects)
			return RequestError
		}
		next, err := t.u.Parse(loc)
		if err != nil {
			cancel()
			s.deny(ReasonRedirect, t.host, "redirect to an invalid URL")
			return DestinationNotAllowed
		}
		switch {
		case resp.StatusCode == http.StatusSeeOther && method != "HEAD",
			(resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusFound) && method == "POST":
			method, payload = "GET", nil
			header.Del("Content-Type")
		}
		nt, code, nhost, why := s.check(next.String(), method)
		if code != Success {
			cancel()
			s.deny(ReasonRedirect, nhost, "redirect target: %s", why)
			return DestinationNotAllowed
		}
		if nt.host != t.host || nt.u.Scheme != t.u.Scheme {
			// Credentials never follow a redirect to another origin.
			for _, k := range []string{"Authorization", "Cookie", "Www-Authenticate"} {
				header.Del(k)
			}
		}
		t = nt
		size = uint64(len(t.u.String()) + len(method) + len(hdrs) + len(payload))
	}
}

// probe reads one byte of r's body on the host, never delivered, to tell
// the end of the body (Success) from more bytes than the run may have,
// which it denies for reason: further reads of r fail.
func (s *Session) probe(r *response, reason, format string, args ...any) uint32 {
	var b [1]byte
	m, err := io.ReadFull(r.resp.Body, b[:])
	if m > 0 {
		r.overflow = true
		s.deny(reason, r.hostName, format, args...)
		return RequestError
	}
	if !errors.Is(err, io.EOF) {
		return RequestError
	}
	return Success
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

func (s *Session) hostCount(t target) *HostCount {
	if s.rep.Hosts == nil {
		s.rep.Hosts = map[string]*HostCount{}
	}
	hc := s.rep.Hosts[t.host]
	if hc == nil {
		hc = &HostCount{Rule: t.rule.label()}
		s.rep.Hosts[t.host] = hc
	}
	return hc
}

// keep registers the response under a new handle and writes the status
// and the handle to the guest.
func (s *Session) keep(mem api.Memory, st []uint64, r *response) uint32 {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], uint16(r.resp.StatusCode))
	if !mem.Write(uint32(st[8]), b[:]) {
		r.close()
		return MemoryAccessError
	}
	s.next++
	for s.open[s.next] != nil {
		s.next++
	}
	h := s.next
	if !mem.WriteUint32Le(uint32(st[9]), h) {
		r.close()
		return MemoryAccessError
	}
	s.open[h] = r
	return Success
}

// closeHandle closes a response (ABI: close).
func (s *Session) closeHandle(_ api.Memory, st []uint64) uint32 {
	h := uint32(st[0])
	r := s.open[h]
	if r == nil {
		return InvalidHandle
	}
	r.close()
	delete(s.open, h)
	return Success
}

// headerGet writes one response header's value (ABI: header_get).
func (s *Session) headerGet(mem api.Memory, st []uint64) uint32 {
	r := s.open[uint32(st[0])]
	if r == nil {
		return InvalidHandle
	}
	name, e := readString(mem, st[1], st[2])
	if e != Success {
		return e
	}
	vals := r.resp.Header.Values(textproto.CanonicalMIMEHeaderKey(name))
	if len(vals) == 0 {
		return HeaderNotFound
	}
	return writeOut(mem, []byte(vals[0]), st[3], st[4], st[5])
}

// headersGetAll writes every response header as "name:value\n" lines,
// names lowercase and sorted (ABI: headers_get_all).
func (s *Session) headersGetAll(mem api.Memory, st []uint64) uint32 {
	r := s.open[uint32(st[0])]
	if r == nil {
		return InvalidHandle
	}
	names := make([]string, 0, len(r.resp.Header))
	for k := range r.resp.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	var b []byte
	for _, k := range names {
		for _, v := range r.resp.Header[k] {
			b = append(append(append(append(b, strings.ToLower(k)...), ':'), v...), '\n')
		}
	}
	return writeOut(mem, b, st[1], st[2], st[3])
}

func writeOut(mem api.Memory, b []byte, ptr, n, written uint64) uint32 {
	if mem == nil {
		return MemoryNotFound
	}
	if uint64(len(b)) > uint64(uint32(n)) {
		return BufferTooSmall
	}
	if !mem.Write(uint32(ptr), b) || !mem.WriteUint32Le(uint32(written), uint32(len(b))) {
		return MemoryAccessError
	}
	return Success
}

// bodyRead streams the response body into the guest's buffer (ABI:
// body_read): the bytes go from the connection straight into guest memory,
// at most what is left of the run's response budget. Once the budget is
// spent, a body with more bytes fails with RequestError; 0 bytes written
// is the end of the body.
func (s *Session) bodyRead(mem api.Memory, st []uint64) uint32 {
	r := s.open[uint32(st[0])]
	if r == nil {
		return InvalidHandle
	}
	buf, e := read(mem, st[1], st[2])
	if e != Success {
		return e
	}
	if r.overflow {
		return RequestError
	}
	left := uint64(s.c.limits.ResponseBytes) - s.rep.ResponseBytes
	n := 0
	switch {
	case len(buf) == 0:
	case left == 0:
		if e := s.probe(r, ReasonBudget, "response body beyond the run's %d response bytes", s.c.limits.ResponseBytes); e != Success {
			return e
		}
	default:
		if uint64(len(buf)) > left {
			buf = buf[:left]
		}
		paid := int64(len(buf))
		if s.quota != nil {
			if paid = s.quota.Take(paid); paid == 0 {
				e := s.probe(r, ReasonQuota, "response body beyond the tenant's outbound bytes")
				s.spent = s.spent || r.overflow
				if e != Success {
					return e
				}
				break
			}
			buf = buf[:paid]
		}
		var err error
		for n == 0 && err == nil {
			n, err = r.resp.Body.Read(buf)
		}
		if s.quota != nil {
			s.quota.Return(paid - int64(n))
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return RequestError
		}
	}
	s.rep.ResponseBytes += uint64(n)
	r.host.ResponseBytes += uint64(n)
	if !mem.WriteUint32Le(uint32(st[3]), uint32(n)) {
		return MemoryAccessError
	}
	return Success
}

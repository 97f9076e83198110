package netcap

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
)

func TestPrivate(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"10.0.0.1", "private (RFC 1918)"},
		{"172.16.5.4", "private (RFC 1918)"},
		{"172.31.255.255", "private (RFC 1918)"},
		{"192.168.1.1", "private (RFC 1918)"},
		{"169.254.169.254", "link-local (cloud metadata)"},
		{"100.64.0.1", "carrier-grade NAT (RFC 6598)"},
		{"100.127.255.255", "carrier-grade NAT (RFC 6598)"},
		{"0.0.0.0", "unspecified (this network)"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"fd00::1", "unique local (fc00::/7)"},
		{"fc00::1", "unique local (fc00::/7)"},
		{"fe80::1", "link-local"},
		{"ff02::1", "multicast"},
		{"::ffff:127.0.0.1", "loopback in IPv4-mapped ::ffff:127.0.0.1"},
		{"::ffff:169.254.169.254", "link-local (cloud metadata) in IPv4-mapped ::ffff:169.254.169.254"},
		{"::127.0.0.1", "loopback in IPv4-compatible ::7f00:1"},
		{"::10.0.0.1", "private (RFC 1918) in IPv4-compatible ::a00:1"},
		{"64:ff9b::a9fe:a9fe", "link-local (cloud metadata) in NAT64 64:ff9b::a9fe:a9fe"},
		{"2002:7f00:1::", "loopback in 6to4 2002:7f00:1::"},
		{"93.184.216.34", ""},
		{"8.8.8.8", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"2606:4700::1111", ""},
		{"2002:5db8:d822::", ""},
	} {
		if got := Private(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Private(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestParseHost(t *testing.T) {
	for _, tc := range []struct {
		host    string
		addr    string
		numeric bool
		ok      bool
	}{
		{"2130706433", "127.0.0.1", true, true},
		{"0177.0.0.1", "127.0.0.1", true, true},
		{"0x7f000001", "127.0.0.1", true, true},
		{"0x7f.0.0.1", "127.0.0.1", true, true},
		{"0x7F.1", "127.0.0.1", true, true},
		{"127.1", "127.0.0.1", true, true},
		{"127.0.1", "127.0.0.1", true, true},
		{"0251.0376.0251.0376", "169.254.169.254", true, true},
		{"0xa9fea9fe", "169.254.169.254", true, true},
		{"127.0.0.1", "127.0.0.1", false, true},
		{"::ffff:127.0.0.1", "::ffff:127.0.0.1", false, true},
		{"fe80::1%eth0", "fe80::1%eth0", false, false},
		{"256.0.0.1", "", true, false},
		{"1.2.3.4.5", "", true, false},
		{"08.0.0.1", "", true, false},
		{"api.example.com", "", false, true},
		{"a1.example", "", false, true},
	} {
		a, numeric, ok := parseHost(tc.host)
		got := ""
		if a.IsValid() {
			got = a.String()
		}
		if got != tc.addr || numeric != tc.numeric || ok != tc.ok {
			t.Errorf("parseHost(%q) = %s %v %v, want %s %v %v", tc.host, got, numeric, ok, tc.addr, tc.numeric, tc.ok)
		}
	}
}

// seqResolver answers a name with the next answer at each lookup.
type seqResolver struct {
	mu      sync.Mutex
	answers []string
	calls   int
}

func (r *seqResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.answers[min(r.calls, len(r.answers)-1)]
	r.calls++
	return []net.IPAddr{{IP: net.ParseIP(a)}}, nil
}

// TestRebinding: a name that resolves to a public address and then to a
// private one is looked up once per connection and connected to only at
// the address that was checked; the private answer is refused, never
// dialled.
func TestRebinding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	res := &seqResolver{answers: []string{"93.184.216.34", "127.0.0.1"}}
	p := policy.Default()
	p.Capabilities.Network.HTTP = []policy.HTTPRule{{URL: "http://rebind.test:" + port + "/"}}
	c, err := New(p, Options{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	var dialled []string
	c.dialAddr = func(ctx context.Context, allowPrivate bool, ap netip.AddrPort) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, ap.String())
		mu.Unlock()
		// The "public" address stands for the real server: the test
		// routes it to loopback, which the check never sees.
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
	mem := newMem(1 << 16)
	s := c.NewSession()
	s.Begin(context.Background(), time.Now().Add(5*time.Second))
	defer s.End()
	url := "http://rebind.test:" + port + "/"
	if code := s.req(mem, mem.reqArgs(url, "GET")); code != Success {
		t.Fatalf("first request (public answer): %d", code)
	}
	// Close the response and the pooled connection, so the next request
	// needs a new connection and a new lookup.
	s.End()
	c.Close()
	s.Begin(context.Background(), time.Now().Add(5*time.Second))
	if code := s.req(mem, mem.reqArgs(url, "GET")); code != DestinationNotAllowed {
		t.Fatalf("second request (private answer): %d, want %d", code, DestinationNotAllowed)
	}
	if res.calls != 2 {
		t.Fatalf("%d lookups for 2 connections", res.calls)
	}
	if len(dialled) != 1 || dialled[0] != "93.184.216.34:"+port {
		t.Fatalf("dialled %v, want only the checked public address", dialled)
	}
	if d := s.Report().Denials; len(d) != 1 || d[0].Reason != ReasonPrivateAddress || !strings.Contains(d[0].Detail, "rebind.test resolves to 127.0.0.1, loopback") {
		t.Fatalf("denials %+v", d)
	}
}

// TestConnectRechecks: the dialer's last check refuses a private address
// even if one reached it.
func TestConnectRechecks(t *testing.T) {
	c := &Client{}
	_, err := c.connect(context.Background(), false, netip.MustParseAddrPort("127.0.0.1:9"))
	var de *deniedError
	if !errors.As(err, &de) || de.reason != ReasonPrivateAddress {
		t.Fatalf("err = %v", err)
	}
}

// TestCheck: how a request URL and method meet the rules.
func TestCheck(t *testing.T) {
	p := policy.Default()
	p.Capabilities.Network.HTTP = []policy.HTTPRule{
		{URL: "https://api.example.com/v1", Methods: []string{"GET", "POST"}},
		{URL: "https://*.cdn.example.com"},
		{URL: "http://[::1]:8080/"},
	}
	c, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.NewSession()
	for _, tc := range []struct {
		url, method string
		code        uint32
		out         string // the URL sent, or the denial detail
	}{
		{"https://api.example.com/v1", "GET", Success, "https://api.example.com/v1"},
		{"https://API.example.com.:443/v1/items?q=1#frag", "POST", Success, "https://api.example.com/v1/items?q=1"},
		{"https://api.example.com/v1evil", "GET", DestinationNotAllowed, "https://api.example.com:443 is not in capabilities.network.http"},
		{"https://api.example.com/v2", "GET", DestinationNotAllowed, "is not in capabilities.network.http"},
		{"https://api.example.com/v1/x", "DELETE", DestinationNotAllowed, "method DELETE is not allowed for https://api.example.com:443"},
		{"http://api.example.com/v1", "GET", DestinationNotAllowed, "http://api.example.com:80 is not in"},
		{"https://api.example.com:8443/v1", "GET", DestinationNotAllowed, "https://api.example.com:8443 is not in"},
		{"https://img.cdn.example.com/a.png", "GET", Success, "https://img.cdn.example.com/a.png"},
		{"https://a.b.cdn.example.com/", "HEAD", Success, "https://a.b.cdn.example.com/"},
		{"https://cdn.example.com/", "GET", DestinationNotAllowed, "is not in"},
		{"https://evilcdn.example.com/", "GET", DestinationNotAllowed, "is not in"},
		{"https://img.cdn.example.com/", "POST", DestinationNotAllowed, "method POST is not allowed"},
		{"http://[::1]:8080/x", "GET", Success, "http://[::1]:8080/x"},
		{"http://[0:0::1]:8080/x", "GET", Success, "http://[::1]:8080/x"},
		{"https://api.example.com/v1/../admin", "GET", InvalidURL, "path with dot segments"},
		{"https://api.example.com/v1/%2e%2e/admin", "GET", InvalidURL, "path with dot segments"},
		{"https://api.example.com:0/v1", "GET", InvalidURL, "invalid port"},
		{"https://api.example.com:+443/v1", "GET", InvalidURL, ""},
		{"/v1", "GET", InvalidURL, "not an absolute"},
		{"https://[fe80::1%25eth0]/", "GET", InvalidURL, "invalid host"},
		{"https://1.2.3.4.5/", "GET", DestinationNotAllowed, "numeric host spelling"},
	} {
		tg, code, _, why := s.check(tc.url, tc.method)
		got := why
		if code == Success {
			got = tg.u.String()
		}
		if code != tc.code || !strings.Contains(got, tc.out) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.url, code, got, tc.code, tc.out)
		}
	}
}

// The guest may not set headers that frame the message, steer proxies or
// name the target; ordinary and edge fields pass.
func TestForbiddenHeaders(t *testing.T) {
	for name, want := range map[string]bool{
		"Host": true, "connection": true, "Transfer-Encoding": true, "Content-Length": true,
		"Upgrade": true, "TE": true, "Trailer": true, "Keep-Alive": true, "Expect": true,
		"HTTP2-Settings": true, "Proxy-Authorization": true, "proxy-connection": true,
		"Accept": false, "Authorization": false, "Content-Type": false, "X-Request-Id": false,
		"Date": false, "Hostname": false,
	} {
		if got := forbidden(name); got != want {
			t.Errorf("forbidden(%q) = %v, want %v", name, got, want)
		}
	}
}

// Package netcap is the outbound HTTP capability: the host side of the
// wasi_experimental_http imports, with an allowlist from the policy,
// address rules that refuse private networks, a dialer that connects only
// to the addresses it checked (no second lookup, so DNS rebinding cannot
// slip in), every redirect re-checked, per-run budgets, and response
// bodies streamed straight into guest memory. docs/network.md records the
// ABI and the guarantees.
package netcap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/wasmward/wasmward/policy"
)

// Module is the import module name of the ABI.
const Module = policy.NetworkModule

// Error codes of the ABI (its http_error enum).
const (
	Success               = 0
	InvalidHandle         = 1
	MemoryNotFound        = 2
	MemoryAccessError     = 3
	BufferTooSmall        = 4
	HeaderNotFound        = 5
	UTF8Error             = 6
	DestinationNotAllowed = 7
	InvalidMethod         = 8
	InvalidEncoding       = 9
	InvalidURL            = 10
	RequestError          = 11
	RuntimeError          = 12
	TooManySessions       = 13
)

// Reasons of a denial, Denial.Reason.
const (
	ReasonNotAllowed     = "not_allowed"
	ReasonPrivateAddress = "private_address"
	ReasonRedirect       = "redirect"
	ReasonBudget         = "budget"
	// ReasonQuota: the run's Quota (a tenant's outbound bytes) could not
	// pay for the request or for more of a response body.
	ReasonQuota = "quota"
)

// Bounds that are not policy settings.
const (
	// MaxOpenResponses is how many responses a run may hold open at once.
	MaxOpenResponses = 8
	// MaxResponseHeaderBytes bounds one response's header block on the host.
	MaxResponseHeaderBytes = 64 << 10
	// maxRequestHeaders bounds the header lines of one request.
	maxRequestHeaders = 100
	// maxDenials is how many denials a report lists (all are counted).
	maxDenials = 32
)

// Resolver looks names up. *net.Resolver implements it; tests inject
// their own through Options.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Options configure a Client beyond the policy.
type Options struct {
	// Resolver resolves host names; nil uses a fresh *net.Resolver (the
	// system's configuration, no process-wide state changed).
	Resolver Resolver
}

// Client is the network of one compiled module: its rules, limits and
// transports. It is safe for concurrent use by the Sessions of its runs.
type Client struct {
	rules    []rule
	limits   policy.NetworkLimits
	resolver Resolver
	// transports[0] refuses private addresses, transports[1] allows them:
	// a pooled connection made for a rule that allows them is never reused
	// by a request whose rule does not.
	transports [2]*http.Transport
	// dialAddr connects to one checked address; tests replace it to see
	// where connections go.
	dialAddr func(ctx context.Context, allowPrivate bool, addr netip.AddrPort) (net.Conn, error)
}

type rule struct {
	policy.HTTPRule
	ep           policy.Endpoint
	allowPrivate bool
}

// New builds the Client of a policy that grants network access (its
// capabilities.network.http is not empty). It reads the CA file.
func New(p policy.Policy, o Options) (*Client, error) {
	n := p.Capabilities.Network
	c := &Client{limits: p.Limits.Network, resolver: o.Resolver}
	if c.limits.RequestBytes > p.Limits.Memory {
		// The guest holds what it sends in its own memory.
		c.limits.RequestBytes = p.Limits.Memory
	}
	if c.resolver == nil {
		c.resolver = &net.Resolver{}
	}
	for i, r := range n.HTTP {
		ep, err := r.Endpoint()
		if err != nil {
			return nil, fmt.Errorf("capabilities.network.http[%d]: %w", i, err)
		}
		c.rules = append(c.rules, rule{HTTPRule: r, ep: ep, allowPrivate: r.AllowPrivate || !n.DenyPrivate})
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if n.CAFile != "" {
		pem, err := os.ReadFile(n.CAFile)
		if err != nil {
			return nil, fmt.Errorf("capabilities.network.ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("capabilities.network.ca_file %s: no PEM certificate in it", n.CAFile)
		}
	}
	c.dialAddr = c.connect
	for i := range c.transports {
		allow := i == 1
		c.transports[i] = &http.Transport{
			Proxy: nil, // never from the environment
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return c.dial(ctx, allow, addr)
			},
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			// HTTP/1.1 only: an empty map turns HTTP/2 off.
			TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
			MaxResponseHeaderBytes: MaxResponseHeaderBytes,
			// The guest sees the bytes the server sent; no transparent
			// decompression that would multiply them.
			DisableCompression: true,
			MaxIdleConns:       16,
			IdleConnTimeout:    30 * time.Second,
		}
	}
	return c, nil
}

// Close closes the idle pooled connections.
func (c *Client) Close() {
	for _, t := range c.transports {
		t.CloseIdleConnections()
	}
}

// deniedError is a dial the address rules refused.
type deniedError struct {
	reason, host, detail string
}

func (e *deniedError) Error() string { return e.reason + ": " + e.detail }

// dial resolves addr's host once, checks every address, and connects only
// to those: there is no second lookup between the check and the connect.
// A name with any refused address is refused whole (a mixed answer is the
// shape of a rebinding attempt).
func (c *Client) dial(ctx context.Context, allowPrivate bool, addr string) (net.Conn, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", ps, err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ips, err := c.resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip.IP); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no address", host)
		}
	}
	if !allowPrivate {
		for _, a := range addrs {
			if why := Private(a); why != "" {
				d := fmt.Sprintf("%s is %s", a, why)
				if a.String() != host {
					d = fmt.Sprintf("%s resolves to %s, %s", host, a, why)
				}
				return nil, &deniedError{reason: ReasonPrivateAddress, host: host, detail: d}
			}
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := c.dialAddr(ctx, allowPrivate, netip.AddrPortFrom(a, uint16(port)))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// connect dials one checked address. The dialer's Control checks the
// address the kernel is asked to connect to once more.
func (c *Client) connect(ctx context.Context, allowPrivate bool, ap netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		got, err := netip.ParseAddrPort(address)
		if err != nil || got != ap && got != netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port()) {
			return fmt.Errorf("dialer asked to connect to %s, checked %s", address, ap)
		}
		if !allowPrivate && Private(got.Addr()) != "" {
			return &deniedError{reason: ReasonPrivateAddress, host: ap.Addr().String(), detail: ap.Addr().String() + " is " + Private(got.Addr())}
		}
		return nil
	}}
	return d.DialContext(ctx, "tcp", ap.String())
}

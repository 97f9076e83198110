package policy

import (
	"github.com/wasmward/wasmward/internal/httpfield"

	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// NetworkModule is the import module of the outbound HTTP ABI
// (wasi_experimental_http) that capabilities.network grants.
const NetworkModule = "wasi_experimental_http"

// Network is the outbound network a guest is lent (capabilities.network).
// Nothing is reachable unless a rule in HTTP names it; see docs/network.md.
type Network struct {
	// HTTP are the endpoints the guest may call through the
	// wasi_experimental_http imports. Empty: the imports are refused at load.
	HTTP []HTTPRule `yaml:"http" json:"http,omitempty"`
	// DenyPrivate refuses addresses that are not publicly routable
	// (loopback, RFC 1918, link-local, unique local, CGNAT, unspecified,
	// multicast, broadcast, and the IPv6 forms that embed them) for every
	// rule that does not set AllowPrivate. Default true.
	DenyPrivate bool `yaml:"deny_private" json:"deny_private"`
	// CAFile is a PEM file of extra roots trusted for https, on top of the
	// system's. Verification is never turned off.
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
}

// HTTPRule allows requests to one endpoint.
type HTTPRule struct {
	// URL is scheme://host[:port][/path-prefix]: the scheme (http or https)
	// and port must be equal, the host equal (case-insensitive) or, written
	// "*.example.com", any name under example.com (not example.com itself),
	// and the request path must be the prefix or lie below it.
	URL string `yaml:"url" json:"url"`
	// Methods are the allowed methods; empty allows GET and HEAD.
	Methods []string `yaml:"methods" json:"methods,omitempty"`
	// AllowPrivate lets this rule reach addresses DenyPrivate refuses.
	AllowPrivate bool `yaml:"allow_private" json:"allow_private,omitempty"`
}

// NetworkLimits bound the outbound traffic of one run (limits.network).
// They apply inside the run's deadline and memory cap.
type NetworkLimits struct {
	// Requests is the number of requests a run may send, redirects included.
	Requests uint32 `yaml:"requests" json:"requests"`
	// RequestBytes bounds what a run sends: URLs, headers and bodies.
	RequestBytes Size `yaml:"request_bytes" json:"request_bytes"`
	// ResponseBytes bounds the response body bytes a run receives.
	ResponseBytes Size `yaml:"response_bytes" json:"response_bytes"`
	// RequestTimeout bounds one request, from its start to its body's
	// last byte; the run's deadline still applies when it is earlier.
	RequestTimeout Duration `yaml:"request_timeout" json:"request_timeout"`
	// Redirects is how many redirects one request follows (0: none).
	Redirects uint32 `yaml:"redirects" json:"redirects"`
}

// Defaults of limits.network, used when a policy grants network access
// and names no limits.
const (
	DefaultNetRequests       = 16
	DefaultNetRequestBytes   = 1 << 20
	DefaultNetResponseBytes  = 16 << 20
	DefaultNetRequestTimeout = 5 * time.Second
	DefaultNetRedirects      = 3
	// MaxNetRedirects is the most redirects a policy may allow.
	MaxNetRedirects = 10
)

// DefaultNetworkLimits returns the limits.network defaults.
func DefaultNetworkLimits() NetworkLimits {
	return NetworkLimits{
		Requests:       DefaultNetRequests,
		RequestBytes:   DefaultNetRequestBytes,
		ResponseBytes:  DefaultNetResponseBytes,
		RequestTimeout: Duration(DefaultNetRequestTimeout),
		Redirects:      DefaultNetRedirects,
	}
}

// Endpoint is a parsed HTTPRule.URL.
type Endpoint struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is lowercase, without a trailing dot; an IP address in its
	// canonical form. With Wildcard, the suffix after "*.".
	Host     string
	Wildcard bool
	// Port is explicit or the scheme's default.
	Port uint16
	// Path is the path prefix, "" for any path.
	Path string
}

// Endpoint parses r.URL.
func (r HTTPRule) Endpoint() (Endpoint, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return Endpoint{}, fmt.Errorf("url %q: %w", r.URL, errors.Unwrap(err))
	}
	var e Endpoint
	switch e.Scheme = strings.ToLower(u.Scheme); e.Scheme {
	case "http":
		e.Port = 80
	case "https":
		e.Port = 443
	default:
		return Endpoint{}, fmt.Errorf("url %q: scheme must be http or https", r.URL)
	}
	switch {
	case u.User != nil:
		return Endpoint{}, fmt.Errorf("url %q: credentials are not allowed in a rule", r.URL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return Endpoint{}, fmt.Errorf("url %q: a rule has no query or fragment", r.URL)
	case u.Opaque != "":
		return Endpoint{}, fmt.Errorf("url %q: want scheme://host[:port][/path]", r.URL)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return Endpoint{}, fmt.Errorf("url %q: invalid port %q", r.URL, p)
		}
		e.Port = uint16(n)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if h, ok := strings.CutPrefix(host, "*."); ok {
		e.Wildcard, host = true, h
	}
	if host == "" || strings.ContainsAny(host, "*%") {
		return Endpoint{}, fmt.Errorf("url %q: want a host name, *.domain or an IP address", r.URL)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if e.Wildcard || a.Zone() != "" {
			return Endpoint{}, fmt.Errorf("url %q: want a host name, *.domain or an IP address", r.URL)
		}
		host = a.Unmap().String()
	} else if last := host[strings.LastIndexByte(host, '.')+1:]; last != "" && last[0] >= '0' && last[0] <= '9' {
		// 2130706433, 0x7f.1, 127.1: numeric spellings of an address.
		return Endpoint{}, fmt.Errorf("url %q: write an IPv4 address as four decimal numbers", r.URL)
	}
	e.Host = host
	if u.Path != "" && u.Path != "/" {
		if c := path.Clean(u.Path); c != u.Path && c+"/" != u.Path {
			return Endpoint{}, fmt.Errorf("url %q: path %q is not clean", r.URL, u.Path)
		}
		e.Path = u.Path
	}
	return e, nil
}

// String formats the endpoint as scheme://host:port/path, with "*." for a
// wildcard.
func (e Endpoint) String() string {
	h := e.Host
	if e.Wildcard {
		h = "*." + h
	}
	return e.Scheme + "://" + hostPort(h, e.Port) + e.Path
}

func hostPort(h string, port uint16) string {
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(int(port))
}

// AllowsMethod reports whether the rule allows method (case-sensitive, as
// methods are).
func (r HTTPRule) AllowsMethod(method string) bool {
	if len(r.Methods) == 0 {
		return method == "GET" || method == "HEAD"
	}
	for _, m := range r.Methods {
		if m == method {
			return true
		}
	}
	return false
}

func (n Network) validate(l NetworkLimits) error {
	for i, r := range n.HTTP {
		if _, err := r.Endpoint(); err != nil {
			return fmt.Errorf("capabilities.network.http[%d]: %w", i, err)
		}
		for _, m := range r.Methods {
			if !httpfield.Valid(m) || strings.ToUpper(m) != m {
				return fmt.Errorf("capabilities.network.http[%d]: method %q: want an upper-case method such as GET", i, m)
			}
			if m == "CONNECT" || m == "TRACE" {
				return fmt.Errorf("capabilities.network.http[%d]: method %s is never allowed", i, m)
			}
		}
	}
	if strings.Contains(n.CAFile, "\x00") {
		return errors.New("capabilities.network.ca_file: contains NUL")
	}
	switch {
	case l.Requests == 0:
		return errors.New("limits.network.requests: must be greater than zero")
	case l.RequestBytes == 0:
		return errors.New("limits.network.request_bytes: must be greater than zero")
	case l.ResponseBytes == 0:
		return errors.New("limits.network.response_bytes: must be greater than zero")
	case l.RequestTimeout <= 0:
		return errors.New("limits.network.request_timeout: must be greater than zero")
	case l.Redirects > MaxNetRedirects:
		return fmt.Errorf("limits.network.redirects: %d is above the maximum of %d", l.Redirects, MaxNetRedirects)
	}
	return nil
}

// attestedNetwork is the network an attested run gets: the attestation's
// rules that the operator's policy op also lists (same endpoint), with the
// methods both allow and private addresses only where both allow them.
// The operator's CA file is used; an attested one (a path on the
// publisher's machine) is refused.
func attestedNetwork(att, op Network) (Network, error) {
	out := Network{DenyPrivate: att.DenyPrivate || op.DenyPrivate, CAFile: op.CAFile}
	if att.CAFile != "" {
		return Network{}, &CapabilityError{Detail: fmt.Sprintf("the attestation names ca_file %q, a file of the publisher's machine; the operator's policy sets the CA file", att.CAFile)}
	}
	for _, ar := range att.HTTP {
		ae, err := ar.Endpoint()
		if err != nil {
			return Network{}, err
		}
		granted := false
		for _, or := range op.HTTP {
			oe, err := or.Endpoint()
			if err != nil || oe != ae {
				continue
			}
			r := HTTPRule{URL: ar.URL, AllowPrivate: ar.AllowPrivate && or.AllowPrivate, Methods: []string{}}
			for _, m := range methodsOf(ar) {
				if or.AllowsMethod(m) {
					r.Methods = append(r.Methods, m)
				}
			}
			if len(r.Methods) == 0 {
				continue
			}
			out.HTTP = append(out.HTTP, r)
			granted = true
			break
		}
		if !granted {
			return Network{}, &CapabilityError{Detail: fmt.Sprintf("the attestation grants network access to %s, but the operator's policy does not allow it (capabilities.network.http)", ae)}
		}
	}
	return out, nil
}

func methodsOf(r HTTPRule) []string {
	if len(r.Methods) == 0 {
		return []string{"GET", "HEAD"}
	}
	return r.Methods
}

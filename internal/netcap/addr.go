package netcap

import (
	"net/netip"
	"strconv"
	"strings"
)

// special is one range of addresses that is not publicly routable, with the
// name a denial gives it.
type special struct {
	prefix netip.Prefix
	name   string
}

// specials are the ranges refused unless a rule allows private addresses.
// IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) addresses are checked by the IPv4
// address they carry (embedded), so every range here also refuses them.
var specials = func() []special {
	var out []special
	for _, s := range [][2]string{
		{"0.0.0.0/8", "unspecified (this network)"},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT (RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (cloud metadata)"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"fc00::/7", "unique local (fc00::/7)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
		{"100::/64", "discard-only"},
		{"2001:db8::/32", "documentation"},
	} {
		out = append(out, special{netip.MustParsePrefix(s[0]), s[1]})
	}
	return out
}()

var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
	// compat is ::/96, the deprecated IPv4-compatible form (::a.b.c.d).
	compat = netip.MustParsePrefix("::/96")
)

// Private returns why a is not a public address ("loopback", "link-local
// (cloud metadata)", ...), or "" when it is. IPv6 forms that carry an IPv4
// address (mapped, compatible, NAT64, 6to4) are judged by that address.
func Private(a netip.Addr) string {
	a = a.WithZone("")
	for _, s := range specials {
		if s.prefix.Contains(a) {
			return s.name
		}
	}
	if v4, how := embedded(a); v4.IsValid() {
		if r := Private(v4); r != "" {
			return r + " in " + how + " " + a.String()
		}
	}
	return ""
}

// embedded returns the IPv4 address an IPv6 address carries and the form,
// or the zero Addr.
func embedded(a netip.Addr) (netip.Addr, string) {
	if !a.Is6() {
		return netip.Addr{}, ""
	}
	b := a.As16()
	switch {
	case a.Is4In6():
		return a.Unmap(), "IPv4-mapped"
	case compat.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "IPv4-compatible"
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64"
	case sixTo.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4"
	}
	return netip.Addr{}, ""
}

// parseHost reads a URL's host the way resolvers and browsers might: an
// IP literal (IPv6 without brackets here), or any numeric IPv4 spelling
// that inet_aton accepts (2130706433, 0177.0.0.1, 0x7f.1, 127.1). It
// returns the address, or the zero Addr for a name. numeric is true when
// the host was a non-canonical numeric spelling.
func parseHost(h string) (a netip.Addr, numeric bool, ok bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a, false, a.Zone() == ""
	}
	if a, ok := inetAton(h); ok {
		return a, true, true
	}
	// A name whose last label starts with a digit is no DNS name a rule
	// can match, and some resolvers read it as a number: refuse it.
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last != "" && last[0] >= '0' && last[0] <= '9' {
		return netip.Addr{}, true, false
	}
	return netip.Addr{}, false, true
}

// inetAton parses the 1 to 4 part numeric IPv4 forms of BSD inet_aton:
// each part decimal, octal (leading 0) or hex (0x); the last part fills the
// remaining bytes.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 || s == "" {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*uint(i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*uint(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// Package httpfield holds wasmward's rules for HTTP field names: what a
// valid name (an RFC 9110 token) is and which fields describe the
// connection or the message framing rather than the content. The gateway
// configuration (pass_headers), the guest-response parser (wagi), the policy
// (network methods) and the outbound-HTTP capability (guest request headers)
// all use it, so a name refused in one place is refused in the others.
//
// The functions take a string or a byte slice and never allocate.
package httpfield

// Name is a field name as a string or as bytes.
type Name interface{ ~string | ~[]byte }

// tchar per RFC 9110 5.6.2.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// Valid reports whether n is a field name: one or more tchar (RFC 9110
// 5.6.2, the token rule).
func Valid[T Name](n T) bool {
	if len(n) == 0 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !tchar[n[i]] {
			return false
		}
	}
	return true
}

// EqualFold reports whether n equals lower, a lowercase ASCII constant,
// ignoring ASCII case.
func EqualFold[T Name](n T, lower string) bool {
	if len(n) != len(lower) {
		return false
	}
	for k := 0; k < len(n); k++ {
		c := n[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[k] {
			return false
		}
	}
	return true
}

// Class is what a field name means to the gateway.
type Class uint8

const (
	// Content is an ordinary end-to-end field.
	Content Class = iota
	// Framing fields describe the client's connection or the message
	// framing (Connection, Keep-Alive, TE, Trailer, Upgrade,
	// Transfer-Encoding, Content-Length; RFC 9110 7.6.1 and RFC 9112 6):
	// the gateway sets them itself, never a guest or a header list.
	Framing
	// Proxy fields (Proxy-*) are hop-by-hop fields meant for a proxy,
	// Proxy-Authorization a credential.
	Proxy
	// Edge fields are acted on by a proxy in front of the gateway (nginx's
	// X-Accel-*, X-Sendfile and lighttpd's X-Lighttpd-Send-File serve a
	// host file, Alt-Svc moves the client to another endpoint) or belong to
	// the server (Server, Date).
	Edge
)

// exact maps the lowercase names of the non-Content classes. prefixes are
// checked when no exact name matches.
var (
	exact = map[string]Class{
		"connection":           Framing,
		"keep-alive":           Framing,
		"te":                   Framing,
		"trailer":              Framing,
		"upgrade":              Framing,
		"transfer-encoding":    Framing,
		"content-length":       Framing,
		"date":                 Edge,
		"server":               Edge,
		"alt-svc":              Edge,
		"x-sendfile":           Edge,
		"x-lighttpd-send-file": Edge,
	}
	prefixes = []struct {
		lower string
		class Class
	}{
		{"proxy-", Proxy},
		{"x-accel-", Edge},
	}
	longest = func() (n int) {
		for k := range exact {
			n = max(n, len(k))
		}
		return n
	}()
)

// Classify returns the class of the field name n, in any case.
func Classify[T Name](n T) Class {
	if len(n) <= longest {
		var buf [32]byte
		b := buf[:len(n)]
		for i := 0; i < len(n); i++ {
			c := n[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if c, ok := exact[string(b)]; ok { // no allocation: a map index by string(bytes)
			return c
		}
	}
	for _, p := range prefixes {
		if len(n) >= len(p.lower) && EqualFold(n[:len(p.lower)], p.lower) {
			return p.class
		}
	}
	return Content
}

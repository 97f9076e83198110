// Package wagi implements the response half of the WAGI handler ABI (CGI
// over WASI): parsing and validating what a guest wrote to stdout. It is a
// pure function over bytes so it can be tested on hostile input directly.
package wagi

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/wasmward/wasmward/internal/httpfield"
)

// Limits bound a guest's response.
type Limits struct {
	// MaxHeaderBytes caps the header block, blank line included.
	MaxHeaderBytes int
	// MaxHeaders caps the number of header lines.
	MaxHeaders int
	// MaxBody caps the body.
	MaxBody int
}

// Field is one response header, its name in canonical form.
type Field struct {
	Name, Value string
}

// Response is a validated guest response.
type Response struct {
	// Status is the HTTP status: from "Status:", else 302 with "Location:",
	// else 200.
	Status int
	// Header holds the fields to forward, in the guest's order, repeated
	// names kept. Status and the framing/hop-by-hop fields are not in it.
	Header []Field
	// Body aliases the tail of the parsed output.
	Body []byte
	// Dropped names the framing and hop-by-hop fields that were removed.
	Dropped []string
	// spans are where Header's values (and the names that are not
	// canonical yet) lie in the header block, while Parse runs.
	spans []span
}

// span is a field's place in the header block: for a kept field (dropped
// < 0) its value, and its name when it has no constant yet (n1 > n0); for
// a dropped one, its name and its index in Dropped.
type span struct{ v0, v1, n0, n1, dropped int }

// cut fills in the names and values the spans locate in block, from one
// string: block with every name to fill in canonicalised.
func (r *Response) cut(block []byte) {
	if len(r.spans) == 0 {
		return
	}
	var b strings.Builder
	b.Grow(len(block))
	at := 0
	for _, sp := range r.spans {
		if sp.n1 > sp.n0 {
			b.Write(block[at:sp.n0])
			appendCanonical(&b, block[sp.n0:sp.n1])
			at = sp.n1
		}
	}
	b.Write(block[at:])
	s := b.String() // same length and offsets as block
	k := 0
	for _, sp := range r.spans {
		if sp.dropped >= 0 {
			r.Dropped[sp.dropped] = s[sp.n0:sp.n1]
			continue
		}
		if sp.n1 > sp.n0 {
			r.Header[k].Name = s[sp.n0:sp.n1]
		}
		r.Header[k].Value = s[sp.v0:sp.v1]
		k++
	}
}

// appendCanonical writes a valid field name (an RFC 9110 token) in
// canonical form, as textproto.CanonicalMIMEHeaderKey writes it: the first
// letter and every letter after a hyphen upper case, the rest lower case.
func appendCanonical(b *strings.Builder, name []byte) {
	upper := true
	for _, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		upper = c == '-'
	}
}

// Reset empties r for reuse, keeping its slices' capacity.
func (r *Response) Reset() {
	clear(r.Header)
	clear(r.Dropped)
	*r = Response{Header: r.Header[:0], Dropped: r.Dropped[:0], spans: r.spans[:0]}
}

// Kinds of Error.
const (
	KindNoHeaderBlock  = "no_header_block"
	KindInvalidHeader  = "invalid_header"
	KindInvalidStatus  = "invalid_status"
	KindHeaderTooLarge = "header_too_large"
	KindTooManyHeaders = "too_many_headers"
	KindBodyTooLarge   = "body_too_large"
	KindNoCGIField     = "no_cgi_field"
)

// Error is why a guest response was rejected. Detail may quote the guest's
// bytes (escaped); it is for logs, never for the client.
type Error struct {
	Kind   string
	Line   int // 1-based line of the header block, 0 when not about a line
	Detail string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return e.Kind + ": line " + strconv.Itoa(e.Line) + ": " + e.Detail
	}
	return e.Kind + ": " + e.Detail
}

// Parse validates out, a guest's whole stdout, as a CGI response: a header
// block of "Name: value" lines each ended by LF or CRLF, a blank line, then
// the body. Into dst (reset first) it puts the status, the headers to
// forward and the body. It rejects, with an *Error:
//   - output with no blank line ending a non-empty header block;
//   - a line without a colon, a name that is not an RFC 9110 token (spaces
//     before the colon and obs-fold continuation lines included), a value
//     holding a CR, LF, NUL or any other control byte but HTAB;
//   - a Status that is not three digits in 200-599 (optionally followed by a
//     space and a reason), or more than one Status;
//   - a block with none of Content-Type, Location, Status (RFC 3875 6.2);
//   - a header block, header count or body over the limits.
//
// Framing and hop-by-hop fields (Connection, Content-Length,
// Transfer-Encoding, Keep-Alive, Upgrade, TE, Trailer, Proxy-*), fields an
// edge proxy or the server itself acts on or owns (X-Accel-*, X-Sendfile,
// X-Lighttpd-Send-File, Alt-Svc, Server, Date): every name
// httpfield.Classify does not call Content; an empty Content-Type and
// every Content-Type after the first are dropped and listed in dst.Dropped.
// Parse never panics.
func Parse(out []byte, lim Limits, dst *Response) error {
	dst.Reset()
	i, line, statusSeen, cgiField := 0, 0, false, false
	location, contentType := false, false
	for {
		j := bytes.IndexByte(out[i:], '\n')
		if j < 0 {
			if len(out) > lim.MaxHeaderBytes {
				return &Error{Kind: KindHeaderTooLarge, Detail: "no end of the header block within " + strconv.Itoa(lim.MaxHeaderBytes) + " bytes"}
			}
			if len(out) == 0 {
				return &Error{Kind: KindNoHeaderBlock, Detail: "empty output"}
			}
			return &Error{Kind: KindNoHeaderBlock, Detail: "output ended before the blank line that ends the header block"}
		}
		next := i + j + 1
		if next > lim.MaxHeaderBytes {
			return &Error{Kind: KindHeaderTooLarge, Detail: "header block longer than " + strconv.Itoa(lim.MaxHeaderBytes) + " bytes"}
		}
		l := out[i : i+j]
		i = next
		line++
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
		if len(l) == 0 {
			if line == 1 {
				return &Error{Kind: KindNoHeaderBlock, Detail: "output starts with a blank line"}
			}
			break
		}
		if line > lim.MaxHeaders {
			return &Error{Kind: KindTooManyHeaders, Detail: "more than " + strconv.Itoa(lim.MaxHeaders) + " header lines"}
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return &Error{Kind: KindInvalidHeader, Line: line, Detail: "not a \"Name: value\" line: " + quote(l)}
		}
		name, value := l[:colon], trimOWS(l[colon+1:])
		if !httpfield.Valid(name) {
			return &Error{Kind: KindInvalidHeader, Line: line, Detail: "invalid field name " + quote(name)}
		}
		if k := invalidValueByte(value); k >= 0 {
			return &Error{Kind: KindInvalidHeader, Line: line, Detail: "control byte 0x" + strconv.FormatUint(uint64(value[k]), 16) + " in the value of " + quote(name)}
		}
		switch {
		case httpfield.EqualFold(name, "status"):
			if statusSeen {
				return &Error{Kind: KindInvalidStatus, Line: line, Detail: "more than one Status"}
			}
			code, ok := parseStatus(value)
			if !ok {
				return &Error{Kind: KindInvalidStatus, Line: line, Detail: "Status " + quote(value) + " is not a code in 200-599"}
			}
			statusSeen, cgiField = true, true
			dst.Status = code
			continue
		case httpfield.EqualFold(name, "location"):
			location, cgiField = true, true
		case httpfield.EqualFold(name, "content-type"):
			cgiField = true
			if contentType || len(value) == 0 {
				// One Content-Type, the first that says something: an
				// empty one would skip the gateway's octet-stream
				// fallback, a second one leaves the client to choose.
				dst.Dropped = append(dst.Dropped, "Content-Type")
				continue
			}
			contentType = true
		case httpfield.Classify(name) != httpfield.Content:
			dst.Dropped = append(dst.Dropped, "")
			dst.spans = append(dst.spans, span{n0: cap(out) - cap(name), n1: cap(out) - cap(name) + len(name), dropped: len(dst.Dropped) - 1})
			continue
		}
		// The value and the name are cut from one string of the header
		// block below: one allocation per response, not one per field.
		// Offsets in out: every slice here is cut from out, so its offset is
		// what its capacity lacks of out's.
		sp := span{v0: cap(out) - cap(value), n0: cap(out) - cap(name), dropped: -1}
		sp.v1, sp.n1 = sp.v0+len(value), sp.n0+len(name)
		cn, known := canonicalKnown(name)
		if known {
			sp.n1 = sp.n0 // named already
		}
		dst.Header = append(dst.Header, Field{Name: cn})
		dst.spans = append(dst.spans, sp)
	}
	dst.cut(out[:i])
	if !cgiField {
		return &Error{Kind: KindNoCGIField, Detail: "the header block has none of Content-Type, Location, Status"}
	}
	if len(out)-i > lim.MaxBody {
		return &Error{Kind: KindBodyTooLarge, Detail: "body of " + strconv.Itoa(len(out)-i) + " bytes is over the " + strconv.Itoa(lim.MaxBody) + " limit"}
	}
	if !statusSeen {
		dst.Status = 200
		if location {
			dst.Status = 302
		}
	}
	dst.Body = out[i:]
	return nil
}

func parseStatus(v []byte) (int, bool) {
	if len(v) < 3 || (len(v) > 3 && v[3] != ' ') {
		return 0, false
	}
	code := 0
	for _, c := range v[:3] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, code >= 200 && code <= 599
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// invalidValueByte returns the index of the first byte not allowed in a
// field value (CTLs but HTAB, and DEL), or -1.
func invalidValueByte(v []byte) int {
	for k, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return k
		}
	}
	return -1
}

// canonicalKnown returns the canonical form of the common field names,
// without allocating, and false for the others.
func canonicalKnown(name []byte) (string, bool) {
	switch string(name) { // no allocation: the compiler compares in place
	case "Content-Type", "content-type":
		return "Content-Type", true
	case "Location", "location":
		return "Location", true
	case "Set-Cookie", "set-cookie":
		return "Set-Cookie", true
	case "Cache-Control", "cache-control":
		return "Cache-Control", true
	}
	return "", false
}

// quote renders guest bytes for a log line: printable ASCII as is, the rest
// escaped, at most 64 bytes.
func quote(b []byte) string {
	const max = 64
	cut := len(b) > max
	if cut {
		b = b[:max]
	}
	s := strconv.QuoteToASCII(string(b))
	if cut {
		s += "..."
	}
	return s
}

// Package wagireq is an HTTP request as a WAGI handler receives it: the CGI
// environment and the body on stdin, without a gateway. bench (--request)
// and the fuzzer (structured request inputs) use it, and its file form is
// a plain HTTP/1.1 request, so a request a tool wrote can be replayed with
// curl or read by eye.
package wagireq

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// MaxBody bounds the body Parse accepts.
const MaxBody = 16 << 20

// Header is one request header field.
type Header struct {
	Name, Value string
}

// Request is one request to a WAGI handler.
type Request struct {
	Method string
	// Path is the path below the route, as PATH_INFO (decoded, starting with "/").
	Path string
	// Query is the raw query string, without "?".
	Query   string
	Headers []Header
	Body    []byte
}

// Parse reads an HTTP/1.1 request (request line, header fields, blank line,
// body of Content-Length bytes, or the rest of data when there is no
// Content-Length). It fails with one line saying what is wrong.
func Parse(data []byte) (*Request, error) {
	hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("parse HTTP request: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("parse HTTP request: body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("parse HTTP request: body exceeds %d bytes", MaxBody)
	}
	if hr.ContentLength < 0 {
		// No Content-Length: the rest of the file is the body.
		if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
			body = data[i+4:]
		} else if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
			body = data[i+2:]
		}
	}
	r := &Request{Method: hr.Method, Path: hr.URL.Path, Query: hr.URL.RawQuery, Body: append([]byte(nil), body...)}
	if r.Path == "" {
		r.Path = "/"
	}
	names := make([]string, 0, len(hr.Header))
	for n := range hr.Header {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "Content-Length" {
			continue
		}
		for _, v := range hr.Header[n] {
			r.Headers = append(r.Headers, Header{Name: n, Value: v})
		}
	}
	return r, nil
}

// Marshal returns the request in the form Parse reads (with a
// Content-Length), escaping what a request line or header cannot hold.
func (r *Request) Marshal() []byte {
	var b bytes.Buffer
	method := r.Method
	if method == "" || strings.ContainsAny(method, " \r\n\t") {
		method = "GET"
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, r.target())
	b.WriteString("Host: localhost\r\n")
	for _, h := range r.Headers {
		if !validName(h.Name) || strings.EqualFold(h.Name, "Host") || strings.EqualFold(h.Name, "Content-Length") {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", h.Name, cleanValue(h.Value))
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(r.Body))
	b.Write(r.Body)
	return b.Bytes()
}

func (r *Request) target() string {
	p := r.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '?' || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	if r.Query != "" {
		b.WriteByte('?')
		for i := 0; i < len(r.Query); i++ {
			c := r.Query[i]
			if c <= ' ' || c >= 0x7f || c == '#' {
				fmt.Fprintf(&b, "%%%02X", c)
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func cleanValue(v string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// Env returns the CGI variables a WAGI handler gets for the request, as the
// gateway sets them (RFC 3875 and the X_FULL_URL/X_RAW_PATH_INFO
// extensions): the request line, CONTENT_LENGTH when there is a body,
// CONTENT_TYPE, a local server and client address, and every header as
// HTTP_NAME (the gateway passes only a route's configured headers). Values
// never hold NUL, CR or LF.
func (r *Request) Env() []string {
	method := r.Method
	if method == "" {
		method = "GET"
	}
	path := r.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	env := []string{
		"REQUEST_METHOD=" + clean(method),
		"PATH_INFO=" + clean(path),
		"X_RAW_PATH_INFO=" + clean(path),
		"QUERY_STRING=" + clean(r.Query),
		"REMOTE_ADDR=127.0.0.1",
		"SERVER_PROTOCOL=HTTP/1.1",
		"SERVER_NAME=localhost",
		"SERVER_PORT=80",
		"X_FULL_URL=http://localhost" + clean(r.target()),
	}
	if len(r.Body) > 0 {
		env = append(env, "CONTENT_LENGTH="+strconv.Itoa(len(r.Body)))
	}
	ct := ""
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, "Content-Type") {
			ct = h.Value
			break
		}
	}
	env = append(env, "CONTENT_TYPE="+clean(ct))
	for _, h := range r.Headers {
		if !validName(h.Name) || strings.EqualFold(h.Name, "Content-Type") || strings.EqualFold(h.Name, "Content-Length") {
			continue
		}
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(h.Name, "-", "_"))
		env = append(env, name+"="+clean(h.Value))
	}
	return env
}

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0 || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// Clone returns a deep copy of r.
func (r *Request) Clone() *Request {
	c := *r
	c.Headers = append([]Header(nil), r.Headers...)
	c.Body = append([]byte(nil), r.Body...)
	return &c
}

package wagi

import (
	"bytes"
	"errors"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/httpfield"
)

var lim = Limits{MaxHeaderBytes: 1024, MaxHeaders: 10, MaxBody: 64}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		status  int
		header  []Field
		body    string
		dropped []string
	}{
		{"minimal LF", "Content-Type: text/plain\n\nhello", 200, []Field{{"Content-Type", "text/plain"}}, "hello", nil},
		{"CRLF", "Content-Type: text/plain\r\n\r\nhi\r\n", 200, []Field{{"Content-Type", "text/plain"}}, "hi\r\n", nil},
		{"empty body", "content-type:text/html\n\n", 200, []Field{{"Content-Type", "text/html"}}, "", nil},
		{"status with reason", "Status: 404 Not Found\nContent-Type: text/plain\n\nnope", 404, []Field{{"Content-Type", "text/plain"}}, "nope", nil},
		{"status only", "Status: 204\n\n", 204, nil, "", nil},
		{"location gives 302", "Location: https://example.test/x\n\n", 302, []Field{{"Location", "https://example.test/x"}}, "", nil},
		{"location with status", "Status: 301\nLocation: /y\n\n", 301, []Field{{"Location", "/y"}}, "", nil},
		{"repeated set-cookie kept in order", "Content-Type: a/b\nSet-Cookie: a=1\nset-cookie: b=2\nSet-Cookie: c=3\n\n", 200,
			[]Field{{"Content-Type", "a/b"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"Set-Cookie", "c=3"}}, "", nil},
		{"framing dropped", "Content-Type: a/b\nContent-Length: 999\nTransfer-Encoding: chunked\nConnection: close\nKeep-Alive: 5\nUpgrade: h2c\nTE: trailers\nTrailer: X\nProxy-Authenticate: Basic\nX-Ok: 1\n\nbody", 200,
			[]Field{{"Content-Type", "a/b"}, {"X-Ok", "1"}}, "body",
			[]string{"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "Te", "Trailer", "Proxy-Authenticate"}},
		{"OWS trimmed, tab kept inside", "Content-Type: \t a\tb \t\n\n", 200, []Field{{"Content-Type", "a\tb"}}, "", nil},
		{"body may hold anything", "Content-Type: x/y\n\n\x00\r\n\r\nStatus: 500\n", 200, []Field{{"Content-Type", "x/y"}}, "\x00\r\n\r\nStatus: 500\n", nil},
		{"obs-text allowed", "Content-Type: x/y\nX-Name: caf\xc3\xa9\n\n", 200, []Field{{"Content-Type", "x/y"}, {"X-Name", "caf\xc3\xa9"}}, "", nil},
		{"edge-proxy and server fields dropped", "Content-Type: a/b\nX-Accel-Redirect: /internal/secret\nx-accel-buffering: no\nX-Sendfile: /etc/shadow\nX-Lighttpd-Send-File: /etc/shadow\nAlt-Svc: h3=\":443\"\nServer: evil\nDate: Thu, 01 Jan 1970 00:00:00 GMT\nX-Ok: 1\n\n", 200,
			[]Field{{"Content-Type", "a/b"}, {"X-Ok", "1"}}, "",
			[]string{"X-Accel-Redirect", "X-Accel-Buffering", "X-Sendfile", "X-Lighttpd-Send-File", "Alt-Svc", "Server", "Date"}},
		{"second Content-Type dropped", "Content-Type: text/plain\nContent-Type: text/html\n\n<b>", 200,
			[]Field{{"Content-Type", "text/plain"}}, "<b>", []string{"Content-Type"}},
		{"empty Content-Type dropped, the next one kept", "Content-Type:\nContent-Type: text/html\n\nx", 200,
			[]Field{{"Content-Type", "text/html"}}, "x", []string{"Content-Type"}},
		{"empty Content-Type alone dropped", "Content-Type:  \n\nx", 200, nil, "x", []string{"Content-Type"}},
		{"body at the cap", "Content-Type: x/y\n\n" + strings.Repeat("b", 64), 200, []Field{{"Content-Type", "x/y"}}, strings.Repeat("b", 64), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			if err := Parse([]byte(tc.in), lim, &r); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if r.Status != tc.status || string(r.Body) != tc.body {
				t.Errorf("status %d body %q, want %d %q", r.Status, r.Body, tc.status, tc.body)
			}
			if len(r.Header)+len(tc.header) > 0 && !reflect.DeepEqual(r.Header, tc.header) {
				t.Errorf("header %q, want %q", r.Header, tc.header)
			}
			if len(r.Dropped)+len(tc.dropped) > 0 && !reflect.DeepEqual(r.Dropped, tc.dropped) {
				t.Errorf("dropped %q, want %q", r.Dropped, tc.dropped)
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind string
		line int
	}{
		{"empty", "", KindNoHeaderBlock, 0},
		{"body only", "hello world", KindNoHeaderBlock, 0},
		{"no blank line", "Content-Type: text/plain\n", KindNoHeaderBlock, 0},
		{"starts blank", "\nhello", KindNoHeaderBlock, 0},
		{"starts CRLF blank", "\r\nhello", KindNoHeaderBlock, 0},
		{"html body without header", "<html>\n\n</html>", KindInvalidHeader, 1},
		{"bare CR in value", "Content-Type: text/plain\rSet-Cookie: x=1\n\n", KindInvalidHeader, 1},
		{"bare CR splitting", "X-A: 1\r\rContent-Type: a/b\n\n", KindInvalidHeader, 1},
		{"NUL in value", "Content-Type: text/pl\x00ain\n\n", KindInvalidHeader, 1},
		{"NUL in name", "Content\x00Type: a\n\n", KindInvalidHeader, 1},
		{"other control", "Content-Type: a\x01b\n\n", KindInvalidHeader, 1},
		{"DEL", "Content-Type: a\x7fb\n\n", KindInvalidHeader, 1},
		{"space before colon", "Content-Type : a\n\n", KindInvalidHeader, 1},
		{"space in name", "Content Type: a\n\n", KindInvalidHeader, 1},
		{"empty name", ": a\n\n", KindInvalidHeader, 1},
		{"obs-fold", "Content-Type: a\n b\n\n", KindInvalidHeader, 2},
		{"no colon", "Content-Type: a\nGarbage\n\n", KindInvalidHeader, 2},
		{"non-ascii name", "Cont\xc3\xa9nt: a\n\n", KindInvalidHeader, 1},
		{"CR CR LF", "Content-Type: a\r\r\n\n", KindInvalidHeader, 1},
		{"status 999", "Status: 999\n\n", KindInvalidStatus, 1},
		{"status 100", "Status: 100 Continue\n\n", KindInvalidStatus, 1},
		{"status 101 switching", "Status: 101\nUpgrade: websocket\n\n", KindInvalidStatus, 1},
		{"status text", "Status: OK\n\n", KindInvalidStatus, 1},
		{"status suffix", "Status: 200abc\n\n", KindInvalidStatus, 1},
		{"status short", "Status: 20\n\n", KindInvalidStatus, 1},
		{"status negative", "Status: -200\n\n", KindInvalidStatus, 1},
		{"status empty", "Status:\n\n", KindInvalidStatus, 1},
		{"two statuses", "Status: 200\nStatus: 302\n\n", KindInvalidStatus, 2},
		{"status with CRLF inside", "Status: 200\rX: 1\n\n", KindInvalidHeader, 1},
		{"no CGI field", "X-Only: 1\n\nbody", KindNoCGIField, 0},
		{"only dropped", "Content-Length: 3\n\nabc", KindNoCGIField, 0},
		{"too many headers", "Content-Type: a\n" + strings.Repeat("X-A: 1\n", 10) + "\n", KindTooManyHeaders, 0},
		{"header block too large", "Content-Type: " + strings.Repeat("a", 2000) + "\n\n", KindHeaderTooLarge, 0},
		{"endless header without newline", "Content-Type: " + strings.Repeat("a", 2000), KindHeaderTooLarge, 0},
		{"blank line just past the cap", "Content-Type: " + strings.Repeat("a", 1024-15) + "\n\n", KindHeaderTooLarge, 0},
		{"100k headers", strings.Repeat("X: 1\n", 100000) + "\n", KindTooManyHeaders, 0},
		{"body too large", "Content-Type: a\n\n" + strings.Repeat("b", 65), KindBodyTooLarge, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			err := Parse([]byte(tc.in), lim, &r)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, want a %s error", tc.in, err, tc.kind)
			}
			if pe.Kind != tc.kind || pe.Line != tc.line {
				t.Errorf("got %v (line %d), want %s at line %d", err, pe.Line, tc.kind, tc.line)
			}
			if strings.ContainsAny(pe.Error(), "\r\n\x00") {
				t.Errorf("error text carries raw control bytes: %q", pe.Error())
			}
		})
	}
}

func TestParseExactHeaderCap(t *testing.T) {
	// A block of exactly MaxHeaderBytes, blank line included, is accepted.
	pad := 1024 - len("Content-Type: \n\n")
	in := "Content-Type: " + strings.Repeat("a", pad) + "\n\nB"
	var r Response
	if err := Parse([]byte(in), lim, &r); err != nil {
		t.Fatalf("at the cap: %v", err)
	}
	if string(r.Body) != "B" {
		t.Errorf("body %q", r.Body)
	}
}

func TestParseResetsReusedResponse(t *testing.T) {
	var r Response
	if err := Parse([]byte("Content-Type: a\nContent-Length: 1\nX: 1\n\nz"), lim, &r); err != nil {
		t.Fatal(err)
	}
	if err := Parse([]byte("Status: 201\n\n"), lim, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != 201 || len(r.Header) != 0 || len(r.Dropped) != 0 || len(r.Body) != 0 {
		t.Errorf("reused response = %+v", r)
	}
}

// TestParseAllocations: the kept fields' values (and their names that are
// not canonical yet) are cut from one string of the header block, so a
// response costs one allocation however many fields it has.
func TestParseAllocations(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      []Field
	}{
		{"one field", "Content-Type: text/plain\n\nhello\n", []Field{{"Content-Type", "text/plain"}}},
		{"six fields, CRLF, OWS, names to canonicalise", "content-type:  text/html; charset=utf-8 \r\n" +
			"x-trace-id:\tabc\r\nCache-Control: no-cache\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n" +
			"X-EMPTY:\r\nStatus: 201 Created\r\nConnection: close\r\n\r\nbody",
			[]Field{{"Content-Type", "text/html; charset=utf-8"}, {"X-Trace-Id", "abc"}, {"Cache-Control", "no-cache"},
				{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-Empty", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := []byte(tc.out)
			var r Response
			if err := Parse(out, lim, &r); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Header, tc.want) {
				t.Fatalf("header %q, want %q", r.Header, tc.want)
			}
			// The fields must not alias out: the gateway reuses that buffer.
			for k := range out {
				out[k] = '#'
			}
			if !slices.Equal(r.Header, tc.want) {
				t.Fatalf("header changed with the output buffer: %q", r.Header)
			}
			out = []byte(tc.out)
			n := testing.AllocsPerRun(100, func() { Parse(out, lim, &r) })
			if n != 1 { // the header block's string
				t.Errorf("%v allocations per parse, want 1", n)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"Content-Type: a\n\nb", "Status: 200\r\n\r\n", "Location: /x\n\n", "X:\r\n\n", "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Response
		if err := Parse(in, lim, &r); err != nil {
			return
		}
		if r.Status < 200 || r.Status > 599 {
			t.Fatalf("status %d accepted", r.Status)
		}
		if len(r.Body) > lim.MaxBody {
			t.Fatalf("body of %d accepted", len(r.Body))
		}
		for _, h := range r.Header {
			if strings.ContainsAny(h.Name+h.Value, "\r\n\x00") || httpfield.Classify(h.Name) != httpfield.Content || strings.EqualFold(h.Name, "status") {
				t.Fatalf("forwarded %q: %q", h.Name, h.Value)
			}
			if c := textproto.CanonicalMIMEHeaderKey(h.Name); c != h.Name {
				t.Fatalf("forwarded name %q is not canonical (%q)", h.Name, c)
			}
			if !bytes.Contains(in, []byte(h.Value)) {
				t.Fatalf("forwarded value %q is not in the output", h.Value)
			}
		}
		for _, d := range r.Dropped {
			if c := textproto.CanonicalMIMEHeaderKey(d); c != d {
				t.Fatalf("dropped name %q is not canonical (%q)", d, c)
			}
		}
		if !bytes.HasSuffix(in, r.Body) {
			t.Fatal("body is not the tail of the output")
		}
	})
}

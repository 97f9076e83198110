package gateway

import "github.com/wasmward/wasmward/gateway/internal/wagi"

// CheckResponse validates out, a WAGI handler's whole stdout, the way serve
// does before it forwards a response, under the default response limits:
// nil when serve would forward it, else an error (one line, quoting the
// guest's bytes escaped) saying why it would answer 502 instead. The fuzzer
// uses it to report invalid responses.
func CheckResponse(out []byte) error {
	var r wagi.Response
	return wagi.Parse(out, wagi.Limits{
		MaxHeaderBytes: DefaultResponseHeaders,
		MaxHeaders:     DefaultMaxHeaders,
		MaxBody:        DefaultResponseBody,
	}, &r)
}

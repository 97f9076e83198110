package ocitest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// Rewrite is an http.RoundTripper standing for an attacker between a
// client and the registry: the body of every successful GET whose URL path
// contains Match is replaced by what Fn returns for it.
type Rewrite struct {
	Match string
	Fn    func([]byte) []byte
}

// FlipLast is a Rewrite function that alters the last byte of a body.
func FlipLast(b []byte) []byte {
	if len(b) > 0 {
		b[len(b)-1] ^= 1
	}
	return b
}

// RoundTrip implements http.RoundTripper.
func (rw Rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, rw.Match) || resp.StatusCode != 200 {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b = rw.Fn(b)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

package gateway

import (
	"strings"
	"sync"
	"testing"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wasm"
)

// TestReactorHandler: a Go reactor handler (GOOS=wasip1 -buildmode=c-shared,
// wagi_handle export) is served from the snapshot of its initialised state
// (package init ran once: init=iii), with a fresh instance per request:
// each request is the instance's first (hits=1) and sees nothing an
// earlier one stored, sequentially and concurrently; the request's CGI
// variables and body reach the call; the version's digest is the
// configured module's.
func TestReactorHandler(t *testing.T) {
	g := startGW(t, `
rate_limit: {requests_per_second: 0}
routes:
  - route: /r/...
    module: `+fixture.Path(t, "gw_reactor_go")+`
`)
	if r := g.get("/r/x"); r.status != 200 || r.body != "hello from Go\n" {
		t.Fatalf("hello: %d %q", r.status, r.body)
	}
	for i := range 5 {
		body := "b" + strings.Repeat("x", i)
		r := g.do("PUT", "/r/p?state", strings.NewReader(body))
		want := "method=PUT path=/p body=" + body + ` hits=1 stored="" init=iii` + "\n"
		if r.status != 200 || r.body != want {
			t.Fatalf("request %d: %d %q, want %q", i, r.status, r.body, want)
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range 5 {
				r := g.do("POST", "/r/c?state", strings.NewReader("w"))
				if want := "method=POST path=/c body=w hits=1 stored=\"\" init=iii\n"; r.status != 200 || r.body != want {
					t.Errorf("worker %d: %d %q", w, r.status, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	if ri := g.srv.Routes(); len(ri) != 1 || ri[0].SHA256 != digest.SHA256Hex(fixture.Bytes(t, "gw_reactor_go")) {
		t.Fatalf("routes %+v, want the configured module's digest", ri)
	}
}

// reactorInit: which modules are reactor handlers, the init export the
// snapshot calls, and the one-line refusals.
func TestReactorInit(t *testing.T) {
	mod := func(exports ...wasm.Export) []byte {
		m := &wasm.Module{
			Types:     []wasm.FuncType{{}, {Params: []wasm.ValType{wasm.I32}}},
			Functions: []uint32{0, 1},
			Code:      []wasm.Func{{Body: wasm.Expr{Code: []byte{0x0b}}}, {Body: wasm.Expr{Code: []byte{0x0b}}}},
			Exports:   exports,
		}
		b, err := wasm.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fn := func(name string, idx uint32) wasm.Export {
		return wasm.Export{Name: name, Kind: wasm.ExternFunc, Index: idx}
	}
	for _, tc := range []struct {
		name     string
		bin      []byte
		reactor  bool
		initName string
		err      string
	}{
		{"command", mod(fn("_start", 0)), false, "", ""},
		{"reactor", mod(fn("_initialize", 0), fn("wagi_handle", 0)), true, "_initialize", ""},
		{"own wizer init", mod(fn("wagi_handle", 0), fn("wizer.initialize", 0)), true, "wizer.initialize", ""},
		{"wizer-initialize", mod(fn("wagi_handle", 0), fn("wizer-initialize", 0)), true, "wizer-initialize", ""},
		{"both ABIs", mod(fn("_start", 0), fn("wagi_handle", 0)), false, "", "exports both _start and wagi_handle"},
		{"handler with a parameter", mod(fn("wagi_handle", 1)), false, "", "the wagi_handle export must have type () -> ()"},
		{"not a module", []byte("junk"), false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			init, reactor, err := reactorInit(tc.bin)
			if reactor != tc.reactor || init != tc.initName || (err == nil) != (tc.err == "") ||
				err != nil && (!strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("got %q %v %v, want %q %v %q", init, reactor, err, tc.initName, tc.reactor, tc.err)
			}
		})
	}
}

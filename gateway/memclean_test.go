package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// TestMemoryCleanAcrossRequests: linear memory is reused across requests
// (pooled buffers, sandbox/memory.go), and a request never sees what an
// earlier one left there. Request N fills all of its linear memory (grown
// to 512 KiB) with a secret and sets a global; request N+1 dumps all of
// its linear memory, which must equal, byte for byte, the memory of a
// fresh instance in a runtime of its own (the initial image: the data
// segments, zeros, the global's initial value). Sequential and concurrent.
func TestMemoryCleanAcrossRequests(t *testing.T) {
	// The reference: a fresh runtime, nothing pooled, one run.
	rt, err := sandbox.New(context.Background(), sandbox.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	m, err := rt.Compile(context.Background(), fixture.Bytes(t, "gw_memimage"), policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	var ref bytes.Buffer
	rep, err := m.Run(context.Background(), sandbox.Invocation{Stdin: strings.NewReader("d"), Stdout: &ref})
	if err != nil || rep.Outcome != sandbox.OutcomeExit || rep.ExitCode != 0 {
		t.Fatalf("reference run: %v %+v", err, rep)
	}
	const hdr = "Content-Type: application/octet-stream\n\n"
	image, ok := bytes.CutPrefix(ref.Bytes(), []byte(hdr))
	if !ok || len(image) != 8<<16 || binary.LittleEndian.Uint32(image[48:]) != 7 ||
		!bytes.Equal(image[70000:70026], []byte("initial image, second page")) {
		t.Fatalf("reference image: %d bytes, global %d", len(image), binary.LittleEndian.Uint32(image[48:]))
	}

	g := startGW(t, `
rate_limit: {requests_per_second: 0}
response: {max_body: 1MiB}
routes:
  - route: /m
    module: `+fixture.Path(t, "gw_memimage")+`
    max_concurrency: 64
`)
	round := func() string {
		if r := g.do("POST", "/m", strings.NewReader("s")); r.status != 200 || r.body != "secret written\n" {
			return "secret: " + r.body
		}
		r := g.do("POST", "/m", strings.NewReader("d"))
		if r.status != 200 {
			return r.body
		}
		if got := []byte(r.body); !bytes.Equal(got, image) {
			return describeDiff(got, image)
		}
		return ""
	}
	for i := range 20 {
		if d := round(); d != "" {
			t.Fatalf("sequential round %d: %s\n%s", i, d, g.logs.String())
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				if d := round(); d != "" {
					t.Errorf("worker %d round %d: %s", w, i, d)
					return
				}
			}
		})
	}
	wg.Wait()
}

// describeDiff says where a memory dump differs from the image.
func describeDiff(got, want []byte) string {
	if len(got) != len(want) {
		return "dump of " + strconv.Itoa(len(got)) + " bytes, want " + strconv.Itoa(len(want))
	}
	n, first := 0, -1
	for i := range got {
		if got[i] != want[i] {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return strconv.Itoa(n) + " bytes differ from a fresh instance's memory, the first at offset " + strconv.Itoa(first)
}

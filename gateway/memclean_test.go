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
// (the module's image buffers restored on return, sandbox/memimage.go;
// zeroed pooled buffers past them, sandbox/memory.go), and a request never
// sees what an earlier one left there. Request N fills all of its linear
// memory (grown to 512 KiB, or at its initial 128 KiB) with a secret and
// sets a global; request N+1 dumps all of its linear memory, which must
// equal, byte for byte, the memory of a fresh instance in a runtime of its
// own (the initial image: the data segments, zeros, the global's initial
// value). Sequential and concurrent.
func TestMemoryCleanAcrossRequests(t *testing.T) {
	// The references: a fresh runtime, nothing pooled, one run each of
	// the dump at 8 pages ("d") and at the initial 2 ("D").
	rt, err := sandbox.New(context.Background(), sandbox.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	m, err := rt.Compile(context.Background(), fixture.Bytes(t, "gw_memimage"), policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	const hdr = "Content-Type: application/octet-stream\n\n"
	image := map[string][]byte{}
	for cmd, pages := range map[string]int{"d": 8, "D": 2} {
		var ref bytes.Buffer
		rep, err := m.Run(context.Background(), sandbox.Invocation{Stdin: strings.NewReader(cmd), Stdout: &ref})
		if err != nil || rep.Outcome != sandbox.OutcomeExit || rep.ExitCode != 0 {
			t.Fatalf("reference run: %v %+v", err, rep)
		}
		img, ok := bytes.CutPrefix(ref.Bytes(), []byte(hdr))
		if !ok || len(img) != pages<<16 || binary.LittleEndian.Uint32(img[48:]) != 7 ||
			!bytes.Equal(img[70000:70026], []byte("initial image, second page")) {
			t.Fatalf("reference image %q: %d bytes", cmd, len(img))
		}
		image[cmd] = img
	}

	g := startGW(t, `
rate_limit: {requests_per_second: 0}
response: {max_body: 1MiB}
routes:
  - route: /m
    module: `+fixture.Path(t, "gw_memimage")+`
    max_concurrency: 64
`)
	// Every order of secret and dump sizes: the secret in the initial
	// image's buffer or in a grown one, the dump in either.
	seq := []string{"s", "d", "S", "D", "s", "D", "S", "d"}
	round := func() string {
		for i := 0; i < len(seq); i += 2 {
			if r := g.do("POST", "/m", strings.NewReader(seq[i])); r.status != 200 || r.body != "secret written\n" {
				return "secret: " + r.body
			}
			r := g.do("POST", "/m", strings.NewReader(seq[i+1]))
			if r.status != 200 {
				return r.body
			}
			if got := []byte(r.body); !bytes.Equal(got, image[seq[i+1]]) {
				return seq[i] + " then " + seq[i+1] + ": " + describeDiff(got, image[seq[i+1]])
			}
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

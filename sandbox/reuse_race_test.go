package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmward/wasmward/sandbox"
)

// slowWriter is a stream the sandbox cannot know never blocks: runs with it
// go through the worker goroutine and the watchdog.
type slowWriter struct{ bytes.Buffer }

func (w *slowWriter) Write(p []byte) (int, error) { return w.Buffer.Write(p) }

// Concurrent requests on one module, hostile ones ending every way (some
// canceled or past their deadline at any moment, on the caller's goroutine
// and on the worker's), interleaved with dumps: every dump is a fresh
// instance's, byte for byte. Run with -race.
func TestReuseConcurrentHostile(t *testing.T) {
	rt := newRuntime(t)
	want := dumpRun(t, compile(t, rt, "sb_reuse", reusePolicy()))
	m := compile(t, rt, "sb_reuse", reusePolicy())
	modes := []string{"w", "x", "e", "c", "g", "t", "f", "o"}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				mode := modes[(g+i)%len(modes)]
				ctx, cancel := context.WithCancel(context.Background())
				in := sandbox.Invocation{Stdin: strings.NewReader(mode), Stdout: io.Discard}
				if i%3 == 0 {
					in.Stdout = &slowWriter{}
				}
				switch i % 4 {
				case 1:
					in.Deadline = time.Now().Add(time.Duration(i%7) * 100 * time.Microsecond)
				case 2:
					time.AfterFunc(time.Duration(i%5)*50*time.Microsecond, cancel)
				}
				if _, err := m.Run(ctx, in); err != nil {
					errs <- err
				}
				cancel()
				var out slowWriter
				dump := sandbox.Invocation{Stdin: strings.NewReader("D"), Stdout: &bytes.Buffer{}}
				if i%2 == 0 {
					dump.Stdout = &out
				}
				rep, err := m.Run(context.Background(), dump)
				if err != nil {
					errs <- err
					return
				}
				var got []byte
				if b, ok := dump.Stdout.(*bytes.Buffer); ok {
					got = b.Bytes()
				} else {
					got = out.Bytes()
				}
				if rep.Outcome != sandbox.OutcomeExit || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("after %q (round %d): dump %+v differs at %d", mode, i, rep, firstDiff(got, want))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Not vacuous: most of the 480 runs (the dumps and the clean ends)
	// ran on a reused instance.
	if n := sandbox.Instantiations(m); n > 240 {
		t.Errorf("%d instances for 480 runs: reuse did not happen", n)
	}
}

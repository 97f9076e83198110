package sandbox_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// opaqueWriter is a writer the sandbox cannot know to be non-blocking, so
// runs with it take the worker path.
type opaqueWriter struct{ bytes.Buffer }

func (w *opaqueWriter) Write(p []byte) (int, error) { return w.Buffer.Write(p) }

// TestRunPathsAgree: the same module run on the caller's goroutine (streams
// known not to block, or promised with NonBlocking) and on a worker (an
// opaque writer) gives identical reports: output, host calls per function
// (counted by the sandbox's WASI wrappers), fuel, memory.
func TestRunPathsAgree(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "gw_hello", policy.Default())
	want := "Content-Type: text/plain\n\nhello from C\n"
	var reps []*sandbox.Report
	for _, tc := range []struct {
		name string
		out  io.Writer
		nb   bool
	}{
		{"inline known type", &bytes.Buffer{}, false},
		{"inline promised", &opaqueWriter{}, true},
		{"worker", &opaqueWriter{}, false},
	} {
		for range 3 { // pooled state reused
			rep, err := m.Run(context.Background(), sandbox.Invocation{Stdout: tc.out, NonBlocking: tc.nb})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if rep.Outcome != sandbox.OutcomeExit || rep.ExitCode != 0 {
				t.Fatalf("%s: %+v", tc.name, rep)
			}
			reps = append(reps, rep)
		}
		var got string
		switch w := tc.out.(type) {
		case *bytes.Buffer:
			got = w.String()
		case *opaqueWriter:
			got = w.String()
		}
		if got != strings.Repeat(want, 3) {
			t.Errorf("%s: stdout %q", tc.name, got)
		}
	}
	first := reps[0]
	if first.HostCalls["wasi_snapshot_preview1.fd_write"] != 1 || first.StdoutBytes != uint64(len(want)) || first.PeakMemoryBytes != 2*65536 {
		t.Errorf("report %+v", first)
	}
	for k := range first.HostCalls {
		if !strings.HasPrefix(k, "wasi_snapshot_preview1.") {
			t.Errorf("host call key %q", k)
		}
	}
	for i, r := range reps[1:] {
		if !maps.Equal(r.HostCalls, first.HostCalls) || r.StdoutBytes != first.StdoutBytes ||
			r.FuelUsed != first.FuelUsed || r.PeakMemoryBytes != first.PeakMemoryBytes {
			t.Errorf("run %d differs: %+v vs %+v", i+1, r, first)
		}
	}
}

// TestInvocationDeadline: Invocation.Deadline stops a guest like a context
// deadline, on both run paths, well before the policy's timeout.
func TestInvocationDeadline(t *testing.T) {
	rt := newRuntime(t)
	m := compile(t, rt, "sb_loop", withLimits(func(l *policy.Limits) { l.Timeout = policy.Duration(20 * time.Second) }))
	for _, out := range []io.Writer{&bytes.Buffer{}, &opaqueWriter{}} {
		start := time.Now()
		rep, err := m.Run(context.Background(), sandbox.Invocation{Stdout: out, Deadline: start.Add(100 * time.Millisecond)})
		el := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Outcome != sandbox.OutcomeViolation || rep.Violation.Kind != sandbox.KindTimeout ||
			rep.Violation.Detail != "the caller's deadline passed" {
			t.Fatalf("%T: %+v %+v", out, rep, rep.Violation)
		}
		if el < 100*time.Millisecond || el > 2*time.Second {
			t.Errorf("%T: returned after %v", out, el)
		}
	}
}

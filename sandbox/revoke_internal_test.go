package sandbox

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
)

// TestRevokedStreams: once Run abandoned a run, every read or write the
// guest starts is refused with a timeout violation before it touches the
// caller's objects, and one in progress at the abandonment stops the guest
// when it returns.
func TestRevokedStreams(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Compile(ctx, fixture.Bytes(t, "sb_trap"), policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	st := m.newState()
	var out, errOut bytes.Buffer
	in := strings.NewReader("body")
	if err := st.begin(ctx, time.Now(), Invocation{Stdout: &out, Stderr: &errOut, Stdin: in}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.stdout.Write([]byte("a")); n != 1 || err != nil || out.String() != "a" {
		t.Fatalf("write before abandonment: %d %v %q", n, err, out.String())
	}
	stopped := func(name string, f func()) {
		t.Helper()
		defer func() {
			v, _ := recover().(error)
			var ve *violationError
			if !errors.As(v, &ve) || ve.Kind != KindTimeout || !strings.Contains(ve.Detail, "abandoned") {
				t.Errorf("%s: recovered %v, want a timeout violation", name, v)
			}
		}()
		f()
	}
	// A read in progress when the run is abandoned: the reader returns,
	// then the guest is stopped.
	st.enterIO()
	st.io.Swap(ioAbandoned)
	stopped("exit of a read in progress", st.exitIO)

	stopped("stdout", func() { st.stdout.Write([]byte("late")) })
	stopped("stdout past the cap", func() { st.stdout.Write(make([]byte, policy.DefaultOutput+1)) })
	stopped("stderr", func() { st.stderr.Write([]byte("late")) })
	stopped("stdin", func() { st.stdin.Read(make([]byte, 8)) })
	if out.String() != "a" || errOut.Len() != 0 || in.Len() != 4 {
		t.Errorf("after abandonment: stdout %q, stderr %q, %d bytes of stdin left", out.String(), errOut.String(), in.Len())
	}
}

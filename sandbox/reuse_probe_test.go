package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// A request that reads the fixed clocks, draws seeded random bytes, looks
// at the preopened directory (which wazero opens lazily) and polls leaves
// nothing the next request on the same instance can see: its first
// readings are a fresh instance's, with both engines, whether the hostile
// request returned or exited.
func TestReuseSystemContext(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := reusePolicy()
	p.Capabilities.Clock = policy.ClockFixed
	p.Capabilities.Random = "seeded:7"
	p.Capabilities.Mounts = []policy.Mount{{Host: dir, Guest: "/data", ReadOnly: true}}
	ctx := context.Background()
	for _, engine := range []sandbox.Engine{sandbox.EngineCompiler, sandbox.EngineInterpreter} {
		rt, err := sandbox.New(ctx, sandbox.NewConfig().WithEngine(engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Close(ctx) })
		dump := func(m *sandbox.Module, args []string) []byte {
			t.Helper()
			r := run(t, m, sandbox.Invocation{Stdin: strings.NewReader("D"), Args: args})
			if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 || len(r.stdout) != 159 {
				t.Fatalf("dump: %+v, %d bytes", r.rep, len(r.stdout))
			}
			return []byte(r.stdout)
		}
		want := dump(compile(t, rt, "sb_reuse_probe", p), []string{"a"})
		for _, mode := range []string{"h", "x"} {
			m := compile(t, rt, "sb_reuse_probe", p)
			dump(m, nil)
			before := sandbox.Instantiations(m)
			r := run(t, m, sandbox.Invocation{Stdin: strings.NewReader(mode), Args: []string{"long argument", "more"}, Env: []string{"SECRET=1234"}})
			if r.rep.Outcome != sandbox.OutcomeExit || r.rep.ExitCode != 0 {
				t.Fatalf("engine %d %q: %+v", engine, mode, r.rep)
			}
			got := dump(m, []string{"a"})
			if n := sandbox.Instantiations(m) - before; n != 0 {
				t.Fatalf("engine %d %q: %d instances created, want the instance reused", engine, mode, n)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("engine %d after %q: the dump differs from a fresh instance's at byte %d:\n got %x\nwant %x", engine, mode, firstDiff(got, want), got, want)
			}
		}
	}
}

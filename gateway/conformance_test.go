package gateway

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmward/wasmward/internal/fixture"
)

// TestConformanceThroughServe runs the conformance program for directory
// descriptors (conf_dirfd: mkdirat, openat(O_CREAT), *at calls through a
// directory opened with openat) as a route with a read-write mount at "/",
// and compares the response body and the resulting tree with the same
// program under plain wazero (sandbox/conformance_test.go does the whole
// corpus without the gateway).
func TestConformanceThroughServe(t *testing.T) {
	const name = "conf_dirfd"
	ctx := context.Background()
	plainDir := t.TempDir()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var out bytes.Buffer
	_, err := r.InstantiateWithConfig(ctx, fixture.Bytes(t, name), wazero.NewModuleConfig().
		WithArgs(name).WithEnv("REQUEST_METHOD", "GET").WithStdout(&out).
		WithFSConfig(wazero.NewFSConfig().WithDirMount(plainDir, "/")))
	if err != nil {
		t.Fatalf("plain wazero: %v", err)
	}
	_, want, ok := strings.Cut(out.String(), "\n\n")
	if !ok || !strings.Contains(want, "mkdirat x: ok\n") {
		t.Fatalf("plain wazero output:\n%s", out.String())
	}

	dir := t.TempDir()
	g := startGW(t, baseCfg+`
  - route: /conf
    module: `+fixture.Path(t, name)+`
    policy: {capabilities: {mounts: [{host: `+dir+`, guest: /}]}}
`)
	res := g.get("/conf")
	if res.status != 200 || res.body != want {
		t.Fatalf("status %d, body:\n%s\nwant (plain wazero):\n%s", res.status, res.body, want)
	}
	for _, p := range []string{"x/z", "y", "sub/d/w"} {
		a, aerr := os.ReadFile(filepath.Join(plainDir, p))
		b, berr := os.ReadFile(filepath.Join(dir, p))
		if aerr != nil || berr != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: plain %q %v, served %q %v", p, a, aerr, b, berr)
		}
	}
	if l, err := os.Readlink(filepath.Join(dir, "sub", "d", "l")); err != nil || l != "w" {
		t.Errorf("sub/d/l: %q %v", l, err)
	}
}

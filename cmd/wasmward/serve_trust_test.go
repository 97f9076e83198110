package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/sandbox"
)

func TestServeTrust(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	if code, _, e := trustRun(t, "keygen", "--output-key-prefix", p("ci")); code != 0 {
		t.Fatalf("keygen: %d %s", code, e)
	}
	unsigned := fixture.Path(t, "gw_hello")
	if code, _, e := trustRun(t, "sign", unsigned, "--key", p("ci.key"), "--module-version", "2.0.0", "-o", p("hello.wasm")); code != 0 {
		t.Fatalf("sign: %d %s", code, e)
	}
	os.Mkdir(p("old"), 0o755)
	if code, _, e := trustRun(t, "sign", unsigned, "--key", p("ci.key"), "--module-version", "1.0.0", "-o", p("old/hello.wasm")); code != 0 {
		t.Fatalf("sign old: %d %s", code, e)
	}
	os.WriteFile(p("trust.yaml"), []byte("keys: [{name: ci, public_key: ci.pub}]\ncaller_names: true\n"), 0o644)

	f := &serveFlags{trust: trustFlags{policy: p("trust.yaml"), state: p("state.json")}}
	verify, err := serveVerifier(f, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	route := func(path string) gateway.Route {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return gateway.Route{Path: "/hello", Module: path, Wasm: b, Trust: gateway.RouteTrust{ModuleFile: path}}
	}
	if _, err := verify(context.Background(), route(p("hello.wasm"))); err != nil {
		t.Fatalf("signed module refused: %v", err)
	}
	for name, path := range map[string]string{"unsigned": unsigned, "downgrade": p("old/hello.wasm")} {
		var r *sandbox.Refusal
		if _, err := verify(context.Background(), route(path)); !errors.As(err, &r) || r.Violation.Kind != sandbox.KindSignature {
			t.Errorf("%s: err = %v, want a signature refusal", name, err)
		}
	}

	// Through the CLI: an untrusted route module stops serve before it listens.
	cfg := p("gw.yaml")
	os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\nadmin_listen: \"\"\nroutes: [{route: /a, module: "+unsigned+"}]\n"), 0o600)
	code, _, stderr := gwCLI(context.Background(), "serve", "--config", cfg, "--trust", p("trust.yaml"))
	if code != exitRefused || !strings.Contains(stderr, "route /a") || !strings.Contains(stderr, "unsigned") {
		t.Errorf("serve --trust with an unsigned module: exit %d %q", code, stderr)
	}
	for _, args := range [][]string{
		{"serve", "--state", p("s.json")},
		{"serve", "--trust", p("trust.yaml"), "--allow-downgrade"},
		{"serve", "--trust", p("missing.yaml")},
	} {
		if code, _, _ := gwCLI(context.Background(), args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/wasmward/wasmward/gateway"
)

// This example serves a WAGI handler: a configuration is parsed and
// validated, New compiles every route's module once, and each request gets a
// fresh instance. httptest stands in for a listener; ListenAndServe would
// serve the configured addresses instead.
func Example() {
	ctx := context.Background()
	cfg, err := gateway.ParseConfig([]byte(`
listen: 127.0.0.1:8080
admin_listen: 127.0.0.1:9090
policy:
  limits: {memory: 16MiB, timeout: 2s}
routes:
  - route: /hello
    module: hello_http.wasm
`), "gateway.yaml", func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join("..", "internal", "quickstart", p))
	}, "")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := gateway.New(ctx, cfg, gateway.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close(ctx)

	pub := httptest.NewServer(srv.Handler())
	defer pub.Close()

	resp, err := http.Get(pub.URL + "/hello?name=gopher")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Println(resp.Header.Get("X-Content-Type-Options"))
	fmt.Print(string(body))

	// A path no route serves is a 404 from the gateway, not the guest.
	resp, err = http.Get(pub.URL + "/nope")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// 200 OK
	// text/plain
	// nosniff
	// Hello from WebAssembly! This request ran in an instance of its own; nothing of it reaches the next.
	// query: name=gopher
	// 404 Not Found
}

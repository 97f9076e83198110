// Package ocitest runs a real OCI registry (github.com/distribution/distribution/v3,
// the reference implementation behind Docker's registry image) in-process
// on loopback, for tests. Nothing is mocked: the registry stores what it
// is sent in memory and speaks the distribution API over real HTTP.
package ocitest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd" // the htpasswd access controller
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // the in-memory storage driver
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
)

// Registry is a running registry.
type Registry struct {
	// Host is HOST:PORT on 127.0.0.1, as it goes in a reference.
	Host string
	// Username and Password are the credentials it requires, when started
	// with them.
	Username, Password string
}

var quiet sync.Once

// Start runs a registry on 127.0.0.1 (a free port) until the test ends.
// With username set, every request needs HTTP basic authentication with
// username and password (an htpasswd file, bcrypt).
func Start(t testing.TB, username, password string) *Registry {
	t.Helper()
	quiet.Do(func() {
		// The registry logs every request through logrus's standard logger.
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.ErrorLevel)
	})
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory":    configuration.Parameters{},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
			"delete":      configuration.Parameters{"enabled": true},
		},
	}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Secret = "ocitest-secret"
	if username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(path, fmt.Appendf(nil, "%s:%s\n", username, hash), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "ocitest", "path": path}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		cancel()
	})
	return &Registry{Host: ln.Addr().String(), Username: username, Password: password}
}

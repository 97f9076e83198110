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
	"time"

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

	close func()
}

var quiet sync.Once

// Start runs a registry on 127.0.0.1 (a free port) until the test ends.
// With username set, every request needs HTTP basic authentication with
// username and password (an htpasswd file, bcrypt).
func Start(t testing.TB, username, password string) *Registry {
	t.Helper()
	r, err := New("127.0.0.1:0", t.TempDir(), username, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// New runs a registry on addr (which must be a loopback address) until
// Close; dir holds its htpasswd file when username is set.
func New(addr, dir, username, password string) (*Registry, error) {
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
			return nil, err
		}
		path := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(path, fmt.Appendf(nil, "%s:%s\n", username, hash), 0o600); err != nil {
			return nil, err
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "ocitest", "path": path}}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("ocitest: %s is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: handlers.NewApp(ctx, cfg), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return &Registry{
		Host: ln.Addr().String(), Username: username, Password: password,
		close: func() { _ = srv.Close(); <-done; cancel() },
	}, nil
}

// Close stops the registry.
func (r *Registry) Close() { r.close() }

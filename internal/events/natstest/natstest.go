// Package natstest starts a NATS server with JetStream in the test's
// process, on a loopback port with a temporary store, for the tests of
// event processing (no manual step, no external binary).
package natstest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs a JetStream-enabled server on 127.0.0.1 and returns its URL
// (nats://127.0.0.1:PORT). It is shut down when the test ends.
func Start(tb testing.TB) string {
	tb.Helper()
	url, stop, err := Run(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return url
}

// Run starts a JetStream-enabled server on 127.0.0.1 storing in dir and
// returns its URL and the function that shuts it down (for the benchmark,
// which is not a test).
func Run(dir string) (url string, stop func(), err error) {
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return "", nil, fmt.Errorf("nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return "", nil, errors.New("nats server not ready after 10s")
	}
	return s.ClientURL(), func() {
		s.Shutdown()
		s.WaitForShutdown()
	}, nil
}

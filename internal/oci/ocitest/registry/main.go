// Command registry runs ocitest's in-process OCI registry (distribution v3,
// in-memory storage) on loopback for the interoperability scripts: it
// prints "listening HOST:PORT" once it serves, then runs until SIGTERM or
// SIGINT. With -htpasswd-user, the password is read from
// $OCITEST_PASSWORD.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wasmward/wasmward/internal/oci/ocitest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	user := flag.String("htpasswd-user", "", "require this user (password: $OCITEST_PASSWORD)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "ocitest")
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	r, err := ocitest.New(*addr, dir, *user, os.Getenv("OCITEST_PASSWORD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", r.Host)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	r.Close()
}

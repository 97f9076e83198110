// Command wizerdiff prints where two modules' bytes differ, section by
// section (scripts/wizer-diff.sh uses it on a wasmward snapshot and a wizer
// one). Usage: go run ./scripts/wizerdiff A.wasm B.wasm. It exits 0 when the
// files are identical, 1 when they differ, 2 when one is unreadable.
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/wasmward/wasmward/internal/snapshot"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: wizerdiff A.wasm B.wasm")
		os.Exit(2)
	}
	a, err := os.ReadFile(os.Args[1])
	if err == nil {
		var b []byte
		if b, err = os.ReadFile(os.Args[2]); err == nil {
			os.Exit(report(a, b))
		}
	}
	fmt.Fprintln(os.Stderr, "wizerdiff:", err)
	os.Exit(2)
}

func report(a, b []byte) int {
	if bytes.Equal(a, b) {
		fmt.Printf("  identical (%d bytes)\n", len(a))
		return 0
	}
	diffs, err := snapshot.DiffSections(a, b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wizerdiff:", err)
		return 2
	}
	fmt.Printf("  bytes differ (%d vs %d):\n", len(a), len(b))
	for _, d := range diffs {
		fmt.Printf("    %s\n", d)
	}
	return 1
}

package sbom_test

import (
	"fmt"
	"log"
	"os"

	"github.com/wasmward/wasmward/sbom"
)

// This example reads what a Go (GOOS=wasip1) module says it was built from:
// its build info names the main module, its dependencies and the standard
// library, each with a purl that OSV advisories match.
func ExampleRead() {
	bin, err := os.ReadFile("../internal/fixture/wasm/sbom_dep.wasm")
	if err != nil {
		log.Fatal(err)
	}
	inv, err := sbom.Read("sbom_dep.wasm", bin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("built with", inv.GoVersion)
	for _, c := range inv.Components {
		fmt.Println(c.Kind, c.PURL)
	}
	// Output:
	// built with go1.26.8
	// main pkg:golang/example.com/sbom_dep
	// stdlib pkg:golang/stdlib@1.26.8
	// dependency pkg:golang/github.com/google/uuid@v1.6.0
}

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

// parsed is a module decoded by an embedder's own parser: Extract reads it
// through the Decoded interface, whose methods use only standard types.
type parsed struct {
	data [][]byte
}

func (p parsed) EachProducer(fn func(field, name, version string)) {
	fn("processed-by", "wasm-bindgen", "0.2.92 (2a4a49362)")
}
func (p parsed) EachCustom(fn func(name string, sectionOffset, contentOffset int, content []byte)) {}
func (p parsed) EachData(fn func(offset int, init []byte)) {
	off := 100
	for _, d := range p.data {
		fn(off, d)
		off += len(d)
	}
}
func (p parsed) EachImport(fn func(module, name string)) {}
func (p parsed) EachExport(fn func(name string))         {}

// This example identifies statically linked libraries from the evidence a
// module carries, in a module its caller has already decoded.
func ExampleExtract() {
	m := parsed{data: [][]byte{
		[]byte("\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00"),
		[]byte("/cargo/registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.108/src/de.rs\x00"),
	}}
	inv, err := sbom.Extract(m)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range inv.Components {
		e := c.Evidence[0]
		fmt.Printf("%s %s (%s, %s at %d)\n", c.PURL, c.Confidence, e.Rule, e.Location, e.Offset)
	}
	// Output:
	// pkg:cargo/serde_json@1.0.108 medium (cargo-registry-path, data at 156)
	// pkg:cargo/wasm-bindgen@0.2.92 high (wasm-bindgen-producers, producers at -1)
	// pkg:github/madler/zlib@1.2.13 high (zlib-inflate-banner, data at 102)
}

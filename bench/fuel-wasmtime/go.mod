module github.com/wasmward/wasmward/bench/fuel-wasmtime

go 1.26.8

require (
	github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
	github.com/tetratelabs/wazero v1.12.0
	golang.org/x/sys v0.49.0
)

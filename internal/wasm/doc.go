// Package wasm decodes and encodes the WebAssembly binary format.
//
// It is the only place in wasmward that parses the bytes of a module. The
// decoder works over the caller's []byte without copying payloads: every
// slice it returns (section payloads, function bodies, data segment bytes,
// custom section data) aliases the input, so the input must not be modified
// while the results are in use.
//
// Three levels are offered:
//
//   - [Sections] splits a binary (core module or component) into its raw
//     sections, each with its offset and exact bytes. It is what signing
//     (wasmsign2-compatible hashing) needs and costs one pass over the
//     section headers.
//   - [Decode] decodes a core module into a [Module]: every known section,
//     the name and producers custom sections, and a scan of every function
//     body that checks it decodes and records which proposals it uses
//     ([Features]). Components are recognised and refused with
//     [ErrComponent].
//   - [InstrReader] iterates the instructions of one expression (a function
//     body or a constant expression) lazily, without allocating per
//     instruction.
//
// [Encode] writes a [Module] back to bytes: known sections are re-emitted from
// the structs (so a caller can add imports, globals, exports or types, and
// replace function bodies), custom sections are copied raw except the name
// section, which is re-emitted from [Module.Names] when it decoded. The Append*
// helpers (LEB128, names, value types, instructions) build new bodies.
//
// Malformed input never panics: every error is an [*Error] carrying the byte
// offset in the input where decoding failed.
//
// The decoder checks structure (the binary grammar), not types: validation is
// left to the compiler (wazero's CompileModule).
package wasm

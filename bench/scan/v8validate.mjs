// Validates a WebAssembly module with V8 (WebAssembly.validate: every
// function body is type-checked, nothing is compiled) and exits 0 when it
// is valid, 1 when it is not. bench/scan/corpus.sh times it next to
// `wasmward scan` and `wasm-validate`.
//
//   node bench/scan/v8validate.mjs FILE
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node v8validate.mjs FILE");
  process.exit(2);
}
if (!WebAssembly.validate(readFileSync(file))) {
  console.error(`${file}: V8 rejects the module`);
  process.exit(1);
}

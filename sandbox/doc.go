// Package sandbox runs untrusted WebAssembly (WASI preview1 command modules or
// exported functions) under a policy.Policy with wazero.
//
// A Runtime is created once per process (or per policy class); Compile checks
// a module against its policy before the compiler sees it (imports, declared
// memory), instruments it for fuel, call depth and the deadline, and compiles
// it once; Module.Run then instantiates a fresh instance per invocation and
// reports what it did. Every run has a memory cap per instance, a deadline
// that stops every shape of code, output caps and, when the policy sets one,
// a fuel budget. A guest's trap, crash or violation never takes the host down:
// it is a Report, not an error.
//
// See docs/sandbox.md for the design and its costs.
package sandbox

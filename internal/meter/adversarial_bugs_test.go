//go:build bugs

// Adversarial meter tests that fail today (see the security review report).
// Run with `go test -tags bugs ./internal/meter -run TestAdvBug`.
// None at present: TestAdvBugInstrumentQuadraticInNesting was fixed and
// moved to adversarial_test.go (TestAdvInstrumentLinearInNesting).
package meter

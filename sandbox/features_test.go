package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// TestRunsWasm3Proposals: run enables the proposals wazero implements and
// the meter supports (internal/engine.RunCoreFeatures): a module using tail
// calls, exnref exceptions, typed function references and extended
// constants runs, metered, and returns the right result.
func TestRunsWasm3Proposals(t *testing.T) {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Compile(ctx, fixture.Bytes(t, "sb_wasm3"), policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	rep, err := m.Run(ctx, sandbox.Invocation{Function: "run", Params: []uint64{1000}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != sandbox.OutcomeExit || len(rep.Results) != 1 || rep.Results[0] != 1000+2000+42 {
		t.Fatalf("outcome %s, results %v, violation %+v, trap %q", rep.Outcome, rep.Results, rep.Violation, rep.Trap)
	}
}

// TestRefusesUnsupportedProposals: a module using a proposal run does not
// execute is refused before instrumentation with a message naming it,
// the same words scan uses (WW003).
func TestRefusesUnsupportedProposals(t *testing.T) {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for _, tc := range []struct{ fixture, detail string }{
		{"w3_gc", "not supported by the runtime: gc (not implemented by wazero v1.12.0)"},
		{"w3_mem64", "not supported by the runtime: memory64, multi-memory (not implemented by wazero v1.12.0); threads (not enabled by wasmward run)"},
		{"w3_relaxed", "not supported by the runtime: relaxed-simd (not implemented by wazero v1.12.0)"},
		{"w3_exn_legacy", "not supported by the runtime: legacy-exceptions (not implemented by wazero v1.12.0)"},
		{"scan_threads", "not supported by the runtime: threads (not enabled by wasmward run)"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			m, err := rt.Compile(ctx, fixture.Bytes(t, tc.fixture), policy.Default())
			if err == nil {
				_ = m.Close(ctx)
				t.Fatal("compiled")
			}
			var ref *sandbox.Refusal
			if !errors.As(err, &ref) || ref.Violation.Kind != sandbox.KindInvalidModule || !strings.Contains(ref.Violation.Detail, tc.detail) {
				t.Fatalf("error = %v, want a refusal saying %q", err, tc.detail)
			}
		})
	}
}

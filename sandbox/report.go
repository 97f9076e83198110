package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/wasmward/wasmward/internal/atomicfile"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/netcap"
)

// Outcome is how a run ended, the Report.Outcome field. Its JSON and text
// form is the lowercase word of the constant ("exit", "trap", ...).
type Outcome string

// Outcomes of a run.
const (
	// OutcomeExit: the guest returned from _start or the invoked function, or
	// called proc_exit. Report.ExitCode holds its status (0 on return).
	OutcomeExit Outcome = "exit"
	// OutcomeTrap: the guest trapped (unreachable, out-of-bounds access,
	// division by zero, ...). Report.Trap holds the message.
	OutcomeTrap Outcome = "trap"
	// OutcomeViolation: wasmward stopped the guest for a limit. Report.Violation
	// says which.
	OutcomeViolation Outcome = "violation"
	// OutcomeRefused: the module was refused before it ran. Report.Violation
	// says why.
	OutcomeRefused Outcome = "refused"
)

// Kind is what a violation was about, the Violation.Kind field. Its JSON and
// text form is the snake_case word of the constant ("memory_limit", ...).
type Kind string

// Violation kinds.
const (
	KindMemoryLimit      Kind = "memory_limit"
	KindTimeout          Kind = "timeout"
	KindOutputLimit      Kind = "output_limit"
	KindFuelExhausted    Kind = "fuel_exhausted"
	KindStackLimit       Kind = "stack_limit"
	KindImportDenied     Kind = "import_denied"
	KindInvalidModule    Kind = "invalid_module"
	KindCapabilityDenied Kind = "capability_denied"
	// KindSignature is used by the trust layer when a signature check refuses a module.
	KindSignature Kind = "signature"
	// KindQuota: the run's Invocation.Quota (a tenant's fuel per second)
	// gave out before the run's own fuel limit did, or its
	// Invocation.Outbound (a tenant's outbound bytes) could not pay for a
	// network request or response body.
	KindQuota Kind = "quota"
)

// Violation is why a guest was stopped or a module refused.
type Violation struct {
	// Kind is one of the Kind constants.
	Kind Kind `json:"kind"`
	// Detail is one line for humans, naming the limit or the import.
	Detail string `json:"detail"`
}

// Error formats the violation as "kind: detail".
func (v *Violation) Error() string {
	if v.Detail == "" {
		return string(v.Kind)
	}
	return string(v.Kind) + ": " + v.Detail
}

// Refusal is the error Compile returns when the module is refused before it
// runs: invalid bytes, a disallowed import, a declared memory above the cap.
// Use errors.As to find it.
type Refusal struct {
	Violation Violation
	err       error // the cause, if any (context.DeadlineExceeded for a compile timeout)
}

// Error formats the refusal as "module refused: kind: detail".
func (r *Refusal) Error() string { return "module refused: " + r.Violation.Error() }

// Unwrap returns the cause of the refusal, if any: context.DeadlineExceeded
// when Compile's context ended before compilation did.
func (r *Refusal) Unwrap() error { return r.err }

// Report is what one run did. Its JSON form is what `wasmward run --report`
// writes and what the gateway logs.
type Report struct {
	// Module is the name the module was run under (Invocation.Name).
	Module string `json:"module"`
	// SHA256 is the lowercase hex SHA-256 of the original module bytes.
	SHA256 string `json:"sha256"`
	// Outcome is one of the Outcome constants.
	Outcome Outcome `json:"outcome"`
	// ExitCode is the guest's exit status when Outcome is OutcomeExit.
	ExitCode int `json:"exit_code"`
	// Violation is set when Outcome is OutcomeViolation or OutcomeRefused.
	Violation *Violation `json:"violation"`
	// DurationMS is the wall-clock time of instantiation plus invocation.
	DurationMS float64 `json:"duration_ms"`
	// PeakMemoryBytes is the largest size the instance's linear memory reached.
	PeakMemoryBytes uint64 `json:"peak_memory_bytes"`
	// HostCalls counts calls per imported host function, keyed "module.name",
	// for example "wasi_snapshot_preview1.fd_write".
	HostCalls map[string]uint64 `json:"host_calls"`
	// Network is what the guest did through the network capability: counts
	// per destination host and every refused attempt with its reason
	// (docs/network.md). Absent when it made no attempt.
	Network *NetworkReport `json:"network,omitempty"`
	// StdoutBytes and StderrBytes count what the guest wrote that was
	// delivered (never more than the output cap).
	StdoutBytes uint64 `json:"stdout_bytes"`
	StderrBytes uint64 `json:"stderr_bytes"`
	// FuelUsed is the fuel the guest consumed (see docs/metering.md).
	FuelUsed uint64 `json:"fuel_used"`
	// Results are the invoked function's results in wazero's api encoding
	// (a v128 takes two slots, low half first), except references: a
	// non-null one is its opaque number (1, 2, ... by distinct value), not
	// a host pointer. FormatResults prints them by type.
	Results []uint64 `json:"results,omitempty"`
	// Abandoned is true when Run gave up waiting for the guest (a timeout
	// violation the watchdog reported, see Module.Run): the guest may still
	// be running, but it no longer reaches the Invocation's streams.
	Abandoned bool `json:"abandoned,omitempty"`
	// Background is true when the run moved to the background
	// (Config.WithBackgroundCPU): it finished on a thread of the idle CPU
	// scheduling policy.
	Background bool `json:"background,omitempty"`
	// Trap is the trap message when Outcome is OutcomeTrap. It may reveal
	// internals of the module: never send it to HTTP clients.
	Trap string `json:"trap,omitempty"`
}

// NetworkReport is Report.Network: requests, bytes, per-host counts and
// denials (reasons not_allowed, private_address, redirect, budget). It
// names hosts, never URLs, paths or queries.
type NetworkReport = netcap.Report

// Invocation is one call of a compiled module.
type Invocation struct {
	// Args are argv after argv[0], appended after the policy's args.
	Args []string
	// Name is argv[0] and Report.Module; "module.wasm" when empty.
	Name string
	// Env are extra "K=V" pairs on top of the policy's env (the gateway's CGI
	// variables). Later pairs override earlier ones with the same key.
	Env []string
	// Stdin overrides the policy's stdin when not nil (the gateway's request body).
	Stdin io.Reader
	// Stdout receives the guest's stdout, capped at the policy's output limit:
	// past it the guest is stopped with an output_limit violation. nil discards.
	Stdout io.Writer
	// Stderr receives the guest's stderr under the same cap. nil discards.
	Stderr io.Writer
	// Function is an export to call instead of _start (--invoke).
	Function string
	// Params are its arguments, in wazero's api encoding.
	Params []uint64
	// Deadline, when not zero, ends the run like a deadline of ctx would
	// (a timeout violation, "the caller's deadline passed"), without the
	// cost of a context.WithDeadline per run.
	Deadline time.Time
	// NonBlocking promises that Stdin, Stdout and Stderr never block
	// (in-memory buffers, as the gateway's are). Run then runs the guest on
	// the calling goroutine instead of handing it to a worker guarded by a
	// watchdog, and saves the hand-off; a stream that blocks anyway holds
	// Run until it returns. nil streams, *bytes.Buffer, *bytes.Reader,
	// *strings.Reader, *strings.Builder and io.Discard are recognised
	// without it.
	NonBlocking bool
	// Coverage, when not nil and the module was compiled with coverage
	// (Config.WithCoverage), receives the run's coverage counters.
	Coverage *Coverage
	// Timing, when not nil, receives how long the run's phases took.
	Timing *Timing
	// Quota, when not nil, is a pool of fuel the run draws from as it goes
	// (a tenant's fuel per second) on top of the policy's limits.fuel: a
	// run that finds it empty is stopped with a KindQuota violation, and
	// what it took but did not consume is returned at the end.
	Quota FuelQuota
	// Outbound, when not nil, is a pool of bytes the run's network
	// requests and response bodies draw from (a tenant's outbound bytes
	// per second), on top of the policy's limits.network: a request is
	// sent only once the pool has paid for all its bytes, a response body
	// is delivered only as far as the pool pays. A run that finds it
	// unable to pay is stopped with a KindQuota violation; the request it
	// could not pay for is never sent.
	Outbound FuelQuota
}

// FuelQuota is a pool of fuel (Invocation.Quota) or of bytes
// (Invocation.Outbound) shared by runs.
type FuelQuota interface {
	// Take takes up to n units and returns how many it took; 0 means the
	// pool is empty.
	Take(n int64) int64
	// Return gives back n units taken but not consumed.
	Return(n int64)
}

// Timing is how long the phases of one run took (Invocation.Timing).
type Timing struct {
	// Instantiate is the time to set up the instance (memory, globals,
	// WASI), from the start of the run.
	Instantiate time.Duration
	// Call is the time of the guest's call (_initialize and the export, or
	// _start), 0 when instantiation failed.
	Call time.Duration
}

// WriteFile writes the report as indented JSON to path atomically: through a
// temporary file in the same directory that is synced and renamed over path,
// so a reader sees the previous file or the whole report, never a part.
func (r *Report) WriteFile(path string) (err error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// SHA256Hex returns the lowercase hex SHA-256 of b, the form of Report.SHA256.
func SHA256Hex(b []byte) string {
	return digest.SHA256Hex(b)
}

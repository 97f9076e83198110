// Command wasmward runs untrusted WebAssembly under a policy, verifies and
// scans modules, and serves them as isolated HTTP handlers.
//
// This package holds flag parsing and wiring only: every decision lives in a
// package that tests reach without the CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/hostio"
	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/internal/version"
)

// The main goroutine keeps the process's first thread to itself, so no
// other goroutine ever runs there. A sandbox run that moves to the
// background ends its thread with it (sandbox.Config.WithBackgroundCPU), and
// Go cannot end the first thread: a run found there stays in the
// foreground.
func init() { runtime.LockOSThread() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The standard streams are bounded writers: `run` sets a deadline on
	// them so that a pipe nobody drains cannot hold the process past it.
	code := execute(ctx, os.Args[1:], os.Stdin, hostio.New(os.Stdout, "stdout"), hostio.New(os.Stderr, "stderr"))
	stop()
	os.Exit(code)
}

// Exit statuses shared by the commands.
const (
	exitOK       = 0
	exitFailure  = 1   // the command ran and found what it was asked to fail on
	exitUsage    = 2   // bad flags or arguments, unreadable input
	exitRefused  = 126 // the module was refused before it ran
	exitTrap     = 134 // the guest trapped
	exitViolated = 137 // wasmward stopped the guest for a limit
)

// exitError carries an exit status and the one line printed for it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode returns an error that makes the process exit with code, printing
// err (when not nil) as one line.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageErr formats a usage error (exit 2).
func usageErr(format string, args ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, args...))
}

// streams are the process's standard streams, passed down so tests can drive
// commands in-process.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func newRoot(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "wasmward",
		Short:         "Run untrusted WebAssembly in production, safely",
		Version:       version.Read().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })
	root.AddCommand(
		newRunCmd(s),
		newInspectCmd(s),
		newScanCmd(s),
		newBenchCmd(s),
		newFuzzCmd(s),
		newCheckCmd(s),
		newSBOMCmd(s),
		newKeygenCmd(s),
		newSignCmd(s),
		newVerifyCmd(s),
		newAttestCmd(s),
		newSnapshotCmd(s),
		newServeCmd(s),
		newEventsCmd(s),
		newDeployCmd(s),
		newRollbackCmd(s),
		newStatusCmd(s),
		newAuditCmd(s),
		newVersionCmd(s),
		newPushCmd(s),
		newPullCmd(s),
		newStoreCmd(s),
		newAlertsCmd(s),
		newQuarantineCmd(s),
	)
	applyConventions(root)
	return root
}

// execute runs the CLI and returns the process exit status. Errors are
// printed as one line prefixed with "wasmward: "; never a stack trace.
func execute(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(errw, "wasmward: internal error: %s\n", safetext.OneLine(fmt.Sprint(r)))
			code = exitFailure
		}
	}()
	root := newRoot(streams{in: in, out: out, err: errw})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(errw, "wasmward: %v\n", safetext.OneLine(ee.err.Error()))
		}
		return ee.code
	}
	// cobra's own errors (unknown command, bad args) are usage errors.
	fmt.Fprintf(errw, "wasmward: %v\n", safetext.OneLine(err.Error()))
	return exitUsage
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// closeDeadline is the deadline of the close variant: generous, so that it is
// armed but never fires.
const closeDeadline = 10 * time.Minute

// wazeroVariant runs modules on wazero's compiler as a Go host typically
// does, with or without WithCloseOnContextDone.
type wazeroVariant struct {
	closeOnDone bool
}

func newWazero(_ context.Context, closeOnDone bool) (variant, error) {
	return &wazeroVariant{closeOnDone: closeOnDone}, nil
}

func (v *wazeroVariant) name() string {
	if v.closeOnDone {
		return "close"
	}
	return "plain"
}

func (v *wazeroVariant) close(context.Context) error { return nil }

func (v *wazeroVariant) compile(ctx context.Context, bin []byte) (runner, error) {
	cfg := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(v.closeOnDone)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &wazeroRunner{rt: rt, cm: cm, deadline: v.closeOnDone}, nil
}

type wazeroRunner struct {
	rt       wazero.Runtime
	cm       wazero.CompiledModule
	deadline bool
}

func (r *wazeroRunner) run(ctx context.Context, args []string, stdout io.Writer) error {
	if r.deadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, closeDeadline)
		defer cancel()
	}
	return runCommand(ctx, r.rt, r.cm, args, stdout)
}

// runCommand instantiates cm as a WASI command (running _start) and returns an
// error unless it exits with code 0.
func runCommand(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, args []string, stdout io.Writer) error {
	var stderr limitedBuffer
	mc := wazero.NewModuleConfig().WithName("").WithArgs(append([]string{"bench"}, args...)...).
		WithStdout(stdout).WithStderr(&stderr)
	mod, err := rt.InstantiateModule(ctx, cm, mc)
	if mod != nil {
		defer mod.Close(ctx)
	}
	if err = exitOK(err); err != nil && stderr.Len() > 0 {
		err = fmt.Errorf("%w (stderr: %q)", err, stderr.String())
	}
	return err
}

// exitOK maps a WASI exit with code 0 to nil.
func exitOK(err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		return nil
	}
	return err
}

func (r *wazeroRunner) fuel() uint64 { return 0 }

func (r *wazeroRunner) close(ctx context.Context) error { return r.rt.Close(ctx) }

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) Len() int       { return len(l.b) }
func (l *limitedBuffer) String() string { return string(l.b) }

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/events"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
	"github.com/wasmward/wasmward/scan"
	"github.com/wasmward/wasmward/trust"
)

type eventsFlags struct {
	policyFile, source, sink, deadLetter, kv string
	trust                                    trustFlags
	name, sig, bundle                        string
	scanFailOn                               string
}

func newEventsCmd(s streams) *cobra.Command {
	var f eventsFlags
	cmd := &cobra.Command{
		Use:   "events MODULE --source SRC --sink SINK --dead-letter SINK [flags]",
		Short: "Feed a stream of events through a module",
		Long: `Feed a stream of events through an event processor (a module exporting
memory, alloc and process_event; see docs/events.md) under a policy: the
policy's fuel and timeout bound each event, its memory cap each instance;
events.* bound what an event emits and how long an instance lives.

Sources: ndjson:FILE, ndjson:- (one event per line) and
nats://HOST[:PORT]/STREAM?consumer=NAME[&subject=S][&batch=N][&ack_wait=D]
(a durable JetStream pull consumer; run several workers on one consumer to
share a stream). Sinks: ndjson:FILE, ndjson:- and nats://HOST[:PORT]/SUBJECT.
An event that traps, violates a limit or is rejected goes to the dead-letter
sink with its reason; a stream event is acknowledged only once its outputs
are published (with publish acks) or it is dead-lettered.

With --trust FILE the module's signatures are verified against the trust
policy (and with --state its version against the versions accepted before)
before anything else reads it: a refused module is not compiled and no event
is consumed. Attested modules are not supported (events has no
--attestation; a trust policy with require_attestation refuses every
module). --scan-fail-on refuses a module with a scan finding at or above a
severity (default critical, like serve's scan_fail_on; off disables it),
also before it is compiled.

Exit status: 0 when a finite source ends or on SIGINT/SIGTERM; 126 when the
module is refused; 2 for usage errors; 1 when a sink, the source or the
key-value store keeps failing (unacknowledged events are redelivered).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), cmd.Flags(), s, &f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policyFile, "policy", "", "policy file (YAML)")
	fl.StringVar(&f.source, "source", "", "where events come from: ndjson:FILE|- or nats://HOST/STREAM?consumer=NAME")
	fl.StringVar(&f.sink, "sink", "", "where outputs go: ndjson:FILE|- or nats://HOST/SUBJECT")
	fl.StringVar(&f.deadLetter, "dead-letter", "", "where failed events go, with their reason (same forms as --sink)")
	fl.StringVar(&f.kv, "kv", "", "NATS server of the policy's key-value bucket, nats://HOST (default: the source's or the sink's)")
	f.trust.registerSignatures(fl)
	fl.StringVar(&f.name, "name", "", "module name for the trust policy and the version state, where the policy allows caller names and the module carries no signed name (default: file base name without .wasm)")
	fl.StringVar(&f.sig, "sig", "", "detached cosign signature of the module (default MODULE.sig when the trust policy accepts cosign signatures)")
	fl.StringVar(&f.bundle, "bundle", "", "Sigstore bundle of the module (default MODULE.bundle when the trust policy accepts cosign signatures)")
	fl.StringVar(&f.scanFailOn, "scan-fail-on", gateway.DefaultScanFailOn, "refuse a module with a scan finding at or above this severity: info, low, medium, high, critical or off")
	return cmd
}

func runEvents(ctx context.Context, fl *pflag.FlagSet, s streams, f *eventsFlags, path string) error {
	specs := events.Specs{Source: f.source, Sink: f.sink, DeadLetter: f.deadLetter, KV: f.kv, Stdin: s.in, Stdout: s.out}
	if err := events.CheckSpecs(specs); err != nil {
		return withCode(exitUsage, err)
	}
	if err := f.trust.check(fl, "name", "sig", "bundle"); err != nil {
		return err
	}
	failOn := scan.Severity(-1)
	if f.scanFailOn != "off" {
		sev, err := scan.ParseSeverity(f.scanFailOn)
		if err != nil {
			return usageErr("--scan-fail-on: %q is not off, info, low, medium, high or critical", f.scanFailOn)
		}
		failOn = sev
	}
	pol := policy.Default()
	if f.policyFile != "" {
		var err error
		if pol, err = policy.Load(f.policyFile); err != nil {
			return withCode(exitUsage, err)
		}
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("read module: %w", err))
	}
	// The gates come first: a module they refuse is neither parsed for its
	// ABI nor compiled, and the source is not opened.
	if f.trust.policy != "" {
		g, err := f.trust.open()
		if err != nil {
			return err
		}
		m, err := g.ReadMaterial(bin, f.name, trust.Files{Module: path, Signature: f.sig, Bundle: f.bundle})
		if err != nil {
			return withCode(exitUsage, err)
		}
		if _, err := admitModule(ctx, g, m, func(u string) { fmt.Fprintf(s.err, "wasmward: warning: the bundle carries %s\n", u) }); err != nil {
			var r *sandbox.Refusal
			if errors.As(err, &r) {
				return withCode(exitRefused, r)
			}
			return err
		}
	}
	if failOn >= 0 {
		if err := events.ScanGate(ctx, path, bin, pol, failOn, "--scan-fail-on"); err != nil {
			return withCode(exitRefused, err)
		}
	}
	if err := events.CheckABI(bin); err != nil {
		return withCode(exitRefused, fmt.Errorf("module refused: %w", err))
	}
	rt, err := sandbox.New(ctx, events.HostFunctions(sandbox.NewConfig()))
	if err != nil {
		return withCode(exitFailure, err)
	}
	defer closeBounded(rt.Close)
	mod, err := rt.Compile(ctx, bin, pol)
	if err != nil {
		var r *sandbox.Refusal
		if errors.As(err, &r) {
			return withCode(exitRefused, r)
		}
		return withCode(exitFailure, err)
	}
	defer closeBounded(mod.Close)
	// The ack wait outlasts an event's deadline and the host's retries.
	ack := max(30*time.Second, 2*pol.Limits.Timeout.Std()+10*time.Second)
	ep, err := events.Open(ctx, specs, pol, ack)
	if err != nil {
		return withCode(exitFailure, err)
	}
	defer ep.Close()
	proc, err := events.NewProcessor(bin, mod, filepath.Base(path), ep.KV)
	if err != nil {
		return withCode(exitRefused, err)
	}
	defer proc.Close(context.WithoutCancel(ctx))
	loop := events.Loop{Processor: proc, Source: ep.Source, Sink: ep.Sink, DeadLetter: ep.DeadLetter,
		MaxDeliver: pol.Events.MaxDeliver, Retries: 5, Backoff: 100 * time.Millisecond, Log: s.err}
	st, err := loop.Run(ctx)
	fmt.Fprintf(s.err, "wasmward events: %d events, %d outputs, %d dead-lettered, %d instances replaced\n",
		st.Events, st.Outputs, st.DeadLettered, st.Replaced)
	if err != nil {
		return withCode(exitFailure, err)
	}
	if err := ep.Close(); err != nil {
		return withCode(exitFailure, err)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmward/wasmward/internal/events"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

type eventsFlags struct {
	policyFile, source, sink, deadLetter, kv string
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

Exit status: 0 when a finite source ends or on SIGINT/SIGTERM; 126 when the
module is refused; 2 for usage errors; 1 when a sink, the source or the
key-value store keeps failing (unacknowledged events are redelivered).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), s, &f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policyFile, "policy", "", "policy file (YAML)")
	fl.StringVar(&f.source, "source", "", "where events come from: ndjson:FILE|- or nats://HOST/STREAM?consumer=NAME")
	fl.StringVar(&f.sink, "sink", "", "where outputs go: ndjson:FILE|- or nats://HOST/SUBJECT")
	fl.StringVar(&f.deadLetter, "dead-letter", "", "where failed events go, with their reason (same forms as --sink)")
	fl.StringVar(&f.kv, "kv", "", "NATS server of the policy's key-value bucket, nats://HOST (default: the source's or the sink's)")
	return cmd
}

func runEvents(ctx context.Context, s streams, f *eventsFlags, path string) error {
	specs := events.Specs{Source: f.source, Sink: f.sink, DeadLetter: f.deadLetter, KV: f.kv, Stdin: s.in, Stdout: s.out}
	if err := events.CheckSpecs(specs); err != nil {
		return withCode(exitUsage, err)
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

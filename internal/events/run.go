package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Delivery is one event from a source.
type Delivery struct {
	// Data is the event's bytes; valid until the next Next.
	Data []byte
	// Subject is the stream subject the event was published on ("" for
	// NDJSON).
	Subject string
	// ID names the event in dead letters and logs: "FILE:LINE" or
	// "STREAM:SEQ".
	ID string
	// Attempts is how many times the event was delivered, this time
	// included.
	Attempts int
	// Refused, when set, is why the source refuses the event itself (an
	// NDJSON line over the size bound): it goes to the dead-letter sink
	// with this reason, unprocessed, and Data holds only its beginning.
	Refused string
	msg     any // the source's handle
	// dedup, when set, prefixes the Nats-Msg-Id of the event's outputs:
	// stream, consumer and sequence, unique per event and pipeline.
	dedup string
}

// Source delivers events in order.
type Source interface {
	// Next blocks for the next event; io.EOF ends a finite source.
	Next(ctx context.Context) (*Delivery, error)
	// Ack records that d's outputs are published or d is dead-lettered.
	Ack(ctx context.Context, d *Delivery) error
	// InProgress tells the source d is still being worked on.
	InProgress(d *Delivery)
	Close() error
}

// Sink receives outputs and dead letters. Publish and DeadLetter return
// once what they were given is stored (for JetStream: acknowledged by the
// stream).
type Sink interface {
	Publish(ctx context.Context, d *Delivery, msgs []Message) error
	DeadLetter(ctx context.Context, d *Delivery, reason string) error
	Close() error
}

// Stats count what Run did.
type Stats struct {
	Events       uint64 `json:"events"`
	Outputs      uint64 `json:"outputs"`
	DeadLettered uint64 `json:"dead_lettered"`
	Replaced     uint64 `json:"instances_replaced"`
}

// Loop is the delivery loop of one worker.
type Loop struct {
	Processor  *Processor
	Source     Source
	Sink       Sink
	DeadLetter Sink
	// MaxDeliver: an event delivered more often goes to the dead-letter
	// sink unprocessed (it keeps failing where no dead letter is written,
	// for example by killing its worker).
	MaxDeliver int
	// Retries and Backoff bound how often a failure of the host (a sink or
	// the key-value store that does not answer) is retried for one event
	// before Run gives up with the error; the event stays unacknowledged.
	Retries int
	Backoff time.Duration
	// Log receives one line per host failure; nil discards.
	Log io.Writer
	// Observe, when set, is given each event's time from its delivery to
	// its acknowledgement.
	Observe func(time.Duration)
}

// Run processes events until the source ends (nil), ctx is done (nil) or
// the host keeps failing (the error). Each event is acknowledged only after
// its outputs are published or it is dead-lettered; events are processed
// one at a time, in the source's order.
func (l *Loop) Run(ctx context.Context) (st Stats, err error) {
	var res Result
	defer func() { st.Replaced = l.Processor.Replaced() }()
	for {
		d, err := l.Source.Next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			return st, nil
		case ctx.Err() != nil:
			return st, nil
		case err != nil:
			return st, err
		}
		st.Events++
		received := time.Now()
		reason := ""
		if d.Refused != "" {
			reason = d.Refused
		} else if l.MaxDeliver > 0 && d.Attempts > l.MaxDeliver {
			reason = fmt.Sprintf("delivered %d times without completing (events.max_deliver is %d)", d.Attempts, l.MaxDeliver)
		} else {
			err = l.retry(ctx, d, "process", func() error { return l.Processor.Process(ctx, d.Data, &res) })
			if err != nil {
				return st, err
			}
			reason = res.Reason
			if ctx.Err() != nil {
				// Stopped by the caller, not by its own doing: left
				// unacknowledged for redelivery, never dead-lettered.
				return st, nil
			}
		}
		if reason == "" && len(res.Outputs) > 0 {
			err = l.retry(ctx, d, "publish", func() error { return l.Sink.Publish(ctx, d, res.Outputs) })
			if errors.Is(err, ErrUnpublishable) {
				reason, err = err.Error(), nil
			} else {
				st.Outputs += uint64(len(res.Outputs))
			}
		}
		if reason != "" && err == nil {
			err = l.retry(ctx, d, "dead-letter", func() error { return l.DeadLetter.DeadLetter(ctx, d, reason) })
			st.DeadLettered++
		}
		if err != nil {
			return st, err
		}
		if err := l.Source.Ack(ctx, d); err != nil {
			return st, fmt.Errorf("ack %s: %w", d.ID, err)
		}
		if l.Observe != nil {
			l.Observe(time.Since(received))
		}
	}
}

// retry runs f until it succeeds, l.Retries retries fail or ctx is done.
func (l *Loop) retry(ctx context.Context, d *Delivery, what string, f func() error) error {
	backoff := l.Backoff
	for i := 0; ; i++ {
		err := f()
		if err == nil {
			return nil
		}
		if i >= l.Retries || ctx.Err() != nil || errors.Is(err, ErrUnpublishable) {
			return fmt.Errorf("%s %s: %w", what, d.ID, err)
		}
		if l.Log != nil {
			fmt.Fprintf(l.Log, "wasmward events: %s %s: %v (retrying in %s)\n", what, d.ID, err, backoff)
		}
		l.Source.InProgress(d)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", what, d.ID, err)
		}
		backoff *= 2
	}
}

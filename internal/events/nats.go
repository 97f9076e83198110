package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of the messages wasmward publishes.
const (
	// HeaderReason is a dead letter's reason.
	HeaderReason = "Wasmward-Reason"
	// HeaderSource names the event a message came from ("STREAM:SEQ").
	HeaderSource = "Wasmward-Source"
	// HeaderSubject is a dead letter's original subject.
	HeaderSubject = "Wasmward-Subject"
	// HeaderAttempts is how often a dead letter's event was delivered.
	HeaderAttempts = "Wasmward-Attempts"
	// HeaderTruncated is the original length of a dead letter's event when
	// only its first truncatedBytes are kept (see natsSink.DeadLetter).
	HeaderTruncated = "Wasmward-Truncated"
)

// ErrUnpublishable is wrapped by a sink's error for outputs the sink can
// never store (larger than the server's max_payload): the Loop dead-letters
// the event with it instead of retrying, which would fail the same way
// until the worker gave up and every other worker after it.
var ErrUnpublishable = errors.New("unpublishable output")

// truncatedBytes is how much of an event a dead letter keeps when the
// whole would not fit the server's max_payload (as for an oversized NDJSON
// line).
const truncatedBytes = 4096

// msgSize is what a message counts against the server's max_payload: its
// data and its headers as the client encodes them ("NATS/1.0\r\n", a
// "Key: value\r\n" line per value, "\r\n").
func msgSize(m *nats.Msg) int {
	n := len(m.Data) + len("NATS/1.0\r\n\r\n")
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	return n
}

// natsSource is a durable pull consumer of a JetStream stream.
type natsSource struct {
	stream, consumer string
	it               jetstream.MessagesContext
}

func openNATSSource(ctx context.Context, js jetstream.JetStream, u *natsURL, ackWait time.Duration) (*natsSource, error) {
	st, err := js.Stream(ctx, u.stream)
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", u.stream, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:   u.consumer,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   ackWait,
		// Redeliveries are counted by the worker, which dead-letters an
		// event past events.max_deliver: a server-side limit would leave
		// it unacknowledged and undelivered, silently.
		MaxDeliver:    -1,
		FilterSubject: u.subject,
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer %q of stream %q: %w", u.consumer, u.stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(u.batch))
	if err != nil {
		return nil, fmt.Errorf("consume %q: %w", u.consumer, err)
	}
	return &natsSource{stream: u.stream, consumer: u.consumer, it: it}, nil
}

func (s *natsSource) Next(ctx context.Context) (*Delivery, error) {
	for {
		m, err := s.it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil, fmt.Errorf("stream %q: %w", s.stream, err)
			}
			return nil, fmt.Errorf("stream %q: %w", s.stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			// Not a JetStream message: nothing to ack it with.
			continue
		}
		seq := strconv.FormatUint(md.Sequence.Stream, 10)
		return &Delivery{Data: m.Data(), Subject: m.Subject(), ID: s.stream + ":" + seq,
			Attempts: int(md.NumDelivered), msg: m, dedup: s.stream + "/" + s.consumer + "/" + seq}, nil
	}
}

func (s *natsSource) Ack(_ context.Context, d *Delivery) error {
	return d.msg.(jetstream.Msg).Ack()
}

func (s *natsSource) InProgress(d *Delivery) { _ = d.msg.(jetstream.Msg).InProgress() }

func (s *natsSource) Close() error { s.it.Stop(); return nil }

// natsSink publishes to JetStream and waits for the publish acks.
type natsSink struct {
	js      jetstream.JetStream
	subject string
	futs    []jetstream.PubAckFuture
}

func (s *natsSink) Publish(ctx context.Context, d *Delivery, msgs []Message) error {
	s.futs = s.futs[:0]
	out := make([]*nats.Msg, len(msgs))
	limit := s.js.Conn().MaxPayload()
	for i := range msgs {
		subj := msgs[i].Subject
		if subj == "" {
			subj = s.subject
		}
		m := &nats.Msg{Subject: subj, Data: msgs[i].Data, Header: nats.Header{}}
		m.Header.Set(HeaderSource, d.ID)
		if d.dedup != "" {
			// A redelivered event's outputs are dropped by the stream's
			// duplicate window instead of stored twice.
			m.Header.Set(jetstream.MsgIDHeader, d.dedup+"/"+strconv.Itoa(i))
		}
		// Checked for all before any is published: an event is
		// dead-lettered whole, not half published.
		if n := msgSize(m); limit > 0 && int64(n) > limit {
			return fmt.Errorf("%w: output %d to %s is %d bytes with its headers, above the server's max_payload of %d", ErrUnpublishable, i+1, subj, n, limit)
		}
		out[i] = m
	}
	for _, m := range out {
		f, err := s.js.PublishMsgAsync(m)
		if errors.Is(err, nats.ErrMaxPayload) {
			err = fmt.Errorf("%w: %w", ErrUnpublishable, err)
		}
		if err != nil {
			return fmt.Errorf("publish to %s: %w", m.Subject, err)
		}
		s.futs = append(s.futs, f)
	}
	return waitAcks(ctx, s.futs)
}

func waitAcks(ctx context.Context, futs []jetstream.PubAckFuture) error {
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish to %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *natsSink) DeadLetter(ctx context.Context, d *Delivery, reason string) error {
	m := &nats.Msg{Subject: s.subject, Data: d.Data, Header: nats.Header{}}
	m.Header.Set(HeaderReason, reason)
	m.Header.Set(HeaderSource, d.ID)
	m.Header.Set(HeaderAttempts, strconv.Itoa(d.Attempts))
	if d.Subject != "" {
		m.Header.Set(HeaderSubject, d.Subject)
	}
	if d.dedup != "" {
		m.Header.Set(jetstream.MsgIDHeader, d.dedup+"/dead")
	}
	// An event that fit the source's max_payload may not, with these
	// headers, fit the dead-letter subject's: a dead letter that can never
	// be stored would leave the event unacknowledged forever, killing every
	// worker it reaches. It keeps its beginning instead.
	if limit := s.js.Conn().MaxPayload(); limit > 0 && int64(msgSize(m)) > limit && len(m.Data) > truncatedBytes {
		m.Header.Set(HeaderTruncated, strconv.Itoa(len(m.Data)))
		m.Data = m.Data[:truncatedBytes]
	}
	f, err := s.js.PublishMsgAsync(m)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", s.subject, err)
	}
	return waitAcks(ctx, []jetstream.PubAckFuture{f})
}

func (s *natsSink) Close() error { return nil }

// natsKV is a JetStream key-value bucket.
type natsKV struct{ kv jetstream.KeyValue }

func (k natsKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	e, err := k.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return e.Value(), true, nil
}

// Put stores value; a value the server can never take (above its
// max_payload) is ErrUnpublishable.
func (k natsKV) Put(ctx context.Context, key string, value []byte) error {
	_, err := k.kv.Put(ctx, key, value)
	if errors.Is(err, nats.ErrMaxPayload) {
		return fmt.Errorf("%w: %w", ErrUnpublishable, err)
	}
	return err
}

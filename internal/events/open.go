package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmward/wasmward/policy"
)

// Endpoints are a worker's source, sinks and key-value store, opened from
// their specs.
type Endpoints struct {
	Source     Source
	Sink       Sink
	DeadLetter Sink
	// KV is nil unless the policy grants events.kv.
	KV    KV
	conns map[string]*nats.Conn
	js    map[string]jetstream.JetStream
}

// Specs name a worker's endpoints (docs/events.md):
//
//	source:      ndjson:FILE | ndjson:- | nats://HOST[:PORT]/STREAM?consumer=NAME[&subject=S][&batch=N][&ack_wait=D]
//	sink:        ndjson:FILE | ndjson:- | nats://HOST[:PORT]/SUBJECT
//	dead-letter: same forms as sink
type Specs struct {
	Source, Sink, DeadLetter string
	// KV is the NATS server of the key-value bucket, nats://HOST[:PORT];
	// empty: the source's or the sink's server.
	KV string
	// Stdin and Stdout back "ndjson:-".
	Stdin  io.Reader
	Stdout io.Writer
}

type natsURL struct {
	server   string // nats://[user[:pass]@]host:port
	host     string // for messages: never the credentials
	stream   string
	subject  string
	consumer string
	batch    int
	ackWait  time.Duration
}

// parseNATS parses nats://HOST[:PORT]/PATH?QUERY. source selects the
// source's form (PATH is a stream, consumer= required).
func parseNATS(spec string, source bool) (*natsURL, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Scheme != "nats" || u.Host == "" {
		return nil, fmt.Errorf("%q is not nats://HOST[:PORT]/PATH", redact(spec))
	}
	n := &natsURL{host: u.Host, batch: 64}
	srv := *u
	srv.Path, srv.RawQuery, srv.RawPath = "", "", ""
	n.server = srv.String()
	path := strings.TrimPrefix(u.Path, "/")
	q := u.Query()
	if !source {
		if err := policy.CheckSubject(path, false); err != nil {
			return nil, fmt.Errorf("nats://%s/%s: %w", n.host, path, err)
		}
		if len(q) > 0 {
			return nil, fmt.Errorf("nats://%s/%s: a sink takes no query parameters", n.host, path)
		}
		n.subject = path
		return n, nil
	}
	if path == "" || strings.ContainsAny(path, "./*> \t") {
		return nil, fmt.Errorf("nats://%s/%s: want a stream name after the host", n.host, path)
	}
	n.stream = path
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "consumer":
			if v == "" || strings.ContainsAny(v, ".*> \t") {
				return nil, fmt.Errorf("nats://%s/%s: consumer %q is not a durable name", n.host, path, v)
			}
			n.consumer = v
		case "subject":
			if err := policy.CheckSubject(v, true); err != nil {
				return nil, fmt.Errorf("nats://%s/%s: subject: %w", n.host, path, err)
			}
			n.subject = v
		case "batch":
			b, err := strconv.Atoi(v)
			if err != nil || b < 1 || b > 4096 {
				return nil, fmt.Errorf("nats://%s/%s: batch %q is not 1..4096", n.host, path, v)
			}
			n.batch = b
		case "ack_wait":
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return nil, fmt.Errorf("nats://%s/%s: ack_wait %q is not a duration of at least 1s", n.host, path, v)
			}
			n.ackWait = d
		default:
			return nil, fmt.Errorf("nats://%s/%s: unknown parameter %q (consumer, subject, batch, ack_wait)", n.host, path, k)
		}
	}
	if n.consumer == "" {
		return nil, fmt.Errorf("nats://%s/%s: consumer=NAME is required (a durable consumer)", n.host, path)
	}
	return n, nil
}

// redact hides the credentials of a URL-like spec.
func redact(spec string) string {
	if u, err := url.Parse(spec); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return spec
}

// CheckSpecs parses the specs without connecting: the usage errors of the
// command line.
func CheckSpecs(s Specs) error {
	if _, err := parseSpec("--source", s.Source, true); err != nil {
		return err
	}
	if _, err := parseSpec("--sink", s.Sink, false); err != nil {
		return err
	}
	if _, err := parseSpec("--dead-letter", s.DeadLetter, false); err != nil {
		return err
	}
	if s.KV != "" {
		if u, err := url.Parse(s.KV); err != nil || u.Scheme != "nats" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("--kv: %q is not nats://HOST[:PORT]", redact(s.KV))
		}
	}
	return nil
}

type spec struct {
	file string // ndjson
	nats *natsURL
}

func parseSpec(flag, s string, source bool) (spec, error) {
	switch {
	case s == "":
		return spec{}, fmt.Errorf("%s is required", flag)
	case strings.HasPrefix(s, "ndjson:"):
		f := strings.TrimPrefix(s, "ndjson:")
		if f == "" {
			return spec{}, fmt.Errorf("%s: ndjson: needs a file or -", flag)
		}
		return spec{file: f}, nil
	case strings.HasPrefix(s, "nats://"):
		n, err := parseNATS(s, source)
		if err != nil {
			return spec{}, fmt.Errorf("%s: %w", flag, err)
		}
		return spec{nats: n}, nil
	}
	return spec{}, fmt.Errorf("%s: %q is neither ndjson:FILE, ndjson:- nor nats://HOST/PATH", flag, redact(s))
}

// Open connects the endpoints that s names. pol's events.kv, when set,
// opens (creating when missing) its bucket on the KV server. ackWait is the
// source consumer's ack wait when the spec sets none.
func Open(ctx context.Context, s Specs, pol policy.Policy, ackWait time.Duration) (_ *Endpoints, err error) {
	if err := CheckSpecs(s); err != nil {
		return nil, err
	}
	e := &Endpoints{conns: map[string]*nats.Conn{}, js: map[string]jetstream.JetStream{}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	src, _ := parseSpec("--source", s.Source, true)
	if src.nats != nil {
		js, err := e.jetstream(src.nats)
		if err != nil {
			return nil, err
		}
		if src.nats.ackWait == 0 {
			src.nats.ackWait = ackWait
		}
		if e.Source, err = openNATSSource(ctx, js, src.nats, src.nats.ackWait); err != nil {
			return nil, fmt.Errorf("--source: %w", err)
		}
	} else if e.Source, err = openNDJSONSource(src.file, s.Stdin); err != nil {
		return nil, err
	}
	var kvServer *natsURL
	if src.nats != nil {
		kvServer = src.nats
	}
	for i, sp := range []struct {
		flag, spec string
		dst        *Sink
	}{{"--sink", s.Sink, &e.Sink}, {"--dead-letter", s.DeadLetter, &e.DeadLetter}} {
		p, _ := parseSpec(sp.flag, sp.spec, false)
		if p.nats != nil {
			js, err := e.jetstream(p.nats)
			if err != nil {
				return nil, err
			}
			*sp.dst = &natsSink{js: js, subject: p.nats.subject}
			if kvServer == nil && i == 0 {
				kvServer = p.nats
			}
			continue
		}
		if i == 1 && p.file == "-" && strings.HasPrefix(s.Sink, "ndjson:-") {
			return nil, errors.New("--dead-letter: ndjson:- is the sink's already; name a file")
		}
		if *sp.dst, err = openNDJSONSink(p.file, s.Stdout); err != nil {
			return nil, fmt.Errorf("%s: %w", sp.flag, err)
		}
	}
	if g := pol.Events.KV; g != nil {
		if s.KV != "" {
			kvServer, _ = parseNATS(s.KV+"/kv", false)
		}
		if kvServer == nil {
			return nil, errors.New("the policy grants events.kv: name its NATS server with --kv nats://HOST (or use a nats:// source or sink)")
		}
		js, err := e.jetstream(kvServer)
		if err != nil {
			return nil, err
		}
		kv, err := js.KeyValue(ctx, g.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: g.Bucket})
		}
		if err != nil {
			return nil, fmt.Errorf("key-value bucket %q on %s: %w", g.Bucket, kvServer.host, err)
		}
		e.KV = natsKV{kv: kv}
	}
	return e, nil
}

func (e *Endpoints) jetstream(n *natsURL) (jetstream.JetStream, error) {
	if js, ok := e.js[n.server]; ok {
		return js, nil
	}
	nc, err := nats.Connect(n.server, nats.Name("wasmward events"), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(false))
	if err != nil {
		return nil, fmt.Errorf("connect to nats://%s: %w", n.host, err)
	}
	e.conns[n.server] = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream on nats://%s: %w", n.host, err)
	}
	e.js[n.server] = js
	return js, nil
}

// Close closes the endpoints: the sinks and the connections are flushed.
func (e *Endpoints) Close() error {
	var errs []error
	for _, c := range []io.Closer{closer(e.Source), closer(e.Sink), closer(e.DeadLetter)} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	for _, nc := range e.conns {
		// Acks are published asynchronously: flushed before the close.
		_ = nc.FlushTimeout(2 * time.Second)
		nc.Close()
	}
	return errors.Join(errs...)
}

func closer(v any) io.Closer {
	c, _ := v.(io.Closer)
	return c
}

package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// maxLine bounds one NDJSON event; keepOversized is how much of a longer
// line its dead letter carries.
const (
	maxLine       = 16 << 20
	keepOversized = 4 << 10
)

// ndjsonSource reads one event per line; blank lines are skipped.
type ndjsonSource struct {
	name string
	r    *bufio.Reader
	c    io.Closer
	line int
	buf  []byte
}

func openNDJSONSource(path string, stdin io.Reader) (*ndjsonSource, error) {
	if path == "-" {
		return &ndjsonSource{name: "stdin", r: bufio.NewReaderSize(stdin, 64<<10)}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	return &ndjsonSource{name: path, r: bufio.NewReaderSize(f, 64<<10), c: f}, nil
}

func (s *ndjsonSource) Next(ctx context.Context) (*Delivery, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.buf = s.buf[:0]
		over := false // the line is longer than maxLine: the rest is skipped
		for {
			chunk, err := s.r.ReadSlice('\n')
			if !over {
				s.buf = append(s.buf, chunk...)
				if len(s.buf) > maxLine {
					over = true
					s.buf = s.buf[:keepOversized]
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err == io.EOF && len(s.buf) == 0 {
				return nil, io.EOF
			}
			if err != nil && err != io.EOF {
				return nil, fmt.Errorf("read %s: %w", s.name, err)
			}
			break
		}
		s.line++
		id := s.name + ":" + strconv.Itoa(s.line)
		if over {
			// One oversized line must not stop the stream: it is
			// dead-lettered with its beginning, and reading goes on.
			return &Delivery{Data: s.buf, ID: id, Attempts: 1,
				Refused: fmt.Sprintf("event larger than %d bytes (the first %d kept)", maxLine, keepOversized)}, nil
		}
		line := bytes.TrimRight(s.buf, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return &Delivery{Data: line, ID: id, Attempts: 1}, nil
	}
}

func (s *ndjsonSource) Ack(context.Context, *Delivery) error { return nil }
func (s *ndjsonSource) InProgress(*Delivery)                 {}

func (s *ndjsonSource) Close() error {
	if s.c != nil {
		return s.c.Close()
	}
	return nil
}

// ndjsonSink writes one JSON object per line and flushes after every event.
type ndjsonSink struct {
	name string
	w    *bufio.Writer
	c    io.Closer
	line []byte
}

func openNDJSONSink(path string, stdout io.Writer) (*ndjsonSink, error) {
	if path == "-" {
		return &ndjsonSink{name: "stdout", w: bufio.NewWriterSize(stdout, 64<<10)}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open sink: %w", err)
	}
	return &ndjsonSink{name: path, w: bufio.NewWriterSize(f, 64<<10), c: f}, nil
}

// record is a line of an NDJSON sink: an output or a dead letter.
type record struct {
	Subject  string          `json:"subject,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Source   string          `json:"source,omitempty"`
	Attempts int             `json:"attempts,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Data64   string          `json:"data_base64,omitempty"`
}

func (r *record) setData(b []byte) {
	if json.Valid(b) {
		var c bytes.Buffer
		if json.Compact(&c, b) == nil {
			r.Data = c.Bytes()
			return
		}
	}
	r.Data64 = base64.StdEncoding.EncodeToString(b)
}

func (s *ndjsonSink) write(r *record) error {
	var err error
	s.line, err = appendJSON(s.line[:0], r)
	if err != nil {
		return err
	}
	_, err = s.w.Write(s.line)
	return err
}

func appendJSON(b []byte, v any) ([]byte, error) {
	enc, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("encode record: %w", err)
	}
	return append(append(b, enc...), '\n'), nil
}

func (s *ndjsonSink) Publish(_ context.Context, _ *Delivery, msgs []Message) error {
	for i := range msgs {
		r := record{Subject: msgs[i].Subject}
		r.setData(msgs[i].Data)
		if err := s.write(&r); err != nil {
			return err
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	return nil
}

func (s *ndjsonSink) DeadLetter(_ context.Context, d *Delivery, reason string) error {
	r := record{Subject: d.Subject, Reason: reason, Source: d.ID, Attempts: d.Attempts}
	r.setData(d.Data)
	if err := s.write(&r); err != nil {
		return err
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	return nil
}

func (s *ndjsonSink) Close() error {
	err := s.w.Flush()
	if s.c != nil {
		if cerr := s.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Package audit writes and verifies wasmward's audit log: an append-only
// JSON Lines file of security events (violations, traps, refused modules,
// bad guest responses, configuration loads) where every record carries the
// SHA-256 of the record before it.
//
// # The chain
//
// Each line of the file is one JSON object followed by "\n". Its first three
// members are, in this order:
//
//	"seq"  the record's number: 1 for the first line, then +1 per line;
//	"time" when it was written, RFC 3339 with nanoseconds, UTC;
//	"prev" the lowercase hex SHA-256 of the previous line's bytes, without
//	       its terminating "\n"; the first record has 64 "0" characters
//	       (Genesis).
//
// followed by the event's own members (see Event). Changing, inserting,
// removing or reordering any line breaks the "prev" or "seq" of the line
// after it, or that line's own JSON, and Verify reports the first such line.
//
// Removing lines from the end of the file leaves a shorter chain that is
// still intact: it is detectable only against an anchor kept elsewhere. The
// Log writes one after every flush to the sidecar file PATH.head (the seq and
// the hash of the last durable line, replaced atomically), and VerifyAnchor
// checks a file against it. An attacker who can rewrite the log can rewrite
// the sidecar too; for protection against that, ship the head (Log.Head) to
// another system, which is what the sidecar's format is for.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Genesis is the "prev" of the first record: 64 zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Event types written by wasmward.
const (
	TypeConfigLoaded  = "config_loaded"
	TypeModuleRefused = "module_refused"
	TypeViolation     = "violation"
	TypeTrap          = "trap"
	TypeBadResponse   = "bad_response"
	TypeHostError     = "host_error"
	TypeServerStart   = "server_start"
	TypeServerStop    = "server_stop"
)

// MaxDetail caps the Detail of one event, in bytes; longer details are cut
// and end in "...".
const MaxDetail = 4096

// Event is one security event. Empty fields are left out of the record.
type Event struct {
	// Type is one of the Type constants (or any short lowercase word).
	Type string `json:"type"`
	// Route is the gateway route, Module the module path, SHA256 its hash.
	Route  string `json:"route,omitempty"`
	Module string `json:"module,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// RequestID and Client identify the HTTP request, when there was one.
	RequestID string `json:"request_id,omitempty"`
	Client    string `json:"client,omitempty"`
	// Kind is the violation kind, or the kind of bad response.
	Kind string `json:"kind,omitempty"`
	// Detail is one line for humans (a trap message, a refusal reason).
	Detail string `json:"detail,omitempty"`
}

// record is the on-disk shape: chain members first, then the event.
type record struct {
	Seq  uint64 `json:"seq"`
	Time string `json:"time"`
	Prev string `json:"prev"`
	Event
}

// Head identifies the last durable record of a log.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Log appends events to an audit file. Append is safe for concurrent use;
// records are written and fsync'd by one goroutine in batches, so a burst of
// events costs one fsync per batch, not one per event.
type Log struct {
	path string
	f    *os.File
	now  func() time.Time

	mu      sync.Mutex // guards the fields below
	cond    *sync.Cond // signalled when the writer makes progress or on close
	queue   []Event
	closed  bool
	werr    error  // first write error; sticky
	seq     uint64 // seq of the last record formatted
	prev    string // hash of the last record formatted
	durable uint64 // seq of the last record fsync'd
	pending uint64 // seq of the last record queued (durable once written)
	head    Head   // last durable head

	done chan struct{}
}

// MaxQueue bounds the events waiting to be written; Append blocks when it is
// full, so a flood of events slows its producers instead of growing memory.
const MaxQueue = 8192

// Open opens (or creates) the audit log at path for appending and continues
// its chain. An existing file must end with a complete line: a partial last
// line (a crash mid-write, or tampering) is refused, not repaired, so that
// nothing is ever removed from an audit log. Open does not verify the whole
// chain; use Verify for that.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	seq, prev, err := lastRecord(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	l := &Log{
		path:    path,
		f:       f,
		now:     time.Now,
		seq:     seq,
		prev:    prev,
		durable: seq,
		pending: seq,
		head:    Head{Seq: seq, Hash: prev},
		done:    make(chan struct{}),
	}
	l.cond = sync.NewCond(&l.mu)
	go l.writer()
	return l, nil
}

// lastRecord reads f from the start and returns the seq and hash of its last
// line, or 0 and Genesis for an empty file.
func lastRecord(f *os.File) (uint64, string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, "", err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var last []byte
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if b[len(b)-1] != '\n' {
				return 0, "", fmt.Errorf("line %d: partial record at the end of the file (run `wasmward audit verify`, then start a new log)", line)
			}
			last = append(last[:0], b[:len(b)-1]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, "", err
		}
	}
	if last == nil {
		return 0, Genesis, nil
	}
	var r struct {
		Seq *uint64 `json:"seq"`
	}
	if err := json.Unmarshal(last, &r); err != nil || r.Seq == nil {
		return 0, "", fmt.Errorf("line %d: last record is not a wasmward audit record", line)
	}
	return *r.Seq, hashHex(last), nil
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Path returns the file the log writes.
func (l *Log) Path() string { return l.path }

// Append queues e to be written. It returns an error only when the log is
// closed or a previous write failed; the record is durable once Sync
// returns. Append blocks while MaxQueue events are waiting.
func (l *Log) Append(e Event) error {
	if len(e.Detail) > MaxDetail {
		e.Detail = e.Detail[:MaxDetail-3] + "..."
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.queue) >= MaxQueue && !l.closed && l.werr == nil {
		l.cond.Wait()
	}
	if l.closed {
		return errors.New("audit log is closed")
	}
	if l.werr != nil {
		return l.werr
	}
	l.queue = append(l.queue, e)
	l.pending++
	l.cond.Broadcast()
	return nil
}

// Sync waits until every event appended before it is written and fsync'd,
// or ctx is done.
func (l *Log) Sync(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	want := l.pending
	for l.durable < want && l.werr == nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sync audit log: %w", err)
		}
		l.cond.Wait()
	}
	return l.werr
}

// Head returns the seq and hash of the last record that is on disk.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Close writes and fsyncs every queued event, writes the head sidecar and
// closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
	<-l.done
	err := l.f.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.werr != nil {
		return l.werr
	}
	if err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	return nil
}

// writer formats, writes and fsyncs queued events in batches.
func (l *Log) writer() {
	defer close(l.done)
	var batch []Event
	var buf bytes.Buffer
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.closed {
			l.cond.Wait()
		}
		if len(l.queue) == 0 && l.closed {
			l.mu.Unlock()
			return
		}
		batch, l.queue = l.queue, batch[:0]
		seq, prev := l.seq, l.prev
		l.cond.Broadcast() // room in the queue
		l.mu.Unlock()

		buf.Reset()
		for _, e := range batch {
			seq++
			line, err := formatRecord(seq, l.now(), prev, e)
			if err != nil { // cannot happen for Event's string fields
				line, _ = formatRecord(seq, l.now(), prev, Event{Type: e.Type, Detail: "unencodable event"})
			}
			prev = hashHex(line)
			buf.Write(line)
			buf.WriteByte('\n')
		}
		err := writeAll(l.f, buf.Bytes())
		if err == nil {
			err = l.f.Sync()
		}
		if err == nil {
			err = writeHead(l.path+".head", Head{Seq: seq, Hash: prev})
		}
		l.mu.Lock()
		if err != nil && l.werr == nil {
			l.werr = fmt.Errorf("write audit log %s: %w", l.path, err)
		}
		if err == nil {
			l.seq, l.prev = seq, prev
			l.durable = seq
			l.head = Head{Seq: seq, Hash: prev}
		}
		l.cond.Broadcast()
		failed := l.werr != nil
		l.mu.Unlock()
		for i := range batch {
			batch[i] = Event{}
		}
		batch = batch[:0]
		if failed {
			// Stop writing: a gap would break the chain. Appends now fail.
			l.mu.Lock()
			l.queue = nil
			for !l.closed {
				l.cond.Wait()
			}
			l.mu.Unlock()
			return
		}
	}
}

func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// formatRecord returns the line (without "\n") of one record.
func formatRecord(seq uint64, t time.Time, prev string, e Event) ([]byte, error) {
	return json.Marshal(record{Seq: seq, Time: t.UTC().Format(time.RFC3339Nano), Prev: prev, Event: e})
}

// writeHead replaces the sidecar atomically: temp file, fsync, rename.
func writeHead(path string, h Head) error {
	b, _ := json.Marshal(h)
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	// Make the rename itself durable.
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		err = d.Sync()
		d.Close()
	}
	return err
}

// ReadHead reads a head sidecar written by Log.
func ReadHead(path string) (Head, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Head{}, fmt.Errorf("read audit head: %w", err)
	}
	var h Head
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || len(h.Hash) != 64 {
		return Head{}, fmt.Errorf("read audit head %s: not a head record", path)
	}
	return h, nil
}

// TamperError says where a log stops being intact.
type TamperError struct {
	// Line is the 1-based line number of the first line that does not verify.
	Line int
	// Reason says what is wrong with it.
	Reason string
}

func (e *TamperError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + e.Reason
}

// Summary describes an intact log.
type Summary struct {
	// Records is the number of lines.
	Records int
	// Head is the seq and hash of the last line (0 and Genesis when empty).
	Head Head
}

// Verify reads a whole log and checks its chain. It returns a *TamperError
// naming the first line that breaks it, or an error wrapping a read failure.
// An empty log is intact.
func Verify(r io.Reader) (Summary, error) { return verify(r, nil) }

// VerifyAnchor is Verify plus a check against a head recorded earlier (the
// PATH.head sidecar, or one shipped elsewhere). A log that ends before the
// anchor's record was truncated; one whose record at the anchor's seq has
// another hash was rewritten. Records after the anchor are accepted: the
// anchor may lag the log by the batch being written when it was read.
func VerifyAnchor(r io.Reader, anchor Head) (Summary, error) { return verify(r, &anchor) }

func verify(r io.Reader, anchor *Head) (Summary, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	prev := Genesis
	var seq uint64
	n := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			n++
			if b[len(b)-1] != '\n' {
				return Summary{}, &TamperError{Line: n, Reason: "partial record (no newline at the end)"}
			}
			line := b[:len(b)-1]
			if reason := checkLine(line, seq+1, prev); reason != "" {
				return Summary{}, &TamperError{Line: n, Reason: reason}
			}
			seq++
			prev = hashHex(line)
			if anchor != nil && seq == anchor.Seq && prev != anchor.Hash {
				return Summary{}, &TamperError{Line: n, Reason: fmt.Sprintf("record %d has hash %s, the anchor says %s", seq, short(prev), short(anchor.Hash))}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Summary{}, fmt.Errorf("read audit log: %w", err)
		}
	}
	if anchor != nil && seq < anchor.Seq {
		return Summary{}, &TamperError{Line: n + 1, Reason: fmt.Sprintf("log ends at record %d but the anchor names record %d: the tail was truncated", seq, anchor.Seq)}
	}
	return Summary{Records: n, Head: Head{Seq: seq, Hash: prev}}, nil
}

// checkLine returns why line is not record number seq following prev, or "".
func checkLine(line []byte, seq uint64, prev string) string {
	var r struct {
		Seq  *uint64 `json:"seq"`
		Time *string `json:"time"`
		Prev *string `json:"prev"`
		Type *string `json:"type"`
	}
	if !json.Valid(line) {
		return "not valid JSON"
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return "not an audit record: " + err.Error()
	}
	switch {
	case r.Seq == nil || r.Time == nil || r.Prev == nil || r.Type == nil:
		return "missing seq, time, prev or type"
	case *r.Prev != prev:
		return fmt.Sprintf("prev %s does not match the hash of the line before (%s): that line was changed, removed or inserted", short(*r.Prev), short(prev))
	case *r.Seq != seq:
		return fmt.Sprintf("seq %d, want %d", *r.Seq, seq)
	}
	if _, err := time.Parse(time.RFC3339Nano, *r.Time); err != nil {
		return fmt.Sprintf("time %q is not RFC 3339", *r.Time)
	}
	return ""
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "..."
	}
	return strings.ToValidUTF8(h, "?")
}

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
//	"seq"  the record's number: 1 for the first record, then +1 per record,
//	       continuing across rotated files;
//	"time" when it was written, RFC 3339 with nanoseconds, UTC;
//	"prev" the lowercase hex SHA-256 of the previous record's bytes, without
//	       its terminating "\n"; the first record has 64 "0" characters
//	       (Genesis). The first record of a rotated-to file names the last
//	       record of the file before it.
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
//
// # Failures, rotation, aggregation
//
// A record is written whole or not at all: a write or fsync that fails is
// undone by truncating the file back to the last complete record, and the
// batch is retried until the disk takes it. While it fails, Log.Available
// reports it (under FailClosed, callers stop admitting work that would
// produce events); events that do not fit in the queue meanwhile are lost,
// counted, and a records_lost record marks the gap when writing resumes. A
// log whose last line was cut (a crash mid-write) is repaired at Open: the
// partial line is removed and a log_repaired record says so.
//
// With Options.MaxSize or MaxAge the file is rotated: PATH is renamed to
// PATH.NNNNNNNNNNNNNNNNNNNN (the seq of its first record, 20 digits) and a
// new PATH starts with a log_continued record chained to the old file's
// last. Options.Keep bounds the rotated files kept; the oldest are removed
// after a log_pruned record naming them is durable, so that VerifyFiles can
// tell a pruned start from a deleted file. Options.AggregateWindow folds
// repeated identical request events (same type, route, client, kind,
// module and detail) within a window into one record with a count.
package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wasmward/wasmward/internal/atomicfile"
	"github.com/wasmward/wasmward/internal/digest"
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
	// TypeNetDenied is an outbound request the network capability refused;
	// Kind is the reason (not_allowed, private_address, redirect, budget).
	TypeNetDenied = "net_denied"
	// TypeCacheRejected is a compile cache entry that failed verification
	// and was deleted instead of loaded; SHA256 is the module's, Detail the
	// entry's path and what failed.
	TypeCacheRejected = "cache_rejected"
	// TypeQuota is a request a tenant's quota or the memory budget refused
	// (Kind is the reason: rate, fuel, instances, memory_budget, ...; see
	// docs/tenancy.md), or a run a tenant's fuel quota stopped.
	TypeQuota = "quota"

	// The log's own records.

	// TypeRecordsLost marks a gap: Count events were lost while the log
	// could not be written (FailOpen, or a full queue).
	TypeRecordsLost = "records_lost"
	// TypeLogRepaired says Open removed a partial last line (Detail says
	// how many bytes, SHA256 is their hash).
	TypeLogRepaired = "log_repaired"
	// TypeLogContinued is the first record of a file after rotation; File
	// names the file it continues.
	TypeLogContinued = "log_continued"
	// TypeLogPruned says the rotated file File, whose last record was
	// number Through with hash SHA256, was removed by retention.
	TypeLogPruned = "log_pruned"
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
	// Tenant is the tenant the request was admitted or refused as.
	Tenant string `json:"tenant,omitempty"`
	// RequestID and Client identify the HTTP request, when there was one.
	RequestID string `json:"request_id,omitempty"`
	Client    string `json:"client,omitempty"`
	// Kind is the violation kind, or the kind of bad response.
	Kind string `json:"kind,omitempty"`
	// Detail is one line for humans (a trap message, a refusal reason).
	Detail string `json:"detail,omitempty"`
	// Count is set on an aggregated record (how many more identical events
	// happened in the window, Since being the time of the first of them;
	// RequestID is the last one's) and on records_lost (how many were lost).
	Count uint64 `json:"count,omitempty"`
	Since string `json:"since,omitempty"`
	// File and Through describe log files in log_continued and log_pruned.
	File    string `json:"file,omitempty"`
	Through uint64 `json:"through,omitempty"`
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

// FailureMode says what a log's user does while the log cannot be written.
type FailureMode string

const (
	// FailClosed (the default): stop admitting work that would produce
	// events until the log is writable again (Available returns the error).
	FailClosed FailureMode = "fail_closed"
	// FailOpen: keep serving; events that cannot be queued are counted as
	// lost and a records_lost record marks the gap once writing resumes.
	FailOpen FailureMode = "fail_open"
)

// Options tune a Log. The zero value is a single file that grows without
// bound, fail-closed, with no aggregation.
type Options struct {
	// OnFailure is FailClosed ("" means FailClosed) or FailOpen.
	OnFailure FailureMode
	// MaxSize rotates the file before a write would take it past this many
	// bytes; 0 never rotates by size.
	MaxSize int64
	// MaxAge rotates the file at the first write after its first record is
	// this old; 0 never rotates by age.
	MaxAge time.Duration
	// Keep is how many rotated files are kept; older ones are removed. 0
	// keeps every file.
	Keep int
	// AggregateWindow folds repeated identical request events (violation,
	// trap, bad_response, host_error) within this window into one record
	// with a count. The first of a run is written at once. 0 writes every
	// event.
	AggregateWindow time.Duration
	// Logger receives a line when writing fails and when it resumes; nil
	// uses slog.Default().
	Logger *slog.Logger
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	switch {
	case o.OnFailure != "" && o.OnFailure != FailClosed && o.OnFailure != FailOpen:
		return fmt.Errorf("on_failure %q is not fail_closed or fail_open", o.OnFailure)
	case o.MaxSize < 0:
		return errors.New("max_size must not be negative")
	case o.MaxSize > 0 && o.MaxSize < MinMaxSize:
		return fmt.Errorf("max_size %d is below the minimum of %d bytes", o.MaxSize, MinMaxSize)
	case o.MaxAge < 0:
		return errors.New("max_age must not be negative")
	case o.Keep < 0:
		return errors.New("keep must not be negative")
	case o.AggregateWindow < 0:
		return errors.New("aggregate_window must not be negative")
	}
	return nil
}

// MinMaxSize is the smallest MaxSize accepted: a file must hold a few
// records, or rotation would do little else.
const MinMaxSize = 64 << 10

// Stats count what a Log did since Open.
type Stats struct {
	// Records is the number of records written.
	Records uint64
	// Lost is the number of events lost because the log could not be written.
	Lost uint64
	// WriteErrors is the number of failed write attempts.
	WriteErrors uint64
	// Rotations is the number of files rotated out.
	Rotations uint64
	// Aggregated is the number of events folded into aggregated records.
	Aggregated uint64
}

// file is what the Log needs of its open file; tests substitute failing ones.
type file interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Log appends events to an audit file. Append is safe for concurrent use;
// records are written and fsync'd by one goroutine in batches, so a burst of
// events costs one fsync per batch, not one per event.
type Log struct {
	path     string
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	open     func(path string) (file, error)
	retry    time.Duration
	maxQueue int

	// Owned by the writer goroutine once Open returns.
	f         file
	size      int64     // bytes of complete records in f
	dirty     bool      // a failed write may have left bytes after size
	fileFirst uint64    // seq of f's first record, 0 while f is empty
	fileTime  time.Time // time of f's first record
	continues string    // the rotated file f continues, until its first record is written
	prune     []string  // rotated files to remove once the batch naming them is durable

	mu      sync.Mutex // guards the fields below
	cond    *sync.Cond // signalled when the writer makes progress or on close
	queue   []Event
	closed  bool
	werr    error  // why the last write failed; nil while writing works
	seq     uint64 // seq of the last durable record
	prev    string // hash of the last durable record
	queued  uint64 // events accepted by Append
	written uint64 // of those, events durable (or given up on)
	lost    uint64 // events lost and not yet reported by a records_lost record
	head    Head
	stats   Stats
	aggs    map[aggKey]*agg

	closing chan struct{}
	done    chan struct{}
}

// MaxQueue bounds the events waiting to be written; Append blocks when it is
// full and the log is writing, so a flood of events slows its producers
// instead of growing memory. While the log cannot be written, Append does
// not block: an event that does not fit is lost and counted.
const MaxQueue = 8192

// Open opens (or creates) the audit log at path with the zero Options.
func Open(path string) (*Log, error) { return OpenOptions(path, Options{}) }

// OpenOptions opens (or creates) the audit log at path for appending and
// continues its chain, from the last rotated file when path is empty. A
// file whose last line was cut mid-write is repaired: a cut line that is a
// complete, chained record gets its "\n"; anything else is removed, and the
// first record written is a log_repaired naming the bytes removed. A last
// complete line that is not an audit record is refused. Open does not
// verify the whole chain; use VerifyFiles for that.
func OpenOptions(path string, opts Options) (*Log, error) {
	return openLog(path, opts, hooks{})
}

// hooks replace the file system, the clock and the retry interval in tests.
type hooks struct {
	open     func(path string) (file, error)
	now      func() time.Time
	retry    time.Duration
	maxQueue int
}

func openFile(p string) (file, error) {
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
}

func openLog(path string, opts Options, h hooks) (*Log, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	if opts.OnFailure == "" {
		opts.OnFailure = FailClosed
	}
	l := &Log{
		path:     path,
		opts:     opts,
		log:      opts.Logger,
		now:      h.now,
		open:     h.open,
		retry:    cmp.Or(h.retry, time.Second),
		maxQueue: cmp.Or(h.maxQueue, MaxQueue),
		aggs:     map[aggKey]*agg{},
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.open == nil {
		l.open = openFile
	}
	l.cond = sync.NewCond(&l.mu)
	if err := l.recover(); err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	f, err := l.open(path)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l.f = f
	l.head = Head{Seq: l.seq, Hash: l.prev}
	go l.writer()
	if opts.AggregateWindow > 0 {
		go l.flushAggregates()
	}
	return l, nil
}

// recover reads the file's tail state, repairing a partial last line.
func (l *Log) recover() error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := scanFile(f)
	if err != nil {
		return err
	}
	l.seq, l.prev, l.size = st.lastSeq, st.lastHash, st.good
	l.fileFirst, l.fileTime = st.firstSeq, st.firstTime
	if len(st.partial) > 0 {
		if checkLine(st.partial, st.lastSeq+1, st.lastHash) == "" {
			// The cut fell just before the "\n": the record is whole.
			if _, err := f.WriteAt([]byte{'\n'}, st.good+int64(len(st.partial))); err != nil {
				return fmt.Errorf("complete the last record: %w", err)
			}
			l.seq, l.prev = st.lastSeq+1, digest.SHA256Hex(st.partial)
			l.size = st.good + int64(len(st.partial)) + 1
			if l.fileFirst == 0 {
				l.fileFirst, l.fileTime = l.seq, l.now()
			}
		} else {
			if err := f.Truncate(st.good); err != nil {
				return fmt.Errorf("remove the partial last record: %w", err)
			}
			l.queue = append(l.queue, Event{Type: TypeLogRepaired, SHA256: digest.SHA256Hex(st.partial),
				Detail: fmt.Sprintf("removed a partial record of %d bytes at offset %d, left by an interrupted write", len(st.partial), st.good)})
			l.queued++
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if st.lastSeq == 0 && l.seq == 0 {
		// An empty file: continue the newest rotated file, if any (a crash
		// between rotating and writing the new file's first record).
		rot, err := rotatedFiles(l.path)
		if err != nil {
			return err
		}
		if len(rot) > 0 {
			last := rot[len(rot)-1]
			rf, err := os.Open(last.path)
			if err != nil {
				return err
			}
			rst, err := scanFile(rf)
			rf.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", last.path, err)
			}
			if len(rst.partial) > 0 {
				return fmt.Errorf("%s: line %d: partial record at the end of a rotated file", last.path, rst.lines+1)
			}
			l.seq, l.prev = rst.lastSeq, rst.lastHash
			l.continues = last.path
		}
	}
	return nil
}

// fileState is what scanFile learns about a log file.
type fileState struct {
	good      int64  // bytes of complete lines
	lines     int    // complete lines
	partial   []byte // bytes after the last "\n"
	firstSeq  uint64 // seq of the first record, 0 when there is none
	firstTime time.Time
	lastSeq   uint64 // seq of the last complete record, 0 when there is none
	lastHash  string // its hash, Genesis when there is none
}

// scanFile reads f from the start.
func scanFile(f io.ReadSeeker) (fileState, error) {
	st := fileState{lastHash: Genesis}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return st, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var last []byte
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			if b[len(b)-1] != '\n' {
				st.partial = b
				break
			}
			st.lines++
			st.good += int64(len(b))
			last = append(last[:0], b[:len(b)-1]...)
			if st.lines == 1 {
				var r struct {
					Seq  uint64 `json:"seq"`
					Time string `json:"time"`
				}
				if json.Unmarshal(last, &r) == nil {
					st.firstSeq = r.Seq
					st.firstTime, _ = time.Parse(time.RFC3339Nano, r.Time)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
	}
	if last == nil {
		return st, nil
	}
	var r struct {
		Seq *uint64 `json:"seq"`
	}
	if err := json.Unmarshal(last, &r); err != nil || r.Seq == nil {
		return st, fmt.Errorf("line %d: last record is not a wasmward audit record", st.lines)
	}
	st.lastSeq, st.lastHash = *r.Seq, digest.SHA256Hex(last)
	return st, nil
}

// Path returns the file the log writes.
func (l *Log) Path() string { return l.path }

// Available returns nil while events can be recorded under the log's
// FailureMode: always under FailOpen; under FailClosed only while writes
// succeed, else the write error. A gateway refuses requests (503) and
// reports not ready while it is non-nil.
func (l *Log) Available() error {
	if l.opts.OnFailure == FailOpen {
		return nil
	}
	return l.Err()
}

// Err returns nil while the log is being written, or why the last write
// failed (it is being retried).
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.werr
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log is closed")

// Append queues e to be written. The record is durable once Sync returns.
// Append blocks while MaxQueue events are waiting and the log is writing;
// while writes fail and the queue is full, the event is lost (counted, and
// marked by a records_lost record later) and Append returns an error saying
// so. It returns ErrClosed after Close.
func (l *Log) Append(e Event) error {
	if len(e.Detail) > MaxDetail {
		e.Detail = e.Detail[:MaxDetail-3] + "..."
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.aggregate(e) {
		return nil
	}
	for len(l.queue) >= l.maxQueue && !l.closed && l.werr == nil {
		l.cond.Wait()
	}
	if l.closed {
		return ErrClosed
	}
	if len(l.queue) >= l.maxQueue {
		l.lost++
		l.stats.Lost++
		return fmt.Errorf("audit event lost: %w", l.werr)
	}
	l.enqueue(e)
	return nil
}

func (l *Log) enqueue(e Event) {
	l.queue = append(l.queue, e)
	l.queued++
	l.cond.Broadcast()
}

// Sync waits until every event appended before it is written and fsync'd,
// or ctx is done. While writes fail it returns the write error at once.
func (l *Log) Sync(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushAllAggregates()
	want := l.queued
	for l.written < want && l.werr == nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sync audit log: %w", err)
		}
		l.cond.Wait()
	}
	if l.written < want {
		return fmt.Errorf("sync audit log: %w", l.werr)
	}
	return nil
}

// Head returns the seq and hash of the last record that is on disk.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Close writes and fsyncs every queued event (aggregates included), writes
// the head sidecar and closes the file. If writing fails, it is tried once
// more and the events still queued are lost; the error says so.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.flushAllAggregates()
	l.closed = true
	close(l.closing)
	l.cond.Broadcast()
	l.mu.Unlock()
	<-l.done
	var err error
	if l.f != nil {
		err = l.f.Close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.werr != nil {
		return fmt.Errorf("close audit log: %d events lost: %w", l.lost, l.werr)
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
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && l.lost == 0 && !l.closed {
			l.cond.Wait()
		}
		if len(l.queue) == 0 && l.lost == 0 && l.closed {
			l.mu.Unlock()
			return
		}
		batch, l.queue = l.queue, batch[:0]
		lost, seq, prev, closed := l.lost, l.seq, l.prev, l.closed
		l.cond.Broadcast() // room in the queue
		l.mu.Unlock()

		pre := 0
		if lost > 0 {
			batch = append([]Event{{Type: TypeRecordsLost, Count: lost,
				Detail: fmt.Sprintf("%d events were lost while the audit log could not be written", lost)}}, batch...)
			pre = 1
		}
		nseq, nprev, nrec, err := l.write(batch, seq, prev)

		l.mu.Lock()
		if err != nil {
			l.stats.WriteErrors++
			if l.werr == nil {
				l.log.Error("audit log write failed; retrying", "path", l.path, "err", err, "on_failure", string(l.opts.OnFailure))
			}
			l.werr = fmt.Errorf("write audit log %s: %w", l.path, err)
			// Keep the batch, in order, ahead of what came since.
			l.queue = append(batch[pre:len(batch):len(batch)], l.queue...)
			batch = nil
			if closed {
				n := uint64(len(l.queue))
				l.lost += n
				l.stats.Lost += n
				l.written += n
				l.queue = nil
				l.cond.Broadcast()
				l.mu.Unlock()
				return
			}
			l.cond.Broadcast()
			l.mu.Unlock()
			select {
			case <-time.After(l.retry):
			case <-l.closing:
			}
			continue
		}
		if l.werr != nil {
			l.log.Warn("audit log writing again", "path", l.path, "lost", lost)
			l.werr = nil
		}
		l.lost -= lost
		l.seq, l.prev = nseq, nprev
		l.head = Head{Seq: nseq, Hash: nprev}
		l.written += uint64(len(batch) - pre)
		l.stats.Records += nrec
		l.cond.Broadcast()
		l.mu.Unlock()
		clear(batch)
		batch = batch[:0]
	}
}

// write appends the records of batch (after a rotation, if one is due) as
// one write, fsyncs them and replaces the head sidecar. On failure the file
// is cut back to its last complete record and nothing is committed. It
// returns the new last seq and hash and the number of records written.
func (l *Log) write(batch []Event, seq uint64, prev string) (uint64, string, uint64, error) {
	if l.dirty {
		if err := l.f.Truncate(l.size); err != nil {
			return 0, "", 0, fmt.Errorf("cut back a failed write: %w", err)
		}
		l.dirty = false
	}
	if err := l.maybeRotate(batch); err != nil {
		return 0, "", 0, err
	}
	now := l.now()
	var events []Event
	if l.continues != "" {
		events = append(events, Event{Type: TypeLogContinued, File: filepath.Base(l.continues),
			Detail: fmt.Sprintf("continues %s, whose last record is %d", filepath.Base(l.continues), seq)})
	}
	prune, err := l.pruneEvents()
	if err != nil {
		return 0, "", 0, err
	}
	events = append(append(events, prune...), batch...)
	var buf bytes.Buffer
	first := seq + 1
	for _, e := range events {
		seq++
		line, err := formatRecord(seq, now, prev, e)
		if err != nil { // cannot happen for Event's fields
			line, _ = formatRecord(seq, now, prev, Event{Type: e.Type, Detail: "unencodable event"})
		}
		prev = digest.SHA256Hex(line)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	_, err = l.f.Write(buf.Bytes())
	if err == nil {
		err = l.f.Sync()
	}
	if err == nil {
		err = writeHead(l.path+".head", Head{Seq: seq, Hash: prev})
	}
	if err != nil {
		if terr := l.f.Truncate(l.size); terr != nil {
			l.dirty = true
		}
		return 0, "", 0, err
	}
	l.size += int64(buf.Len())
	if l.fileFirst == 0 {
		l.fileFirst, l.fileTime = first, now
	}
	l.continues = ""
	l.removePruned()
	return seq, prev, uint64(len(events)), nil
}

// formatRecord returns the line (without "\n") of one record.
func formatRecord(seq uint64, t time.Time, prev string, e Event) ([]byte, error) {
	return json.Marshal(record{Seq: seq, Time: t.UTC().Format(time.RFC3339Nano), Prev: prev, Event: e})
}

// writeHead replaces the sidecar atomically.
func writeHead(path string, h Head) error {
	b, _ := json.Marshal(h)
	return atomicfile.WriteContained(path, append(b, '\n'), 0o600)
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

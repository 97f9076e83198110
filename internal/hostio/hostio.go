// Package hostio bounds the time a process may spend writing to its own
// standard output and error. A pipe nobody drains, a stopped terminal or a
// full socket block a write forever; a command with a deadline must not
// wait on them past it.
package hostio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBlocked is wrapped by the error of a write that could not finish
// before the writer's deadline, and of every write after it: the write that
// blocked may still be in progress, so nothing more is written.
var ErrBlocked = errors.New("write blocked past the deadline")

// minWait is how long a write is given when the deadline has already
// passed, so that a last message still reaches a reader that is keeping up.
const minWait = 50 * time.Millisecond

// Writer writes to an underlying writer. Until SetDeadline is called it
// writes directly; after, a write that may block (the writer is not a
// regular file) is handed to a helper goroutine and abandoned when it has
// not finished by the deadline (at least 50 ms after it started). From then
// on the Writer is broken: every write fails with ErrBlocked at once. The
// abandoned write ends when the reader drains it or the process exits.
// Writer is safe for concurrent use; writes are never reordered.
type Writer struct {
	w        io.Writer
	name     string
	mayBlock bool

	deadline atomic.Int64 // unix nanoseconds; 0: none
	broken   atomic.Bool

	mu   sync.Mutex
	reqs chan []byte
	done chan result
}

type result struct {
	n   int
	err error
}

// New returns a Writer over w, named name in its errors ("stdout"). Writes
// to a regular file are never handed off (they do not block indefinitely);
// writes to anything else are bounded once a deadline is set.
func New(w io.Writer, name string) *Writer {
	mayBlock := true
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			mayBlock = false
		}
	}
	return &Writer{w: w, name: name, mayBlock: mayBlock}
}

// SetDeadline bounds every later write: one that has not finished by t (or
// 50 ms after it began, if later) fails with ErrBlocked and breaks the
// Writer. The zero time removes the bound.
func (w *Writer) SetDeadline(t time.Time) {
	if t.IsZero() {
		w.deadline.Store(0)
		return
	}
	w.deadline.Store(t.UnixNano())
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.broken.Load() {
		return 0, w.blocked()
	}
	d := w.deadline.Load()
	if d == 0 || !w.mayBlock {
		return w.w.Write(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken.Load() {
		return 0, w.blocked()
	}
	if w.reqs == nil {
		w.reqs, w.done = make(chan []byte), make(chan result, 1)
		go w.loop()
	}
	// The helper may still be writing p after Write returns (when it is
	// abandoned): give it a copy, so the caller may reuse p.
	w.reqs <- append([]byte(nil), p...)
	t := time.NewTimer(max(time.Until(time.Unix(0, d)), minWait))
	defer t.Stop()
	select {
	case r := <-w.done:
		return r.n, r.err
	case <-t.C:
		w.broken.Store(true)
		return 0, w.blocked()
	}
}

func (w *Writer) blocked() error {
	return fmt.Errorf("%s: %w", w.name, ErrBlocked)
}

// loop performs the handed-off writes in order.
func (w *Writer) loop() {
	for p := range w.reqs {
		n, err := w.w.Write(p)
		w.done <- result{n, err}
	}
}

package sandbox

import (
	"io"
	"os"
	"sync"
	"time"
)

// stdinPump returns the Runtime's pump over the host's stdin (Config.WithStdin),
// created on first use: one per Runtime, shared by every module that inherits
// stdin, so the host's input is read by one goroutine only.
func (r *Runtime) stdinPump() *pumpReader {
	r.stdinOnce.Do(func() {
		src := r.cfg.stdin
		if src == nil {
			src = os.Stdin
		}
		r.stdin = newPumpReader(src)
	})
	return r.stdin
}

// deadlineReader is the guest's stdin for one run. Reads from a pump never
// outlive the run's deadline; a plain source (the gateway's request body, a
// file) is read directly and must not block.
type deadlineReader struct {
	st   *runState
	src  io.Reader
	pump *pumpReader
}

// Read implements io.Reader for wazero's fd_read. It never touches the
// source once Run abandoned the run (see runState.enterIO).
func (r *deadlineReader) Read(p []byte) (int, error) {
	switch {
	case r.src != nil:
		r.st.enterIO()
		n, err := r.src.Read(p)
		r.st.exitIO()
		return n, err
	case r.pump != nil:
		// A timeout inside read unwinds the guest with io left busy: no
		// later read or write of this run follows.
		r.st.enterIO()
		n, err := r.pump.read(r.st, p)
		r.st.exitIO()
		return n, err
	}
	return 0, io.EOF
}

// pumpReader reads a blocking source (the host's stdin) on its own
// goroutine, so that a guest waiting for input can be stopped at its
// deadline. The goroutine lives until the source ends: at most one per
// module whose policy inherits stdin.
type pumpReader struct {
	src  io.Reader
	once sync.Once
	ch   chan chunk

	mu      sync.Mutex
	pending []byte
	err     error
}

type chunk struct {
	b   []byte
	err error
}

func newPumpReader(src io.Reader) *pumpReader {
	return &pumpReader{src: src, ch: make(chan chunk)}
}

func (p *pumpReader) run() {
	for {
		buf := make([]byte, 32<<10)
		n, err := p.src.Read(buf)
		p.ch <- chunk{buf[:n], err}
		if err != nil {
			return
		}
	}
}

func (p *pumpReader) read(st *runState, b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.pending) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		p.once.Do(func() { go p.run() })
		t := time.NewTimer(time.Until(st.deadline))
		select {
		case c := <-p.ch:
			t.Stop()
			p.pending, p.err = c.b, c.err
		case <-t.C:
			st.stopTimeout()
		case <-st.done:
			t.Stop()
			st.stopCanceled()
		}
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

// Package logbuf batches log lines into fewer writes: one write per request
// was about 5 % of a describe's CPU under load. A line reaches the
// underlying writer at most an interval after it was written (a timer armed
// by the first line of each batch, not a ticker, so an idle server does not
// wake), when the buffer would overflow, or on Flush and Close. A crash that
// runs no deferred code (kill -9) loses at most the last interval's lines.
//
// Each Write is taken whole: zerolog writes one line per call, so a line is
// never split across writes nor interleaved with another.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Timer is the part of *time.Timer a Writer uses; tests inject their own.
type Timer interface{ Stop() bool }

// AfterFunc calls f after d in its own goroutine, as time.AfterFunc.
type AfterFunc func(d time.Duration, f func()) Timer

func realAfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Writer buffers lines for out. It is safe for concurrent use.
type Writer struct {
	out       io.Writer
	interval  time.Duration
	size      int
	afterFunc AfterFunc

	mu     sync.Mutex
	buf    []byte
	timer  Timer // armed while buf holds lines
	err    error // of a write no caller saw (the timer's), returned by the next call
	closed bool
}

// New buffers up to size bytes for out, flushing each line within
// interval. afterFunc is nil for the real clock.
func New(out io.Writer, interval time.Duration, size int, afterFunc AfterFunc) *Writer {
	if afterFunc == nil {
		afterFunc = realAfterFunc
	}
	return &Writer{out: out, interval: interval, size: size, afterFunc: afterFunc, buf: make([]byte, 0, size)}
}

// Write takes p as one line. A line that does not fit behind the buffered
// ones flushes them first; one larger than the buffer goes out on its own.
// An error is that of a write made now or by the timer since the last call.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.size {
		w.flushLocked()
	}
	if len(p) > w.size {
		if _, err := w.out.Write(p); err != nil && w.err == nil {
			w.err = err
		}
	} else {
		if len(w.buf) == 0 {
			w.timer = w.afterFunc(w.interval, w.timerFlush)
		}
		w.buf = append(w.buf, p...)
	}
	err := w.err
	w.err = nil
	return len(p), err
}

// timerFlush runs when the first line of a batch has waited an interval.
func (w *Writer) timerFlush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

// flushLocked writes the buffered lines in one write and disarms the timer.
// A failed write drops them (the log must not grow without bound while the
// disk is full) and keeps the error for the next caller.
func (w *Writer) flushLocked() {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if len(w.buf) == 0 {
		return
	}
	if _, err := w.out.Write(w.buf); err != nil && w.err == nil {
		w.err = err
	}
	w.buf = w.buf[:0]
}

// Flush writes the buffered lines now.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushErrLocked()
}

// Close flushes; later lines go straight to out, so a goroutine that logs
// during shutdown still loses nothing. It does not close out.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.flushErrLocked()
}

// flushErrLocked flushes and returns the error no caller has seen yet.
func (w *Writer) flushErrLocked() error {
	w.flushLocked()
	err := w.err
	w.err = nil
	return err
}

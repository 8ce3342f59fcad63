package logbuf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write it is given, as a separate string.
type sink struct {
	mu     sync.Mutex
	writes []string
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

// clock is an injected AfterFunc: it records the timers armed, and a test
// fires them by hand.
type clock struct {
	timers []*timer
}

type timer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (t *timer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (c *clock) afterFunc(d time.Duration, f func()) Timer {
	t := &timer{d: d, f: f}
	c.timers = append(c.timers, t)
	return t
}

// armed is the timers neither fired nor stopped.
func (c *clock) armed() []*timer {
	var out []*timer
	for _, t := range c.timers {
		if !t.stopped {
			out = append(out, t)
		}
	}
	return out
}

func (c *clock) fire(t *testing.T) {
	t.Helper()
	armed := c.armed()
	if len(armed) != 1 {
		t.Fatalf("got %d armed timers, want 1", len(armed))
	}
	armed[0].stopped = true
	armed[0].f()
}

func write(t *testing.T, w *Writer, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if n, err := w.Write([]byte(l)); n != len(l) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", l, n, err, len(l))
		}
	}
}

func wantWrites(t *testing.T, s *sink, want ...string) {
	t.Helper()
	got := s.got()
	if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
		t.Fatalf("got writes %q, want %q", got, want)
	}
}

func TestFlushInterval(t *testing.T) {
	var s sink
	var c clock
	w := New(&s, 5*time.Millisecond, 1024, c.afterFunc)
	write(t, w, "a\n", "b\n")
	wantWrites(t, &s)
	if len(c.timers) != 1 || c.timers[0].d != 5*time.Millisecond {
		t.Fatalf("got %d timers (first %v), want one of 5ms for the batch", len(c.timers), c.timers[0].d)
	}
	c.fire(t)
	wantWrites(t, &s, "a\nb\n")
	// An empty buffer has no timer; the next line arms one.
	if n := len(c.armed()); n != 0 {
		t.Fatalf("got %d armed timers after the flush, want 0", n)
	}
	write(t, w, "c\n")
	c.fire(t)
	wantWrites(t, &s, "a\nb\n", "c\n")
}

func TestFlushWhenFull(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string // writes before Close
	}{
		{"fits exactly", []string{"aaaa\n", "bbbb\n"}, nil},
		{"one byte over", []string{"aaaa\n", "bbbb\n", "c\n"}, []string{"aaaa\nbbbb\n"}},
		{"line larger than the buffer goes alone, in order", []string{"aaaa\n", "0123456789x\n", "b\n"}, []string{"aaaa\n", "0123456789x\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sink
			var c clock
			w := New(&s, time.Second, 10, c.afterFunc)
			write(t, w, tc.lines...)
			wantWrites(t, &s, tc.want...)
			if n := len(c.armed()); n > 1 {
				t.Fatalf("got %d armed timers, want at most 1", n)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got, want := strings.Join(s.got(), ""), strings.Join(tc.lines, ""); got != want {
				t.Fatalf("after Close got %q, want %q", got, want)
			}
		})
	}
}

func TestClose(t *testing.T) {
	var s sink
	var c clock
	w := New(&s, time.Second, 1024, c.afterFunc)
	write(t, w, "a\n", "b\n")
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantWrites(t, &s, "a\nb\n")
	if n := len(c.armed()); n != 0 {
		t.Fatalf("got %d armed timers after Close, want 0", n)
	}
	// A line after Close is written at once.
	write(t, w, "late\n")
	wantWrites(t, &s, "a\nb\n", "late\n")
}

func TestWriteError(t *testing.T) {
	s := sink{err: errors.New("disk full")}
	var c clock
	w := New(&s, time.Second, 1024, c.afterFunc)
	write(t, w, "a\n")
	c.fire(t) // the timer's write fails; the next call reports it
	if _, err := w.Write([]byte("b\n")); err == nil {
		t.Fatal("Write after a failed timer flush: got nil error, want disk full")
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush of a failing writer: got nil error, want disk full")
	}
	s.mu.Lock()
	s.err = nil
	s.mu.Unlock()
	write(t, w, "c\n")
	if err := w.Close(); err != nil {
		t.Fatalf("Close after the disk recovered: %v", err)
	}
	wantWrites(t, &s, "c\n")
}

// TestConcurrentLines: under the real clock, with lines from many
// goroutines, every line arrives once and whole, and no write ends inside a
// line.
func TestConcurrentLines(t *testing.T) {
	var s sink
	w := New(&s, time.Millisecond, 256, nil)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				// Lengths vary so that lines straddle the buffer's end.
				line := fmt.Sprintf("g%d i%d %s\n", g, i, strings.Repeat("x", i%50))
				if _, err := w.Write([]byte(line)); err != nil {
					t.Errorf("Write: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	seen := map[string]int{}
	for _, wr := range s.got() {
		if !strings.HasSuffix(wr, "\n") {
			t.Fatalf("a write ends inside a line: %q", wr)
		}
		for _, l := range strings.SplitAfter(wr, "\n") {
			if l != "" {
				seen[l]++
			}
		}
	}
	for g := range writers {
		for i := range each {
			line := fmt.Sprintf("g%d i%d %s\n", g, i, strings.Repeat("x", i%50))
			if seen[line] != 1 {
				t.Fatalf("line %q arrived %d times, want 1", line, seen[line])
			}
			delete(seen, line)
		}
	}
	if len(seen) != 0 {
		t.Fatalf("got %d lines nobody wrote, e.g. %v", len(seen), seen)
	}
}

// BenchmarkAccessLine is one access line (its length in the server's log)
// appended to a file, straight or through a Writer: the write system call
// per request that the buffer saves.
func BenchmarkAccessLine(b *testing.B) {
	line := []byte(`{"level":"info","request_id":"0f8e5d2a-6c1b-4f3e-9a7d-2b4c6e8f0a1c","action":"DescribeInstances","status":200,"duration":0.412,"remote":"127.0.0.1:53422","method":"POST","user":"s250","time":"2026-12-03T22:40:00Z","message":"request"}` + "\n")
	for _, tc := range []struct {
		name     string
		buffered bool
	}{{"direct", false}, {"buffered", true}} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "econe-server.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var w io.Writer = f
			if tc.buffered {
				bw := New(f, 5*time.Millisecond, 64<<10, nil)
				defer bw.Close()
				w = bw
			}
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if _, err := w.Write(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

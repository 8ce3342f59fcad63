// Package audit is econe-server's audit log: who changed what, from where,
// and with what result. Records are JSON lines appended to files under
// their own directory (never the bbolt file, which does not shrink),
// fsync'd before the change they describe is made, and rotated by size.
//
// It fails closed, as Vault's audit does: a change whose request entry
// cannot be made durable is refused. The package knows nothing of HTTP,
// actions or the store; the server and the admin package call it.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Entry is one line of the log. A change writes two: a request entry
// before it runs and a result entry after, joined by RequestID.
type Entry struct {
	Time      time.Time `json:"time"`
	Phase     string    `json:"phase"` // PhaseRequest or PhaseResult
	RequestID string    `json:"request_id"`
	// User is the student's name, or "admin:<os user>" for admin commands.
	User        string   `json:"user"`
	AccessKeyID string   `json:"access_key_id,omitempty"`
	Source      string   `json:"source,omitempty"` // the client's address
	Action      string   `json:"action"`
	Resources   []string `json:"resources,omitempty"`
	// Result is "Success" or the error code (result entries only).
	Result string `json:"result,omitempty"`
	// Error is an admin command's failure (API calls have only the code).
	Error string `json:"error,omitempty"`
}

// The phases of an entry, and the result of a call that succeeded.
const (
	PhaseRequest = "request"
	PhaseResult  = "result"
	Success      = "Success"
)

// Options configure a Log. MaxFileBytes > 0 is where the current file is
// rotated; MaxFiles > 0 keeps that many rotated files (0: all of them).
type Options struct {
	Dir          string
	MaxFileBytes int64
	MaxFiles     int
	Clock        func() time.Time
	Log          zerolog.Logger
}

// The current file, and the rotated ones: audit-000001.log, ... in order.
const currentName = "audit.log"

var rotatedRE = regexp.MustCompile(`^audit-(\d+)\.log$`)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("audit: log closed")

// Log appends entries durably. Concurrent writers share fsyncs: the next
// write starts the moment the previous one ends, with every entry that
// arrived meanwhile (the store's group commit, store/groupcommit.go).
type Log struct {
	opt Options

	mu      sync.Mutex
	next    *batch // entries waiting for the next write
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	stopped sync.WaitGroup

	// Owned by the writer goroutine.
	f    *os.File
	size int64
	seq  int // highest rotated file number
}

type batch struct {
	buf   []byte
	async int // entries no one waits for (Enqueue)
	done  chan struct{}
	err   error
}

// Open opens (creating if need be) the log in o.Dir.
func Open(o Options) (*Log, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	rotated, err := rotatedFiles(o.Dir)
	if err != nil {
		return nil, err
	}
	l := &Log{opt: o, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if n := len(rotated); n > 0 {
		l.seq = rotated[n-1].seq
	}
	// Open now so that a misconfigured directory stops start-up rather
	// than the first change; a later failure is retried on each write.
	if err := l.open(); err != nil {
		return nil, err
	}
	l.stopped.Add(1)
	go l.loop()
	return l, nil
}

// Write appends e and returns once it is on disk (or why it is not).
func (l *Log) Write(e *Entry) error {
	b, err := l.queue(e, false)
	if err != nil {
		return err
	}
	<-b.done
	return b.err
}

// Enqueue appends e with the next write and returns at once: for result
// entries, whose change is durable already, so that a request waits for
// one audit fsync, not two. A failure is logged when the write fails.
func (l *Log) Enqueue(e *Entry) {
	if _, err := l.queue(e, true); err != nil {
		l.opt.Log.Error().Err(err).Str("request_id", e.RequestID).Str("action", e.Action).Str("result", e.Result).
			Msg("audit: the result entry of a completed change could not be written")
	}
}

func (l *Log) queue(e *Entry, async bool) (*batch, error) {
	if e.Time.IsZero() {
		e.Time = l.opt.Clock().UTC()
	}
	line, err := e.marshal()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if l.next == nil {
		l.next = &batch{done: make(chan struct{})}
	}
	b := l.next
	b.buf = append(b.buf, line...)
	if async {
		b.async++
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return b, nil
}

// marshal is e's line in the log.
func (e *Entry) marshal() ([]byte, error) {
	line, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return append(line, '\n'), nil
}

// Close writes what is queued and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.done)
	l.stopped.Wait()
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}

func (l *Log) loop() {
	defer l.stopped.Done()
	for {
		select {
		case <-l.wake:
		case <-l.done:
			l.drain()
			return
		}
		l.drain()
	}
}

func (l *Log) drain() {
	for {
		l.mu.Lock()
		b := l.next
		l.next = nil
		l.mu.Unlock()
		if b == nil {
			return
		}
		b.err = l.append(b.buf)
		if b.err != nil && b.async > 0 {
			l.opt.Log.Error().Err(b.err).Int("entries", b.async).
				Msg("audit: result entries of completed changes could not be written")
		}
		close(b.done)
	}
}

// append writes buf at the end of the current file and syncs it. A failed
// write is cut off again (a torn line would hide the entries after it) and
// the file reopened on the next write, so the log recovers with the disk.
func (l *Log) append(buf []byte) error {
	if l.f == nil {
		if err := l.open(); err != nil {
			return err
		}
	}
	if l.opt.MaxFileBytes > 0 && l.size > 0 && l.size+int64(len(buf)) > l.opt.MaxFileBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	_, err := l.f.Write(buf)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		_ = l.f.Truncate(l.size)
		l.f.Close()
		l.f = nil
		return fmt.Errorf("audit: write %s: %w", filepath.Join(l.opt.Dir, currentName), err)
	}
	l.size += int64(len(buf))
	return nil
}

func (l *Log) open() error {
	path := filepath.Join(l.opt.Dir, currentName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = syncDir(l.opt.Dir) // the new file's name is durable too
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// rotate renames the current file to the next number, opens a fresh one
// and drops the oldest rotated files beyond MaxFiles.
func (l *Log) rotate() error {
	l.f.Close()
	l.f = nil
	name := fmt.Sprintf("audit-%06d.log", l.seq+1)
	if err := os.Rename(filepath.Join(l.opt.Dir, currentName), filepath.Join(l.opt.Dir, name)); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	l.seq++
	if err := l.open(); err != nil {
		return err
	}
	if l.opt.MaxFiles <= 0 {
		return nil
	}
	rotated, err := rotatedFiles(l.opt.Dir)
	if err != nil {
		return err
	}
	for len(rotated) > l.opt.MaxFiles {
		if err := os.Remove(rotated[0].path); err != nil {
			l.opt.Log.Error().Err(err).Msg("audit: cannot remove an old rotated file")
			break
		}
		rotated = rotated[1:]
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type rotatedFile struct {
	path string
	seq  int
}

// rotatedFiles lists the rotated files of dir, oldest first.
func rotatedFiles(dir string) ([]rotatedFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []rotatedFile
	for _, e := range ents {
		if m := rotatedRE.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			out = append(out, rotatedFile{filepath.Join(dir, e.Name()), n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out, nil
}

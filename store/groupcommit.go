package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// groupCommit runs concurrent updates in shared transactions. bbolt's own
// Batch waits a fixed delay for company before committing; here the next
// commit starts the moment the previous one ends, with every update that
// arrived meanwhile. A lone writer pays one commit; a class launching at
// once pays roughly two commit times each, however many they are.
type groupCommit struct {
	db      *bolt.DB
	mu      sync.Mutex
	pending []*update
	wake    chan struct{} // one token: "pending is not empty"
	done    chan struct{}
	closed  bool // under mu: no more updates are taken
	once    sync.Once
	stopped sync.WaitGroup
	observe atomic.Pointer[CommitObserver]
}

// ErrClosed is returned by updates made after the store was closed.
var ErrClosed = errors.New("store: closed")

type update struct {
	fn     func(Tx) error
	wait   func() error // nil: commits as soon as fn succeeds
	result chan error
}

// panicError carries a panic out of the committer to the caller's
// goroutine, where the server's recovery turns it into InternalError.
type panicError struct{ value any }

func (p panicError) Error() string { return fmt.Sprintf("panic in update: %v", p.value) }

func newGroupCommit(db *bolt.DB) *groupCommit {
	g := &groupCommit{db: db, wake: make(chan struct{}, 1), done: make(chan struct{})}
	g.stopped.Add(1)
	go g.loop()
	return g
}

// Update queues fn for the next commit and waits for its outcome. A
// non-nil wait must return nil before fn's writes are committed.
func (g *groupCommit) Update(wait func() error, fn func(Tx) error) error {
	u := &update{fn: fn, wait: wait, result: make(chan error, 1)}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	g.pending = append(g.pending, u)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	err := <-u.result
	var p panicError
	if errors.As(err, &p) {
		panic(p.value)
	}
	return err
}

// close commits what is queued and stops the committer.
func (g *groupCommit) close() {
	g.once.Do(func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		close(g.done)
	})
	g.stopped.Wait()
}

func (g *groupCommit) loop() {
	defer g.stopped.Done()
	for {
		select {
		case <-g.wake:
		case <-g.done:
			g.drain()
			return
		}
		g.drain()
	}
}

func (g *groupCommit) drain() {
	for {
		g.mu.Lock()
		batch := g.pending
		g.pending = nil
		g.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		g.commit(batch)
	}
}

// errWaitFailed rolls back a batch in which an update's condition failed.
var errWaitFailed = errors.New("store: an update's commit condition failed")

// commit runs the batch in one transaction. If one update fails, the
// transaction is rolled back, the failing update is answered with its own
// error (from a transaction of its own, so a retry-safe fn sees exactly
// what it would have alone) and the others are committed without it.
// Every function runs before any condition is waited for, so that the
// conditions (the requests' audit entries) are met meanwhile; updates
// whose condition fails are answered with its error and left out.
func (g *groupCommit) commit(batch []*update) {
	for len(batch) > 0 {
		failed := -1
		var refused []error // by update, once a condition failed
		err := g.update(len(batch), func(tx *bolt.Tx) error {
			for i, u := range batch {
				if err := run(u.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			for i, u := range batch {
				if err := u.condition(); err != nil {
					if refused == nil {
						refused = make([]error, len(batch))
					}
					refused[i] = err
				}
			}
			if refused != nil {
				return errWaitFailed
			}
			return nil
		})
		switch {
		case refused != nil:
			kept := batch[:0:0]
			for i, u := range batch {
				if refused[i] != nil {
					u.result <- refused[i]
				} else {
					kept = append(kept, u)
				}
			}
			batch = kept
		case failed < 0:
			for _, u := range batch {
				u.result <- err // nil, or a commit failure every update shares
			}
			return
		default:
			solo := batch[failed]
			solo.result <- g.update(1, func(tx *bolt.Tx) error {
				if err := run(solo.fn, tx); err != nil {
					return err
				}
				return solo.condition()
			})
			batch = append(batch[:failed:failed], batch[failed+1:]...)
		}
	}
}

// condition waits for the update's commit condition, if it has one.
func (u *update) condition() error {
	if u.wait == nil {
		return nil
	}
	return u.wait()
}

// update runs one write transaction of n updates and tells the observer.
func (g *groupCommit) update(n int, fn func(*bolt.Tx) error) error {
	obs := g.observe.Load()
	if obs == nil || *obs == nil {
		return g.db.Update(fn)
	}
	start := time.Now()
	err := g.db.Update(fn)
	(*obs)(n, time.Since(start), err)
	return err
}

func run(fn func(Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError{p}
		}
	}()
	return fn(&boltTx{tx: tx})
}

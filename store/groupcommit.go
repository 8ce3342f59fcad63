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
	pools   fullPoolMemo // the updates' launch pool memo (fullPools)
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
		batch := g.take()
		if len(batch) == 0 {
			return
		}
		g.commit(batch)
	}
}

// take empties pending.
func (g *groupCommit) take() []*update {
	g.mu.Lock()
	defer g.mu.Unlock()
	batch := g.pending
	g.pending = nil
	return batch
}

// errWaitFailed rolls back a batch in which an update's condition failed.
var errWaitFailed = errors.New("store: an update's commit condition failed")

// lateRounds is how many times a transaction takes in the updates that
// queued while its functions ran and its conditions were waited for. A
// launch waits for its audit entry's fsync in the batch; without this, the
// requests that came meanwhile (the closed loop's answered clients coming
// back together) waited for the whole commit and made the next batch,
// while a lone early one paid a commit of its own: at c=32 a third of the
// commits carried one update. Each round adds at most its functions and
// its own conditions (entries already being written) to the batch's wait.
const lateRounds = 1

// commit runs the batch in one transaction. If one update fails, the
// transaction is rolled back, the failing update is answered with its own
// error (from a transaction of its own, so a retry-safe fn sees exactly
// what it would have alone) and the others are committed without it.
// Every function of a round runs before any of its conditions is waited
// for, so that the conditions (the requests' audit entries) are met
// meanwhile; the updates queued by then join in a late round (lateRounds).
// Updates whose condition fails are answered with its error and left out.
func (g *groupCommit) commit(batch []*update) {
	for len(batch) > 0 {
		failed := -1
		var refused []error // by update, once a condition failed
		err := g.update(&batch, func(tx *bolt.Tx) error {
			ran := 0
			for round := 0; ran < len(batch); round++ {
				from := ran
				for ; ran < len(batch); ran++ {
					if err := g.run(batch[ran].fn, tx); err != nil {
						failed = ran
						return err
					}
				}
				for i, u := range batch[from:] {
					if err := u.condition(); err != nil {
						if refused == nil {
							refused = make([]error, len(batch))
						}
						refused[from+i] = err
					}
				}
				if refused != nil {
					return errWaitFailed
				}
				if round < lateRounds {
					batch = append(batch, g.take()...)
				}
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
			solo := batch[failed : failed+1]
			solo[0].result <- g.update(&solo, func(tx *bolt.Tx) error {
				if err := g.run(solo[0].fn, tx); err != nil {
					return err
				}
				return solo[0].condition()
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

// update runs one write transaction of the updates batch holds when it
// ends (fn may add late ones) and tells the observer.
func (g *groupCommit) update(batch *[]*update, fn func(*bolt.Tx) error) error {
	obs := g.observe.Load()
	if obs == nil || *obs == nil {
		return g.db.Update(fn)
	}
	start := time.Now()
	err := g.db.Update(fn)
	(*obs)(len(*batch), time.Since(start), err)
	return err
}

func (g *groupCommit) run(fn func(Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError{p}
		}
	}()
	return fn(&boltTx{tx: tx, pools: &g.pools})
}

package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/econe/econe-server/store"
)

// Group commit: the update functions waiting when a turn comes run in one
// SERIALIZABLE transaction, one after the other, each behind a SAVEPOINT,
// and share its COMMIT (one WAL flush). A function that returns an error
// (or whose commit condition fails) is rolled back to its savepoint alone;
// the functions after it see the transaction as if it had never run. The
// functions of one transaction never conflict with each other, and the
// queue for the turns is the batch: at c=32 each replica's few writers
// carry many launches each instead of queueing them.

// maxBatch bounds the functions of one transaction: a serialization
// failure runs all of them again.
const maxBatch = 16

// request is one update function, queued until a batch takes it.
type request struct {
	fn    func(store.Tx) error
	wait  func() error
	taken bool       // under Store.qmu: in a batch, to be answered on done
	done  chan error // buffered: the batch's runner never waits for the caller
}

// panicked carries a function's panic from the goroutine that ran its
// batch to its caller's.
type panicked struct{ value any }

func (p panicked) Error() string { return fmt.Sprintf("panic in update: %v", p.value) }

// Update runs fn in a SERIALIZABLE transaction, again (after a jittered
// backoff) while the transaction fails on a conflict, at most maxAttempts
// times, maybe together with other functions (group commit). It waits its
// turn among MaxConcurrentUpdates.
func (s *Store) Update(fn func(store.Tx) error) error { return s.UpdateAfter(nil, fn) }

// UpdateAfter is Update whose COMMIT waits for wait (when not nil): fn's
// round trips and the condition overlap.
func (s *Store) UpdateAfter(wait func() error, fn func(store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.active.Done()
	r := &request{fn: fn, wait: wait, done: make(chan error, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, r)
	s.qmu.Unlock()
	err := s.serve(r)
	if p, ok := err.(panicked); ok {
		panic(p.value)
	}
	return err
}

// serve waits until r is answered: by the batch of whoever takes a turn
// first, which may be r's own caller, at most beginTimeout for the turn,
// as a transaction waits for a connection.
func (s *Store) serve(r *request) error {
	timeout := time.NewTimer(s.beginTimeout)
	defer timeout.Stop()
	select {
	case err := <-r.done:
		return err
	case s.updates <- struct{}{}:
		// The turn is kept through the batch's retries and backoffs: a
		// batch run again goes on at once instead of queueing behind
		// every update that came since.
		if batch := s.take(r); batch != nil {
			s.runBatch(batch)
		}
		<-s.updates
		return <-r.done
	case <-timeout.C:
		s.qmu.Lock()
		taken := r.taken
		if !taken {
			s.queue = slices.DeleteFunc(s.queue, func(q *request) bool { return q == r })
		}
		s.qmu.Unlock()
		if taken {
			return <-r.done
		}
		return fmt.Errorf("%w: no turn among the %d concurrent updates within %v", store.ErrBusy, cap(s.updates), s.beginTimeout)
	}
}

// take removes from the queue a batch of at most maxBatch requests, r
// and those queued before it first; nil when another batch took r.
func (s *Store) take(r *request) []*request {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if r.taken {
		return nil
	}
	i := slices.Index(s.queue, r)
	batch := slices.Clone(s.queue[:min(len(s.queue), maxBatch)])
	if i >= maxBatch {
		batch[maxBatch-1] = r
	}
	s.queue = slices.DeleteFunc(s.queue, func(q *request) bool { return slices.Contains(batch, q) })
	for _, q := range batch {
		q.taken = true
	}
	return batch
}

// runBatch runs the batch's functions and answers each on its done.
func (s *Store) runBatch(batch []*request) {
	switch len(batch) {
	case 0:
		return
	case 1:
		batch[0].done <- s.alone(batch[0])
		return
	}
	o := s.attemptGroup(batch)
	switch {
	case o.conflict:
		// Run again in halves: a smaller transaction conflicts less,
		// and a half that conflicts again is halved again, down to
		// functions alone, whose retries are bounded.
		time.Sleep(backoff(1))
		s.runBatch(batch[:len(batch)/2])
		s.runBatch(batch[len(batch)/2:])
	case o.panicked >= 0:
		batch[o.panicked].done <- panicked{o.value}
		s.runBatch(slices.Delete(batch, o.panicked, o.panicked+1))
	case o.alone:
		// A statement failed, not on a conflict: which function's write
		// it was, each one's own transaction tells.
		for _, r := range batch {
			r.done <- s.alone(r)
		}
	default:
		for i, r := range batch {
			r.done <- o.errs[i]
		}
	}
}

// alone runs r's function in a transaction of its own, again after a
// conflict, and returns its outcome (a panic as panicked).
func (s *Store) alone(r *request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked{p}
		}
	}()
	for attempt := 1; ; attempt++ {
		err, conflict := s.attempt(beginUpdate, r.fn, r.wait)
		if !conflict {
			return err
		}
		if attempt == s.maxAttempts {
			return fmt.Errorf("%w (%d attempts; the last: %v)", ErrConflicts, attempt, err)
		}
		time.Sleep(backoff(attempt))
	}
}

// groupOutcome is how one transaction of a batch ended.
type groupOutcome struct {
	errs     []error // each function's outcome, when the rest is not set
	conflict bool    // a serialization failure or deadlock: run all again
	alone    bool    // another statement failed: run each alone
	panicked int     // the function that panicked (value), or -1
	value    any
}

// attemptGroup runs the batch's functions in one transaction, each
// behind a savepoint that its failure (or its condition's) rolls back to,
// and commits it.
func (s *Store) attemptGroup(batch []*request) (o groupOutcome) {
	o.panicked = -1
	o.errs = make([]error, len(batch))
	conn, err := s.acquire()
	if err != nil {
		for i := range o.errs {
			o.errs[i] = err
		}
		return o
	}
	defer conn.Release()
	t := &tx{ctx: context.Background(), conn: conn, begin: beginUpdate, writable: true}
	for i, r := range batch {
		// The savepoint goes with the function's first statement, before
		// its writes: a function that sent nothing is undone here.
		t.mark, t.savepoint, t.saved, t.undo = len(t.pending), true, false, map[bucketKey]prior{}
		fnErr, p := call(r.fn, t)
		t.savepoint = false
		switch {
		case p != nil:
			t.rollback()
			o.panicked, o.value = i, p
			return o
		case t.err != nil:
			t.rollback()
			o.conflict = isConflict(t.err)
			o.alone = !o.conflict
			return o
		case fnErr == nil && r.wait != nil:
			fnErr = r.wait()
		}
		if fnErr != nil {
			o.errs[i] = fnErr
			if t.saved {
				t.write(`ROLLBACK TO SAVEPOINT f`)
			} else {
				t.pending = t.pending[:t.mark]
			}
			t.forget()
		}
		if t.saved {
			t.write(`RELEASE SAVEPOINT f`)
		}
	}
	if !t.begun && len(t.pending) == 0 {
		return o
	}
	err, conflict := t.commit()
	switch {
	case conflict:
		o.conflict = true
	case err != nil && t.err != nil:
		// A write sent with COMMIT was refused.
		o.alone = true
	case err != nil:
		// The commit's failure is every function's outcome, but for
		// those that had failed already (and were rolled back).
		for i := range o.errs {
			o.errs[i] = cmp.Or(o.errs[i], err)
		}
	}
	return o
}

// forget drops what the transaction knew of the keys the function now
// running wrote, and the pages of their buckets: its writes are undone.
func (t *tx) forget() {
	for k, before := range t.undo {
		if before.ok {
			t.seen[k] = before.v
		} else {
			delete(t.seen, k)
		}
		t.forgetPages(k.b)
	}
}

// call runs fn, returning its panic instead of passing it on.
func call(fn func(store.Tx) error, t *tx) (err error, p any) {
	defer func() { p = recover() }()
	return fn(t), nil
}

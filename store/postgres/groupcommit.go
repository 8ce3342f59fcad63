package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Group commit: the update functions waiting when a turn comes run in one
// SERIALIZABLE transaction, one after the other, each behind a SAVEPOINT,
// and share its COMMIT (one WAL flush). A function that returns an error
// (or whose commit condition fails) is rolled back to its savepoint alone;
// the functions after it see the transaction as if it had never run. A
// Create is guessed (guessCreate): it goes with the next statement, which
// may be the next function's, and a miss runs the functions again from
// the one that guessed (redo). The savepoints are kept to COMMIT, nested,
// so that a function's can still be rolled back to while the next runs. The
// functions of one transaction never conflict with each other, and the
// queue for the turns is the batch: at c=32 each replica's few writers
// carry many launches each instead of queueing them.

// maxBatch bounds the functions of one transaction: a serialization
// failure runs all of them again. Their savepoints nest (at most maxBatch
// subtransactions, within the 64 PostgreSQL keeps track of per backend
// before every snapshot has to look further).
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
	t := &tx{ctx: context.Background(), conn: conn, begin: beginUpdate, writable: true, guesses: &s.guesses}
	undo := make([]map[bucketKey]prior, len(batch))
	t.Prefetch(groupRefs(batch))
	for i := 0; i < len(batch); i++ {
		r := batch[i]
		// The savepoint goes with the function's first statement, before
		// its writes: a function that sent nothing is undone here.
		undo[i], o.errs[i] = map[bucketKey]prior{}, nil
		t.fn, t.mark, t.savepoint, t.saved, t.undo = i, len(t.pending), true, false, undo[i]
		fnErr, p := call(r.fn, t)
		t.savepoint = false
		if fn, ok := t.redo(undo[:i+1]); ok {
			i = fn - 1
			continue
		}
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
				t.undoSince(i)
			} else {
				t.pending = t.pending[:t.mark]
			}
			t.forget(t.undo)
		}
		if i == len(batch)-1 {
			if fn, ok := t.commitGroup(&o, undo); ok {
				i = fn - 1
			}
		}
	}
	return o
}

// commitGroup commits the group's transaction and sets o from how it
// ended, unless a guess not checked yet missed: then it returns the
// position of the function to run again (redo), as the group goes on.
func (t *tx) commitGroup(o *groupOutcome, undo []map[bucketKey]prior) (fn int, redo bool) {
	if !t.begun && len(t.pending) == 0 {
		return 0, false
	}
	if slices.ContainsFunc(t.pending, isGuess) {
		// A guess is checked by its round trip's answer, which COMMIT
		// must not share.
		if err := t.send(func(pgx.BatchResults) error { return nil }); err != nil {
			t.fail(err)
		}
		if fn, ok := t.redo(undo); ok {
			return fn, true
		}
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
	return 0, false
}

// forget drops what the transaction knew of the keys a function wrote
// (undo holds what it knew before), and the pages of their buckets: its
// writes are undone.
func (t *tx) forget(undo map[bucketKey]prior) {
	for k, before := range undo {
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

// savepoint names the savepoint of the group's i-th function.
func savepoint(i int) string { return "f" + strconv.Itoa(i) }

// undoSince rolls the transaction back to the savepoint of the group's
// i-th function, and releases it and those after it.
func (t *tx) undoSince(i int) {
	t.write(`ROLLBACK TO SAVEPOINT ` + savepoint(i))
	t.write(`RELEASE SAVEPOINT ` + savepoint(i))
}

// maxMisses is how many guesses in a bucket may miss in one transaction
// before its Creates read again: a function run again may draw other keys
// (an address search from a random start), and each miss is a round trip.
const maxMisses = 3

// guessing reports whether a Create in bucket b is guessed.
func (t *tx) guessing(b store.Bucket) bool {
	return t.guesses != nil && t.misses[b] < maxMisses && t.guesses.likely(b)
}

// guessStats estimates per bucket how often a group's Create finds its
// key present, guessed or not: a miss runs the functions after the one
// that guessed again, which costs more than the round trip the guess
// saves once misses are frequent (a launch pool that fills up).
type guessStats struct {
	mu   sync.Mutex
	rate map[store.Bucket]float64
}

const (
	// missWeight is the weight of each new outcome in a bucket's rate.
	missWeight = 1.0 / 256
	// maxMissRate is the rate above which a bucket's Creates read.
	maxMissRate = 0.05
)

// note adds an outcome of a Create in bucket b to its rate.
func (g *guessStats) note(b store.Bucket, present bool) {
	if g == nil {
		return
	}
	outcome := 0.0
	if present {
		outcome = 1
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rate == nil {
		g.rate = map[store.Bucket]float64{}
	}
	g.rate[b] += (outcome - g.rate[b]) * missWeight
}

// likely reports whether a Create in bucket b most likely finds its key
// absent.
func (g *guessStats) likely(b store.Bucket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rate[b] < maxMissRate
}

// guessCreate writes key as Create would if it were absent, without a
// round trip: the INSERT goes with the next statement, behind the
// function's savepoint, and its answer says whether it wrote. In a group
// of launches nearly every Create finds its key absent (new ids,
// addresses from a random start), and each was a round trip of its own,
// one function after the other.
func (t *tx) guessCreate(b store.Bucket, key string, value []byte) {
	t.save()
	k := bucketKey{b, key}
	if t.guessed == nil {
		t.guessed = map[bucketKey]int{}
	}
	t.guessed[k] = t.fn
	t.write(createSQL, string(b), []byte(key), value)
	t.forgetPages(b)
	t.wrote(b, key, value)
}

// isGuess reports whether a pending statement is a guessed Create (a
// Create that is not guessed is never pending).
func isGuess(w statement) bool { return w.sql == createSQL }

// missed is a guessed Create whose key was present.
type missed struct {
	key bucketKey
	fn  int // the position in the group of the function that guessed
}

func (m *missed) Error() string {
	return fmt.Sprintf("store: a guessed Create found %s %q present", m.key.b, m.key.key)
}

// checkGuess returns a miss when w, sent and answered with tag, is a
// guessed Create that wrote nothing.
func (t *tx) checkGuess(w statement, tag pgconn.CommandTag) error {
	if !isGuess(w) {
		return nil
	}
	b := store.Bucket(w.args[0].(string))
	t.guesses.note(b, tag.RowsAffected() == 0)
	if tag.RowsAffected() > 0 {
		return nil
	}
	k := bucketKey{b, string(w.args[1].([]byte))}
	return &missed{key: k, fn: t.guessed[k]}
}

// redo, after a guessed Create found its key present, undoes the function
// that guessed and those that ran after it (undo holds what each wrote,
// by position): the transaction goes back to that function's savepoint
// and knows the key is present, so that the function runs again as if
// Create had read it. It returns the function's position; ok is false
// when nothing missed.
func (t *tx) redo(undo []map[bucketKey]prior) (fn int, ok bool) {
	var m *missed
	if !errors.As(t.err, &m) {
		return 0, false
	}
	for i := len(undo) - 1; i >= m.fn; i-- {
		t.forget(undo[i])
	}
	if t.present == nil {
		t.present, t.misses = map[bucketKey]bool{}, map[store.Bucket]int{}
	}
	t.present[m.key] = true
	t.misses[m.key.b]++
	t.err, t.written, t.pending = nil, false, nil
	t.undoSince(m.fn)
	return m.fn, true
}

// groupRefs are the keys the batch's functions name in their first
// Prefetch, read for all of them in the transaction's first round trip
// instead of one round trip a function: each function is run up to that
// call (firstRefs).
func groupRefs(batch []*request) []store.Ref {
	var refs []store.Ref
	for _, r := range batch {
		refs = append(refs, firstRefs(r.fn)...)
	}
	return refs
}

// firstRefs runs fn on a Tx that ends the run at its first call, and
// returns the keys that call named when it was a Prefetch (an update
// function may be run any number of times, and only its last run counts).
func firstRefs(fn func(store.Tx) error) (refs []store.Ref) {
	c := &firstCall{}
	defer func() {
		recover() // the firstCall's, or whatever fn made of a Tx that does nothing
		refs = c.refs
	}()
	fn(c)
	return nil
}

// firstCall is the Tx of firstRefs: Prefetch notes its keys, and every
// call panics, as nothing done on it would mean anything.
type firstCall struct {
	store.Tx // nil: any other call panics
	refs     []store.Ref
}

func (c *firstCall) Prefetch(refs []store.Ref) {
	c.refs = refs
	panic(c)
}

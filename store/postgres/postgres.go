// Package postgres is the PostgreSQL implementation of store.Store, for
// several econe-server replicas sharing one database: every bucket lives
// in one key/value table (migrations/0001_kv.sql), keys are bytea so they
// sort bytewise, and the update functions that wait together run in one
// SERIALIZABLE transaction, each behind a savepoint (groupcommit.go), run
// again after a serialization failure or a deadlock.
package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrCommitUnknown means the connection was lost while COMMIT was on its
// way: the update may or may not have been committed.
var ErrCommitUnknown = errors.New("store: the database connection was lost during COMMIT, the update may or may not have been committed")

// ErrConflicts means an update kept failing on serialization conflicts
// with concurrent updates until the retry bound: the store is busy.
var ErrConflicts = fmt.Errorf("%w: the update conflicted with concurrent updates too often", store.ErrBusy)

// Options tune a Store; the zero value is usable.
type Options struct {
	// MaxConns caps the pool's connections; 0 keeps pgx's default.
	// Views that run while updates wait need a connection of their own,
	// so it must be at least 2.
	MaxConns int32
	// MaxAttempts bounds how often one update function is run when its
	// transaction fails on a conflict; 0 means defaultMaxAttempts.
	MaxAttempts int
	// BeginTimeout bounds getting a connection for a transaction,
	// so that a request fails fast (store.ErrUnavailable) while the
	// database is unreachable; 0 means defaultBeginTimeout.
	BeginTimeout time.Duration
	// MaxConcurrentUpdates bounds the update transactions the Store runs
	// at once (each carries the functions that waited for it); 0 means 1,
	// and at most MaxConns-1 are used, so that a View always finds a
	// connection. Concurrent SERIALIZABLE writers of econe_kv often
	// conflict (its one index's page-level predicate locks), so more abort
	// and run again rather than get done sooner.
	MaxConcurrentUpdates int
}

const (
	defaultMaxAttempts = 40
	// defaultBeginTimeout is long enough for a busy pool, short enough
	// that a student is told at once the database is down.
	defaultBeginTimeout = 3 * time.Second
	// backoffBase and backoffCap bound the jittered wait between attempts:
	// random in [0, min(cap, base·2^attempt)).
	backoffBase = time.Millisecond
	backoffCap  = 100 * time.Millisecond
	// pageSize is how many keys a Scan reads before running its callbacks:
	// the connection must be free for the callback's own reads.
	pageSize = 256
)

// SQLSTATEs after which an update is run again.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	lockNotAvailable     = "55P03" // lockTimeout passed
)

// Store is a store.Store over a PostgreSQL database.
type Store struct {
	pool         *pgxpool.Pool
	maxAttempts  int
	beginTimeout time.Duration
	// updates holds a token per update transaction in progress (its
	// capacity is MaxConcurrentUpdates).
	updates chan struct{}
	// queue holds the update functions waiting for a turn (groupcommit.go).
	qmu   sync.Mutex
	queue []*request
	// guesses says where a group's Creates are guessed.
	guesses guessStats

	mu     sync.Mutex
	closed bool // under mu
	active sync.WaitGroup
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Gated     = (*Store)(nil)
	_ store.RefViewer = (*Store)(nil)
)

// declared holds store.Buckets: any other bucket is a programming error.
var declared = func() map[store.Bucket]bool {
	m := map[store.Bucket]bool{}
	for _, b := range store.Buckets {
		m[b] = true
	}
	return m
}()

// Open connects to dsn (a postgres:// URL or key=value string), brings the
// schema up to date and checks the store's schema version.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included.
		return nil, errors.New("store: invalid PostgreSQL dsn (see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING)")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if cfg.MaxConns < 2 {
		return nil, fmt.Errorf("store: PostgreSQL needs at least 2 connections, got %d", cfg.MaxConns)
	}
	// Update returning nil promises a durable commit, whatever the
	// server's default; a dsn may still choose otherwise explicitly.
	if _, set := cfg.ConnConfig.RuntimeParams["synchronous_commit"]; !set {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	}
	// Every statement of the store is a primary-key lookup or range, which
	// one plan serves for all arguments. Left to choose, PostgreSQL plans
	// ViewRefs' statement anew at each call once the table has statistics
	// (its guess for a generic range is worse than for the arguments at hand).
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if o.BeginTimeout <= 0 {
		o.BeginTimeout = defaultBeginTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, maxAttempts: o.MaxAttempts, beginTimeout: o.BeginTimeout,
		updates: make(chan struct{}, min(max(o.MaxConcurrentUpdates, 1), int(cfg.MaxConns)-1))}
	if s.maxAttempts <= 0 {
		s.maxAttempts = defaultMaxAttempts
	}
	return s, nil
}

// enter counts a call in, unless the store is closed.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.active.Add(1)
	return nil
}

// Close waits for the calls in progress, then closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.active.Wait()
	s.pool.Close()
	return nil
}

// The statements that open a View's and an Update's transaction. Each is
// sent with the transaction's first statement, in one round trip; a
// function that reads and writes nothing opens none.
const (
	beginView   = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	beginUpdate = `BEGIN ISOLATION LEVEL SERIALIZABLE`
	// lockTimeout, sent after an update's BEGIN, bounds its wait for a
	// row another transaction holds: two replicas' group transactions
	// that insert the same keys in crossed order deadlock, and PostgreSQL
	// breaks that only after deadlock_timeout (1 s, settable by a
	// superuser alone), while both replicas' queues wait. The update that
	// times out runs again, as after a conflict.
	lockTimeout = `SET LOCAL lock_timeout = '200ms'`
)

// View runs fn in a read-only snapshot (REPEATABLE READ): it sees the
// updates committed before it began and never waits for one in progress.
func (s *Store) View(fn func(store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.active.Done()
	err, _ := s.attempt(beginView, fn, nil)
	return err
}

// ViewRefs reads refs in one statement, which sees one snapshot without
// BEGIN and COMMIT, and runs fn over them with the connection given back;
// when fn reads anything else, it runs fn again in a View.
func (s *Store) ViewRefs(refs []store.Ref, fn func(store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.active.Done()
	conn, err := s.acquire()
	if err != nil {
		return err
	}
	t := &tx{ctx: context.Background(), conn: conn, begun: true} // begun: no BEGIN is sent
	t.readRefs(refs)
	conn.Release()
	if t.err != nil {
		return unreachable(t.err)
	}
	t.conn, t.offline = nil, true
	if err := fn(t); !t.missed {
		return err
	}
	err, _ = s.attempt(beginView, func(tx store.Tx) error {
		store.Prefetch(tx, refs...)
		return fn(tx)
	}, nil)
	return err
}

// readRefs reads refs in one statement: a UNION ALL of their queries,
// each row tagged with the number of its part.
func (t *tx) readRefs(refs []store.Ref) {
	q := &query{}
	type part struct {
		ref   store.Ref
		named bool // the records an index names, after the index's part
	}
	var what []part
	var shape []byte // the kind of each part, by which the text is cached
	for _, r := range slices.Compact(slices.Clone(refs)) {
		check(r.Bucket)
		what = append(what, part{ref: r})
		if !r.Prefix {
			q.args = append(q.args, string(r.Bucket), []byte(r.Key))
			shape = append(shape, 'k')
			continue
		}
		shape = append(shape, kind('p', q.pageArgs(r.Bucket, []byte(r.Key), prefixEnd([]byte(r.Key)))))
		if r.Then != "" {
			check(r.Then)
			shape = append(shape, kind('n', q.namedArgs(r)))
			what = append(what, part{ref: r, named: true})
		}
	}
	sql, ok := refsSQL.get(shape)
	if !ok {
		sql = refsText(shape)
		refsSQL.put(shape, sql)
	}
	rows := make([][]pair, len(what))
	var n int
	var k, v []byte
	err := t.run(func(r pgx.Rows) error {
		_, err := pgx.ForEachRow(r, []any{&n, &k, &v}, func() error {
			if v == nil {
				v = []byte{} // an empty bytea: present, empty
			}
			rows[n] = append(rows[n], pair{string(k), v})
			return nil
		})
		return err
	}, sql, q.args...)
	if err != nil {
		t.fail(err)
		return
	}
	for i, p := range what {
		r := p.ref
		switch {
		case !r.Prefix:
			var v []byte
			if len(rows[i]) > 0 {
				v = rows[i][0].value
			}
			t.remember(r.Bucket, r.Key, v)
		case p.named:
			t.rememberNamed(r, t.pages[bucketKey{r.Bucket, r.Key}], rows[i])
		default:
			// UNION ALL promises no order across its parts.
			slices.SortFunc(rows[i], func(a, b pair) int { return strings.Compare(a.key, b.key) })
			if t.pages == nil {
				t.pages = map[bucketKey][]pair{}
			}
			t.pages[bucketKey{r.Bucket, r.Key}] = rows[i]
		}
	}
}

// errOffline is a read of a transaction whose reads were all done at once
// (ViewRefs) of something they did not include.
var errOffline = errors.New("store: read outside the keys read beforehand")

// ReadMany reads the keys in one statement outside any explicit
// transaction: a statement sees one snapshot of its own, so this is a
// View of one GetMany at a third of its round trips.
func (s *Store) ReadMany(b store.Bucket, keys []string) ([][]byte, error) {
	check(b)
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.active.Done()
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	conn, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	t := &tx{ctx: context.Background(), conn: conn, begun: true} // begun: no BEGIN is sent
	out := t.GetMany(b, keys)
	if t.err != nil {
		return nil, unreachable(t.err)
	}
	return out, nil
}

// backoff is the full-jitter wait after the attempt-th conflict.
func backoff(attempt int) time.Duration {
	limit := backoffCap
	if attempt < 20 && backoffBase<<attempt < limit {
		limit = backoffBase << attempt
	}
	return rand.N(limit)
}

// attempt runs fn in one transaction, opened by begin, and commits it if
// fn and every statement succeeded and wait (when not nil) returns nil.
// conflict reports a serialization failure or deadlock, after which fn
// may be run again.
func (s *Store) attempt(begin string, fn func(store.Tx) error, wait func() error) (err error, conflict bool) {
	ctx := context.Background()
	conn, err := s.acquire()
	if err != nil {
		return err, false
	}
	// A connection released inside a transaction (a failed ROLLBACK) is
	// closed by the pool, not reused.
	defer conn.Release()
	t := &tx{ctx: ctx, conn: conn, begin: begin, writable: begin == beginUpdate}
	defer func() {
		if p := recover(); p != nil {
			t.rollback()
			panic(p)
		}
	}()
	fnErr := fn(t)
	switch {
	case t.err != nil:
		// A statement failed (the transaction is aborted): fn decided on
		// what it could not read, so its own result does not count.
		t.rollback()
		return unreachable(t.err), isConflict(t.err)
	case fnErr != nil:
		t.rollback()
		return fnErr, false
	case !t.begun && len(t.pending) == 0:
		return nil, false
	}
	if wait != nil {
		if err := wait(); err != nil {
			t.rollback()
			return err, false
		}
	}
	return t.commit()
}

// commit sends the writes not yet sent and COMMIT in one round trip
// (BEGIN first when nothing was sent yet).
func (t *tx) commit() (err error, conflict bool) {
	var tag pgconn.CommandTag
	err = t.send(func(br pgx.BatchResults) (err error) {
		tag, err = br.Exec()
		return err
	}, statement{sql: `COMMIT`})
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case t.written && errors.As(err, &pgErr):
			// A write failed: the server skipped COMMIT, and the
			// transaction must be rolled back.
			t.rollback()
			return unreachable(t.fail(err)), isConflict(err)
		case errors.As(err, &pgErr):
			return fmt.Errorf("store: commit: %w", err), isConflict(err)
		case pgconn.SafeToRetry(err):
			return fmt.Errorf("%w: commit not sent: %w", store.ErrUnavailable, err), false
		}
		return fmt.Errorf("%w: %v", ErrCommitUnknown, err), false
	}
	if tag.String() == "ROLLBACK" {
		// The server rolls back an aborted transaction on COMMIT; every
		// failed statement is in t.err, so this is a bug, not a conflict.
		return errors.New("store: commit: the transaction was rolled back"), false
	}
	return nil, false
}

// acquire takes a connection within beginTimeout; failing to, the
// database is unreachable (nothing was done).
func (s *Store) acquire() (*pgxpool.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.beginTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: connect: %v", store.ErrUnavailable, err)
	}
	return conn, nil
}

// unreachable marks a statement that failed because the connection was
// lost (no answer, a connection exception 08…, or a shutdown 57P…) as
// store.ErrUnavailable; the transaction was rolled back.
func unreachable(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57P") {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == serializationFailure || pgErr.Code == deadlockDetected || pgErr.Code == lockNotAvailable)
}

// tx is one function's transaction.
type tx struct {
	ctx  context.Context
	conn *pgxpool.Conn
	// begin opens the transaction; begun is set once it has been sent.
	begin    string
	begun    bool
	writable bool
	// err is the first failed statement's error: PostgreSQL refuses every
	// later statement of the transaction, and Get has no error to return.
	err error
	// pending are the writes not yet sent: they go with the next read, or
	// with COMMIT, in its round trip. written is set while send has them
	// on their way.
	pending []statement
	written bool
	// savepoint asks for a SAVEPOINT before pending[mark:], the writes of
	// the function now running in a group (groupcommit.go), with its
	// first statement; saved is set once it was sent.
	savepoint bool
	mark      int
	saved     bool
	// undo holds, while a group's function runs, what seen held of each
	// key before the function wrote it.
	undo map[bucketKey]prior
	// guesses is set in a group: a Create is sent with the next
	// statement, as if its key were absent (guessCreate), in the buckets
	// where that is likely. guessed holds the position in the group of
	// the function that made each guess, fn the one now running; present
	// holds the keys a guess found present, misses how many per bucket.
	guesses *guessStats
	fn      int
	guessed map[bucketKey]int
	present map[bucketKey]bool
	misses  map[store.Bucket]int
	// seen holds what this transaction read or wrote by key (nil for a
	// key read absent or deleted): its snapshot and its own writes do not
	// change, so a key is read from the database at most once.
	seen map[bucketKey][]byte
	// pages holds the first page of each prefix prefetched (PrefixRef),
	// until the transaction writes to its bucket.
	pages map[bucketKey][]pair
	// offline is set once the reads of ViewRefs are done: the others are
	// not answered, and missed is set.
	offline bool
	missed  bool
	// scanning counts the Scans in progress per bucket: writes there are
	// refused, as bbolt must refuse them under its cursor.
	scanning map[store.Bucket]int
}

// statement is one SQL statement and its arguments.
type statement struct {
	sql  string
	args []any
}

// prior is what seen held of a key: ok is false when nothing.
type prior struct {
	v  []byte
	ok bool
}

type bucketKey struct {
	b   store.Bucket
	key string
}

// remember records a key's value as the transaction now knows it.
func (t *tx) remember(b store.Bucket, key string, v []byte) {
	if t.seen == nil {
		t.seen = map[bucketKey][]byte{}
	}
	t.seen[bucketKey{b, key}] = v
}

// wrote records a key's value as the transaction's own write; in a
// group's function, the first write of a key notes what the transaction
// knew of it before, for undo.
func (t *tx) wrote(b store.Bucket, key string, v []byte) {
	k := bucketKey{b, key}
	if t.undo != nil {
		if _, noted := t.undo[k]; !noted {
			before, ok := t.seen[k]
			t.undo[k] = prior{before, ok}
		}
	}
	t.remember(b, key, v)
}

// known returns the key's value if the transaction has read or written it.
func (t *tx) known(b store.Bucket, key string) (v []byte, ok bool) {
	v, ok = t.seen[bucketKey{b, key}]
	return v, ok
}

func check(b store.Bucket) {
	if !declared[b] {
		panic("store: undeclared bucket " + string(b))
	}
}

// fail records err as the transaction's first failure and returns it.
func (t *tx) fail(err error) error {
	err = fmt.Errorf("store: %w", err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) Writable() bool { return t.writable }

// run sends one statement, preceded by BEGIN when it is the transaction's
// first and by the pending writes, in one round trip, and passes its rows
// to read, which must close them. A statement that goes alone is a plain
// query: the same messages as a batch of one, without the batch's pipeline
// (17 allocations of pgx's).
func (t *tx) run(read func(pgx.Rows) error, sql string, args ...any) error {
	if t.begun && len(t.pending) == 0 && !t.savepoint && !t.offline {
		rows, err := t.conn.Query(t.ctx, sql, args...)
		if err != nil {
			return err
		}
		return read(rows)
	}
	return t.send(func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return read(rows)
	}, statement{sql, args})
}

// send queues BEGIN when not yet sent, the pending writes and the
// statements in one batch (one round trip), and passes the statements'
// results to last.
func (t *tx) send(last func(pgx.BatchResults) error, stmts ...statement) error {
	if t.offline {
		t.missed = true
		return errOffline
	}
	if t.err != nil {
		// The transaction is aborted: the server would refuse it.
		return t.err
	}
	var queued []statement
	if !t.begun {
		queued = append(queued, statement{sql: t.begin})
		if t.writable {
			queued = append(queued, statement{sql: lockTimeout})
		}
	}
	t.save()
	queued = slices.Concat(queued, t.pending, stmts)
	b := &pgx.Batch{}
	for _, w := range queued {
		b.Queue(w.sql, w.args...)
	}
	writes := len(t.pending)
	t.begun, t.pending, t.written = true, nil, writes > 0
	br := t.conn.SendBatch(t.ctx, b)
	var err, miss error
	for _, w := range queued[:len(queued)-len(stmts)] {
		var tag pgconn.CommandTag
		if tag, err = br.Exec(); err != nil {
			break
		}
		if miss == nil {
			miss = t.checkGuess(w, tag)
		}
	}
	if err == nil && miss == nil {
		t.written = false
		err = last(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return cmp.Or(err, miss)
}

// save puts the SAVEPOINT of the group's function now running before its
// statements, once.
func (t *tx) save() {
	if t.savepoint {
		t.pending = slices.Insert(t.pending, t.mark, statement{sql: `SAVEPOINT ` + savepoint(t.fn)})
		t.savepoint, t.saved = false, true
	}
}

// write queues a write for the next round trip.
func (t *tx) write(sql string, args ...any) {
	t.pending = append(t.pending, statement{sql, args})
}

// rollback ends a transaction that must not commit. An error leaves the
// connection inside the transaction, and the pool then closes it.
func (t *tx) rollback() {
	t.pending = nil
	if t.begun {
		t.conn.Exec(t.ctx, `ROLLBACK`)
	}
}

func (t *tx) Get(b store.Bucket, key string) []byte {
	check(b)
	if v, ok := t.known(b, key); ok {
		return v
	}
	t.Prefetch([]store.Ref{{Bucket: b, Key: key}})
	v, _ := t.known(b, key)
	return v
}

// Prefetch reads the keys not known yet, one statement each, and the
// first page of each prefix, in one round trip (with the pending writes).
func (t *tx) Prefetch(refs []store.Ref) {
	var stmts []statement
	var todo []store.Ref
	for _, r := range refs {
		check(r.Bucket)
		if t.prefetched(r) || slices.Contains(todo, r) {
			continue
		}
		todo = append(todo, r)
		if r.Prefix {
			stmts = append(stmts, pageStatement(r.Bucket, []byte(r.Key), false, prefixEnd([]byte(r.Key))))
			if r.Then != "" {
				check(r.Then)
				q := &query{}
				sql := q.named("", r)
				stmts = append(stmts, statement{sql, q.args})
			}
		} else {
			stmts = append(stmts, statement{`SELECT value FROM econe_kv WHERE bucket = $1 AND key = $2`, []any{string(r.Bucket), []byte(r.Key)}})
		}
	}
	if len(stmts) == 0 || t.err != nil {
		return
	}
	err := t.send(func(br pgx.BatchResults) error {
		for _, r := range todo {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			if r.Prefix {
				page, err := readPage(rows)
				if err != nil {
					return err
				}
				if t.pages == nil {
					t.pages = map[bucketKey][]pair{}
				}
				t.pages[bucketKey{r.Bucket, r.Key}] = page
				if r.Then != "" {
					if err := t.readNamed(r, page, br); err != nil {
						return err
					}
				}
				continue
			}
			var v []byte
			found := false
			if _, err := pgx.ForEachRow(rows, []any{&v}, func() error {
				found = true
				return nil
			}); err != nil {
				return err
			}
			switch {
			case !found:
				v = nil
			case v == nil:
				v = []byte{} // an empty bytea: present, empty
			}
			t.remember(r.Bucket, r.Key, v)
		}
		return nil
	}, stmts...)
	if err != nil {
		t.fail(err)
	}
}

// query builds a statement's text and arguments.
type query struct {
	args []any
}

// ph is the placeholder of argument i.
func ph(i int) string { return "$" + strconv.Itoa(i) }

// page is the text of a query of up to pageSize pairs of bucket b in key
// order, from key from (after it, when after), before end (none when nil),
// each row led by cols.
func (q *query) page(cols string, b store.Bucket, from []byte, after bool, end []byte) string {
	first := len(q.args) + 1
	return pageText(cols, first, after, q.pageArgs(b, from, end))
}

// pageArgs adds the arguments of a page (page), and reports whether it
// has an end.
func (q *query) pageArgs(b store.Bucket, from, end []byte) (bounded bool) {
	q.args = append(q.args, string(b), from)
	if end != nil {
		q.args = append(q.args, end)
	}
	return end != nil
}

// pageText is the text of page, its arguments numbered from first.
func pageText(cols string, first int, after, bounded bool) string {
	op := ` >= `
	if after {
		op = ` > `
	}
	sql := `SELECT ` + cols + `key, value FROM econe_kv WHERE bucket = ` + ph(first) + ` AND key` + op + ph(first+1)
	if bounded {
		sql += ` AND key < ` + ph(first+2)
	}
	return sql + ` ORDER BY key LIMIT ` + strconv.Itoa(pageSize)
}

// named is the text of a query of the records of bucket r.Then that the
// keys of an index page (page of r) name, each row led by cols.
func (q *query) named(cols string, r store.Ref) string {
	first := len(q.args) + 1
	return namedText(cols, first, q.namedArgs(r))
}

// namedArgs adds the arguments of named, and reports whether the index
// prefix has an end.
func (q *query) namedArgs(r store.Ref) (bounded bool) {
	q.args = append(q.args, string(r.Then), []byte(r.ThenPrefix), len(r.Key)+1, string(r.Bucket), []byte(r.Key))
	if end := prefixEnd([]byte(r.Key)); end != nil {
		q.args = append(q.args, end)
		return true
	}
	return false
}

// namedText is the text of named, its arguments numbered from first.
func namedText(cols string, first int, bounded bool) string {
	sql := `SELECT ` + cols + `v.key, v.value FROM econe_kv i JOIN econe_kv v ON v.bucket = ` + ph(first) +
		` AND v.key = ` + ph(first+1) + `::bytea || substring(i.key from ` + ph(first+2) + `::int)` +
		` WHERE i.bucket = ` + ph(first+3) + ` AND i.key >= ` + ph(first+4)
	if bounded {
		sql += ` AND i.key < ` + ph(first+5)
	}
	return sql + ` ORDER BY i.key LIMIT ` + strconv.Itoa(pageSize)
}

// refsText is the text of readRefs' statement for parts of the kinds in
// shape: k a key, p a page and n the records its index names, P and N
// the same without an upper bound.
func refsText(shape []byte) string {
	parts := make([]string, len(shape))
	first := 1
	for i, kind := range shape {
		n := strconv.Itoa(i) + ", "
		switch kind {
		case 'k':
			parts[i] = `SELECT ` + n + `key, value FROM econe_kv WHERE bucket = ` + ph(first) + ` AND key = ` + ph(first+1)
			first += 2
		case 'p', 'P':
			parts[i] = `(` + pageText(n, first, false, kind == 'p') + `)`
			first += 2 + boolInt(kind == 'p')
		case 'n', 'N':
			parts[i] = `(` + namedText(n, first, kind == 'n') + `)`
			first += 5 + boolInt(kind == 'n')
		}
	}
	return strings.Join(parts, ` UNION ALL `)
}

// kind is a part's kind in refsText's shape: upper case when unbounded.
func kind(k byte, bounded bool) byte {
	if bounded {
		return k
	}
	return k - 'a' + 'A'
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refsSQL caches readRefs' statement texts by shape: building the text
// of a describe's seven parts cost a fifth of readRefs' CPU. The shapes
// are few (the callers' kinds of refs); the cache stops growing at
// maxShapes all the same.
var refsSQL shapeCache

const maxShapes = 1024

type shapeCache struct {
	mu sync.RWMutex
	m  map[string]string
}

func (c *shapeCache) get(shape []byte) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sql, ok := c.m[string(shape)]
	return sql, ok
}

func (c *shapeCache) put(shape []byte, sql string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	if len(c.m) < maxShapes {
		c.m[string(shape)] = sql
	}
}

// readNamed remembers what the keys of the index page name in bucket
// r.Then (the rows of query.named).
func (t *tx) readNamed(r store.Ref, page []pair, br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	found, err := readPage(rows)
	if err != nil {
		return err
	}
	t.rememberNamed(r, page, found)
	return nil
}

// rememberNamed remembers, for each key of the index page, the record it
// names in bucket r.Then: in found, or absent.
func (t *tx) rememberNamed(r store.Ref, page, found []pair) {
	for _, p := range page {
		key := r.ThenPrefix + p.key[len(r.Key):]
		if _, ok := t.known(r.Then, key); ok {
			continue
		}
		var v []byte
		if i := slices.IndexFunc(found, func(f pair) bool { return f.key == key }); i >= 0 {
			v = found[i].value
		}
		t.remember(r.Then, key, v)
	}
}

// prefetched reports whether the transaction already holds what r names.
func (t *tx) prefetched(r store.Ref) bool {
	if r.Prefix {
		_, ok := t.pages[bucketKey{r.Bucket, r.Key}]
		return ok
	}
	_, ok := t.known(r.Bucket, r.Key)
	return ok
}

// GetMany reads every key in one statement: one round trip, not one per key.
func (t *tx) GetMany(b store.Bucket, keys []string) [][]byte {
	check(b)
	out := make([][]byte, len(keys))
	var args [][]byte // the keys not known yet
	for i, k := range keys {
		if v, ok := t.known(b, k); ok {
			out[i] = v
		} else {
			args = append(args, []byte(k))
		}
	}
	if len(args) == 0 {
		return out
	}
	found := make(map[string][]byte, len(args))
	var k, v []byte
	err := t.run(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error {
			if v == nil {
				v = []byte{} // an empty bytea: present, empty
			}
			found[string(k)] = v
			return nil
		})
		return err
	}, `SELECT key, value FROM econe_kv WHERE bucket = $1 AND key = ANY($2)`, string(b), args)
	if err != nil {
		t.fail(err)
		return out
	}
	for _, k := range args {
		t.remember(b, string(k), found[string(k)])
	}
	for i, key := range keys {
		out[i], _ = t.known(b, key)
	}
	return out
}

// Put keeps a copy of value, so the caller may reuse it when Put returns,
// and sends it with the transaction's next statement: a write that fails
// there fails the transaction.
func (t *tx) Put(b store.Bucket, key string, value []byte) error {
	if err := t.writableIn(b); err != nil {
		return err
	}
	if key == "" {
		return errors.New("store: Put with an empty key")
	}
	value = append([]byte{}, value...) // never nil: nil would be NULL
	t.forgetPages(b)
	t.write(`INSERT INTO econe_kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`, string(b), []byte(key), value)
	t.wrote(b, key, value)
	return nil
}

// createSQL writes a key when it is absent, and returns a row when it did.
const createSQL = `INSERT INTO econe_kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO NOTHING RETURNING true`

// Create implements store.Creator: an INSERT that does nothing when the
// key exists, sent now with the pending writes (in a group, guessed:
// guessCreate). Its unique check reads
// with a dirty snapshot and takes no predicate lock; a row it meets that
// a concurrent transaction wrote makes it a serialization failure.
func (t *tx) Create(b store.Bucket, key string, value []byte) (bool, error) {
	if err := t.writableIn(b); err != nil {
		return false, err
	}
	if v, ok := t.known(b, key); ok {
		if v != nil {
			return false, nil
		}
		return true, t.Put(b, key, value)
	}
	if key == "" {
		return false, errors.New("store: Create with an empty key")
	}
	value = append([]byte{}, value...)
	switch {
	case t.present[bucketKey{b, key}]:
		return false, nil
	case t.guessing(b):
		t.guessCreate(b, key, value)
		return true, nil
	}
	created := false
	err := t.run(func(rows pgx.Rows) error {
		created = rows.Next()
		rows.Close()
		return rows.Err()
	}, createSQL, string(b), []byte(key), value)
	if err != nil {
		return false, t.fail(err)
	}
	t.guesses.note(b, !created)
	if created {
		t.forgetPages(b)
		t.wrote(b, key, value)
	}
	return created, nil
}

func (t *tx) Delete(b store.Bucket, key string) error {
	if err := t.writableIn(b); err != nil {
		return err
	}
	t.forgetPages(b)
	t.write(`DELETE FROM econe_kv WHERE bucket = $1 AND key = $2`, string(b), []byte(key))
	t.wrote(b, key, nil)
	return nil
}

// forgetPages drops the prefetched pages of bucket b, which a write makes
// stale.
func (t *tx) forgetPages(b store.Bucket) {
	for k := range t.pages {
		if k.b == b {
			delete(t.pages, k)
		}
	}
}

func (t *tx) writableIn(b store.Bucket) error {
	check(b)
	switch {
	case !t.writable:
		return fmt.Errorf("store: write to bucket %s in a read-only transaction", b)
	case t.scanning[b] > 0:
		return fmt.Errorf("store: write to bucket %s during a Scan of it", b)
	}
	return nil
}

type pair struct {
	key   string
	value []byte
}

// Scan reads the prefix a page at a time, each page whole before its
// callbacks run: the callbacks use the same connection.
func (t *tx) Scan(b store.Bucket, prefix string, fn func(string, []byte) error) error {
	check(b)
	if t.scanning == nil {
		t.scanning = map[store.Bucket]int{}
	}
	t.scanning[b]++
	defer func() { t.scanning[b]-- }()
	from, after := []byte(prefix), false
	end := prefixEnd(from)
	for {
		page, ok := t.pages[bucketKey{b, prefix}]
		if !ok || after {
			var err error
			if page, err = t.page(b, from, after, end); err != nil {
				return err
			}
		}
		for _, p := range page {
			if err := fn(p.key, p.value); err != nil {
				if errors.Is(err, store.ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		from, after = []byte(page[len(page)-1].key), true
	}
}

// page reads up to pageSize pairs of bucket b in key order, from key from
// (after it, when after), before end (none when nil).
func (t *tx) page(b store.Bucket, from []byte, after bool, end []byte) ([]pair, error) {
	var page []pair
	q := pageStatement(b, from, after, end)
	err := t.run(func(rows pgx.Rows) (err error) {
		page, err = readPage(rows)
		return err
	}, q.sql, q.args...)
	if err != nil {
		return nil, t.fail(err)
	}
	return page, nil
}

// pageStatement is the query of page.
func pageStatement(b store.Bucket, from []byte, after bool, end []byte) statement {
	q := &query{}
	sql := q.page("", b, from, after, end)
	return statement{sql, q.args}
}

// readPage reads and closes the rows of a pageStatement.
func readPage(rows pgx.Rows) ([]pair, error) {
	var page []pair
	var k, v []byte
	_, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error {
		if v == nil {
			v = []byte{}
		}
		page = append(page, pair{string(k), v})
		return nil
	})
	return page, err
}

// prefixEnd is the least key greater than every key with the prefix, nil
// when there is none (the prefix is empty or all 0xff).
func prefixEnd(prefix []byte) []byte {
	// Not bytes.TrimRight: its cutset is UTF-8, where 0xfe and 0xff are
	// both the replacement character.
	n := len(prefix)
	for n > 0 && prefix[n-1] == 0xff {
		n--
	}
	if n == 0 {
		return nil
	}
	end := bytes.Clone(prefix[:n])
	end[n-1]++
	return end
}

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestPrefixEnd(t *testing.T) {
	cases := []struct {
		name, prefix string
		want         []byte
	}{
		{"empty", "", nil},
		{"ascii", "a/", []byte("a0")},
		{"last byte 0xfe", "\xfe", []byte("\xff")},
		{"trailing 0xff", "a\xff\xff", []byte("b")},
		{"all 0xff", "\xff\xff", nil},
		{"0x00", "\x00", []byte("\x01")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := postgres.PrefixEnd([]byte(c.prefix)); !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
				t.Errorf("PrefixEnd(%q): got %q, want %q", c.prefix, got, c.want)
			}
		})
	}
}

// Scan reads in pages: keys across page boundaries are each visited once,
// in order, and the callbacks may read the transaction meanwhile.
func TestScanPages(t *testing.T) {
	srv := pgtest.Start(t)
	st := open(t, srv.NewSchema(t))
	n := 3*postgres.PageSize + 1
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("p/%05d", i))
	}
	if err := st.Update(func(tx store.Tx) error {
		for _, k := range append([]string{"o", "p", "q/1"}, keys...) {
			if err := tx.Put(store.BucketTags, k, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		stop int // the callback returns ErrStop at this key's index; -1 never
		want []string
	}{
		{"whole prefix", -1, keys},
		{"stop at a page's last key", postgres.PageSize - 1, keys[:postgres.PageSize]},
		{"stop at a page's first key", postgres.PageSize, keys[:postgres.PageSize+1]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			err := st.View(func(tx store.Tx) error {
				return tx.Scan(store.BucketTags, "p/", func(k string, v []byte) error {
					got = append(got, k)
					if w := tx.Get(store.BucketTags, k); string(w) != k || string(v) != k {
						t.Errorf("key %q: got value %q and Get %q, want the key", k, v, w)
					}
					if len(got)-1 == c.stop {
						return store.ErrStop
					}
					return nil
				})
			})
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("got %d keys (%v), want %d: first difference at %d", len(got), err, len(c.want), firstDiff(got, c.want))
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Replicas starting at once apply each migration once; opening again
// changes nothing; a database a newer econe-server migrated is refused.
func TestMigrations(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewSchema(t)
	const replicas = 4
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err == nil {
				st.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	st := open(t, dsn)
	if err := st.View(func(tx store.Tx) error {
		if got := string(tx.Get(store.BucketMeta, "schema_version")); got != store.SchemaVersion {
			t.Errorf("schema_version: got %q, want %q", got, store.SchemaVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(st, func(string) int { return 1 }, func(store.Tx) error { return nil }); err != nil {
		t.Errorf("store.Migrate on a new PostgreSQL store: %v", err)
	}
	st.Close()

	cases := []struct {
		name, sql, wantErr string
	}{
		{"newer SQL schema", `INSERT INTO SCHEMA.econe_schema (version, name) VALUES (99, '0099_future.sql')`,
			"SQL schema version 99, this econe-server knows up to 1"},
		{"newer store schema", `UPDATE SCHEMA.econe_kv SET value = '99' WHERE bucket = 'meta' AND key = 'schema_version'`,
			"schema version 99, this econe-server reads " + store.SchemaVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dsn := srv.NewSchema(t)
			open(t, dsn).Close()
			schema := dsn[strings.LastIndex(dsn, "=")+1:]
			if err := srv.Exec(context.Background(), "postgres", strings.ReplaceAll(c.sql, "SCHEMA.", schema+".")); err != nil {
				t.Fatal(err)
			}
			st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err == nil {
				st.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("got %v, want an error saying %q", err, c.wantErr)
			}
		})
	}
}

// Two updates read a counter and then both write it: the second conflicts
// and runs again; with one attempt allowed, it fails with ErrConflicts,
// which is store.ErrBusy (the server's 503).
func TestConflictRetries(t *testing.T) {
	srv := pgtest.Start(t)
	cases := []struct {
		name        string
		maxAttempts int
		wantCount   int
		wantFailed  int
	}{
		{"retried", 0, 2, 0},
		{"bounded", 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := postgres.Open(context.Background(), srv.NewSchema(t), postgres.Options{MaxAttempts: c.maxAttempts, MaxConcurrentUpdates: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.Update(func(tx store.Tx) error { return tx.Put(store.BucketTags, "n", []byte("0")) }); err != nil {
				t.Fatal(err)
			}
			read := []chan struct{}{make(chan struct{}), make(chan struct{})}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 1 {
						// Queued once the first runs, so that the two do
						// not share a group's transaction (where the
						// first would wait for the second forever).
						<-read[0]
					}
					first := true
					errs[i] = st.Update(func(tx store.Tx) error {
						var n int
						fmt.Sscan(string(tx.Get(store.BucketTags, "n")), &n)
						if first { // both read before either writes
							first = false
							close(read[i])
							<-read[1-i]
						}
						return tx.Put(store.BucketTags, "n", []byte(fmt.Sprint(n+1)))
					})
				}()
			}
			wg.Wait()
			failed := 0
			for _, err := range errs {
				switch {
				case errors.Is(err, postgres.ErrConflicts) && errors.Is(err, store.ErrBusy):
					failed++
				case err != nil:
					t.Errorf("got %v, want nil or ErrConflicts (ErrBusy)", err)
				}
			}
			var got string
			st.View(func(tx store.Tx) error { got = string(tx.Get(store.BucketTags, "n")); return nil })
			if got != fmt.Sprint(c.wantCount) || failed != c.wantFailed {
				t.Errorf("got counter %s and %d failed, want %d and %d", got, failed, c.wantCount, c.wantFailed)
			}
		})
	}
}

// Many updates at once all succeed, and no more than MaxConcurrentUpdates
// run at a time; a View does not wait for a turn.
func TestConcurrentUpdatesBound(t *testing.T) {
	srv := pgtest.Start(t)
	const goroutines = 32
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			st, err := postgres.Open(context.Background(), srv.NewSchema(t), postgres.Options{MaxConns: int32(n + 2), MaxConcurrentUpdates: n,
				BeginTimeout: time.Minute}) // the 32 take their turns one by one
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var (
				mu                    sync.Mutex
				entries, inside, most int
				full                  = make(chan struct{}) // closed once n updates are inside
				viewed                = make(chan struct{}) // closed once a View ran meanwhile
				wg                    sync.WaitGroup
				errs                  = make([]error, goroutines)
			)
			for i := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = st.Update(func(tx store.Tx) error {
						mu.Lock()
						entries++
						first := entries <= n
						inside++
						most = max(most, inside)
						if entries == n {
							close(full)
						}
						mu.Unlock()
						defer func() { mu.Lock(); inside--; mu.Unlock() }()
						if first { // hold the turns until the View has run
							<-viewed
						}
						return tx.Put(store.BucketTags, fmt.Sprintf("k/%02d", i), tx.Get(store.BucketTags, "k/00"))
					})
				}()
			}
			<-full
			if err := st.View(func(tx store.Tx) error { tx.Get(store.BucketTags, "k/00"); return nil }); err != nil {
				t.Errorf("view while %d updates run: %v", n, err)
			}
			close(viewed)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("update %d: got %v, want nil", i, err)
				}
			}
			var keys int
			st.View(func(tx store.Tx) error {
				return tx.Scan(store.BucketTags, "k/", func(string, []byte) error { keys++; return nil })
			})
			if most != n || keys != goroutines {
				t.Errorf("got at most %d updates at once and %d keys, want %d and %d", most, keys, n, goroutines)
			}
		})
	}
}

// A write is sent with the transaction's next statement, or with COMMIT:
// one the database refuses (here a key longer than its index allows) fails
// the Update, wherever it went, and nothing of the function is committed.
func TestRefusedWrite(t *testing.T) {
	srv := pgtest.Start(t)
	st := open(t, srv.NewSchema(t))
	// Random bytes, so that PostgreSQL cannot compress the index row.
	raw := make([]byte, 10_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	huge := string(raw)
	cases := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"sent with COMMIT", func(tx store.Tx) error {
			tx.Put(store.BucketTags, "other", []byte("v"))
			return tx.Put(store.BucketTags, huge, []byte("v"))
		}},
		{"sent with a read", func(tx store.Tx) error {
			tx.Put(store.BucketTags, "other", []byte("v"))
			tx.Put(store.BucketTags, huge, []byte("v"))
			tx.Get(store.BucketTags, "x")
			return nil
		}},
		{"sent with the first read", func(tx store.Tx) error {
			tx.Put(store.BucketTags, huge, []byte("v"))
			tx.Get(store.BucketTags, "x")
			return tx.Put(store.BucketTags, "other", []byte("v"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := st.Update(c.fn)
			if err == nil || !strings.Contains(err.Error(), "index row") {
				t.Errorf("got error %v, want the database's refusal of the index row", err)
			}
			var got []byte
			if err := st.View(func(tx store.Tx) error {
				got = tx.Get(store.BucketTags, "other")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if got != nil {
				t.Errorf("after the failed Update: got %q committed, want nothing", got)
			}
			// The store goes on: the connection was not left in the
			// failed transaction.
			if err := st.Update(func(tx store.Tx) error { return tx.Put(store.BucketTags, "ok", nil) }); err != nil {
				t.Errorf("next Update: got %v, want nil", err)
			}
		})
	}
}

// An update that waits for a row another transaction holds gives up after
// a short lock timeout and runs again, as after a conflict, instead of
// waiting for it as long as it is held (in a deadlock between two
// replicas' groups, PostgreSQL's deadlock_timeout: 1 s).
func TestLockWaitRunsAgain(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewSchema(t)
	st := open(t, dsn)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close(ctx) })
	if _, err := holder.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `INSERT INTO econe_kv (bucket, key, value) VALUES ('tags', 'held', '')`); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- st.Update(func(tx store.Tx) error {
			runs.Add(1)
			return tx.Put(store.BucketTags, "held", []byte("v"))
		})
	}()
	// The holder keeps its row until the update has run twice.
	for give := time.After(30 * time.Second); runs.Load() < 2; {
		select {
		case <-give:
			holder.Exec(ctx, `ROLLBACK`)
			t.Fatalf("after 30 s the update still waits for the row: got %d runs, want 2", runs.Load())
		case <-time.After(time.Millisecond):
		}
	}
	if _, err := holder.Exec(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

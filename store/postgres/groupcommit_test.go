package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// The updates that queue while a turn is taken run together when it is
// given back: one transaction, one COMMIT and its round trip for all of
// them. A function that fails is undone alone, and the functions after
// it read what was there before it.
func TestGroupCommit(t *testing.T) {
	st, proxy := openOneWriter(t)
	const n = 8
	refused := errors.New("refused")
	// Round 0 prepares the statements on the connection.
	for round := range 2 {
		total := fmt.Sprintf("total%d", round)
		before := proxy.Count()
		fns := make([]func(store.Tx) error, n)
		for i := range fns {
			fns[i] = func(tx store.Tx) error {
				sum, err := strconv.Atoi(string(tx.Get(store.BucketTags, total)))
				if err != nil {
					return err
				}
				if err := tx.Put(store.BucketTags, total, []byte(strconv.Itoa(sum+1<<i))); err != nil {
					return err
				}
				if i%3 == 0 {
					return refused
				}
				return nil
			}
		}
		errs := group(t, st, func(tx store.Tx) error { return tx.Put(store.BucketTags, total, []byte("0")) }, fns)
		want := 0
		for i, err := range errs {
			if i%3 == 0 {
				if err != refused {
					t.Errorf("update %d: got error %v, want %v", i, err, refused)
				}
				continue
			}
			if err != nil {
				t.Errorf("update %d: got error %v, want none", i, err)
			}
			want += 1 << i
		}
		got, err := st.ReadMany(store.BucketTags, []string{total})
		if err != nil {
			t.Fatal(err)
		}
		if string(got[0]) != strconv.Itoa(want) {
			t.Errorf("round %d: got total %s, want %d (the sum of the successful updates' bits)", round, got[0], want)
		}
		// The blocker's BEGIN, INSERT and COMMIT; the batch's first read,
		// which the others share; its COMMIT with every write. ReadMany.
		if got := proxy.Count() - before; round == 1 && got != 4 {
			t.Errorf("got %d round trips for %d updates queued behind one, want 4", got, n)
		}
	}
}

// group runs fns as one group, in their order: each is queued while first,
// an update of its own, holds the turn. It returns their errors.
func group(t *testing.T, st *postgres.Store, first func(store.Tx) error, fns []func(store.Tx) error) []error {
	t.Helper()
	blocker, holding := make(chan error), make(chan struct{})
	go func() {
		blocker <- st.Update(func(tx store.Tx) error {
			close(holding)
			for st.Queued() < len(fns) {
				time.Sleep(time.Millisecond) // until all are queued
			}
			return first(tx)
		})
	}()
	<-holding // the turn, before the others queue
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		// One at a time, so that the batch runs them in this order
		// (and a test's rounds send the statements its first prepared).
		for st.Queued() < i {
			time.Sleep(time.Millisecond)
		}
		wg.Go(func() { errs[i] = st.Update(fn) })
	}
	wg.Wait()
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	return errs
}

// In a group a Create costs no round trip of its own: it goes with the
// next statement as if its key were absent, and a key found present (a
// miss) runs the function again, and those after it, inside the
// transaction, with Create saying false. The keys the functions name in
// their first Prefetch are read for all at once. Keys 2 and 5 are present
// before, function 3 fails after its Create.
func TestGroupCommitGuessesCreates(t *testing.T) {
	st, proxy := openOneWriter(t)
	const n = 8
	present := func(i int) bool { return i == 2 || i == 5 }
	refused := errors.New("refused")
	cases := []struct {
		name     string
		read     bool // each function reads a key of its own before its Create
		prefetch bool // and names it in a Prefetch first
		// The first update's round trip; the group's reads, each miss
		// one more (the round trip that found it, or the read it spoilt
		// again), the last guesses' check, its COMMIT.
		want int64
	}{
		{"creates only", false, false, 1 + 2 + 1 + 1},
		{"a read before each create", true, false, 1 + n + 2 + 1 + 1},
		// The group reads every function's prefetched keys at once.
		{"a prefetched read before each create", true, true, 1 + 1 + 2 + 1 + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Round 0 prepares the statements on the connection.
			for round := range 2 {
				key := func(i int) string { return fmt.Sprintf("%s/%d/c%d", c.name, round, i) }
				before := proxy.Count()
				created := make([]bool, n)
				fns := make([]func(store.Tx) error, n)
				for i := range fns {
					fns[i] = func(tx store.Tx) error {
						if c.read {
							read := fmt.Sprintf("%s/%d/r%d", c.name, round, i)
							if c.prefetch {
								store.Prefetch(tx, store.Ref{Bucket: store.BucketTags, Key: read})
							}
							tx.Get(store.BucketTags, read)
						}
						var err error
						if created[i], err = store.Create(tx, store.BucketTags, key(i), []byte("new")); err != nil {
							return err
						}
						if i == 3 {
							return refused
						}
						return nil
					}
				}
				errs := group(t, st, func(tx store.Tx) error {
					for i := range n {
						if present(i) {
							tx.Put(store.BucketTags, key(i), []byte("old"))
						}
					}
					return nil
				}, fns)
				if got := proxy.Count() - before; round == 1 && got != c.want {
					t.Errorf("got %d round trips for %d updates queued behind one, want %d", got, n, c.want)
				}
				keys := make([]string, n)
				for i := range keys {
					keys[i] = key(i)
				}
				values, err := st.ReadMany(store.BucketTags, keys)
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					want, wantCreated, wantErr := "new", true, error(nil)
					switch {
					case present(i):
						want, wantCreated = "old", false
					case i == 3:
						want, wantErr = "", refused
					}
					if created[i] != wantCreated || errs[i] != wantErr || string(values[i]) != want {
						t.Errorf("round %d, update %d: got created %v, error %v, value %q; want %v, %v, %q",
							round, i, created[i], errs[i], values[i], wantCreated, wantErr, want)
					}
				}
			}
		})
	}
}

// A bucket whose Creates keep finding their keys present is no longer
// guessed in: each miss runs the rest of its group again, which costs
// more than the round trip the guess saves.
func TestGroupCommitStopsGuessing(t *testing.T) {
	st, proxy := openOneWriter(t)
	const n = 8
	creates := func(round int) []func(store.Tx) error {
		fns := make([]func(store.Tx) error, n)
		for i := range fns {
			fns[i] = func(tx store.Tx) error {
				_, err := store.Create(tx, store.BucketTags, fmt.Sprintf("%d/%d", round, i), []byte("new"))
				return err
			}
		}
		return fns
	}
	// 32 Creates of present keys, then 8 of absent ones.
	for round := range 5 {
		before := proxy.Count()
		errs := group(t, st, func(tx store.Tx) error {
			for i := range n {
				if round < 4 {
					tx.Put(store.BucketTags, fmt.Sprintf("%d/%d", round, i), []byte("old"))
				}
			}
			return tx.Put(store.BucketTags, "blocker", nil)
		}, creates(round))
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, update %d: %v", round, i, err)
			}
		}
		// The first update's round trip, a Create's each, COMMIT.
		if got := proxy.Count() - before; round == 4 && got != 1+n+1 {
			t.Errorf("got %d round trips for %d Creates of absent keys after 32 of present ones, want %d", got, n, 1+n+1)
		}
	}
}

// openOneWriter opens a store of one writer whose round trips proxy counts.
func openOneWriter(t *testing.T) (*postgres.Store, *pgtest.RoundTrips) {
	t.Helper()
	srv := pgtest.Start(t)
	proxied, proxy := srv.CountRoundTrips(t, srv.NewSchema(t))
	st, err := postgres.Open(context.Background(), proxied, postgres.Options{MaxConns: 2, MaxConcurrentUpdates: 1, BeginTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, proxy
}

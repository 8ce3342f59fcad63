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
	srv := pgtest.Start(t)
	proxied, proxy := srv.CountRoundTrips(t, srv.NewSchema(t))
	st, err := postgres.Open(context.Background(), proxied, postgres.Options{MaxConns: 2, MaxConcurrentUpdates: 1, BeginTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const n = 8
	refused := errors.New("refused")
	// Round 0 prepares the statements on the connection.
	for round := range 2 {
		total := fmt.Sprintf("total%d", round)
		before := proxy.Count()
		blocker, holding := make(chan error), make(chan struct{})
		go func() {
			blocker <- st.Update(func(tx store.Tx) error {
				close(holding)
				for st.Queued() < n {
					time.Sleep(time.Millisecond) // until the n are queued
				}
				return tx.Put(store.BucketTags, total, []byte("0"))
			})
		}()
		<-holding // the turn, before the others queue
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			// One at a time, so that the batch runs them in this order
			// in both rounds: the statements round 0 prepared are the
			// ones round 1 sends.
			for st.Queued() < i {
				time.Sleep(time.Millisecond)
			}
			wg.Go(func() {
				errs[i] = st.Update(func(tx store.Tx) error {
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
				})
			})
		}
		wg.Wait()
		if err := <-blocker; err != nil {
			t.Fatal(err)
		}
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

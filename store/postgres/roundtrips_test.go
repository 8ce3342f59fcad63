package postgres_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// A transaction sends BEGIN with its first statement and its writes with
// the next statement, a function that reads and writes nothing opens no
// transaction at all, and a key is read from the database once.
func TestRoundTrips(t *testing.T) {
	srv := pgtest.Start(t)
	proxied, proxy := srv.CountRoundTrips(t, srv.NewSchema(t))
	st := open(t, proxied)

	get := func(tx store.Tx) error {
		tx.Get(store.BucketTags, "k")
		return nil
	}
	put := func(tx store.Tx) error { return tx.Put(store.BucketTags, "k", []byte("v")) }
	errFn := errors.New("no")
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	cases := []struct {
		name string
		run  func() error
		want int64
	}{
		{"View of one Get", func() error { return st.View(get) }, 2},
		{"View of two Gets of one key", func() error {
			return st.View(func(tx store.Tx) error {
				get(tx)
				return get(tx)
			})
		}, 2},
		{"View of two Gets of two keys", func() error {
			return st.View(func(tx store.Tx) error {
				tx.Get(store.BucketTags, "k1")
				tx.Get(store.BucketTags, "k2")
				return nil
			})
		}, 3},
		{"View of a GetMany of 100 keys", func() error {
			return st.View(func(tx store.Tx) error {
				tx.GetMany(store.BucketTags, keys)
				return nil
			})
		}, 2},
		{"ReadMany of 100 keys", func() error {
			_, err := st.ReadMany(store.BucketTags, keys)
			return err
		}, 1},
		{"Update of one Put", func() error { return st.Update(put) }, 1},
		{"Update failing after a Put", func() error {
			return st.Update(func(tx store.Tx) error {
				put(tx)
				return errFn
			})
		}, 0},
		// Writes go with the next read or COMMIT; a key read or written
		// is not read again.
		{"Update reading and writing", func() error {
			return st.Update(func(tx store.Tx) error {
				get(tx)
				put(tx)
				get(tx)
				tx.Put(store.BucketTags, "k2", []byte("v"))
				tx.GetMany(store.BucketTags, []string{"k", "k1"})
				tx.Delete(store.BucketTags, "k2")
				return nil
			})
		}, 3},
		{"View of a Prefetch and the Gets of its keys", func() error {
			return st.View(func(tx store.Tx) error {
				store.Prefetch(tx, store.Ref{Bucket: store.BucketTags, Key: "k"}, store.Ref{Bucket: store.BucketTags, Key: "k1"},
					store.Ref{Bucket: store.BucketQuotas, Key: "k"})
				tx.Get(store.BucketTags, "k")
				tx.Get(store.BucketTags, "k1")
				tx.Get(store.BucketQuotas, "k")
				return nil
			})
		}, 2},
		{"View of a Prefetch of a key and two prefixes and their reads", func() error {
			return st.View(func(tx store.Tx) error {
				store.Prefetch(tx, store.Ref{Bucket: store.BucketTags, Key: "k"}, store.PrefixRef(store.BucketTags, "k1"),
					store.PrefixRef(store.BucketQuotas, "k"))
				tx.Get(store.BucketTags, "k")
				tx.Scan(store.BucketTags, "k1", func(string, []byte) error { return nil })
				return tx.Scan(store.BucketQuotas, "k", func(string, []byte) error { return nil })
			})
		}, 2},
		{"ViewRefs of all its function reads", func() error {
			return store.ViewRefs(st, []store.Ref{{Bucket: store.BucketTags, Key: "k"}, store.PrefixRef(store.BucketTags, "k1")},
				func(tx store.Tx) error {
					tx.Get(store.BucketTags, "k")
					return tx.Scan(store.BucketTags, "k1", func(string, []byte) error { return nil })
				})
		}, 1},
		{"ViewRefs whose function reads another key", func() error {
			return store.ViewRefs(st, []store.Ref{{Bucket: store.BucketTags, Key: "k"}}, func(tx store.Tx) error {
				tx.Get(store.BucketTags, "k")
				tx.Get(store.BucketTags, "k1")
				return nil
			})
		}, 4},
		{"empty View", func() error { return st.View(func(store.Tx) error { return nil }) }, 0},
		{"empty Update", func() error { return st.Update(func(store.Tx) error { return nil }) }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The first run prepares the statements on the connection
			// (sequential calls reuse one).
			c.run()
			before := proxy.Count()
			if err := c.run(); err != nil && !errors.Is(err, errFn) {
				t.Fatal(err)
			}
			if got := proxy.Count() - before; got != c.want {
				t.Errorf("got %d round trips, want %d", got, c.want)
			}
		})
	}
}

// A read that goes alone (ReadMany, ViewRefs, the reads of a transaction
// with nothing pending) is a plain query: the same messages as a batch of
// one, without the batch's pipeline and its allocations per statement.
func TestSingleStatementAllocations(t *testing.T) {
	srv := pgtest.Start(t)
	st := open(t, srv.NewSchema(t))
	refs := []store.Ref{{Bucket: store.BucketTags, Key: "k"}, store.PrefixRef(store.BucketTags, "k1")}
	cases := []struct {
		name string
		run  func() error
		want float64
	}{
		{"ReadMany of one key", func() error {
			_, err := st.ReadMany(store.BucketTags, []string{"k"})
			return err
		}, 25}, // 38 by a batch of one
		{"ViewRefs of a key and a prefix", func() error {
			return store.ViewRefs(st, refs, func(tx store.Tx) error {
				tx.Get(store.BucketTags, "k")
				return tx.Scan(store.BucketTags, "k1", func(string, []byte) error { return nil })
			})
		}, 38}, // 48 with its text built at each call, 65 by a batch of one
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err != nil { // prepares the statement
				t.Fatal(err)
			}
			if got := testing.AllocsPerRun(100, func() { c.run() }); got > c.want {
				t.Errorf("got %v allocations, want at most %v", got, c.want)
			}
		})
	}
}

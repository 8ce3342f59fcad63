package postgres_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// ViewRefs' statement numbers the arguments of parts without an upper
// bound (a prefix of 0xff bytes, the empty prefix of an index) as it
// numbers the others: each part reads what its ref names, in its one
// round trip.
func TestViewRefsUnboundedParts(t *testing.T) {
	srv := pgtest.Start(t)
	dsn, trips := srv.CountRoundTrips(t, srv.NewSchema(t))
	st := open(t, dsn)
	if err := st.Update(func(tx store.Tx) error {
		return errors.Join(tx.Put(store.BucketTags, "a", []byte("1")), tx.Put(store.BucketTags, "\xff\xff1", []byte("2")),
			tx.Put(store.BucketQuotas, "r1", []byte("3")), tx.Put(store.BucketVolumes, "v/r1", []byte("4")),
			tx.Put(store.BucketUsers, "u", []byte("5")))
	}); err != nil {
		t.Fatal(err)
	}
	refs := []store.Ref{{Bucket: store.BucketTags, Key: "a"}, store.PrefixRef(store.BucketTags, "\xff\xff"),
		store.IndexRef(store.BucketQuotas, "", store.BucketVolumes, "v/"), store.PrefixRef(store.BucketTags, "a"),
		{Bucket: store.BucketUsers, Key: "u"}}
	var got []string
	view := func() error {
		return store.ViewRefs(st, refs, func(tx store.Tx) error {
			got = nil
			got = append(got, string(tx.Get(store.BucketTags, "a")))
			for _, r := range refs[1:4] {
				if err := tx.Scan(r.Bucket, r.Key, func(k string, v []byte) error {
					got = append(got, k+"="+string(v))
					return nil
				}); err != nil {
					return err
				}
			}
			got = append(got, string(tx.Get(store.BucketVolumes, "v/r1")), string(tx.Get(store.BucketUsers, "u")))
			return nil
		})
	}
	view() // prepares the statement
	before := trips.Count()
	if err := view(); err != nil {
		t.Fatal(err)
	}
	want := []string{"1", "\xff\xff1=2", "r1=3", "a=1", "4", "5"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if n := trips.Count() - before; n != 1 {
		t.Errorf("got %d round trips, want 1", n)
	}
}

// The store's connections use generic plans, unless the dsn says
// otherwise: once the table has statistics, PostgreSQL would plan
// ViewRefs' statement anew at every call (BenchmarkDescribeRead).
func TestGenericPlans(t *testing.T) {
	srv := pgtest.Start(t)
	cases := []struct{ name, dsn, want string }{
		{"default", srv.NewSchema(t), "force_generic_plan"},
		{"set by the dsn", srv.NewSchema(t) + "&plan_cache_mode=auto", "auto"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := open(t, c.dsn).Setting("plan_cache_mode")
			if err != nil || got != c.want {
				t.Errorf("plan_cache_mode: got %q, %v, want %q", got, err, c.want)
			}
		})
	}
}

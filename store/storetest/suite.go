// Package storetest is the conformance suite every store.Store must pass:
// call Run from the implementation's own test with a Harness. Each test
// starts from an empty store; the suite closes every store it is given.
// The rules checked are the contract in store's package documentation.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/econe/econe-server/store"
)

// Harness is what an implementation gives the suite.
type Harness struct {
	// New returns an empty store.
	New func(t *testing.T) store.Store
	// Reopen opens the data st holds as a new process would: st may be
	// closed or still open (as if its process had been killed), and only
	// what st has committed may be seen.
	Reopen func(t *testing.T, st store.Store) store.Store
	// Retries says the store runs update functions again under contention
	// (group commit, serialization failures): the suite then requires to
	// see a retry, not only that retries are harmless.
	Retries bool
}

// Run runs every test of the suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"KeyOrderAndPrefixScans", testKeyOrder},
		{"NilVersusEmpty", testNilVersusEmpty},
		{"GetMany", testGetMany},
		{"Prefetch", testPrefetch},
		{"ViewRefs", testViewRefs},
		{"KeyAndValueLimits", testLimits},
		{"PutCopiesItsValue", testPutCopies},
		{"ViewIsReadOnly", testViewReadOnly},
		{"ScanCallback", testScanCallback},
		{"ScanErrors", testScanErrors},
		{"ClaimLastPoolAddress", testClaimLastAddress},
		{"CreateOneOfMany", testCreate},
		{"NoLostUpdates", testNoLostUpdates},
		{"NoWriteSkew", testNoWriteSkew},
		{"NoPhantoms", testNoPhantoms},
		{"RetriedUpdates", testRetries},
		{"ErrorsUnchanged", testErrorsUnchanged},
		{"PanicInUpdate", testPanicInUpdate},
		{"PanicInView", testPanicInView},
		{"ViewDuringUpdate", testViewDuringUpdate},
		{"ViewsSeeSnapshots", testSnapshots},
		{"UpdateIsDurable", testDurable},
		{"UpdateAfterACondition", testUpdateAfter},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// The suite works in buckets every store has; a new store holds nothing
// in them.
const (
	bucketA = store.BucketTags
	bucketB = store.BucketUsers
)

func open(t *testing.T, h Harness) store.Store {
	t.Helper()
	st := h.New(t)
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

func reopen(t *testing.T, h Harness, st store.Store) store.Store {
	t.Helper()
	st2 := h.Reopen(t, st)
	t.Cleanup(func() { st2.Close() })
	return st2
}

func update(t *testing.T, st store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := st.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, st store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := st.View(fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func putAll(tx store.Tx, b store.Bucket, keys ...string) error {
	for _, k := range keys {
		if err := tx.Put(b, k, []byte("v:"+k)); err != nil {
			return fmt.Errorf("Put %q: %w", k, err)
		}
	}
	return nil
}

// scanKeys returns the keys Scan visits, in the order it visits them.
func scanKeys(tx store.Tx, b store.Bucket, prefix string) ([]string, error) {
	var keys []string
	err := tx.Scan(b, prefix, func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	return keys, err
}

func testKeyOrder(t *testing.T, h Harness) {
	st := open(t, h)
	keys := []string{
		"b", "a/b", "\xff", "a", "a\x00", "\x00", "a/", "z", "é", "日本", "a0", "\x7f",
		"\x80", "\xff\xff", "aa", "a\xff", "a\xff\xff", "\x00\x00", "A", "a/b/c", "b\x00",
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(x, y string) int { return bytes.Compare([]byte(x), []byte(y)) })
	prefixes := []string{"", "a", "a/", "a/b", "a\xff", "\xff", "\xff\xff", "\x00", "é", "日", "b", "c", "a/b/c/d", "\xfe"}
	check := func(tx store.Tx, when string) error {
		for _, p := range prefixes {
			var want []string
			for _, k := range sorted {
				if strings.HasPrefix(k, p) {
					want = append(want, k)
				}
			}
			got, err := scanKeys(tx, bucketA, p)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: Scan(%q): got %q, want %q", when, p, got, want)
			}
		}
		for _, k := range keys {
			if got, want := string(tx.Get(bucketA, k)), "v:"+k; got != want {
				t.Errorf("%s: Get(%q): got %q, want %q", when, k, got, want)
			}
		}
		return nil
	}
	update(t, st, func(tx store.Tx) error {
		if err := putAll(tx, bucketA, keys...); err != nil {
			return err
		}
		return check(tx, "in the writing transaction")
	})
	view(t, st, func(tx store.Tx) error { return check(tx, "after commit") })
	view(t, st, func(tx store.Tx) error {
		if got, _ := scanKeys(tx, bucketB, ""); len(got) != 0 {
			t.Errorf("Scan of another bucket: got %q, want nothing", got)
		}
		return nil
	})
}

func testNilVersusEmpty(t *testing.T, h Harness) {
	st := open(t, h)
	check := func(tx store.Tx, when string) error {
		for _, c := range []struct {
			key       string
			wantFound bool
		}{{"put-nil", true}, {"put-empty", true}, {"absent", false}, {"deleted", false}} {
			v := tx.Get(bucketA, c.key)
			if (v != nil) != c.wantFound || len(v) != 0 {
				t.Errorf("%s: Get(%q): got %#v, want found=%v and empty", when, c.key, v, c.wantFound)
			}
		}
		return tx.Scan(bucketA, "", func(k string, v []byte) error {
			if v == nil || len(v) != 0 {
				t.Errorf("%s: Scan gave %q the value %#v, want a non-nil empty slice", when, k, v)
			}
			return nil
		})
	}
	update(t, st, func(tx store.Tx) error {
		for _, err := range []error{
			tx.Put(bucketA, "put-nil", nil),
			tx.Put(bucketA, "put-empty", []byte{}),
			tx.Put(bucketA, "deleted", nil),
			tx.Delete(bucketA, "deleted"),
			tx.Delete(bucketA, "never-there"),
		} {
			if err != nil {
				return err
			}
		}
		return check(tx, "in the writing transaction")
	})
	view(t, st, func(tx store.Tx) error { return check(tx, "after commit") })
}

// testPrefetch checks that store.Prefetch changes nothing a function
// reads: absent keys stay absent, empty values empty, the transaction's
// own writes (before and after the hint) win, in an Update and a View.
func testPrefetch(t *testing.T, h Harness) {
	st := open(t, h)
	// An index in bucket index whose keys i/ID name records r/ID of bucketB.
	index := store.BucketQuotas
	update(t, st, func(tx store.Tx) error {
		for _, w := range []struct {
			b    store.Bucket
			k, v string
		}{{bucketA, "empty", ""}, {bucketA, "v", "stored"}, {index, "i/x", ""}, {index, "i/y", ""}, {bucketB, "r/x", "rx"}} {
			if err := tx.Put(w.b, w.k, []byte(w.v)); err != nil {
				return err
			}
		}
		return nil
	})
	checkNamed := func(tx store.Tx, when string, want map[string]string) {
		for k, w := range want {
			if got := tx.Get(bucketB, k); w == "<nil>" && got != nil || w != "<nil>" && string(got) != w {
				t.Errorf("%s: Get(%q) after an IndexRef: got %q (nil %v), want %s", when, k, got, got == nil, w)
			}
		}
	}
	refs := []store.Ref{store.IndexRef(index, "i/", bucketB, "r/"), {Bucket: bucketA, Key: "absent"}, {Bucket: bucketA, Key: "empty"}, {Bucket: bucketA, Key: "v"},
		{Bucket: bucketA, Key: "empty"}, {Bucket: bucketB, Key: "v"},
		store.PrefixRef(bucketA, ""), store.PrefixRef(bucketA, "e"), store.PrefixRef(bucketB, "v")}
	check := func(tx store.Tx, when string, cases []struct{ key, want string }) {
		for _, c := range cases {
			got := tx.Get(bucketA, c.key)
			if want := []byte(c.want); c.want == "<nil>" && got != nil || c.want != "<nil>" && (got == nil || !bytes.Equal(got, want)) {
				t.Errorf("%s: Get(%q) after Prefetch: got %q (nil %v), want %s", when, c.key, got, got == nil, c.want)
			}
		}
	}
	// checkScans compares the Scans of prefixes of bucketA with want
	// (key=value pairs by prefix).
	checkScans := func(tx store.Tx, when string, want map[string]string) {
		for prefix, w := range want {
			var got []string
			if err := tx.Scan(bucketA, prefix, func(k string, v []byte) error {
				got = append(got, k+"="+string(v))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != w {
				t.Errorf("%s: Scan(%q) after Prefetch: got %q, want %q", when, prefix, g, w)
			}
		}
	}
	// Rolled back, so that the View below sees what was stored.
	errRollBack := errors.New("roll back")
	if err := st.Update(func(tx store.Tx) error {
		if err := tx.Put(bucketA, "v", []byte("own")); err != nil {
			return err
		}
		if err := tx.Put(bucketB, "r/y", []byte("own")); err != nil {
			return err
		}
		store.Prefetch(tx, refs...)
		if err := tx.Delete(bucketA, "empty"); err != nil {
			return err
		}
		check(tx, "in an Update", []struct{ key, want string }{{"absent", "<nil>"}, {"empty", "<nil>"}, {"v", "own"}})
		if err := tx.Put(bucketA, "w", []byte("new")); err != nil {
			return err
		}
		checkScans(tx, "in an Update", map[string]string{"": "v=own w=new", "e": ""})
		// A key created in a prefix read beforehand is in its Scan.
		if _, err := store.Create(tx, bucketB, "v2", []byte("created")); err != nil {
			return err
		}
		if got, err := scanKeys(tx, bucketB, "v"); err != nil || !slices.Equal(got, []string{"v2"}) {
			t.Errorf("in an Update: Scan(%q) after Prefetch and Create: got %q (error %v), want [v2]", "v", got, err)
		}
		if err := tx.Delete(bucketB, "r/x"); err != nil {
			return err
		}
		checkNamed(tx, "in an Update", map[string]string{"r/x": "<nil>", "r/y": "own"})
		return errRollBack
	}); err != errRollBack {
		t.Fatalf("Update: got %v, want %v", err, errRollBack)
	}
	view(t, st, func(tx store.Tx) error {
		store.Prefetch(tx, refs...)
		check(tx, "in a View", []struct{ key, want string }{{"absent", "<nil>"}, {"empty", ""}, {"v", "stored"}})
		checkScans(tx, "in a View", map[string]string{"": "empty= v=stored", "e": "empty=", "x": ""})
		checkNamed(tx, "in a View", map[string]string{"r/x": "rx", "r/y": "<nil>"})
		return nil
	})
}

// testGetMany checks GetMany against Get: order, absent, empty and
// repeated keys, the transaction's own writes, inside a Scan callback,
// and more keys than one statement of a few.
func testGetMany(t *testing.T, h Harness) {
	st := open(t, h)
	many := make([]string, 600)
	for i := range many {
		many[i] = fmt.Sprintf("m/%04d", i)
	}
	update(t, st, func(tx store.Tx) error {
		return errors.Join(putAll(tx, bucketA, "a", "b", "\x00z", "\xff"), putAll(tx, bucketA, many...), tx.Put(bucketA, "empty", nil))
	})
	cases := []struct {
		name string
		keys []string
	}{
		{"none", nil},
		{"one", []string{"a"}},
		{"out of order, absent and empty", []string{"\xff", "absent", "a", "empty", "\x00z"}},
		{"repeated", []string{"b", "b", "absent", "b"}},
		{"many", append(slices.Clone(many), "absent")},
	}
	check := func(tx store.Tx, when string) {
		for _, c := range cases {
			got := tx.GetMany(bucketA, c.keys)
			if len(got) != len(c.keys) {
				t.Errorf("%s, %s: got %d values, want %d", when, c.name, len(got), len(c.keys))
				continue
			}
			for i, k := range c.keys {
				want := tx.Get(bucketA, k)
				if !bytes.Equal(got[i], want) || (got[i] == nil) != (want == nil) {
					t.Errorf("%s, %s: GetMany's value of %q: got %#v, want %#v (as Get)", when, c.name, k, got[i], want)
				}
			}
		}
	}
	rollBack := errors.New("roll back")
	if err := st.Update(func(tx store.Tx) error {
		if err := errors.Join(tx.Put(bucketA, "absent", []byte("now")), tx.Delete(bucketA, "b")); err != nil {
			return err
		}
		check(tx, "after writes in the same transaction")
		return rollBack
	}); err != rollBack {
		t.Fatalf("Update: got %v, want %v", err, rollBack)
	}
	view(t, st, func(tx store.Tx) error {
		check(tx, "in a View")
		return nil
	})
	update(t, st, func(tx store.Tx) error { return tx.Put(bucketB, "k", nil) })
	view(t, st, func(tx store.Tx) error {
		return tx.Scan(bucketB, "", func(string, []byte) error {
			check(tx, "in a Scan callback")
			return nil
		})
	})

	// ReadMany: a View of one GetMany, whose values are the caller's.
	for _, c := range cases {
		got, err := st.ReadMany(bucketA, c.keys)
		if err != nil {
			t.Fatalf("ReadMany, %s: %v", c.name, err)
		}
		view(t, st, func(tx store.Tx) error {
			want := tx.GetMany(bucketA, c.keys)
			if len(got) != len(want) {
				t.Fatalf("ReadMany, %s: got %d values, want %d", c.name, len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) || (got[i] == nil) != (want[i] == nil) {
					t.Errorf("ReadMany, %s: value of %q: got %#v, want %#v (as GetMany)", c.name, c.keys[i], got[i], want[i])
				}
			}
			return nil
		})
		for _, v := range got {
			for i := range v {
				v[i] = '!' // the caller's to change
			}
		}
	}
	view(t, st, func(tx store.Tx) error {
		if got := tx.Get(bucketA, "a"); string(got) != "v:a" {
			t.Errorf("after changing ReadMany's values: stored value of a is %q, want %q", got, "v:a")
		}
		return nil
	})
}

func testLimits(t *testing.T, h Harness) {
	st := open(t, h)
	long := make([]byte, 1024)
	for i := range long {
		long[i] = byte(i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	update(t, st, func(tx store.Tx) error {
		if err := tx.Put(bucketA, "", []byte("v")); err == nil {
			t.Error("Put with an empty key: got nil error, want refusal")
		}
		if err := tx.Put(bucketA, string(long), []byte("long")); err != nil {
			return fmt.Errorf("Put with a 1,024-byte key: %w", err)
		}
		return tx.Put(bucketA, "big", big)
	})
	view(t, st, func(tx store.Tx) error {
		if got := tx.Get(bucketA, string(long)); string(got) != "long" {
			t.Errorf("1,024-byte key: got %q, want %q", got, "long")
		}
		if got := tx.Get(bucketA, "big"); !bytes.Equal(got, big) {
			t.Errorf("1 MiB value: got %d bytes back, want the %d written", len(got), len(big))
		}
		if got, _ := scanKeys(tx, bucketA, ""); len(got) != 2 {
			t.Errorf("after refusing the empty key: got keys %q, want 2", got)
		}
		return nil
	})
}

func testPutCopies(t *testing.T, h Harness) {
	st := open(t, h)
	buf := []byte("original")
	update(t, st, func(tx store.Tx) error {
		if err := tx.Put(bucketA, "k", buf); err != nil {
			return err
		}
		copy(buf, "MUTATED!")
		if got := tx.Get(bucketA, "k"); string(got) != "original" {
			t.Errorf("in the transaction, after the caller reused its buffer: got %q, want %q", got, "original")
		}
		return nil
	})
	// What a caller keeps, it copies inside the transaction.
	var kept []byte
	view(t, st, func(tx store.Tx) error {
		kept = bytes.Clone(tx.Get(bucketA, "k"))
		return nil
	})
	update(t, st, func(tx store.Tx) error { return tx.Put(bucketA, "k", []byte("replaced")) })
	if string(kept) != "original" {
		t.Errorf("committed value: got %q, want %q", kept, "original")
	}
}

func testViewReadOnly(t *testing.T, h Harness) {
	st := open(t, h)
	update(t, st, func(tx store.Tx) error {
		if !tx.Writable() {
			t.Error("Update's Tx: got Writable false, want true")
		}
		return tx.Put(bucketA, "k", []byte("v"))
	})
	view(t, st, func(tx store.Tx) error {
		if tx.Writable() {
			t.Error("View's Tx: got Writable true, want false")
		}
		if err := tx.Put(bucketA, "k2", []byte("v")); err == nil {
			t.Error("Put in a View: got nil error, want refusal")
		}
		if err := tx.Delete(bucketA, "k"); err == nil {
			t.Error("Delete in a View: got nil error, want refusal")
		}
		return nil
	})
	view(t, st, func(tx store.Tx) error {
		if got, _ := scanKeys(tx, bucketA, ""); !slices.Equal(got, []string{"k"}) {
			t.Errorf("after refused writes in a View: got keys %q, want [k]", got)
		}
		return nil
	})
}

// Inside a Scan callback the transaction may be read anywhere and written
// in other buckets; writes to the scanned bucket are refused.
func testScanCallback(t *testing.T, h Harness) {
	st := open(t, h)
	keys := []string{"s/1", "s/2", "s/3", "s/4"}
	update(t, st, func(tx store.Tx) error {
		return errors.Join(putAll(tx, bucketA, keys...), putAll(tx, bucketB, "gone"))
	})
	var visited []string
	update(t, st, func(tx store.Tx) error {
		visited = nil
		err := tx.Scan(bucketA, "s/", func(k string, v []byte) error {
			visited = append(visited, k)
			if got := tx.Get(bucketA, "s/4"); string(got) != "v:s/4" {
				t.Errorf("Get in the callback: got %q, want %q", got, "v:s/4")
			}
			if inner, err := scanKeys(tx, bucketA, ""); err != nil || !slices.Equal(inner, keys) {
				t.Errorf("nested Scan of the same bucket: got %q, %v; want %q", inner, err, keys)
			}
			if err := tx.Put(bucketB, "copy/"+k, v); err != nil {
				t.Errorf("Put to another bucket in the callback: %v", err)
			}
			if err := tx.Delete(bucketB, "gone"); err != nil {
				t.Errorf("Delete in another bucket in the callback: %v", err)
			}
			if err := tx.Put(bucketA, "s/0new", []byte("v")); err == nil {
				t.Error("Put to the scanned bucket in the callback: got nil error, want refusal")
			}
			if err := tx.Delete(bucketA, k); err == nil {
				t.Error("Delete of the current key in the callback: got nil error, want refusal")
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Once Scan has returned, the bucket may be written again.
		return tx.Put(bucketA, "t/after", []byte("v"))
	})
	if !slices.Equal(visited, keys) {
		t.Errorf("visited %q, want %q", visited, keys)
	}
	view(t, st, func(tx store.Tx) error {
		if got, _ := scanKeys(tx, bucketA, ""); !slices.Equal(got, append(slices.Clone(keys), "t/after")) {
			t.Errorf("scanned bucket afterwards: got %q, want %q and t/after", got, keys)
		}
		want := []string{"copy/s/1", "copy/s/2", "copy/s/3", "copy/s/4"}
		if got, _ := scanKeys(tx, bucketB, ""); !slices.Equal(got, want) {
			t.Errorf("other bucket afterwards: got %q, want %q", got, want)
		}
		return nil
	})
}

func testScanErrors(t *testing.T, h Harness) {
	st := open(t, h)
	update(t, st, func(tx store.Tx) error { return putAll(tx, bucketA, "k1", "k2", "k3", "k4") })
	boom := errors.New("boom")
	cases := []struct {
		name      string
		stop      error
		wantErr   error
		wantCalls int
	}{
		{"callback error", boom, boom, 2},
		{"ErrStop", store.ErrStop, nil, 2},
		{"wrapped ErrStop", fmt.Errorf("done: %w", store.ErrStop), nil, 2},
		{"no error", nil, nil, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := st.View(func(tx store.Tx) error {
				return tx.Scan(bucketA, "k", func(string, []byte) error {
					if calls++; calls == 2 {
						return c.stop
					}
					return nil
				})
			})
			if err != c.wantErr || calls != c.wantCalls {
				t.Errorf("got %d calls and error %v, want %d and %v", calls, err, c.wantCalls, c.wantErr)
			}
		})
	}
}

// parallel runs fn(i) for i in [0, n) on n goroutines at once. The
// race tests yield (runtime.Gosched) between a read and the write it
// decides, so that a store letting functions interleave is caught.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// Fifty students claim the last free address of the pool at once: exactly
// one gets it.
func testClaimLastAddress(t *testing.T, h Harness) {
	st := open(t, h)
	update(t, st, func(tx store.Tx) error {
		return errors.Join(
			tx.Put(store.BucketAddressPool, "192.0.2.1", []byte("early/eipalloc-1")),
			tx.Put(store.BucketAddressPool, "192.0.2.2", nil))
	})
	const n = 50
	errs := make([]error, n)
	got := make([]string, n)
	parallel(n, func(i int) {
		a := &store.Address{Owner: fmt.Sprintf("u%02d", i), AllocationID: fmt.Sprintf("eipalloc-%02d", i)}
		errs[i] = st.Update(func(tx store.Tx) error {
			store.PoolHolder(tx, "192.0.2.2")
			runtime.Gosched()
			ip, err := store.ClaimPoolAddress(tx, "", a)
			got[i] = ip
			return err
		})
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("claims %d and %d both succeeded, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrPoolExhausted):
			t.Errorf("claim %d: got %v, want ErrPoolExhausted", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no claim succeeded, want exactly one")
	}
	view(t, st, func(tx store.Tx) error {
		holder, _ := store.PoolHolder(tx, "192.0.2.2")
		if want := store.OwnedKey(fmt.Sprintf("u%02d", winner), fmt.Sprintf("eipalloc-%02d", winner)); holder != want || got[winner] != "192.0.2.2" {
			t.Errorf("got %q holding %s (claimed %s), want the winner %q", holder, "192.0.2.2", got[winner], want)
		}
		return nil
	})
}

// testCreate: store.Create writes a key only when it is absent (own
// writes and deletes included), and of many updates creating one key at
// once exactly one does.
func testCreate(t *testing.T, h Harness) {
	st := open(t, h)
	b := store.BucketLaunchAddresses
	update(t, st, func(tx store.Tx) error { return tx.Put(b, "held", []byte("old")) })
	update(t, st, func(tx store.Tx) error {
		cases := []struct {
			name, key string
			before    func() error
			want      bool
			value     string
		}{
			{"absent", "new", nil, true, "v"},
			{"present", "held", nil, false, "old"},
			{"created in this update", "new", nil, false, "v"},
			{"deleted in this update", "held", func() error { return tx.Delete(b, "held") }, true, "v"},
		}
		for _, c := range cases {
			if c.before != nil {
				if err := c.before(); err != nil {
					return err
				}
			}
			created, err := store.Create(tx, b, c.key, []byte("v"))
			if err != nil {
				return err
			}
			if got := string(tx.Get(b, c.key)); created != c.want || got != c.value {
				t.Errorf("%s: got created %v, value %q; want %v, %q", c.name, created, got, c.want, c.value)
			}
		}
		return nil
	})
	const n = 20
	created := make([]bool, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		errs[i] = st.Update(func(tx store.Tx) error {
			var err error
			created[i], err = store.Create(tx, b, "contended", []byte(fmt.Sprint(i)))
			return err
		})
	})
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("update %d: %v", i, errs[i])
		case created[i] && winner >= 0:
			t.Errorf("updates %d and %d both created the key, want one", winner, i)
		case created[i]:
			winner = i
		}
	}
	view(t, st, func(tx store.Tx) error {
		if got := string(tx.Get(b, "contended")); winner < 0 || got != fmt.Sprint(winner) {
			t.Errorf("got %q stored, created by %d; want the creator's value", got, winner)
		}
		return nil
	})
}

func readInt(tx store.Tx, b store.Bucket, key string) int {
	var n int
	fmt.Sscan(string(tx.Get(b, key)), &n)
	return n
}

func putInt(tx store.Tx, b store.Bucket, key string, n int) error {
	return tx.Put(b, key, []byte(fmt.Sprint(n)))
}

// Read-modify-write of one counter from many goroutines loses nothing.
func testNoLostUpdates(t *testing.T, h Harness) {
	st := open(t, h)
	const goroutines, each = 20, 10
	parallel(goroutines, func(int) {
		for range each {
			if err := st.Update(func(tx store.Tx) error {
				n := readInt(tx, bucketA, "counter")
				runtime.Gosched()
				return putInt(tx, bucketA, "counter", n+1)
			}); err != nil {
				t.Error(err)
			}
		}
	})
	view(t, st, func(tx store.Tx) error {
		if got := readInt(tx, bucketA, "counter"); got != goroutines*each {
			t.Errorf("got counter %d, want %d", got, goroutines*each)
		}
		return nil
	})
}

// Each of ten on-call doctors goes off call if at least two are on call:
// run one at a time, exactly one stays. Snapshot isolation lets them all
// read "ten on call" and all leave (write skew).
func testNoWriteSkew(t *testing.T, h Harness) {
	st := open(t, h)
	const n = 10
	update(t, st, func(tx store.Tx) error {
		for i := range n {
			if err := tx.Put(bucketA, fmt.Sprintf("doc/%d", i), []byte("on")); err != nil {
				return err
			}
		}
		return nil
	})
	parallel(n, func(i int) {
		if err := st.Update(func(tx store.Tx) error {
			on := 0
			if err := tx.Scan(bucketA, "doc/", func(_ string, v []byte) error {
				if string(v) == "on" {
					on++
				}
				return nil
			}); err != nil || on < 2 {
				return err
			}
			runtime.Gosched()
			return tx.Put(bucketA, fmt.Sprintf("doc/%d", i), []byte("off"))
		}); err != nil {
			t.Error(err)
		}
	})
	view(t, st, func(tx store.Tx) error {
		on := 0
		for i := range n {
			if string(tx.Get(bucketA, fmt.Sprintf("doc/%d", i))) == "on" {
				on++
			}
		}
		if on != 1 {
			t.Errorf("got %d doctors on call, want 1", on)
		}
		return nil
	})
}

// Fifty goroutines insert a key under a prefix only if the prefix is empty:
// a predicate read (the scan) must conflict with inserts, not only with
// the keys it saw.
func testNoPhantoms(t *testing.T, h Harness) {
	st := open(t, h)
	parallel(50, func(i int) {
		if err := st.Update(func(tx store.Tx) error {
			if held, err := scanKeys(tx, bucketA, "lock/"); err != nil || len(held) > 0 {
				return err
			}
			runtime.Gosched()
			return tx.Put(bucketA, fmt.Sprintf("lock/%02d", i), nil)
		}); err != nil {
			t.Error(err)
		}
	})
	view(t, st, func(tx store.Tx) error {
		if held, _ := scanKeys(tx, bucketA, "lock/"); len(held) != 1 {
			t.Errorf("got %d holders %q, want exactly 1", len(held), held)
		}
		return nil
	})
}

// Every run of an update function starts from a transaction without the
// writes of its earlier runs, and only the last run's outcome counts.
// A blocker holds the first transaction so that the others arrive
// together; a third of them fail.
func testRetries(t *testing.T, h Harness) {
	st := open(t, h)
	const n, rounds = 49, 20
	retried := 0
	for round := 0; round < rounds && retried == 0; round++ {
		prefix := fmt.Sprintf("r%02d/", round)
		runs := make([]atomic.Int32, n)
		errs := make([]error, n)
		fails := make([]error, n)
		var arrived sync.WaitGroup
		arrived.Add(n)
		blocking := make(chan struct{})
		var once sync.Once
		blockerDone := make(chan error)
		go func() {
			blockerDone <- st.Update(func(tx store.Tx) error {
				once.Do(func() { close(blocking) })
				arrived.Wait()
				return tx.Put(bucketB, prefix+"blocker", nil)
			})
		}()
		<-blocking
		parallel(n, func(i int) {
			key := fmt.Sprintf("%s%02d", prefix, i)
			if i%3 == 0 {
				fails[i] = fmt.Errorf("update %d fails", i)
			}
			arrived.Done()
			errs[i] = st.Update(func(tx store.Tx) error {
				run := runs[i].Add(1)
				if v := tx.Get(bucketA, key); v != nil {
					t.Errorf("run %d of update %d sees %q, written by an earlier run", run, i, v)
				}
				if err := tx.Put(bucketA, key, []byte(fmt.Sprint(run))); err != nil {
					return err
				}
				total := prefix + "total"
				if err := putInt(tx, bucketB, total, readInt(tx, bucketB, total)+1); err != nil {
					return err
				}
				return fails[i]
			})
		})
		if err := <-blockerDone; err != nil {
			t.Fatalf("blocker: %v", err)
		}
		succeeded := 0
		view(t, st, func(tx store.Tx) error {
			for i := range n {
				if runs[i].Load() > 1 {
					retried++
				}
				if errs[i] != fails[i] {
					t.Errorf("update %d: got error %v, want %v", i, errs[i], fails[i])
				}
				v := tx.Get(bucketA, fmt.Sprintf("%s%02d", prefix, i))
				switch {
				case fails[i] != nil && v != nil:
					t.Errorf("failed update %d: got its write %q committed, want none", i, v)
				case fails[i] == nil && string(v) != fmt.Sprint(runs[i].Load()):
					t.Errorf("update %d: got the write of run %q, want the last run's %d", i, v, runs[i].Load())
				}
				if fails[i] == nil {
					succeeded++
				}
			}
			if got := readInt(tx, bucketB, prefix+"total"); got != succeeded {
				t.Errorf("got total %d, want %d: runs rolled back must leave no trace", got, succeeded)
			}
			return nil
		})
	}
	t.Logf("%d update functions were run more than once", retried)
	if retried == 0 {
		if h.Retries {
			t.Errorf("no update function was run twice in %d rounds, want retries under contention", rounds)
		}
	}
}

type codeError struct{ code string }

func (e *codeError) Error() string { return e.code }

func testErrorsUnchanged(t *testing.T, h Harness) {
	st := open(t, h)
	sentinel := errors.New("sentinel")
	cases := []struct {
		name string
		err  error
	}{
		{"sentinel", sentinel},
		{"wrapped", fmt.Errorf("context: %w", sentinel)},
		{"typed", &codeError{"InvalidParameterValue"}},
		{"from Scan's callback", nil}, // the callback's error, through Scan
	}
	update(t, st, func(tx store.Tx) error { return tx.Put(bucketA, "k", []byte("v")) })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.err
			fn := func(tx store.Tx) error { return want }
			if want == nil {
				want = &codeError{"from the callback"}
				fn = func(tx store.Tx) error {
					return tx.Scan(bucketA, "", func(string, []byte) error { return want })
				}
			}
			if got := st.View(fn); got != want {
				t.Errorf("View: got %#v, want %#v unchanged", got, want)
			}
			got := st.Update(func(tx store.Tx) error {
				if err := tx.Put(bucketA, "written-"+c.name, []byte("v")); err != nil {
					return err
				}
				return fn(tx)
			})
			if got != want {
				t.Errorf("Update: got %#v, want %#v unchanged", got, want)
			}
			view(t, st, func(tx store.Tx) error {
				if v := tx.Get(bucketA, "written-"+c.name); v != nil {
					t.Errorf("got the failed update's write %q, want it rolled back", v)
				}
				return nil
			})
		})
	}
}

// recovered runs fn and returns what it panicked with.
func recovered(fn func()) (p any) {
	defer func() { p = recover() }()
	fn()
	return nil
}

// A panicking update reaches its caller after rolling back; updates running
// at the same time are not harmed and the store stays usable.
func testPanicInUpdate(t *testing.T, h Harness) {
	st := open(t, h)
	const n = 20
	panics := make([]any, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		panics[i] = recovered(func() {
			errs[i] = st.Update(func(tx store.Tx) error {
				if err := tx.Put(bucketA, fmt.Sprintf("k%02d", i), []byte("v")); err != nil {
					return err
				}
				if i%5 == 0 {
					panic(fmt.Sprintf("storetest: panic %d", i))
				}
				return nil
			})
		})
	})
	view(t, st, func(tx store.Tx) error {
		for i := range n {
			var want any
			if i%5 == 0 {
				want = fmt.Sprintf("storetest: panic %d", i)
			}
			if panics[i] != want || errs[i] != nil {
				t.Errorf("update %d: got panic %v and error %v, want panic %v", i, panics[i], errs[i], want)
			}
			if written := tx.Get(bucketA, fmt.Sprintf("k%02d", i)) != nil; written != (want == nil) {
				t.Errorf("update %d: got written=%v, want %v", i, written, want == nil)
			}
		}
		return nil
	})
	update(t, st, func(tx store.Tx) error { return tx.Put(bucketA, "after", []byte("v")) })
}

func testPanicInView(t *testing.T, h Harness) {
	st := open(t, h)
	if p := recovered(func() { st.View(func(store.Tx) error { panic("storetest: view") }) }); p != "storetest: view" {
		t.Errorf("got panic %v, want the View function's own", p)
	}
	update(t, st, func(tx store.Tx) error { return tx.Put(bucketA, "after", []byte("v")) })
	view(t, st, func(tx store.Tx) error {
		if tx.Get(bucketA, "after") == nil {
			t.Error("after a panicking View: got no value, want the update's")
		}
		return nil
	})
}

// A View that runs while an update holds uncommitted writes neither waits
// for it nor sees them.
func testViewDuringUpdate(t *testing.T, h Harness) {
	st := open(t, h)
	update(t, st, func(tx store.Tx) error { return tx.Put(bucketA, "k", []byte("old")) })
	var seen []string
	err := st.Update(func(tx store.Tx) error {
		if err := errors.Join(tx.Put(bucketA, "k", []byte("new")), tx.Put(bucketA, "k2", []byte("new"))); err != nil {
			return err
		}
		done := make(chan error)
		go func() {
			done <- st.View(func(tx store.Tx) error {
				seen = []string{string(tx.Get(bucketA, "k")), fmt.Sprint(tx.Get(bucketA, "k2") != nil)}
				return nil
			})
		}()
		return <-done
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"old", "false"}; !slices.Equal(seen, want) {
		t.Errorf("View during the update: got k, k2 present = %q, want %q", seen, want)
	}
	view(t, st, func(tx store.Tx) error {
		if got := tx.Get(bucketA, "k"); string(got) != "new" {
			t.Errorf("after the update: got %q, want %q", got, "new")
		}
		return nil
	})
}

// Transfers between accounts keep the total; every View, reading account
// by account and then scanning, must see one state.
func testSnapshots(t *testing.T, h Harness) {
	st := open(t, h)
	const accounts, total = 8, 800
	update(t, st, func(tx store.Tx) error {
		for i := range accounts {
			if err := putInt(tx, bucketA, fmt.Sprintf("acct/%d", i), total/accounts); err != nil {
				return err
			}
		}
		return nil
	})
	var stop atomic.Bool
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for j := 0; !stop.Load(); j++ {
				from, to := fmt.Sprintf("acct/%d", (w+j)%accounts), fmt.Sprintf("acct/%d", (w+3*j+1)%accounts)
				if err := st.Update(func(tx store.Tx) error {
					return errors.Join(putInt(tx, bucketA, from, readInt(tx, bucketA, from)-1),
						putInt(tx, bucketA, to, readInt(tx, bucketA, to)+1))
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 200 {
		view(t, st, func(tx store.Tx) error {
			byGet := 0
			for i := range accounts {
				byGet += readInt(tx, bucketA, fmt.Sprintf("acct/%d", i))
				runtime.Gosched()
			}
			byScan := 0
			err := tx.Scan(bucketA, "acct/", func(k string, _ []byte) error {
				byScan += readInt(tx, bucketA, k)
				return nil
			})
			if byGet != total || byScan != total {
				t.Errorf("one View: got totals %d (Get) and %d (Scan), want %d", byGet, byScan, total)
			}
			return err
		})
	}
	stop.Store(true)
	writers.Wait()
}

// An update that returned nil is there when the data is opened again, by a
// new process after this one was killed, and after a clean Close.
func testDurable(t *testing.T, h Harness) {
	st := open(t, h)
	const n = 20
	parallel(n, func(i int) {
		if err := st.Update(func(tx store.Tx) error { return putAll(tx, bucketA, fmt.Sprintf("k%02d", i)) }); err != nil {
			t.Error(err)
		}
	})
	failed := errors.New("failed")
	if err := st.Update(func(tx store.Tx) error { return errors.Join(putAll(tx, bucketA, "failed"), failed) }); !errors.Is(err, failed) {
		t.Fatalf("got %v, want the update's own error", err)
	}
	check := func(st store.Store, when string) {
		view(t, st, func(tx store.Tx) error {
			got, err := scanKeys(tx, bucketA, "")
			if len(got) != n || slices.Contains(got, "failed") {
				t.Errorf("%s: got keys %q, want the %d committed and not the failed one", when, got, n)
			}
			return err
		})
	}
	check(reopen(t, h, st), "reopened while the writer is still open")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check(reopen(t, h, st), "reopened after Close")
}

// An update made through store.After commits only once its condition
// holds, and nothing of it when the condition fails; a Gated store runs the
// function before it waits, so that the two overlap.
func testUpdateAfter(t *testing.T, h Harness) {
	st := open(t, h)
	_, gated := st.(store.Gated)
	present := func(key string) bool {
		found := false
		view(t, st, func(tx store.Tx) error {
			found = tx.Get(bucketA, key) != nil
			return nil
		})
		return found
	}
	refused := errors.New("audit failed")
	for _, tc := range []struct {
		name string
		cond error
	}{
		{"condition holds", nil},
		{"condition fails", refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "-")
			var ran atomic.Bool
			waited := 0
			err := store.After(st, func() error {
				waited++
				if gated && !ran.Load() {
					t.Errorf("the condition was waited for before the function ran, want them to overlap")
				}
				if present(key) {
					t.Errorf("got %s committed before its condition returned", key)
				}
				return tc.cond
			}).Update(func(tx store.Tx) error {
				ran.Store(true)
				return putAll(tx, bucketA, key)
			})
			if err != tc.cond {
				t.Errorf("got error %v, want %v", err, tc.cond)
			}
			if waited == 0 {
				t.Errorf("the condition was never waited for")
			}
			if got, want := present(key), tc.cond == nil; got != want {
				t.Errorf("got %s committed %v, want %v", key, got, want)
			}
		})
	}
	// Many at once (one group commit on bbolt): only those whose
	// condition failed are left out, and plain updates are unaffected.
	const n = 24
	errs := make([]error, n)
	parallel(n, func(i int) {
		fn := func(tx store.Tx) error { return putAll(tx, bucketB, fmt.Sprintf("k%02d", i)) }
		switch i % 3 {
		case 0:
			errs[i] = st.Update(fn)
		case 1:
			errs[i] = store.After(st, func() error { return nil }).Update(fn)
		default:
			errs[i] = store.After(st, func() error { return refused }).Update(fn)
		}
	})
	view(t, st, func(tx store.Tx) error {
		for i := range n {
			want := error(nil)
			if i%3 == 2 {
				want = refused
			}
			if errs[i] != want {
				t.Errorf("update %d: got error %v, want %v", i, errs[i], want)
			}
			if got := tx.Get(bucketB, fmt.Sprintf("k%02d", i)) != nil; got != (want == nil) {
				t.Errorf("update %d: got committed %v, want %v", i, got, want == nil)
			}
		}
		return nil
	})
}

// Close lets accepted updates finish; afterwards every call is refused with
// ErrClosed, and what was acknowledged is kept.
func testClose(t *testing.T, h Harness) {
	st := open(t, h)
	const n = 20
	errs := make([]error, n+1)
	parallel(n+1, func(i int) {
		if i == n {
			errs[i] = st.Close()
			return
		}
		errs[i] = st.Update(func(tx store.Tx) error { return putAll(tx, bucketA, fmt.Sprintf("k%02d", i)) })
	})
	if errs[n] != nil {
		t.Errorf("Close: got %v, want nil", errs[n])
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"View", st.View(func(store.Tx) error { return nil })},
		{"Update", st.Update(func(store.Tx) error { return nil })},
		{"ReadMany", func() error { _, err := st.ReadMany(bucketA, []string{"k00"}); return err }()},
	} {
		if !errors.Is(c.err, store.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", c.name, c.err)
		}
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	view(t, reopen(t, h, st), func(tx store.Tx) error {
		for i := range n {
			written := tx.Get(bucketA, fmt.Sprintf("k%02d", i)) != nil
			switch {
			case errs[i] == nil && !written:
				t.Errorf("update %d: acknowledged before Close, got lost", i)
			case errs[i] != nil && (written || !errors.Is(errs[i], store.ErrClosed)):
				t.Errorf("update %d: got error %v and written=%v, want ErrClosed and nothing written", i, errs[i], written)
			}
		}
		return nil
	})
}

// testViewRefs checks that store.ViewRefs gives its function what a View
// would, whether the function reads only what refs name or more, and
// returns the last run's error.
func testViewRefs(t *testing.T, h Harness) {
	st := open(t, h)
	update(t, st, func(tx store.Tx) error {
		for _, k := range []string{"a", "p/1", "p/2"} {
			if err := tx.Put(bucketA, k, []byte("v"+k)); err != nil {
				return err
			}
		}
		if err := tx.Put(store.BucketQuotas, "i/x", nil); err != nil {
			return err
		}
		if err := tx.Put(bucketB, "r/x", []byte("rx")); err != nil {
			return err
		}
		return tx.Put(bucketB, "b", []byte("vb"))
	})
	refs := []store.Ref{{Bucket: bucketA, Key: "a"}, {Bucket: bucketA, Key: "absent"}, store.PrefixRef(bucketA, "p/"),
		store.IndexRef(store.BucketQuotas, "i/", bucketB, "r/")}
	errDone := errors.New("done")
	cases := []struct {
		name  string
		other bool // the function also reads a key refs do not name
		want  string
	}{
		{"reads only refs", false, "va <nil> p/1=vp/1 p/2=vp/2 rx"},
		{"reads more", true, "va <nil> p/1=vp/1 p/2=vp/2 rx vb"},
	}
	for _, c := range cases {
		var got string
		err := store.ViewRefs(st, refs, func(tx store.Tx) error {
			got = "" // assigned on every run
			add := func(v []byte) {
				if v == nil {
					got += " <nil>"
				} else {
					got += " " + string(v)
				}
			}
			add(tx.Get(bucketA, "a"))
			add(tx.Get(bucketA, "absent"))
			if err := tx.Scan(bucketA, "p/", func(k string, v []byte) error {
				got += " " + k + "=" + string(v)
				return nil
			}); err != nil {
				return err
			}
			add(tx.Get(bucketB, "r/x")) // named by the index
			if c.other {
				add(tx.Get(bucketB, "b"))
			}
			return errDone
		})
		if err != errDone {
			t.Errorf("%s: got error %v, want %v", c.name, err, errDone)
		}
		if got = strings.TrimSpace(got); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

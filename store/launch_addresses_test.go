package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// readCounter counts a transaction's Gets, Scans and the keys they visit.
type readCounter struct {
	Tx
	gets, scans, scanned int
}

func (c *readCounter) Get(b Bucket, key string) []byte {
	c.gets++
	return c.Tx.Get(b, key)
}

func (c *readCounter) Scan(b Bucket, prefix string, fn func(string, []byte) error) error {
	c.scans++
	return c.Tx.Scan(b, prefix, func(k string, v []byte) error {
		c.scanned++
		return fn(k, v)
	})
}

// poolFull and foundFull pass the transaction's full-pool memo through,
// so that the reads it saves show.
func (c *readCounter) poolFull(pool []string) bool {
	m, ok := c.Tx.(fullPools)
	return ok && m.poolFull(pool)
}

func (c *readCounter) foundFull(pool []string) {
	if m, ok := c.Tx.(fullPools); ok {
		m.foundFull(pool)
	}
}

// A launch address claim tries 4 probes (here, with no store.Creator, a
// Get each), and when those are taken reads the taken ones in one Scan,
// however full the pool, where trying address by address read up to all
// of it, one round trip each on PostgreSQL. The Scan stops at the first
// free address after the probes, in the pool's bytewise order, and gives
// the pool's first free one when none is after them.
func TestClaimLaunchAddressReadsProbesThenScans(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool := make([]string, 64)
	for i := range pool {
		pool[i] = fmt.Sprintf("192.0.2.%d", i+1)
	}
	slices.Sort(pool) // .1, .10, .11, … .19, .2, .20, …
	free := []string{"192.0.2.2", "192.0.2.25", "192.0.2.62", "192.0.2.63", "192.0.2.64"}
	err = st.Update(func(tx Tx) error {
		for _, ip := range pool {
			if slices.Contains(free, ip) {
				continue
			}
			if err := PutJSON(tx, BucketLaunchAddresses, ip, &LaunchAddress{Owner: "alice", InstanceID: "i-" + ip}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each case claims what it gets, for the ones after it.
	cases := []struct {
		name                 string
		start                string
		want                 string
		gets, scans, scanned int
	}{
		{"start free", "192.0.2.64", "192.0.2.64", 1, 0, 0},
		{"a probe free", "192.0.2.60", "192.0.2.62", 3, 0, 0},
		// .11 to .14 taken; the Scan stops at .20, the key after .2.
		{"probes taken", "192.0.2.11", "192.0.2.2", 4, 1, 12},
		// .3, .30, .31, .32 taken; .63 is the first free one after them.
		{"after the probes", "192.0.2.3", "192.0.2.63", 4, 1, 59},
		// None free after .59, .6, .60, .61: the pool's first free one.
		{"only before the probes", "192.0.2.59", "192.0.2.25", 4, 1, 63},
		{"full", "192.0.2.1", "", 4, 1, 64},
	}
	for i, c := range cases {
		var got string
		var rc *readCounter
		err := st.Update(func(tx Tx) error {
			rc = &readCounter{Tx: tx}
			var err error
			got, err = ClaimLaunchAddress(rc, pool, slices.Index(pool, c.start), &Instance{Owner: "bob", ID: fmt.Sprintf("i-%017d", i)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want || rc.gets != c.gets || rc.scans != c.scans || rc.scanned != c.scanned {
			t.Errorf("%s: got %q in %d Gets and %d Scans of %d keys, want %q in %d, %d and %d",
				c.name, got, rc.gets, rc.scans, rc.scanned, c.want, c.gets, c.scans, c.scanned)
		}
	}
}

// On bbolt a claim that found the pool full is remembered once it
// commits, and the claims after it read nothing, until an address is
// freed: by a committed Delete, by one rolled back, or by one after the
// full pool was read in the same transaction. A transaction that found
// it full and was rolled back is forgotten.
func TestClaimLaunchAddressRemembersFullPool(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"}
	err = st.Update(func(tx Tx) error {
		for _, ip := range pool {
			if err := PutJSON(tx, BucketLaunchAddresses, ip, &LaunchAddress{Owner: "alice", InstanceID: "i-" + ip}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rolledBack := errors.New("rolled back")
	n := 0
	claim := func(tx Tx) (string, int) {
		n++
		rc := &readCounter{Tx: tx}
		ip, err := ClaimLaunchAddress(rc, pool, 0, &Instance{Owner: "bob", ID: fmt.Sprintf("i-%017d", n)})
		if err != nil {
			t.Fatal(err)
		}
		return ip, rc.gets + rc.scans
	}
	free := func(ip string) func(Tx) error {
		return func(tx Tx) error { return FreeLaunchAddress(tx, ip) }
	}
	// Each case runs before (in a transaction of its own, committed unless
	// it fails), then claims in another; with rollBack that one claims
	// again (the pool then full) and fails.
	cases := []struct {
		name     string
		before   func(Tx) error
		rollBack bool
		want     string
		reads    int
	}{
		{"first full claim", nil, false, "", 5},
		{"remembered", nil, false, "", 0},
		{"freed", free("192.0.2.3"), false, "192.0.2.3", 3},
		{"full again", nil, false, "", 5},
		{"remembered again", nil, false, "", 0},
		{"a free rolled back", func(tx Tx) error {
			if err := FreeLaunchAddress(tx, "192.0.2.4"); err != nil {
				return err
			}
			return rolledBack
		}, false, "", 5},
		{"found full, then freed in the same transaction", func(tx Tx) error {
			if ip, _ := claim(tx); ip != "" {
				t.Errorf("got %q, want the pool full", ip)
			}
			return FreeLaunchAddress(tx, "192.0.2.6")
		}, false, "192.0.2.6", 5},
		{"found full in a transaction rolled back", free("192.0.2.5"), true, "192.0.2.5", 5},
		{"after the rollback", nil, false, "192.0.2.5", 5},
		{"full at last", nil, false, "", 5},
		{"remembered at last", nil, false, "", 0},
	}
	for _, c := range cases {
		if c.before != nil {
			if err := st.Update(c.before); err != nil && !errors.Is(err, rolledBack) {
				t.Fatal(err)
			}
		}
		var got string
		var reads int
		err := st.Update(func(tx Tx) error {
			got, reads = claim(tx)
			if !c.rollBack {
				return nil
			}
			if again, _ := claim(tx); again != "" {
				t.Errorf("%s: second claim got %q, want the pool full", c.name, again)
			}
			return rolledBack
		})
		if err != nil && !errors.Is(err, rolledBack) {
			t.Fatal(err)
		}
		if got != c.want || reads != c.reads {
			t.Errorf("%s: got %q in %d reads, want %q in %d", c.name, got, reads, c.want, c.reads)
		}
	}
}

// A claim in a full pool of 254 (the default /24 after as many launches):
// every launch of the benchmark's long runs reads the taken ones.
func BenchmarkClaimLaunchAddressFullPool(b *testing.B) {
	st, err := OpenBolt(filepath.Join(b.TempDir(), "econe.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	pool := make([]string, 254)
	for i := range pool {
		pool[i] = fmt.Sprintf("192.0.2.%d", i+1)
	}
	slices.Sort(pool)
	err = st.Update(func(tx Tx) error {
		for _, ip := range pool {
			if err := PutJSON(tx, BucketLaunchAddresses, ip, &LaunchAddress{Owner: "alice", InstanceID: "i-" + ip}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	inst := &Instance{Owner: "bob", ID: "i-00000000000000001"}
	err = st.View(func(tx Tx) error {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if ip, err := ClaimLaunchAddress(tx, pool, i%len(pool), inst); err != nil || ip != "" {
				b.Fatalf("got %q, %v; want no address", ip, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

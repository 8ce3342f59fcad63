package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// readCounter counts a transaction's Gets and Scans.
type readCounter struct {
	Tx
	gets, scans int
}

func (c *readCounter) Get(b Bucket, key string) []byte {
	c.gets++
	return c.Tx.Get(b, key)
}

func (c *readCounter) Scan(b Bucket, prefix string, fn func(string, []byte) error) error {
	c.scans++
	return c.Tx.Scan(b, prefix, fn)
}

// A launch address claim tries 4 probes (here, with no store.Creator, a
// Get each), and when those are taken reads the taken ones in one Scan,
// however full the pool, where trying address by address read up to all
// of it, one round trip each on PostgreSQL.
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
	err = st.Update(func(tx Tx) error {
		for _, ip := range pool[:61] { // .62, .63 and .64 free
			if err := PutJSON(tx, BucketLaunchAddresses, ip, &LaunchAddress{Owner: "alice", InstanceID: "i-" + ip}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		start       int
		want        string
		gets, scans int
	}{
		{"start free", 63, "192.0.2.64", 1, 0},
		{"a probe free", 59, "192.0.2.62", 3, 0},
		{"probes taken", 10, "192.0.2.63", 4, 1},
		{"full", 0, "", 4, 1},
	}
	for i, c := range cases {
		var got string
		var rc *readCounter
		err := st.Update(func(tx Tx) error {
			rc = &readCounter{Tx: tx}
			var err error
			got, err = ClaimLaunchAddress(rc, pool, c.start, &Instance{Owner: "bob", ID: fmt.Sprintf("i-%017d", i)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want || rc.gets != c.gets || rc.scans != c.scans {
			t.Errorf("%s: got %q in %d Gets and %d Scans, want %q in %d and %d", c.name, got, rc.gets, rc.scans, c.want, c.gets, c.scans)
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

package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestAddressPool(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice := &Address{AllocationID: "eipalloc-0000000000000000a", Owner: "alice"}
	bob := &Address{AllocationID: "eipalloc-0000000000000000b", Owner: "bob"}
	update := func(fn func(Tx) error) {
		t.Helper()
		if err := st.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	holder := func(ip string) string {
		var h string
		var ok bool
		st.View(func(tx Tx) error { h, ok = PoolHolder(tx, ip); return nil })
		if !ok {
			return "(not in pool)"
		}
		return h
	}

	update(func(tx Tx) error { return SyncAddressPool(tx, []string{"203.0.113.10", "203.0.113.11"}) })
	update(func(tx Tx) error {
		ip, err := ClaimPoolAddress(tx, "", alice)
		alice.PublicIP = ip
		if err != nil {
			return err
		}
		return PutAddress(tx, alice)
	})
	cases := []struct {
		name    string
		want    string
		wantErr error
	}{
		{"taken address", "203.0.113.10", ErrAddressTaken},
		{"address outside the pool", "198.51.100.1", ErrNotInPool},
		{"named free address", "203.0.113.11", nil},
		{"any, when none is free", "", ErrPoolExhausted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := st.Update(func(tx Tx) error {
				ip, err := ClaimPoolAddress(tx, c.want, bob)
				bob.PublicIP = ip
				if err != nil {
					return err
				}
				return PutAddress(tx, bob)
			})
			if !errors.Is(err, c.wantErr) {
				t.Errorf("got %v, want %v", err, c.wantErr)
			}
		})
	}

	// The admin drops .11 (held by bob) and adds .12; holders survive the sync.
	update(func(tx Tx) error { return SyncAddressPool(tx, []string{"203.0.113.10", "203.0.113.12"}) })
	for ip, want := range map[string]string{
		"203.0.113.10": "alice/" + alice.AllocationID,
		"203.0.113.11": "(not in pool)",
		"203.0.113.12": "",
	} {
		if got := holder(ip); got != want {
			t.Errorf("after sync, %s: got holder %q, want %q", ip, got, want)
		}
	}
	// Releasing the retired address does not put it back into the pool.
	update(func(tx Tx) error { return ReleaseAddress(tx, bob) })
	update(func(tx Tx) error { return ReleaseAddress(tx, alice) })
	if got, got2 := holder("203.0.113.11"), holder("203.0.113.10"); got != "(not in pool)" || got2 != "" {
		t.Errorf("after release: got %q and %q, want the retired address gone and the other free", got, got2)
	}
}

package store

import (
	"path/filepath"
	"testing"
	"time"
)

// A data directory of version 2 keeps the sim's machines in bucket
// backend_sim; Migrate moves them into the sim's space, where the sim
// reads them, and leaves nothing behind.
func TestMigrateSimMachinesFromSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "econe.db")
	st, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	machines := map[string]string{
		"machine/20260301T120000.000000000/sim-1": `{"id":"sim-1","state":"running"}`,
		"machine/20260301T120001.000000000/sim-2": `{"id":"sim-2","state":"stopped"}`,
	}
	err = st.Update(func(tx Tx) error {
		for k, v := range machines {
			if err := tx.Put(bucketRetiredBackendSim, k, []byte(v)); err != nil {
				return err
			}
		}
		return tx.Put(BucketMeta, schemaKey, []byte("2"))
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st, err = OpenBolt(path, time.Second); err != nil {
		t.Fatalf("opening a schema 2 store: %v", err)
	}
	defer st.Close()
	if err := Migrate(st, func(string) int { return 1 }, func(Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := NewSpace(st, "sim").View(func(tx SpaceTx) error {
		return tx.Scan("machine/", func(k string, v []byte) error {
			got[k] = string(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for k, v := range machines {
		if got[k] != v {
			t.Errorf("sim space %s: got %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(machines) {
		t.Errorf("sim space: got %d machines, want %d", len(got), len(machines))
	}
	st.View(func(tx Tx) error {
		if v := string(tx.Get(BucketMeta, schemaKey)); v != SchemaVersion {
			t.Errorf("schema version: got %s, want %s", v, SchemaVersion)
		}
		left := 0
		tx.Scan(bucketRetiredBackendSim, "", func(string, []byte) error { left++; return nil })
		if left != 0 {
			t.Errorf("backend_sim after the migration: got %d keys, want 0", left)
		}
		return nil
	})
}

// Spaces do not see each other's keys, even when one name prefixes another.
func TestSpacesAreApart(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, b := NewSpace(st, "sim"), NewSpace(st, "sim2")
	if err := a.Update(func(tx SpaceTx) error { return tx.Put("k", []byte("a")) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx SpaceTx) error { return tx.Put("k", []byte("b")) }); err != nil {
		t.Fatal(err)
	}
	var keys []string
	a.View(func(tx SpaceTx) error {
		if got := string(tx.Get("k")); got != "a" {
			t.Errorf("sim's k: got %q, want a", got)
		}
		return tx.Scan("", func(k string, _ []byte) error { keys = append(keys, k); return nil })
	})
	if len(keys) != 1 || keys[0] != "k" {
		t.Errorf("sim's keys: got %v, want [k]", keys)
	}
}

// A space's ReadMany reads its own keys only.
func TestSpaceReadMany(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sim, other := NewSpace(st, "sim"), NewSpace(st, "ec2")
	if err := sim.Update(func(tx SpaceTx) error { return tx.Put("machine/a", []byte("A")) }); err != nil {
		t.Fatal(err)
	}
	if err := other.Update(func(tx SpaceTx) error { return tx.Put("machine/b", []byte("B")) }); err != nil {
		t.Fatal(err)
	}
	got, err := sim.ReadMany([]string{"machine/a", "machine/b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0]) != "A" || got[1] != nil {
		t.Errorf("got %q, want [A <nil>]: the space's own key, not another space's", got)
	}
}

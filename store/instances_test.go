package store

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A data directory of schema 4 has no index of launch intents: Migrate
// builds it from the instances (only those still waiting for their
// backend), and leaves the ledger alone (version 4 already has totals).
func TestMigrateLaunchIntentsFromSchema4(t *testing.T) {
	st, ledger := migrateFrom(t, "4", func(tx Tx) error {
		for _, inst := range []*Instance{
			{ID: "i-1", Owner: "ann", State: "pending"},                   // an intent
			{ID: "i-2", Owner: "ann", State: "running", BackendID: "m-2"}, // answered
			{ID: "i-3", Owner: "ann", State: "terminated"},                // refused, or terminated in flight
			{ID: "i-4", Owner: "ben", State: "pending", Replica: "h/1/a"}, // another replica's intent
		} {
			// What version 4 wrote: the record alone.
			if err := PutOwned(tx, BucketInstances, inst.Owner, inst.ID, inst); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	st.View(func(tx Tx) error {
		return ScanLaunchIntents(tx, func(owner, id string) error {
			got = append(got, owner+"/"+id)
			return nil
		})
	})
	if want := []string{"ann/i-1", "ben/i-4"}; !slices.Equal(got, want) {
		t.Errorf("launch intents: got %v, want %v", got, want)
	}
	if ledger {
		t.Errorf("ledger step: got run from version 4, want only from versions before it")
	}
}

// migrateFrom writes what version wrote (records put by old), reopens the
// store, runs Migrate and returns the open store with whether the ledger
// step ran; it checks the version is now SchemaVersion.
func migrateFrom(t *testing.T, version string, old func(Tx) error) (st *Bolt, ledger bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "econe.db")
	st, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx Tx) error {
		if err := old(tx); err != nil {
			return err
		}
		return tx.Put(BucketMeta, schemaKey, []byte(version))
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st, err = OpenBolt(path, time.Second); err != nil {
		t.Fatalf("opening a schema %s store: %v", version, err)
	}
	t.Cleanup(func() { st.Close() })
	if err := Migrate(st, func(string) int { return 1 }, func(Tx) error { ledger = true; return nil }); err != nil {
		t.Fatal(err)
	}
	st.View(func(tx Tx) error {
		if v := string(tx.Get(BucketMeta, schemaKey)); v != SchemaVersion {
			t.Errorf("schema version: got %s, want %s", v, SchemaVersion)
		}
		return nil
	})
	return st, ledger
}

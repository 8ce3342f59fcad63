package usage

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
)

// A data directory of schema 3 has a ledger but no closed totals: opening
// it migrates them from the ledger, the same as Close kept them, and
// Spent then equals Sum without reading the history.
func TestMigrateClosedTotalsFromSchema3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "econe.db")
	st, err := store.OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	kept := map[string][]byte{}
	err = st.Update(func(tx store.Tx) error {
		for i, iv := range []Interval{
			{Owner: "ann", InstanceID: "i-1", Kind: Running, InstanceType: "a", VCPUs: 2, MicrosPerHour: 34700, MinSeconds: 60, Start: t0},
			{Owner: "ann", InstanceID: "i-2", Kind: Stopped, InstanceType: "a", VCPUs: 2, MicrosPerHour: 1300, Start: t0.Add(time.Hour)},
			{Owner: "ben", InstanceID: "i-3", Kind: Running, InstanceType: "b", VCPUs: 1, MicrosPerHour: 10400, Start: t0.Add(2 * time.Hour)},
		} {
			if err := Open(tx, iv); err != nil {
				return err
			}
			if err := Close(tx, iv.Owner, iv.InstanceID, iv.Start.Add(time.Duration(i*4000+7)*time.Second)); err != nil {
				return err
			}
		}
		if err := Open(tx, Interval{Owner: "ann", InstanceID: "i-4", Kind: Running, InstanceType: "a", VCPUs: 2, MicrosPerHour: 34700, Start: t0.Add(5 * time.Hour)}); err != nil {
			return err
		}
		// What schema 3 wrote: no totals.
		for _, owner := range []string{"ann", "ben"} {
			kept[owner] = tx.Get(store.BucketUsageClosed, owner)
			if err := tx.Delete(store.BucketUsageClosed, owner); err != nil {
				return err
			}
		}
		return tx.Put(store.BucketMeta, "schema_version", []byte("3"))
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st, err = store.OpenBolt(path, time.Second); err != nil {
		t.Fatalf("opening a schema 3 store: %v", err)
	}
	defer st.Close()
	if err := store.Migrate(st, func(string) int { return 1 }, RecountClosed); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(10 * time.Hour)
	st.View(func(tx store.Tx) error {
		if v := string(tx.Get(store.BucketMeta, "schema_version")); v != store.SchemaVersion {
			t.Errorf("schema version: got %s, want %s", v, store.SchemaVersion)
		}
		for owner, want := range kept {
			if got := tx.Get(store.BucketUsageClosed, owner); string(got) != string(want) {
				t.Errorf("%s: got closed total %s, want %s (as Close kept it)", owner, got, want)
			}
			counted := &scanCounter{Tx: tx}
			spent, err := Spent(counted, owner, now)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := Sum(tx, owner, time.Time{}, now, now)
			if err != nil {
				t.Fatal(err)
			}
			if int64(spent) != sum.CostMicros || counted.scans != 0 {
				t.Errorf("%s: got Spent %d with %d scans of the ledger, want Sum %d with none", owner, spent, counted.scans, sum.CostMicros)
			}
		}
		return nil
	})
}

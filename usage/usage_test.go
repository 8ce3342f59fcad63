package usage

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
)

// Sum by hand: a closed interval shorter than its minimum is billed the
// minimum in the window where it started; an open one runs to now; prices
// add up exactly before the one rounding.
func TestSumByHand(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	now := t0.Add(3 * time.Hour)
	err = st.Update(func(tx store.Tx) error {
		// 10 s of a 2-vCPU type at $0.10/h with a 60 s minimum.
		if err := Open(tx, Interval{Owner: "ann", InstanceID: "i-1", Kind: Running, InstanceType: "a", VCPUs: 2, MicrosPerHour: 100000, MinSeconds: 60, Start: t0}); err != nil {
			return err
		}
		if err := Close(tx, "ann", "i-1", t0.Add(10*time.Second)); err != nil {
			return err
		}
		// Running since t0+1h at $0.0104/h, still open.
		return Open(tx, Interval{Owner: "ann", InstanceID: "i-2", Kind: Running, InstanceType: "b", VCPUs: 1, MicrosPerHour: 10400, Start: t0.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		since, until time.Time
		want         Total
	}{
		// cost: (60*100000 + 7200*10400) / 3600 = (6e6 + 74.88e6)/3600 = 22466
		{"all", t0, time.Time{}, Total{InstanceSeconds: 10 + 7200, VCPUSeconds: 20 + 7200, CostMicros: 22466}},
		// i-1 started before the window: no minimum; i-2 for 30 min.
		{"later window", t0.Add(5 * time.Second), t0.Add(90 * time.Minute), Total{InstanceSeconds: 5 + 1800, VCPUSeconds: 10 + 1800, CostMicros: (5*100000 + 1800*10400) / 3600}},
		{"before anything", t0.Add(-time.Hour), t0, Total{}},
	}
	for _, c := range cases {
		var got Totals
		st.View(func(tx store.Tx) (err error) { got, err = Sum(tx, "ann", c.since, c.until, now); return err })
		if got.Total != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got.Total, c.want)
		}
	}
}

// scanCounter counts the Scans of the ledger made through it.
type scanCounter struct {
	store.Tx
	scans int
}

func (c *scanCounter) Scan(b store.Bucket, prefix string, fn func(string, []byte) error) error {
	if b == store.BucketUsageIntervals {
		c.scans++
	}
	return c.Tx.Scan(b, prefix, fn)
}

// Spent reads the closed total and the open intervals, never the ledger's
// history, while now is after the last close; at or before it (a clock
// behind the ledger's) it still equals Sum, which clips what lies after now.
func TestSpentReadsNoHistory(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	last := t0.Add(1000 * time.Hour)
	err = st.Update(func(tx store.Tx) error {
		for i := range 1000 {
			start := t0.Add(time.Duration(i) * time.Hour)
			id := fmt.Sprintf("i-%d", i)
			if err := Open(tx, Interval{Owner: "ann", InstanceID: id, Kind: Running, InstanceType: "a", VCPUs: 2, MicrosPerHour: 34700, MinSeconds: 60, Start: start}); err != nil {
				return err
			}
			if err := Close(tx, "ann", id, start.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		// One zero-length run at last (its minimum billed once now is past
		// it), and one still running.
		if err := Open(tx, Interval{Owner: "ann", InstanceID: "i-z", Kind: Running, InstanceType: "a", VCPUs: 2, MicrosPerHour: 34700, MinSeconds: 60, Start: last}); err != nil {
			return err
		}
		if err := Close(tx, "ann", "i-z", last); err != nil {
			return err
		}
		return Open(tx, Interval{Owner: "ann", InstanceID: "i-open", Kind: Running, InstanceType: "b", VCPUs: 1, MicrosPerHour: 10400, MinSeconds: 60, Start: t0.Add(500 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		now       time.Time
		wantScans int
	}{
		{"after the last close", last.Add(time.Second), 0},
		{"long after", last.Add(24 * time.Hour), 0},
		{"at the last close", last, 1},
		{"clock behind the ledger", t0.Add(400*time.Hour + 30*time.Second), 1},
	}
	for _, c := range cases {
		st.View(func(tx store.Tx) error {
			counted := &scanCounter{Tx: tx}
			spent, err := Spent(counted, "ann", c.now)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := Sum(tx, "ann", time.Time{}, c.now, c.now)
			if err != nil {
				t.Fatal(err)
			}
			if int64(spent) != sum.CostMicros {
				t.Errorf("%s: got Spent %d, want Sum %d", c.name, spent, sum.CostMicros)
			}
			if counted.scans != c.wantScans {
				t.Errorf("%s: got %d scans of the ledger, want %d", c.name, counted.scans, c.wantScans)
			}
			return nil
		})
	}
}

// An interval's record leaves out its key (owner, start, instance) and a
// zero minimum, and one written before with them all reads the same.
func TestIntervalRecordLeavesOutKeyAndZeros(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 3, 13, 41, 49, 906944282, time.UTC)
	k := key("ann", t0, "i-1")
	old := `{"owner":"ann","instance_id":"i-1","kind":"running","instance_type":"t2.micro","vcpus":1,"micros_per_hour":11600,"min_seconds":0,"start":"2026-12-03T13:41:49.906944282Z","last_seen":"2026-12-03T13:41:49.906944282Z"}`
	want := Interval{Owner: "ann", InstanceID: "i-1", Kind: Running, InstanceType: "t2.micro", VCPUs: 1, MicrosPerHour: 11600, Start: t0, LastSeen: t0.Add(time.Minute)}
	var got *Interval
	var raw string
	err = st.Update(func(tx store.Tx) error {
		if err := tx.Put(store.BucketUsageIntervals, k, []byte(old)); err != nil {
			return err
		}
		if err := tx.Put(store.BucketUsageOpen, store.OwnedKey("ann", "i-1"), []byte(k)); err != nil {
			return err
		}
		if err := Seen(tx, "ann", "i-1", t0.Add(time.Minute)); err != nil {
			return err
		}
		raw = string(tx.Get(store.BucketUsageIntervals, k))
		got, err = OpenInterval(tx, "ann", "i-1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || *got != want {
		t.Errorf("interval after Seen: got %+v, want %+v", got, want)
	}
	for _, f := range []string{`"owner":`, `"instance_id":`, `"start":`, `"min_seconds":`} {
		if strings.Contains(raw, f) {
			t.Errorf("rewritten interval %s: got %s, want it left out", raw, f)
		}
	}
}

package usage

import (
	"path/filepath"
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

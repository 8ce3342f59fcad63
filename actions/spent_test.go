package actions

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
	"github.com/econe/econe-server/usage"
)

// spentTypes prices lab.min with a minimum per start and stopped storage,
// so the ledger holds intervals shorter than their minimum and stopped ones.
const spentTypes = `instance_types:
  - name: lab.min
    vcpus: 2
    memory_mib: 1024
    price_per_hour: 0.0347
    stopped_price_per_hour: 0.0013
    min_billed_seconds: 60
`

func newSpentEnv(t testing.TB) (*testEnv, *manualClock) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(spentTypes), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := conf.Default()
	cfg.TerminatedInstancesExpirationTime = conf.Duration(time.Hour)
	e, clock, _ := newInstanceEnv(t, cfg)
	e.svc.Templates = catalog
	return e, clock
}

// usageSpent is usage.Spent and the Sum it must equal, at now.
func usageSpent(t *testing.T, st store.Store, owner string, now time.Time) (spent, sum int64) {
	t.Helper()
	err := st.View(func(tx store.Tx) error {
		s, err := usage.Spent(tx, owner, now)
		if err != nil {
			return err
		}
		total, err := usage.Sum(tx, owner, time.Time{}, now, now)
		spent, sum = int64(s), total.CostMicros
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return spent, sum
}

// Spent (the closed intervals' running total plus the open ones) equals
// Sum over the whole ledger after every step of random launches, stops,
// starts, terminations, describes and purges under the injected clock,
// with steps from nothing to hours apart (intervals shorter than their
// minimum billed seconds included). A purge leaves the closed total alone.
func TestSpentEqualsSum(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			e, clock := newSpentEnv(t)
			rng := rand.New(rand.NewPCG(seed, 12))
			var ids []string
			purged := 0
			steps := []time.Duration{0, time.Nanosecond, 700 * time.Millisecond, 3 * time.Second, 59 * time.Second, 10 * time.Minute, 2 * time.Hour}
			for step := range 150 {
				op := rng.IntN(6)
				if len(ids) == 0 {
					op = 0
				}
				var id string
				if len(ids) > 0 {
					id = ids[rng.IntN(len(ids))]
				}
				var err error
				switch op {
				case 0:
					typ := []string{"lab.min", "m1.small"}[rng.IntN(2)]
					ids = append(ids, launch(t, e, "alice", "InstanceType", typ)...)
				case 1:
					_, err = e.call(t, "alice", "StopInstances", "InstanceId.1", id)
				case 2:
					_, err = e.call(t, "alice", "StartInstances", "InstanceId.1", id)
				case 3:
					_, err = e.call(t, "alice", "TerminateInstances", "InstanceId.1", id)
				case 4:
					_, err = e.call(t, "alice", "DescribeInstances")
				case 5:
					purged += purgeKeepsClosedTotal(t, e)
				}
				if err != nil && !ec2err.Is(err, ec2err.IncorrectInstanceState) && !ec2err.Is(err, ec2err.InvalidInstanceIDNotFound) {
					t.Fatalf("step %d: %v", step, err)
				}
				now := clock.Now()
				if spent, sum := usageSpent(t, e.svc.Store, "alice", now); spent != sum {
					t.Fatalf("step %d (op %d) at %s: got Spent %d, want Sum %d", step, op, now, spent, sum)
				}
				clock.Advance(steps[rng.IntN(len(steps))])
			}
			if purged == 0 {
				t.Errorf("got no instance purged, want the purge exercised")
			}
		})
	}
}

// purgeKeepsClosedTotal records every state, then reconciles (which purges
// expired terminated instances) and checks the closed total did not move.
// It returns how many instances were purged.
func purgeKeepsClosedTotal(t *testing.T, e *testEnv) int {
	t.Helper()
	e.mustCall(t, "alice", "DescribeInstances")
	read := func() (closed []byte, n int) {
		e.svc.Store.View(func(tx store.Tx) error {
			closed = append([]byte(nil), tx.Get(store.BucketUsageClosed, "alice")...) // valid only within the transaction
			return tx.Scan(store.BucketInstances, store.OwnerPrefix("alice"), func(string, []byte) error { n++; return nil })
		})
		return closed, n
	}
	before, n := read()
	if err := e.svc.ReconcileUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, m := read()
	if string(before) != string(after) {
		t.Errorf("purge of %d instances: got closed total %s, want %s unchanged", n-m, after, before)
	}
	return n - m
}

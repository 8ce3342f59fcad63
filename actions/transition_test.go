package actions

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// checkBooks fails unless owner's kept counters equal a recount, and every
// instance has an open usage interval exactly when its state accrues one.
func checkBooks(t *testing.T, s *Service, owner string) {
	t.Helper()
	err := s.Store.View(func(tx store.Tx) error {
		kept, err := store.GetCounters(tx, owner)
		if err != nil {
			return err
		}
		want, err := store.RecountCounters(tx, owner)
		if err != nil {
			return err
		}
		if !kept.Equal(want) {
			t.Errorf("%s's counters: got %+v, want %+v (recounted)", owner, kept, want)
		}
		insts, err := store.ListInstances(tx, owner)
		for _, inst := range insts {
			iv, err := usage.OpenInterval(tx, owner, inst.ID)
			if err != nil {
				return err
			}
			if got, want := iv != nil, s.usageKind(inst) != ""; got != want {
				t.Errorf("%s in state %s: got open interval %v, want %v", inst.ID, inst.State, got, want)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sumUsage(t *testing.T, s *Service, owner string, since, until time.Time) usage.Totals {
	t.Helper()
	var got usage.Totals
	err := s.Store.View(func(tx store.Tx) (err error) {
		got, err = usage.Sum(tx, owner, since, until, s.now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The ledger follows stop/start cycles to the second, with the times the
// backend reports (the sim stops in 2s), and a window clips intervals.
func TestLedgerStopStartCycles(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	t0 := clock.Now()
	id := launch(t, e, "alice")[0] // m1.small: 1 vCPU, $0.044/h
	checkBooks(t, e.svc, "alice")
	clock.Advance(time.Hour)
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", id)
	clock.Advance(time.Hour) // stopped at t0+1h+2s
	if got := stateOf(t, e, "alice", id); got != "stopped" {
		t.Fatalf("got %s, want stopped", got)
	}
	checkBooks(t, e.svc, "alice")
	e.mustCall(t, "alice", "StartInstances", "InstanceId.1", id) // t0+2h
	clock.Advance(30 * time.Minute)
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", id)
	clock.Advance(time.Hour)
	stateOf(t, e, "alice", id)
	checkBooks(t, e.svc, "alice")

	cases := []struct {
		name         string
		since, until time.Duration
		wantSecs     int64
	}{
		{"whole term", 0, 5 * time.Hour, 3600 + 2 + 1800 + 2},
		{"clipped", 30 * time.Minute, 2*time.Hour + 20*time.Minute, 1800 + 2 + 20*60},
		{"stopped only", time.Hour + time.Minute, 2 * time.Hour, 0},
	}
	for _, c := range cases {
		got := sumUsage(t, e.svc, "alice", t0.Add(c.since), t0.Add(c.until))
		wantCost := c.wantSecs * 44000 / 3600
		if got.InstanceSeconds != c.wantSecs || got.VCPUSeconds != c.wantSecs || got.CostMicros != wantCost {
			t.Errorf("%s: got %d s, %d vCPU-s, %d µ$; want %d, %d, %d", c.name, got.InstanceSeconds, got.VCPUSeconds, got.CostMicros, c.wantSecs, c.wantSecs, wantCost)
		}
	}
}

// A restart in the middle of a running interval loses no hours and adds
// none: the instance that kept running is still accruing from its launch,
// and the one stopped while the server was down ends when the backend says.
func TestLedgerAcrossRestart(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	t0 := clock.Now()
	ids := launch(t, e, "alice", "MaxCount", "2")
	clock.Advance(10 * time.Minute)
	describe(t, e, "alice")
	// The server goes down; meanwhile one machine is stopped at t0+30m
	// (by the backend, not through econe-server).
	clock.Advance(20 * time.Minute)
	var rec *store.Instance
	e.svc.Store.View(func(tx store.Tx) error { rec, _ = store.GetInstance(tx, "alice", ids[1]); return nil })
	if _, err := e.svc.Backend.Stop(context.Background(), rec.BackendID, false); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	// A new server on the same data: the sim reopens its machines.
	restarted := *e.svc
	restarted.Backend = backend.Discover(openTestSim(t, e.svc.Config, e.svc.Store, clock))
	if err := restarted.ReconcileUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	checkBooks(t, &restarted, "alice")
	got := sumUsage(t, &restarted, "alice", t0, t0.Add(3*time.Hour))
	if want := int64(2*3600 + 30*60 + 2); got.InstanceSeconds != want {
		t.Errorf("got %d instance-seconds, want %d (2h still running, 30m2s until the stop)", got.InstanceSeconds, want)
	}
}

// vanishing is a backend that has lost some machines: Describe reports
// them terminated with no time, as the contract says.
type vanishing struct {
	backend.Backend
	mu   sync.Mutex
	gone map[string]bool
}

func (v *vanishing) Describe(ctx context.Context, ids []string) ([]backend.Machine, error) {
	ms, err := v.Backend.Describe(ctx, ids)
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, id := range ids {
		if v.gone[id] {
			ms[i] = backend.Machine{ID: id, State: backend.Terminated}
		}
	}
	return ms, err
}

// An instance that vanishes from the backend stops accruing when it was
// last seen, however late the server notices; a launch the backend
// refused accrues nothing.
func TestLedgerVanishedInstance(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	t0 := clock.Now()
	id := launch(t, e, "alice")[0]
	clock.Advance(20 * time.Minute)
	if err := e.svc.ReconcileUsage(context.Background()); err != nil { // seen at t0+20m
		t.Fatal(err)
	}
	var rec *store.Instance
	e.svc.Store.View(func(tx store.Tx) error { rec, _ = store.GetInstance(tx, "alice", id); return nil })
	e.svc.Backend = backend.Discover(&vanishing{Backend: e.svc.Backend, gone: map[string]bool{rec.BackendID: true}})
	clock.Advance(5 * time.Hour)
	if err := e.svc.ReconcileUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(t, e, "alice", id); got != "terminated" {
		t.Errorf("vanished instance: got %s, want terminated", got)
	}
	checkBooks(t, e.svc, "alice")
	if got := sumUsage(t, e.svc, "alice", t0, clock.Now()); got.InstanceSeconds != 20*60 {
		t.Errorf("vanished instance: got %d instance-seconds, want %d (until last seen)", got.InstanceSeconds, 20*60)
	}

	e.svc.Backend = backend.Discover(failingBackend{e.svc.Backend})
	e.call(t, "bob", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")
	clock.Advance(time.Hour)
	checkBooks(t, e.svc, "bob")
	if got := sumUsage(t, e.svc, "bob", t0, clock.Now()); got.InstanceSeconds != 0 {
		t.Errorf("refused launch: got %d instance-seconds, want 0", got.InstanceSeconds)
	}
}

// describeSizes records how many machines each Describe asks about.
type describeSizes struct {
	backend.Backend
	mu    sync.Mutex
	sizes []int
}

func (d *describeSizes) Describe(ctx context.Context, ids []string) ([]backend.Machine, error) {
	d.mu.Lock()
	d.sizes = append(d.sizes, len(ids))
	d.mu.Unlock()
	return d.Backend.Describe(ctx, ids)
}

// The reconciliation reads whole owners' instances until observeBatch are
// read, reconciles them and reads on: what it holds decoded is bounded by
// the batch (and the largest owner), not by the store.
func TestReconcileUsageReadsOwnersInBatches(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	defer func(n int) { observeBatch = n }(observeBatch)
	observeBatch = 2
	launched := map[string][]string{}
	for _, l := range []struct {
		owner string
		n     string
	}{{"alice", "1"}, {"bob", "1"}, {"carol", "3"}} {
		launched[l.owner] = launch(t, e, l.owner, "MaxCount", l.n)
	}
	sizes := &describeSizes{Backend: e.svc.Backend}
	e.svc.Backend = backend.Discover(sizes)
	clock.Advance(time.Minute)
	if err := e.svc.ReconcileUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 3}; !slices.Equal(sizes.sizes, want) {
		t.Errorf("machines described per batch of owners (alice 1, bob 1, carol 3; batch 2): got %v, want %v", sizes.sizes, want)
	}
	wantLastSeen(t, e.svc.Store, clock.Now(), launched)
}

// wantLastSeen checks that the open interval of each owner's instances
// was last seen at.
func wantLastSeen(t *testing.T, st store.Store, at time.Time, byOwner map[string][]string) {
	t.Helper()
	err := st.View(func(tx store.Tx) error {
		for owner, ids := range byOwner {
			for _, id := range ids {
				iv, err := usage.OpenInterval(tx, owner, id)
				if err != nil {
					return err
				}
				if iv == nil || !iv.LastSeen.Equal(at) {
					t.Errorf("%s's %s: got open interval %+v, want one last seen %s", owner, id, iv, at)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The reconciliation records what it saw in transactions of observeBatch
// instances, not one for them all (the pages one rewrites are free only
// after it), and every instance of every batch is recorded.
func TestReconcileUsageWritesInBatches(t *testing.T) {
	e, clock, counted := newInstanceEnv(t, nil)
	defer func(n int) { observeBatch = n }(observeBatch)
	observeBatch = 2
	launched := map[string][]string{"alice": launch(t, e, "alice", "MaxCount", "3"), "bob": launch(t, e, "bob", "MaxCount", "2")}
	clock.Advance(time.Minute)
	before := counted.updates.Load()
	if err := e.svc.ReconcileUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := counted.updates.Load()-before, int64(3); got != want {
		t.Errorf("transactions of one reconciliation of 5 instances in batches of 2: got %d, want %d", got, want)
	}
	wantLastSeen(t, e.svc.Store, clock.Now(), launched)
	checkBooks(t, e.svc, "alice")
	checkBooks(t, e.svc, "bob")
}

package actions

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
)

// Expired terminated instances leave the store at the reconciliation pass
// with their tags; their usage stays; one a volume still names stays; a
// ClientToken retry after the purge launches anew with a fresh id.
func TestPurgeExpiredTerminated(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil) // expiration 1h
	ctx := context.Background()
	t0 := clock.Now()
	tok := launch(t, e, "alice", "ClientToken", "tok-1", "TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "course", "TagSpecification.1.Tag.1.Value", "cs101")[0]
	held := launch(t, e, "alice")[0]
	recent := launch(t, e, "alice")[0]
	clock.Advance(time.Hour)
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", tok, "InstanceId.2", held)
	clock.Advance(time.Minute)
	describe(t, e, "alice") // terminated at t0+1h+2s
	// A volume still attached to held (as a backend that terminated the
	// machine on its own leaves it).
	err := e.svc.Store.Update(func(tx store.Tx) error {
		return store.PutVolume(tx, &store.Volume{ID: "vol-0123456789abcdef0", Owner: "alice", State: store.VolumeAvailable, SizeGiB: 1, Type: "gp2",
			Attachment: &store.VolumeAttachment{InstanceID: held, Device: "/dev/sdf", Status: store.AttachAttached, AttachTime: t0}})
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", recent)
	clock.Advance(time.Minute)
	describe(t, e, "alice")
	before := sumUsage(t, e.svc, "alice", t0, time.Time{})
	clock.Advance(39 * time.Minute) // tok and held: 1h11m terminated; recent: 40m
	if err := e.svc.ReconcileUsage(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		want bool
	}{{tok, false}, {held, true}, {recent, true}} {
		var inst *store.Instance
		var tags int
		e.svc.Store.View(func(tx store.Tx) (err error) {
			inst, err = store.GetInstance(tx, "alice", c.id)
			tx.Scan(store.BucketTags, store.OwnedKey("alice", c.id)+"/", func(string, []byte) error { tags++; return nil })
			return err
		})
		if got := inst != nil; got != c.want {
			t.Errorf("%s: got kept %v, want %v", c.id, got, c.want)
		}
		if inst == nil && tags != 0 {
			t.Errorf("%s: got %d tags left after the purge, want 0", c.id, tags)
		}
	}
	if after := sumUsage(t, e.svc, "alice", t0, time.Time{}); after.Total != before.Total {
		t.Errorf("usage after the purge: got %+v, want %+v (the ledger keeps it)", after.Total, before.Total)
	}
	checkBooks(t, e.svc, "alice")
	if _, err := e.call(t, "alice", "DescribeInstances", "InstanceId.1", tok); err == nil {
		t.Errorf("describe of the purged %s: got no error, want InvalidInstanceID.NotFound", tok)
	}
	// The token has expired: the same request launches a new instance,
	// with an id the backend has never seen, and it runs.
	again := launch(t, e, "alice", "ClientToken", "tok-1", "TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "course", "TagSpecification.1.Tag.1.Value", "cs101")[0]
	clock.Advance(time.Minute)
	if again == tok {
		t.Errorf("retry after the purge: got the purged id %s again, want a fresh one", tok)
	}
	if got := stateOf(t, e, "alice", again); got != "running" {
		t.Errorf("retry after the purge: got state %s, want running", got)
	}
}

// BenchmarkDescribeAfterHistory: a student launches and terminates 200
// instances over a term and keeps 2 running; then a describe of all their
// instances, before the purge (every terminated record is read and
// dropped) and after it. The figures are in BENCHMARKS.md.
//
//	go test -run '^$' -bench BenchmarkDescribeAfterHistory -benchtime 2000x ./actions
func BenchmarkDescribeAfterHistory(b *testing.B) {
	e, clock, _ := newInstanceEnv(b, nil)
	const history = 200
	for i := range history {
		id := launch(b, e, "alice")[0]
		clock.Advance(time.Hour)
		if _, err := e.call(b, "alice", "TerminateInstances", "InstanceId.1", id); err != nil {
			b.Fatal(err)
		}
		clock.Advance(time.Duration(i%3+1) * time.Hour)
	}
	launch(b, e, "alice", "MinCount", "2", "MaxCount", "2")
	clock.Advance(time.Hour)
	describeAll := func(b *testing.B, want int) {
		resp, err := e.call(b, "alice", "DescribeInstances")
		if err != nil {
			b.Fatal(err)
		}
		if n := len(resp.(*describeInstancesResponse).Reservations); n != want {
			b.Fatalf("got %d reservations, want %d", n, want)
		}
	}
	count := func() (n int) {
		e.svc.Store.View(func(tx store.Tx) error {
			return tx.Scan(store.BucketInstances, "alice/", func(string, []byte) error { n++; return nil })
		})
		return n
	}
	var perOp [2]float64
	for i, phase := range []string{"before purge", "after purge"} {
		if i == 1 {
			if err := e.svc.ReconcileUsage(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("%s, %d records", phase, count()), func(b *testing.B) {
			for b.Loop() {
				describeAll(b, 1)
			}
			perOp[i] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}
	if perOp[1] > 0 {
		b.Logf("describe before/after the purge: %.1fx", perOp[0]/perOp[1])
	}
}

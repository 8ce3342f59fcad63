package actions

import (
	"fmt"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// BenchmarkBudgetCheck: a student with a budget and 1,000 past runs in the
// ledger launches one instance (terminated and recorded outside the timer,
// so the open intervals stay few), and the budget's "spent" alone as the
// quota check reads it. The figures are in BENCHMARKS.md.
//
//	go test -run '^$' -bench BenchmarkBudgetCheck -benchtime 2000x ./actions
func BenchmarkBudgetCheck(b *testing.B) {
	cfg := conf.Default()
	budget := quota.Money(1 << 50)
	cfg.Quota.Budget = &budget
	e, clock, _ := newInstanceEnv(b, cfg)
	t0 := clock.Now().Add(-2000 * time.Hour)
	err := e.svc.Store.Update(func(tx store.Tx) error {
		for i := range 1000 {
			start := t0.Add(time.Duration(i) * time.Hour)
			id := fmt.Sprintf("i-%017x", i)
			if err := usage.Open(tx, usage.Interval{Owner: "alice", InstanceID: id, Kind: usage.Running, InstanceType: "m1.small", VCPUs: 1, MicrosPerHour: 44000, MinSeconds: 60, Start: start}); err != nil {
				return err
			}
			if err := usage.Close(tx, "alice", id, start.Add(time.Duration(i%50+1)*time.Minute)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("RunInstances", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			id := launch(b, e, "alice")[0]
			b.StopTimer()
			clock.Advance(time.Minute)
			if _, err := e.call(b, "alice", "TerminateInstances", "InstanceId.1", id); err != nil {
				b.Fatal(err)
			}
			clock.Advance(time.Minute)
			if _, err := e.call(b, "alice", "DescribeInstances", "InstanceId.1", id); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("Spent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.svc.Store.View(func(tx store.Tx) error {
				_, err := usage.Spent(tx, "alice", clock.Now())
				return err
			})
		}
	})
}

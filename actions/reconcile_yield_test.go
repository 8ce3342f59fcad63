package actions

import (
	"context"
	"slices"
	"testing"
	"time"
)

// The usage reconciliation is background work: it yields the processor
// before each of its transactions, so that requests wait behind one batch
// of it at most; a describe refreshing instances for its answer does not.
func TestReconcileUsageYieldsBetweenBatches(t *testing.T) {
	defer func(n int, y func()) { observeBatch, yield = n, y }(observeBatch, yield)
	observeBatch = 2
	tests := []struct {
		name string
		pass func(e *testEnv) error
		want []int64 // transactions of the pass before each yield
	}{
		{"reconciliation of 5 in batches of 2", func(e *testEnv) error { return e.svc.ReconcileUsage(context.Background()) }, []int64{0, 1, 2}},
		{"describe of 5 booted in batches of 2", func(e *testEnv) error {
			_, err := e.call(t, "alice", "DescribeInstances")
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clock, counted := newInstanceEnv(t, nil)
			launch(t, e, "alice", "MaxCount", "5")
			clock.Advance(time.Minute) // booted: the describe records each transition
			before := counted.updates.Load()
			var got []int64
			yield = func() { got = append(got, counted.updates.Load()-before) }
			if err := tt.pass(e); err != nil {
				t.Fatal(err)
			}
			if counted.updates.Load() == before {
				t.Fatal("the pass recorded nothing: nothing to yield between")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("yields after how many of the pass's transactions: got %v, want %v", got, tt.want)
			}
		})
	}
}

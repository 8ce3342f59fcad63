package actions

import (
	"context"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// ReconcileUsage describes every live instance of every user from the
// backend and records what changed through the transition, with the time
// each machine was seen: what the server did not cause (a guest shutdown,
// a machine that vanished, changes while econe-server was down) reaches
// the counters and the usage ledger too. Terminated instances past their
// expiration leave the store in the same pass (purge.go).
func (s *Service) ReconcileUsage(ctx context.Context) error {
	var live, expired []*store.Instance
	err := s.Store.View(func(tx store.Tx) error {
		live, expired = nil, nil
		return store.ScanJSON(tx, store.BucketInstances, "", func(_ string, inst *store.Instance) error {
			switch {
			case s.expiredTerminated(inst):
				expired = append(expired, inst)
			case inst.BackendID != "" && inst.State != string(backend.Terminated):
				live = append(live, inst)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := s.observe(ctx, live, true); err != nil {
		return err
	}
	return s.purgeExpired(expired)
}

// ReconcileUsageEvery runs ReconcileUsage at once and then every interval
// (after is the clock's timer: time.After, or a test's) until ctx ends; a
// failed pass is logged and retried at the next. The channel it returns is
// closed when the loop has stopped.
func (s *Service) ReconcileUsageEvery(ctx context.Context, every time.Duration, after func(time.Duration) <-chan time.Time) <-chan struct{} {
	return s.every(ctx, every, after, "usage reconciliation", s.ReconcileUsage)
}

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
// expiration leave the store in the same pass (purge.go). It reads a
// batch of owners' instances at a time (reconcileOwners).
func (s *Service) ReconcileUsage(ctx context.Context) error {
	var owners []string
	err := s.Store.View(func(tx store.Tx) (err error) {
		owners, err = store.InstanceOwners(tx)
		return err
	})
	for err == nil && len(owners) > 0 {
		owners, err = s.reconcileOwners(ctx, owners)
	}
	return err
}

// reconcileOwners reconciles the instances of the first owners, whole
// owners until about observeBatch are read, and returns the owners left.
// Reading every instance at once held all 100,000 of them decoded through
// the pass, the peak the heap's growth (gc_percent) multiplies
// (BENCHMARKS.md).
func (s *Service) reconcileOwners(ctx context.Context, owners []string) ([]string, error) {
	var live, expired []*store.Instance
	var rest []string
	err := s.Store.View(func(tx store.Tx) error {
		live, expired, rest = nil, nil, owners
		for len(rest) > 0 && len(live)+len(expired) < observeBatch {
			err := store.ScanJSON(tx, store.BucketInstances, store.OwnerPrefix(rest[0]), func(_ string, inst *store.Instance) error {
				switch {
				case s.expiredTerminated(inst):
					expired = append(expired, inst)
				case inst.BackendID != "" && inst.State != string(backend.Terminated):
					live = append(live, inst)
				}
				return nil
			})
			if err != nil {
				return err
			}
			rest = rest[1:]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.observe(ctx, live, true); err != nil {
		return nil, err
	}
	return rest, s.purgeExpired(expired)
}

// ReconcileUsageEvery runs ReconcileUsage at once and then every interval
// (after is the clock's timer: time.After, or a test's) until ctx ends; a
// failed pass is logged and retried at the next. The channel it returns is
// closed when the loop has stopped.
func (s *Service) ReconcileUsageEvery(ctx context.Context, every time.Duration, after func(time.Duration) <-chan time.Time) <-chan struct{} {
	return s.every(ctx, every, after, "usage reconciliation", s.ReconcileUsage)
}

package usage

import (
	"time"

	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Current is what owner holds now, from their usage counters, as a quota
// check reads it. With cost, Spent is the ledger's cost over all time,
// open intervals up to now: a scan of the owner's intervals, so callers
// ask for it only when a budget applies.
func Current(tx store.Tx, owner string, countStopped, cost bool, now time.Time) (quota.Usage, error) {
	c, err := store.GetCounters(tx, owner)
	if err != nil {
		return quota.Usage{}, err
	}
	u := quota.Usage{
		Instances: c.Instances, VCPUs: c.VCPUs, CountStopped: countStopped,
		Addresses: c.Addresses, Volumes: c.Volumes, VolumeGiB: c.VolumeGiB,
		Snapshots: c.Snapshots, KeyPairs: c.KeyPairs, SecurityGroups: c.SecurityGroups,
	}
	if !countStopped {
		u.VCPUs -= c.StoppedVCPUs
	}
	if cost {
		if u.Spent, err = Spent(tx, owner, now); err != nil {
			return quota.Usage{}, err
		}
	}
	return u, nil
}

// Spent is what owner's usage has cost up to now, in a budget's units:
// the one place a budget's "spent" is computed (quota checks and the
// guardrails' budget stop both read it).
func Spent(tx store.Tx, owner string, now time.Time) (quota.Money, error) {
	t, err := Sum(tx, owner, time.Time{}, now, now)
	return quota.Money(t.CostMicros), err
}

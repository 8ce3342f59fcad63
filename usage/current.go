package usage

import (
	"time"

	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Current is what owner holds now, from their usage counters, as a quota
// check reads it. With cost, Spent is the ledger's cost over all time,
// open intervals up to now (see Spent); callers ask for it only when a
// budget applies.
func Current(tx store.Tx, owner string, countStopped, cost bool, now time.Time) (quota.Usage, error) {
	c, err := store.GetCounters(tx, owner)
	if err != nil {
		return quota.Usage{}, err
	}
	u := quota.Usage{
		Instances: c.Instances, VCPUs: c.VCPUs, CountStopped: countStopped,
		Addresses: c.Addresses, Volumes: c.Volumes, VolumeGiB: c.VolumeGiB,
		Snapshots: c.Snapshots, KeyPairs: c.KeyPairs, SecurityGroups: c.SecurityGroups, VPCs: c.VPCs,
		PrefixLists: c.PrefixLists, NetworkInterfaces: c.NetworkInterfaces,
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

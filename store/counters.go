package store

import "maps"

// Counters is what one student holds now, kept up to date in the same
// transaction as every change to it, so that a quota check reads one
// record instead of scanning the student's resources. Instances are
// counted by EC2 state (terminated ones are not counted); VCPUs is the sum
// over those instances, StoppedVCPUs the part of it in stopped instances
// (whether those count toward a limit is the quota's policy).
type Counters struct {
	Instances      map[string]int `json:"instances,omitempty"`
	VCPUs          int            `json:"vcpus,omitzero"`
	StoppedVCPUs   int            `json:"stopped_vcpus,omitzero"`
	Addresses      int            `json:"addresses,omitzero"`
	Volumes        int            `json:"volumes,omitzero"`
	VolumeGiB      int            `json:"volume_gib,omitzero"`
	Snapshots      int            `json:"snapshots,omitzero"`
	KeyPairs       int            `json:"key_pairs,omitzero"`
	SecurityGroups int            `json:"security_groups,omitzero"`
	VPCs           int            `json:"vpcs,omitzero"`
	PrefixLists    int            `json:"prefix_lists,omitzero"`
	// NetworkInterfaces counts the interfaces the student created, not the
	// primary interfaces derived from their instances.
	NetworkInterfaces int `json:"network_interfaces,omitzero"`
}

// Equal reports whether c and o count the same (a state at zero is the
// same as no entry).
func (c Counters) Equal(o Counters) bool {
	if c.VCPUs != o.VCPUs || c.StoppedVCPUs != o.StoppedVCPUs || c.Addresses != o.Addresses ||
		c.Volumes != o.Volumes || c.VolumeGiB != o.VolumeGiB || c.Snapshots != o.Snapshots ||
		c.KeyPairs != o.KeyPairs || c.SecurityGroups != o.SecurityGroups || c.VPCs != o.VPCs ||
		c.PrefixLists != o.PrefixLists || c.NetworkInterfaces != o.NetworkInterfaces {
		return false
	}
	for _, m := range []map[string]int{c.Instances, o.Instances} {
		for st := range m {
			if c.Instances[st] != o.Instances[st] {
				return false
			}
		}
	}
	return true
}

// add adds sign times d to c.
func (c *Counters) add(d Counters, sign int) {
	for st, n := range d.Instances {
		if c.Instances == nil {
			c.Instances = map[string]int{}
		}
		c.Instances[st] += sign * n
		if c.Instances[st] == 0 {
			delete(c.Instances, st)
		}
	}
	c.VCPUs += sign * d.VCPUs
	c.StoppedVCPUs += sign * d.StoppedVCPUs
	c.Addresses += sign * d.Addresses
	c.Volumes += sign * d.Volumes
	c.VolumeGiB += sign * d.VolumeGiB
	c.Snapshots += sign * d.Snapshots
	c.KeyPairs += sign * d.KeyPairs
	c.SecurityGroups += sign * d.SecurityGroups
	c.VPCs += sign * d.VPCs
	c.PrefixLists += sign * d.PrefixLists
	c.NetworkInterfaces += sign * d.NetworkInterfaces
}

// CountersRef is the key of the owner's counters, for Prefetch.
func CountersRef(owner string) Ref { return Ref{Bucket: BucketCounters, Key: owner} }

// countersMemo is a Tx that keeps the counters its function decoded or
// wrote, by owner, and forgets an owner's on any other write of their key
// (boltTx): a launch reads its student's counters for the quota, then
// moves them for the instance and again for its volume, and the decodes
// ran inside the store's one committer.
type countersMemo interface {
	countersMemo() map[string]Counters
}

// GetCounters returns the owner's counters (zero when they hold nothing).
func GetCounters(tx Tx, owner string) (Counters, error) {
	m, memo := tx.(countersMemo)
	if memo {
		if c, ok := m.countersMemo()[owner]; ok {
			c.Instances = maps.Clone(c.Instances) // the caller's to change
			return c, nil
		}
	}
	var c Counters
	if _, err := GetJSON(tx, BucketCounters, owner, &c); err != nil {
		return c, err
	}
	if memo {
		kept := c
		kept.Instances = maps.Clone(c.Instances)
		m.countersMemo()[owner] = kept
	}
	return c, nil
}

// putCounters writes c, which the caller no longer changes.
func putCounters(tx Tx, owner string, c Counters) error {
	var err error
	if c.Equal(Counters{}) {
		err = tx.Delete(BucketCounters, owner)
	} else {
		err = PutJSON(tx, BucketCounters, owner, c)
	}
	if m, memo := tx.(countersMemo); memo && err == nil {
		m.countersMemo()[owner] = c
	}
	return err
}

// moveCounters replaces what before counted by what after counts.
func moveCounters(tx Tx, owner string, before, after Counters) error {
	if before.Equal(after) {
		return nil
	}
	c, err := GetCounters(tx, owner)
	if err != nil {
		return err
	}
	c.add(before, -1)
	c.add(after, 1)
	return putCounters(tx, owner, c)
}

// MoveInstanceCounters moves the owner's counters from what the instance
// counted as before (nil: a new instance) to what it counts as after. The
// one caller is the instance transition (actions/transition.go).
func MoveInstanceCounters(tx Tx, before, after *Instance) error {
	return moveCounters(tx, after.Owner, instanceCount(before), instanceCount(after))
}

func instanceCount(inst *Instance) Counters {
	if inst == nil || inst.State == "" || inst.State == "terminated" {
		return Counters{}
	}
	c := Counters{Instances: map[string]int{inst.State: 1}, VCPUs: inst.VCPUs}
	if inst.State == "stopped" {
		c.StoppedVCPUs = inst.VCPUs
	}
	return c
}

func volumeCount(v *Volume) Counters {
	if v == nil || v.State == VolumeDeleting || v.State == VolumeDeleted {
		return Counters{}
	}
	return Counters{Volumes: 1, VolumeGiB: v.SizeGiB}
}

func present[T any](v *T, c Counters) Counters {
	if v == nil {
		return Counters{}
	}
	return c
}

// counted puts rec in bucket b, or deletes it when rec is nil, and moves
// the owner's counters by what the record counts for (count of the old
// record, as stored, against count of the new).
func counted[T any](tx Tx, b Bucket, owner, id string, rec *T, count func(*T) Counters) error {
	old, err := GetOwned[T](tx, b, owner, id)
	if err != nil {
		return err
	}
	if rec == nil {
		err = DeleteOwned(tx, b, owner, id)
	} else {
		err = PutOwned(tx, b, owner, id, rec)
	}
	if err != nil {
		return err
	}
	return moveCounters(tx, owner, count(old), count(rec))
}

func countAddress(a *Address) Counters   { return present(a, Counters{Addresses: 1}) }
func countSnapshot(s *Snapshot) Counters { return present(s, Counters{Snapshots: 1}) }
func countKeyPair(k *KeyPair) Counters   { return present(k, Counters{KeyPairs: 1}) }
func countGroup(g *SecurityGroup) Counters {
	return present(g, Counters{SecurityGroups: 1})
}

// RecountCounters computes the owner's counters by scanning everything
// they own: what the kept counters must always equal (the tests compare
// them) and what the schema migration writes for an existing database.
func RecountCounters(tx Tx, owner string) (Counters, error) {
	var c Counters
	add := func(d Counters) { c.add(d, 1) }
	err := scanCount(tx, BucketInstances, owner, instanceCount, add)
	if err == nil {
		err = scanCount(tx, BucketVolumes, owner, volumeCount, add)
	}
	if err == nil {
		err = scanCount(tx, BucketAddresses, owner, countAddress, add)
	}
	if err == nil {
		err = scanCount(tx, BucketSnapshots, owner, countSnapshot, add)
	}
	if err == nil {
		err = scanCount(tx, BucketKeyPairs, owner, countKeyPair, add)
	}
	if err == nil {
		err = scanCount(tx, BucketSecurityGroups, owner, countGroup, add)
	}
	if err == nil {
		err = scanCount(tx, BucketVPCs, owner, countVPC, add)
	}
	if err == nil {
		err = scanCount(tx, BucketPrefixLists, owner, countPrefixList, add)
	}
	if err == nil {
		err = scanCount(tx, BucketNetworkInterfaces, owner, countNetworkInterface, add)
	}
	return c, err
}

func scanCount[T any](tx Tx, b Bucket, owner string, count func(*T) Counters, add func(Counters)) error {
	return ScanJSON(tx, b, OwnerPrefix(owner), func(_ string, v *T) error {
		add(count(v))
		return nil
	})
}

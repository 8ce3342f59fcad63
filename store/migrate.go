package store

import (
	"fmt"
	"slices"
	"strings"
)

// Migrate brings a store written by an older version up to SchemaVersion,
// in one transaction, one step per version. From version 1 it gives every
// instance its type's vCPUs (vcpus looks them up in today's templates) and
// computes every owner's counters by scanning; from version 2 it moves the
// sim's machines into its space of bucket backends; from version 3 it
// runs ledger, which writes the owners' closed usage totals from the ledger
// (usage.RecountClosed: the cost rule is the usage package's); from
// version 4 it indexes the launch intents; from version 5 the volumes'
// attachments, from version 6 their intents. A current store is left alone.
// app.Open runs it before the backend reads its space.
func Migrate(st Store, vcpus func(instanceType string) int, ledger func(Tx) error) error {
	return st.Update(func(tx Tx) error {
		v := string(tx.Get(BucketMeta, schemaKey))
		if v == SchemaVersion {
			return nil
		}
		if !slices.Contains(olderVersions, v) {
			return fmt.Errorf("store: cannot migrate schema version %q", v)
		}
		if v == "1" {
			if err := migrateCounters(tx, vcpus); err != nil {
				return err
			}
		}
		// Versions are one digit, so they compare as strings.
		if v < "4" {
			if err := migrateBackendSpaces(tx); err != nil {
				return err
			}
			if err := ledger(tx); err != nil {
				return err
			}
		}
		if v < "5" {
			if err := migrateLaunchIntents(tx); err != nil {
				return err
			}
		}
		if err := migrateVolumeIndexes(tx); err != nil {
			return err
		}
		return tx.Put(BucketMeta, schemaKey, []byte(SchemaVersion))
	})
}

// migrateCounters is version 1 → 2.
func migrateCounters(tx Tx, vcpus func(instanceType string) int) error {
	owners := map[string]bool{}
	var insts []*Instance
	if err := ScanJSON(tx, BucketInstances, "", func(_ string, inst *Instance) error {
		owners[inst.Owner] = true
		if inst.VCPUs == 0 {
			inst.VCPUs = vcpus(inst.InstanceType)
			insts = append(insts, inst)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, inst := range insts {
		if err := PutInstance(tx, inst); err != nil {
			return err
		}
	}
	for _, b := range OwnerBuckets {
		if err := tx.Scan(b, "", func(key string, _ []byte) error {
			owners[ownerOf(key)] = true
			return nil
		}); err != nil {
			return err
		}
	}
	for owner := range owners {
		c, err := RecountCounters(tx, owner)
		if err != nil {
			return err
		}
		if err := putCounters(tx, owner, c); err != nil {
			return err
		}
	}
	return nil
}

// migrateBackendSpaces is version 2 → 3: the sim's bucket becomes its
// space (keys sim/…) and is emptied.
func migrateBackendSpaces(tx Tx) error {
	sim := NewSpace(nil, "sim").In(tx)
	var keys []string
	if err := tx.Scan(bucketRetiredBackendSim, "", func(key string, value []byte) error {
		keys = append(keys, key)
		return sim.Put(key, value)
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(bucketRetiredBackendSim, k); err != nil {
			return err
		}
	}
	return nil
}

func ownerOf(key string) string {
	owner, _, _ := strings.Cut(key, "/")
	return owner
}

// migrateLaunchIntents is version 4 → 5: every instance still waiting for
// its backend's answer enters the index of launch intents.
func migrateLaunchIntents(tx Tx) error {
	var intents []*Instance
	if err := ScanJSON(tx, BucketInstances, "", func(_ string, inst *Instance) error {
		if IsLaunchIntent(inst) {
			intents = append(intents, inst)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, inst := range intents {
		if err := PutInstance(tx, inst); err != nil {
			return err
		}
	}
	return nil
}

// migrateVolumeIndexes is version 5 → 6 and 6 → 7: every volume whose
// record names an instance enters the index of attachments (again, from
// 6: the same entry), every volume intent the index of intents.
func migrateVolumeIndexes(tx Tx) error {
	return ScanJSON(tx, BucketVolumes, "", func(_ string, v *Volume) error {
		if IsVolumeIntent(v) {
			if err := tx.Put(BucketVolumeIntents, OwnedKey(v.Owner, v.ID), nil); err != nil {
				return err
			}
		}
		if on := attachedTo(v); on != "" {
			return tx.Put(BucketVolumeAttachments, attachmentKey(v.Owner, on, v.ID), nil)
		}
		return nil
	})
}

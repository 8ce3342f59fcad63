package store

import (
	"fmt"
	"strings"
)

// Migrate brings a store written by an older version up to SchemaVersion,
// in one transaction. From version 1 it gives every instance its type's
// vCPUs (vcpus looks them up in today's templates) and computes every
// owner's counters by scanning. A current store is left alone.
func Migrate(st Store, vcpus func(instanceType string) int) error {
	return st.Update(func(tx Tx) error {
		v := string(tx.Get(BucketMeta, schemaKey))
		if v == SchemaVersion {
			return nil
		}
		if v != "1" {
			return fmt.Errorf("store: cannot migrate schema version %q", v)
		}
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
		return tx.Put(BucketMeta, schemaKey, []byte(SchemaVersion))
	})
}

func ownerOf(key string) string {
	owner, _, _ := strings.Cut(key, "/")
	return owner
}

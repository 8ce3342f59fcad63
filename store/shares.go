package store

import (
	"slices"
	"strings"
)

// Shares index what an owner shares with another account (a snapshot's
// createVolumePermission, an image's launchPermission): shares ACCOUNT/RESOURCE_ID -> OWNER, so that the
// classmate's describe reads one prefix and a use of the id one key. The
// resource's record is the one truth (its list of accounts); an entry is
// a hint that readers check against it, so one left by a purged owner is
// harmless.

// SharedWith returns the owners of the resources shared with account,
// by resource id, among ids with the given prefix ("snap-").
func SharedWith(tx Tx, account, prefix string) (map[string]string, error) {
	out := map[string]string{}
	base := account + "/"
	err := tx.Scan(BucketShares, base+prefix, func(key string, owner []byte) error {
		out[strings.TrimPrefix(key, base)] = string(owner)
		return nil
	})
	return out, err
}

// SharedOwner returns the owner who shares resource id with account ("" if none).
func SharedOwner(tx Tx, account, id string) string {
	return string(tx.Get(BucketShares, account+"/"+id))
}

// indexShares moves the index entries of owner's resource id from the
// accounts it was shared with to those it is shared with now.
func indexShares(tx Tx, owner, id string, was, now []string) error {
	for _, a := range was {
		if !slices.Contains(now, a) {
			if err := tx.Delete(BucketShares, a+"/"+id); err != nil {
				return err
			}
		}
	}
	for _, a := range now {
		if !slices.Contains(was, a) {
			if err := tx.Put(BucketShares, a+"/"+id, []byte(owner)); err != nil {
				return err
			}
		}
	}
	return nil
}

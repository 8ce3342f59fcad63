package store

import (
	"testing"

	"github.com/econe/econe-server/quota"
)

func TestQuotaOverrides(t *testing.T) {
	s, _ := openTemp(t)
	alice := &User{Name: "alice", Group: "cs61c", AccessKeyID: "AKIAALICE"}
	bob := &User{Name: "bob", AccessKeyID: "AKIABOB"}
	err := s.Update(func(tx Tx) error {
		for _, u := range []*User{alice, bob} {
			if err := PutUser(tx, u); err != nil {
				return err
			}
		}
		if err := PutQuota(tx, QuotaGroup, "cs61c", quota.Limits{MaxInstances: quota.Int(4)}); err != nil {
			return err
		}
		return PutQuota(tx, QuotaUser, "alice", quota.Limits{MaxInstances: quota.Int(0), InstanceTypes: []string{}})
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func(u *User) (g, own quota.Limits) {
		t.Helper()
		if err := s.View(func(tx Tx) error { g, own, err = QuotaOverrides(tx, u); return err }); err != nil {
			t.Fatal(err)
		}
		return g, own
	}
	g, own := read(alice)
	if g.Format("max_instances") != "4" || own.Format("max_instances") != "0" || own.InstanceTypes == nil {
		t.Errorf("alice: got group %+v own %+v, want group max_instances 4, own 0 and an empty (set) type list", g, own)
	}
	if g, own := read(bob); !g.Empty() || !own.Empty() {
		t.Errorf("bob (no group, no override): got %+v %+v, want nothing set", g, own)
	}

	// An override emptied by unset leaves no record; deleting a user
	// deletes theirs, so a new alice starts clean.
	err = s.Update(func(tx Tx) error {
		if err := PutQuota(tx, QuotaGroup, "cs61c", quota.Limits{}); err != nil {
			return err
		}
		return DeleteUser(tx, "alice")
	})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	s.View(func(tx Tx) error {
		return tx.Scan(BucketQuotas, "", func(k string, _ []byte) error { left = append(left, k); return nil })
	})
	if len(left) != 0 {
		t.Errorf("got quota records %q left, want none", left)
	}
}

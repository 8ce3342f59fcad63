package actions

import (
	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// Terminated instances leave the store once describes no longer show them
// (terminated_instances_expiration_time after they terminated), so a
// student's describe reads what they have now, not everything they ever
// launched. Their usage stays in the ledger, which is keyed apart.
//
// The usage reconciliation pass finds them (it reads every instance
// anyway) and purgeExpired deletes each with its tags. An instance that a
// volume's attachment or an address's association still names is kept
// until those are released: nothing is left pointing at a missing record.
//
// A ClientToken names its launch's first instance (DerivedID), and the
// backend's Run is idempotent per instance id: a retry after the purge must
// not reuse that id. The purge leaves the token a tombstone under
// idempotency OWNER/RunInstances/TOKEN, and a launch that finds it treats
// the token as expired, as EC2 does once a token's time has passed (it is
// valid for at least 24 hours after the instance terminated there; here,
// until the instance is purged): the retry launches new instances with
// fresh ids.

// tokenExpired is the tombstone's value.
const tokenExpired = "expired"

// expiredTerminated reports whether inst is terminated and past the time
// describes show it.
func (s *Service) expiredTerminated(inst *store.Instance) bool {
	return inst.State == string(backend.Terminated) && s.now().Sub(inst.StateChanged) > s.Config.TerminatedInstancesExpirationTime.D()
}

// purgeExpired deletes the expired terminated instances among insts (as
// read before, and checked again in the transaction), one owner per
// transaction.
func (s *Service) purgeExpired(insts []*store.Instance) error {
	byOwner := map[string][]string{}
	var owners []string
	for _, inst := range insts {
		if byOwner[inst.Owner] == nil {
			owners = append(owners, inst.Owner)
		}
		byOwner[inst.Owner] = append(byOwner[inst.Owner], inst.ID)
	}
	for _, owner := range owners {
		if err := s.Store.Update(func(tx store.Tx) error { return s.purgeOwner(tx, owner, byOwner[owner]) }); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) purgeOwner(tx store.Tx, owner string, ids []string) error {
	named, err := s.namedInstances(tx, owner)
	if err != nil {
		return err
	}
	for _, id := range ids {
		inst, err := store.GetInstance(tx, owner, id)
		if err != nil {
			return err
		}
		if inst == nil || !s.expiredTerminated(inst) || named[id] {
			continue
		}
		if err := store.DeleteOwned(tx, store.BucketInstances, owner, id); err != nil {
			return err
		}
		if inst.ClientToken != "" && inst.ID == store.DerivedID("i", owner, inst.ClientToken) {
			if err := tx.Put(store.BucketIdempotency, idempotencyKey(owner, "RunInstances", inst.ClientToken), []byte(tokenExpired)); err != nil {
				return err
			}
		}
	}
	return nil
}

// namedInstances are the owner's instances a volume attachment or an
// address association refers to.
func (s *Service) namedInstances(tx store.Tx, owner string) (map[string]bool, error) {
	named := map[string]bool{}
	on, err := attachedVolumes(tx, owner, nil, s.now())
	if err != nil {
		return nil, err
	}
	for id := range on {
		named[id] = true
	}
	addrs, err := store.ListAddresses(tx, owner)
	for _, a := range addrs {
		if a.Association != nil {
			named[a.Association.InstanceID] = true
		}
	}
	return named, err
}

// launchTokenExpired reports whether owner's ClientToken token named an
// instance that has since been purged.
func launchTokenExpired(tx store.Tx, owner, token string) bool {
	return string(tx.Get(store.BucketIdempotency, idempotencyKey(owner, "RunInstances", token))) == tokenExpired
}

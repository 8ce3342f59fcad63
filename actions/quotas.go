package actions

import (
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// Quotas are checked inside the Store.Update of the change they allow,
// against the usage counters that change updates: two requests of one
// student can never both take the last place.

// limits returns u's effective limits and what u holds, read in tx. The
// cost (usage.Spent: a running total and the open intervals) is read only
// when a budget applies.
func (s *Service) limits(tx store.Tx, u *store.User) (quota.Limits, quota.Usage, error) {
	l, err := s.effectiveLimits(tx, u)
	if err != nil {
		return quota.Limits{}, quota.Usage{}, err
	}
	use, err := usage.Current(tx, u.Name, s.Config.Quota.CountStoppedInstances, l.Budget != nil, s.now())
	return l, use, err
}

func (s *Service) effectiveLimits(tx store.Tx, u *store.User) (quota.Limits, error) {
	return store.EffectiveLimits(tx, u, s.Config.Quota.Limits, s.Config.Groups[u.Group].Limits)
}

// readLimits is the caller's effective limits, for describes.
func (s *Service) readLimits(r *Request) (quota.Limits, error) {
	var l quota.Limits
	err := s.Store.View(func(tx store.Tx) (err error) {
		l, err = s.effectiveLimits(tx, r.User)
		return err
	})
	return l, err
}

// checkQuota refuses d, with the EC2 error, when it does not fit u's limits.
func (s *Service) checkQuota(tx store.Tx, u *store.User, d quota.Delta) error {
	l, use, err := s.limits(tx, u)
	if err != nil {
		return err
	}
	return quota.Check(l, use, d)
}

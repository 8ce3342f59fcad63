package store

import "github.com/econe/econe-server/quota"

// QuotaScope says whose override a quota record is.
type QuotaScope string

const (
	QuotaUser  QuotaScope = "user"
	QuotaGroup QuotaScope = "group"
)

func quotaKey(scope QuotaScope, name string) string { return string(scope) + "/" + name }

// GetQuota returns the override set for a user or group; nothing set when
// there is none.
func GetQuota(tx Tx, scope QuotaScope, name string) (quota.Limits, error) {
	var l quota.Limits
	_, err := GetJSON(tx, BucketQuotas, quotaKey(scope, name), &l)
	return l, err
}

// PutQuota stores the override; one that sets nothing is removed.
func PutQuota(tx Tx, scope QuotaScope, name string, l quota.Limits) error {
	if l.Empty() {
		return tx.Delete(BucketQuotas, quotaKey(scope, name))
	}
	return PutJSON(tx, BucketQuotas, quotaKey(scope, name), l)
}

// QuotaRefs are the keys QuotaOverrides reads, for Prefetch.
func QuotaRefs(u *User) []Ref {
	refs := []Ref{{Bucket: BucketQuotas, Key: quotaKey(QuotaUser, u.Name)}}
	if u.Group != "" {
		refs = append(refs, Ref{Bucket: BucketQuotas, Key: quotaKey(QuotaGroup, u.Group)})
	}
	return refs
}

// QuotaOverrides are the two overrides that apply to a user: their
// group's (when they have one) and their own.
func QuotaOverrides(tx Tx, u *User) (group, user quota.Limits, err error) {
	if u.Group != "" {
		if group, err = GetQuota(tx, QuotaGroup, u.Group); err != nil {
			return group, user, err
		}
	}
	user, err = GetQuota(tx, QuotaUser, u.Name)
	return group, user, err
}

// EffectiveQuota resolves u's limits: the config's defaults and the
// group's config (the caller passes both), then the stored overrides.
func EffectiveQuota(tx Tx, u *User, defaults, groupConfig quota.Limits) (quota.Resolved, error) {
	group, own, err := QuotaOverrides(tx, u)
	if err != nil {
		return quota.Resolved{}, err
	}
	return quota.Effective(defaults, groupConfig, group, own), nil
}

// EffectiveLimits is EffectiveQuota's limits without their sources
// (quota.EffectiveLimits), what a launch checks.
func EffectiveLimits(tx Tx, u *User, defaults, groupConfig quota.Limits) (quota.Limits, error) {
	group, own, err := QuotaOverrides(tx, u)
	if err != nil {
		return quota.Limits{}, err
	}
	return quota.EffectiveLimits(defaults, groupConfig, group, own), nil
}

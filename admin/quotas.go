package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// QuotaService is the quota administration: overrides of a student's or a
// group's limits, and a student's effective limits.
type QuotaService interface {
	// SetQuota merges the set keys of l into the target's override and
	// returns the override now stored.
	SetQuota(t QuotaTarget, l quota.Limits) (*quota.Limits, error)
	// UnsetQuota removes the given keys (all when none) from the target's
	// override and returns what remains.
	UnsetQuota(t QuotaTarget, keys []string) (*quota.Limits, error)
	// ShowQuota returns a student's effective limits.
	ShowQuota(name string) (*QuotaReport, error)
}

// QuotaTarget names one student or one group; exactly one is set.
type QuotaTarget struct {
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

func (t QuotaTarget) String() string {
	if t.Group != "" {
		return "group " + t.Group
	}
	return "user " + t.User
}

// QuotaReport is what `quota show` prints.
type QuotaReport struct {
	User  string `json:"user"`
	Group string `json:"group,omitempty"`
	quota.Resolved
	// Usage is what the student holds now (their usage counters) and has
	// spent (the ledger, open intervals up to now).
	Usage *quota.Usage `json:"usage,omitempty"`
}

func (u *Users) config() *conf.Config {
	if u.Config == nil {
		return conf.Default()
	}
	return u.Config
}

// SetQuota implements QuotaService. A student must exist; a group need
// not (its students may be added later).
func (u *Users) SetQuota(t QuotaTarget, l quota.Limits) (*quota.Limits, error) {
	if l.Empty() {
		return nil, errors.New("nothing to set: give at least one limit")
	}
	if ps := l.Problems(); len(ps) > 0 {
		return nil, fmt.Errorf("%s: %s", ps[0].Key, ps[0].Msg)
	}
	return u.changeQuota(t, func(cur *quota.Limits) error { cur.Merge(l); return nil })
}

// UnsetQuota implements QuotaService.
func (u *Users) UnsetQuota(t QuotaTarget, keys []string) (*quota.Limits, error) {
	return u.changeQuota(t, func(cur *quota.Limits) error {
		if len(keys) == 0 {
			*cur = quota.Limits{}
			return nil
		}
		return cur.Unset(keys...)
	})
}

func (u *Users) changeQuota(t QuotaTarget, change func(*quota.Limits) error) (*quota.Limits, error) {
	scope, name, err := t.scope()
	if err != nil {
		return nil, err
	}
	var out quota.Limits
	err = u.Store.Update(func(tx store.Tx) error {
		if scope == store.QuotaUser {
			if _, err := userRecord(tx, name); err != nil {
				return err
			}
		}
		cur, err := store.GetQuota(tx, scope, name)
		if err != nil {
			return err
		}
		if err := change(&cur); err != nil {
			return err
		}
		out = cur
		return store.PutQuota(tx, scope, name, cur)
	})
	if err != nil {
		return nil, fmt.Errorf("quota of %s: %w", t, err)
	}
	return &out, nil
}

func (t QuotaTarget) scope() (store.QuotaScope, string, error) {
	switch {
	case (t.User == "") == (t.Group == ""):
		return "", "", errors.New("name a user or a group (--group), not both")
	case t.Group != "":
		return store.QuotaGroup, t.Group, ValidName("group", t.Group)
	}
	return store.QuotaUser, t.User, ValidName("user", t.User)
}

// ShowQuota implements QuotaService: the config's defaults and the
// student's group, overridden by the stored overrides.
func (u *Users) ShowQuota(name string) (*QuotaReport, error) {
	var rep *QuotaReport
	err := u.Store.View(func(tx store.Tx) error {
		rec, err := userRecord(tx, name)
		if err != nil {
			return err
		}
		cfg := u.config()
		res, err := store.EffectiveQuota(tx, rec, cfg.Quota.Limits, cfg.Groups[rec.Group].Limits)
		if err != nil {
			return err
		}
		use, err := usage.Current(tx, rec.Name, cfg.Quota.CountStoppedInstances, true, u.now())
		if err != nil {
			return err
		}
		rep = &QuotaReport{User: rec.Name, Group: rec.Group, Resolved: res, Usage: &use}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("quota of user %s: %w", name, err)
	}
	return rep, nil
}

// The socket side.

const pathQuotas = "/quotas"

type setQuotaRequest struct {
	QuotaTarget
	Limits quota.Limits `json:"limits"`
}

type unsetQuotaRequest struct {
	QuotaTarget
	Keys []string `json:"keys"`
}

// handleQuotas adds the quota operations to the socket's routes.
func handleQuotas(handle func(pattern string, op func(svc Service, r *http.Request) (any, error))) {
	handle("GET "+pathQuotas+"/users/{name}", func(svc Service, r *http.Request) (any, error) { return svc.ShowQuota(r.PathValue("name")) })
	handle("POST "+pathQuotas+"/set", func(svc Service, r *http.Request) (any, error) {
		var req setQuotaRequest
		if err := decodeRequest(r, &req); err != nil {
			return nil, err
		}
		return svc.SetQuota(req.QuotaTarget, req.Limits)
	})
	handle("POST "+pathQuotas+"/unset", func(svc Service, r *http.Request) (any, error) {
		var req unsetQuotaRequest
		if err := decodeRequest(r, &req); err != nil {
			return nil, err
		}
		return svc.UnsetQuota(req.QuotaTarget, req.Keys)
	})
}

func decodeRequest(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad admin request: %w", err)
	}
	return nil
}

// The client side, as documented on *Users.

func (c *Client) SetQuota(t QuotaTarget, l quota.Limits) (*quota.Limits, error) {
	return fetch[quota.Limits](c, http.MethodPost, pathQuotas+"/set", setQuotaRequest{t, l})
}

func (c *Client) UnsetQuota(t QuotaTarget, keys []string) (*quota.Limits, error) {
	return fetch[quota.Limits](c, http.MethodPost, pathQuotas+"/unset", unsetQuotaRequest{t, keys})
}

func (c *Client) ShowQuota(name string) (*QuotaReport, error) {
	return fetch[QuotaReport](c, http.MethodGet, pathQuotas+"/users/"+url.PathEscape(name), nil)
}

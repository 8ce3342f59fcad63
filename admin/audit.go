package admin

import (
	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/quota"
)

// Auditor records admin commands in the audit log as Actor
// ("admin:<os user>"), arriving from Source ("cli" or "admin socket").
// Commands other than users' (quota set and unset) record through Record.
type Auditor struct {
	Log    *audit.Log
	Actor  string
	Source string
}

// Record runs fn between its audit entries; it refuses (fn does not run)
// when the request entry cannot be written. fn returns the ids it created.
func (a Auditor) Record(action string, resources []string, fn func() (created []string, err error)) error {
	return a.Log.Record(a.Actor, a.Source, action, resources, fn)
}

// Audited is a Service whose mutating commands are audited; reads pass
// through unrecorded, as the API's Describe calls do. `user import` is
// recorded as one user.add per created student.
type Audited struct {
	Service
	Auditor
}

func (a Audited) Add(name, group string) (*Credentials, error) {
	return a.issue("user.add", name, func() (*Credentials, error) { return a.Service.Add(name, group) })
}

func (a Audited) RotateKey(name string) (*Credentials, error) {
	return a.issue("user.rotate-key", name, func() (*Credentials, error) { return a.Service.RotateKey(name) })
}

// issue records a command that issues a key: its result names the new
// access key id (never the secret), so the key can be traced to its user.
func (a Audited) issue(action, name string, fn func() (*Credentials, error)) (c *Credentials, err error) {
	err = a.Record(action, []string{name}, func() ([]string, error) {
		if c, err = fn(); err != nil {
			return nil, err
		}
		return []string{c.AccessKeyID}, nil
	})
	return c, err
}

func (a Audited) SetDisabled(name string, disabled bool) error {
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	return a.Record(action, []string{name}, func() ([]string, error) { return nil, a.Service.SetDisabled(name, disabled) })
}

func (a Audited) Delete(name string) error {
	return a.Record("user.delete", []string{name}, func() ([]string, error) { return nil, a.Service.Delete(name) })
}

func (a Audited) SetQuota(t QuotaTarget, l quota.Limits) (out *quota.Limits, err error) {
	err = a.Record("quota.set", t.resources(), func() ([]string, error) {
		out, err = a.Service.SetQuota(t, l)
		return nil, err
	})
	return out, err
}

func (a Audited) UnsetQuota(t QuotaTarget, keys []string) (out *quota.Limits, err error) {
	err = a.Record("quota.unset", t.resources(), func() ([]string, error) {
		out, err = a.Service.UnsetQuota(t, keys)
		return nil, err
	})
	return out, err
}

// resources names a quota's target in the audit log as the user commands
// do (the user's name), or as group:NAME.
func (t QuotaTarget) resources() []string {
	if t.Group != "" {
		return []string{"group:" + t.Group}
	}
	return []string{t.User}
}

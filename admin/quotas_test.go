package admin

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/rs/zerolog"
)

// quotaServices is the same quota administration in-process and through
// a served admin socket.
func quotaServices(t *testing.T) map[string]QuotaService {
	t.Helper()
	out := map[string]QuotaService{}
	for _, name := range []string{"in-process", "socket"} {
		u := newUsers(t)
		u.Config = conf.Default()
		u.Config.Groups["cs61c"] = conf.Group{Limits: quota.Limits{MaxInstances: quota.Int(4), InstanceTypes: []string{"t3.micro"}}}
		for _, n := range []string{"alice", "bob"} {
			group := "cs61c"
			if n == "bob" {
				group = ""
			}
			if _, err := u.Add(n, group); err != nil {
				t.Fatal(err)
			}
		}
		out[name] = u
		if name == "socket" {
			path := filepath.Join(t.TempDir(), "admin.sock")
			sock, err := ServeSocket(path, u, openAudit(t, t.TempDir()), func() Status { return Status{} }, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sock.Shutdown(context.Background()) })
			out[name] = NewClient(path)
		}
	}
	return out
}

func TestQuotaAdministration(t *testing.T) {
	for name, svc := range quotaServices(t) {
		t.Run(name, func(t *testing.T) {
			show := func(user, key string) (string, quota.Source) {
				t.Helper()
				rep, err := svc.ShowQuota(user)
				if err != nil {
					t.Fatal(err)
				}
				return rep.Limits.Format(key), rep.Sources[key]
			}
			steps := []struct {
				name       string
				do         func() error
				user, key  string
				want       string
				wantSource quota.Source
			}{
				{"default", nil, "bob", "max_instances", "20", quota.SourceDefault},
				{"group config", nil, "alice", "max_instances", "4", quota.SourceGroupConfig},
				{"group config list", nil, "alice", "instance_types", "t3.micro", quota.SourceGroupConfig},
				{"group override", func() error {
					_, err := svc.SetQuota(QuotaTarget{Group: "cs61c"}, quota.Limits{MaxInstances: quota.Int(6), Budget: moneyOf(t, "50")})
					return err
				}, "alice", "max_instances", "6", quota.SourceGroup},
				{"user override", func() error {
					_, err := svc.SetQuota(QuotaTarget{User: "alice"}, quota.Limits{MaxInstances: quota.Int(0), InstanceTypes: []string{}})
					return err
				}, "alice", "max_instances", "0", quota.SourceUser},
				{"user lifts the type list", nil, "alice", "instance_types", "any", quota.SourceUser},
				{"merged, not replaced", func() error {
					_, err := svc.SetQuota(QuotaTarget{User: "alice"}, quota.Limits{MaxVCPUs: quota.Int(2)})
					return err
				}, "alice", "max_instances", "0", quota.SourceUser},
				{"group override budget", nil, "alice", "budget", "50.00", quota.SourceGroup},
				{"unset one", func() error {
					_, err := svc.UnsetQuota(QuotaTarget{User: "alice"}, []string{"max_instances"})
					return err
				}, "alice", "max_instances", "6", quota.SourceGroup},
				{"others stay", nil, "alice", "max_vcpus", "2", quota.SourceUser},
				{"unset all of the group", func() error {
					_, err := svc.UnsetQuota(QuotaTarget{Group: "cs61c"}, nil)
					return err
				}, "alice", "max_instances", "4", quota.SourceGroupConfig},
				{"no group, no group override", func() error {
					_, err := svc.SetQuota(QuotaTarget{Group: "cs61c"}, quota.Limits{MaxAddresses: quota.Int(1)})
					return err
				}, "bob", "max_addresses", "5", quota.SourceDefault},
			}
			for _, s := range steps {
				if s.do != nil {
					if err := s.do(); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
				}
				if got, src := show(s.user, s.key); got != s.want || src != s.wantSource {
					t.Errorf("%s: %s of %s: got %s from %q, want %s from %q", s.name, s.key, s.user, got, src, s.want, s.wantSource)
				}
			}
		})
	}
}

func TestQuotaErrors(t *testing.T) {
	for name, svc := range quotaServices(t) {
		t.Run(name, func(t *testing.T) {
			tests := []struct {
				name     string
				do       func() error
				want     string
				notFound bool
			}{
				{"set unknown user", func() error {
					_, err := svc.SetQuota(QuotaTarget{User: "zed"}, quota.Limits{MaxInstances: quota.Int(1)})
					return err
				}, "quota of user zed: no such user", true},
				{"show unknown user", func() error { _, err := svc.ShowQuota("zed"); return err }, "quota of user zed: no such user", true},
				{"unset unknown user", func() error { _, err := svc.UnsetQuota(QuotaTarget{User: "zed"}, nil); return err }, "no such user", true},
				{"negative", func() error {
					_, err := svc.SetQuota(QuotaTarget{User: "alice"}, quota.Limits{MaxVolumes: quota.Int(-1)})
					return err
				}, "max_volumes: must be >= 0, got -1", false},
				{"nothing", func() error { _, err := svc.SetQuota(QuotaTarget{Group: "cs61c"}, quota.Limits{}); return err }, "nothing to set", false},
				{"both targets", func() error {
					_, err := svc.SetQuota(QuotaTarget{User: "alice", Group: "cs61c"}, quota.Limits{MaxInstances: quota.Int(1)})
					return err
				}, "not both", false},
				{"bad group name", func() error {
					_, err := svc.SetQuota(QuotaTarget{Group: "CS 61C"}, quota.Limits{MaxInstances: quota.Int(1)})
					return err
				}, `invalid group name "CS 61C"`, false},
				{"unknown key", func() error { _, err := svc.UnsetQuota(QuotaTarget{User: "alice"}, []string{"max_cats"}); return err }, `unknown limit "max_cats"`, false},
			}
			for _, tt := range tests {
				err := tt.do()
				if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrNotFound) != tt.notFound {
					t.Errorf("%s: got %v, want ...%s... (not found: %v)", tt.name, err, tt.want, tt.notFound)
				}
			}
		})
	}
}

func moneyOf(t *testing.T, s string) *quota.Money {
	t.Helper()
	m, err := quota.ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return &m
}

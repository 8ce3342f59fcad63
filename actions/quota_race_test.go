package actions_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Twenty students, three clients each, launch at once and again, through
// the HTTP server: nobody gets one instance more than their limit (2 to
// 5, from their group's config or their own override), and everyone gets
// exactly their limit, the rest refused with InstanceLimitExceeded.
func TestParallelLaunchesNeverOvershoot(t *testing.T) {
	const students, perStudent = 20, 3
	env := econetest.Start(t, func(c *conf.Config) {
		c.Groups = map[string]conf.Group{}
		for n := 2; n <= 5; n++ {
			c.Groups[fmt.Sprintf("limit%d", n)] = conf.Group{Limits: quota.Limits{MaxInstances: quota.Int(n)}}
		}
	})
	limit := func(s int) int { return 2 + s%4 }
	clients := make([][]*ec2.Client, students)
	for s := range students {
		name := fmt.Sprintf("student%02d", s)
		var group string
		if s%2 == 0 { // half by group, half by their own override
			group = fmt.Sprintf("limit%d", limit(s))
		}
		creds, err := env.App.Users.Add(name, group)
		if err != nil {
			t.Fatal(err)
		}
		if group == "" {
			if _, err := env.App.Users.SetQuota(admin.QuotaTarget{User: name}, quota.Limits{MaxInstances: quota.Int(limit(s))}); err != nil {
				t.Fatal(err)
			}
		}
		for range perStudent {
			clients[s] = append(clients[s], env.EC2(creds))
		}
	}
	launched := econetest.LaunchRace(t, "ami-0a1b2c3d4e5f60001", clients)
	err := env.App.Store.View(func(tx store.Tx) error {
		for s := range students {
			owner := fmt.Sprintf("student%02d", s)
			kept, err := store.GetCounters(tx, owner)
			if err != nil {
				return err
			}
			recount, err := store.RecountCounters(tx, owner)
			if err != nil {
				return err
			}
			want := limit(s)
			for what, got := range map[string]int{
				"launched": launched[s], "counted": total(kept.Instances), "recounted": total(recount.Instances),
			} {
				if got != want {
					t.Errorf("%s, limit %d: got %d instances %s, want exactly %d", owner, want, got, what, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func total(byState map[string]int) int {
	n := 0
	for _, c := range byState {
		n += c
	}
	return n
}

package actions_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
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
	const students, clients, attempts = 20, 3, 4
	env := econetest.Start(t, func(c *conf.Config) {
		c.Groups = map[string]conf.Group{}
		for n := 2; n <= 5; n++ {
			c.Groups[fmt.Sprintf("limit%d", n)] = conf.Group{Limits: quota.Limits{MaxInstances: quota.Int(n)}}
		}
	})
	limit := func(s int) int { return 2 + s%4 }
	launched := make([]atomic.Int64, students)
	var wg sync.WaitGroup
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
		client := env.EC2(creds)
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for a := range attempts {
					out, err := client.RunInstances(econetest.Context(t), &ec2.RunInstancesInput{
						ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(int32(1 + (c+a)%2)),
					})
					var api smithy.APIError
					switch {
					case err == nil:
						launched[s].Add(int64(len(out.Instances)))
					case errors.As(err, &api) && api.ErrorCode() == "InstanceLimitExceeded":
					default:
						t.Errorf("%s: got %v, want success or InstanceLimitExceeded", name, err)
					}
				}
			}()
		}
	}
	wg.Wait()
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
				"launched": int(launched[s].Load()), "counted": total(kept.Instances), "recounted": total(recount.Instances),
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

package actions_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// Counters and ledger always agree with the records they count: students
// with several clients each run random sequences of every action that
// moves an instance or creates or deletes a counted resource, through the
// real HTTP server, while the usage reconciliation runs every second.
// Afterwards each student's kept counters equal a recount, and exactly
// the instances in an accruing state have an open usage interval. A state
// change that bypassed the transition would break one or the other.
func TestCountersAndLedgerFollowInstances(t *testing.T) {
	env := econetest.Start(t, func(c *conf.Config) { c.Usage.ReconcileInterval = conf.Duration(time.Second) })
	const students, clients, steps = 3, 3, 40
	var wg sync.WaitGroup
	for s := range students {
		name := fmt.Sprintf("student%d", s)
		client := env.EC2(env.User(t, name))
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				randomActions(econetest.Context(t), env, client, rand.New(rand.NewPCG(uint64(s), uint64(c))), steps)
			}()
		}
	}
	wg.Wait()
	env.Clock.Advance(time.Minute)
	if err := env.App.Service.ReconcileUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	accrues := map[string]bool{"pending": true, "running": true, "stopping": true, "shutting-down": true}
	err := env.App.Store.View(func(tx store.Tx) error {
		for s := range students {
			owner := fmt.Sprintf("student%d", s)
			kept, err := store.GetCounters(tx, owner)
			if err != nil {
				return err
			}
			want, err := store.RecountCounters(tx, owner)
			if err != nil {
				return err
			}
			if !kept.Equal(want) {
				t.Errorf("%s's counters: got %+v, want %+v (recounted)", owner, kept, want)
			}
			insts, err := store.ListInstances(tx, owner)
			if err != nil {
				return err
			}
			for _, inst := range insts {
				iv, err := usage.OpenInterval(tx, owner, inst.ID)
				if err != nil {
					return err
				}
				if got := iv != nil; got != accrues[inst.State] {
					t.Errorf("%s in state %s: got open interval %v, want %v", inst.ID, inst.State, got, accrues[inst.State])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// randomActions runs steps random actions; refusals (a wrong state, a
// resource another client deleted) are part of the game.
func randomActions(ctx context.Context, env *econetest.Env, c *ec2.Client, rnd *rand.Rand, steps int) {
	var insts, keys, groups, allocs, vols, snaps []string
	pick := func(ids []string) string {
		if len(ids) == 0 {
			return "i-00000000000000000"
		}
		return ids[rnd.IntN(len(ids))]
	}
	one := func(ids []string) []string { return []string{pick(ids)} }
	zone := env.Config.AvailabilityZones[0]
	for i := range steps {
		env.Clock.Advance(time.Duration(rnd.IntN(120)) * time.Second)
		switch rnd.IntN(14) {
		case 0, 1:
			out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(int32(1 + rnd.IntN(2))), InstanceType: types.InstanceType([]string{"m1.small", "t3.micro", "c5.xlarge"}[rnd.IntN(3)])})
			if err == nil {
				for _, inst := range out.Instances {
					insts = append(insts, *inst.InstanceId)
				}
			}
		case 2:
			c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: one(insts)})
		case 3:
			c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: one(insts)})
		case 4:
			c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: one(insts)})
		case 5:
			c.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: one(insts)})
		case 6:
			c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		case 7:
			if out, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(fmt.Sprintf("k%d-%d", i, rnd.IntN(1e6)))}); err == nil {
				keys = append(keys, *out.KeyName)
			} else {
				c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String(pick(keys))})
			}
		case 8:
			c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String(pick(keys))})
		case 9:
			if out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("g%d-%d", i, rnd.IntN(1e6))), Description: aws.String("lab")}); err == nil {
				groups = append(groups, *out.GroupId)
			}
			c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(pick(groups))})
		case 10:
			if out, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc}); err == nil {
				allocs = append(allocs, *out.AllocationId)
			}
		case 11:
			c.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(pick(allocs))})
		case 12:
			if out, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(int32(1 + rnd.IntN(20)))}); err == nil {
				vols = append(vols, *out.VolumeId)
			}
			c.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(pick(vols)), Size: aws.Int32(int32(21 + rnd.IntN(20)))})
		case 13:
			if out, err := c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(pick(vols))}); err == nil {
				snaps = append(snaps, *out.SnapshotId)
			}
			c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(pick(snaps))})
			c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(pick(vols))})
		}
	}
}

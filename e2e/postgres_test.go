package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// postgresStore makes a server keep its state in a fresh schema of srv.
func postgresStore(t testing.TB, srv *pgtest.Server) func(*conf.Config) {
	return func(c *conf.Config) {
		c.Store = conf.Store{Driver: conf.StorePostgres, DSN: srv.NewSchema(t), MaxConns: 8}
	}
}

// TestPostgresStoreWithSDK launches, describes and terminates through the
// SDK with store.driver postgres, then restarts the server on the same
// database and finds the instance there.
func TestPostgresStoreWithSDK(t *testing.T) {
	e := econetest.Start(t, postgresStore(t, pgtest.Start(t)))
	alice := e.User(t, "alice")
	c, ctx := e.EC2(alice), econetest.Context(t)
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	fast := func(o *ec2.InstanceRunningWaiterOptions) { o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond }
	if err := ec2.NewInstanceRunningWaiter(c, fast).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second); err != nil {
		t.Fatalf("InstanceRunning waiter: %v", err)
	}

	e.Stop()
	e = econetest.StartConfig(t, e.Config)
	c = e.EC2(alice)
	got, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(instanceIDsOf(got.Reservations)) != 1 {
		t.Fatalf("DescribeInstances after a restart: got %v, %v, want %s", instanceIDsOf(got.Reservations), err, id)
	}
	if state := got.Reservations[0].Instances[0].State.Name; state != types.InstanceStateNameRunning {
		t.Errorf("after a restart: got state %s, want running", state)
	}
	term, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(term.TerminatingInstances) != 1 {
		t.Fatalf("TerminateInstances: got %v, %v", term, err)
	}
	gone := func(o *ec2.InstanceTerminatedWaiterOptions) { o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond }
	if err := ec2.NewInstanceTerminatedWaiter(c, gone).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second); err != nil {
		t.Fatalf("InstanceTerminated waiter: %v", err)
	}
}

package e2e

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// postgresStore makes a server keep its state in a fresh schema of srv.
func postgresStore(t testing.TB, srv *pgtest.Server) func(*conf.Config) {
	return func(c *conf.Config) { c.Store = econetest.PostgresStore(t, srv) }
}

// TestTwoReplicasOneStore: two servers over one PostgreSQL store, both
// started before anything is launched. An instance launched through A is
// described (running, not terminated) and terminated through B, and a
// ClientToken retry sent to B returns A's instance.
func TestTwoReplicasOneStore(t *testing.T) {
	a := econetest.Start(t, postgresStore(t, pgtest.Start(t)))
	b := a.Replica(t)
	alice := a.User(t, "alice")
	ctx := econetest.Context(t)
	launch := func(e *econetest.Env) string {
		run, err := e.EC2(alice).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), InstanceType: types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String("lab-1-alice")})
		if err != nil {
			t.Fatalf("RunInstances: %v", err)
		}
		return aws.ToString(run.Instances[0].InstanceId)
	}
	id := launch(a)
	if again := launch(b); again != id {
		t.Errorf("ClientToken retry through B: got %s, want %s", again, id)
	}
	state := func(e *econetest.Env) types.InstanceStateName {
		got, err := e.EC2(alice).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil || len(instanceIDsOf(got.Reservations)) != 1 {
			t.Fatalf("DescribeInstances: got %v, %v, want %s", got, err, id)
		}
		return got.Reservations[0].Instances[0].State.Name
	}
	if got := state(b); got != types.InstanceStateNameRunning {
		t.Errorf("A's instance described through B: got %s, want running", got)
	}
	if got := state(a); got != types.InstanceStateNameRunning {
		t.Errorf("through A after B described it: got %s, want running", got)
	}
	if _, err := b.EC2(alice).TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatalf("TerminateInstances through B: %v", err)
	}
	if got := state(a); got != types.InstanceStateNameTerminated {
		t.Errorf("through A after B terminated it: got %s, want terminated", got)
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
	fast := func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}
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
	gone := func(o *ec2.InstanceTerminatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 10*time.Millisecond
	}
	if err := ec2.NewInstanceTerminatedWaiter(c, gone).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second); err != nil {
		t.Fatalf("InstanceTerminated waiter: %v", err)
	}
}

// TestDescribeByIDRoundTrips counts the round trips to PostgreSQL of one
// signed DescribeInstances by id of a running instance, through the whole
// server (the credentials' check included): each is a wait and two context
// switches, the price of a read on PostgreSQL. The fewest of 20 tries is
// taken: the server's heartbeats use the same database, and the first use
// of a statement on each of the pool's connections prepares it.
func TestDescribeByIDRoundTrips(t *testing.T) {
	pg := pgtest.Start(t)
	counted := econetest.PostgresStore(t, pg)
	dsn, trips := pg.CountRoundTrips(t, counted.DSN)
	counted.DSN = dsn
	e := econetest.Start(t, func(c *conf.Config) { c.Store = counted })
	alice := e.User(t, "alice")
	run, err := e.EC2(alice).RunInstances(econetest.Context(t), &ec2.RunInstancesInput{ImageId: aws.String(debianAMI),
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey}
	body := "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=" + aws.ToString(run.Instances[1].InstanceId)
	signer := v4.NewSigner()
	serve(t, e, signer, creds, body) // records the boot
	fewest := int64(-1)
	for range 20 {
		before := trips.Count()
		if w := serve(t, e, signer, creds, body); !strings.Contains(w.Body.String(), "<volumeId>vol-") {
			t.Fatalf("got %s, want the instance with its root volume", w.Body.String())
		}
		if n := trips.Count() - before; fewest < 0 || n < fewest {
			fewest = n
		}
	}
	// One statement: the instance, its tags, its attachment indexes and
	// the volumes and interfaces they name, and the user record that
	// confirms the credential remembered for the key.
	if want := int64(1); fewest != want {
		t.Errorf("got %d round trips, want %d", fewest, want)
	}
}

// BenchmarkDescribeInstanceByIDStores is DescribeInstances of one instance
// by id through the whole server (signature, store, XML; no network) from
// 8 goroutines, with 10,000 instances stored, on each store driver (and on
// PostgreSQL by TCP and by its Unix socket): the steady state of students
// polling running instances. Besides the time, it reports the CPU time per
// describe of this process (server and clients: go-cpu-ns/op) and of the
// PostgreSQL cluster (pg-cpu-ns/op), which other work on the machine does
// not inflate as it does the time.
func BenchmarkDescribeInstanceByIDStores(b *testing.B) {
	var pg *pgtest.Server
	drivers := []struct {
		name string
		opt  func(testing.TB) func(*conf.Config)
	}{
		{"bolt", func(testing.TB) func(*conf.Config) { return func(*conf.Config) {} }},
		{"postgres", func(tb testing.TB) func(*conf.Config) {
			pg = pgtest.Start(tb)
			return postgresStore(tb, pg)
		}},
		// A database on the same host, by its Unix socket.
		{"postgres-unix", func(tb testing.TB) func(*conf.Config) {
			pg = pgtest.Start(tb)
			return func(c *conf.Config) {
				c.Store = econetest.PostgresStore(tb, pg)
				c.Store.DSN = pg.NewSocketSchema(tb)
			}
		}},
	}
	for _, d := range drivers {
		b.Run(d.name, func(b *testing.B) {
			pg = nil
			e := econetest.Start(b, d.opt(b), func(c *conf.Config) { c.Quota = conf.Quota{} })
			const students, each = 100, 100
			signer := v4.NewSigner()
			var creds []aws.Credentials
			var ids []string
			for s := range students {
				c := e.User(b, fmt.Sprintf("bench%03d", s))
				creds = append(creds, aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey})
				run, err := e.EC2(c).RunInstances(econetest.Context(b), &ec2.RunInstancesInput{ImageId: aws.String(debianAMI),
					MinCount: aws.Int32(each), MaxCount: aws.Int32(each)})
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, aws.ToString(run.Instances[each/2].InstanceId))
			}
			// The first describe of each instance records its move from
			// pending to running (an Update); polls that follow only read.
			for s, id := range ids {
				serve(b, e, signer, creds[s], "Action=DescribeInstances&Version=2016-11-15&InstanceId.1="+id)
			}
			// As autovacuum would after the load (statistics, the
			// visibility map), so that its work is not timed.
			if pg != nil {
				if err := pg.Exec(econetest.Context(b), "postgres", "VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.SetParallelism(8 / runtime.GOMAXPROCS(0))
			cpu := func() (own, cluster time.Duration) {
				var ru syscall.Rusage
				if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
					b.Fatal(err)
				}
				own = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				if pg != nil {
					cluster = pg.CPU()
				}
				return own, cluster
			}
			b.ReportAllocs()
			b.ResetTimer()
			own, cluster := cpu()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s := int(n.Add(1)) % students
					serve(b, e, signer, creds[s], "Action=DescribeInstances&Version=2016-11-15&InstanceId.1="+ids[s])
				}
			})
			b.StopTimer()
			ownAfter, clusterAfter := cpu()
			b.ReportMetric(float64(ownAfter-own)/float64(b.N), "go-cpu-ns/op")
			b.ReportMetric(float64(clusterAfter-cluster)/float64(b.N), "pg-cpu-ns/op")
		})
	}
}

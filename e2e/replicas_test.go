package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// replicaPair is two econe-server processes, A and B, sharing one
// PostgreSQL database; the test's cleanup stops both by their pid files.
type replicaPair struct {
	a, b *serverProcess
	dsn  string
}

func startReplicas(t *testing.T, extraYAML string) *replicaPair {
	t.Helper()
	bin := buildServerBinary(t)
	dsn := pgtest.Start(t).NewSchema(t)
	yaml := fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q\n  leader_takeover: 5s\n%s", dsn, extraYAML)
	p := &replicaPair{a: newServerProcess(t, bin, yaml), b: newServerProcess(t, bin, yaml), dsn: dsn}
	p.a.must(t, "start")
	// Every replica needs the same keyring key (README: Running several
	// replicas).
	key, err := os.ReadFile(filepath.Join(p.a.dir, "data", "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(p.b.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.b.dir, "data", "secret.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	p.b.must(t, "start")
	t.Cleanup(func() {
		if t.Failed() {
			for name, d := range map[string]*serverProcess{"A": p.a, "B": p.b} {
				log, _ := os.ReadFile(filepath.Join(d.dir, "data", "econe-server.log"))
				for _, line := range strings.Split(string(log), "\n") {
					if strings.Contains(line, `"level":"error"`) {
						t.Logf("replica %s: %s", name, line)
					}
				}
			}
		}
	})
	return p
}

// user adds a student through A (its admin socket) and returns the
// credentials.
func (p *replicaPair) user(t *testing.T, name, group string) *admin.Credentials {
	t.Helper()
	var c admin.Credentials
	if err := json.Unmarshal([]byte(p.a.must(t, "user", "add", name, "--group", group, "--json")), &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// clients are the student's SDK clients at A and at B.
func (p *replicaPair) clients(c *admin.Credentials) (a, b *ec2.Client) {
	region := conf.Default().Region
	return econetest.EC2At(p.a.url(), region, c), econetest.EC2At(p.b.url(), region, c)
}

// view reads the shared database directly.
func (p *replicaPair) view(t *testing.T, fn func(tx store.Tx) error) {
	t.Helper()
	st, err := postgres.Open(context.Background(), p.dsn, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.View(fn); err != nil {
		t.Fatal(err)
	}
}

// TestTwoReplicas: two econe-server processes on one PostgreSQL answer
// for each other: what one launched the other describes and terminates,
// a ClientToken retry at the other returns the same instance, and the
// quota race over both never overshoots.
func TestTwoReplicas(t *testing.T) {
	groups := "groups:\n"
	for n := 2; n <= 5; n++ {
		groups += fmt.Sprintf("  limit%d:\n    max_instances: %d\n", n, n)
	}
	p := startReplicas(t, groups)
	ctx := econetest.Context(t)

	t.Run("launch through A, describe and terminate through B", func(t *testing.T) {
		a, b := p.clients(p.user(t, "alice", "limit5"))
		run, err := a.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		if err != nil {
			t.Fatalf("RunInstances at A: %v", err)
		}
		id := aws.ToString(run.Instances[0].InstanceId)
		got, err := b.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil || len(got.Reservations) != 1 {
			t.Fatalf("DescribeInstances at B: got %v, %v, want %s", got, err, id)
		}
		if state := got.Reservations[0].Instances[0].State.Name; state == types.InstanceStateNameTerminated {
			t.Errorf("DescribeInstances at B: got state %s, want the instance A launched alive", state)
		}
		term, err := b.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		if err != nil || len(term.TerminatingInstances) != 1 {
			t.Fatalf("TerminateInstances at B: got %v, %v", term, err)
		}
		if prev := term.TerminatingInstances[0].PreviousState.Name; prev == types.InstanceStateNameTerminated {
			t.Errorf("TerminateInstances at B: previous state %s, want the instance alive until then", prev)
		}
	})

	t.Run("a ClientToken retry at the other replica", func(t *testing.T) {
		a, b := p.clients(p.user(t, "bob", "limit5"))
		in := &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String("retry-1")}
		first, err := a.RunInstances(ctx, in)
		if err != nil {
			t.Fatalf("RunInstances at A: %v", err)
		}
		again, err := b.RunInstances(ctx, in)
		if err != nil {
			t.Fatalf("the retry at B: %v", err)
		}
		if got, want := aws.ToString(again.Instances[0].InstanceId), aws.ToString(first.Instances[0].InstanceId); got != want {
			t.Errorf("the retry at B: got instance %s, want %s", got, want)
		}
	})

	t.Run("the quota race over both replicas never overshoots", func(t *testing.T) {
		const students, perStudent = 20, 3
		limit := func(s int) int { return 2 + s%4 }
		clients := make([][]*ec2.Client, students)
		for s := range students {
			a, b := p.clients(p.user(t, fmt.Sprintf("student%02d", s), fmt.Sprintf("limit%d", limit(s))))
			for c := range perStudent {
				clients[s] = append(clients[s], []*ec2.Client{a, b}[(s+c)%2])
			}
		}
		launched := econetest.LaunchRace(t, debianAMI, clients)
		p.view(t, func(tx store.Tx) error {
			for s := range students {
				owner := fmt.Sprintf("student%02d", s)
				recount, err := store.RecountCounters(tx, owner)
				if err != nil {
					return err
				}
				stored := 0
				for _, n := range recount.Instances {
					stored += n
				}
				if want := limit(s); launched[s] != want || stored != want {
					t.Errorf("%s, limit %d: got %d launched, %d stored, want exactly %d", owner, want, launched[s], stored, want)
				}
			}
			return nil
		})
	})
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/guard"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// replicaPair is two econe-server processes, A and B, sharing one
// PostgreSQL database; the test's cleanup stops both by their pid files.
type replicaPair struct {
	a, b *serverProcess
	dsn  string
	pg   *pgtest.Server
}

// startReplicas starts A and B with extraYAML added to their configuration,
// on a private PostgreSQL started with pgSettings (pgtest.Start).
func startReplicas(t testing.TB, extraYAML string, pgSettings ...string) *replicaPair {
	t.Helper()
	bin := buildServerBinary(t)
	srv := pgtest.Start(t, pgSettings...)
	dsn := srv.NewSchema(t)
	yaml := fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q\n  leader_takeover: 5s\n%s", dsn, extraYAML)
	p := &replicaPair{a: newServerProcess(t, bin, yaml), b: newServerProcess(t, bin, yaml), dsn: dsn, pg: srv}
	if strings.Contains("\n"+extraYAML, "\nbackend:") {
		// extraYAML's backend section replaces newServerProcess's (YAML
		// refuses a repeated key).
		for _, d := range []*serverProcess{p.a, p.b} {
			raw, err := os.ReadFile(d.config)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Replace(string(raw), "backend:\n  sim:\n    boot_delay: 0s\n", "", 1)
			if err := os.WriteFile(d.config, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
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
func (p *replicaPair) user(t testing.TB, name, group string) *admin.Credentials {
	t.Helper()
	return p.a.user(t, name, "--group", group)
}

// user adds a student through d's admin socket, with the further options
// of `user add`, and returns the credentials.
func (d *serverProcess) user(t testing.TB, name string, options ...string) *admin.Credentials {
	t.Helper()
	var c admin.Credentials
	if err := json.Unmarshal([]byte(d.must(t, append([]string{"user", "add", name, "--json"}, options...)...)), &c); err != nil {
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
func (p *replicaPair) view(t testing.TB, fn func(tx store.Tx) error) {
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

	t.Run("a key disabled or rotated through A is refused at B at once", func(t *testing.T) {
		carol := p.user(t, "carol", "limit2")
		a, _ := p.clients(carol)
		run, err := a.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		if err != nil {
			t.Fatalf("RunInstances at A: %v", err)
		}
		id := aws.ToString(run.Instances[0].InstanceId)
		// B remembers the key from the first call of each; a describe
		// by id confirms it in its own read, DescribeRegions (which reads
		// nothing) before answering.
		calls := map[string]func(*ec2.Client) error{
			"DescribeInstances": func(c *ec2.Client) error {
				_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
				return err
			},
			"DescribeRegions": func(c *ec2.Client) error {
				_, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
				return err
			},
		}
		rotated := carol
		steps := []struct {
			name     string
			change   []string // a user command run through A
			key      func() *admin.Credentials
			wantCode string
		}{
			{"before any change", nil, func() *admin.Credentials { return carol }, ""},
			{"disabled through A", []string{"user", "disable", "carol"}, func() *admin.Credentials { return carol }, "AuthFailure"},
			{"enabled through A", []string{"user", "enable", "carol"}, func() *admin.Credentials { return carol }, ""},
			{"the old key after a rotation through A", []string{"user", "rotate-key", "carol", "--json"}, func() *admin.Credentials { return carol }, "AuthFailure"},
			{"the new key", nil, func() *admin.Credentials { return rotated }, ""},
		}
		for _, s := range steps {
			if s.change != nil {
				out := p.a.must(t, s.change...)
				if s.change[1] == "rotate-key" {
					rotated = new(admin.Credentials)
					if err := json.Unmarshal([]byte(out), rotated); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, b := p.clients(s.key())
			for name, call := range calls {
				if code, _ := apiError(call(b)); code != s.wantCode {
					t.Errorf("%s, %s at B: got code %q, want %q", s.name, name, code, s.wantCode)
				}
			}
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

	t.Run("first network calls at both replicas make one default VPC", func(t *testing.T) {
		const students = 6
		var wg sync.WaitGroup
		for s := range students {
			a, b := p.clients(p.user(t, fmt.Sprintf("net%02d", s), "limit2"))
			for _, c := range []*ec2.Client{a, b, a, b} {
				wg.Go(func() {
					if _, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
						t.Errorf("DescribeVpcs: %v", err)
					}
				})
			}
		}
		wg.Wait()
		p.view(t, func(tx store.Tx) error {
			for s := range students {
				owner := fmt.Sprintf("net%02d", s)
				vpcs, err := store.ListVPCs(tx, owner)
				if err != nil {
					return err
				}
				subnets, err := store.ListSubnets(tx, owner)
				if err != nil {
					return err
				}
				groups, err := store.ListSecurityGroups(tx, owner)
				if err != nil {
					return err
				}
				c, err := store.GetCounters(tx, owner)
				if err != nil {
					return err
				}
				if len(vpcs) != 1 || vpcs[0].ID != store.DefaultVPCID(owner) || len(subnets) != len(conf.Default().AvailabilityZones) || len(groups) != 1 || c.VPCs != 1 {
					t.Errorf("%s: got %d VPCs, %d subnets, %d groups, VPC counter %d, want 1 default VPC, a subnet per zone, 1 group, counter 1",
						owner, len(vpcs), len(subnets), len(groups), c.VPCs)
				}
			}
			return nil
		})
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

// waitFor polls cond until it holds, failing the test after within: the
// other process's progress has no signal to wait on.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after %v, for %s", within, what)
		}
	}
}

// role is what `status` says of d's part: leader or follower.
func (d *serverProcess) role(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*role:\s+(\S+)`).FindStringSubmatch(d.must(t, "status"))
	if m == nil {
		return ""
	}
	return m[1]
}

// leader waits until one replica leads and returns it, then the other.
func (p *replicaPair) leader(t *testing.T) (leader, follower *serverProcess) {
	t.Helper()
	waitFor(t, 15*time.Second, "a leader", func() bool {
		ra, rb := p.a.role(t), p.b.role(t)
		switch {
		case ra == "leader" && rb == "follower":
			leader, follower = p.a, p.b
		case rb == "leader" && ra == "follower":
			leader, follower = p.b, p.a
		}
		return leader != nil
	})
	return leader, follower
}

// guardActions are the guardrail actions of kind stored, by instance.
func (p *replicaPair) guardActions(t *testing.T, kind string) map[string][]*guard.Action {
	t.Helper()
	out := map[string][]*guard.Action{}
	p.view(t, func(tx store.Tx) error {
		return store.ScanJSON(tx, store.BucketGuardrails, kind+"/", func(_ string, a *guard.Action) error {
			out[a.InstanceID] = append(out[a.InstanceID], a)
			return nil
		})
	})
	return out
}

// TestReplicaLeaderKilledMidSweep: the leader's guardrail sweep records a
// stop of each instance of a student whose budget is spent, and the
// leader is killed -9 before carrying them out (the instances still boot,
// so the stops wait). The other replica takes over and stops each
// instance exactly once: one action each, done, and one notification.
func TestReplicaLeaderKilledMidSweep(t *testing.T) {
	dir := t.TempDir()
	told, script := filepath.Join(dir, "told"), filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1 $ECONE_INSTANCE_IDS\" >> "+told+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The boot outlasts the kill and the takeover's start: the leader
	// plans the stops at its next sweep and cannot carry them out yet.
	p := startReplicas(t, fmt.Sprintf(`backend:
  sim:
    boot_delay: 10s
    stop_delay: 0s
guardrails:
  sweep_interval: 1s
  stop_on_budget: true
  script: %s
groups:
  capped:
    budget: "0.000001"
`, script))
	ctx := econetest.Context(t)
	leader, follower := p.leader(t)
	creds := p.user(t, "carol", "capped")
	c := econetest.EC2At(follower.url(), conf.Default().Region, creds)
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(3), MaxCount: aws.Int32(3)})
	if err != nil {
		t.Fatalf("RunInstances at the follower: %v", err)
	}
	var ids []string
	for _, inst := range run.Instances {
		ids = append(ids, aws.ToString(inst.InstanceId))
	}
	waitFor(t, 5*time.Second, "the leader's sweep to plan a stop of each instance", func() bool {
		return len(p.guardActions(t, guard.BudgetStop)) == len(ids)
	})
	killPIDFile(t, leader.pidFile())
	for id, acts := range p.guardActions(t, guard.BudgetStop) {
		if len(acts) != 1 || !acts[0].Done.IsZero() {
			t.Fatalf("%s when the leader died: got %d actions, the first done at %v; want one, not done (is the boot delay too short for this machine?)", id, len(acts), acts[0].Done)
		}
	}

	waitFor(t, 25*time.Second, "the other replica to take over and carry out the stops", func() bool {
		for _, acts := range p.guardActions(t, guard.BudgetStop) {
			if acts[0].Done.IsZero() {
				return false
			}
		}
		return true
	})
	if got := follower.role(t); got != "leader" {
		t.Errorf("the survivor's role: got %s, want leader", got)
	}
	acts := p.guardActions(t, guard.BudgetStop)
	desc, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatalf("DescribeInstances at the survivor: %v", err)
	}
	for _, inst := range desc.Reservations[0].Instances {
		id := aws.ToString(inst.InstanceId)
		if n := len(acts[id]); n != 1 || acts[id][0].Result != string(types.InstanceStateNameStopping) && acts[id][0].Result != string(types.InstanceStateNameStopped) {
			t.Errorf("%s: got %d budget stops, the first %+v; want exactly one, done, stopping or stopped", id, n, acts[id][0])
		}
		if state, reason := inst.State.Name, aws.ToString(inst.StateReason.Code); state != types.InstanceStateNameStopped || reason != "Server.ScheduledStop" {
			t.Errorf("%s: got state %s, reason %s; want stopped, Server.ScheduledStop", id, state, reason)
		}
	}
	// Stopping the survivor drains its notifier: what it told is all told.
	waitFor(t, 10*time.Second, "the notifications of the stops", func() bool {
		raw, _ := os.ReadFile(told)
		return strings.Count(string(raw), "stopped ") >= len(ids)
	})
	follower.must(t, "stop")
	raw, err := os.ReadFile(told)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := strings.Count(string(raw), "stopped "+id+"\n"); got != 1 {
			t.Errorf("%s: told stopped %d times, want once; the notifications:\n%s", id, got, raw)
		}
	}
}

// call is one request of TestReplicasDatabaseOutage's clients.
type call struct {
	replica    string // A or B
	launch     bool   // RunInstances, else DescribeInstances
	start, end time.Time
	id         string // the instance launched (2xx launches)
	err        error
}

// TestReplicasDatabaseOutage: PostgreSQL stops for 10 s while SDK clients
// launch and describe through both replicas. Every request made while it
// is down fails fast with 503 ServiceUnavailable and changes nothing;
// every launch acknowledged before, during or after is there afterwards;
// and both replicas serve again, one leading, without a restart.
func TestReplicasDatabaseOutage(t *testing.T) {
	const (
		workers = 4
		outage  = 10 * time.Second
		// hung bounds one request: the database's absence must be told
		// within store's begin timeout, not waited out.
		hung = 8 * time.Second
	)
	p := startReplicas(t, "groups:\n  lab:\n    max_instances: 100000\n    max_vcpus: 100000\n")
	ctx := econetest.Context(t)
	var (
		mu    sync.Mutex
		calls []call
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	record := func(c call) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, c)
	}
	// ok counts the 2xx answers of each replica to requests started after since.
	ok := func(since time.Time) map[string]int {
		mu.Lock()
		defer mu.Unlock()
		n := map[string]int{}
		for _, c := range calls {
			if c.err == nil && !c.start.Before(since) {
				n[c.replica]++
			}
		}
		return n
	}
	owners := make([]string, workers)
	for w := range workers {
		owners[w] = fmt.Sprintf("worker%d", w)
		a, b := p.clients(p.user(t, owners[w], "lab"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var acked []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond): // a student's pace, not a flood
				}
				c := call{replica: []string{"A", "B"}[(w+i)%2], launch: i%2 == 0 || len(acked) == 0, start: time.Now()}
				client := map[string]*ec2.Client{"A": a, "B": b}[c.replica]
				rctx, cancel := context.WithTimeout(ctx, hung+2*time.Second)
				if c.launch {
					var out *ec2.RunInstancesOutput
					out, c.err = client.RunInstances(rctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
					if c.err == nil {
						c.id = aws.ToString(out.Instances[0].InstanceId)
						acked = append(acked, c.id)
					}
				} else {
					_, c.err = client.DescribeInstances(rctx, &ec2.DescribeInstancesInput{InstanceIds: acked[max(0, len(acked)-5):]})
				}
				cancel()
				c.end = time.Now()
				record(c)
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
	served := func(since time.Time) bool { n := ok(since); return n["A"] >= workers && n["B"] >= workers }
	waitFor(t, 15*time.Second, "both replicas serving", func() bool { return served(time.Time{}) })

	p.pg.Pause(t)
	down := time.Now()
	time.Sleep(outage) // the outage itself: the clients keep going meanwhile
	up := time.Now()
	p.pg.Resume(t)
	waitFor(t, 20*time.Second, "both replicas serving again after the outage", func() bool { return served(up) })
	close(stop)
	wg.Wait()

	acked := map[string]bool{}
	during, ambiguous := map[string]int{}, 0
	var slowest time.Duration
	for _, c := range calls {
		took := c.end.Sub(c.start)
		slowest = max(slowest, took)
		if took > hung {
			t.Errorf("%s at %s: took %v, want an answer within %v: %v", action(c), c.replica, took, hung, c.err)
		}
		if c.err == nil && c.launch {
			acked[c.id] = true
		}
		if c.start.After(down) && c.end.Before(up) {
			during[c.replica]++
			if code, status := apiError(c.err); code != "ServiceUnavailable" || status != 503 {
				t.Errorf("%s at %s while the database was down: got %q, HTTP %d (%v), want ServiceUnavailable, 503", action(c), c.replica, code, status, c.err)
			}
		}
		// A launch the database's loss cut short may have been made
		// (its commit unanswered); a 503 says nothing was.
		if code, _ := apiError(c.err); c.launch && c.err != nil && code != "ServiceUnavailable" {
			ambiguous++
		}
	}
	t.Logf("%d requests, %d launches acknowledged, %d answered while the database was down (A %d, B %d), slowest %v",
		len(calls), len(acked), during["A"]+during["B"], during["A"], during["B"], slowest.Round(time.Millisecond))
	if during["A"] == 0 || during["B"] == 0 {
		t.Errorf("requests answered while the database was down: got A %d, B %d, want some at each", during["A"], during["B"])
	}

	stored := map[string]bool{}
	p.view(t, func(tx store.Tx) error {
		for _, owner := range owners {
			insts, err := store.ListInstances(tx, owner)
			if err != nil {
				return err
			}
			for _, inst := range insts {
				stored[inst.ID] = true
			}
		}
		return nil
	})
	for id := range acked {
		if !stored[id] {
			t.Errorf("%s: acknowledged, but not stored after the outage", id)
		}
	}
	if extra := len(stored) - len(acked); extra < 0 || extra > ambiguous {
		t.Errorf("got %d instances stored, %d acknowledged: want at most %d more (the launches cut short without a 503)", len(stored), len(acked), ambiguous)
	}
	p.leader(t) // one replica leads again
}

func action(c call) string {
	if c.launch {
		return "RunInstances"
	}
	return "DescribeInstances"
}

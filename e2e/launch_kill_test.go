package e2e

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// Launches run while their audit entry is written, and commit only once it
// is durable. kill -9 in the middle of many concurrent launches: after the
// restart every launch answered 2xx is stored, and every launch stored
// (answered or not) has its request entry in the audit log.
func TestLaunchesSurviveKillAudited(t *testing.T) {
	d := newServerProcess(t, buildServerBinary(t), "quota: {max_instances: 1000000, max_vcpus: 1000000}\n")
	d.must(t, "start")
	creds := d.user(t, "alice")
	c, ctx := econetest.EC2At(d.url(), conf.Default().Region, creds), econetest.Context(t)

	const workers, killAfter = 16, 200
	var (
		mu    sync.Mutex
		acked []string
		kill  sync.Once
		wg    sync.WaitGroup
	)
	killed := make(chan struct{}) // closed as the kill is sent
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(debianAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
				if err != nil {
					select {
					case <-killed:
						return // the server is gone
					default:
						t.Errorf("RunInstances before the kill: %v", err)
						return
					}
				}
				mu.Lock()
				acked = append(acked, aws.ToString(out.Instances[0].InstanceId))
				n := len(acked)
				mu.Unlock()
				if n >= killAfter {
					kill.Do(func() {
						close(killed)
						killPIDFile(t, d.pidFile())
					})
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	d.must(t, "start")
	stored := map[string]bool{}
	pages := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range instanceIDsOf(out.Reservations) {
			stored[id] = true
		}
	}
	for _, id := range acked {
		if !stored[id] {
			t.Errorf("%s: answered 2xx before the kill, not stored after it", id)
		}
	}
	entries, _, err := audit.Read(filepath.Join(d.dir, "data", "audit"))
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	for _, e := range entries {
		if e.Action == "RunInstances" && e.Phase == audit.PhaseRequest {
			requests++
		}
	}
	if requests < len(stored) {
		t.Errorf("got %d instances stored, %d RunInstances request entries: want an entry for each launch stored", len(stored), requests)
	}
	t.Logf("%d launches answered, %d stored, %d request entries", len(acked), len(stored), requests)
}

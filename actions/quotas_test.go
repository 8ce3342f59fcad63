package actions

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// setQuota stores a user override, as `econe-server quota set` does.
func setQuota(t testing.TB, s *Service, user string, l quota.Limits) {
	t.Helper()
	if err := s.Store.Update(func(tx store.Tx) error { return store.PutQuota(tx, store.QuotaUser, user, l) }); err != nil {
		t.Fatal(err)
	}
}

func newQuotaEnv(t *testing.T) (*testEnv, *manualClock) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"203.0.113.0/28"}
	e, clock, _ := newInstanceEnv(t, cfg)
	e.svc.Addresses = &fakeAddressProvider{}
	reconcile(t, e.svc)
	return e, clock
}

// Every resource kind is refused with EC2's code once the student's limit
// is reached, and what was refused is not recorded.
func TestQuotaRefusals(t *testing.T) {
	zone := conf.Default().AvailabilityZones[0]
	volume := func(t *testing.T, e *testEnv, clock *manualClock, gib int) string {
		id := e.mustCall(t, "alice", "CreateVolume", "AvailabilityZone", zone, "Size", strconv.Itoa(gib)).(*createVolumeResponse).VolumeID
		clock.Advance(time.Minute) // available
		return id
	}
	stop := func(t *testing.T, e *testEnv, clock *manualClock, id string) {
		e.mustCall(t, "alice", "StopInstances", "InstanceId.1", id)
		clock.Advance(time.Minute)
		describe(t, e, "alice") // records it stopped
	}
	run := func(kv ...string) []string {
		return append([]string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1"}, kv...)
	}
	tests := []struct {
		name   string
		limits quota.Limits
		// setup makes what fits and returns the refused call.
		setup    func(t *testing.T, e *testEnv, clock *manualClock) (action string, kv []string)
		wantCode string
	}{
		{"instances", quota.Limits{MaxInstances: quota.Int(2)}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			launch(t, e, "alice", "MinCount", "2", "MaxCount", "2")
			return "RunInstances", run()
		}, ec2err.InstanceLimitExceeded},
		{"vcpus", quota.Limits{MaxVCPUs: quota.Int(2)}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			launch(t, e, "alice", "InstanceType", "m1.small") // 1 vCPU
			return "RunInstances", run("InstanceType", "t3.micro")
		}, ec2err.VcpuLimitExceeded},
		{"root volumes of a launch", quota.Limits{MaxVolumes: quota.Int(1)}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			return "RunInstances", []string{"ImageId", debianAMI, "MinCount", "2", "MaxCount", "2"}
		}, ec2err.VolumeLimitExceeded},
		{"instance type", quota.Limits{InstanceTypes: []string{"t3.micro"}}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			launch(t, e, "alice", "InstanceType", "t3.micro")
			return "RunInstances", run("InstanceType", "m1.small")
		}, ec2err.InvalidParameterValue},
		{"image", quota.Limits{Images: []string{"ami-0a1b2c3d4e5f60002"}}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			return "RunInstances", run()
		}, ec2err.InvalidParameterValue},
		{"budget", quota.Limits{Budget: money(t, "0.04")}, func(t *testing.T, e *testEnv, clock *manualClock) (string, []string) {
			launch(t, e, "alice", "InstanceType", "m1.small") // 0.044 an hour, still running
			clock.Advance(time.Hour)
			return "RunInstances", run()
		}, ec2err.ResourceLimitExceeded},
		{"start over the instance limit", quota.Limits{MaxInstances: quota.Int(1)}, func(t *testing.T, e *testEnv, clock *manualClock) (string, []string) {
			id := launch(t, e, "alice")[0]
			clock.Advance(time.Minute)
			stop(t, e, clock, id)
			launch(t, e, "alice") // stopped instances do not count
			return "StartInstances", []string{"InstanceId.1", id}
		}, ec2err.InstanceLimitExceeded},
		{"start over the budget", quota.Limits{Budget: money(t, "0.04")}, func(t *testing.T, e *testEnv, clock *manualClock) (string, []string) {
			id := launch(t, e, "alice")[0]
			clock.Advance(time.Hour)
			stop(t, e, clock, id)
			return "StartInstances", []string{"InstanceId.1", id}
		}, ec2err.ResourceLimitExceeded},
		{"addresses", quota.Limits{MaxAddresses: quota.Int(1)}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			e.mustCall(t, "alice", "AllocateAddress")
			return "AllocateAddress", nil
		}, ec2err.AddressLimitExceeded},
		{"volumes", quota.Limits{MaxVolumes: quota.Int(1)}, func(t *testing.T, e *testEnv, clock *manualClock) (string, []string) {
			volume(t, e, clock, 1)
			return "CreateVolume", []string{"AvailabilityZone", zone, "Size", "1"}
		}, ec2err.VolumeLimitExceeded},
		{"volume GiB", quota.Limits{MaxVolumeGiB: quota.Int(10)}, func(t *testing.T, e *testEnv, clock *manualClock) (string, []string) {
			volume(t, e, clock, 8)
			return "CreateVolume", []string{"AvailabilityZone", zone, "Size", "3"}
		}, ec2err.VolumeLimitExceeded},
		{"volume growth", quota.Limits{MaxVolumeGiB: quota.Int(10)}, func(t *testing.T, e *testEnv, clock *manualClock) (string, []string) {
			id := volume(t, e, clock, 8)
			return "ModifyVolume", []string{"VolumeId", id, "Size", "11"}
		}, ec2err.VolumeLimitExceeded},
		{"snapshots", quota.Limits{MaxSnapshots: quota.Int(1)}, func(t *testing.T, e *testEnv, clock *manualClock) (string, []string) {
			id := volume(t, e, clock, 1)
			e.mustCall(t, "alice", "CreateSnapshot", "VolumeId", id)
			return "CreateSnapshot", []string{"VolumeId", id}
		}, ec2err.ResourceLimitExceeded},
		{"key pairs", quota.Limits{MaxKeyPairs: quota.Int(1)}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			e.mustCall(t, "alice", "CreateKeyPair", "KeyName", "k1")
			return "CreateKeyPair", []string{"KeyName", "k2"}
		}, ec2err.ResourceLimitExceeded},
		{"security groups", quota.Limits{MaxSecurityGroups: quota.Int(2)}, func(t *testing.T, e *testEnv, _ *manualClock) (string, []string) {
			e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "g1", "GroupDescription", "g1") // and the default group
			return "CreateSecurityGroup", []string{"GroupName", "g2", "GroupDescription", "g2"}
		}, ec2err.SecurityGroupLimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clock := newQuotaEnv(t)
			setQuota(t, e.svc, "alice", tt.limits)
			action, kv := tt.setup(t, e, clock)
			var before store.Counters
			e.svc.Store.View(func(tx store.Tx) (err error) { before, err = store.GetCounters(tx, "alice"); return err })
			_, err := e.call(t, "alice", action, kv...)
			wantCode(t, err, tt.wantCode)
			var after store.Counters
			e.svc.Store.View(func(tx store.Tx) (err error) { after, err = store.GetCounters(tx, "alice"); return err })
			if !after.Equal(before) {
				t.Errorf("refused %s: got counters %+v, want them unchanged %+v", action, after, before)
			}
			checkBooks(t, e.svc, "alice")
			// Without the limit the same call is allowed: the limit refused it.
			setQuota(t, e.svc, "alice", quota.Limits{})
			e.svc.Config.Quota.Limits = quota.Limits{}
			if _, err := e.call(t, "alice", action, kv...); err != nil {
				t.Errorf("%s with no limits: got %v, want success", action, err)
			}
		})
	}
}

func money(t *testing.T, s string) *quota.Money {
	m, err := quota.ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return &m
}

// The lazily created default group is never refused, even at a limit of
// zero groups: a student's first launch always has its group.
func TestQuotaDefaultGroupNeverRefused(t *testing.T) {
	e, _ := newQuotaEnv(t)
	setQuota(t, e.svc, "alice", quota.Limits{MaxSecurityGroups: quota.Int(0)})
	launch(t, e, "alice")
	_, err := e.call(t, "alice", "CreateSecurityGroup", "GroupName", "g1", "GroupDescription", "g1")
	wantCode(t, err, ec2err.SecurityGroupLimitExceeded)
}

// MinCount/MaxCount launches as many as fit, at least MinCount, or none.
func TestQuotaMinMaxCount(t *testing.T) {
	e, _ := newQuotaEnv(t)
	setQuota(t, e.svc, "alice", quota.Limits{MaxInstances: quota.Int(5)})
	steps := []struct {
		min, max  int
		wantCount int
		wantCode  string
	}{
		{1, 3, 3, ""},
		{1, 5, 2, ""}, // 2 places left of 5
		{1, 1, 0, ec2err.InstanceLimitExceeded},
	}
	for i, st := range steps {
		resp, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", strconv.Itoa(st.min), "MaxCount", strconv.Itoa(st.max))
		if st.wantCode != "" {
			wantCode(t, err, st.wantCode)
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := len(resp.(*runInstancesResponse).Instances); got != st.wantCount {
			t.Errorf("step %d (MinCount %d MaxCount %d): got %d instances, want %d", i, st.min, st.max, got, st.wantCount)
		}
	}
	// Terminating two makes room for two, not for a MinCount of three.
	ids := make([]string, 0, 2)
	for _, inst := range describe(t, e, "alice")[:2] {
		ids = append(ids, inst.InstanceID)
	}
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", ids[0], "InstanceId.2", ids[1])
	_, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "3", "MaxCount", "4")
	wantCode(t, err, ec2err.InstanceLimitExceeded)
	if got := launch(t, e, "alice", "MinCount", "2", "MaxCount", "4"); len(got) != 2 {
		t.Errorf("MinCount 2 MaxCount 4 with 2 places: got %d, want 2", len(got))
	}
	checkBooks(t, e.svc, "alice")
}

// outOfStore hides the sim's TxLauncher, so launches go intent, backend,
// record; its Run and Start fail.
type outOfStore struct{ backend.Backend }

var errBackendDown = errors.New("backend down")

func (outOfStore) Run(context.Context, *backend.LaunchContext) (backend.Machine, error) {
	return backend.Machine{}, errBackendDown
}

func (outOfStore) Start(context.Context, string) (backend.Machine, error) {
	return backend.Machine{}, errBackendDown
}

// The reservation a launch or a start makes inside its check's
// transaction is released when the backend fails.
func TestQuotaReservationReleasedOnBackendFailure(t *testing.T) {
	e, clock := newQuotaEnv(t)
	setQuota(t, e.svc, "alice", quota.Limits{MaxInstances: quota.Int(1)})
	stopped := launch(t, e, "alice")[0]
	clock.Advance(time.Minute)
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", stopped)
	clock.Advance(time.Minute)
	sim := e.svc.Backend
	e.svc.Backend = backend.Discover(outOfStore{sim})
	if _, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1"); !errors.Is(err, errBackendDown) {
		t.Fatalf("launch on a failing backend: got %v, want %v", err, errBackendDown)
	}
	if _, err := e.call(t, "alice", "StartInstances", "InstanceId.1", stopped); !errors.Is(err, errBackendDown) {
		t.Fatalf("start on a failing backend: got %v, want %v", err, errBackendDown)
	}
	if got := stateOf(t, e, "alice", stopped); got != "stopped" {
		t.Errorf("after a failed start: got %s, want stopped", got)
	}
	checkBooks(t, e.svc, "alice")
	e.svc.Backend = sim
	e.mustCall(t, "alice", "StartInstances", "InstanceId.1", stopped) // the place is free again
	_, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")
	wantCode(t, err, ec2err.InstanceLimitExceeded)
}

// DescribeAccountAttributes reports the caller's own limits; describes
// of types and images list what the caller may launch.
func TestQuotaDescribes(t *testing.T) {
	cfg := conf.Default()
	cfg.Groups = map[string]conf.Group{"students": {Limits: quota.Limits{MaxInstances: quota.Int(4), MaxAddresses: quota.Int(2), InstanceTypes: []string{"t3.micro", "t2.micro"}}}}
	e, _, _ := newInstanceEnv(t, cfg)
	setQuota(t, e.svc, "alice", quota.Limits{MaxInstances: quota.Int(7), Images: []string{hadoopAMI}})
	tests := []struct {
		user                   string
		maxInstances, maxAddrs string
		types                  int // listed by DescribeInstanceTypes; 0: all
		images                 []string
	}{
		{"bob", "20", "5", 0, nil},                  // EC2's defaults
		{"carol", "4", "2", 2, nil},                 // group config
		{"alice", "7", "5", 0, []string{hadoopAMI}}, // override
	}
	all := len(e.svc.catalog().InstanceTypes())
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got := map[string]string{}
			for _, a := range e.mustCall(t, tt.user, "DescribeAccountAttributes").(*describeAccountAttributesResponse).Attributes {
				got[a.Name] = a.Values[0].Value
			}
			want := map[string]string{"max-instances": tt.maxInstances, "max-elastic-ips": tt.maxAddrs, "vpc-max-elastic-ips": tt.maxAddrs}
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s: got %q, want %q", name, got[name], w)
				}
			}
			wantTypes := tt.types
			if wantTypes == 0 {
				wantTypes = all
			}
			if n := len(e.mustCall(t, tt.user, "DescribeInstanceTypes", "MaxResults", "100").(*describeInstanceTypesResponse).InstanceTypes); n != wantTypes {
				t.Errorf("DescribeInstanceTypes: got %d types, want %d", n, wantTypes)
			}
			var images []string
			for _, im := range e.mustCall(t, tt.user, "DescribeImages").(*describeImagesResponse).Images {
				images = append(images, im.ImageID)
			}
			if tt.images != nil && !equalStrings(images, tt.images) {
				t.Errorf("DescribeImages: got %v, want %v", images, tt.images)
			}
			if tt.images == nil && len(images) != len(e.svc.catalog().Images()) {
				t.Errorf("DescribeImages: got %d images, want all %d", len(images), len(e.svc.catalog().Images()))
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

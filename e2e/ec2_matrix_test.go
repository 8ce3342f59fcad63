package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// The end-to-end matrix of the ec2 backend: econe-server forwarding to one
// moto shared by every case (moto is slow to start). Each case is its own
// course with its own name prefix, so their resources in the one account
// never meet; moto's state is read per course.

// motoCourse is one case's share of the shared moto.
type motoCourse struct {
	moto, course, prefix string
}

// server starts econe-server for the course, its ec2 backend at endpoint
// (moto, or a proxy in front of it).
func (mc motoCourse) server(t *testing.T, endpoint string, opts ...func(*conf.Config)) *econetest.Env {
	return econetest.Start(t, append([]func(*conf.Config){ec2Backend(t, endpoint, mc.course, mc.prefix)}, opts...)...)
}

// state runs a boto3 expression against moto with the course's instances
// (econe:id -> instance) as INST and the course's tag filter as MINE.
func (mc motoCourse) state(t *testing.T, expr string) string {
	t.Helper()
	return motoBoto3(t, mc.moto, fmt.Sprintf(`
import boto3, os
c = boto3.client("ec2", endpoint_url=os.environ["MOTO"])
MINE = [{"Name": "tag:econe:course", "Values": [%q]}]
INST = {t["Value"]: i for r in c.describe_instances(Filters=MINE)["Reservations"] for i in r["Instances"] for t in i.get("Tags", []) if t["Key"] == "econe:id"}
print(%s)
`, mc.course, expr))
}

func TestEC2Matrix(t *testing.T) {
	moto := econetest.Moto(t)
	cases := []struct {
		name string
		run  func(t *testing.T, mc motoCourse)
	}{
		{"isolation/instances", func(t *testing.T, mc motoCourse) {
			e := mc.server(t, moto)
			alice, bob := e.User(t, "alice"), e.User(t, "bob")
			ids := runOn(t, e, alice, 1)
			instanceIsolation(t, e, bob, ids)
			if got := mc.state(t, `sorted(INST)`); got != fmt.Sprintf("['%s']", ids[0]) {
				t.Errorf("moto's instances of the course: got %s, want only alice's %s", got, ids[0])
			}
		}},
		{"isolation/key pairs", func(t *testing.T, mc motoCourse) {
			e := mc.server(t, moto)
			keyPairIsolation(t, e, e.User(t, "alice"))
			got := mc.state(t, `sorted(k["KeyName"] for k in c.describe_key_pairs(Filters=MINE)["KeyPairs"])`)
			if want := fmt.Sprintf("['%[1]s-alice-default', '%[1]s-bob-default']", mc.prefix); got != want {
				t.Errorf("moto's key pairs: got %s, want %s", got, want)
			}
		}},
		{"isolation/groups", func(t *testing.T, mc motoCourse) {
			e := mc.server(t, moto)
			alice := e.User(t, "alice")
			securityGroupIsolation(t, e, alice)
			// The groups reach AWS by the first launch in them at the latest.
			bob, err := e.App.Users.Credentials("bob")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*admin.Credentials{alice, bob} {
				runOn(t, e, c, 1, "web")
			}
			got := mc.state(t, `sorted(g["GroupName"] for g in c.describe_security_groups(Filters=MINE)["SecurityGroups"])`)
			if want := fmt.Sprintf("['%[1]s-alice-web', '%[1]s-bob-web']", mc.prefix); got != want {
				t.Errorf("moto's groups: got %s, want %s", got, want)
			}
		}},
		{"isolation/volumes", func(t *testing.T, mc motoCourse) {
			volumesTerminateRestartIsolation(t, mc.server(t, moto))
		}},
		{"hadoop/instances", func(t *testing.T, mc motoCourse) { hadoopTraceInstances(t, mc.server(t, moto)) }},
		{"hadoop/groups", func(t *testing.T, mc motoCourse) { hadoopTraceSecurityGroups(t, mc.server(t, moto)) }},
		{"hadoop/volumes", func(t *testing.T, mc motoCourse) { hadoopTraceVolumes(t, mc.server(t, moto)) }},
		{"tags and volumes", ec2TagsAndVolumes},
		{"quota refusal sends nothing", ec2QuotaRefusal},
		{"terminated in moto is reconciled", ec2TerminatedOutside},
		{"kill -9 between RunInstances and its record", ec2KillDuringLaunch},
	}
	for i, c := range cases {
		mc := motoCourse{moto: moto, course: fmt.Sprintf("m%d", i), prefix: fmt.Sprintf("p%d", i)}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, mc)
		})
	}
}

// runOn launches n instances for c and returns their ids.
func runOn(t *testing.T, e *econetest.Env, c *admin.Credentials, n int32, groups ...string) []string {
	t.Helper()
	out, err := e.EC2(c).RunInstances(econetest.Context(t), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(n), MaxCount: aws.Int32(n),
		SecurityGroups:    groups,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("course"), Value: aws.String("cs61c")}}}},
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	var ids []string
	for _, inst := range out.Instances {
		ids = append(ids, aws.ToString(inst.InstanceId))
	}
	return ids
}

// ec2TagsAndVolumes: tags a student adds later live in econe's store (EC2
// shows them to the student; the course's account keeps the launch's
// tags and econe's), and a volume attaches and detaches in moto.
func ec2TagsAndVolumes(t *testing.T, mc motoCourse) {
	e := mc.server(t, mc.moto)
	alice := e.User(t, "alice")
	c, ctx := e.EC2(alice), econetest.Context(t)
	id := runOn(t, e, alice, 1)[0]
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("node")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{filter("resource-id", id)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range tags.Tags {
		got = append(got, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	if fmt.Sprint(got) != "[Name=node course=cs61c]" {
		t.Errorf("DescribeTags: got %v, want [Name=node course=cs61c] (no econe: tags)", got)
	}
	d, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("tag:Name", "node")}})
	if ids := instanceIDsOf(d.Reservations); err != nil || fmt.Sprint(ids) != "["+id+"]" {
		t.Errorf("DescribeInstances by tag:Name: got %v, %v, want [%s]", ids, err, id)
	}
	wantMoto := fmt.Sprintf("[('course', 'cs61c'), ('econe:course', '%s'), ('econe:group', ''), ('econe:id', '%s'), ('econe:owner', 'alice')]", mc.course, id)
	if got := mc.state(t, fmt.Sprintf(`sorted((t["Key"], t["Value"]) for t in INST[%q]["Tags"])`, id)); got != wantMoto {
		t.Errorf("moto's tags of the instance: got %s, want %s", got, wantMoto)
	}

	waitRunning(t, e, c, id)
	vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(e.Config.AvailabilityZones[0]), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	volID := aws.ToString(vol.VolumeId)
	settleVolumes(e, false)
	// moto's view of the volume tagged with econe's id: its state and the
	// econe id of the instance it is attached to.
	inMoto := fmt.Sprintf(`[(v["State"], [{i["InstanceId"]: k for k, i in INST.items()}.get(a["InstanceId"]) for a in v["Attachments"]]) for v in c.describe_volumes(Filters=[{"Name": "tag:econe:id", "Values": [%q]}])["Volumes"]]`, volID)
	steps := []struct {
		name string
		call func() error
		want string
	}{
		{"attach", func() error {
			_, err := c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: aws.String(id), Device: aws.String("/dev/sdh")})
			return err
		}, fmt.Sprintf("[('in-use', ['%s'])]", id)},
		{"detach", func() error {
			_, err := c.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: vol.VolumeId})
			return err
		}, "[('available', [])]"},
		{"delete", func() error {
			_, err := c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: vol.VolumeId})
			return err
		}, "[]"},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		settleVolumes(e, false)
		if got := mc.state(t, inMoto); got != s.want {
			t.Errorf("after %s: moto has %s, want %s", s.name, got, s.want)
		}
	}
}

// ec2QuotaRefusal: a launch past the student's quota is refused by
// econe-server without a single call to AWS.
func ec2QuotaRefusal(t *testing.T, mc motoCourse) {
	proxy := econetest.NewProxy(t, mc.moto)
	e := mc.server(t, proxy.URL, func(c *conf.Config) { c.Quota.MaxInstances = quota.Int(1) })
	alice := e.User(t, "alice")
	runOn(t, e, alice, 1)
	if got := proxy.Calls("RunInstances"); got != 1 {
		t.Fatalf("got %d RunInstances sent to moto for one launch, want 1", got)
	}
	before := proxy.Total()
	_, err := e.EC2(alice).RunInstances(econetest.Context(t), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	if code, status := apiError(err); code != "InstanceLimitExceeded" || status != 400 {
		t.Errorf("second launch: got %s/%d, want InstanceLimitExceeded/400", code, status)
	}
	if got := proxy.Total() - before; got != 0 {
		t.Errorf("the refused launch sent %d calls to moto, want none", got)
	}
}

// ec2TerminatedOutside: an instance terminated in the account directly is
// noticed by the periodic reconciliation, which closes its usage interval.
func ec2TerminatedOutside(t *testing.T, mc motoCourse) {
	e := mc.server(t, mc.moto, func(c *conf.Config) { c.Usage.ReconcileInterval = conf.Duration(time.Second) })
	alice := e.User(t, "alice")
	id := runOn(t, e, alice, 1)[0]
	waitRunning(t, e, e.EC2(alice), id)
	open := func() bool {
		var iv *usage.Interval
		if err := e.App.Store.View(func(tx store.Tx) (err error) {
			iv, err = usage.OpenInterval(tx, "alice", id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return iv != nil
	}
	if !open() {
		t.Fatalf("%s running has no open usage interval", id)
	}
	mc.state(t, fmt.Sprintf(`c.terminate_instances(InstanceIds=[INST[%q]["InstanceId"]])`, id))
	// The loop runs every second on real time: wait for it, bounded.
	for deadline := time.Now().Add(20 * time.Second); open(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the reconciliation never closed %s's usage interval", id)
		}
	}
	var inst *store.Instance
	if err := e.App.Store.View(func(tx store.Tx) (err error) {
		inst, err = store.GetInstance(tx, "alice", id)
		return err
	}); err != nil || inst.State != "terminated" {
		t.Errorf("store: got %+v, %v, want %s terminated", inst, err, id)
	}
}

// ec2KillDuringLaunch: the server process is killed (SIGKILL) after moto
// ran the instance and before the answer reached econe-server; the
// restarted server finds the launch by its econe:id tag, and the student
// and the account have exactly one instance.
func ec2KillDuringLaunch(t *testing.T, mc motoCourse) {
	bin := buildServerBinary(t)
	proxy := econetest.NewProxy(t, mc.moto)
	// newServerProcess's YAML ends inside backend: (its sim block); these
	// lines continue that mapping.
	d := newServerProcess(t, bin, fmt.Sprintf(`  name: ec2
  ec2:
    endpoint: %s
    course: %s
    name_prefix: %s
    describe_cache: 0s
    credentials: {access_key_id: testing, secret_access_key: testing}
`, proxy.URL, mc.course, mc.prefix))
	cfg, err := conf.Load(d.config)
	if err != nil {
		t.Fatal(err)
	}
	st, keys, err := app.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := (&admin.Users{Store: st, Keys: keys, Clock: time.Now}).Add("alice", "")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.must(t, "start")
	c := (&econetest.Env{Config: cfg, URL: d.url(), Clock: &econetest.Clock{}}).EC2(creds)
	ctx := econetest.Context(t)

	held := proxy.Hold("RunInstances")
	launched := make(chan error, 1)
	go func() {
		_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		launched <- err
	}()
	select {
	case <-held:
	case err := <-launched:
		t.Fatalf("RunInstances answered (%v) before moto's answer was held", err)
	case <-ctx.Done():
		t.Fatal("moto never answered RunInstances")
	}
	killPIDFile(t, d.pidFile())
	proxy.Release()
	if err := <-launched; err == nil {
		t.Fatal("RunInstances succeeded through a killed server")
	}

	d.must(t, "start")
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	ids := instanceIDsOf(out.Reservations)
	if len(ids) != 1 {
		t.Fatalf("after the restart alice has instances %v, want exactly one", ids)
	}
	// Found, not rolled back: the student's instance is the one moto runs.
	if got := out.Reservations[0].Instances[0].State.Name; got != types.InstanceStateNamePending && got != types.InstanceStateNameRunning {
		t.Errorf("after the restart alice's %s is %s, want pending or running", ids[0], got)
	}
	if got, want := mc.state(t, `sorted((k, i["State"]["Name"]) for k, i in INST.items())`), fmt.Sprintf("[('%s', 'running')]", ids[0]); got != want {
		t.Errorf("moto's instances of the course: got %s, want %s", got, want)
	}
	if got := proxy.Calls("RunInstances"); got != 1 {
		t.Errorf("got %d RunInstances sent to moto, want the one before the kill", got)
	}
}

// killPIDFile kills the process whose pid the file holds with SIGKILL and
// waits (bounded) until it is gone.
func killPIDFile(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(string(raw)), &pid); err != nil || pid <= 1 {
		t.Fatalf("pid file %s holds %q", filepath.Base(path), raw)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still there after SIGKILL", pid)
		}
	}
}

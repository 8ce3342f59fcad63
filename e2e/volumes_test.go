package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// cliVolume is what the AWS CLI prints of a volume.
type cliVolume struct {
	VolumeId, State, AvailabilityZone, VolumeType, SnapshotId, CreateTime string
	Size, Iops                                                            int
	Attachments                                                           []struct {
		VolumeId, InstanceId, Device, State string
		DeleteOnTermination                 bool
	}
	Tags []struct{ Key, Value string }
}

func TestVolumesCLIRoundTrip(t *testing.T) {
	e := econetest.Start(t)
	alice := e.User(t, "alice")
	inst := runningInstances(t, e, e.EC2(alice), 1)[0]
	instID, zone := aws.ToString(inst.InstanceId), aws.ToString(inst.Placement.AvailabilityZone)

	var vol cliVolume
	cliJSON(t, e, alice, &vol, "ec2", "create-volume", "--availability-zone", zone, "--size", "3", "--volume-type", "gp3",
		"--tag-specifications", "ResourceType=volume,Tags=[{Key=Name,Value=data}]")
	if !strings.HasPrefix(vol.VolumeId, "vol-") || vol.Size != 3 || vol.VolumeType != "gp3" || vol.Iops != 3000 || vol.AvailabilityZone != zone {
		t.Fatalf("create-volume: got %+v, want a 3 GiB gp3 volume with 3000 IOPS in %s", vol, zone)
	}
	var att struct{ VolumeId, InstanceId, Device, State string }
	cliJSON(t, e, alice, &att, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", instID, "--device", "/dev/sdf")
	if att.InstanceId != instID || att.Device != "/dev/sdf" {
		t.Errorf("attach-volume: got %+v, want %s at /dev/sdf", att, instID)
	}
	var desc struct{ Volumes []cliVolume }
	cliJSON(t, e, alice, &desc, "ec2", "describe-volumes", "--filters", "Name=attachment.instance-id,Values="+instID, "Name=tag:Name,Values=data")
	if len(desc.Volumes) != 1 || desc.Volumes[0].State != "in-use" || len(desc.Volumes[0].Attachments) != 1 || desc.Volumes[0].Attachments[0].State != "attached" {
		t.Errorf("describe-volumes: got %+v, want the volume in-use, attached", desc.Volumes)
	}
	var snap struct{ SnapshotId, VolumeId, State, Description string }
	cliJSON(t, e, alice, &snap, "ec2", "create-snapshot", "--volume-id", vol.VolumeId, "--description", "before resize")
	var snaps struct {
		Snapshots []struct {
			SnapshotId, State, Progress, OwnerId string
			VolumeSize                           int
		}
	}
	cliJSON(t, e, alice, &snaps, "ec2", "describe-snapshots", "--owner-ids", "self")
	if len(snaps.Snapshots) != 1 || snaps.Snapshots[0].SnapshotId != snap.SnapshotId || snaps.Snapshots[0].State != "completed" || snaps.Snapshots[0].Progress != "100%" || snaps.Snapshots[0].VolumeSize != 3 {
		t.Errorf("describe-snapshots: got %+v, want %s completed at 100%% of 3 GiB", snaps.Snapshots, snap.SnapshotId)
	}
	var mod struct {
		VolumeModification struct {
			ModificationState string
			TargetSize        int
		}
	}
	cliJSON(t, e, alice, &mod, "ec2", "modify-volume", "--volume-id", vol.VolumeId, "--size", "6")
	if mod.VolumeModification.TargetSize != 6 {
		t.Errorf("modify-volume: got %+v, want target size 6", mod)
	}
	if _, err := e.CLI(t, alice, "ec2", "detach-volume", "--volume-id", vol.VolumeId); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CLI(t, alice, "ec2", "delete-volume", "--volume-id", vol.VolumeId); err != nil {
		t.Fatal(err)
	}
	_, err := e.CLI(t, alice, "ec2", "create-volume", "--availability-zone", zone, "--size", "0")
	if err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") {
		t.Errorf("create-volume --size 0: got %v, want InvalidParameterValue", err)
	}
}

// The boto3 script runs the waiters and the paginator a student's
// automation uses, and prints what it saw.
const boto3VolumesScript = boto3WithCode + `
inst, zone = sys.argv[1:3]
fast = {"Delay": 1, "MaxAttempts": 3}
ids = [ec2.create_volume(AvailabilityZone=zone, Size=1 + i)["VolumeId"] for i in range(7)]
ec2.get_waiter("volume_available").wait(VolumeIds=ids, WaiterConfig=fast)
ec2.attach_volume(VolumeId=ids[0], InstanceId=inst, Device="/dev/sdg")
ec2.get_waiter("volume_in_use").wait(VolumeIds=[ids[0]], WaiterConfig=fast)
pages = [[v["VolumeId"] for v in p["Volumes"]] for p in ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 5})]
snap = ec2.create_snapshot(VolumeId=ids[0], Description="nightly")["SnapshotId"]
ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig=fast)
restored = ec2.create_volume(AvailabilityZone=zone, SnapshotId=snap)
mods = ec2.describe_volumes_modifications(VolumeIds=[ec2.modify_volume(VolumeId=ids[1], Size=20)["VolumeModification"]["VolumeId"]])
inst_devices = [m["DeviceName"] for m in ec2.describe_instances(InstanceIds=[inst])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"]]
out = {
  "pages": [len(p) for p in pages],
  "distinct": len(set(sum(pages, []))),
  "in_use_device": ec2.describe_volumes(VolumeIds=[ids[0]])["Volumes"][0]["Attachments"][0]["Device"],
  "instance_devices": inst_devices,
  "restored_size": restored["Size"],
  "restored_snapshot": restored["SnapshotId"] == snap,
  "mod_target": mods["VolumesModifications"][0]["TargetSize"],
  "delete_attached": code(ec2.delete_volume, VolumeId=ids[0]),
  "wrong_zone": code(ec2.create_volume, AvailabilityZone="nowhere-1a", Size=1),
  "too_big": code(ec2.create_volume, AvailabilityZone=zone, Size=16385),
  "unknown_type": code(ec2.create_volume, AvailabilityZone=zone, Size=1, VolumeType="fast"),
  "malformed": code(ec2.describe_volumes, VolumeIds=["vol-nope"]),
  "dry_run": code(ec2.create_volume, AvailabilityZone=zone, Size=1, DryRun=True),
}
ec2.detach_volume(VolumeId=ids[0])
ec2.get_waiter("volume_available").wait(VolumeIds=[ids[0]], WaiterConfig=fast)
ec2.delete_volume(VolumeId=ids[0])
ec2.get_waiter("volume_deleted").wait(VolumeIds=[ids[0]], WaiterConfig=fast)
out["after_delete"] = code(ec2.describe_volumes, VolumeIds=[ids[0]])
print(json.dumps(out))
`

func TestVolumesBoto3WaitersAndPaginator(t *testing.T) {
	e := econetest.Start(t)
	alice := e.User(t, "alice")
	inst := runningInstances(t, e, e.EC2(alice), 1)[0]
	out, err := e.Boto3(t, alice, fmt.Sprintf("import sys; sys.argv = ['x', %q, %q]\n", aws.ToString(inst.InstanceId), aws.ToString(inst.Placement.AvailabilityZone))+boto3VolumesScript)
	var got map[string]any
	decodeOutput(t, out, err, &got)
	// The launch made a root volume too: 7 created + 1 root = 8 volumes.
	checks := []struct {
		name, key, want string
	}{
		{"pages of 5", "pages", "[5 3]"},
		{"paginator sees each volume once", "distinct", "8"},
		{"attached device", "in_use_device", "/dev/sdg"},
		{"instance block devices", "instance_devices", "[" + aws.ToString(inst.RootDeviceName) + " /dev/sdg]"},
		{"volume from snapshot has its size", "restored_size", "1"},
		{"volume from snapshot names it", "restored_snapshot", "true"},
		{"modification target", "mod_target", "20"},
		{"delete attached", "delete_attached", "VolumeInUse 400"},
		{"unknown zone", "wrong_zone", "InvalidZone.NotFound 400"},
		{"too big", "too_big", "InvalidParameterValue 400"},
		{"unknown type", "unknown_type", "InvalidParameterValue 400"},
		{"malformed id", "malformed", "InvalidVolumeID.Malformed 400"},
		{"dry run", "dry_run", "DryRunOperation 412"},
		{"after delete", "after_delete", "InvalidVolume.NotFound 400"},
	}
	for _, c := range checks {
		if g := fmt.Sprint(got[c.key]); g != c.want {
			t.Errorf("%s: got %s, want %s", c.name, g, c.want)
		}
	}
}

// boto3DetachScript is a student's attach and detach with the waiters,
// then what DescribeInstances shows of the instance's block devices.
const boto3DetachScript = boto3WithCode + `
patient = {"Delay": 1, "MaxAttempts": 60}
inst = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1)["Instances"][0]
iid, zone = inst["InstanceId"], inst["Placement"]["AvailabilityZone"]
ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=patient)
vol = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
ec2.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig=patient)
ec2.attach_volume(VolumeId=vol, InstanceId=iid, Device="/dev/sdf")
ec2.get_waiter("volume_in_use").wait(VolumeIds=[vol], WaiterConfig=patient)
ec2.detach_volume(VolumeId=vol)
ec2.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig=patient)
devices = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"]
print(json.dumps({"volume": vol, "instance_volumes": [d["Ebs"]["VolumeId"] for d in devices]}))
`

// TestDetachedVolumeLeavesInstanceWithBoto3: on the default configuration
// (the sim's real delays, as econe-server start runs it), a volume the
// waiters saw detach is no longer among the instance's block devices.
func TestDetachedVolumeLeavesInstanceWithBoto3(t *testing.T) {
	cfg := conf.Default()
	cfg.DataDir = t.TempDir()
	e := econetest.StartConfig(t, cfg)
	out, err := e.Boto3(t, e.User(t, "alice"), boto3DetachScript)
	var got struct {
		Volume          string
		InstanceVolumes []string `json:"instance_volumes"`
	}
	decodeOutput(t, out, err, &got)
	if len(got.InstanceVolumes) != 1 || slices.Contains(got.InstanceVolumes, got.Volume) {
		t.Errorf("instance block devices after the detach: got %v, want only the root volume (not %s)", got.InstanceVolumes, got.Volume)
	}
}

// TestVolumesTerminateRestartIsolation: volumes launched with an instance
// and attached later survive a restart, terminating the instance deletes
// the DeleteOnTermination ones and frees the others, and another student
// meets only NotFound.
func TestVolumesTerminateRestartIsolation(t *testing.T) {
	volumesTerminateRestartIsolation(t, econetest.Start(t))
}

func volumesTerminateRestartIsolation(t *testing.T, e *econetest.Env) {
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	c := e.EC2(alice)
	ctx := econetest.Context(t)
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), InstanceType: types.InstanceTypeT2Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdb"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(2), DeleteOnTermination: aws.Bool(false)}}},
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	instID := aws.ToString(run.Instances[0].InstanceId)
	zone := aws.ToString(run.Instances[0].Placement.AvailabilityZone)
	waitRunning(t, e, c, instID)
	extra, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	settleVolumes(e, false)
	if _, err := c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: extra.VolumeId, InstanceId: aws.String(instID), Device: aws.String("/dev/sdh")}); err != nil {
		t.Fatal(err)
	}

	// Bob: Alice's volume and instance are ids that do not exist.
	bc := e.EC2(bob)
	bobVol, err := bc.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(zone), Size: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	settleVolumes(e, false)
	_, derr := bc.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(extra.VolumeId)}})
	_, aerr := bc.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: bobVol.VolumeId, InstanceId: aws.String(instID), Device: aws.String("/dev/sdf")})
	_, serr := bc.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: extra.VolumeId})
	for _, ck := range []struct {
		name string
		err  error
		want string
	}{
		{"describe another's volume", derr, "InvalidVolume.NotFound"},
		{"attach to another's instance", aerr, "InvalidInstanceID.NotFound"},
		{"snapshot another's volume", serr, "InvalidVolume.NotFound"},
	} {
		if code, status := apiError(ck.err); code != ck.want || status != 400 {
			t.Errorf("%s: got %s %d, want %s 400", ck.name, code, status, ck.want)
		}
	}

	settleVolumes(e, false)

	// Restart on the same data directory: everything is still there.
	cfg := e.Config
	e.Stop()
	e = econetest.StartConfig(t, cfg)
	c = e.EC2(alice)
	vols := aliceVolumes(t, c)
	if len(vols) != 3 {
		t.Fatalf("after restart: got %d volumes %v, want root, /dev/sdb and /dev/sdh", len(vols), vols)
	}
	for dev, v := range vols {
		if v.State != types.VolumeStateInUse || len(v.Attachments) != 1 || aws.ToString(v.Attachments[0].InstanceId) != instID {
			t.Errorf("after restart: %s is %s %+v, want in-use on %s", dev, v.State, v.Attachments, instID)
		}
	}
	di, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instID}})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(di.Reservations[0].Instances[0].BlockDeviceMappings); got != 3 {
		t.Errorf("instance block device mappings: got %d, want 3", got)
	}

	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instID}}); err != nil {
		t.Fatal(err)
	}
	after := aliceVolumes(t, c)
	if len(after) != 2 {
		t.Fatalf("after terminate: got %v, want the two volumes not marked DeleteOnTermination", after)
	}
	for _, v := range after {
		if v.State != types.VolumeStateAvailable || len(v.Attachments) != 0 {
			t.Errorf("after terminate: %s is %s %+v, want available and detached", aws.ToString(v.VolumeId), v.State, v.Attachments)
		}
	}
}

// aliceVolumes maps the user's volumes by their attachment's device (or id).
func aliceVolumes(t *testing.T, c *ec2.Client) map[string]types.Volume {
	t.Helper()
	out, err := c.DescribeVolumes(econetest.Context(t), &ec2.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	vols := map[string]types.Volume{}
	for _, v := range out.Volumes {
		key := aws.ToString(v.VolumeId)
		if len(v.Attachments) == 1 {
			key = aws.ToString(v.Attachments[0].Device)
		}
		vols[key] = v
	}
	return vols
}

// settleVolumes lets the time pass for which e's backend shows a volume
// or snapshot change in its transitional state (creating, attaching, ...).
// The tests' sim has no such delays; the ec2 backend shows fixed estimates
// (backend/ec2's volumeDelay, snapshotDelay: AWS does not say when it
// will be done), which the replays' clients would wait out.
func settleVolumes(e *econetest.Env, snapshot bool) {
	if e.Config.Backend.Name != "ec2" {
		return
	}
	d := 10 * time.Second
	if snapshot {
		d = 5 * time.Minute
	}
	e.Clock.Advance(d + time.Second)
}

func waitRunning(t *testing.T, e *econetest.Env, c *ec2.Client, id string) {
	t.Helper()
	for range 50 {
		d, err := c.DescribeInstances(econetest.Context(t), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Reservations[0].Instances[0].State.Name == types.InstanceStateNameRunning {
			return
		}
		e.Clock.Advance(time.Second)
	}
	t.Fatalf("instance %s never reached running", id)
}

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/econetest"
)

// accountOf is the student's account id, as STS tells it.
func accountOf(t *testing.T, e *econetest.Env, c *admin.Credentials) string {
	t.Helper()
	out, err := e.STS(c).GetCallerIdentity(econetest.Context(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Account)
}

// TestSnapshotSharingCLI: with the AWS CLI, alice shares a snapshot with
// bob's account id; bob finds it and makes a volume from it, carol (not
// named) cannot, and nobody may make a snapshot public. Also the
// instance-type offerings and create-snapshots of an instance.
func TestSnapshotSharingCLI(t *testing.T) {
	e := econetest.Start(t)
	alice, bob, carol := e.User(t, "alice"), e.User(t, "bob"), e.User(t, "carol")
	bobID := accountOf(t, e, bob)
	inst := runningInstances(t, e, e.EC2(alice), 1)[0]
	zone := aws.ToString(inst.Placement.AvailabilityZone)

	var snaps struct {
		Snapshots []struct{ SnapshotId, VolumeId, State, OwnerId string }
	}
	cliJSON(t, e, alice, &snaps, "ec2", "create-snapshots", "--instance-specification", "InstanceId="+aws.ToString(inst.InstanceId),
		"--copy-tags-from-source", "volume", "--description", "before the lab")
	if len(snaps.Snapshots) != 1 || snaps.Snapshots[0].VolumeId == "" {
		t.Fatalf("create-snapshots: got %+v, want the root volume's snapshot", snaps.Snapshots)
	}
	snap := snaps.Snapshots[0].SnapshotId

	var attr struct {
		SnapshotId              string
		CreateVolumePermissions []struct{ UserId, Group string }
	}
	cliJSON(t, e, alice, &attr, "ec2", "describe-snapshot-attribute", "--snapshot-id", snap, "--attribute", "createVolumePermission")
	if attr.SnapshotId != snap || len(attr.CreateVolumePermissions) != 0 {
		t.Errorf("describe-snapshot-attribute: got %+v, want %s with no permissions", attr, snap)
	}
	if _, err := e.CLI(t, alice, "ec2", "modify-snapshot-attribute", "--snapshot-id", snap, "--attribute", "createVolumePermission",
		"--operation-type", "add", "--user-ids", bobID); err != nil {
		t.Fatal(err)
	}
	cliJSON(t, e, alice, &attr, "ec2", "describe-snapshot-attribute", "--snapshot-id", snap, "--attribute", "createVolumePermission")
	if len(attr.CreateVolumePermissions) != 1 || attr.CreateVolumePermissions[0].UserId != bobID {
		t.Errorf("after sharing: got %+v, want bob's account %s", attr.CreateVolumePermissions, bobID)
	}
	cliJSON(t, e, bob, &snaps, "ec2", "describe-snapshots", "--restorable-by-user-ids", "self")
	if len(snaps.Snapshots) != 1 || snaps.Snapshots[0].SnapshotId != snap || snaps.Snapshots[0].OwnerId != accountOf(t, e, alice) {
		t.Errorf("bob's restorable snapshots: got %+v, want alice's %s", snaps.Snapshots, snap)
	}
	var vol struct{ VolumeId, SnapshotId string }
	cliJSON(t, e, bob, &vol, "ec2", "create-volume", "--availability-zone", zone, "--snapshot-id", snap)
	if vol.SnapshotId != snap {
		t.Errorf("bob's volume: got %+v, want one from %s", vol, snap)
	}
	refusals := []struct {
		name string
		c    *admin.Credentials
		args []string
		want string
	}{
		{"carol restores", carol, []string{"ec2", "create-volume", "--availability-zone", zone, "--snapshot-id", snap}, "InvalidSnapshot.NotFound"},
		{"made public", alice, []string{"ec2", "modify-snapshot-attribute", "--snapshot-id", snap, "--attribute", "createVolumePermission", "--operation-type", "add", "--group-names", "all"}, "UnauthorizedOperation"},
		{"bob shares on", bob, []string{"ec2", "modify-snapshot-attribute", "--snapshot-id", snap, "--create-volume-permission", "Add=[{UserId=" + accountOf(t, e, carol) + "}]"}, "InvalidSnapshot.NotFound"},
		{"short account id", alice, []string{"ec2", "modify-snapshot-attribute", "--snapshot-id", snap, "--create-volume-permission", "Add=[{UserId=1234}]"}, "InvalidUserID.Malformed"},
		{"offerings in a galaxy", alice, []string{"ec2", "describe-instance-type-offerings", "--location-type", "galaxy"}, "InvalidParameterValue"},
	}
	for _, r := range refusals {
		if _, err := e.CLI(t, r.c, r.args...); err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: got %v, want %s", r.name, err, r.want)
		}
	}
	if _, err := e.CLI(t, alice, "ec2", "reset-snapshot-attribute", "--snapshot-id", snap, "--attribute", "createVolumePermission"); err != nil {
		t.Fatal(err)
	}
	cliJSON(t, e, bob, &snaps, "ec2", "describe-snapshots")
	if len(snaps.Snapshots) != 0 {
		t.Errorf("bob after reset: got %+v, want no snapshots", snaps.Snapshots)
	}

	var offers struct {
		InstanceTypeOfferings []struct{ InstanceType, LocationType, Location string }
	}
	cliJSON(t, e, alice, &offers, "ec2", "describe-instance-type-offerings", "--location-type", "availability-zone",
		"--filters", "Name=instance-type,Values=t3.micro", "Name=location,Values="+zone)
	if len(offers.InstanceTypeOfferings) != 1 || offers.InstanceTypeOfferings[0].Location != zone || offers.InstanceTypeOfferings[0].LocationType != "availability-zone" {
		t.Errorf("describe-instance-type-offerings: got %+v, want t3.micro in %s", offers.InstanceTypeOfferings, zone)
	}
}

// boto3AttributesScript drives the instance options and attributes as a
// playbook's modules do: launch options, every DescribeInstanceAttribute,
// ec2_vol's ModifyInstanceAttribute BlockDeviceMappings DeleteOnTermination
// then terminate, metadata options, credits, monitoring, and the errors.
const boto3AttributesScript = boto3WithCode + `
fast = {"Delay": 1, "MaxAttempts": 5}
run = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", InstanceType="t3.micro", MinCount=1, MaxCount=1,
    EbsOptimized=True, Monitoring={"Enabled": True}, HibernationOptions={"Configured": True}, DisableApiStop=True,
    CreditSpecification={"CpuCredits": "standard"},
    MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "InstanceMetadataTags": "enabled"})
inst = run["Instances"][0]["InstanceId"]
zone = run["Instances"][0]["Placement"]["AvailabilityZone"]
ec2.get_waiter("instance_running").wait(InstanceIds=[inst], WaiterConfig=fast)
d = ec2.describe_instances(InstanceIds=[inst])["Reservations"][0]["Instances"][0]
names = ["instanceType", "kernel", "ramdisk", "userData", "disableApiTermination", "instanceInitiatedShutdownBehavior",
    "rootDeviceName", "blockDeviceMapping", "productCodes", "sourceDestCheck", "groupSet", "ebsOptimized",
    "sriovNetSupport", "enaSupport", "enclaveOptions", "disableApiStop"]
attrs = {}
for n in names:
    r = ec2.describe_instance_attribute(InstanceId=inst, Attribute=n)
    attrs[n] = sorted(k for k in r if k not in ("InstanceId", "ResponseMetadata"))

# ec2_vol: create, attach, then delete_on_termination through ModifyInstanceAttribute.
vol = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
ec2.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig=fast)
ec2.attach_volume(VolumeId=vol, InstanceId=inst, Device="/dev/sdf")
ec2.get_waiter("volume_in_use").wait(VolumeIds=[vol], WaiterConfig=fast)
before = ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["Attachments"][0]["DeleteOnTermination"]
ec2.modify_instance_attribute(InstanceId=inst, BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": True}}])
after = ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["Attachments"][0]["DeleteOnTermination"]

meta = ec2.modify_instance_metadata_options(InstanceId=inst, HttpTokens="optional", HttpEndpoint="enabled")
credits = ec2.modify_instance_credit_specification(InstanceCreditSpecifications=[{"InstanceId": inst, "CpuCredits": "unlimited"}])
mon = ec2.unmonitor_instances(InstanceIds=[inst])["InstanceMonitorings"][0]["Monitoring"]["State"]
d2 = ec2.describe_instances(InstanceIds=[inst])["Reservations"][0]["Instances"][0]
out = {
  "ebs_optimized": d["EbsOptimized"], "monitoring": d["Monitoring"]["State"], "hibernation": d["HibernationOptions"]["Configured"],
  "metadata": [d["MetadataOptions"][k] for k in ("State", "HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint", "InstanceMetadataTags")],
  "source_dest_check": d["SourceDestCheck"],
  "attrs": attrs,
  "stop_protected": code(ec2.stop_instances, InstanceIds=[inst]),
  "kernel_running": code(ec2.modify_instance_attribute, InstanceId=inst, Kernel={"Value": "aki-12345678"}),
  "bad_tokens": code(ec2.modify_instance_metadata_options, InstanceId=inst, HttpTokens="sometimes"),
  "unknown_attribute": code(ec2.describe_instance_attribute, InstanceId=inst, Attribute="Kernel"),
  "dot_before": before, "dot_after": after,
  "meta_answer": meta["InstanceMetadataOptions"]["HttpTokens"],
  "credits_ok": [s["InstanceId"] == inst for s in credits["SuccessfulInstanceCreditSpecifications"]],
  "credits_now": ec2.describe_instance_credit_specifications(InstanceIds=[inst])["InstanceCreditSpecifications"][0]["CpuCredits"],
  "unmonitor": mon, "monitoring_after": d2["Monitoring"]["State"], "tokens_after": d2["MetadataOptions"]["HttpTokens"],
}
ec2.terminate_instances(InstanceIds=[inst])
ec2.get_waiter("instance_terminated").wait(InstanceIds=[inst], WaiterConfig=fast)
out["volume_after_terminate"] = code(ec2.describe_volumes, VolumeIds=[vol])
json.dump(out, sys.stdout)
`

func TestInstanceAttributesBoto3(t *testing.T) {
	e := econetest.Start(t)
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	out, err := e.Boto3(t, alice, boto3AttributesScript)
	var got map[string]any
	decodeOutput(t, out, err, &got)
	checks := []struct{ name, key, want string }{
		{"ebsOptimized", "ebs_optimized", "true"},
		{"monitoring", "monitoring", "enabled"},
		{"hibernation", "hibernation", "true"},
		{"metadata options", "metadata", "[applied required 2 enabled enabled]"},
		{"sourceDestCheck", "source_dest_check", "true"},
		{"stop protection", "stop_protected", "OperationNotPermitted 400"},
		{"kernel while running", "kernel_running", "IncorrectInstanceState 400"},
		{"bad HttpTokens", "bad_tokens", "InvalidParameterValue 400"},
		{"attribute names are case-sensitive", "unknown_attribute", "InvalidParameterValue 400"},
		{"DeleteOnTermination of an attached volume", "dot_before", "false"},
		{"DeleteOnTermination after modify", "dot_after", "true"},
		{"modify metadata answer", "meta_answer", "optional"},
		{"credit modify", "credits_ok", "[true]"},
		{"credits now", "credits_now", "unlimited"},
		{"unmonitor answer", "unmonitor", "disabling"},
		{"monitoring after", "monitoring_after", "disabled"},
		{"tokens after", "tokens_after", "optional"},
		{"volume deleted with the instance", "volume_after_terminate", "InvalidVolume.NotFound 400"},
	}
	for _, c := range checks {
		if g := fmt.Sprint(got[c.key]); g != c.want {
			t.Errorf("%s: got %s, want %s", c.name, g, c.want)
		}
	}
	// Each attribute answers in its own member (boto3's names).
	attrs, _ := got["attrs"].(map[string]any)
	members := map[string]string{"instanceType": "InstanceType", "kernel": "KernelId", "ramdisk": "RamdiskId", "userData": "UserData",
		"disableApiTermination": "DisableApiTermination", "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
		"rootDeviceName": "RootDeviceName", "blockDeviceMapping": "BlockDeviceMappings", "productCodes": "ProductCodes",
		"sourceDestCheck": "SourceDestCheck", "groupSet": "Groups", "ebsOptimized": "EbsOptimized", "sriovNetSupport": "SriovNetSupport",
		"enaSupport": "EnaSupport", "enclaveOptions": "EnclaveOptions", "disableApiStop": "DisableApiStop"}
	for name, member := range members {
		if g := fmt.Sprint(attrs[name]); g != "["+member+"]" {
			t.Errorf("describe_instance_attribute %s: got members %s, want [%s]", name, g, member)
		}
	}
	// Bob meets none of alice's instances.
	inst := runningInstances(t, e, e.EC2(alice), 1)[0]
	out, err = e.Boto3(t, bob, boto3WithCode+fmt.Sprintf(`print(json.dumps(code(ec2.modify_instance_metadata_options, InstanceId=%q, HttpTokens="required")))`, aws.ToString(inst.InstanceId)))
	var bobs string
	decodeOutput(t, out, err, &bobs)
	if bobs != "InvalidInstanceID.NotFound 400" {
		t.Errorf("bob modifies alice's metadata options: got %s, want InvalidInstanceID.NotFound 400", bobs)
	}
}

// TestInstanceAttributesSDK: aws-sdk-go-v2 reads every instance attribute
// its enum names and changes the security groups and source/dest check.
func TestInstanceAttributesSDK(t *testing.T) {
	e := econetest.Start(t)
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	c := e.EC2(alice)
	ctx := econetest.Context(t)
	inst := runningInstances(t, e, c, 1)[0]
	id := aws.ToString(inst.InstanceId)
	for _, name := range types.InstanceAttributeName("").Values() {
		if _, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: name}); err != nil {
			t.Errorf("DescribeInstanceAttribute %s: %v", name, err)
		}
	}
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), Groups: []string{aws.ToString(sg.GroupId)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), SourceDestCheck: &types.AttributeBooleanValue{Value: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Reservations[0].Instances[0]
	if len(got.SecurityGroups) != 1 || aws.ToString(got.SecurityGroups[0].GroupId) != aws.ToString(sg.GroupId) || aws.ToBool(got.SourceDestCheck) {
		t.Errorf("after modify: got groups %v, sourceDestCheck %v; want only %s, false", got.SecurityGroups, aws.ToBool(got.SourceDestCheck), aws.ToString(sg.GroupId))
	}
	if got.MetadataOptions == nil || got.MetadataOptions.HttpTokens != types.HttpTokensStateOptional {
		t.Errorf("metadata options: got %+v, want the defaults", got.MetadataOptions)
	}
	_, err = e.EC2(bob).ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), Groups: []string{aws.ToString(sg.GroupId)}})
	if code := apiCode(err); code != "InvalidInstanceID.NotFound" {
		t.Errorf("bob modifies alice's groups: got %s, want InvalidInstanceID.NotFound", code)
	}
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), Groups: []string{"sg-0123456789abcdef0"}})
	if code := apiCode(err); code != "InvalidGroup.NotFound" {
		t.Errorf("an unknown group: got %s, want InvalidGroup.NotFound", code)
	}
	offers, err := c.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{LocationType: types.LocationTypeAvailabilityZoneId})
	if err != nil || len(offers.InstanceTypeOfferings) == 0 || !slices.ContainsFunc(offers.InstanceTypeOfferings, func(o types.InstanceTypeOffering) bool { return o.InstanceType == types.InstanceTypeT3Micro }) {
		t.Errorf("DescribeInstanceTypeOfferings by zone id: got %v, %v; want t3.micro among them", offers, err)
	}
}

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
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// Images of students' instances, through the stock clients: made from a
// running instance with a data volume, waited for, launched (its volumes
// restored), shared with a classmate who launches it too, deregistered.

// cliVolumeSizes are the sizes of the instance's volumes by device, as
// the AWS CLI describes them.
func cliVolumeSizes(t *testing.T, e *econetest.Env, c *admin.Credentials, instanceID string) string {
	t.Helper()
	var desc struct {
		Volumes []struct {
			Size        int
			SnapshotId  string
			Attachments []struct{ Device string }
		}
	}
	cliJSON(t, e, c, &desc, "ec2", "describe-volumes", "--filters", "Name=attachment.instance-id,Values="+instanceID)
	var out []string
	for _, v := range desc.Volumes {
		out = append(out, fmt.Sprintf("%s:%d:%t", v.Attachments[0].Device, v.Size, strings.HasPrefix(v.SnapshotId, "snap-")))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestImagesCLI(t *testing.T) {
	e := econetest.Start(t)
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	inst := runningInstances(t, e, e.EC2(alice), 1)[0]
	instID, zone := aws.ToString(inst.InstanceId), aws.ToString(inst.Placement.AvailabilityZone)
	var vol struct{ VolumeId string }
	cliJSON(t, e, alice, &vol, "ec2", "create-volume", "--availability-zone", zone, "--size", "3")
	if _, err := e.CLI(t, alice, "ec2", "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", instID, "--device", "/dev/sdf"); err != nil {
		t.Fatal(err)
	}

	var created struct{ ImageId string }
	cliJSON(t, e, alice, &created, "ec2", "create-image", "--instance-id", instID, "--name", "web-v1", "--description", "lab 3",
		"--tag-specifications", "ResourceType=image,Tags=[{Key=role,Value=web}]")
	if _, err := e.CLI(t, alice, "ec2", "wait", "image-available", "--image-ids", created.ImageId); err != nil {
		t.Fatalf("wait image-available: %v", err)
	}
	var own struct {
		Images []struct {
			ImageId, Name, State, OwnerId string
			Public                        bool
			BlockDeviceMappings           []struct{ DeviceName string }
		}
	}
	cliJSON(t, e, alice, &own, "ec2", "describe-images", "--owners", "self")
	aliceAccount, bobAccount := accountOf(t, e, alice), accountOf(t, e, bob)
	if len(own.Images) != 1 || own.Images[0].ImageId != created.ImageId || own.Images[0].State != "available" ||
		own.Images[0].OwnerId != aliceAccount || own.Images[0].Public || len(own.Images[0].BlockDeviceMappings) != 2 {
		t.Fatalf("describe-images --owners self: got %+v, want %s available, alice's, private, with 2 devices", own.Images, created.ImageId)
	}

	var run struct{ Instances []struct{ InstanceId string } }
	cliJSON(t, e, alice, &run, "ec2", "run-instances", "--image-id", created.ImageId, "--count", "1")
	if got, want := cliVolumeSizes(t, e, alice, run.Instances[0].InstanceId), "/dev/sdf:3:true /dev/xvda:8:true"; got != want {
		t.Errorf("alice's instance from her image: got volumes %s, want %s", got, want)
	}

	// Bob sees nothing of it until alice shares it with his account.
	if _, err := e.CLI(t, bob, "ec2", "describe-images", "--image-ids", created.ImageId); err == nil || !strings.Contains(err.Error(), "InvalidAMIID.NotFound") {
		t.Errorf("bob describes alice's image before sharing: got %v, want InvalidAMIID.NotFound", err)
	}
	if _, err := e.CLI(t, alice, "ec2", "modify-image-attribute", "--image-id", created.ImageId, "--launch-permission", "Add=[{UserId="+bobAccount+"}]"); err != nil {
		t.Fatal(err)
	}
	var perms struct{ LaunchPermissions []struct{ UserId string } }
	cliJSON(t, e, alice, &perms, "ec2", "describe-image-attribute", "--image-id", created.ImageId, "--attribute", "launchPermission")
	if len(perms.LaunchPermissions) != 1 || perms.LaunchPermissions[0].UserId != bobAccount {
		t.Errorf("describe-image-attribute launchPermission: got %+v, want bob's account %s", perms, bobAccount)
	}
	var shared struct {
		Images []struct{ ImageId, OwnerId string }
	}
	cliJSON(t, e, bob, &shared, "ec2", "describe-images", "--executable-users", "self")
	if len(shared.Images) != 1 || shared.Images[0].ImageId != created.ImageId || shared.Images[0].OwnerId != aliceAccount {
		t.Errorf("bob's describe-images --executable-users self: got %+v, want alice's image", shared.Images)
	}
	cliJSON(t, e, bob, &run, "ec2", "run-instances", "--image-id", created.ImageId, "--count", "1")
	if got, want := cliVolumeSizes(t, e, bob, run.Instances[0].InstanceId), "/dev/sdf:3:true /dev/xvda:8:true"; got != want {
		t.Errorf("bob's instance from the shared image: got volumes %s, want %s", got, want)
	}
	for _, args := range [][]string{
		{"ec2", "deregister-image", "--image-id", created.ImageId},
		{"ec2", "modify-image-attribute", "--image-id", created.ImageId, "--description", "Value=bobs"},
	} {
		if _, err := e.CLI(t, bob, args...); err == nil || !strings.Contains(err.Error(), "AuthFailure") {
			t.Errorf("bob: %s: got %v, want AuthFailure", args[1], err)
		}
	}
	if _, err := e.CLI(t, alice, "ec2", "create-image", "--instance-id", instID, "--name", "ab"); err == nil || !strings.Contains(err.Error(), "InvalidAMIName.Malformed") {
		t.Errorf("create-image --name ab: got %v, want InvalidAMIName.Malformed", err)
	}

	if _, err := e.CLI(t, alice, "ec2", "deregister-image", "--image-id", created.ImageId); err != nil {
		t.Fatal(err)
	}
	var snaps struct {
		Snapshots []struct{ Description string }
	}
	cliJSON(t, e, alice, &snaps, "ec2", "describe-snapshots", "--owner-ids", "self")
	if len(snaps.Snapshots) != 2 || !strings.HasPrefix(snaps.Snapshots[0].Description, "Created by CreateImage("+instID+") for "+created.ImageId) {
		t.Errorf("snapshots after deregister-image: got %+v, want the image's 2, kept", snaps.Snapshots)
	}
}

const boto3ImagesAlice = `
inst, bob = sys.argv[1], sys.argv[2]
image = ec2.create_image(InstanceId=inst, Name="web-v1", NoReboot=True,
    TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "of", "Value": "web-v1"}]}])["ImageId"]
ec2.get_waiter("image_available").wait(ImageIds=[image])
mine = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["web-*"]}])["Images"]
run = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
    BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 12}}])["Instances"][0]
vols = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [run["InstanceId"]]}])["Volumes"]
ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": bob}]})
ec2.modify_image_attribute(ImageId=image, Description={"Value": "web server, lab 3"})
print(json.dumps({
  "image": image,
  "mine": [i["ImageId"] for i in mine],
  "sizes": sorted("%s:%d" % (v["Attachments"][0]["Device"], v["Size"]) for v in vols),
  "description": ec2.describe_image_attribute(ImageId=image, Attribute="description")["Description"]["Value"],
  "shared": [p["UserId"] for p in ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]],
  "kernel": ec2.describe_image_attribute(ImageId=image, Attribute="kernel")["KernelId"],
  "public": code(ec2.modify_image_attribute, ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]}),
  "baduser": code(ec2.modify_image_attribute, ImageId=image, LaunchPermission={"Add": [{"UserId": "bob"}]}),
  "duplicate": code(ec2.create_image, InstanceId=inst, Name="web-v1"),
  "courseimage": code(ec2.deregister_image, ImageId="ami-0a1b2c3d4e5f60001"),
}))
`

const boto3ImagesBob = `
image = sys.argv[1]
seen = ec2.describe_images(ExecutableUsers=["self"])["Images"]
run = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
print(json.dumps({
  "seen": [i["ImageId"] for i in seen],
  "launched": run["ImageId"],
  "deregister": code(ec2.deregister_image, ImageId=image),
  "attribute": code(ec2.describe_image_attribute, ImageId=image, Attribute="launchPermission"),
  "reset": code(ec2.reset_image_attribute, ImageId=image, Attribute="launchPermission"),
}))
`

func TestImagesBoto3(t *testing.T) {
	e := econetest.Start(t)
	alice, bob, carol := e.User(t, "alice"), e.User(t, "bob"), e.User(t, "carol")
	inst := aws.ToString(runningInstances(t, e, e.EC2(alice), 1)[0].InstanceId)
	bobAccount := accountOf(t, e, bob)
	out, err := e.Boto3(t, alice, boto3WithCode+fmt.Sprintf("sys.argv = ['x', %q, %q]\n", inst, bobAccount)+boto3ImagesAlice)
	var a struct {
		Image, Description, Public, BadUser, Duplicate, CourseImage string
		Mine, Sizes, Shared                                         []string
		Kernel                                                      map[string]string
	}
	decodeOutput(t, out, err, &a)
	checks := []struct{ name, got, want string }{
		{"own images by name", fmt.Sprint(a.Mine), "[" + a.Image + "]"},
		{"restored root, grown", fmt.Sprint(a.Sizes), "[/dev/xvda:12]"},
		{"description", a.Description, "web server, lab 3"},
		{"shared with", fmt.Sprint(a.Shared), "[" + bobAccount + "]"},
		{"kernel", fmt.Sprint(a.Kernel), "map[]"},
		{"made public", a.Public, "OperationNotPermitted 400"},
		{"not an account", a.BadUser, "InvalidAMIAttributeItemValue 400"},
		{"same name", a.Duplicate, "InvalidAMIName.Duplicate 400"},
		{"deregister a course image", a.CourseImage, "AuthFailure 401"},
	}
	out, err = e.Boto3(t, bob, boto3WithCode+fmt.Sprintf("sys.argv = ['x', %q]\n", a.Image)+boto3ImagesBob)
	var b struct {
		Seen                                   []string
		Launched, Deregister, Attribute, Reset string
	}
	decodeOutput(t, out, err, &b)
	checks = append(checks, []struct{ name, got, want string }{
		{"bob sees", fmt.Sprint(b.Seen), "[" + a.Image + "]"},
		{"bob launches", b.Launched, a.Image},
		{"bob deregisters", b.Deregister, "AuthFailure 401"},
		{"bob reads its permissions", b.Attribute, "AuthFailure 401"},
		{"bob resets them", b.Reset, "AuthFailure 401"},
	}...)
	out, err = e.Boto3(t, carol, boto3WithCode+fmt.Sprintf(`
print(json.dumps({"describe": code(ec2.describe_images, ImageIds=[%q]), "run": code(ec2.run_instances, ImageId=%[1]q, MinCount=1, MaxCount=1)}))
`, a.Image))
	var c struct{ Describe, Run string }
	decodeOutput(t, out, err, &c)
	checks = append(checks, []struct{ name, got, want string }{
		{"carol describes", c.Describe, "InvalidAMIID.NotFound 400"},
		{"carol launches", c.Run, "InvalidAMIID.NotFound 400"},
	}...)
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestImagesSDK(t *testing.T) {
	e := econetest.Start(t, func(cfg *conf.Config) { cfg.Backend.Sim.SnapshotDelay = conf.Duration(time.Minute) })
	alice := e.User(t, "alice")
	c, ctx := e.EC2(alice), econetest.Context(t)
	inst := aws.ToString(runningInstances(t, e, c, 1)[0].InstanceId)
	created, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(inst), Name: aws.String("sdk-image")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.ImageId)
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: created.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if got := apiCode(err); got != "InvalidAMIID.Unavailable" {
		t.Errorf("RunInstances from a pending image: got %s, want InvalidAMIID.Unavailable", got)
	}
	e.Clock.Advance(time.Minute)
	if err := ec2.NewImageAvailableWaiter(c).Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}}, time.Minute); err != nil {
		t.Fatalf("waiting for the image: %v", err)
	}
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: created.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(run.Instances[0].ImageId); got != id {
		t.Errorf("launched image: got %s, want %s", got, id)
	}
	attr, err := c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: created.ImageId, Attribute: types.ImageAttributeNameBlockDeviceMapping})
	if err != nil {
		t.Fatal(err)
	}
	if len(attr.BlockDeviceMappings) != 1 || aws.ToInt32(attr.BlockDeviceMappings[0].Ebs.VolumeSize) != 8 {
		t.Errorf("blockDeviceMapping: got %+v, want the 8 GiB root", attr.BlockDeviceMappings)
	}
	if _, err := c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: created.ImageId}); err != nil {
		t.Fatal(err)
	}
	// Its snapshots and the instance launched from it still refer to it:
	// an empty answer, as EC2 gives for recently deregistered images; a
	// classmate with nothing referring to it is told it does not exist.
	desc, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil || len(desc.Images) != 0 {
		t.Errorf("describing a deregistered image: got %v, %v, want an empty list", desc, err)
	}
	_, err = e.EC2(e.User(t, "bob")).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if got := apiCode(err); got != "InvalidAMIID.NotFound" {
		t.Errorf("bob describing a deregistered image: got %s, want InvalidAMIID.NotFound", got)
	}
}

// TestEC2CreateImageRefused: the ec2 backend cannot make, copy or
// register a student's image, and says so.
func TestEC2CreateImageRefused(t *testing.T) {
	e, _ := ec2Server(t)
	alice := e.User(t, "alice")
	out, err := e.Boto3(t, alice, boto3WithCode+`
print(code(ec2.create_image, InstanceId="i-0123456789abcdef0", Name="web-v1"))
print(code(ec2.copy_image, SourceImageId="ami-0123456789abcdef0", SourceRegion=ec2.meta.region_name, Name="web-v2"))
print(code(ec2.register_image, Name="web-v3", RootDeviceName="/dev/xvda",
    BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}]))
`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(out), "[UnsupportedOperation 400 UnsupportedOperation 400 UnsupportedOperation 400]"; fmt.Sprint(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

const boto3CopyRegisterAlice = `
inst, bob = sys.argv[1], sys.argv[2]
region = ec2.meta.region_name
image = ec2.create_image(InstanceId=inst, Name="web-v1", NoReboot=True)["ImageId"]
ec2.get_waiter("image_available").wait(ImageIds=[image])
copy = ec2.copy_image(SourceImageId=image, SourceRegion=region, Name="web-v1-copy", Description="a copy",
    TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "lab", "Value": "4"}]}])["ImageId"]
ec2.get_waiter("image_available").wait(ImageIds=[copy])
src, cp = (ec2.describe_images(ImageIds=[i])["Images"][0] for i in (image, copy))
root = [m["Ebs"]["SnapshotId"] for m in src["BlockDeviceMappings"] if m["DeviceName"] == src["RootDeviceName"]][0]
reg = ec2.register_image(Name="from-root", Architecture="x86_64", RootDeviceName="/dev/xvda",
    BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": root}}])["ImageId"]
ec2.get_waiter("image_available").wait(ImageIds=[reg])
run = ec2.run_instances(ImageId=reg, MinCount=1, MaxCount=1)["Instances"][0]
print(json.dumps({
  "image": image, "copy": copy, "registered": reg, "root": root,
  "copied": [cp["Name"], cp["Description"], cp["SourceImageId"], cp["SourceImageRegion"], cp["Tags"][0]["Value"]],
  "fresh": cp["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] != src["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"],
  "launched": run["ImageId"],
  "dryrun": code(ec2.copy_image, SourceImageId=image, SourceRegion=region, Name="dry", DryRun=True),
  "unknown": code(ec2.copy_image, SourceImageId="ami-abcd1234", SourceRegion=region, Name="nothing"),
  "region": code(ec2.copy_image, SourceImageId=image, SourceRegion="eu-north-1", Name="elsewhere"),
  "nameonly": code(ec2.register_image, Name="name-only"),
  "s3": code(ec2.register_image, Name="from-s3", ImageLocation="bucket/image.manifest.xml"),
  "dupname": code(ec2.register_image, Name="from-root", RootDeviceName="/dev/xvda",
      BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": root}}]),
}))
`

// TestImagesCopyRegisterBoto3: CopyImage and RegisterImage through
// boto3: alice copies her image and registers one from its root
// snapshot, then launches it; bob can copy neither her image nor register
// her snapshot until she shares them.
func TestImagesCopyRegisterBoto3(t *testing.T) {
	e := econetest.Start(t)
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	inst := aws.ToString(runningInstances(t, e, e.EC2(alice), 1)[0].InstanceId)
	out, err := e.Boto3(t, alice, boto3WithCode+fmt.Sprintf("sys.argv = ['x', %q, %q]\n", inst, accountOf(t, e, bob))+boto3CopyRegisterAlice)
	var a struct {
		Image, Copy, Registered, Root, Launched, DryRun, Unknown, Region, NameOnly, S3, DupName string
		Copied                                                                                  []string
		Fresh                                                                                   bool
	}
	decodeOutput(t, out, err, &a)
	checks := []struct{ name, got, want string }{
		{"the copy", fmt.Sprint(a.Copied), fmt.Sprintf("[web-v1-copy a copy %s %s 4]", a.Image, e.Config.Region)},
		{"its own snapshots", fmt.Sprint(a.Fresh), "true"},
		{"launched from the registered image", a.Launched, a.Registered},
		{"copy, dry run", a.DryRun, "DryRunOperation 412"},
		{"copy an unknown image", a.Unknown, "InvalidAMIID.NotFound 400"},
		{"copy from another region", a.Region, "InvalidAMIID.NotFound 400"},
		{"register a name alone", a.NameOnly, "MissingParameter 400"},
		{"register from S3", a.S3, "UnsupportedOperation 400"},
		{"register a name in use", a.DupName, "InvalidAMIName.Duplicate 400"},
	}
	bobTries := fmt.Sprintf(`
print(json.dumps({
  "copy": code(ec2.copy_image, SourceImageId=%q, SourceRegion=ec2.meta.region_name, Name="my-copy"),
  "register": code(ec2.register_image, Name="my-registered", RootDeviceName="/dev/xvda",
      BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": %q}}]),
}))
`, a.Image, a.Root)
	var before, after struct{ Copy, Register string }
	out, err = e.Boto3(t, bob, boto3WithCode+bobTries)
	decodeOutput(t, out, err, &before)
	bobAccount := accountOf(t, e, bob)
	if _, err := e.CLI(t, alice, "ec2", "modify-image-attribute", "--image-id", a.Image, "--launch-permission", "Add=[{UserId="+bobAccount+"}]"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CLI(t, alice, "ec2", "modify-snapshot-attribute", "--snapshot-id", a.Root, "--attribute", "createVolumePermission",
		"--operation-type", "add", "--user-ids", bobAccount); err != nil {
		t.Fatal(err)
	}
	out, err = e.Boto3(t, bob, boto3WithCode+bobTries)
	decodeOutput(t, out, err, &after)
	checks = append(checks, []struct{ name, got, want string }{
		{"bob copies alice's unshared image", before.Copy, "InvalidAMIID.NotFound 400"},
		{"bob registers alice's unshared snapshot", before.Register, "InvalidSnapshot.NotFound 400"},
		{"bob copies it once shared", after.Copy, "ok"},
		{"bob registers it once shared", after.Register, "ok"},
	}...)
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
}

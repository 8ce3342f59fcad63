package actions

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
)

// imageEnv is alice's running instance with an extra 3 GiB volume at
// /dev/sdf, ready to be imaged.
type imageEnv struct {
	*testEnv
	clock *manualClock
	inst  string
	data  string // the extra volume
}

func newImageEnv(t *testing.T, cfg *conf.Config) *imageEnv {
	t.Helper()
	e, clock, _ := newInstanceEnv(t, cfg)
	inst := launch(t, e, "alice")[0]
	clock.Advance(settle)
	zone := describe(t, e, "alice", "InstanceId.1", inst)[0].Placement.AvailabilityZone
	data := e.mustCall(t, "alice", "CreateVolume", "AvailabilityZone", zone, "Size", "3").(*createVolumeResponse).VolumeID
	clock.Advance(settle)
	e.mustCall(t, "alice", "AttachVolume", "VolumeId", data, "InstanceId", inst, "Device", "/dev/sdf")
	clock.Advance(settle)
	return &imageEnv{testEnv: e, clock: clock, inst: inst, data: data}
}

func (e *imageEnv) createImage(t *testing.T, user string, kv ...string) string {
	t.Helper()
	return e.mustCall(t, user, "CreateImage", withDefaults(kv, "InstanceId", e.inst, "Name", "web-v1")...).(*imageIDResponse).ImageID
}

func (e *imageEnv) image(t *testing.T, user, id string) imageXML {
	t.Helper()
	imgs := e.mustCall(t, user, "DescribeImages", "ImageId.1", id).(*describeImagesResponse).Images
	if len(imgs) != 1 {
		t.Fatalf("DescribeImages %s as %s: got %d images, want 1", id, user, len(imgs))
	}
	return imgs[0]
}

func imageIDs(imgs []imageXML) []string {
	var out []string
	for _, im := range imgs {
		out = append(out, im.ImageID)
	}
	return out
}

func (e *imageEnv) boots(t *testing.T, inst string) int {
	t.Helper()
	out := e.mustCall(t, "alice", "GetConsoleOutput", "InstanceId", inst).(*consoleOutputResponse).Output
	text, err := base64.StdEncoding.DecodeString(out)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(text), "Linux version")
}

// TestCreateImageAndLaunchIt: an image of a running instance snapshots
// each of its volumes, reboots it, is pending until the snapshots are
// done, and a launch from it restores both volumes at their sizes.
func TestCreateImageAndLaunchIt(t *testing.T) {
	e := newImageEnv(t, nil)
	id := e.createImage(t, "alice", "Description", "my web server",
		"TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "web",
		"TagSpecification.2.ResourceType", "snapshot", "TagSpecification.2.Tag.1.Key", "from", "TagSpecification.2.Tag.1.Value", "web-v1")

	im := e.image(t, "alice", id)
	checks := []struct{ name, got, want string }{
		{"state", im.State, "pending"},
		{"owner", im.OwnerID, "111111111111"},
		{"public", fmt.Sprint(im.Public), "false"},
		{"description", im.Description, "my web server"},
		{"source instance", im.SourceInstanceID, e.inst},
		{"architecture", im.Architecture, "x86_64"},
		{"devices", fmt.Sprint(len(im.BlockDevices)), "2"},
		{"tags", fmt.Sprint(im.Tags), "[{role web}]"},
		{"reboots", fmt.Sprint(e.boots(t, e.inst)), "2"},
	}
	snaps := e.mustCall(t, "alice", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots
	for _, sn := range snaps {
		want := fmt.Sprintf("Created by CreateImage(%s) for %s from %s", e.inst, id, sn.VolumeID)
		checks = append(checks, struct{ name, got, want string }{"snapshot " + sn.SnapshotID, sn.Description + fmt.Sprint(sn.Tags), want + "[{from web-v1}]"})
	}
	checks = append(checks, struct{ name, got, want string }{"snapshots", fmt.Sprint(len(snaps)), "2"})
	e.clock.Advance(settle)
	im = e.image(t, "alice", id)
	checks = append(checks, struct{ name, got, want string }{"state once done", im.State, "available"})
	sizes := map[string]string{}
	for _, bd := range im.BlockDevices {
		sizes[bd.DeviceName] = fmt.Sprint(bd.Ebs.VolumeSize, bd.Ebs.SnapshotID != "")
	}
	checks = append(checks, struct{ name, got, want string }{"device sizes", fmt.Sprint(sizes), "map[/dev/sdf:3 true /dev/xvda:8 true]"})

	run := launch(t, e.testEnv, "alice", "ImageId", id)[0]
	inst := describe(t, e.testEnv, "alice", "InstanceId.1", run)[0]
	checks = append(checks, struct{ name, got, want string }{"launched image", inst.ImageID + " " + inst.Architecture, id + " x86_64"})
	restored := map[string]string{}
	for _, bd := range inst.BlockDevices {
		v := e.mustCall(t, "alice", "DescribeVolumes", "VolumeId.1", bd.Ebs.VolumeID).(*describeVolumesResponse).Volumes[0]
		restored[bd.DeviceName] = fmt.Sprint(v.Size, strings.HasPrefix(v.SnapshotID, "snap-"))
	}
	checks = append(checks, struct{ name, got, want string }{"restored volumes", fmt.Sprint(restored), "map[/dev/sdf:3 true /dev/xvda:8 true]"})
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
}

// TestCreateImageOptions: NoReboot leaves the machine alone; mappings
// leave a volume out, grow one, or add an empty one.
func TestCreateImageOptions(t *testing.T) {
	cases := []struct {
		name        string
		kv          []string
		wantBoots   int
		wantDevices string
	}{
		{"reboots by default", nil, 2, "[/dev/xvda:8 /dev/sdf:3]"},
		{"NoReboot", []string{"NoReboot", "true"}, 1, "[/dev/xvda:8 /dev/sdf:3]"},
		{"NoDevice leaves a volume out", []string{"BlockDeviceMapping.1.DeviceName", "/dev/sdf", "BlockDeviceMapping.1.NoDevice", ""}, 2, "[/dev/xvda:8]"},
		{"a larger root", []string{"BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.VolumeSize", "20"}, 2, "[/dev/xvda:20 /dev/sdf:3]"},
		{"an added empty volume", []string{"BlockDeviceMapping.1.DeviceName", "/dev/sdg", "BlockDeviceMapping.1.Ebs.VolumeSize", "5"}, 2, "[/dev/xvda:8 /dev/sdf:3 /dev/sdg:5-]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newImageEnv(t, nil)
			id := e.createImage(t, "alice", c.kv...)
			if got := e.boots(t, e.inst); got != c.wantBoots {
				t.Errorf("boots: got %d, want %d", got, c.wantBoots)
			}
			var devs []string
			for _, bd := range e.image(t, "alice", id).BlockDevices {
				d := fmt.Sprintf("%s:%d", bd.DeviceName, bd.Ebs.VolumeSize)
				if bd.Ebs.SnapshotID == "" {
					d += "-"
				}
				devs = append(devs, d)
			}
			if got := fmt.Sprint(devs); got != c.wantDevices {
				t.Errorf("devices: got %s, want %s", got, c.wantDevices)
			}
		})
	}
}

// TestImageErrors: each bad request gets EC2's code, and changes nothing.
func TestImageErrors(t *testing.T) {
	e := newImageEnv(t, nil)
	own := e.createImage(t, "alice")
	shared := e.createImage(t, "alice", "Name", "shared")
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", shared, "LaunchPermission.Add.1.UserId", "222222222222")
	bobs := launch(t, e.testEnv, "bob")[0]
	hadoop := launch(t, e.testEnv, "alice", "ImageId", hadoopAMI)[0]
	snap := e.image(t, "alice", own).BlockDevices[0].Ebs.SnapshotID
	rootless := launch(t, e.testEnv, "alice")[0]
	e.clock.Advance(settle)
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", rootless)
	e.clock.Advance(settle)
	root := describe(t, e.testEnv, "alice", "InstanceId.1", rootless)[0].BlockDevices[0].Ebs.VolumeID
	e.mustCall(t, "alice", "DetachVolume", "VolumeId", root)
	e.clock.Advance(settle)
	fresh := e.createImage(t, "alice", "Name", "still-pending")
	cases := []struct {
		name, user, action string
		kv                 []string
		want               string
	}{
		{"name too short", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", "ab"}, ec2err.InvalidAMINameMalformed},
		{"name with a star", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", "web*"}, ec2err.InvalidAMINameMalformed},
		{"name too long", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", strings.Repeat("a", 129)}, ec2err.InvalidAMINameMalformed},
		{"duplicate name", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", "web-v1"}, ec2err.InvalidAMINameDuplicate},
		{"no name", "alice", "CreateImage", []string{"InstanceId", e.inst}, ec2err.MissingParameter},
		{"malformed instance", "alice", "CreateImage", []string{"InstanceId", "i-x", "Name", "abc"}, ec2err.InvalidInstanceIDMalformed},
		{"another student's instance", "alice", "CreateImage", []string{"InstanceId", bobs, "Name", "abc"}, ec2err.InvalidInstanceIDNotFound},
		{"root volume detached", "alice", "CreateImage", []string{"InstanceId", rootless, "Name", "abc"}, ec2err.IncorrectState},
		{"instance-store instance", "alice", "CreateImage", []string{"InstanceId", hadoop, "Name", "abc"}, ec2err.UnsupportedOperation},
		{"root left out", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", "abc", "BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.NoDevice", ""}, ec2err.InvalidParameterValue},
		{"smaller volume", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", "abc", "BlockDeviceMapping.1.DeviceName", "/dev/sdf", "BlockDeviceMapping.1.Ebs.VolumeSize", "2"}, ec2err.InvalidParameterValue},
		{"tags for an instance", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", "abc", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "k"}, ec2err.InvalidParameterValue},
		{"dry run", "alice", "CreateImage", []string{"InstanceId", e.inst, "Name", "abc", "DryRun", "true"}, ec2err.DryRunOperation},
		{"launch a pending image", "alice", "RunInstances", []string{"ImageId", fresh, "MinCount", "1", "MaxCount", "1"}, ec2err.InvalidAMIIDUnavailable},
		{"launch another student's image", "carol", "RunInstances", []string{"ImageId", own, "MinCount", "1", "MaxCount", "1"}, ec2err.InvalidAMIIDNotFound},
		{"describe another student's image", "carol", "DescribeImages", []string{"ImageId.1", own}, ec2err.InvalidAMIIDNotFound},
		{"deregister a course image", "alice", "DeregisterImage", []string{"ImageId", debianAMI}, ec2err.AuthFailure},
		{"deregister a shared image", "bob", "DeregisterImage", []string{"ImageId", shared}, ec2err.AuthFailure},
		{"deregister an unshared image", "bob", "DeregisterImage", []string{"ImageId", own}, ec2err.InvalidAMIIDNotFound},
		{"deregister malformed", "alice", "DeregisterImage", []string{"ImageId", "ami-?"}, ec2err.InvalidAMIIDMalformed},
		{"deregister with its snapshots", "alice", "DeregisterImage", []string{"ImageId", own, "DeleteAssociatedSnapshots", "true"}, ec2err.UnsupportedOperation},
		{"delete an image's snapshot", "alice", "DeleteSnapshot", []string{"SnapshotId", snap}, ec2err.InvalidSnapshotInUse},
		{"make public", "alice", "ModifyImageAttribute", []string{"ImageId", own, "LaunchPermission.Add.1.Group", "all"}, ec2err.OperationNotPermitted},
		{"another group", "alice", "ModifyImageAttribute", []string{"ImageId", own, "LaunchPermission.Add.1.Group", "everyone"}, ec2err.InvalidAMIAttributeItemValue},
		{"not an account id", "alice", "ModifyImageAttribute", []string{"ImageId", own, "LaunchPermission.Add.1.UserId", "bob"}, ec2err.InvalidAMIAttributeItemValue},
		{"own account", "alice", "ModifyImageAttribute", []string{"ImageId", own, "LaunchPermission.Add.1.UserId", "111111111111"}, ec2err.InvalidAMIAttributeItemValue},
		{"no operation type", "alice", "ModifyImageAttribute", []string{"ImageId", own, "Attribute", "launchPermission", "UserId.1", "222222222222"}, ec2err.MissingParameter},
		{"description and sharing", "alice", "ModifyImageAttribute", []string{"ImageId", own, "Description.Value", "x", "LaunchPermission.Add.1.UserId", "222222222222"}, ec2err.InvalidParameterCombination},
		{"no change", "alice", "ModifyImageAttribute", []string{"ImageId", own}, ec2err.MissingParameter},
		{"product codes", "alice", "ModifyImageAttribute", []string{"ImageId", own, "ProductCode.1", "abc"}, ec2err.UnsupportedOperation},
		{"modify a shared image", "bob", "ModifyImageAttribute", []string{"ImageId", shared, "Description.Value", "mine now"}, ec2err.AuthFailure},
		{"modify a course image", "alice", "ModifyImageAttribute", []string{"ImageId", debianAMI, "Description.Value", "x"}, ec2err.AuthFailure},
		{"make an unknown image public", "alice", "ModifyImageAttribute", []string{"ImageId", "ami-abcd1234", "Attribute", "launchPermission", "OperationType", "add", "UserGroup.1", "all"}, ec2err.InvalidAMIIDNotFound},
		{"one bad account among good ones", "alice", "ModifyImageAttribute", []string{"ImageId", own, "Attribute", "launchPermission", "OperationType", "add", "UserId.1", "123456789011", "UserId.2", "foo"}, ec2err.InvalidAMIAttributeItemValue},
		{"unknown attribute", "alice", "DescribeImageAttribute", []string{"ImageId", own, "Attribute", "colour"}, ec2err.InvalidParameterValue},
		{"attribute of a shared image", "bob", "DescribeImageAttribute", []string{"ImageId", shared, "Attribute", "launchPermission"}, ec2err.AuthFailure},
		{"attribute of an unshared image", "bob", "DescribeImageAttribute", []string{"ImageId", own, "Attribute", "description"}, ec2err.InvalidAMIIDNotFound},
		{"reset the description", "alice", "ResetImageAttribute", []string{"ImageId", own, "Attribute", "description"}, ec2err.InvalidParameterValue},
		{"reset a shared image", "bob", "ResetImageAttribute", []string{"ImageId", shared, "Attribute", "launchPermission"}, ec2err.AuthFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, c.user, c.action, c.kv...)
			wantCode(t, err, c.want)
		})
	}
	if got := len(e.mustCall(t, "alice", "DescribeImages", "Owner.1", "self").(*describeImagesResponse).Images); got != 3 {
		t.Errorf("alice's images after the refusals: got %d, want 3", got)
	}
	if got := e.mustCall(t, "alice", "DescribeImageAttribute", "ImageId", own, "Attribute", "launchPermission").(*describeImageAttributeResponse).LaunchPermissions; got == nil || len(got.Items) != 0 {
		t.Errorf("launch permissions after the refused changes: got %v, want none", got)
	}
	if got := e.mustCall(t, "alice", "DescribeImageAttribute", "ImageId", shared, "Attribute", "description").(*describeImageAttributeResponse).Description; got == nil || got.Value != "" {
		t.Errorf("description of the shared image after bob's refused change: got %v, want empty", got)
	}
}

// TestImageSharing: an image is its owner's alone until shared with a
// classmate's account id; the classmate may then describe and launch it
// (its volumes restored from the owner's snapshots), nothing else, and
// loses it when the owner removes or resets the permission.
func TestImageSharing(t *testing.T) {
	e := newImageEnv(t, nil)
	id := e.createImage(t, "alice", "TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "secret", "TagSpecification.1.Tag.1.Value", "alice's")
	e.clock.Advance(settle)
	visible := func(user string, kv ...string) bool {
		return slices.Contains(imageIDs(e.mustCall(t, user, "DescribeImages", kv...).(*describeImagesResponse).Images), id)
	}
	type view struct {
		name string
		got  bool
		want bool
	}
	before := []view{
		{"alice, default", visible("alice"), true},
		{"alice, Owner self", visible("alice", "Owner.1", "self"), true},
		{"alice, Owner her account", visible("alice", "Owner.1", "111111111111"), true},
		{"alice, Owner amazon", visible("alice", "Owner.1", "amazon"), false},
		{"alice, ExecutableBy all", visible("alice", "ExecutableBy.1", "all"), false},
		{"bob, default", visible("bob"), false},
		{"bob, Owner alice's account", visible("bob", "Owner.1", "111111111111"), false},
	}
	for _, v := range before {
		if v.got != v.want {
			t.Errorf("before sharing, %s: got visible %t, want %t", v.name, v.got, v.want)
		}
	}
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", id, "LaunchPermission.Add.1.UserId", "222222222222")
	perms := e.mustCall(t, "alice", "DescribeImageAttribute", "ImageId", id, "Attribute", "launchPermission").(*describeImageAttributeResponse).LaunchPermissions
	if perms == nil || fmt.Sprint(perms.Items) != "[{222222222222 }]" {
		t.Errorf("launchPermission: got %v, want bob's account", perms)
	}
	after := []view{
		{"bob, default", visible("bob"), true},
		{"bob, Owner alice's account", visible("bob", "Owner.1", "111111111111"), true},
		{"bob, Owner self", visible("bob", "Owner.1", "self"), false},
		{"bob, ExecutableBy self", visible("bob", "ExecutableBy.1", "self"), true},
		{"alice, ExecutableBy bob's account", visible("alice", "ExecutableBy.1", "222222222222"), true},
		{"alice, ExecutableBy carol's account", visible("alice", "ExecutableBy.1", "333333333333"), false},
		{"alice, ExecutableBy self (her own, not shared with her)", visible("alice", "ExecutableBy.1", "self"), false},
		{"carol, default", visible("carol"), false},
	}
	for _, v := range after {
		if v.got != v.want {
			t.Errorf("after sharing, %s: got visible %t, want %t", v.name, v.got, v.want)
		}
	}
	// Public images are executable by all, not shared with self.
	if got := imageIDs(e.mustCall(t, "bob", "DescribeImages", "ExecutableBy.1", "self").(*describeImagesResponse).Images); fmt.Sprint(got) != "["+id+"]" {
		t.Errorf("bob, ExecutableBy self: got %v, want only %s", got, id)
	}
	if got := imageIDs(e.mustCall(t, "bob", "DescribeImages", "ExecutableBy.1", "all").(*describeImagesResponse).Images); slices.Contains(got, id) || !slices.Contains(got, debianAMI) {
		t.Errorf("bob, ExecutableBy all: got %v, want the course's images only", got)
	}
	if tags := e.image(t, "bob", id).Tags; len(tags) != 0 {
		t.Errorf("bob sees alice's tags: got %v, want none", tags)
	}
	run := launch(t, e.testEnv, "bob", "ImageId", id)[0]
	var sizes []int
	for _, bd := range describe(t, e.testEnv, "bob", "InstanceId.1", run)[0].BlockDevices {
		sizes = append(sizes, e.mustCall(t, "bob", "DescribeVolumes", "VolumeId.1", bd.Ebs.VolumeID).(*describeVolumesResponse).Volumes[0].Size)
	}
	if fmt.Sprint(sizes) != "[8 3]" {
		t.Errorf("bob's instance from the shared image: got volumes of %v GiB, want [8 3]", sizes)
	}
	// The flat form of a removal, as boto 2 sends it.
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", id, "Attribute", "launchPermission", "OperationType", "remove", "UserId.1", "222222222222")
	if visible("bob") {
		t.Errorf("after removal: bob still sees the image")
	}
	// Making it private is nothing to do: it is.
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", id, "LaunchPermission.Remove.1.Group", "all")
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", id, "Attribute", "launchPermission", "OperationType", "add", "UserId.1", "222222222222", "UserId.2", "333333333333")
	// Tags stay the owner's: a classmate cannot tag a shared image.
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", id, "Tag.1.Key", "v", "Tag.1.Value", "2")
	_, err := e.call(t, "bob", "CreateTags", "ResourceId.1", id, "Tag.1.Key", "mine", "Tag.1.Value", "yes")
	wantCode(t, err, ec2err.InvalidAMIIDNotFound)
	if got := e.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "image").(*describeTagsResponse).Tags; len(got) != 2 {
		t.Errorf("alice's image tags: got %v, want secret and v", got)
	}
	e.mustCall(t, "alice", "ResetImageAttribute", "ImageId", id, "Attribute", "launchPermission")
	if visible("bob") || visible("carol") {
		t.Errorf("after reset: a classmate still sees the image")
	}
	_, err = e.call(t, "bob", "RunInstances", "ImageId", id, "MinCount", "1", "MaxCount", "1")
	wantCode(t, err, ec2err.InvalidAMIIDNotFound)
}

// TestDescribeImagesFilters: the documented filters over own images,
// with the course's images alongside.
func TestDescribeImagesFilters(t *testing.T) {
	e := newImageEnv(t, nil)
	id := e.createImage(t, "alice", "TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "web")
	snap := e.image(t, "alice", id).BlockDevices[1].Ebs.SnapshotID
	cases := []struct {
		name   string
		filter []string
		want   bool // alice's image matches
		course bool // a course image matches too
	}{
		{"name", []string{"name", "web-*"}, true, false},
		{"state pending", []string{"state", "pending"}, true, false},
		{"state available", []string{"state", "available"}, false, true},
		{"not public", []string{"is-public", "false"}, true, false},
		{"public", []string{"is-public", "true"}, false, true},
		{"owner id", []string{"owner-id", "111111111111"}, true, false},
		{"tag", []string{"tag:role", "web"}, true, false},
		{"tag key", []string{"tag-key", "role"}, true, false},
		{"snapshot", []string{"block-device-mapping.snapshot-id", snap}, true, false},
		{"device", []string{"block-device-mapping.device-name", "/dev/sdf"}, true, false},
		{"source instance", []string{"source-instance-id", e.inst}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ids := imageIDs(e.mustCall(t, "alice", "DescribeImages", "Filter.1.Name", c.filter[0], "Filter.1.Value.1", c.filter[1]).(*describeImagesResponse).Images)
			if got := slices.Contains(ids, id); got != c.want {
				t.Errorf("got alice's image %t, want %t (%v)", got, c.want, ids)
			}
			if got := slices.Contains(ids, debianAMI); got != c.course {
				t.Errorf("got the course's image %t, want %t", got, c.course)
			}
		})
	}
}

// TestDeregisterImageKeepsSnapshots: the image goes, its snapshots stay
// (and may then be deleted), as on EC2.
func TestDeregisterImageKeepsSnapshots(t *testing.T) {
	e := newImageEnv(t, nil)
	id := e.createImage(t, "alice")
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", id, "LaunchPermission.Add.1.UserId", "222222222222")
	e.clock.Advance(settle)
	e.mustCall(t, "alice", "DeregisterImage", "ImageId", id)
	_, err := e.call(t, "bob", "DescribeImages", "ImageId.1", id)
	wantCode(t, err, ec2err.InvalidAMIIDNotFound)
	snaps := e.mustCall(t, "alice", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots
	if len(snaps) != 2 {
		t.Fatalf("snapshots after deregistering: got %d, want 2", len(snaps))
	}
	e.mustCall(t, "alice", "DeleteSnapshot", "SnapshotId", snaps[0].SnapshotID)
	e.mustCall(t, "alice", "CreateImage", "InstanceId", e.inst, "Name", "web-v1") // the name is free again
}

// TestCreateImageQuota: the snapshots count against the student's limit,
// checked in the transaction that records them; and an image of an
// allowed course image may be launched where the course restricts images.
func TestCreateImageQuota(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxSnapshots = quota.Int(3)
	cfg.Quota.Images = []string{debianAMI}
	e := newImageEnv(t, cfg)
	id := e.createImage(t, "alice")
	_, err := e.call(t, "alice", "CreateImage", "InstanceId", e.inst, "Name", "web-v2")
	wantCode(t, err, ec2err.ResourceLimitExceeded)
	e.clock.Advance(settle)
	launch(t, e.testEnv, "alice", "ImageId", id)
}

// TestCreateImageWithoutTheAbility: a backend that cannot make images
// (the ec2 backend) refuses CreateImage clearly, and nothing is recorded.
func TestCreateImageWithoutTheAbility(t *testing.T) {
	e := newImageEnv(t, nil)
	e.svc.Backend.Images = nil
	_, err := e.call(t, "alice", "CreateImage", "InstanceId", e.inst, "Name", "web-v1")
	wantCode(t, err, ec2err.UnsupportedOperation)
	var n int
	if err := e.svc.Store.View(func(tx store.Tx) error {
		images, err := store.ListImages(tx, "alice")
		n = len(images)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("images recorded: got %d, want 0", n)
	}
}

// TestRecoverImages: an image a crash left pending with no end known is
// removed with the snapshots made for it, once its replica is gone; a
// live replica's, and finished images, stay.
func TestRecoverImages(t *testing.T) {
	e := newImageEnv(t, nil)
	done := e.createImage(t, "alice")
	stranded := func(replica string) (image, snap string) {
		image, snap = store.NewID("ami"), store.NewID("snap")
		err := e.svc.Store.Update(func(tx store.Tx) error {
			sn := store.Snapshot{ID: snap, Owner: "alice", VolumeID: e.data, VolumeSize: 3, State: store.SnapshotPending, Until: unknownEnd}
			if err := store.PutSnapshot(tx, &sn); err != nil {
				return err
			}
			return store.PutImage(tx, &store.Image{ID: image, Owner: "alice", Name: "crashed-" + replica, State: store.ImagePending,
				Until: unknownEnd, Replica: replica, Made: []string{snap},
				Devices: []store.ImageDevice{{DeviceName: "/dev/sdf", SnapshotID: snap, SizeGiB: 3, Type: "gp2"}}})
		})
		if err != nil {
			t.Fatal(err)
		}
		return image, snap
	}
	goneImage, goneSnap := stranded("gone")
	liveImage, liveSnap := stranded("live")
	if err := e.svc.RecoverImages(t.Context(), func(r string) bool { return r == "gone" }); err != nil {
		t.Fatal(err)
	}
	var images, snaps []string
	err := e.svc.Store.View(func(tx store.Tx) error {
		ims, err := store.ListImages(tx, "alice")
		for _, im := range ims {
			images = append(images, im.ID)
		}
		sns, err2 := store.ListSnapshots(tx, "alice")
		for _, sn := range sns {
			snaps = append(snaps, sn.ID)
		}
		return errors.Join(err, err2)
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		got, want bool
	}{
		{"the gone replica's image", slices.Contains(images, goneImage), false},
		{"its snapshot", slices.Contains(snaps, goneSnap), false},
		{"the live replica's image", slices.Contains(images, liveImage), true},
		{"its snapshot", slices.Contains(snaps, liveSnap), true},
		{"a finished image", slices.Contains(images, done), true},
		{"a finished image's snapshots", len(snaps) == 3, true},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got kept %t, want %t", c.name, c.got, c.want)
		}
	}
}

// refusingImages is a backend that refuses every image.
type refusingImages struct{ backend.Images }

func (refusingImages) CreateImage(context.Context, string, string, bool) (time.Time, error) {
	return time.Time{}, backend.ErrIncorrectState
}

// TestCreateImageRefusedByBackend: the student gets the backend's refusal
// and nothing of the image stays: no record, no snapshot.
func TestCreateImageRefusedByBackend(t *testing.T) {
	e := newImageEnv(t, nil)
	e.svc.Backend.Images = refusingImages{e.svc.Backend.Images}
	_, err := e.call(t, "alice", "CreateImage", "InstanceId", e.inst, "Name", "web-v1")
	wantCode(t, err, ec2err.IncorrectState)
	images := e.mustCall(t, "alice", "DescribeImages", "Owner.1", "self").(*describeImagesResponse).Images
	snaps := e.mustCall(t, "alice", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots
	if len(images)+len(snaps) != 0 {
		t.Errorf("after the refusal: got %d images and %d snapshots, want none", len(images), len(snaps))
	}
}

// TestImageMessagesAreEC2s: the words EC2 answers with (moto's
// aws_verified test_ami_describe_non_existent, and AWS's own answers).
func TestImageMessagesAreEC2s(t *testing.T) {
	e := newImageEnv(t, nil)
	id := e.createImage(t, "alice")
	e.clock.Advance(settle)
	snap := e.image(t, "alice", id).BlockDevices[0].Ebs.SnapshotID
	tests := []struct {
		name, action string
		kv           []string
		want         string
	}{
		{"one unknown image", "DescribeImages", []string{"ImageId.1", "ami-abcd1234"}, "The image id '[ami-abcd1234]' does not exist"},
		{"two unknown images", "DescribeImages", []string{"ImageId.1", "ami-abcd1234", "ImageId.2", "ami-1234abcd"}, "The image ids '[ami-abcd1234, ami-1234abcd]' do not exist"},
		{"snapshot of an image", "DeleteSnapshot", []string{"SnapshotId", snap}, "The snapshot " + snap + " is currently in use by " + id},
		{"tag of another type", "CreateImage", []string{"InstanceId", e.inst, "Name", "web-v2", "TagSpecification.1.ResourceType", "invalid-resource-type", "TagSpecification.1.Tag.1.Key", "k"},
			"'invalid-resource-type' is not a valid taggable resource type for this operation."},
	}
	for _, c := range tests {
		if _, err := e.call(t, "alice", c.action, c.kv...); err == nil || ec2err.As(err).Message != c.want {
			t.Errorf("%s: got %v, want message %q", c.name, err, c.want)
		}
	}
}

// TestInstanceTypeFacts: what DescribeInstanceTypes says of a type and the
// documented filters on it (t1 is not a burstable type in EC2's answers;
// vcpu-info.default-cores is one of its documented filters).
func TestInstanceTypeFacts(t *testing.T) {
	cases := []struct {
		typ       templates.InstanceType
		burstable bool
		cores     string
		threads   []string // vcpu-info.valid-threads-per-core
	}{
		{templates.InstanceType{Name: "t1.micro", VCPUs: 1, Architecture: "x86_64"}, false, "1", nil},
		{templates.InstanceType{Name: "t2.micro", VCPUs: 1, Architecture: "x86_64"}, true, "1", nil},
		{templates.InstanceType{Name: "t3.micro", VCPUs: 2, Architecture: "x86_64"}, true, "1", []string{"1", "2"}},
		{templates.InstanceType{Name: "t4g.micro", VCPUs: 2, Architecture: "arm64"}, true, "2", []string{"1"}},
		{templates.InstanceType{Name: "m5.large", VCPUs: 2, Architecture: "x86_64"}, false, "1", []string{"1", "2"}},
	}
	for _, c := range cases {
		x := instanceTypeItem(c.typ)
		if x.BurstablePerformanceSupported != c.burstable {
			t.Errorf("%s: got burstable %v, want %v", c.typ.Name, x.BurstablePerformanceSupported, c.burstable)
		}
		if got, ok := instanceTypeAttrs(x)("vcpu-info.default-cores"); !ok || !slices.Equal(got, []string{c.cores}) {
			t.Errorf("%s: filter vcpu-info.default-cores got %v (known %v), want [%s]", c.typ.Name, got, ok, c.cores)
		}
		if got, ok := instanceTypeAttrs(x)("vcpu-info.valid-threads-per-core"); !ok || !slices.Equal(got, c.threads) {
			t.Errorf("%s: filter vcpu-info.valid-threads-per-core got %v (known %v), want %v", c.typ.Name, got, ok, c.threads)
		}
	}
}

// TestDescribeDeregisteredImage: a deregistered image's id answers an
// empty list while something of the caller's refers to it (its snapshots,
// an instance launched from it that describes still show), then
// InvalidAMIID.NotFound, as EC2's reference for DescribeImages says.
func TestDescribeDeregisteredImage(t *testing.T) {
	e := newImageEnv(t, nil)
	id := e.createImage(t, "alice")
	e.clock.Advance(settle)
	run := launch(t, e.testEnv, "alice", "ImageId", id)[0]
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", id, "LaunchPermission.Add.1.UserId", "222222222222")
	e.mustCall(t, "alice", "DeregisterImage", "ImageId", id)
	const unknown = "ami-0123456789abcdef0"
	steps := []struct {
		name   string
		change func()
		user   string
		ids    []string
		code   string // "" = an empty list
	}{
		{"its snapshots and an instance refer to it", nil, "alice", []string{id}, ""},
		{"a classmate it was shared with has nothing referring to it", nil, "bob", []string{id}, ec2err.InvalidAMIIDNotFound},
		{"with an id never seen", nil, "alice", []string{id, unknown}, ec2err.InvalidAMIIDNotFound},
		{"snapshots deleted, the instance still refers to it", func() {
			for _, sn := range e.mustCall(t, "alice", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots {
				e.mustCall(t, "alice", "DeleteSnapshot", "SnapshotId", sn.SnapshotID)
			}
		}, "alice", []string{id}, ""},
		{"the instance terminated but still described", func() {
			e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", run)
			e.clock.Advance(settle)
		}, "alice", []string{id}, ""},
		{"the instance expired", func() { e.clock.Advance(time.Hour + time.Second) }, "alice", []string{id}, ec2err.InvalidAMIIDNotFound},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change()
		}
		var kv []string
		for i, x := range st.ids {
			kv = append(kv, fmt.Sprintf("ImageId.%d", i+1), x)
		}
		resp, err := e.call(t, st.user, "DescribeImages", kv...)
		switch {
		case st.code != "":
			wantCode(t, err, st.code)
			if err != nil && !strings.Contains(err.Error(), st.ids[len(st.ids)-1]) {
				t.Errorf("%s: got %v, want it to name %s", st.name, err, st.ids[len(st.ids)-1])
			}
		case err != nil:
			t.Errorf("%s: got %v, want an empty list", st.name, err)
		default:
			if got := resp.(*describeImagesResponse).Images; len(got) != 0 {
				t.Errorf("%s: got %v, want an empty list", st.name, imageIDs(got))
			}
		}
	}
}

package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
)

func (e *imageEnv) copyImage(t *testing.T, user, source string, kv ...string) string {
	t.Helper()
	return e.mustCall(t, user, "CopyImage", withDefaults(kv, "SourceImageId", source, "SourceRegion", "us-east-1", "Name", "web-copy")...).(*imageIDResponse).ImageID
}

// snapshot is alice's completed snapshot of her 3 GiB data volume.
func (e *imageEnv) snapshot(t *testing.T) string {
	t.Helper()
	id := e.mustCall(t, "alice", "CreateSnapshot", "VolumeId", e.data).(*createSnapshotResponse).SnapshotID
	e.clock.Advance(settle)
	return id
}

// deviceSnapshots are an image's snapshots by device.
func deviceSnapshots(im imageXML) map[string]string {
	out := map[string]string{}
	for _, bd := range im.BlockDevices {
		out[bd.DeviceName] = bd.Ebs.SnapshotID
	}
	return out
}

// restoredSizes launches the image as user and returns its volumes' sizes
// by device, each marked with whether it came from a snapshot.
func (e *imageEnv) restoredSizes(t *testing.T, user, image string) string {
	t.Helper()
	run := launch(t, e.testEnv, user, "ImageId", image)[0]
	var out []string
	for _, bd := range describe(t, e.testEnv, user, "InstanceId.1", run)[0].BlockDevices {
		v := e.mustCall(t, user, "DescribeVolumes", "VolumeId.1", bd.Ebs.VolumeID).(*describeVolumesResponse).Volumes[0]
		out = append(out, fmt.Sprintf("%s:%d:%t", bd.DeviceName, v.Size, strings.HasPrefix(v.SnapshotID, "snap-")))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

type check struct{ name, got, want string }

func runChecks(t *testing.T, checks []check) {
	t.Helper()
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
}

// TestCopyImage: a copy of alice's image has copies of its snapshots (hers,
// described as EC2 describes them), her tags where asked with the
// request's over them, is pending until the copies are done, launches
// with the source's volumes, and outlives its source; a ClientToken
// replays it.
func TestCopyImage(t *testing.T) {
	e := newImageEnv(t, nil)
	src := e.createImage(t, "alice", "TagSpecification.1.ResourceType", "image",
		"TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "web",
		"TagSpecification.1.Tag.2.Key", "v", "TagSpecification.1.Tag.2.Value", "1")
	e.clock.Advance(settle)
	id := e.copyImage(t, "alice", src, "Description", "a copy", "CopyImageTags", "true", "ClientToken", "copy-1",
		"TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "v", "TagSpecification.1.Tag.1.Value", "2",
		"TagSpecification.2.ResourceType", "snapshot", "TagSpecification.2.Tag.1.Key", "copy", "TagSpecification.2.Tag.1.Value", "yes")
	source, cp := e.image(t, "alice", src), e.image(t, "alice", id)
	checks := []check{
		{"state", cp.State, "pending"},
		{"name and description", cp.Name + "/" + cp.Description, "web-copy/a copy"},
		{"source", cp.SourceImageID + " " + cp.SourceImageRegion, src + " us-east-1"},
		{"owner", cp.OwnerID, "111111111111"},
		{"architecture", cp.Architecture, source.Architecture},
		{"root device", cp.RootDeviceName, source.RootDeviceName},
		{"tags", fmt.Sprint(cp.Tags), "[{role web} {v 2}]"},
		{"replayed token", e.copyImage(t, "alice", src, "ClientToken", "copy-1"), id},
	}
	from, copied := deviceSnapshots(source), deviceSnapshots(cp)
	checks = append(checks, check{"devices", fmt.Sprint(len(copied)), "2"})
	snaps := map[string]snapshotItem{}
	for _, sn := range e.mustCall(t, "alice", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots {
		snaps[sn.SnapshotID] = sn
	}
	for dev, snap := range copied {
		sn := snaps[snap]
		want := fmt.Sprintf("Copied for DestinationAmi %s from SourceAmi %s for SourceSnapshot %s", id, src, from[dev])
		checks = append(checks, check{"copy of " + dev, fmt.Sprint(snap != from[dev], " ", sn.Description, " ", sn.VolumeID, " ", sn.Tags),
			"true " + want + " vol-ffffffff [{copy yes}]"})
	}
	e.clock.Advance(settle)
	checks = append(checks, check{"state once copied", e.image(t, "alice", id).State, "available"})
	e.mustCall(t, "alice", "DeregisterImage", "ImageId", src)
	checks = append(checks, check{"launched after its source went", e.restoredSizes(t, "alice", id), "/dev/sdf:3:true /dev/xvda:8:true"})
	runChecks(t, checks)

	_, err := e.call(t, "alice", "CopyImage", "SourceImageId", id, "SourceRegion", "us-east-1", "Name", "other", "ClientToken", "copy-1")
	wantCode(t, err, ec2err.IdempotentParameterMismatch)
}

// TestCopyImageEncrypted: Encrypted makes the copy's snapshots and
// devices encrypted, with the key named.
func TestCopyImageEncrypted(t *testing.T) {
	e := newImageEnv(t, nil)
	src := e.createImage(t, "alice")
	e.clock.Advance(settle)
	id := e.copyImage(t, "alice", src, "Encrypted", "true", "KmsKeyId", "alias/course")
	for _, bd := range e.image(t, "alice", id).BlockDevices {
		sn := e.mustCall(t, "alice", "DescribeSnapshots", "SnapshotId.1", bd.Ebs.SnapshotID).(*describeSnapshotsResponse).Snapshots[0]
		if got := fmt.Sprintf("%t %t %s", bd.Ebs.Encrypted, sn.Encrypted, sn.KmsKeyID); got != "true true alias/course" {
			t.Errorf("%s: got encrypted device, snapshot and key %s, want true true alias/course", bd.DeviceName, got)
		}
	}
}

// TestCopyImageBetweenStudents: bob cannot copy alice's image until she
// shares it; his copy is his (its snapshots too, without her tags), and
// stays his when she stops sharing; carol still cannot.
func TestCopyImageBetweenStudents(t *testing.T) {
	e := newImageEnv(t, nil)
	src := e.createImage(t, "alice", "TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "secret", "TagSpecification.1.Tag.1.Value", "alice's")
	e.clock.Advance(settle)
	_, err := e.call(t, "bob", "CopyImage", "SourceImageId", src, "SourceRegion", "us-east-1", "Name", "mine")
	wantCode(t, err, ec2err.InvalidAMIIDNotFound)
	e.mustCall(t, "alice", "ModifyImageAttribute", "ImageId", src, "LaunchPermission.Add.1.UserId", "222222222222")
	id := e.copyImage(t, "bob", src, "CopyImageTags", "true")
	e.clock.Advance(settle)
	e.mustCall(t, "alice", "ResetImageAttribute", "ImageId", src, "Attribute", "launchPermission")
	cp := e.image(t, "bob", id)
	bobs := e.mustCall(t, "bob", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots
	var mine []string
	for _, sn := range bobs {
		mine = append(mine, sn.SnapshotID)
	}
	checks := []check{
		{"owner", cp.OwnerID, "222222222222"},
		{"tags", fmt.Sprint(cp.Tags), "[]"},
		{"snapshots are bob's", fmt.Sprint(len(bobs)), "2"},
		{"launched by bob", e.restoredSizes(t, "bob", id), "/dev/sdf:3:true /dev/xvda:8:true"},
	}
	for dev, snap := range deviceSnapshots(cp) {
		checks = append(checks, check{"device " + dev + " from bob's snapshot", fmt.Sprint(slices.Contains(mine, snap)), "true"})
	}
	runChecks(t, checks)
	_, err = e.call(t, "carol", "CopyImage", "SourceImageId", src, "SourceRegion", "us-east-1", "Name", "mine")
	wantCode(t, err, ec2err.InvalidAMIIDNotFound)
	_, err = e.call(t, "carol", "DescribeImages", "ImageId.1", id)
	wantCode(t, err, ec2err.InvalidAMIIDNotFound)
}

// TestCopyImageSigningRegion: this endpoint's region is the one the
// client signed for (where the region is not enforced, the client's
// own), or the configured one where the client named none; an image in
// another is one EC2 does not find (moto's
// test_ami_copy_nonexisting_source_region).
func TestCopyImageSigningRegion(t *testing.T) {
	e := newImageEnv(t, nil)
	src := e.createImage(t, "alice")
	e.clock.Advance(settle)
	cases := []struct {
		name, signed, source, want string
	}{
		{"the signed region", "us-west-1", "us-west-1", ""},
		{"the configured region, signed for another", "us-west-1", "us-east-1", ec2err.InvalidAMIIDNotFound},
		{"another region", "us-east-1", "eu-west-1", ec2err.InvalidAMIIDNotFound},
		{"SigV2: the configured region", "", "us-east-1", ""},
		{"SigV2: another region", "", "us-west-1", ec2err.InvalidAMIIDNotFound},
		{"boto 2 at an address: the configured region", "0", "us-east-1", ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRequest(e.users["alice"], DefaultVersion, "CopyImage", "SourceImageId", src, "SourceRegion", c.source, "Name", fmt.Sprint("copy-", i))
			r.Region = c.signed
			_, err := callAction(e.svc, r)
			if c.want == "" && err != nil {
				t.Fatalf("got %v, want a copy", err)
			}
			if c.want != "" {
				wantCode(t, err, c.want)
			}
		})
	}
}

// TestRegisterImage: an image of alice's own snapshot uses it as it is
// (available at once, the snapshot then in use); one of a snapshot a
// classmate shared is made of a copy of it, the registering student's.
func TestRegisterImage(t *testing.T) {
	e := newImageEnv(t, nil)
	storeUsers(t, e.testEnv)
	snap := e.snapshot(t)
	id := e.mustCall(t, "alice", "RegisterImage", "Name", "from-snap", "Description", "my disk", "Architecture", "x86_64",
		"RootDeviceName", "/dev/xvda", "BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId", snap,
		"TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v").(*imageIDResponse).ImageID
	im := e.image(t, "alice", id)
	checks := []check{
		{"state", im.State, "available"},
		{"shape", fmt.Sprint(im.Name, " ", im.Description, " ", im.Architecture, " ", im.RootDeviceName, " ", im.RootDeviceType, " ", im.Tags), "from-snap my disk x86_64 /dev/xvda ebs [{k v}]"},
		{"devices", fmt.Sprint(deviceSnapshots(im)), "map[/dev/xvda:" + snap + "]"},
		{"launched", e.restoredSizes(t, "alice", id), "/dev/xvda:3:true"},
	}
	run := describe(t, e.testEnv, "alice", "InstanceId.1", launch(t, e.testEnv, "alice", "ImageId", id)[0])[0]
	checks = append(checks, check{"its instance", run.ImageID + " " + run.Architecture + " " + run.RootDeviceType, id + " x86_64 ebs"})
	_, err := e.call(t, "alice", "DeleteSnapshot", "SnapshotId", snap)
	checks = append(checks, check{"deleting its snapshot", ec2err.As(err).Code, ec2err.InvalidSnapshotInUse})

	dflt := e.mustCall(t, "alice", "RegisterImage", "Name", "defaults", "BlockDeviceMapping.1.DeviceName", "/dev/sda1",
		"BlockDeviceMapping.1.Ebs.SnapshotId", snap).(*imageIDResponse).ImageID
	d := e.image(t, "alice", dflt)
	checks = append(checks, check{"EC2's defaults", d.Architecture + " " + d.RootDeviceName, "i386 /dev/sda1"})

	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "CreateVolumePermission.Add.1.UserId", "222222222222")
	bobs := e.mustCall(t, "bob", "RegisterImage", "Name", "from-alice", "RootDeviceName", "/dev/xvda",
		"BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId", snap).(*imageIDResponse).ImageID
	b := e.image(t, "bob", bobs)
	copied := b.BlockDevices[0].Ebs.SnapshotID
	own := e.mustCall(t, "bob", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots
	checks = append(checks,
		check{"bob's image from a shared snapshot", b.State, "pending"},
		check{"bob's copy", fmt.Sprint(copied != snap, len(own) == 1 && own[0].SnapshotID == copied), "true true"})
	e.clock.Advance(settle)
	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "CreateVolumePermission.Remove.1.UserId", "222222222222")
	checks = append(checks,
		check{"bob's image once copied", e.image(t, "bob", bobs).State, "available"},
		check{"launched by bob after alice stopped sharing", e.restoredSizes(t, "bob", bobs), "/dev/xvda:3:true"})
	runChecks(t, checks)
	_, err = e.call(t, "carol", "RegisterImage", "Name", "from-alice", "RootDeviceName", "/dev/xvda",
		"BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId", snap)
	wantCode(t, err, ec2err.InvalidSnapshotNotFound)
}

// TestCopyRegisterImageErrors: each bad request gets EC2's code and
// records nothing.
func TestCopyRegisterImageErrors(t *testing.T) {
	e := newImageEnv(t, nil)
	own := e.createImage(t, "alice")
	snap := e.snapshot(t)
	unshared := e.mustCall(t, "bob", "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "2").(*createVolumeResponse).VolumeID
	e.clock.Advance(settle)
	bobsSnap := e.mustCall(t, "bob", "CreateSnapshot", "VolumeId", unshared).(*createSnapshotResponse).SnapshotID
	e.clock.Advance(settle)
	pending := e.createImage(t, "alice", "Name", "still-pending")
	fresh := e.mustCall(t, "alice", "CreateSnapshot", "VolumeId", e.data).(*createSnapshotResponse).SnapshotID
	cp := func(kv ...string) []string {
		return withDefaults(kv, "SourceImageId", own, "SourceRegion", "us-east-1", "Name", "web-copy")
	}
	reg := func(kv ...string) []string {
		return withDefaults(kv, "Name", "registered", "RootDeviceName", "/dev/xvda", "BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId", snap)
	}
	cases := []struct {
		name, user, action string
		kv                 []string
		want               string
	}{
		{"copy without a name", "alice", "CopyImage", []string{"SourceImageId", own, "SourceRegion", "us-east-1"}, ec2err.MissingParameter},
		{"copy without a source", "alice", "CopyImage", []string{"SourceRegion", "us-east-1", "Name", "web-copy"}, ec2err.MissingParameter},
		{"copy without a region", "alice", "CopyImage", []string{"SourceImageId", own, "Name", "web-copy"}, ec2err.MissingParameter},
		{"copy a malformed id", "alice", "CopyImage", cp("SourceImageId", "ami-?"), ec2err.InvalidAMIIDMalformed},
		{"copy an unknown image", "alice", "CopyImage", cp("SourceImageId", "ami-abcd1234"), ec2err.InvalidAMIIDNotFound},
		{"copy from another region", "alice", "CopyImage", cp("SourceRegion", "eu-west-1"), ec2err.InvalidAMIIDNotFound},
		{"copy a classmate's unshared image", "bob", "CopyImage", cp(), ec2err.InvalidAMIIDNotFound},
		{"copy a course image", "alice", "CopyImage", cp("SourceImageId", debianAMI), ec2err.UnsupportedOperation},
		{"copy a pending image", "alice", "CopyImage", cp("SourceImageId", pending), ec2err.IncorrectState},
		{"copy to a name in use", "alice", "CopyImage", cp("Name", "web-v1"), ec2err.InvalidAMINameDuplicate},
		{"copy to a bad name", "alice", "CopyImage", cp("Name", "a*"), ec2err.InvalidAMINameMalformed},
		{"copy with a key, unencrypted", "alice", "CopyImage", cp("KmsKeyId", "alias/k"), ec2err.InvalidParameterDependency},
		{"copy with instance tags", "alice", "CopyImage", cp("TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "k"), ec2err.InvalidParameterValue},
		{"copy, dry run", "alice", "CopyImage", cp("DryRun", "true"), ec2err.DryRunOperation},
		{"register without a name", "alice", "RegisterImage", []string{"BlockDeviceMapping.1.DeviceName", "/dev/sda1", "BlockDeviceMapping.1.Ebs.SnapshotId", snap}, ec2err.MissingParameter},
		{"register a name alone", "alice", "RegisterImage", []string{"Name", "registered"}, ec2err.MissingParameter},
		{"register from S3", "alice", "RegisterImage", []string{"Name", "registered", "ImageLocation", "bucket/image.manifest.xml"}, ec2err.UnsupportedOperation},
		{"register, root not mapped", "alice", "RegisterImage", reg("RootDeviceName", "/dev/sda1"), ec2err.InvalidParameterValue},
		{"register, root of no snapshot", "alice", "RegisterImage", reg("BlockDeviceMapping.1.Ebs.SnapshotId", "", "BlockDeviceMapping.1.Ebs.VolumeSize", "8"), ec2err.InvalidParameterValue},
		{"register a classmate's unshared snapshot", "alice", "RegisterImage", reg("BlockDeviceMapping.1.Ebs.SnapshotId", bobsSnap), ec2err.InvalidSnapshotNotFound},
		{"register a malformed snapshot", "alice", "RegisterImage", reg("BlockDeviceMapping.1.Ebs.SnapshotId", "snap-?"), ec2err.InvalidSnapshotIDMalformed},
		{"register a pending snapshot", "alice", "RegisterImage", reg("BlockDeviceMapping.1.Ebs.SnapshotId", fresh), ec2err.IncorrectState},
		{"register an unknown architecture", "alice", "RegisterImage", reg("Architecture", "sparc"), ec2err.InvalidParameterValue},
		{"register a paravirtual image", "alice", "RegisterImage", reg("VirtualizationType", "paravirtual"), ec2err.InvalidParameterValue},
		{"register a name in use", "alice", "RegisterImage", reg("Name", "web-v1"), ec2err.InvalidAMINameDuplicate},
		{"register with snapshot tags", "alice", "RegisterImage", reg("TagSpecification.1.ResourceType", "snapshot", "TagSpecification.1.Tag.1.Key", "k"), ec2err.InvalidParameterValue},
		{"register, dry run", "alice", "RegisterImage", reg("DryRun", "true"), ec2err.DryRunOperation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, c.user, c.action, c.kv...)
			wantCode(t, err, c.want)
		})
	}
	images := e.mustCall(t, "alice", "DescribeImages", "Owner.1", "self").(*describeImagesResponse).Images
	snaps := e.mustCall(t, "alice", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots
	if len(images) != 2 || len(snaps) != 6 {
		t.Errorf("after the refusals: got %d images and %d snapshots, want 2 and 6", len(images), len(snaps))
	}
}

// TestCopyImageQuota: the copies count against the snapshot limit.
func TestCopyImageQuota(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxSnapshots = quota.Int(3)
	e := newImageEnv(t, cfg)
	src := e.createImage(t, "alice")
	e.clock.Advance(settle)
	_, err := e.call(t, "alice", "CopyImage", "SourceImageId", src, "SourceRegion", "us-east-1", "Name", "web-copy")
	wantCode(t, err, ec2err.ResourceLimitExceeded)
}

// refusingCopies is a backend that refuses to copy snapshots.
type refusingCopies struct{ backend.Images }

func (refusingCopies) CopySnapshot(context.Context, string, string) (time.Time, error) {
	return time.Time{}, backend.ErrIncorrectState
}

// TestCopyImageRefused: without the Images ability (the ec2 backend) both
// actions are refused clearly; a copy the backend refuses leaves nothing.
func TestCopyImageRefused(t *testing.T) {
	e := newImageEnv(t, nil)
	src := e.createImage(t, "alice")
	snap := e.snapshot(t)
	ib := e.svc.Backend.Images
	e.svc.Backend.Images = refusingCopies{ib}
	_, err := e.call(t, "alice", "CopyImage", "SourceImageId", src, "SourceRegion", "us-east-1", "Name", "web-copy")
	wantCode(t, err, ec2err.IncorrectState)
	e.svc.Backend.Images = nil
	_, err = e.call(t, "alice", "CopyImage", "SourceImageId", src, "SourceRegion", "us-east-1", "Name", "web-copy")
	wantCode(t, err, ec2err.UnsupportedOperation)
	_, err = e.call(t, "alice", "RegisterImage", "Name", "registered", "BlockDeviceMapping.1.DeviceName", "/dev/sda1", "BlockDeviceMapping.1.Ebs.SnapshotId", snap)
	wantCode(t, err, ec2err.UnsupportedOperation)
	images := e.mustCall(t, "alice", "DescribeImages", "Owner.1", "self").(*describeImagesResponse).Images
	snaps := e.mustCall(t, "alice", "DescribeSnapshots", "Owner.1", "self").(*describeSnapshotsResponse).Snapshots
	if len(images) != 1 || len(snaps) != 3 {
		t.Errorf("after the refusals: got %d images and %d snapshots, want 1 and 3", len(images), len(snaps))
	}
}

// TestRegisterImageEncrypted: an image of an encrypted snapshot has an
// encrypted device, as EC2 says (the mapping cannot change it).
func TestRegisterImageEncrypted(t *testing.T) {
	e := newImageEnv(t, nil)
	vol := e.mustCall(t, "alice", "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "4", "Encrypted", "true").(*createVolumeResponse).VolumeID
	e.clock.Advance(settle)
	snap := e.mustCall(t, "alice", "CreateSnapshot", "VolumeId", vol).(*createSnapshotResponse).SnapshotID
	e.clock.Advance(settle)
	id := e.mustCall(t, "alice", "RegisterImage", "Name", "secret-disk", "RootDeviceName", "/dev/xvda",
		"BlockDeviceMapping.1.DeviceName", "/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId", snap).(*imageIDResponse).ImageID
	if got := e.image(t, "alice", id).BlockDevices[0].Ebs.Encrypted; !got {
		t.Errorf("device of an encrypted snapshot: got encrypted %t, want true", got)
	}
}

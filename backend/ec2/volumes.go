package ec2

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// AWS does not say when a volume operation will be done; econe-server
// shows the transitional state for these estimates.
const (
	volumeDelay   = 10 * time.Second
	snapshotDelay = 5 * time.Minute
)

func (b *EC2) after(d time.Duration) time.Time { return b.now().Add(d) }

// volume is AWS's id for econe's volume id, "" when AWS has none: from the
// mapping, else from the launch that made it, else by its econe:id tag (a
// creation whose answer a crash lost).
func (b *EC2) volume(ctx context.Context, id string) (string, error) {
	if aid := b.mapped(id); aid != "" {
		return aid, nil
	}
	var launched string
	if err := b.st.View(func(tx store.SpaceTx) error {
		launched = string(tx.Get(launchVolPrefix + id))
		return nil
	}); err != nil {
		return "", err
	}
	if inst, device, ok := strings.Cut(launched, " "); ok {
		return b.launchVolume(ctx, id, inst, device)
	}
	out, err := b.api.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: b.byTag(id)})
	if err != nil {
		return "", b.awsError("DescribeVolumes", err)
	}
	if len(out.Volumes) == 0 {
		return "", nil
	}
	aid := aws.ToString(out.Volumes[0].VolumeId)
	return aid, b.setID(id, aid)
}

// launchVolume finds the volume a launch made at device, tags it with
// econe's id and maps it.
func (b *EC2) launchVolume(ctx context.Context, id, instanceID, device string) (string, error) {
	var aid string
	err := b.eachInstance(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}}, func(in types.Instance) {
		for _, m := range in.BlockDeviceMappings {
			if aws.ToString(m.DeviceName) == device && m.Ebs != nil {
				aid = aws.ToString(m.Ebs.VolumeId)
			}
		}
	})
	if err != nil || aid == "" {
		return "", err
	}
	if _, err := b.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aid},
		Tags: []types.Tag{{Key: aws.String(TagID), Value: aws.String(id)}}}); err != nil {
		return "", b.awsError("CreateTags", err)
	}
	if err := b.setID(id, aid); err != nil {
		return "", err
	}
	return aid, b.st.Update(func(tx store.SpaceTx) error { return tx.Delete(launchVolPrefix + id) })
}

// mustVolume is volume, refusing a volume AWS does not have.
func (b *EC2) mustVolume(ctx context.Context, id string) (string, error) {
	aid, err := b.volume(ctx, id)
	if err == nil && aid == "" {
		err = &backend.Error{Code: "InvalidVolume.NotFound", Message: "The volume '" + id + "' does not exist."}
	}
	return aid, err
}

// CreateVolume creates an EBS volume, or finds the one an earlier call
// for the same id created.
func (b *EC2) CreateVolume(ctx context.Context, spec backend.VolumeSpec) (time.Time, error) {
	if aid, err := b.volume(ctx, spec.VolumeID); err != nil || aid != "" {
		return b.after(volumeDelay), err
	}
	in := &ec2.CreateVolumeInput{
		AvailabilityZone:  aws.String(spec.Zone),
		Size:              aws.Int32(int32(spec.SizeGiB)),
		ClientToken:       b.token("", spec.VolumeID),
		TagSpecifications: []types.TagSpecification{b.tagSpec(types.ResourceTypeVolume, spec.VolumeID, spec.Owner)},
	}
	setShape(&in.VolumeType, &in.Iops, spec)
	if spec.SnapshotID != "" {
		sid := b.mapped(spec.SnapshotID)
		if sid == "" {
			return time.Time{}, &backend.Error{Code: "InvalidSnapshot.NotFound", Message: "The snapshot '" + spec.SnapshotID + "' does not exist."}
		}
		in.SnapshotId = aws.String(sid)
	}
	out, err := b.api.CreateVolume(ctx, in)
	if err != nil {
		return time.Time{}, b.awsError("CreateVolume", err)
	}
	return b.after(volumeDelay), b.setID(spec.VolumeID, aws.ToString(out.VolumeId))
}

// setShape fills a volume's type and IOPS (only the types that take it).
func setShape(vt *types.VolumeType, iops **int32, spec backend.VolumeSpec) {
	if spec.Type != "" {
		*vt = types.VolumeType(spec.Type)
	}
	switch spec.Type {
	case "io1", "io2", "gp3":
		if spec.Iops > 0 {
			*iops = aws.Int32(int32(spec.Iops))
		}
	}
}

// DeleteVolume deletes a volume; one AWS does not have is deleted.
func (b *EC2) DeleteVolume(ctx context.Context, id string) (time.Time, error) {
	aid, err := b.volume(ctx, id)
	if err != nil || aid == "" {
		return b.now(), err
	}
	if _, err := b.api.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(aid)}); err != nil && code(err) != "InvalidVolume.NotFound" {
		return time.Time{}, b.awsError("DeleteVolume", err)
	}
	return b.after(volumeDelay), b.forgetID(id)
}

// AttachVolume attaches a volume to a running or stopped machine.
func (b *EC2) AttachVolume(ctx context.Context, id, machineID, device string) (time.Time, error) {
	if err := b.need(ctx, machineID, backend.Running, backend.Stopped); err != nil {
		return time.Time{}, err
	}
	aid, err := b.mustVolume(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	_, err = b.api.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(aid), InstanceId: aws.String(machineID), Device: aws.String(device)})
	if err != nil {
		return time.Time{}, b.instanceError("AttachVolume", err)
	}
	return b.after(volumeDelay), nil
}

// DetachVolume detaches a volume; one already detached (its machine
// terminated) is detached.
func (b *EC2) DetachVolume(ctx context.Context, id, machineID string, force bool) (time.Time, error) {
	aid, err := b.volume(ctx, id)
	if err != nil || aid == "" {
		return b.now(), err
	}
	_, err = b.api.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(aid), InstanceId: aws.String(machineID), Force: aws.Bool(force)})
	switch code(err) {
	case "":
	case "IncorrectState", "InvalidAttachment.NotFound", "InvalidVolume.NotFound", "InvalidInstanceID.NotFound":
		return b.now(), nil
	default:
		return time.Time{}, b.awsError("DetachVolume", err)
	}
	return b.after(volumeDelay), nil
}

// ModifyVolume grows or retypes a volume.
func (b *EC2) ModifyVolume(ctx context.Context, spec backend.VolumeSpec) (time.Time, error) {
	aid, err := b.mustVolume(ctx, spec.VolumeID)
	if err != nil {
		return time.Time{}, err
	}
	in := &ec2.ModifyVolumeInput{VolumeId: aws.String(aid), Size: aws.Int32(int32(spec.SizeGiB))}
	setShape(&in.VolumeType, &in.Iops, spec)
	if _, err := b.api.ModifyVolume(ctx, in); err != nil {
		return time.Time{}, b.awsError("ModifyVolume", err)
	}
	return b.after(volumeDelay), nil
}

// snapshot is AWS's id for econe's snapshot id, "" when AWS has none.
func (b *EC2) snapshot(ctx context.Context, id string) (string, error) {
	if aid := b.mapped(id); aid != "" {
		return aid, nil
	}
	out, err := b.api.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{Filters: b.byTag(id), OwnerIds: []string{"self"}})
	if err != nil {
		return "", b.awsError("DescribeSnapshots", err)
	}
	if len(out.Snapshots) == 0 {
		return "", nil
	}
	aid := aws.ToString(out.Snapshots[0].SnapshotId)
	return aid, b.setID(id, aid)
}

// CreateSnapshot snapshots a volume, or finds the snapshot an earlier
// call for the same id made.
func (b *EC2) CreateSnapshot(ctx context.Context, id, volumeID string) (time.Time, error) {
	if aid, err := b.snapshot(ctx, id); err != nil || aid != "" {
		return b.after(snapshotDelay), err
	}
	vid, err := b.mustVolume(ctx, volumeID)
	if err != nil {
		return time.Time{}, err
	}
	out, err := b.api.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vid),
		TagSpecifications: []types.TagSpecification{b.tagSpec(types.ResourceTypeSnapshot, id, "")}})
	if err != nil {
		return time.Time{}, b.awsError("CreateSnapshot", err)
	}
	return b.after(snapshotDelay), b.setID(id, aws.ToString(out.SnapshotId))
}

// DeleteSnapshot deletes a snapshot; one AWS does not have is deleted.
func (b *EC2) DeleteSnapshot(ctx context.Context, id string) error {
	aid, err := b.snapshot(ctx, id)
	if err != nil || aid == "" {
		return err
	}
	if _, err := b.api.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(aid)}); err != nil && code(err) != "InvalidSnapshot.NotFound" {
		return b.awsError("DeleteSnapshot", err)
	}
	return b.forgetID(id)
}

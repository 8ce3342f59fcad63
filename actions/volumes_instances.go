package actions

import (
	"cmp"
	"strings"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// An instance's volumes: those its launch creates from the block device
// mappings, and those its termination detaches or deletes.

// launchMappings checks a launch's block device mappings and returns the
// volumes to create: the root device first, from the image unless a
// mapping overrides it (a larger size, a type), then the others; NoDevice
// mappings are dropped. An instance-store image has no root volume.
func launchMappings(root string, image backend.Image, mappings []blockDeviceRequest) ([]blockDeviceRequest, error) {
	imageSize := image.RootSizeGiB
	rootReq := blockDeviceRequest{DeviceName: root, VolumeSize: imageSize}
	var rest []blockDeviceRequest
	used := map[string]bool{}
	for _, m := range mappings {
		if err := checkDevice("BlockDeviceMapping.DeviceName", m.DeviceName); err != nil {
			return nil, err
		}
		dev := strings.TrimPrefix(m.DeviceName, "/dev/")
		if used[dev] {
			return nil, ec2err.New(ec2err.InvalidParameterValue, "The device %s is mapped twice.", m.DeviceName)
		}
		used[dev] = true
		switch {
		case m.DeviceName == root && m.NoDevice:
			return nil, ec2err.New(ec2err.InvalidParameterValue, "The root device %s cannot be suppressed with NoDevice.", root)
		case m.DeviceName == root:
			if m.VolumeSize != 0 && m.VolumeSize < imageSize {
				return nil, ec2err.New(ec2err.InvalidParameterValue, "Volume of size %d GiB is smaller than the image's root volume (%d GiB).", m.VolumeSize, imageSize)
			}
			m.VolumeSize = max(m.VolumeSize, imageSize)
			rootReq = m
		case !m.NoDevice:
			rest = append(rest, m)
		}
	}
	out := rest
	if image.RootDeviceType != "instance-store" {
		out = append([]blockDeviceRequest{rootReq}, rest...)
	}
	// A request's own flaw, found before anything is looked up in the
	// launch's transaction (the key pair, the network).
	for _, m := range out {
		if m.VolumeSize == 0 && m.SnapshotID == "" {
			return nil, ec2err.Missing("size or snapshotId") // EC2's words
		}
	}
	return out, nil
}

// launchVolume creates one volume of a launch, attached to inst.
func (s *Service) launchVolume(tx store.Tx, inst *store.Instance, m blockDeviceRequest, now time.Time) (*store.Volume, error) {
	shape := volumeShape{Size: m.VolumeSize, Type: m.VolumeType, Iops: m.Iops}
	if m.SnapshotID != "" {
		if err := checkIDs([]string{m.SnapshotID}, "snap", ec2err.InvalidSnapshotIDMalformed); err != nil {
			return nil, err
		}
		sn, err := sourceSnapshot(tx, cmp.Or(m.SnapshotOwner, inst.Owner), m.SnapshotID, now)
		if err != nil {
			return nil, err
		}
		if err := sizeFromSnapshot(&shape, sn); err != nil {
			return nil, err
		}
	}
	if err := checkVolumeShape(&shape); err != nil {
		return nil, err
	}
	dot := m.DeleteOnTermination == nil || *m.DeleteOnTermination
	v := &store.Volume{
		ID: store.NewID("vol"), Owner: inst.Owner, Zone: inst.Zone, SizeGiB: shape.Size, SnapshotID: m.SnapshotID,
		Type: shape.Type, Iops: shape.Iops, Throughput: shape.Throughput, Created: now, State: store.VolumeAvailable,
		Attachment: &store.VolumeAttachment{InstanceID: inst.ID, Device: m.DeviceName, Status: store.AttachAttached, AttachTime: now, DeleteOnTermination: dot},
	}
	inst.BlockDevices = append(inst.BlockDevices, blockDeviceOf(v.ID, v.Attachment))
	return v, store.PutNewVolume(tx, v) // its id is new: nothing to read
}

// releaseVolumes detaches the volumes of terminated instances and deletes
// those marked DeleteOnTermination: intent in the store, then the backend,
// then the backend's answer.
func (s *Service) releaseVolumes(r *Request, instanceIDs []string) error {
	vb := s.Backend.Volumes
	isVolumes := vb != nil
	for _, instanceID := range instanceIDs {
		var released []store.Volume
		var machineID string
		err := s.Store.Update(func(tx store.Tx) error {
			released, machineID = nil, ""
			inst, err := store.GetInstance(tx, r.User.Name, instanceID)
			if err != nil || inst == nil {
				return err
			}
			machineID = inst.BackendID
			on, err := attachedVolumes(tx, r.User.Name, []string{instanceID}, s.now())
			if err != nil {
				return err
			}
			for _, v := range on[instanceID] {
				cur := releaseVolume(v, instanceID, isVolumes)
				cur.Replica = s.Replica
				if _, err := writeVolume(tx, &cur, s.now()); err != nil {
					return err
				}
				released = append(released, cur)
			}
			return nil
		})
		if err != nil || !isVolumes {
			return err
		}
		if err := s.releaseInBackend(r, vb, machineID, released); err != nil {
			return err
		}
	}
	return nil
}

// releaseVolume is what terminating instanceID does to one of its
// volumes: detached, and deleting if DeleteOnTermination. Without a
// volume backend there is nothing to wait for.
func releaseVolume(v store.Volume, instanceID string, isVolumes bool) store.Volume {
	if v.Attachment == nil || v.Attachment.InstanceID != instanceID {
		return v
	}
	if v.Attachment.DeleteOnTermination {
		v.State, v.Until = store.VolumeDeleting, unknownEnd
	}
	if !isVolumes && v.State == store.VolumeDeleting {
		v.Until = time.Time{}
	}
	v.Attachment = nil
	return v
}

func (s *Service) releaseInBackend(r *Request, vb backend.Volumes, machineID string, released []store.Volume) error {
	for _, v := range released {
		if _, err := vb.DetachVolume(r.Context, v.ID, machineID, true); err != nil {
			return backendError(err, volumeRefusals)
		}
		if v.State != store.VolumeDeleting {
			continue
		}
		end, berr := vb.DeleteVolume(r.Context, v.ID)
		if _, err := s.confirm(r, v.ID, end, berr,
			func(v *store.Volume, end time.Time) { v.Until = end },
			func(v *store.Volume) { v.State, v.Until = store.VolumeAvailable, time.Time{} }); err != nil && !ec2err.Is(err, ec2err.InvalidVolumeNotFound) {
			return err
		}
	}
	return nil
}

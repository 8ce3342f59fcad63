package actions

import (
	"context"
	"regexp"
	"slices"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// CreateImage and DeregisterImage: a student's image of one of their
// instances is a snapshot of each of its EBS volumes (made as
// CreateSnapshot makes one) and a record of how to put them back together
// (store.Image), pending until every snapshot is done.

// amiNameRE is EC2's rule for an image name.
var amiNameRE = regexp.MustCompile(`^[a-zA-Z0-9()\[\] ./'@_-]{3,128}$`)

// createImageRequest is a decoded CreateImage.
type createImageRequest struct {
	instanceID, name, description string
	noReboot                      bool
	mappings                      []blockDeviceRequest
	imageTags, snapshotTags       []store.Tag
}

func decodeCreateImage(p *query.Params) (*createImageRequest, error) {
	id, err := requiredID(p, "InstanceId", "i", ec2err.InvalidInstanceIDMalformed)
	if err != nil {
		return nil, err
	}
	req := &createImageRequest{instanceID: id}
	if req.name, req.description, err = decodeImageName(p); err != nil {
		return nil, err
	}
	if req.noReboot, err = p.Bool("NoReboot", false); err != nil {
		return nil, err
	}
	if req.mappings, err = blockDeviceMappings(p); err != nil {
		return nil, err
	}
	if req.imageTags, req.snapshotTags, err = imageSpecTags(p); err != nil {
		return nil, err
	}
	return req, nil
}

// imageIDResponse answers CreateImage, CopyImage and RegisterImage.
type imageIDResponse struct {
	Meta
	ImageID string `xml:"imageId"`
}

// imageSpecTags is TagSpecification's tags for an image and for the
// snapshots made for it.
func imageSpecTags(p *query.Params) (image, snapshot []store.Tag, err error) {
	tags, err := specTags(p, "image", "snapshot")
	return tags["image"], tags["snapshot"], err
}

// imageBackend is the backend's Images and Volumes abilities, which
// CreateImage, CopyImage and RegisterImage need both of.
func (s *Service) imageBackend() (backend.Images, backend.Volumes, error) {
	if s.Backend.Images == nil || s.Backend.Volumes == nil {
		return nil, nil, ec2err.New(ec2err.UnsupportedOperation, "This cloud's backend (%s) cannot make, copy or register images; use the course's images (DescribeImages --owners amazon).", s.Config.Backend.Name)
	}
	return s.Backend.Images, s.Backend.Volumes, nil
}

func (s *Service) createImage(r *Request) (any, error) {
	req, err := decodeCreateImage(r.Params)
	if err != nil {
		return nil, err
	}
	ib, vb, err := s.imageBackend()
	if err != nil {
		return nil, err
	}
	inst, err := s.currentInstance(r, req.instanceID)
	if err != nil {
		return nil, err
	}
	owner, imageID := r.User.Name, store.NewID("ami")
	var (
		im    store.Image
		snaps []store.Snapshot
	)
	err = s.Store.Update(func(tx store.Tx) error {
		cur, err := s.reread(tx, inst)
		if err != nil {
			return err
		}
		if cur.State != string(backend.Running) && cur.State != string(backend.Stopped) {
			return incorrectState(cur, "imaged")
		}
		if err := uniqueImageName(tx, owner, req.name); err != nil {
			return err
		}
		now := s.now()
		if im, snaps, err = s.planImage(tx, r.User, cur, imageID, req, now); err != nil {
			return err
		}
		return s.recordImage(tx, r, &im, snaps, req.imageTags, req.snapshotTags)
	})
	if err != nil {
		return nil, err
	}
	take := func(sn *store.Snapshot) (time.Time, error) { return vb.CreateSnapshot(r.Context, sn.ID, sn.VolumeID) }
	finish := func() (time.Time, error) { return ib.CreateImage(r.Context, im.ID, inst.BackendID, req.noReboot) }
	if err := s.makeImage(r, &im, snaps, take, finish); err != nil {
		return nil, err
	}
	return &imageIDResponse{ImageID: im.ID}, nil
}

// recordImage records a new pending image with the snapshots to make for
// it, tagged, once their count is within the student's quota: the end of
// the transaction of CreateImage, CopyImage and RegisterImage.
func (s *Service) recordImage(tx store.Tx, r *Request, im *store.Image, snaps []store.Snapshot, imageTags, snapshotTags []store.Tag) error {
	if err := s.checkQuota(tx, r.User, quota.Delta{Snapshots: len(snaps)}); err != nil {
		return err
	}
	if err := r.DryRun(); err != nil {
		return err
	}
	for i := range snaps {
		if err := store.PutSnapshot(tx, &snaps[i]); err != nil {
			return err
		}
		if err := putTags(tx, im.Owner, snaps[i].ID, snapshotTags); err != nil {
			return err
		}
	}
	if err := putTags(tx, im.Owner, im.ID, imageTags); err != nil {
		return err
	}
	return store.PutImage(tx, im)
}

func uniqueImageName(tx store.Tx, owner, name string) error {
	images, err := store.ListImages(tx, owner)
	if err != nil {
		return err
	}
	for _, other := range images {
		if other.Name == name {
			return ec2err.New(ec2err.InvalidAMINameDuplicate, "AMI name %s is already in use by AMI %s.", name, other.ID)
		}
	}
	return nil
}

// planImage works out the image of inst (its volumes as they are now)
// with the request's mappings applied, and the snapshots to make: one per
// volume the image keeps.
func (s *Service) planImage(tx store.Tx, u *store.User, inst *store.Instance, imageID string, req *createImageRequest, now time.Time) (store.Image, []store.Snapshot, error) {
	im := store.Image{
		ID: imageID, Owner: u.Name, OwnerAccount: u.AccountID, Name: req.name, Description: req.description,
		SourceInstanceID: inst.ID, BaseImageID: baseImageOf(inst), RootDeviceName: inst.RootDeviceName,
		Created: now, State: store.ImagePending, Until: unknownEnd, Replica: s.Replica,
	}
	if base, _ := s.catalog().Image(im.BaseImageID); base.RootDeviceType == "instance-store" {
		return im, nil, ec2err.New(ec2err.UnsupportedOperation, "The instance '%s' is not EBS-backed (its image %s has an instance-store root); only EBS-backed instances can be imaged.", inst.ID, inst.ImageID)
	}
	used := make([]bool, len(req.mappings))
	var snaps []store.Snapshot
	for _, bd := range inst.BlockDevices {
		v, err := store.GetVolume(tx, u.Name, bd.VolumeID)
		if err != nil {
			return im, nil, err
		}
		if v == nil {
			continue
		}
		cur := v.At(now)
		d := store.ImageDevice{DeviceName: bd.DeviceName, SizeGiB: cur.SizeGiB, Type: cur.Type, Iops: cur.Iops,
			Throughput: cur.Throughput, Encrypted: cur.Encrypted, DeleteOnTermination: bd.DeleteOnTermination}
		keep := true
		for i, m := range req.mappings {
			if !used[i] && sameDevice(m.DeviceName, bd.DeviceName) {
				used[i] = true
				if keep, err = applyImageMapping(&d, m, bd.DeviceName == inst.RootDeviceName); err != nil {
					return im, nil, err
				}
			}
		}
		if !keep {
			continue
		}
		if err := snapshottable(&cur); err != nil {
			return im, nil, err
		}
		sn := newSnapshot(&cur, imageSnapshotDescription(inst.ID, imageID, cur.ID), now)
		d.SnapshotID = sn.ID
		snaps = append(snaps, sn)
		im.Made = append(im.Made, sn.ID)
		im.Devices = append(im.Devices, d)
	}
	if !slices.ContainsFunc(im.Devices, func(d store.ImageDevice) bool { return d.DeviceName == im.RootDeviceName }) {
		return im, nil, ec2err.New(ec2err.IncorrectState, "The instance '%s' has no root volume attached at %s; attach it before making an image.", inst.ID, im.RootDeviceName)
	}
	for i, m := range req.mappings {
		if used[i] || m.NoDevice {
			continue
		}
		d, err := s.addedImageDevice(tx, u.Name, m, now)
		if err != nil {
			return im, nil, err
		}
		im.Devices = append(im.Devices, d)
	}
	return im, snaps, nil
}

// applyImageMapping applies a CreateImage mapping to one of the instance's
// volumes: NoDevice leaves it out (never the root), a size may grow it,
// a type, IOPS and DeleteOnTermination replace its own. keep is false when
// it is left out.
func applyImageMapping(d *store.ImageDevice, m blockDeviceRequest, root bool) (keep bool, err error) {
	switch {
	case m.NoDevice && root:
		return false, ec2err.New(ec2err.InvalidParameterValue, "The root device %s cannot be left out of an image with NoDevice.", d.DeviceName)
	case m.NoDevice:
		return false, nil
	case m.SnapshotID != "":
		return false, ec2err.New(ec2err.InvalidParameterValue, "The device %s is a volume of the instance; CreateImage snapshots it itself, so its mapping cannot name a SnapshotId.", d.DeviceName)
	case m.VolumeSize != 0 && m.VolumeSize < d.SizeGiB:
		return false, ec2err.New(ec2err.InvalidParameterValue, "Volume of size %d GiB for %s is smaller than the instance's volume (%d GiB).", m.VolumeSize, d.DeviceName, d.SizeGiB)
	}
	shape := volumeShape{Size: max(m.VolumeSize, d.SizeGiB), Type: d.Type, Iops: m.Iops}
	if m.VolumeType != "" {
		shape.Type = m.VolumeType
	}
	if shape.Type == d.Type && m.Iops == 0 && volumeKinds[d.Type].iops {
		shape.Iops = d.Iops
	}
	if err := checkVolumeShape(&shape); err != nil {
		return false, err
	}
	d.SizeGiB, d.Type, d.Iops = shape.Size, shape.Type, shape.Iops
	if m.DeleteOnTermination != nil {
		d.DeleteOnTermination = *m.DeleteOnTermination
	}
	return true, nil
}

// addedImageDevice is a CreateImage mapping for a device the instance does
// not have, or a RegisterImage mapping: an empty volume of VolumeSize, or
// one from a completed snapshot of the student's or shared with them.
func (s *Service) addedImageDevice(tx store.Tx, owner string, m blockDeviceRequest, now time.Time) (store.ImageDevice, error) {
	if err := checkDevice("BlockDeviceMapping.DeviceName", m.DeviceName); err != nil {
		return store.ImageDevice{}, err
	}
	shape := volumeShape{Size: m.VolumeSize, Type: m.VolumeType, Iops: m.Iops}
	encrypted := false
	if m.SnapshotID != "" {
		if err := checkIDs([]string{m.SnapshotID}, "snap", ec2err.InvalidSnapshotIDMalformed); err != nil {
			return store.ImageDevice{}, err
		}
		sn, err := sourceSnapshot(tx, owner, m.SnapshotID, now)
		if err != nil {
			return store.ImageDevice{}, err
		}
		if err := sizeFromSnapshot(&shape, sn); err != nil {
			return store.ImageDevice{}, err
		}
		encrypted = sn.Encrypted
	}
	if shape.Size == 0 {
		return store.ImageDevice{}, ec2err.New(ec2err.InvalidParameterValue, "The block device mapping for %s needs a VolumeSize or a SnapshotId.", m.DeviceName)
	}
	if err := checkVolumeShape(&shape); err != nil {
		return store.ImageDevice{}, err
	}
	dot := m.DeleteOnTermination == nil || *m.DeleteOnTermination
	return store.ImageDevice{DeviceName: m.DeviceName, SnapshotID: m.SnapshotID, SizeGiB: shape.Size, Type: shape.Type,
		Iops: shape.Iops, Throughput: shape.Throughput, Encrypted: encrypted, DeleteOnTermination: dot}, nil
}

// makeImage asks the backend for the recorded image's snapshots (take,
// one by one) and then the image itself (finish, when there is one to
// ask for), outside any transaction, then records when each is done;
// when the backend refuses, the image goes with the snapshots it made.
func (s *Service) makeImage(r *Request, im *store.Image, snaps []store.Snapshot, take func(*store.Snapshot) (time.Time, error), finish func() (time.Time, error)) error {
	var berr error
	end := s.now()
	for i := range snaps {
		if snaps[i].Until, berr = take(&snaps[i]); berr != nil {
			break
		}
		end = latest(end, snaps[i].Until)
	}
	if berr == nil && finish != nil {
		var done time.Time
		if done, berr = finish(); berr == nil {
			end = latest(end, done)
		}
	}
	if berr != nil {
		if err := s.discardImage(r.Context, im); err != nil {
			s.requestLog(r).Error().Err(err).Str("image", im.ID).Msg("removing an image the backend refused")
		}
		return backendError(berr, volumeRefusals)
	}
	im.Until, im.Replica = end, ""
	return s.Store.Update(func(tx store.Tx) error {
		for i := range snaps {
			if err := store.PutSnapshot(tx, &snaps[i]); err != nil {
				return err
			}
		}
		return store.PutImage(tx, im)
	})
}

// discardImage removes an image that never became one (refused, or
// interrupted by a crash: its id never reached the student) with the
// snapshots made for it, from the backend first (deleting a snapshot it
// does not have succeeds).
func (s *Service) discardImage(ctx context.Context, im *store.Image) error {
	if vb := s.Backend.Volumes; vb != nil {
		for _, id := range im.Made {
			if err := vb.DeleteSnapshot(context.WithoutCancel(ctx), id); err != nil {
				return backendError(err, volumeRefusals)
			}
		}
	}
	return s.Store.Update(func(tx store.Tx) error {
		for _, id := range im.Made {
			if err := store.DeleteSnapshot(tx, im.Owner, id); err != nil {
				return err
			}
		}
		return store.DeleteImage(tx, im.Owner, im.ID)
	})
}

// RecoverImages removes the images a crash left pending with no end
// known, recorded by replicas that are gone (orphaned): the student never
// got their ids, and asks again. The leader calls it (on bbolt before
// serving); one the backend still refuses is logged and left for the
// next recovery.
func (s *Service) RecoverImages(ctx context.Context, orphaned Orphaned) error {
	var stranded []*store.Image
	err := s.Store.View(func(tx store.Tx) error {
		stranded = nil
		return store.ScanJSON(tx, store.BucketImages, "", func(_ string, im *store.Image) error {
			if im.State == store.ImagePending && im.Until.Equal(unknownEnd) && orphaned(im.Replica) {
				stranded = append(stranded, im)
			}
			return nil
		})
	})
	if err != nil || len(stranded) == 0 {
		return err
	}
	for _, im := range stranded {
		if err := s.discardImage(ctx, im); err != nil {
			s.Log.Error().Err(err).Str("image", im.ID).Msg("an image a restart interrupted could not be removed; retrying at the next recovery")
		}
	}
	s.Log.Warn().Int("images", len(stranded)).Msg("removed images interrupted by a crash")
	return nil
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ---- DeregisterImage ----

func (s *Service) deregisterImage(r *Request) (any, error) {
	id, err := requiredID(r.Params, "ImageId", "ami", ec2err.InvalidAMIIDMalformed)
	if err != nil {
		return nil, err
	}
	if del, err := r.Params.Bool("DeleteAssociatedSnapshots", false); err != nil {
		return nil, err
	} else if del {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "DeleteAssociatedSnapshots is not supported here; deregister the image, then delete its snapshots with DeleteSnapshot.")
	}
	err = s.Store.View(func(tx store.Tx) error {
		if _, err := s.ownImage(tx, r.User, id); err != nil {
			return err
		}
		return r.DryRun()
	})
	if err != nil {
		return nil, err
	}
	// The backend forgets the image first: if removing the record then
	// fails, deregistering again is harmless (unknown ids are done). Its
	// snapshots stay, as on EC2.
	if ib := s.Backend.Images; ib != nil {
		if err := ib.DeregisterImage(r.Context, id); err != nil {
			return nil, backendError(err, refusals{})
		}
	}
	if err := s.Store.Update(func(tx store.Tx) error { return store.DeleteImage(tx, r.User.Name, id) }); err != nil {
		return nil, err
	}
	return ok()
}

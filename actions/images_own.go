package actions

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
)

// Students' own images (CreateImage) next to the admin's catalog: how one
// is found, shown, launched and guarded. A student sees the catalog's
// images, their own, and those a classmate shared with their account id
// (launchPermission): the one sanctioned way to reach another student's
// resource, and only to describe and launch it.

func imageNotFound(id string) error {
	return ec2err.New(ec2err.InvalidAMIIDNotFound, "The image id '[%s]' does not exist", id)
}

// notAuthorized is EC2's answer to a change of an image the caller can
// see but does not own (the catalog's, or a classmate's shared one).
func notAuthorized(id string) error {
	return ec2err.New(ec2err.AuthFailure, "Not authorized for image:%s; only its owner can change or deregister it.", id)
}

// ownImage loads the caller's image id for a change: another's image the
// caller can see is AuthFailure, one they cannot see InvalidAMIID.NotFound.
func (s *Service) ownImage(tx store.Tx, u *store.User, id string) (*store.Image, error) {
	im, err := store.GetImage(tx, u.Name, id)
	if err != nil || im != nil {
		return im, err
	}
	if _, ok := s.catalog().Image(id); ok {
		return nil, notAuthorized(id)
	}
	if shared, err := store.SharedImage(tx, u.AccountID, id); err != nil {
		return nil, err
	} else if shared != nil {
		return nil, notAuthorized(id)
	}
	return nil, imageNotFound(id)
}

// usableImage is the user's image id or one a classmate shared with
// them; nil when neither.
func usableImage(tx store.Tx, u *store.User, id string) (*store.Image, error) {
	im, err := store.GetImage(tx, u.Name, id)
	if err == nil && im == nil {
		im, err = store.SharedImage(tx, u.AccountID, id)
	}
	return im, err
}

// launchImage resolves the image a launch names: the catalog's first, then
// the caller's own or one shared with them (from, whose snapshots the
// launch restores). It stands in for a catalog image with what the
// backend and the instance's description need, from the admin's image it
// descends from.
func (s *Service) launchImage(u *store.User, id string) (templates.Image, *store.Image, error) {
	if im, ok := s.catalog().Image(id); ok {
		return im, nil, nil
	}
	var from *store.Image
	err := s.Store.View(func(tx store.Tx) (err error) {
		from, err = usableImage(tx, u, id)
		return err
	})
	if err != nil {
		return templates.Image{}, nil, err
	}
	if from == nil {
		return templates.Image{}, nil, imageNotFound(id)
	}
	if cur := from.At(s.now()); cur.State != store.ImageAvailable {
		return templates.Image{}, nil, ec2err.New(ec2err.InvalidAMIIDUnavailable, "AMI %s is %s, and cannot be run yet; wait until it is available.", id, cur.State)
	}
	base, _ := s.catalog().Image(from.BaseImageID)
	im := base
	im.ID, im.Name, im.Description, im.Architecture = from.ID, from.Name, from.Description, cmp.Or(from.Architecture, base.Architecture)
	im.RootDeviceName, im.RootDeviceType, im.SnapshotID = from.RootDeviceName, "ebs", ""
	im.OwnerAlias, im.OwnerID, im.CreationDate = "", from.OwnerAccount, ec2Time(from.Created)
	for _, d := range from.Devices {
		if d.DeviceName == from.RootDeviceName {
			im.RootSizeGiB = d.SizeGiB
		}
	}
	return im, from, nil
}

// withImageDevices is a launch's block device mappings from an image of a
// student: the image's devices (each restored from its snapshot, which
// belongs to the image's owner), each overridden by a mapping of the
// request for the same device, then the request's other mappings.
func withImageDevices(from *store.Image, mappings []blockDeviceRequest) []blockDeviceRequest {
	if from == nil {
		return mappings
	}
	var out []blockDeviceRequest
	used := make([]bool, len(mappings))
	for _, d := range from.Devices {
		dot := d.DeleteOnTermination
		m := blockDeviceRequest{DeviceName: d.DeviceName, VolumeSize: d.SizeGiB, VolumeType: d.Type, SnapshotID: d.SnapshotID,
			SnapshotOwner: from.Owner, Iops: d.Iops, DeleteOnTermination: &dot}
		for i, req := range mappings {
			if !used[i] && sameDevice(req.DeviceName, d.DeviceName) {
				used[i] = true
				m = overrideDevice(m, req)
			}
		}
		out = append(out, m)
	}
	for i, req := range mappings {
		if !used[i] {
			out = append(out, req)
		}
	}
	return out
}

// overrideDevice applies what a request's mapping sets to an image's device.
func overrideDevice(m, req blockDeviceRequest) blockDeviceRequest {
	if req.NoDevice {
		return req
	}
	if req.SnapshotID != "" {
		m.SnapshotID, m.SnapshotOwner = req.SnapshotID, ""
	}
	if req.VolumeSize != 0 {
		m.VolumeSize = req.VolumeSize
	}
	if req.VolumeType != "" && req.VolumeType != m.VolumeType {
		m.VolumeType, m.Iops = req.VolumeType, 0
	}
	if req.Iops != 0 {
		m.Iops = req.Iops
	}
	if req.DeleteOnTermination != nil {
		m.DeleteOnTermination = req.DeleteOnTermination
	}
	return m
}

// sameDevice compares device names as EC2 does, with or without /dev/.
func sameDevice(a, b string) bool {
	return strings.TrimPrefix(a, "/dev/") == strings.TrimPrefix(b, "/dev/")
}

// baseImageID is the admin's image a launch descends from: what the
// course's allowed images are checked against, and where the instance's
// architecture and platform come from.
func (lr *launchRequest) baseImageID() string {
	if lr.from != nil {
		return lr.from.BaseImageID
	}
	return lr.image.ID
}

// baseImageOf is the admin's image inst descends from.
func baseImageOf(inst *store.Instance) string {
	return cmp.Or(inst.BaseImageID, inst.ImageID)
}

// snapshotInImage refuses to delete a snapshot one of the owner's images
// is made of, as EC2 does.
func snapshotInImage(tx store.Tx, owner, snapshotID string) error {
	images, err := store.ListImages(tx, owner)
	if err != nil {
		return err
	}
	for _, im := range images {
		for _, d := range im.Devices {
			if d.SnapshotID == snapshotID {
				return ec2err.New(ec2err.InvalidSnapshotInUse, "The snapshot %s is currently in use by %s", snapshotID, im.ID)
			}
		}
	}
	return nil
}

// ownedImageItem is a student's image as DescribeImages shows it.
func ownedImageItem(im *store.Image, base templates.Image, tags []store.Tag, now time.Time) imageXML {
	cur := im.At(now)
	x := imageXML{
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances", Description: cur.Description,
		EnaSupport: true, Hypervisor: "xen", Name: cur.Name,
		RootDeviceName: cur.RootDeviceName, RootDeviceType: "ebs", Tags: tagsXML(tags), VirtualizationType: "hvm",
		SourceInstanceID: cur.SourceInstanceID,
		ImageID:          cur.ID, ImageLocation: cur.OwnerAccount + "/" + cur.Name, State: cur.State,
		OwnerID: cur.OwnerAccount, CreationDate: ec2Time(cur.Created), Public: false,
		Architecture: cmp.Or(cur.Architecture, base.Architecture), ImageType: "machine", Platform: base.Platform,
		SourceImageID: cur.SourceImageID, SourceImageRegion: cur.SourceRegion,
	}
	if base.Platform == "windows" {
		x.PlatformDetails, x.UsageOperation = "Windows", "RunInstances:0002"
	}
	x.BlockDevices = imageDevicesXML(cur.Devices)
	return x
}

func imageDevicesXML(devices []store.ImageDevice) []imageBlockDeviceXML {
	out := make([]imageBlockDeviceXML, len(devices))
	for i, d := range devices {
		out[i] = imageBlockDeviceXML{DeviceName: d.DeviceName, Ebs: ebsBlockDeviceXML{
			DeleteOnTermination: d.DeleteOnTermination, Iops: d.Iops, SnapshotID: d.SnapshotID,
			VolumeSize: d.SizeGiB, VolumeType: d.Type, Throughput: d.Throughput, Encrypted: d.Encrypted,
		}}
	}
	return out
}

// deviceAttrs answers the block-device-mapping.* filters of an image.
func deviceAttrs(x imageXML, name string) ([]string, bool) {
	pick := map[string]func(d imageBlockDeviceXML) string{
		"block-device-mapping.device-name":           func(d imageBlockDeviceXML) string { return d.DeviceName },
		"block-device-mapping.snapshot-id":           func(d imageBlockDeviceXML) string { return d.Ebs.SnapshotID },
		"block-device-mapping.volume-size":           func(d imageBlockDeviceXML) string { return strconv.Itoa(d.Ebs.VolumeSize) },
		"block-device-mapping.volume-type":           func(d imageBlockDeviceXML) string { return d.Ebs.VolumeType },
		"block-device-mapping.encrypted":             func(d imageBlockDeviceXML) string { return strconv.FormatBool(d.Ebs.Encrypted) },
		"block-device-mapping.delete-on-termination": func(d imageBlockDeviceXML) string { return strconv.FormatBool(d.Ebs.DeleteOnTermination) },
	}[name]
	if pick == nil {
		return nil, false
	}
	var out []string
	for _, d := range x.BlockDevices {
		if v := pick(d); v != "" {
			out = append(out, v)
		}
	}
	return out, true
}

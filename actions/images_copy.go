package actions

import (
	"cmp"
	"fmt"
	"regexp"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// CopyImage and RegisterImage: images made of snapshots rather than of an
// instance. A copy's devices are copies of its source's snapshots; a
// registered image's are the student's own snapshots as they are, and
// copies of those a classmate shared, so that every image's snapshots are
// its owner's (as CreateImage's are). The backend copies each snapshot
// (Images.CopySnapshot); the image is pending until every copy is done.

// snapshotCopies plans the copies of an image: the snapshot records (the
// caller's, pending) and the snapshot each is copied from.
type snapshotCopies struct {
	snaps   []store.Snapshot
	sources map[string]string // copy id → source id
}

// add plans a copy of src described so, encrypted if src is or encrypt
// asks (with kmsKeyID, or src's key), and returns its id.
func (c *snapshotCopies) add(owner string, src *store.Snapshot, description string, encrypt bool, kmsKeyID string, now time.Time) string {
	sn := store.Snapshot{
		ID: store.NewID("snap"), Owner: owner, VolumeID: copiedVolumeID, VolumeSize: src.VolumeSize, Description: description,
		Encrypted: src.Encrypted || encrypt, KmsKeyID: cmp.Or(kmsKeyID, src.KmsKeyID),
		Started: now, State: store.SnapshotPending, Until: unknownEnd,
	}
	if c.sources == nil {
		c.sources = map[string]string{}
	}
	c.snaps = append(c.snaps, sn)
	c.sources[sn.ID] = src.ID
	return sn.ID
}

// copiedVolumeID is the volume EC2 names for a snapshot made by a copy.
const copiedVolumeID = "vol-ffffffff"

// makeCopies asks the backend for the planned copies and records the
// image's end (makeImage).
func (s *Service) makeCopies(r *Request, im *store.Image, c *snapshotCopies) error {
	ib := s.Backend.Images
	take := func(sn *store.Snapshot) (time.Time, error) {
		return ib.CopySnapshot(r.Context, sn.ID, c.sources[sn.ID])
	}
	return s.makeImage(r, im, c.snaps, take, nil)
}

// decodeImageName is the Name and Description every new image has, as
// EC2 checks them.
func decodeImageName(p *query.Params) (name, description string, err error) {
	if name, err = p.Required("Name"); err != nil {
		return "", "", err
	}
	if !amiNameRE.MatchString(name) {
		return "", "", ec2err.New(ec2err.InvalidAMINameMalformed, "AMI name '%s' is invalid: it must be 3 to 128 characters of letters, digits, spaces and ( ) [ ] . / ' @ - _.", name)
	}
	if description = p.String("Description"); len(description) > 255 {
		return "", "", ec2err.BadValue("Description", description[:32]+"…", "An image description is at most 255 characters.")
	}
	return name, description, nil
}

// ---- CopyImage ----

type copyImageRequest struct {
	sourceID, region, name, description, kmsKeyID, token string
	encrypted, copyTags                                  bool
	imageTags, snapshotTags                              []store.Tag
}

// awsRegionRE is the shape of an AWS region's name.
var awsRegionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// clientRegion is the region this endpoint is to the client: the one it
// signed for (the configured one where auth.enforce_region holds), unless
// that names no region (SigV2 names none, boto 2 at an IP address "0"),
// then the configured one. The client's resources are in it.
func (s *Service) clientRegion(r *Request) string {
	if awsRegionRE.MatchString(r.Region) {
		return r.Region
	}
	return s.Config.Region
}

func decodeCopyImage(r *Request, endpointRegion string) (*copyImageRequest, error) {
	p := r.Params
	id, err := requiredID(p, "SourceImageId", "ami", ec2err.InvalidAMIIDMalformed)
	if err != nil {
		return nil, err
	}
	region, err := p.Required("SourceRegion")
	if err != nil {
		return nil, err
	}
	// One endpoint is one region (clientRegion): EC2 finds no image of
	// another region there.
	if region != endpointRegion {
		return nil, ec2err.New(ec2err.InvalidAMIIDNotFound, "The image id '[%s]' does not exist in region %s: this endpoint serves %s only, and copies images within it.", id, region, endpointRegion)
	}
	req := &copyImageRequest{sourceID: id, region: region, kmsKeyID: p.String("KmsKeyId"), token: p.String("ClientToken")}
	if req.name, req.description, err = decodeImageName(p); err != nil {
		return nil, err
	}
	if req.encrypted, err = p.Bool("Encrypted", false); err != nil {
		return nil, err
	}
	if req.kmsKeyID != "" && !req.encrypted {
		return nil, ec2err.New(ec2err.InvalidParameterDependency, "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	if len(req.token) > 64 {
		return nil, ec2err.BadValue("ClientToken", req.token, "It must be at most 64 characters.")
	}
	if req.copyTags, err = p.Bool("CopyImageTags", false); err != nil {
		return nil, err
	}
	if req.imageTags, req.snapshotTags, err = imageSpecTags(p); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *Service) copyImage(r *Request) (any, error) {
	req, err := decodeCopyImage(r, s.clientRegion(r))
	if err != nil {
		return nil, err
	}
	if _, _, err := s.imageBackend(); err != nil {
		return nil, err
	}
	u := r.User
	im := store.Image{ID: store.NewID("ami"), Owner: u.Name, OwnerAccount: u.AccountID, Name: req.name, Description: req.description,
		SourceImageID: req.sourceID, SourceRegion: req.region, ClientToken: req.token, State: store.ImagePending, Until: unknownEnd, Replica: s.Replica}
	var (
		copies snapshotCopies
		replay string
	)
	err = s.Store.Update(func(tx store.Tx) error {
		copies, replay = snapshotCopies{}, ""
		prev, err := imageByToken(tx, u.Name, req.token)
		if err != nil {
			return err
		}
		if prev != nil {
			if prev.SourceImageID != req.sourceID || prev.Name != req.name {
				return ec2err.New(ec2err.IdempotentParameterMismatch, "The client token %s was used for a different CopyImage (%s).", req.token, prev.ID)
			}
			replay = prev.ID
			return r.DryRun()
		}
		src, err := s.copySource(tx, u, req.sourceID)
		if err != nil {
			return err
		}
		if err := uniqueImageName(tx, u.Name, req.name); err != nil {
			return err
		}
		now := s.now()
		im.Created, im.BaseImageID, im.Architecture, im.RootDeviceName = now, src.BaseImageID, src.Architecture, src.RootDeviceName
		im.Devices, im.Made = nil, nil
		for _, d := range src.Devices {
			if d.SnapshotID != "" {
				sn, err := store.GetSnapshot(tx, src.Owner, d.SnapshotID)
				if err != nil {
					return err
				}
				if sn == nil { // an image's snapshots cannot be deleted
					return fmt.Errorf("image %s: its snapshot %s is gone", src.ID, d.SnapshotID)
				}
				why := fmt.Sprintf("Copied for DestinationAmi %s from SourceAmi %s for SourceSnapshot %s", im.ID, src.ID, sn.ID)
				d.SnapshotID = copies.add(u.Name, sn, why, req.encrypted, req.kmsKeyID, now)
				d.Encrypted = d.Encrypted || req.encrypted
				im.Made = append(im.Made, d.SnapshotID)
			}
			im.Devices = append(im.Devices, d)
		}
		imageTags := req.imageTags
		if req.copyTags && src.Owner == u.Name { // a classmate's tags are theirs
			if imageTags, err = copiedTags(tx, src, req.imageTags); err != nil {
				return err
			}
		}
		return s.recordImage(tx, r, &im, copies.snaps, imageTags, req.snapshotTags)
	})
	if err != nil {
		return nil, err
	}
	if replay != "" {
		return &imageIDResponse{ImageID: replay}, nil
	}
	if err := s.makeCopies(r, &im, &copies); err != nil {
		return nil, err
	}
	return &imageIDResponse{ImageID: im.ID}, nil
}

// copySource is the image CopyImage copies: the caller's own, or one a
// classmate shared with them, once available. The course's images are
// launched as they are.
func (s *Service) copySource(tx store.Tx, u *store.User, id string) (*store.Image, error) {
	src, err := usableImage(tx, u, id)
	if err != nil {
		return nil, err
	}
	if src == nil {
		if _, ok := s.catalog().Image(id); ok {
			return nil, ec2err.New(ec2err.UnsupportedOperation, "The image %s is one of the course's images, which cannot be copied: launch it as it is, or copy an image of your own.", id)
		}
		return nil, imageNotFound(id)
	}
	if cur := src.At(s.now()); cur.State != store.ImageAvailable {
		return nil, ec2err.New(ec2err.IncorrectState, "The image %s is %s; it can be copied once it is available.", id, cur.State)
	}
	return src, nil
}

// imageByToken is the owner's image CopyImage made with the client token;
// nil when there is none (or no token).
func imageByToken(tx store.Tx, owner, token string) (*store.Image, error) {
	if token == "" {
		return nil, nil
	}
	images, err := store.ListImages(tx, owner)
	for _, im := range images {
		if im.ClientToken == token {
			return im, nil
		}
	}
	return nil, err
}

// copiedTags are the source image's tags with the request's own over
// them (a key in both takes the request's value).
func copiedTags(tx store.Tx, src *store.Image, own []store.Tag) ([]store.Tag, error) {
	tags, err := store.Tags(tx, src.Owner, src.ID)
	if err != nil {
		return nil, err
	}
	byKey := map[string]int{}
	for i, t := range tags {
		byKey[t.Key] = i
	}
	for _, t := range own {
		if i, ok := byKey[t.Key]; ok {
			tags[i] = t
		} else {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// ---- RegisterImage ----

// imageArchitectures are RegisterImage's Architecture values.
var imageArchitectures = []string{"i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"}

type registerImageRequest struct {
	name, description, architecture, rootDeviceName string
	mappings                                        []blockDeviceRequest
	tags                                            []store.Tag
}

func decodeRegisterImage(p *query.Params) (*registerImageRequest, error) {
	if p.Has("ImageLocation") {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "Registering an image from an S3 manifest (ImageLocation) is not supported: there is no S3 here. Register it from a snapshot of a root volume (BlockDeviceMapping.1.Ebs.SnapshotId with RootDeviceName), or make one from an instance with CreateImage.")
	}
	var err error
	req := &registerImageRequest{architecture: p.String("Architecture"), rootDeviceName: p.String("RootDeviceName")}
	if req.name, req.description, err = decodeImageName(p); err != nil {
		return nil, err
	}
	// EC2's default for an EBS-backed image.
	if req.architecture == "" {
		req.architecture = "i386"
	}
	if !contains(imageArchitectures, req.architecture) {
		return nil, ec2err.BadValue("Architecture", req.architecture, "Valid values: i386, x86_64, arm64, x86_64_mac, arm64_mac.")
	}
	if vt := p.String("VirtualizationType"); vt != "" && vt != "hvm" {
		return nil, ec2err.BadValue("VirtualizationType", vt, "Only hvm images run here.")
	}
	if req.rootDeviceName == "" {
		req.rootDeviceName = "/dev/sda1" // EC2's default
	}
	if req.mappings, err = blockDeviceMappings(p); err != nil {
		return nil, err
	}
	if len(req.mappings) == 0 {
		return nil, ec2err.New(ec2err.MissingParameter, "The request must contain the parameter BlockDeviceMapping: register an image from a snapshot of a root volume (BlockDeviceMapping.1.DeviceName %s with Ebs.SnapshotId), or make one from an instance with CreateImage.", req.rootDeviceName)
	}
	if req.tags, err = tagSpecTags(p, "image"); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *Service) registerImage(r *Request) (any, error) {
	req, err := decodeRegisterImage(r.Params)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.imageBackend(); err != nil {
		return nil, err
	}
	u := r.User
	im := store.Image{ID: store.NewID("ami"), Owner: u.Name, OwnerAccount: u.AccountID, Name: req.name, Description: req.description,
		Architecture: req.architecture, RootDeviceName: req.rootDeviceName, State: store.ImagePending, Until: unknownEnd, Replica: s.Replica}
	var copies snapshotCopies
	err = s.Store.Update(func(tx store.Tx) error {
		copies = snapshotCopies{}
		if err := uniqueImageName(tx, u.Name, req.name); err != nil {
			return err
		}
		now := s.now()
		im.Created, im.Devices, im.Made = now, nil, nil
		for _, m := range req.mappings {
			if m.NoDevice {
				continue
			}
			d, err := s.addedImageDevice(tx, u.Name, m, now)
			if err != nil {
				return err
			}
			if d.SnapshotID != "" {
				if d.SnapshotID, err = s.ownSnapshot(tx, u, &copies, d.SnapshotID, im.ID, now); err != nil {
					return err
				}
				if d.SnapshotID != m.SnapshotID {
					im.Made = append(im.Made, d.SnapshotID)
				}
			}
			im.Devices = append(im.Devices, d)
		}
		if err := registeredRoot(&im); err != nil {
			return err
		}
		if im.BaseImageID, err = s.registeredBase(tx, u, req.architecture); err != nil {
			return err
		}
		return s.recordImage(tx, r, &im, copies.snaps, req.tags, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := s.makeCopies(r, &im, &copies); err != nil {
		return nil, err
	}
	return &imageIDResponse{ImageID: im.ID}, nil
}

// ownSnapshot is the user's snapshot id as it is, or a planned copy of it
// when a classmate shared it with them.
func (s *Service) ownSnapshot(tx store.Tx, u *store.User, copies *snapshotCopies, id, imageID string, now time.Time) (string, error) {
	own, err := store.GetSnapshot(tx, u.Name, id)
	if err != nil || own != nil {
		return id, err
	}
	shared, err := restorableSnapshot(tx, u.Name, id)
	if err != nil {
		return "", err
	}
	if shared == nil { // addedImageDevice found it
		return "", snapshotNotFound(id)
	}
	why := fmt.Sprintf("Copied for RegisterImage %s from the shared snapshot %s", imageID, id)
	return copies.add(u.Name, shared, why, false, "", now), nil
}

// registeredBase is the admin's image a registered image stands on, for
// what a snapshot does not say (the backend's mapping, an instance's
// description, the course's allowed images): the first the course allows
// that boots Linux from EBS on arch; "" when there is none.
func (s *Service) registeredBase(tx store.Tx, u *store.User, arch string) (string, error) {
	lim, err := s.effectiveLimits(tx, u)
	if err != nil {
		return "", err
	}
	for _, im := range s.catalog().Images() {
		if im.Architecture == arch && im.RootDeviceType == "ebs" && im.Platform == "" && lim.AllowsImage(im.ID) {
			return im.ID, nil
		}
	}
	return "", nil
}

// registeredRoot checks that a registered image's root device comes from
// a snapshot, as EC2 requires.
func registeredRoot(im *store.Image) error {
	for _, d := range im.Devices {
		if sameDevice(d.DeviceName, im.RootDeviceName) {
			if d.SnapshotID == "" {
				return ec2err.New(ec2err.InvalidParameterValue, "The root device %s must come from a snapshot: give its mapping an Ebs.SnapshotId.", d.DeviceName)
			}
			return nil
		}
	}
	return ec2err.New(ec2err.InvalidParameterValue, "The root device %s has no block device mapping: add BlockDeviceMapping.N.DeviceName %s with Ebs.SnapshotId, or set RootDeviceName to the device of your snapshot.", im.RootDeviceName, im.RootDeviceName)
}

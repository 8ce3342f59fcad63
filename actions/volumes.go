package actions

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Volumes and snapshots (EBS). The store holds the records; the backend
// (its optional backend.Volumes ability) makes the disks real and says when
// each transition ends. Every mutation records its intent first (e.g. a
// volume "attaching" with no known end), then asks the backend, then
// records the backend's answer, or undoes the intent if it refused.
var volumeActions = map[string]Handler{
	"CreateVolume":                 (*Service).createVolume,
	"DescribeVolumes":              (*Service).describeVolumes,
	"AttachVolume":                 (*Service).attachVolume,
	"DetachVolume":                 (*Service).detachVolume,
	"DeleteVolume":                 (*Service).deleteVolume,
	"ModifyVolume":                 (*Service).modifyVolume,
	"DescribeVolumesModifications": (*Service).describeVolumesModifications,
}

// unknownEnd is the end of a transition the backend has not been asked
// about yet: the intent is recorded, the outcome is not.
var unknownEnd = store.UnknownEnd

// volumeKind holds the limits AWS documents for one volume type.
type volumeKind struct {
	minSize, maxSize   int // GiB
	iops, iopsRequired bool
	minIops, maxIops   int
	iopsPerGiB         int // the most IOPS per GiB of size
	defaultIops        int
	throughput         bool // MiB/s settable (gp3)
}

var volumeKinds = map[string]volumeKind{
	"standard": {minSize: 1, maxSize: 1024},
	"gp2":      {minSize: 1, maxSize: 16384},
	"gp3":      {minSize: 1, maxSize: 16384, iops: true, minIops: 3000, maxIops: 16000, iopsPerGiB: 500, defaultIops: 3000, throughput: true},
	"io1":      {minSize: 4, maxSize: 16384, iops: true, iopsRequired: true, minIops: 100, maxIops: 64000, iopsPerGiB: 50},
	"io2":      {minSize: 4, maxSize: 16384, iops: true, iopsRequired: true, minIops: 100, maxIops: 64000, iopsPerGiB: 500},
	"st1":      {minSize: 125, maxSize: 16384},
	"sc1":      {minSize: 125, maxSize: 16384},
}

const (
	defaultVolumeType = "gp2"
	gp3Throughput     = 125 // MiB/s, the gp3 baseline
	minThroughput     = 125
	maxThroughput     = 1000
)

// volumeShape is what a student asks of a volume: size, type and
// performance. checkVolumeShape validates it and fills in the defaults.
type volumeShape struct {
	Size       int
	Type       string
	Iops       int // 0 = not sent
	Throughput int // 0 = not sent
}

func checkVolumeShape(sh *volumeShape) error {
	if sh.Type == "" {
		sh.Type = defaultVolumeType
	}
	kind, ok := volumeKinds[sh.Type]
	if !ok {
		return ec2err.BadValue("VolumeType", sh.Type, "Valid types: standard, gp2, gp3, io1, io2, st1, sc1.")
	}
	if sh.Size < kind.minSize || sh.Size > kind.maxSize {
		return ec2err.New(ec2err.InvalidParameterValue, "Volume of %d GiB is invalid: %s volumes must be between %d and %d GiB.", sh.Size, sh.Type, kind.minSize, kind.maxSize)
	}
	if err := checkIops(sh, kind); err != nil {
		return err
	}
	switch {
	case sh.Throughput != 0 && !kind.throughput:
		return ec2err.New(ec2err.InvalidParameterCombination, "The parameter throughput is not supported for %s volumes; only gp3 volumes take it.", sh.Type)
	case kind.throughput && sh.Throughput == 0:
		sh.Throughput = gp3Throughput
	case kind.throughput && (sh.Throughput < minThroughput || sh.Throughput > maxThroughput):
		return ec2err.BadValue("Throughput", strconv.Itoa(sh.Throughput), fmt.Sprintf("gp3 throughput must be between %d and %d MiB/s.", minThroughput, maxThroughput))
	}
	return nil
}

func checkIops(sh *volumeShape, kind volumeKind) error {
	switch {
	case sh.Iops != 0 && !kind.iops:
		return ec2err.New(ec2err.InvalidParameterCombination, "The parameter iops is not supported for %s volumes; only io1, io2 and gp3 volumes take it.", sh.Type)
	case sh.Iops == 0 && kind.iopsRequired:
		return ec2err.New(ec2err.MissingParameter, "The request must contain the parameter iops for %s volumes.", sh.Type)
	case sh.Iops == 0:
		sh.Iops = kind.defaultIops
		return nil
	case !kind.iops:
		return nil
	case sh.Iops < kind.minIops || sh.Iops > kind.maxIops:
		return ec2err.BadValue("Iops", strconv.Itoa(sh.Iops), fmt.Sprintf("%s volumes take between %d and %d IOPS.", sh.Type, kind.minIops, kind.maxIops))
	case sh.Iops > kind.minIops && sh.Iops > kind.iopsPerGiB*sh.Size:
		return ec2err.BadValue("Iops", strconv.Itoa(sh.Iops), fmt.Sprintf("%s volumes take at most %d IOPS per GiB; a %d GiB volume takes at most %d.", sh.Type, kind.iopsPerGiB, sh.Size, kind.iopsPerGiB*sh.Size))
	}
	return nil
}

// reportedIops is the IOPS EC2 shows: gp2 has a baseline of 3 per GiB
// (at least 100, at most 16000); magnetic types show none.
func reportedIops(v *store.Volume) int {
	if v.Type == "gp2" {
		return min(max(3*v.SizeGiB, 100), 16000)
	}
	return v.Iops
}

// deviceName is what EC2 accepts as a block device name.
var deviceName = regexp.MustCompile(`^(/dev/)?(sd|xvd|hd)[a-z]{1,2}[0-9]{0,2}$`)

func checkDevice(param, device string) error {
	if !deviceName.MatchString(device) {
		return ec2err.BadValue(param, device, "It is not a valid EBS device name; use e.g. /dev/sdf or /dev/xvdf.")
	}
	return nil
}

func volumeNotFound(ids ...string) error {
	return ec2err.New(ec2err.InvalidVolumeNotFound, "The volume '%s' does not exist.", strings.Join(ids, ", "))
}

func snapshotNotFound(ids ...string) error {
	return ec2err.New(ec2err.InvalidSnapshotNotFound, "The snapshot '%s' does not exist.", strings.Join(ids, ", "))
}

func (s *Service) volumeBackend() (backend.Volumes, error) {
	if s.Backend.Volumes == nil {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "This cloud's backend (%s) does not provide volumes.", s.Config.Backend.Name)
	}
	return s.Backend.Volumes, nil
}

// ---- storing volumes ----

// writeVolume stores v as it is at now (finished transitions applied; a
// deleted volume is removed). Instances read their block devices from
// their volumes (withDevices), so nothing else needs writing.
func writeVolume(tx store.Tx, v *store.Volume, now time.Time) (store.Volume, error) {
	cur := v.At(now)
	if cur.State == store.VolumeDeleted {
		return cur, store.DeleteVolume(tx, cur.Owner, cur.ID)
	}
	return cur, store.PutVolume(tx, &cur)
}

func blockDeviceOf(volumeID string, a *store.VolumeAttachment) store.BlockDevice {
	return store.BlockDevice{DeviceName: a.Device, VolumeID: volumeID, Status: a.Status, AttachTime: a.AttachTime, DeleteOnTermination: a.DeleteOnTermination}
}

// updateVolume runs change on the user's volume as it is now, inside one
// transaction, and stores the result (see writeVolume). A volume that does
// not exist, is not theirs or is deleted is InvalidVolume.NotFound.
func (s *Service) updateVolume(r *Request, id string, change func(tx store.Tx, v *store.Volume) error) (store.Volume, error) {
	return s.updateOwnedVolume(r.User.Name, id, change)
}

func (s *Service) updateOwnedVolume(owner, id string, change func(tx store.Tx, v *store.Volume) error) (store.Volume, error) {
	var out store.Volume
	err := s.Store.Update(func(tx store.Tx) error {
		stored, err := store.GetVolume(tx, owner, id)
		if err != nil {
			return err
		}
		if stored == nil {
			return volumeNotFound(id)
		}
		now := s.now()
		v := stored.At(now)
		if v.State == store.VolumeDeleted {
			return volumeNotFound(id)
		}
		if err := change(tx, &v); err != nil {
			return err
		}
		out, err = writeVolume(tx, &v, now)
		return err
	})
	return out, err
}

// confirm records the backend's answer to an operation whose intent is
// stored: done sets when it ends, undo reverts the intent when the backend
// refused (whose error is then returned).
func (s *Service) confirm(r *Request, id string, end time.Time, berr error, done func(v *store.Volume, end time.Time), undo func(v *store.Volume)) (store.Volume, error) {
	v, err := s.updateVolume(r, id, func(_ store.Tx, v *store.Volume) error {
		if berr != nil {
			undo(v)
		} else {
			done(v, end)
		}
		return nil
	})
	if berr != nil {
		return v, backendError(berr, volumeRefusals)
	}
	return v, err
}

// ---- XML shapes (botocore's Volume, VolumeAttachment, Snapshot, VolumeModification) ----

type volumeAttachmentItem struct {
	VolumeID            string `xml:"volumeId"`
	InstanceID          string `xml:"instanceId"`
	Device              string `xml:"device"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

// attachmentSet is always written, empty or not: boto 2 scripts read
// attach_data of every volume.
type attachmentSet struct {
	Items []volumeAttachmentItem `xml:"item"`
}

type volumeItem struct {
	VolumeID           string        `xml:"volumeId"`
	Size               int           `xml:"size"`
	SnapshotID         string        `xml:"snapshotId"`
	Zone               string        `xml:"availabilityZone"`
	Status             string        `xml:"status"`
	CreateTime         string        `xml:"createTime"`
	Attachments        attachmentSet `xml:"attachmentSet"`
	Tags               *tagSetXML    `xml:"tagSet"`
	VolumeType         string        `xml:"volumeType"`
	Iops               int           `xml:"iops,omitempty"`
	Encrypted          bool          `xml:"encrypted"`
	KmsKeyID           string        `xml:"kmsKeyId,omitempty"`
	Throughput         int           `xml:"throughput,omitempty"`
	MultiAttachEnabled bool          `xml:"multiAttachEnabled"`
}

func attachmentItem(volumeID string, a *store.VolumeAttachment) volumeAttachmentItem {
	return volumeAttachmentItem{VolumeID: volumeID, InstanceID: a.InstanceID, Device: a.Device, Status: a.Status, AttachTime: ec2Time(a.AttachTime), DeleteOnTermination: a.DeleteOnTermination}
}

func volumeXML(v *store.Volume, tags []store.Tag) volumeItem {
	item := volumeItem{
		VolumeID: v.ID, Size: v.SizeGiB, SnapshotID: v.SnapshotID, Zone: v.Zone, Status: v.Status(),
		CreateTime: ec2Time(v.Created), Tags: tagSetOf(tags), VolumeType: v.Type, Iops: reportedIops(v),
		Encrypted: v.Encrypted, KmsKeyID: v.KmsKeyID, Throughput: v.Throughput, MultiAttachEnabled: v.MultiAttach,
	}
	if v.Attachment != nil {
		item.Attachments.Items = []volumeAttachmentItem{attachmentItem(v.ID, v.Attachment)}
	}
	return item
}

type snapshotItem struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	Status      string   `xml:"status"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int      `xml:"volumeSize"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	KmsKeyID    string   `xml:"kmsKeyId,omitempty"`
	StorageTier string   `xml:"storageTier"`
	Tags        []tagXML `xml:"tagSet>item"` // written even when empty (moto reads an empty list)
}

func snapshotXML(sn *store.Snapshot, ownerID string, tags []store.Tag, now time.Time) snapshotItem {
	cur, progress := sn.At(now)
	return snapshotItem{
		SnapshotID: cur.ID, VolumeID: cur.VolumeID, Status: cur.State, StartTime: ec2Time(cur.Started),
		Progress: strconv.Itoa(progress) + "%", OwnerID: ownerID, VolumeSize: cur.VolumeSize,
		Description: cur.Description, Encrypted: cur.Encrypted, KmsKeyID: cur.KmsKeyID, StorageTier: "standard", Tags: tagsXML(tags),
	}
}

type volumeModificationItem struct {
	VolumeID           string `xml:"volumeId"`
	ModificationState  string `xml:"modificationState"`
	TargetSize         int    `xml:"targetSize"`
	TargetIops         int    `xml:"targetIops,omitempty"`
	TargetVolumeType   string `xml:"targetVolumeType"`
	TargetThroughput   int    `xml:"targetThroughput,omitempty"`
	OriginalSize       int    `xml:"originalSize"`
	OriginalIops       int    `xml:"originalIops,omitempty"`
	OriginalVolumeType string `xml:"originalVolumeType"`
	OriginalThroughput int    `xml:"originalThroughput,omitempty"`
	Progress           int    `xml:"progress"`
	StartTime          string `xml:"startTime"`
	EndTime            string `xml:"endTime,omitempty"`
}

func modificationXML(m *store.VolumeModification, now time.Time) volumeModificationItem {
	cur, progress := m.At(now)
	item := volumeModificationItem{
		VolumeID: cur.VolumeID, ModificationState: cur.State,
		TargetSize: cur.TargetSize, TargetIops: cur.TargetIops, TargetVolumeType: cur.TargetType, TargetThroughput: cur.TargetThroughput,
		OriginalSize: cur.OriginalSize, OriginalIops: cur.OriginalIops, OriginalVolumeType: cur.OriginalType, OriginalThroughput: cur.OriginalThroughput,
		Progress: progress, StartTime: ec2Time(cur.Started),
	}
	if cur.State == store.ModificationCompleted {
		item.EndTime = ec2Time(cur.Until)
	}
	return item
}

// ---- CreateVolume ----

type createVolumeResponse struct {
	Meta
	volumeItem
}

// createVolumeRequest is a decoded CreateVolume.
type createVolumeRequest struct {
	shape       volumeShape
	zone        string
	snapshotID  string
	encrypted   bool
	kmsKeyID    string
	multiAttach bool
	clientToken string
	tags        []store.Tag
}

func decodeCreateVolume(p *query.Params, validZone func(string) bool) (*createVolumeRequest, error) {
	zone, err := p.Required("AvailabilityZone")
	if err != nil {
		return nil, err
	}
	if !validZone(zone) {
		return nil, ec2err.New(ec2err.InvalidZoneNotFound, "The zone '%s' does not exist.", zone)
	}
	req := &createVolumeRequest{zone: zone, snapshotID: p.String("SnapshotId"), clientToken: p.String("ClientToken")}
	if req.snapshotID != "" {
		if err := checkIDs([]string{req.snapshotID}, "snap", ec2err.InvalidSnapshotIDMalformed); err != nil {
			return nil, err
		}
	}
	size, sizeSent, err := p.OptionalInt("Size")
	if err != nil {
		return nil, err
	}
	if !sizeSent && req.snapshotID == "" {
		return nil, ec2err.Missing("size/snapshot") // EC2's words
	}
	if sizeSent && size < 1 {
		return nil, ec2err.BadValue("Size", p.String("Size"), "It must be at least 1 (GiB).")
	}
	req.shape = volumeShape{Size: size, Type: p.String("VolumeType")}
	if req.shape.Iops, err = p.Int("Iops", 0); err != nil {
		return nil, err
	}
	if req.shape.Throughput, err = p.Int("Throughput", 0); err != nil {
		return nil, err
	}
	if req.encrypted, err = p.Bool("Encrypted", false); err != nil {
		return nil, err
	}
	// EC2 checks the key itself later (the volume fails then); the
	// dependency it checks at once.
	if req.kmsKeyID = p.String("KmsKeyId"); req.kmsKeyID != "" && !req.encrypted {
		return nil, ec2err.New(ec2err.InvalidParameterDependency, "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	if req.multiAttach, err = p.Bool("MultiAttachEnabled", false); err != nil {
		return nil, err
	}
	if req.tags, err = tagSpecTags(p, "volume"); err != nil {
		return nil, err
	}
	return req, nil
}

// sourceSnapshot loads a completed snapshot of the owner, or one shared
// with them, to make a volume from.
func sourceSnapshot(tx store.Tx, owner, id string, now time.Time) (*store.Snapshot, error) {
	sn, err := restorableSnapshot(tx, owner, id)
	if err != nil {
		return nil, err
	}
	if sn == nil {
		return nil, snapshotNotFound(id)
	}
	if cur, _ := sn.At(now); cur.State != store.SnapshotCompleted {
		return nil, ec2err.New(ec2err.IncorrectState, "Snapshot '%s' is still %s; wait until it is completed.", id, cur.State)
	}
	return sn, nil
}

// sizeFromSnapshot applies EC2's rule: a volume from a snapshot defaults
// to, and is at least, the snapshot's size.
func sizeFromSnapshot(shape *volumeShape, sn *store.Snapshot) error {
	if shape.Size == 0 {
		shape.Size = sn.VolumeSize
	}
	if shape.Size < sn.VolumeSize {
		return ec2err.New(ec2err.InvalidParameterValue, "The volume size (%d GiB) cannot be smaller than the snapshot size (%d GiB) of %s.", shape.Size, sn.VolumeSize, sn.ID)
	}
	return nil
}

// idempotencyKey is where a ClientToken remembers what it created.
func idempotencyKey(owner, action, token string) string { return owner + "/" + action + "/" + token }

// fingerprint is the request as sent, to tell a retry from a reuse of
// its ClientToken.
func (req *createVolumeRequest) fingerprint() string {
	fp := fmt.Sprintf("%s|%d|%s|%s|%d|%d|%t", req.zone, req.shape.Size, req.shape.Type, req.snapshotID, req.shape.Iops, req.shape.Throughput, req.encrypted)
	// Appended, so tokens recorded before these were kept still match.
	if req.kmsKeyID != "" {
		fp += "|" + req.kmsKeyID
	}
	if req.multiAttach {
		fp += "|multi-attach"
	}
	return fp
}

// earlierVolume returns the volume a ClientToken already created ("" if
// none), or IdempotentParameterMismatch if it was asked with other values.
func earlierVolume(tx store.Tx, owner string, req *createVolumeRequest) (string, error) {
	if req.clientToken == "" {
		return "", nil
	}
	raw := tx.Get(store.BucketIdempotency, idempotencyKey(owner, "CreateVolume", req.clientToken))
	if raw == nil {
		return "", nil
	}
	id, fp, _ := strings.Cut(string(raw), " ")
	if fp != req.fingerprint() {
		return "", ec2err.New(ec2err.IdempotentParameterMismatch, "The client token %q was already used with different parameters.", req.clientToken)
	}
	return id, nil
}

// newVolume checks a CreateVolume against the store and returns the
// volume to record (creating, its end not known yet).
func newVolume(tx store.Tx, owner string, req *createVolumeRequest, now time.Time) (store.Volume, error) {
	shape, encrypted, kmsKeyID := req.shape, req.encrypted, req.kmsKeyID
	if req.snapshotID != "" {
		sn, err := sourceSnapshot(tx, owner, req.snapshotID, now)
		if err != nil {
			return store.Volume{}, err
		}
		if err := sizeFromSnapshot(&shape, sn); err != nil {
			return store.Volume{}, err
		}
		// A volume of an encrypted snapshot is encrypted, with the
		// snapshot's key unless the request names another.
		if sn.Encrypted {
			encrypted, kmsKeyID = true, cmp.Or(kmsKeyID, sn.KmsKeyID)
		}
	}
	if err := checkVolumeShape(&shape); err != nil {
		return store.Volume{}, err
	}
	if req.multiAttach && shape.Type != "io1" && shape.Type != "io2" {
		return store.Volume{}, ec2err.New(ec2err.InvalidParameterCombination, "MultiAttachEnabled is supported on io1 and io2 volumes only, not %s.", shape.Type)
	}
	return store.Volume{
		ID: store.NewID("vol"), Owner: owner, Zone: req.zone, SizeGiB: shape.Size, SnapshotID: req.snapshotID,
		Type: shape.Type, Iops: shape.Iops, Throughput: shape.Throughput, Encrypted: encrypted, KmsKeyID: kmsKeyID, MultiAttach: req.multiAttach,
		Created: now, State: store.VolumeCreating, Until: unknownEnd,
	}, nil
}

func (s *Service) createVolume(r *Request) (any, error) {
	req, err := decodeCreateVolume(r.Params, s.validZone)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	var v store.Volume
	var earlier string
	err = s.Store.Update(func(tx store.Tx) error {
		var err error
		if earlier, err = earlierVolume(tx, owner, req); err != nil || earlier != "" {
			return err
		}
		if v, err = newVolume(tx, owner, req, s.now()); err != nil {
			return err
		}
		v.Replica = s.Replica
		if err := s.checkQuota(tx, r.User, quota.Delta{Volumes: 1, VolumeGiB: v.SizeGiB}); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		if req.clientToken != "" {
			if err := tx.Put(store.BucketIdempotency, idempotencyKey(owner, "CreateVolume", req.clientToken), []byte(v.ID+" "+req.fingerprint())); err != nil {
				return err
			}
		}
		if err := putTags(tx, owner, v.ID, req.tags); err != nil {
			return err
		}
		return store.PutVolume(tx, &v)
	})
	if err != nil {
		return nil, err
	}
	if earlier != "" {
		return s.volumeResponse(r, earlier)
	}
	end, berr := vb.CreateVolume(r.Context, volumeSpec(&v))
	if _, err := s.confirm(r, v.ID, end, berr,
		func(v *store.Volume, end time.Time) { v.Until = end },
		func(v *store.Volume) { v.State, v.Until = store.VolumeDeleted, time.Time{} }); err != nil {
		return nil, err
	}
	return s.volumeResponse(r, v.ID)
}

// volumeSpec is what the backend is told of a volume.
func volumeSpec(v *store.Volume) backend.VolumeSpec {
	return backend.VolumeSpec{VolumeID: v.ID, Owner: v.Owner, Zone: v.Zone, SizeGiB: v.SizeGiB, Type: v.Type, Iops: v.Iops, SnapshotID: v.SnapshotID}
}

// volumeResponse answers CreateVolume with the volume as it is now.
func (s *Service) volumeResponse(r *Request, id string) (any, error) {
	var resp *createVolumeResponse
	err := s.Store.View(func(tx store.Tx) error {
		v, err := store.GetVolume(tx, r.User.Name, id)
		if err != nil {
			return err
		}
		if v == nil {
			return volumeNotFound(id)
		}
		tags, err := store.Tags(tx, r.User.Name, id)
		cur := v.At(s.now())
		resp = &createVolumeResponse{volumeItem: volumeXML(&cur, tags)}
		return err
	})
	return resp, err
}

// ---- DescribeVolumes ----

type describeVolumesResponse struct {
	Meta
	Volumes   []volumeItem `xml:"volumeSet>item"`
	NextToken string       `xml:"nextToken,omitempty"`
}

func (s *Service) volumeAttrs(v *store.Volume, tags []store.Tag) Attrs {
	if v == nil {
		v = &store.Volume{}
	}
	return func(name string) ([]string, bool) {
		if vals, ok := tagAttrs(tags, name); ok {
			return vals, true
		}
		one := func(s string) ([]string, bool) { return []string{s}, true }
		a := v.Attachment
		attached := func(f func(*store.VolumeAttachment) string) ([]string, bool) {
			if a == nil {
				return nil, true
			}
			return one(f(a))
		}
		switch name {
		case "volume-id":
			return one(v.ID)
		case "status":
			return one(v.Status())
		case "size":
			return one(strconv.Itoa(v.SizeGiB))
		case "availability-zone":
			return one(v.Zone)
		case "availability-zone-id":
			return one(s.zoneID(v.Zone))
		case "snapshot-id":
			return one(v.SnapshotID)
		case "volume-type":
			return one(v.Type)
		case "create-time":
			return one(ec2Time(v.Created))
		case "encrypted":
			return one(strconv.FormatBool(v.Encrypted))
		case "multi-attach-enabled":
			return one(strconv.FormatBool(v.MultiAttach))
		case "attachment.instance-id":
			return attached(func(a *store.VolumeAttachment) string { return a.InstanceID })
		case "attachment.device":
			return attached(func(a *store.VolumeAttachment) string { return a.Device })
		case "attachment.status":
			return attached(func(a *store.VolumeAttachment) string { return a.Status })
		case "attachment.attach-time":
			return attached(func(a *store.VolumeAttachment) string { return ec2Time(a.AttachTime) })
		case "attachment.delete-on-termination":
			return attached(func(a *store.VolumeAttachment) string { return strconv.FormatBool(a.DeleteOnTermination) })
		}
		return unsetAttrs(unsetVolumeAttrs, name)
	}
}

// unsetVolumeAttrs: no fast snapshot restore, no managed volumes.
var unsetVolumeAttrs = map[string][]string{"fast-restored": {"false"}, "operator.managed": {"false"}, "operator.principal": nil}

// listed is one resource of a describe, with its tags.
type listed[T any] struct {
	item T
	tags []store.Tag
}

// describeOwned is what the describes here share: of the user's records
// (all), those named in ids (each must exist, else notFound), those
// matching the filters, sorted and paged by id (MaxResults 5..maxPage).
// attrs must accept a zero T (it is asked filter names only).
func describeOwned[T any](r *Request, all []listed[T], ids []string, id func(T) string, attrs func(T, []store.Tag) Attrs, notFound func(...string) error, maxPage int) ([]listed[T], string, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, "", err
	}
	var zero T
	if err := checkFilterNames(filters, attrs(zero, nil)); err != nil {
		return nil, "", err
	}
	if len(ids) > 0 && r.Params.Has("MaxResults") {
		return nil, "", ec2err.New(ec2err.InvalidParameterCombination, "The parameter MaxResults cannot be used with resource ids; ask for ids or page, not both.")
	}
	byID := map[string]bool{}
	for _, it := range all {
		byID[id(it.item)] = true
	}
	var missing []string
	for _, want := range ids {
		if !byID[want] {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return nil, "", notFound(missing...)
	}
	var out []listed[T]
	for _, it := range all {
		if (len(ids) == 0 || contains(ids, id(it.item))) && matchFilters(filters, attrs(it.item, it.tags)) {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return id(out[i].item) < id(out[j].item) })
	page, err := paginate(len(out), func(i int) string { return id(out[i].item) }, r.Params, 5, maxPage)
	if err != nil {
		return nil, "", err
	}
	return out[page.Start:page.End], page.NextToken, nil
}

// currentVolumes loads the user's volumes as they are at now, with their
// tags, leaving out deleted ones.
func currentVolumes(tx store.Tx, owner string, now time.Time) ([]listed[*store.Volume], error) {
	vols, err := store.ListVolumes(tx, owner)
	if err != nil {
		return nil, err
	}
	var out []listed[*store.Volume]
	for _, v := range vols {
		cur := v.At(now)
		if cur.State == store.VolumeDeleted {
			continue
		}
		tags, err := store.Tags(tx, owner, v.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, listed[*store.Volume]{&cur, tags})
	}
	return out, nil
}

func (s *Service) describeVolumes(r *Request) (any, error) {
	ids := r.Params.List("VolumeId")
	if err := checkIDs(ids, "vol", ec2err.InvalidVolumeIDMalformed); err != nil {
		return nil, err
	}
	resp := &describeVolumesResponse{}
	var all []listed[*store.Volume]
	err := s.Store.View(func(tx store.Tx) error {
		var err error
		all, err = currentVolumes(tx, r.User.Name, s.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	page, next, err := describeOwned(r, all, ids, func(v *store.Volume) string { return v.ID }, s.volumeAttrs, volumeNotFound, 500)
	if err != nil {
		return nil, err
	}
	for _, it := range page {
		resp.Volumes = append(resp.Volumes, volumeXML(it.item, it.tags))
	}
	resp.NextToken = next
	return resp, nil
}

// ---- AttachVolume / DetachVolume ----

type volumeAttachmentResponse struct {
	Meta
	volumeAttachmentItem
}

func (s *Service) attachVolume(r *Request) (any, error) {
	volumeID, instanceID, device, err := attachParams(r.Params)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	inst, err := s.currentInstance(r, instanceID)
	if err != nil {
		return nil, err
	}
	_, err = s.updateVolume(r, volumeID, func(tx store.Tx, v *store.Volume) error {
		inst, err := s.reread(tx, inst)
		if err != nil {
			return err
		}
		if err := checkAttach(v, inst, device); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		v.Attachment = &store.VolumeAttachment{InstanceID: instanceID, Device: device, Status: store.AttachAttaching, AttachTime: s.now(), Until: unknownEnd}
		return nil
	})
	if err != nil {
		return nil, err
	}
	end, berr := vb.AttachVolume(r.Context, volumeID, inst.BackendID, device)
	v, err := s.confirm(r, volumeID, end, berr,
		func(v *store.Volume, end time.Time) { v.Attachment.Until = end },
		func(v *store.Volume) { v.Attachment = nil })
	if err != nil {
		return nil, err
	}
	return &volumeAttachmentResponse{volumeAttachmentItem: attachmentItem(v.ID, v.Attachment)}, nil
}

func attachParams(p *query.Params) (volumeID, instanceID, device string, err error) {
	if volumeID, err = p.Required("VolumeId"); err != nil {
		return
	}
	if instanceID, err = p.Required("InstanceId"); err != nil {
		return
	}
	if device, err = p.Required("Device"); err != nil {
		return
	}
	if err = checkIDs([]string{volumeID}, "vol", ec2err.InvalidVolumeIDMalformed); err != nil {
		return
	}
	if err = checkIDs([]string{instanceID}, "i", ec2err.InvalidInstanceIDMalformed); err != nil {
		return
	}
	err = checkDevice("Device", device)
	return
}

// checkAttach applies EC2's rules for attaching v to inst at device.
func checkAttach(v *store.Volume, inst *store.Instance, device string) error {
	switch {
	case v.Attachment != nil && v.MultiAttach:
		return ec2err.New(ec2err.UnsupportedOperation, "Volume %s is attached to %s: this endpoint attaches a Multi-Attach volume to one instance at a time.", v.ID, v.Attachment.InstanceID)
	case v.Attachment != nil:
		return ec2err.New(ec2err.VolumeInUse, "Volume %s is already attached to %s.", v.ID, v.Attachment.InstanceID)
	case v.State != store.VolumeAvailable:
		return ec2err.New(ec2err.IncorrectState, "Volume %s is '%s'; it can be attached once it is 'available'.", v.ID, v.State)
	case inst.State != string(backend.Running) && inst.State != string(backend.Stopped):
		return ec2err.New(ec2err.IncorrectState, "Instance '%s' is not 'running' or 'stopped' (it is '%s').", inst.ID, inst.State)
	case v.Zone != inst.Zone:
		return ec2err.New(ec2err.InvalidVolumeZoneMismatch, "The volume '%s' is not in the same availability zone as instance '%s' (%s vs %s).", v.ID, inst.ID, v.Zone, inst.Zone)
	}
	// Volumes whose detachment has finished have left BlockDevices.
	for _, bd := range inst.BlockDevices {
		if strings.TrimPrefix(bd.DeviceName, "/dev/") == strings.TrimPrefix(device, "/dev/") {
			return ec2err.New(ec2err.InvalidParameterValue, "Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
		}
	}
	return nil
}

func (s *Service) detachVolume(r *Request) (any, error) {
	volumeID, err := requiredID(r.Params, "VolumeId", "vol", ec2err.InvalidVolumeIDMalformed)
	if err != nil {
		return nil, err
	}
	force, err := r.Params.Bool("Force", false)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	inst, err := s.attachedInstance(r, volumeID)
	if err != nil {
		return nil, err
	}
	_, err = s.updateVolume(r, volumeID, func(tx store.Tx, v *store.Volume) error {
		inst, err := s.reread(tx, inst)
		if err != nil {
			return err
		}
		if err := checkDetach(r.Params, v, inst); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		v.Attachment.Status, v.Attachment.Until = store.AttachDetaching, unknownEnd
		return nil
	})
	if err != nil {
		return nil, err
	}
	end, berr := vb.DetachVolume(r.Context, volumeID, inst.BackendID, force)
	var resp volumeAttachmentItem
	_, err = s.confirm(r, volumeID, end, berr,
		func(v *store.Volume, end time.Time) {
			v.Attachment.Until = end
			resp = attachmentItem(v.ID, v.Attachment)
		},
		func(v *store.Volume) { v.Attachment.Status = store.AttachAttached })
	if err != nil {
		return nil, err
	}
	return &volumeAttachmentResponse{volumeAttachmentItem: resp}, nil
}

// attachedInstance finds the instance a volume is attached to now (see
// currentInstance); a volume not attached is IncorrectState.
func (s *Service) attachedInstance(r *Request, volumeID string) (*store.Instance, error) {
	var on string
	err := s.Store.View(func(tx store.Tx) error {
		v, err := store.GetVolume(tx, r.User.Name, volumeID)
		if err != nil {
			return err
		}
		if v == nil || v.At(s.now()).State == store.VolumeDeleted {
			return volumeNotFound(volumeID)
		}
		cur := v.At(s.now())
		if cur.Attachment == nil || cur.Attachment.Status == store.AttachDetaching {
			return ec2err.New(ec2err.IncorrectState, "Volume '%s' is in the '%s' state; it is not attached.", volumeID, cur.Status())
		}
		on = cur.Attachment.InstanceID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.currentInstance(r, on)
}

// checkDetach applies EC2's rules: InstanceId and Device, when sent, must
// name the attachment; a root volume detaches only from a stopped instance.
func checkDetach(p *query.Params, v *store.Volume, inst *store.Instance) error {
	a := v.Attachment
	if a == nil || a.Status == store.AttachDetaching || a.InstanceID != inst.ID {
		return ec2err.New(ec2err.IncorrectState, "Volume '%s' is in the '%s' state; it is not attached.", v.ID, v.Status())
	}
	if id := p.String("InstanceId"); id != "" && id != a.InstanceID {
		return ec2err.New(ec2err.InvalidAttachmentNotFound, "Volume '%s' is not attached to instance '%s'.", v.ID, id)
	}
	if dev := p.String("Device"); dev != "" && strings.TrimPrefix(dev, "/dev/") != strings.TrimPrefix(a.Device, "/dev/") {
		return ec2err.New(ec2err.InvalidAttachmentNotFound, "Volume '%s' is not attached at device '%s' (it is at %s).", v.ID, dev, a.Device)
	}
	if a.Device == inst.RootDeviceName && inst.State != string(backend.Stopped) {
		return ec2err.New(ec2err.OperationNotPermitted, "Volume '%s' is the root device of instance '%s'; stop the instance before detaching it.", v.ID, inst.ID)
	}
	return nil
}

// ---- DeleteVolume ----

func (s *Service) deleteVolume(r *Request) (any, error) {
	volumeID, err := requiredID(r.Params, "VolumeId", "vol", ec2err.InvalidVolumeIDMalformed)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	_, err = s.updateVolume(r, volumeID, func(_ store.Tx, v *store.Volume) error {
		switch {
		case v.Attachment != nil:
			return ec2err.New(ec2err.VolumeInUse, "Volume %s is currently attached to %s", v.ID, v.Attachment.InstanceID)
		case v.State != store.VolumeAvailable:
			return ec2err.New(ec2err.IncorrectState, "Volume %s is '%s'; only an 'available' volume can be deleted.", v.ID, v.State)
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		v.State, v.Until, v.Replica = store.VolumeDeleting, unknownEnd, s.Replica
		return nil
	})
	if err != nil {
		return nil, err
	}
	end, berr := vb.DeleteVolume(r.Context, volumeID)
	if _, err := s.confirm(r, volumeID, end, berr,
		func(v *store.Volume, end time.Time) { v.Until = end },
		func(v *store.Volume) { v.State, v.Until = store.VolumeAvailable, time.Time{} }); err != nil && !ec2err.Is(err, ec2err.InvalidVolumeNotFound) {
		return nil, err
	}
	return ok()
}

// ---- ModifyVolume / DescribeVolumesModifications ----

type modifyVolumeResponse struct {
	Meta
	Modification volumeModificationItem `xml:"volumeModification"`
}

func (s *Service) modifyVolume(r *Request) (any, error) {
	volumeID, err := requiredID(r.Params, "VolumeId", "vol", ec2err.InvalidVolumeIDMalformed)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	var mod store.VolumeModification
	var spec backend.VolumeSpec
	_, err = s.updateVolume(r, volumeID, func(tx store.Tx, v *store.Volume) error {
		m, err := s.planModification(tx, r.Params, v)
		if err != nil {
			return err
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{VolumeGiB: m.TargetSize - v.SizeGiB}); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		mod = *m
		v.SizeGiB, v.Type, v.Iops, v.Throughput = m.TargetSize, m.TargetType, m.TargetIops, m.TargetThroughput
		spec = volumeSpec(v)
		return store.PutVolumeModification(tx, &mod)
	})
	if err != nil {
		return nil, err
	}
	end, berr := vb.ModifyVolume(r.Context, spec)
	_, err = s.confirm(r, volumeID, end, berr,
		func(*store.Volume, time.Time) { mod.Until = end },
		func(v *store.Volume) {
			v.SizeGiB, v.Type, v.Iops, v.Throughput = mod.OriginalSize, mod.OriginalType, mod.OriginalIops, mod.OriginalThroughput
			mod.State, mod.Until = "failed", s.now()
		})
	if werr := s.Store.Update(func(tx store.Tx) error { return store.PutVolumeModification(tx, &mod) }); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	return &modifyVolumeResponse{Modification: modificationXML(&mod, s.now())}, nil
}

// planModification checks a ModifyVolume against the volume and returns
// the modification to record (still modifying).
func (s *Service) planModification(tx store.Tx, p *query.Params, v *store.Volume) (*store.VolumeModification, error) {
	if v.State != store.VolumeAvailable {
		return nil, ec2err.New(ec2err.IncorrectState, "Volume %s is '%s'; it can be modified once it is 'available' or 'in-use'.", v.ID, v.State)
	}
	if prev, err := store.GetVolumeModification(tx, v.Owner, v.ID); err != nil {
		return nil, err
	} else if prev != nil {
		if cur, _ := prev.At(s.now()); cur.State == store.ModificationModifying {
			return nil, ec2err.New(ec2err.IncorrectState, "Volume %s is already being modified; wait until that modification completes.", v.ID)
		}
	}
	size, err := p.Int("Size", v.SizeGiB)
	if err != nil {
		return nil, err
	}
	if size < v.SizeGiB {
		return nil, ec2err.BadValue("Size", strconv.Itoa(size), fmt.Sprintf("A volume can only grow; %s is %d GiB.", v.ID, v.SizeGiB))
	}
	shape := volumeShape{Size: size, Type: p.String("VolumeType")}
	if shape.Type == "" {
		shape.Type = v.Type
	}
	if shape.Iops, err = p.Int("Iops", 0); err != nil {
		return nil, err
	}
	if shape.Throughput, err = p.Int("Throughput", 0); err != nil {
		return nil, err
	}
	if shape.Type == v.Type && !p.Has("Iops") && volumeKinds[v.Type].iops {
		shape.Iops = v.Iops
	}
	if shape.Type == v.Type && !p.Has("Throughput") {
		shape.Throughput = v.Throughput
	}
	if err := checkVolumeShape(&shape); err != nil {
		return nil, err
	}
	if shape == (volumeShape{v.SizeGiB, v.Type, v.Iops, v.Throughput}) {
		return nil, ec2err.New(ec2err.InvalidParameterValue, "The modification of %s changes nothing; give a larger Size or another VolumeType, Iops or Throughput.", v.ID)
	}
	now := s.now()
	return &store.VolumeModification{
		VolumeID: v.ID, Owner: v.Owner, State: store.ModificationModifying,
		OriginalSize: v.SizeGiB, OriginalType: v.Type, OriginalIops: v.Iops, OriginalThroughput: v.Throughput,
		TargetSize: shape.Size, TargetType: shape.Type, TargetIops: shape.Iops, TargetThroughput: shape.Throughput,
		Started: now, Until: unknownEnd,
	}, nil
}

type describeVolumesModificationsResponse struct {
	Meta
	Modifications []volumeModificationItem `xml:"volumeModificationSet>item"`
	NextToken     string                   `xml:"nextToken,omitempty"`
}

func modificationAttrs(now time.Time) func(*store.VolumeModification, []store.Tag) Attrs {
	return func(m *store.VolumeModification, _ []store.Tag) Attrs {
		return func(name string) ([]string, bool) {
			if m == nil {
				m = &store.VolumeModification{}
			}
			cur, _ := m.At(now)
			values := map[string]string{
				"volume-id": cur.VolumeID, "modification-state": cur.State,
				"target-size": strconv.Itoa(cur.TargetSize), "target-volume-type": cur.TargetType,
				"target-iops": strconv.Itoa(cur.TargetIops), "target-throughput": strconv.Itoa(cur.TargetThroughput),
				"original-size": strconv.Itoa(cur.OriginalSize), "original-volume-type": cur.OriginalType,
				"original-iops": strconv.Itoa(cur.OriginalIops), "original-throughput": strconv.Itoa(cur.OriginalThroughput),
				"start-time": ec2Time(cur.Started),
			}
			v, ok := values[name]
			return []string{v}, ok
		}
	}
}

// requireVolumes fails with InvalidVolume.NotFound naming every id the
// user has no (undeleted) volume for.
func requireVolumes(tx store.Tx, owner string, ids []string, now time.Time) error {
	var missing []string
	for _, id := range ids {
		v, err := store.GetVolume(tx, owner, id)
		if err != nil {
			return err
		}
		if v == nil || v.At(now).State == store.VolumeDeleted {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return volumeNotFound(missing...)
	}
	return nil
}

func (s *Service) describeVolumesModifications(r *Request) (any, error) {
	ids := r.Params.List("VolumeId")
	if err := checkIDs(ids, "vol", ec2err.InvalidVolumeIDMalformed); err != nil {
		return nil, err
	}
	resp := &describeVolumesModificationsResponse{}
	now := s.now()
	var all []listed[*store.VolumeModification]
	err := s.Store.View(func(tx store.Tx) error {
		if err := requireVolumes(tx, r.User.Name, ids, now); err != nil {
			return err
		}
		mods, err := store.ListVolumeModifications(tx, r.User.Name)
		all = nil
		for _, m := range mods {
			if len(ids) == 0 || contains(ids, m.VolumeID) {
				all = append(all, listed[*store.VolumeModification]{item: m})
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	page, next, err := describeOwned(r, all, nil, func(m *store.VolumeModification) string { return m.VolumeID }, modificationAttrs(now), volumeNotFound, 500)
	if err != nil {
		return nil, err
	}
	for _, it := range page {
		resp.Modifications = append(resp.Modifications, modificationXML(it.item, now))
	}
	resp.NextToken = next
	return resp, nil
}

// ---- launch and terminate ----

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
		sn, err := sourceSnapshot(tx, firstNonEmpty(m.SnapshotOwner, inst.Owner), m.SnapshotID, now)
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

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
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

// ---- start-up recovery ----

// RecoverVolumes finishes what a crash interrupted between recording a
// volume's intent and recording the backend's answer (its end still
// unknown), which would otherwise stay creating or deleting for ever. A
// creation is asked again (the record holds the whole spec, and a retried
// CreateVolume with its ClientToken then finds the volume) or, when the
// backend refuses, rolled back; a deletion is asked again (deletes are
// idempotent). Only the intents of replicas that are gone (orphaned) are
// recovered; the leader calls it (on bbolt before serving). An operation
// the backend still refuses is logged and left for the next pass.
func (s *Service) RecoverVolumes(ctx context.Context, orphaned Orphaned) error {
	vb := s.Backend.Volumes
	if vb == nil {
		return nil
	}
	var stranded []*store.Volume
	err := s.Store.View(func(tx store.Tx) error {
		stranded = nil
		return store.ScanVolumeIntents(tx, func(owner, id string) error {
			v, err := store.GetVolume(tx, owner, id)
			if err == nil && store.IsVolumeIntent(v) && orphaned(v.Replica) {
				stranded = append(stranded, v)
			}
			return err
		})
	})
	if err != nil || len(stranded) == 0 {
		return err
	}
	for _, v := range stranded {
		if err := s.recoverVolume(ctx, vb, v); err != nil {
			s.Log.Error().Err(err).Str("volume", v.ID).Str("state", v.State).Msg("a volume operation interrupted by a restart could not be finished; retrying at the next recovery")
		}
	}
	s.Log.Warn().Int("volumes", len(stranded)).Msg("recovered volume operations interrupted by a crash")
	return nil
}

func (s *Service) recoverVolume(ctx context.Context, vb backend.Volumes, v *store.Volume) error {
	var end time.Time
	var err error
	if v.State == store.VolumeCreating {
		if end, err = vb.CreateVolume(ctx, volumeSpec(v)); err != nil {
			// Rolled back, with whatever the interrupted call made.
			if _, err := vb.DeleteVolume(ctx, v.ID); err != nil {
				return err
			}
			return s.settleIntent(v, func(cur *store.Volume) { cur.State, cur.Until = store.VolumeDeleted, time.Time{} })
		}
	} else if end, err = vb.DeleteVolume(ctx, v.ID); err != nil {
		return err
	}
	return s.settleIntent(v, func(cur *store.Volume) { cur.Until = end })
}

// settleIntent applies set to the stored volume if it is still the
// intent v, with no end known.
func (s *Service) settleIntent(v *store.Volume, set func(cur *store.Volume)) error {
	_, err := s.updateOwnedVolume(v.Owner, v.ID, func(_ store.Tx, cur *store.Volume) error {
		if cur.State == v.State && cur.Until.Equal(unknownEnd) {
			set(cur)
		}
		return nil
	})
	return err
}

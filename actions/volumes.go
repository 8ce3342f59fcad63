package actions

import (
	"cmp"
	"context"
	"fmt"
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

func volumeNotFound(ids ...string) error {
	return ec2err.New(ec2err.InvalidVolumeNotFound, "The volume '%s' does not exist.", strings.Join(ids, ", "))
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

// ---- XML shapes (botocore's Volume, VolumeAttachment) ----

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
	return volumeAttachmentItem{VolumeID: volumeID, InstanceID: a.InstanceID, Device: a.Device, Status: a.Status, AttachTime: ec2Second(a.AttachTime), DeleteOnTermination: a.DeleteOnTermination}
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

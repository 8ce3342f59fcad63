package store

import (
	"strings"
	"time"
)

// Volume states, as EC2 names them. Transitional states carry the time the
// backend said they end (Until); readers apply finished transitions with
// At, so nothing has to poll and a restart loses nothing.
const (
	VolumeCreating  = "creating"
	VolumeAvailable = "available"
	VolumeInUse     = "in-use"
	VolumeDeleting  = "deleting"
	VolumeDeleted   = "deleted"

	AttachAttaching = "attaching"
	AttachAttached  = "attached"
	AttachDetaching = "detaching"
	AttachDetached  = "detached"

	SnapshotPending   = "pending"
	SnapshotCompleted = "completed"

	ModificationModifying = "modifying"
	ModificationCompleted = "completed"
)

// Volume is one EBS-style block volume of a student.
type Volume struct {
	ID         string    `json:"id"`
	Owner      string    `json:"owner"`
	Zone       string    `json:"zone"`
	SizeGiB    int       `json:"size_gib"`
	SnapshotID string    `json:"snapshot_id,omitempty"`
	Type       string    `json:"type"`
	Iops       int       `json:"iops,omitzero"`
	Throughput int       `json:"throughput,omitzero"`
	Encrypted  bool      `json:"encrypted,omitzero"`
	KmsKeyID   string    `json:"kms_key_id,omitempty"` // as the student named it; EC2 checks it later, here never
	Created    time.Time `json:"created"`
	// State is creating, available or deleting; in-use is derived from
	// Attachment. Until is when a transitional state ends.
	State      string            `json:"state"`
	Until      time.Time         `json:"until"`
	Attachment *VolumeAttachment `json:"attachment,omitempty"`
	// Replica is the replica that recorded a creating or deleting intent
	// (Until unknown) and waits for the backend's answer ("" on bbolt's
	// one process).
	Replica string `json:"replica,omitempty"`

	// MultiAttach is EC2's MultiAttachEnabled (io1 and io2); the volume
	// still has one Attachment at a time here.
	MultiAttach bool `json:"multi_attach,omitzero"`
}

// VolumeAttachment is a volume's link to an instance: the one record of
// it (an instance's BlockDevices are derived from its volumes).
type VolumeAttachment struct {
	InstanceID          string    `json:"instance_id"`
	Device              string    `json:"device"`
	Status              string    `json:"status"` // attaching | attached | detaching
	AttachTime          time.Time `json:"attach_time"`
	Until               time.Time `json:"until"`
	DeleteOnTermination bool      `json:"delete_on_termination"`
}

// At returns the volume as it is at now: finished transitions applied.
// The receiver is not changed.
func (v Volume) At(now time.Time) Volume {
	done := func(until time.Time) bool { return !now.Before(until) }
	switch {
	case v.State == VolumeCreating && done(v.Until):
		v.State = VolumeAvailable
	case v.State == VolumeDeleting && done(v.Until):
		v.State = VolumeDeleted
	}
	if a := v.Attachment; a != nil {
		cp := *a
		switch {
		case cp.Status == AttachAttaching && done(cp.Until):
			cp.Status = AttachAttached
		case cp.Status == AttachDetaching && done(cp.Until):
			cp.Status = AttachDetached
		}
		v.Attachment = &cp
		if cp.Status == AttachDetached {
			v.Attachment = nil
		}
	}
	return v
}

// Status is the EC2 volume state: in-use while attached (or attaching or
// detaching), else the recorded state.
func (v Volume) Status() string {
	if v.Attachment != nil && v.State != VolumeDeleting && v.State != VolumeDeleted {
		return VolumeInUse
	}
	return v.State
}

// Snapshot is a point-in-time copy of a volume.
type Snapshot struct {
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	VolumeID    string    `json:"volume_id"`
	VolumeSize  int       `json:"volume_size_gib"`
	Description string    `json:"description,omitempty"`
	Encrypted   bool      `json:"encrypted,omitzero"`
	KmsKeyID    string    `json:"kms_key_id,omitempty"`
	Started     time.Time `json:"started"`
	State       string    `json:"state"`
	Until       time.Time `json:"until"` // when pending ends
	// VolumePermissions are the accounts (ids) the owner lets create
	// volumes from it (createVolumePermission), indexed in shares.
	VolumePermissions []string `json:"create_volume_permissions,omitempty"`
}

// At returns the snapshot at now and its progress in percent.
func (s Snapshot) At(now time.Time) (Snapshot, int) {
	if s.State != SnapshotPending {
		return s, 100
	}
	if !now.Before(s.Until) {
		s.State = SnapshotCompleted
		return s, 100
	}
	total := s.Until.Sub(s.Started)
	return s, int(100 * now.Sub(s.Started) / total)
}

// VolumeModification is the latest ModifyVolume of a volume (EC2 reports
// only the latest one per volume).
type VolumeModification struct {
	VolumeID           string    `json:"volume_id"`
	Owner              string    `json:"owner"`
	State              string    `json:"state"`
	OriginalSize       int       `json:"original_size"`
	OriginalType       string    `json:"original_type"`
	OriginalIops       int       `json:"original_iops,omitzero"`
	OriginalThroughput int       `json:"original_throughput,omitzero"`
	TargetSize         int       `json:"target_size"`
	TargetType         string    `json:"target_type"`
	TargetIops         int       `json:"target_iops,omitzero"`
	TargetThroughput   int       `json:"target_throughput,omitzero"`
	Started            time.Time `json:"started"`
	Until              time.Time `json:"until"`
}

// At returns the modification at now and its progress in percent.
func (m VolumeModification) At(now time.Time) (VolumeModification, int) {
	if m.State == ModificationModifying && now.Before(m.Until) {
		return m, int(100 * now.Sub(m.Started) / m.Until.Sub(m.Started))
	}
	m.State = ModificationCompleted
	return m, 100
}

// GetVolume loads one of the user's volumes; nil when absent (or not theirs).
func GetVolume(tx Tx, owner, id string) (*Volume, error) {
	return GetOwned[Volume](tx, BucketVolumes, owner, id)
}

// UnknownEnd is the end of a transition the backend has not been asked
// about yet (an intent): later than any real one.
var UnknownEnd = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// IsVolumeIntent reports whether v is a creation or deletion recorded
// before its backend's answer: one in flight, or one a crash interrupted.
func IsVolumeIntent(v *Volume) bool {
	return v != nil && (v.State == VolumeCreating || v.State == VolumeDeleting) && v.Until.Equal(UnknownEnd)
}

// PutVolume stores a volume and keeps the indexes of attachments and
// intents.
func PutVolume(tx Tx, v *Volume) error {
	old, err := GetVolume(tx, v.Owner, v.ID)
	if err != nil {
		return err
	}
	return putVolume(tx, old, v)
}

// PutNewVolume stores a volume whose id was just drawn (NewID), which no
// record has: unlike PutVolume it reads nothing. On PostgreSQL the read of
// an absent key costs a round trip and a predicate lock on its index page,
// where concurrent launches inserting their own volumes then conflict.
func PutNewVolume(tx Tx, v *Volume) error { return putVolume(tx, nil, v) }

// putVolume replaces old (nil: none) with v.
func putVolume(tx Tx, old, v *Volume) error {
	if err := indexVolume(tx, v.Owner, v.ID, old, v); err != nil {
		return err
	}
	if err := PutOwned(tx, BucketVolumes, v.Owner, v.ID, v); err != nil {
		return err
	}
	return moveCounters(tx, v.Owner, volumeCount(old), volumeCount(v))
}

// DeleteVolume removes a volume, its tags, its modification record and
// its entries in the indexes.
func DeleteVolume(tx Tx, owner, id string) error {
	if err := tx.Delete(BucketVolumeModifications, OwnedKey(owner, id)); err != nil {
		return err
	}
	old, err := GetVolume(tx, owner, id)
	if err != nil {
		return err
	}
	if err := indexVolume(tx, owner, id, old, nil); err != nil {
		return err
	}
	return counted[Volume](tx, BucketVolumes, owner, id, nil, volumeCount)
}

// ScanVolumeIntents calls fn with the owner and id of each indexed
// volume intent.
func ScanVolumeIntents(tx Tx, fn func(owner, id string) error) error {
	return tx.Scan(BucketVolumeIntents, "", func(key string, _ []byte) error {
		owner, id, _ := strings.Cut(key, "/")
		return fn(owner, id)
	})
}

// indexVolume moves the volume's index entries from what its stored record
// old says to what v says (nothing when nil): in bucket volume_intents
// while it is an intent, in volume_attachments under the instance it
// names. An attachment that has ended since (Volume.At) keeps its entry
// until the volume is next written; readers apply At.
func indexVolume(tx Tx, owner, id string, old, v *Volume) error {
	var err error
	if was, now := IsVolumeIntent(old), IsVolumeIntent(v); was != now {
		key := OwnedKey(owner, id)
		if !now {
			err = tx.Delete(BucketVolumeIntents, key)
		} else {
			err = tx.Put(BucketVolumeIntents, key, nil)
		}
		if err != nil {
			return err
		}
	}
	was, now := attachedTo(old), attachedTo(v)
	if was != "" && was != now {
		if err := tx.Delete(BucketVolumeAttachments, attachmentKey(owner, was, id)); err != nil {
			return err
		}
	}
	if now != "" && now != was {
		return tx.Put(BucketVolumeAttachments, attachmentKey(owner, now, id), nil)
	}
	return nil
}

func attachedTo(v *Volume) string {
	if v == nil || v.Attachment == nil {
		return ""
	}
	return v.Attachment.InstanceID
}

func attachmentKey(owner, instanceID, volumeID string) string {
	return OwnedKey(owner, instanceID) + "/" + volumeID
}

// ListVolumes returns the user's volumes in id order.
func ListVolumes(tx Tx, owner string) ([]*Volume, error) {
	return ListOwned[Volume](tx, BucketVolumes, owner)
}

// ListVolumesOn returns the user's volumes whose record names one of the
// instances (through the index of attachments), by instance and then
// volume id; a volume naming an instance need not be attached to it now
// (see Volume.At).
func ListVolumesOn(tx Tx, owner string, instanceIDs []string) ([]*Volume, error) {
	var ids []string
	for _, inst := range instanceIDs {
		prefix := VolumesOnRef(owner, inst).Key
		if err := tx.Scan(BucketVolumeAttachments, prefix, func(key string, _ []byte) error {
			ids = append(ids, strings.TrimPrefix(key, prefix))
			return nil
		}); err != nil {
			return nil, err
		}
	}
	vols, err := GetManyOwned[Volume](tx, BucketVolumes, owner, ids)
	if err != nil {
		return nil, err
	}
	out := vols[:0]
	for _, v := range vols {
		if v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// VolumesOnRef names what ListVolumesOn reads for the instance (the index
// keys and the volumes they name), for Prefetch.
func VolumesOnRef(owner, instanceID string) Ref {
	return IndexRef(BucketVolumeAttachments, OwnedKey(owner, instanceID)+"/", BucketVolumes, OwnerPrefix(owner))
}

// GetSnapshot loads one of the user's snapshots; nil when absent.
func GetSnapshot(tx Tx, owner, id string) (*Snapshot, error) {
	return GetOwned[Snapshot](tx, BucketSnapshots, owner, id)
}

// PutSnapshot stores a snapshot and the index of the accounts it is shared with.
func PutSnapshot(tx Tx, s *Snapshot) error {
	if err := indexSnapshotShares(tx, s.Owner, s.ID, s); err != nil {
		return err
	}
	return counted(tx, BucketSnapshots, s.Owner, s.ID, s, countSnapshot)
}

// DeleteSnapshot removes a snapshot and its entries in the index of shares.
func DeleteSnapshot(tx Tx, owner, id string) error {
	if err := indexSnapshotShares(tx, owner, id, nil); err != nil {
		return err
	}
	return counted[Snapshot](tx, BucketSnapshots, owner, id, nil, countSnapshot)
}

func indexSnapshotShares(tx Tx, owner, id string, s *Snapshot) error {
	old, err := GetSnapshot(tx, owner, id)
	if err != nil {
		return err
	}
	var was, now []string
	if old != nil {
		was = old.VolumePermissions
	}
	if s != nil {
		now = s.VolumePermissions
	}
	return indexShares(tx, owner, id, was, now)
}

// ListSnapshots returns the user's snapshots in id order.
func ListSnapshots(tx Tx, owner string) ([]*Snapshot, error) {
	return ListOwned[Snapshot](tx, BucketSnapshots, owner)
}

// GetVolumeModification loads the latest modification of a volume; nil when none.
func GetVolumeModification(tx Tx, owner, volumeID string) (*VolumeModification, error) {
	return GetOwned[VolumeModification](tx, BucketVolumeModifications, owner, volumeID)
}

// PutVolumeModification stores the latest modification of a volume.
func PutVolumeModification(tx Tx, m *VolumeModification) error {
	return PutJSON(tx, BucketVolumeModifications, OwnedKey(m.Owner, m.VolumeID), m)
}

// ListVolumeModifications returns the user's modifications in volume id order.
func ListVolumeModifications(tx Tx, owner string) ([]*VolumeModification, error) {
	return ListOwned[VolumeModification](tx, BucketVolumeModifications, owner)
}

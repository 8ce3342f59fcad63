package backend

import (
	"context"
	"time"
)

// Volumes is the optional ability to provide block volumes and snapshots.
// econe-server keeps the records (owner, size, attachments) in its store;
// the backend makes the disks real.
//
// Contract for implementations:
//   - Every call MUST return once the backend has accepted the operation,
//     with the time it will be done (volume available, attachment attached
//     or detached, volume deleted, snapshot completed). econe-server shows
//     the transitional state until then; a backend that cannot tell SHOULD
//     return an estimate.
//   - DeleteVolume and DeleteSnapshot MUST be idempotent: an unknown id
//     succeeds.
//   - CreateVolume SHOULD succeed again for a volume it already has with
//     the same spec: econe-server asks again for a creation a restart
//     interrupted (and deletes the volume when it is refused).
//   - Attach and detach name the machine by its backend id (Machine.ID).
//   - Volumes created by Run (LaunchContext.Volumes) need no CreateVolume
//     call; they are attached when Run returns.
type Volumes interface {
	CreateVolume(ctx context.Context, spec VolumeSpec) (done time.Time, err error)
	DeleteVolume(ctx context.Context, volumeID string) (done time.Time, err error)
	AttachVolume(ctx context.Context, volumeID, machineID, device string) (done time.Time, err error)
	DetachVolume(ctx context.Context, volumeID, machineID string, force bool) (done time.Time, err error)
	CreateSnapshot(ctx context.Context, snapshotID, volumeID string) (done time.Time, err error)
	DeleteSnapshot(ctx context.Context, snapshotID string) error
	// ModifyVolume grows or retypes a volume in place.
	ModifyVolume(ctx context.Context, spec VolumeSpec) (done time.Time, err error)
}

// VolumeSpec describes a volume to create (or its new shape, for ModifyVolume).
type VolumeSpec struct {
	VolumeID   string // EC2 id econe-server assigned (vol-…)
	Owner      string // user name, for the cloud's labels
	Zone       string
	SizeGiB    int
	Type       string // gp2, gp3, io1, ...
	Iops       int
	SnapshotID string // "" for an empty volume
}

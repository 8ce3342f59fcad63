package backend

import (
	"context"
	"time"
)

// Images is the optional ability to make images of machines (CreateImage)
// and of snapshots (CopyImage, RegisterImage).
// econe-server snapshots the machine's volumes through Volumes and keeps
// the image record; the backend does to the machine what its cloud does.
// A backend without it refuses CreateImage, CopyImage and RegisterImage
// (the student is told so).
//
// Contract for implementations:
//   - CreateImage MUST reboot a running machine first unless noReboot, as
//     EC2 does, and return the time the image is ready (at least the time
//     its snapshots are done, which econe-server also waits for).
//   - CopySnapshot MUST make snapshotID a copy of sourceID (a completed
//     snapshot, possibly another student's) and return the time it is
//     done; the copy is deleted as any snapshot is (Volumes.DeleteSnapshot).
//   - DeregisterImage MUST be idempotent: an unknown id succeeds.
//   - A backend with Images MUST launch a machine whose LaunchContext
//     names one of these images, with its volumes (the root one too)
//     made from their Volume.SnapshotID.
type Images interface {
	CreateImage(ctx context.Context, imageID, machineID string, noReboot bool) (done time.Time, err error)
	CopySnapshot(ctx context.Context, snapshotID, sourceID string) (done time.Time, err error)
	DeregisterImage(ctx context.Context, imageID string) error
}

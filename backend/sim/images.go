package sim

import (
	"context"
	"time"

	"github.com/econe/econe-server/backend"
)

// The sim's images are econe-server's image records and snapshots: making
// one only reboots the machine (unless NoReboot) and takes as long as a
// snapshot (backend.sim.snapshot_delay).

var _ backend.Images = (*Sim)(nil)

// CreateImage implements backend.Images: a running machine is rebooted
// unless noReboot; a stopped one is imaged as it is.
func (s *Sim) CreateImage(ctx context.Context, imageID, machineID string, noReboot bool) (time.Time, error) {
	m, err := s.lookup(machineID)
	if err != nil {
		return time.Time{}, err
	}
	if st, _ := s.current(m, s.now()); st == backend.Running && !noReboot {
		if err := s.Reboot(ctx, machineID); err != nil {
			return time.Time{}, err
		}
	}
	return s.snapshotDone(), nil
}

// CopySnapshot implements backend.Images: a copy takes as long as a snapshot.
func (s *Sim) CopySnapshot(ctx context.Context, snapshotID, sourceID string) (time.Time, error) {
	return s.snapshotDone(), nil
}

// DeregisterImage implements backend.Images; the sim keeps nothing of an image.
func (s *Sim) DeregisterImage(ctx context.Context, imageID string) error { return nil }

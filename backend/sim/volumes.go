package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/econe/econe-server/backend"
)

// The sim's volumes are econe-server's volume records themselves (kept in
// the store with the time each transition ends): the sim only decides how
// long transitions take (backend.sim.volume_delay, snapshot_delay) and
// checks the machines it is asked to attach to. Nothing of its own needs
// persisting, so volumes survive a restart with the store.

var _ backend.Volumes = (*Sim)(nil)

func (s *Sim) volumeDone() time.Time   { return s.now().Add(s.cfg.VolumeDelay.D()) }
func (s *Sim) snapshotDone() time.Time { return s.now().Add(s.cfg.SnapshotDelay.D()) }

// CreateVolume implements backend.Volumes.
func (s *Sim) CreateVolume(ctx context.Context, spec backend.VolumeSpec) (time.Time, error) {
	if spec.VolumeID == "" || spec.SizeGiB < 1 {
		return time.Time{}, fmt.Errorf("sim: volume %q of %d GiB cannot be created", spec.VolumeID, spec.SizeGiB)
	}
	return s.volumeDone(), nil
}

// ModifyVolume implements backend.Volumes.
func (s *Sim) ModifyVolume(ctx context.Context, spec backend.VolumeSpec) (time.Time, error) {
	return s.CreateVolume(ctx, spec)
}

// DeleteVolume implements backend.Volumes; any id succeeds.
func (s *Sim) DeleteVolume(ctx context.Context, volumeID string) (time.Time, error) {
	return s.volumeDone(), nil
}

// AttachVolume implements backend.Volumes: the machine must exist and be
// running or stopped.
func (s *Sim) AttachVolume(ctx context.Context, volumeID, machineID, device string) (time.Time, error) {
	m, err := s.lookup(machineID)
	if err != nil {
		return time.Time{}, err
	}
	if st, _ := s.current(m, s.now()); st != backend.Running && st != backend.Stopped {
		return time.Time{}, backend.ErrIncorrectState
	}
	return s.volumeDone(), nil
}

// DetachVolume implements backend.Volumes. It succeeds whatever the
// machine's state: terminating a machine detaches its volumes.
func (s *Sim) DetachVolume(ctx context.Context, volumeID, machineID string, force bool) (time.Time, error) {
	return s.volumeDone(), nil
}

// CreateSnapshot implements backend.Volumes.
func (s *Sim) CreateSnapshot(ctx context.Context, snapshotID, volumeID string) (time.Time, error) {
	return s.snapshotDone(), nil
}

// DeleteSnapshot implements backend.Volumes; any id succeeds.
func (s *Sim) DeleteSnapshot(ctx context.Context, snapshotID string) error { return nil }

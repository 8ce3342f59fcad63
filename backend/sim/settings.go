package sim

import (
	"context"

	"github.com/econe/econe-server/backend"
)

var _ backend.InstanceSettings = (*Sim)(nil)

// ApplySettings implements backend.InstanceSettings: the sim's machines
// enforce none of these settings (no network, no metadata service), so
// the instance's record is all there is; the machine must exist.
func (s *Sim) ApplySettings(ctx context.Context, machineID string, _ backend.MachineSettings) error {
	_, err := s.lookup(machineID)
	return err
}

// Package all registers every built-in backend. Import it for its effect.
package all

import (
	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/ec2"
	"github.com/econe/econe-server/backend/sim"
)

func init() {
	backend.Register("sim", sim.New)
	backend.Register("ec2", ec2.New)
}

package elasticip

import (
	"context"

	"github.com/econe/econe-server/scriptrun"
)

// Process is a running script as an intent records it (see
// scriptrun.Process): its process group and the start time of its leader.
type Process = scriptrun.Process

// Started is told about a script's process once it exists and before it
// runs any of its code; an error stops the script before it starts and
// fails the call. The actions record the process in the intent here.
type Started func(Process) error

// StopGroup kills what is left of a script's process group, started by an
// earlier run of the server (see scriptrun.StopGroup).
func StopGroup(ctx context.Context, p Process) error { return scriptrun.StopGroup(ctx, p) }

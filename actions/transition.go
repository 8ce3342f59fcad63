package actions

import (
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// An instance's state changes in one place, transition: every path that
// moves an instance — a launch, its recording and its crash recovery,
// StopInstances and the rest, a refresh from the backend and the usage
// reconciliation — calls it inside its own Store.Update. With the new
// state it writes, in the same transaction, the owner's counters and the
// instance's usage intervals, so these are exact by construction (and a
// terminated instance's network interfaces are detached, or deleted when
// so marked, and its launch address taken back). Each caller carries out
// the launch address intents it collects (move.wire) after its commit. Writers
// of other fields (attributes, addresses) use store.PutInstance and never
// change the state (TestCountersAndLedgerFollowInstances checks all).

// move is where a transition takes an instance: the machine as the backend
// reported it (or as an action decided, e.g. a launch that failed).
type move struct {
	machine backend.Machine
	// user is set when the student asked for the change: the state reason
	// becomes reason and the transition reason says "User initiated".
	user   bool
	reason string
	// server, with user, says the guardrails or the admin asked, not the
	// student: the transition reason says "Server initiated".
	server bool
	// wire collects the intents of the launch addresses the transition
	// gives or takes back, for the caller to carry out after its commit
	// (launch_addresses.go).
	wire *wiring
}

// transition applies mv to inst, the record as read in tx (or a new
// instance, State ""), and writes it; when the state moved it moves the
// owner's counters and closes and opens the instance's usage intervals,
// and gives or takes back its launch address (launch_addresses.go).
// It reports whether anything was written.
func (s *Service) transition(tx store.Tx, inst *store.Instance, mv move) (bool, error) {
	before := *inst
	changed := s.applyMachine(inst, mv.machine)
	if changed && mv.user {
		inst.StateReason, inst.TransitionReason = mv.reason, ""
		if mv.reason != "" {
			by := "User"
			if mv.server {
				by = "Server"
			}
			inst.TransitionReason = by + " initiated (" + s.now().Format("2006-01-02 15:04:05 MST") + ")"
		}
	}
	if !changed && before.State != "" {
		return false, nil
	}
	if err := s.moveLaunchAddress(tx, inst, mv.wire); err != nil {
		return false, err
	}
	if err := store.PutInstance(tx, inst); err != nil {
		return false, err
	}
	if inst.State == before.State {
		return true, nil
	}
	var prev *store.Instance
	if before.State != "" {
		prev = &before
	}
	if err := store.MoveInstanceCounters(tx, prev, inst); err != nil {
		return false, err
	}
	if inst.State == string(backend.Terminated) {
		if err := s.detachInterfaces(tx, inst); err != nil {
			return false, err
		}
	}
	return true, s.moveLedger(tx, &before, inst, mv)
}

// moveLedger closes the instance's open interval and opens the next when
// the kind of usage changed. The change happened when the backend says;
// a machine reported terminated with no time has vanished, and its usage
// ends when it was last seen (a launch that never ran: when it started).
func (s *Service) moveLedger(tx store.Tx, before, after *store.Instance, mv move) error {
	from, to := s.usageKind(before), s.usageKind(after)
	if from == to {
		return nil
	}
	at := mv.machine.Changed
	if at.IsZero() {
		at = s.now()
	}
	if from != "" {
		end := at
		if vanished(mv) {
			iv, err := usage.OpenInterval(tx, after.Owner, after.ID)
			if err != nil {
				return err
			}
			if iv != nil {
				end = iv.LastSeen
			}
		}
		if err := usage.Close(tx, after.Owner, after.ID, end); err != nil {
			return err
		}
	}
	switch {
	case to == "":
		return nil
	case before.State == "": // a launch: the instance is new
		return usage.OpenNew(tx, s.interval(after, to, at))
	}
	return usage.Open(tx, s.interval(after, to, at))
}

func vanished(mv move) bool {
	return !mv.user && mv.machine.State == backend.Terminated && mv.machine.Changed.IsZero()
}

// usageKind is the kind of usage interval an instance in its state
// accrues; "" for none.
func (s *Service) usageKind(inst *store.Instance) string {
	switch backend.State(inst.State) {
	case backend.Pending, backend.Running, backend.Stopping, backend.ShuttingDown:
		return usage.Running
	case backend.Stopped:
		if t, ok := s.catalog().InstanceType(inst.InstanceType); ok && t.StoppedPricePerHour > 0 {
			return usage.Stopped
		}
	}
	return ""
}

// interval is the usage interval of kind that inst opens at start, priced
// by its type's template now.
func (s *Service) interval(inst *store.Instance, kind string, start time.Time) usage.Interval {
	iv := usage.Interval{Owner: inst.Owner, InstanceID: inst.ID, Kind: kind, InstanceType: inst.InstanceType, VCPUs: inst.VCPUs, Start: start}
	if t, ok := s.catalog().InstanceType(inst.InstanceType); ok {
		iv.MicrosPerHour = usage.Micros(t.PricePerHour)
		if kind == usage.Stopped {
			iv.MicrosPerHour = usage.Micros(t.StoppedPricePerHour)
		} else {
			iv.MinSeconds = int64(t.MinBilledSeconds)
		}
	}
	return iv
}

package actions

import (
	"cmp"
	"context"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Terminate, Stop, Start and Reboot: one transition each, run by
// applyTransition.

type stateChangeXML struct {
	InstanceID string           `xml:"instanceId"`
	Current    instanceStateXML `xml:"currentState"`
	Previous   instanceStateXML `xml:"previousState"`
}

type stateChangesResponse struct {
	Meta
	Items []stateChangeXML `xml:"instancesSet>item"`
}

// transition describes one state-changing action.
type transition struct {
	// check refuses an instance before anything changes (all are checked first).
	check func(inst *store.Instance) error
	// act changes the machine; ok=false means there is nothing to do.
	act func(ctx context.Context, inst *store.Instance) (m backend.Machine, ok bool, err error)
	// reason is the state reason code recorded with the change ("" keeps none).
	reason string
	// noInstances answers a request naming no instance (nil: MissingParameter).
	noInstances error
}

func incorrectState(inst *store.Instance, verb string) error {
	return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is not in a state from which it can be %s (it is %s).", inst.ID, verb, inst.State)
}

// applyTransition runs t on every InstanceId.N of the caller, then
// records every change in one transaction. It returns the state changes
// in request order.
func (s *Service) applyTransition(r *Request, t transition) ([]stateChangeXML, []*store.Instance, error) {
	ids, err := instanceIDs(r.Params)
	if err != nil {
		return nil, nil, err
	}
	if len(ids) == 0 {
		return nil, nil, cmp.Or[error](t.noInstances, ec2err.Missing("InstanceId"))
	}
	insts, _, err := s.loadInstances(r, ids)
	if err != nil {
		return nil, nil, err
	}
	for _, inst := range insts {
		if err := t.check(inst); err != nil {
			return nil, nil, err
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, nil, err
	}
	byID := map[string]*store.Instance{}
	for _, inst := range insts {
		byID[inst.ID] = inst
	}
	var changes []stateChangeXML
	var changed []*store.Instance
	var machines []backend.Machine
	var actErr error
	for _, id := range dedupe(ids) {
		inst := byID[id]
		prev := inst.State
		m, ok, err := t.act(r.Context, inst)
		if err != nil {
			actErr = backendError(err, refusals{
				incorrectState: ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is not in a state that allows this (it is %s).", inst.ID, inst.State),
				capacity:       ec2err.New(ec2err.InsufficientInstanceCapacity, "There is not enough capacity to start instance '%s' now. Try again later.", inst.ID),
			}, inst)
			break
		}
		if ok && s.applyMachine(inst, m) {
			changed = append(changed, inst)
			machines = append(machines, m)
		}
		changes = append(changes, stateChangeXML{InstanceID: id, Current: stateXML(inst.State), Previous: stateXML(prev)})
	}
	if err := s.recordStates(r.Context, changed, machines, t.reason); err != nil {
		return nil, nil, err
	}
	return changes, changed, actErr
}

// recordStates records, in one transaction, the machines the backend
// returned for the changed instances, as the student's doing.
func (s *Service) recordStates(ctx context.Context, changed []*store.Instance, machines []backend.Machine, reason string) error {
	if len(changed) == 0 {
		return nil
	}
	return s.updateWired(ctx, func(tx store.Tx, w *wiring) error {
		for i, inst := range changed {
			cur, err := store.GetInstance(tx, inst.Owner, inst.ID)
			if err != nil {
				return err
			}
			if cur == nil {
				continue
			}
			if _, err := s.transition(tx, cur, move{machine: machines[i], user: true, reason: reason, wire: w}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) terminateInstances(r *Request) (any, error) {
	changes, changed, err := s.applyTransition(r, transition{
		reason:      "Client.UserInitiatedShutdown",
		noInstances: ec2err.New(ec2err.InvalidParameterCombination, "No instances specified"), // EC2's words
		check: func(inst *store.Instance) error {
			if inst.DisableAPITermination {
				return ec2err.New(ec2err.OperationNotPermitted, "The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", inst.ID)
			}
			return nil
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			switch {
			case inst.State == string(backend.Terminated):
				return backend.Machine{}, false, nil
			case inst.BackendID == "":
				// Its launch is still in flight or failed: nothing runs yet.
				return backend.Machine{State: backend.Terminated, Changed: s.now()}, true, nil
			}
			m, err := s.Backend.Terminate(ctx, inst.BackendID)
			return m, true, err
		},
	})
	if len(changed) > 0 {
		ids := make([]string, len(changed))
		for i, inst := range changed {
			ids[i] = inst.ID
		}
		if herr := s.onTerminate(r, ids); herr != nil && err == nil {
			err = herr
		}
	}
	if err != nil {
		return nil, err
	}
	return &stateChangesResponse{Items: changes}, nil
}

func (s *Service) stopInstances(r *Request) (any, error) {
	force, err := r.Params.Bool("Force", false)
	if err != nil {
		return nil, err
	}
	changes, _, err := s.applyTransition(r, transition{
		reason: "Client.UserInitiatedShutdown",
		check: func(inst *store.Instance) error {
			if err := stopProtection(inst); err != nil {
				return err
			}
			switch backend.State(inst.State) {
			case backend.Running, backend.Stopping, backend.Stopped:
				return nil
			}
			return incorrectState(inst, "stopped")
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			if inst.State != string(backend.Running) {
				return backend.Machine{}, false, nil
			}
			m, err := s.Backend.Stop(ctx, inst.BackendID, force)
			return m, true, err
		},
	})
	if err != nil {
		return nil, err
	}
	return &stateChangesResponse{Items: changes}, nil
}

func (s *Service) startInstances(r *Request) (any, error) {
	changes, _, err := s.applyTransition(r, transition{
		check: func(inst *store.Instance) error {
			switch backend.State(inst.State) {
			case backend.Pending, backend.Running, backend.Stopped:
				return nil
			}
			return incorrectState(inst, "started")
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			if inst.State != string(backend.Stopped) {
				return backend.Machine{}, false, nil
			}
			if ok, err := s.reserveStart(r, inst); !ok || err != nil {
				return backend.Machine{}, false, err
			}
			m, err := s.Backend.Start(ctx, inst.BackendID)
			if err != nil {
				s.releaseStart(inst)
			}
			return m, true, err
		},
	})
	if err != nil {
		return nil, err
	}
	return &stateChangesResponse{Items: changes}, nil
}

func (s *Service) rebootInstances(r *Request) (any, error) {
	_, _, err := s.applyTransition(r, transition{
		check: func(inst *store.Instance) error {
			if inst.State != string(backend.Running) {
				return incorrectState(inst, "rebooted")
			}
			return nil
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			return backend.Machine{}, false, s.Backend.Reboot(ctx, inst.BackendID)
		},
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// reserveStart checks the start of a stopped instance against the
// student's limits and, in the same transaction, marks it pending, so it
// counts (instances, vCPUs) before the backend starts it and no parallel
// launch or start can take its place. ok is false when the instance is no
// longer stopped (another request moved it).
func (s *Service) reserveStart(r *Request, inst *store.Instance) (ok bool, err error) {
	err = s.updateWired(r.Context, func(tx store.Tx, w *wiring) error {
		cur, err := s.reread(tx, inst)
		if ok = err == nil && cur.State == string(backend.Stopped); !ok {
			return err
		}
		l, use, err := s.limits(tx, r.User)
		if err != nil {
			return err
		}
		// The usage without this instance, which then comes back counting.
		if use.Instances[cur.State] > 0 {
			use.Instances[cur.State]--
		}
		if use.CountStopped {
			use.VCPUs -= cur.VCPUs
		}
		if err := quota.Check(l, use, quota.Delta{Instances: 1, VCPUs: cur.VCPUs}); err != nil {
			return err
		}
		_, err = s.transition(tx, cur, move{machine: backend.Machine{State: backend.Pending, Changed: s.now()}, wire: w})
		return err
	})
	return ok, err
}

// releaseStart undoes reserveStart when the backend did not start the
// instance: it is stopped again, unless something else has moved it since.
func (s *Service) releaseStart(inst *store.Instance) {
	err := s.updateWired(context.Background(), func(tx store.Tx, w *wiring) error {
		cur, err := store.GetInstance(tx, inst.Owner, inst.ID)
		if err != nil || cur == nil || cur.State != string(backend.Pending) {
			return err
		}
		_, err = s.transition(tx, cur, move{machine: backend.Machine{State: backend.Stopped, Changed: s.now()}, wire: w})
		return err
	})
	if err != nil {
		s.Log.Error().Err(err).Str("instance", inst.ID).Msg("releasing a failed start's reservation")
	}
}

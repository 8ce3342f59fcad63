package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/guard"
	"github.com/econe/econe-server/notify"
	"github.com/econe/econe-server/schedule"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// The guardrails' sweep. Each pass plans, in one transaction, every
// action now due (max running hours and its warning, a spent budget, a
// stop schedule that fired since the last pass, a term that ended) and
// records each before anything is done (package guard); then it carries
// out every recorded action not yet done: the backend call, then the
// transition and the record's completion in one transaction. A crash
// leaves either a planned action (finished by the next pass, which asks
// the backend first, so a stop already made is recorded, not repeated) or
// a finished one (never planned again: its key stays). Notifications go
// out after the commit that decides them: a crash right then loses one
// rather than repeating it.
//
// Guardrail stops and terminations carry the state reason
// Server.ScheduledStop (EC2's code for a stop the operator scheduled) and
// the transition reason "Server initiated (TIME)", so a student's
// DescribeInstances tells them apart from their own
// Client.UserInitiatedShutdown.

// guardReason is the state reason of every guardrail and stop-all change.
const guardReason = "Server.ScheduledStop"

// Guardrails runs the sweep over a Service.
type Guardrails struct {
	*Service
	// Notify is told every warning and automatic action (nil: only the
	// log line). It must not block: notify.Dispatcher.Notify does not.
	Notify func(notify.Event)
	// Observe is told the kind (guard.MaxHours, ...) of each action carried
	// out and each notice sent, e.g. to count them; nil: nobody.
	Observe func(kind string)
	// Audit records each stop or termination in the audit log, around
	// doing it (audit.Log.Record's form); nil: not audited.
	Audit AuditRecorder
}

// AuditRecorder writes a request entry, runs fn unless that failed, and
// writes fn's result entry: audit.Log.Record.
type AuditRecorder func(actor, source, action string, resources []string, fn func() (created []string, err error)) error

// guardActor is the audit log's user for the guardrails' own changes.
const guardActor = "guardrails"

// errNotYet leaves an action planned, for the next sweep.
var errNotYet = errors.New("it is still launching or booting and cannot be stopped yet")

// SweepEvery runs Sweep at once and then every interval (after is the
// clock's timer) until ctx ends. The channel is closed when it stopped.
func (g *Guardrails) SweepEvery(ctx context.Context, every time.Duration, after func(time.Duration) <-chan time.Time) <-chan struct{} {
	return g.every(ctx, every, after, "guardrail sweep", g.Sweep)
}

// every runs fn at once and then every interval until ctx ends; a failed
// pass is logged and retried at the next. Each pass (the usage
// reconciliation, the guardrails' sweep) reads every instance, so the
// store's pages it mapped in are released after it (store.ReleasePages):
// with 100,000 stored, bbolt's whole file in RSS (BENCHMARKS.md).
func (s *Service) every(ctx context.Context, every time.Duration, after func(time.Duration) <-chan time.Time, name string, fn func(context.Context) error) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				s.Log.Error().Err(err).Msg(name)
			}
			if err := store.ReleasePages(s.Store); err != nil && ctx.Err() == nil {
				s.Log.Error().Err(err).Msg(name)
			}
			select {
			case <-ctx.Done():
				return
			case <-after(every):
			}
		}
	}()
	return done
}

// Sweep is one pass: plan what is due, tell what was decided, carry out
// every planned action.
func (g *Guardrails) Sweep(ctx context.Context) error {
	notices, err := g.plan(g.now())
	if err != nil {
		return err
	}
	for _, a := range notices {
		g.tell(a, false, "")
	}
	return g.finish(ctx)
}

// running is an instance accruing a running interval, with it.
type running struct {
	inst *store.Instance
	iv   *usage.Interval
}

// plan records every action due at now and returns the notices among
// them (recorded done: there is nothing to carry out). What is due is
// worked out in a read transaction (costs scan the ledger); only the new
// records are written, each unless its key exists, so a decision made
// twice is recorded once.
func (g *Guardrails) plan(now time.Time) ([]*guard.Action, error) {
	var due []*guard.Action
	err := g.Store.View(func(tx store.Tx) error {
		due = nil
		last, ok, err := guard.LastSweep(tx)
		if err != nil {
			return err
		}
		if !ok {
			last = now // a first sweep acts on no schedule fired before it
		}
		add := func(a *guard.Action) {
			a.Planned = now
			due = append(due, a)
		}
		users, err := store.ListUsers(tx)
		if err != nil {
			return err
		}
		fired := map[string]*schedule.Firing{}
		for name := range g.Config.Groups {
			if f := g.planGroup(name, last, now, add); f != nil {
				fired[name] = f
			}
		}
		// One user's running instances at a time: all of them at once were
		// the heap's peak with 100,000 stored (BENCHMARKS.md).
		for _, u := range users {
			runs, err := runningOf(tx, u.Name)
			if err != nil {
				return err
			}
			if f := fired[u.Group]; f != nil {
				g.planScheduleStops(u, f, runs, add)
			}
			if err := g.planUser(tx, u, runs, now, add); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var notices []*guard.Action
	err = g.Store.Update(func(tx store.Tx) error {
		notices = nil
		for _, a := range due {
			if a.Op == guard.OpNotify {
				a.Done, a.Result = now, "notified"
			}
			isNew, err := guard.Plan(tx, a)
			if err != nil {
				return err
			}
			if isNew && a.Op == guard.OpNotify {
				notices = append(notices, a)
			}
		}
		return guard.SetLastSweep(tx, now)
	})
	return notices, err
}

// runningOf is the owner's instances accruing a running interval.
func runningOf(tx store.Tx, owner string) ([]running, error) {
	var runs []running
	err := store.ScanJSON(tx, store.BucketInstances, store.OwnerPrefix(owner), func(_ string, inst *store.Instance) error {
		if inst.State != string(backend.Running) && inst.State != string(backend.Pending) {
			return nil
		}
		iv, err := usage.OpenInterval(tx, inst.Owner, inst.ID)
		if err == nil && iv != nil && iv.Kind == usage.Running {
			runs = append(runs, running{inst, iv})
		}
		return err
	})
	return runs, err
}

// planGroup plans a group's term-end notice and returns the latest of its
// stop schedules that fired in (last, now], nil when none did.
func (g *Guardrails) planGroup(group string, last, now time.Time, add func(*guard.Action)) *schedule.Firing {
	if end, ok := g.Config.TermEnd(group); ok && !now.Before(end) {
		add(&guard.Action{Kind: guard.TermEnd, Group: group, Op: guard.OpNotify, Stamp: end,
			Reason: fmt.Sprintf("The term of group %s ended at %s: its students' keys are refused; their data stays for reports.", group, end.Format(time.RFC3339))})
	}
	fired := g.Config.StopSchedule(group).Fired(last, now)
	if len(fired) == 0 {
		return nil
	}
	f := fired[0]
	for _, x := range fired[1:] {
		if x.At.After(f.At) {
			f = x
		}
	}
	return &f
}

// planScheduleStops plans the stops of u's running instances that their
// group's schedule f calls for.
func (g *Guardrails) planScheduleStops(u *store.User, f *schedule.Firing, runs []running, add func(*guard.Action)) {
	for _, r := range runs {
		add(&guard.Action{Kind: guard.Schedule, Owner: u.Name, Group: u.Group, InstanceID: r.inst.ID, Op: guard.OpStop,
			Stamp: f.At, Interval: r.iv.Start,
			Reason: fmt.Sprintf("Instance %s was stopped by group %s's stop schedule %q (%s).", r.inst.ID, u.Group, f.Schedule, f.At.In(g.Config.Guardrails.Location()).Format(time.RFC3339))})
	}
}

// planUser plans a user's max-running-hours warnings and actions and
// what a spent budget calls for.
func (g *Guardrails) planUser(tx store.Tx, u *store.User, runs []running, now time.Time, add func(*guard.Action)) error {
	lim, err := g.effectiveLimits(tx, u)
	if err != nil {
		return err
	}
	if lim.MaxRunningHours != nil {
		max := time.Duration(*lim.MaxRunningHours) * time.Hour
		op := g.Config.MaxRunningHoursAction(u.Group)
		for _, r := range runs {
			a := &guard.Action{Owner: u.Name, Group: u.Group, InstanceID: r.inst.ID, Stamp: r.iv.Start, Interval: r.iv.Start}
			deadline := r.iv.Start.Add(max)
			switch guard.RunningStep(r.iv.Start, now, max, g.Config.Guardrails.WarningLeadTime.D()) {
			case guard.None:
				continue
			case guard.Warn:
				a.Kind, a.Op = guard.Warning, guard.OpNotify
				a.Reason = fmt.Sprintf("Instance %s has run since %s; at %s it reaches its limit of %d running hours and will be %s.", r.inst.ID, r.iv.Start.Format(time.RFC3339), deadline.Format(time.RFC3339), *lim.MaxRunningHours, pastTense(op))
			case guard.Act:
				a.Kind, a.Op = guard.MaxHours, op
				a.Reason = fmt.Sprintf("Instance %s was %s: it ran for its limit of %d hours (since %s).", r.inst.ID, pastTense(op), *lim.MaxRunningHours, r.iv.Start.Format(time.RFC3339))
			}
			add(a)
		}
	}
	if lim.Budget == nil {
		return nil
	}
	cost, err := usage.Spent(tx, u.Name, now)
	if err != nil || !guard.Spent(int64(cost), int64(*lim.Budget)) {
		return err
	}
	add(&guard.Action{Kind: guard.Budget, Owner: u.Name, Group: u.Group, Op: guard.OpNotify, Budget: int64(*lim.Budget),
		Reason: fmt.Sprintf("%s has spent %s of a budget of %s: new launches are refused.", u.Name, cost, *lim.Budget)})
	if !g.Config.Guardrails.StopOnBudget {
		return nil
	}
	for _, r := range runs {
		add(&guard.Action{Kind: guard.BudgetStop, Owner: u.Name, Group: u.Group, InstanceID: r.inst.ID, Op: guard.OpStop,
			Stamp: r.iv.Start, Interval: r.iv.Start,
			Reason: fmt.Sprintf("Instance %s was stopped: %s's budget of %s is spent.", r.inst.ID, u.Name, *lim.Budget)})
	}
	return nil
}

func pastTense(op string) string {
	if op == conf.ActionTerminate {
		return "terminated"
	}
	return "stopped"
}

// finish carries out every planned action not yet done. One that fails
// stays planned and is tried again at the next sweep.
func (g *Guardrails) finish(ctx context.Context) error {
	var todo []*guard.Action
	err := g.Store.View(func(tx store.Tx) (err error) {
		todo, err = guard.Unfinished(tx)
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range todo {
		if err := g.carryOut(ctx, a); err != nil && !errors.Is(err, errNotYet) {
			errs = append(errs, fmt.Errorf("guardrail %s of %s: %w", a.Kind, a.InstanceID, err))
		}
	}
	return errors.Join(errs...)
}

// carryOut stops or terminates a's instance, unless the running interval
// a was planned for has ended meanwhile (the student stopped it, another
// action did): then a is done with nothing to do.
func (g *Guardrails) carryOut(ctx context.Context, a *guard.Action) error {
	var inst *store.Instance
	stale := false
	err := g.Store.View(func(tx store.Tx) error {
		var err error
		if inst, err = store.GetInstance(tx, a.Owner, a.InstanceID); err != nil || inst == nil {
			stale = true
			return err
		}
		iv, err := usage.OpenInterval(tx, a.Owner, a.InstanceID)
		stale = iv == nil || iv.Kind != usage.Running || !iv.Start.Equal(a.Interval)
		return err
	})
	if err != nil {
		return err
	}
	if stale {
		return g.Store.Update(func(tx store.Tx) error { return guard.Finish(tx, a, g.now(), "skipped") })
	}
	// Termination protection holds against the guardrails too: a
	// protected instance is stopped, which ends its cost just the same.
	terminate := a.Op == guard.OpTerminate && !inst.DisableAPITermination
	var m backend.Machine
	err = g.audited(a, terminate, func() (err error) {
		if _, m, err = g.halt(ctx, inst, terminate); err != nil {
			return err
		}
		return g.recordHalt(inst, m, func(tx store.Tx) error { return guard.Finish(tx, a, g.now(), string(m.State)) })
	})
	if err != nil {
		return err
	}
	if terminate {
		if err := g.onTerminate(g.systemRequest(ctx, inst.Owner), []string{inst.ID}); err != nil {
			g.Log.Error().Err(err).Str("instance", inst.ID).Msg("guardrail: releasing a terminated instance's volumes and address")
		}
	}
	g.tell(a, terminate, string(m.State))
	return nil
}

// audited runs do, a's stop or termination, between its audit entries
// (action guardrail.stop or guardrail.terminate, naming the instance and
// its owner; the source is the kind of guardrail, e.g. "guardrail
// max_hours"). Unlike a student's call it is not refused when
// the audit log cannot be written: the action is already recorded in the
// store, and a forgotten instance must not keep running for a full disk.
func (g *Guardrails) audited(a *guard.Action, terminate bool, do func() error) error {
	if g.Audit == nil {
		return do()
	}
	action := "guardrail.stop"
	if terminate {
		action = "guardrail.terminate"
	}
	ran := false
	err := g.Audit(guardActor, "guardrail "+a.Kind, action, []string{a.InstanceID, a.Owner}, func() ([]string, error) {
		ran = true
		return nil, do()
	})
	if ran {
		return err
	}
	g.Log.Error().Err(err).Str("instance", a.InstanceID).Str("action", action).
		Msg("guardrail: acting without an audit entry")
	return do()
}

// tell notifies a (carried out, terminating or not, or a notice) and
// counts it.
func (g *Guardrails) tell(a *guard.Action, terminated bool, state string) {
	if g.Observe != nil {
		g.Observe(a.Kind)
	}
	if g.Notify == nil {
		return
	}
	ev := notify.Event{User: a.Owner, Group: a.Group, Reason: a.Reason, Time: g.now()}
	if a.InstanceID != "" {
		ev.InstanceIDs = []string{a.InstanceID}
	}
	switch a.Kind {
	case guard.Warning:
		ev.Kind = notify.Warning
	case guard.Budget:
		ev.Kind = notify.BudgetExhausted
	case guard.TermEnd:
		ev.Kind = notify.TermEnded
	case guard.Schedule:
		ev.Kind = notify.ScheduledStop
	default: // max hours, budget stop
		ev.Kind = notify.Stopped
		if terminated {
			ev.Kind = notify.Terminated
		}
	}
	if state != "" {
		ev.Reason += " (now " + state + ")"
	}
	g.Notify(ev)
}

// halt stops (or terminates) inst's machine as the server, and returns
// the state it found it in too. The backend is asked first, so a machine a
// crash left stopping or stopped is recorded rather than stopped twice,
// and the state found is the machine's, not the record's last sight of it.
func (s *Service) halt(ctx context.Context, inst *store.Instance, terminate bool) (found backend.State, m backend.Machine, err error) {
	if inst.BackendID == "" {
		return "", backend.Machine{}, errNotYet // its launch is in flight
	}
	ms, err := s.Backend.Describe(ctx, []string{inst.BackendID})
	if err != nil {
		return "", backend.Machine{}, err
	}
	m = ms[0]
	switch {
	case m.State == backend.Terminated || m.State == backend.ShuttingDown:
	case terminate:
		m, err = s.Backend.Terminate(ctx, inst.BackendID)
	case m.State == backend.Running:
		m, err = s.Backend.Stop(ctx, inst.BackendID, false)
	case m.State == backend.Pending:
		err = errNotYet
	}
	return ms[0].State, m, err // stopping or stopped already: m as found
}

// recordHalt records m, the machine halt returned, as the server's doing,
// and then (in the same transaction) also.
func (s *Service) recordHalt(inst *store.Instance, m backend.Machine, also func(tx store.Tx) error) error {
	return s.updateWired(context.Background(), func(tx store.Tx, w *wiring) error {
		cur, err := store.GetInstance(tx, inst.Owner, inst.ID)
		if err != nil {
			return err
		}
		if cur != nil {
			if _, err := s.transition(tx, cur, move{machine: m, user: true, server: true, reason: guardReason, wire: w}); err != nil {
				return err
			}
		}
		if also == nil {
			return nil
		}
		return also(tx)
	})
}

// systemRequest is the request the server makes on owner's behalf, for
// what a termination releases.
func (s *Service) systemRequest(ctx context.Context, owner string) *Request {
	return &Request{Context: ctx, ID: "guardrails", User: &store.User{Name: owner}, Action: "TerminateInstances", Version: DefaultVersion}
}

// StopAll is the kill switch: it stops (or terminates) every live
// instance of target at once, as the server, and reports each change.
// It can be run again: what is already stopped is left alone.
func (s *Service) StopAll(ctx context.Context, target guard.Target, terminate bool) (*guard.Report, error) {
	if err := target.Check(); err != nil {
		return nil, err
	}
	var insts []*store.Instance
	err := s.Store.View(func(tx store.Tx) error {
		insts = nil
		groups := map[string]string{}
		users, err := store.ListUsers(tx)
		if err != nil {
			return err
		}
		for _, u := range users {
			groups[u.Name] = u.Group
		}
		return store.ScanJSON(tx, store.BucketInstances, "", func(_ string, inst *store.Instance) error {
			if target.Matches(inst.Owner, groups[inst.Owner]) && halts(inst, terminate) {
				insts = append(insts, inst)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	rep := &guard.Report{Target: target, Terminate: terminate, Instances: []guard.Stopped{}}
	for _, inst := range insts {
		found, m, err := s.halt(ctx, inst, terminate)
		if errors.Is(err, errNotYet) && terminate && inst.BackendID == "" {
			found, m, err = backend.State(inst.State), backend.Machine{State: backend.Terminated, Changed: s.now()}, nil // nothing runs yet
		}
		if err == nil {
			err = s.recordHalt(inst, m, nil)
		}
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s (%s): %v", inst.ID, inst.Owner, err))
			continue
		}
		rep.Instances = append(rep.Instances, guard.Stopped{Owner: inst.Owner, InstanceID: inst.ID, Previous: string(found), Current: string(m.State)})
		if terminate {
			if err := s.onTerminate(s.systemRequest(ctx, inst.Owner), []string{inst.ID}); err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("%s (%s): terminated, but releasing its volumes and address failed: %v", inst.ID, inst.Owner, err))
			}
		}
	}
	return rep, nil
}

// halts reports whether stop-all changes inst: a stop acts on what runs
// (or boots), a termination on everything not already going away.
func halts(inst *store.Instance, terminate bool) bool {
	switch backend.State(inst.State) {
	case backend.Running, backend.Pending:
		return true
	case backend.Stopping, backend.Stopped:
		return terminate
	}
	return false
}

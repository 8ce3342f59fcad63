// Package guard holds the guardrails' decisions and their record: when an
// instance that has run too long is warned and when it is stopped, whether
// a budget is spent, and the store's record of every guardrail action.
// The sweep that acts on them lives in actions (guardrails.go), which
// alone may move an instance; guard sits below it and imports only store.
//
// Every action is written here before it is carried out, keyed by what it
// is about (KIND/OWNER/INSTANCE/STAMP, STAMP being the start of the
// running interval it ends or the schedule's firing time): a key already
// present is never planned again, and a record not yet Done is finished by
// the next sweep. So a crash mid-sweep neither repeats nor skips one.
package guard

import (
	"fmt"
	"time"

	"github.com/econe/econe-server/store"
)

// Kinds of action. They name the guardrail in the record's key and in the
// metrics hook.
const (
	Warning    = "warning"     // max running hours is near: tell the student
	MaxHours   = "max_hours"   // an instance ran for max running hours
	Budget     = "budget"      // the student's cost reached the budget (notice)
	BudgetStop = "budget_stop" // an instance of a student whose budget is spent
	Schedule   = "schedule"    // the group's stop schedule fired
	TermEnd    = "term_end"    // the group's term ended (notice)
)

// What an action does (Action.Op).
const (
	OpStop      = "stop"
	OpTerminate = "terminate"
	OpNotify    = "notify" // nothing to carry out: tell
)

const (
	sweepKey    = "sweep/last" // when the last sweep planned up to
	keySep      = "/"
	stampLayout = "20060102T150405.000000000Z"
)

// Action is one guardrail action: what it is about, what to do, and
// whether it is done.
type Action struct {
	Kind       string `json:"kind"`
	Owner      string `json:"owner,omitempty"` // "" for a group notice
	Group      string `json:"group,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
	Op         string `json:"op"`
	// Stamp tells this action from others of its kind and subject: the
	// start of the running interval it ends, the schedule's firing time or
	// the term's end.
	Stamp time.Time `json:"stamp,omitzero"`
	// Interval is the start of the running interval a stop or termination
	// ends: once that interval has closed, there is nothing left to do.
	Interval time.Time `json:"interval,omitzero"`
	// Budget (micro-units) is the budget a Budget notice is about: a
	// budget raised and spent again is told again.
	Budget int64 `json:"budget,omitempty"`
	// Reason is the sentence the notification carries.
	Reason  string    `json:"reason"`
	Planned time.Time `json:"planned"`
	// Done is when it was carried out (zero while it is not).
	Done time.Time `json:"done,omitzero"`
	// Result is what happened: the instance's state after, "skipped"
	// when there was nothing left to do.
	Result string `json:"result,omitempty"`
}

// Key is the action's key in store.BucketGuardrails.
func (a *Action) Key() string {
	subject := a.Owner + keySep + a.InstanceID
	if a.Owner == "" {
		subject = "group:" + a.Group
	}
	stamp := a.Stamp.UTC().Format(stampLayout)
	if a.Kind == Budget {
		stamp = fmt.Sprint(a.Budget)
	}
	return a.Kind + keySep + subject + keySep + stamp
}

// Plan records a as planned unless an action with its key exists; it
// reports whether a was recorded (false: planned before, maybe done).
func Plan(tx store.Tx, a *Action) (bool, error) {
	k := a.Key()
	if tx.Get(store.BucketGuardrails, k) != nil {
		return false, nil
	}
	return true, store.PutJSON(tx, store.BucketGuardrails, k, a)
}

// Finish marks a done at at with result.
func Finish(tx store.Tx, a *Action, at time.Time, result string) error {
	a.Done, a.Result = at, result
	return store.PutJSON(tx, store.BucketGuardrails, a.Key(), a)
}

// Get is the action at key; nil when none.
func Get(tx store.Tx, key string) (*Action, error) {
	a := new(Action)
	found, err := store.GetJSON(tx, store.BucketGuardrails, key, a)
	if !found {
		return nil, err
	}
	return a, err
}

// Unfinished lists the actions planned and not done, in key order.
func Unfinished(tx store.Tx) ([]*Action, error) {
	var out []*Action
	err := tx.Scan(store.BucketGuardrails, "", func(k string, raw []byte) error {
		if k == sweepKey {
			return nil
		}
		a, err := Get(tx, k)
		if err == nil && a.Done.IsZero() {
			out = append(out, a)
		}
		return err
	})
	return out, err
}

// LastSweep is the time the previous sweep planned up to; ok is false
// before the first.
func LastSweep(tx store.Tx) (t time.Time, ok bool, err error) {
	raw := tx.Get(store.BucketGuardrails, sweepKey)
	if raw == nil {
		return time.Time{}, false, nil
	}
	t, err = time.Parse(time.RFC3339Nano, string(raw))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("guard: %s: %w", sweepKey, err)
	}
	return t, true, nil
}

// SetLastSweep records the time a sweep planned up to.
func SetLastSweep(tx store.Tx, t time.Time) error {
	return tx.Put(store.BucketGuardrails, sweepKey, []byte(t.UTC().Format(time.RFC3339Nano)))
}

// Step is what an instance's running time calls for.
type Step int

const (
	None Step = iota
	Warn      // within the warning lead time of the limit
	Act       // at or past the limit
)

// RunningStep is the step for an instance running since start, at now,
// with at most max running time (0: no limit) and a warning lead before it
// (0: no warning).
func RunningStep(start, now time.Time, max, lead time.Duration) Step {
	if max <= 0 {
		return None
	}
	ran := now.Sub(start)
	switch {
	case ran >= max:
		return Act
	case lead > 0 && ran >= max-lead:
		return Warn
	}
	return None
}

// Spent reports whether a cost has reached a budget (both in micro-units).
func Spent(cost, budget int64) bool { return cost >= budget }

// Target is whose instances stop-all stops: a user's, a group's, or, with
// All, everyone's. Exactly one is set.
type Target struct {
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	All   bool   `json:"all,omitempty"`
}

// Check reports a target that names none or more than one of them.
func (t Target) Check() error {
	n := 0
	for _, set := range []bool{t.User != "", t.Group != "", t.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("name exactly one of a user (--user), a group (--group) or everyone (--all)")
	}
	return nil
}

func (t Target) String() string {
	switch {
	case t.All:
		return "everyone"
	case t.Group != "":
		return "group " + t.Group
	}
	return "user " + t.User
}

// Matches reports whether an instance of owner, in group, is the target's.
func (t Target) Matches(owner, group string) bool {
	return t.All || (t.User != "" && t.User == owner) || (t.Group != "" && t.Group == group)
}

// Stopped is one instance stop-all changed.
type Stopped struct {
	Owner      string `json:"owner"`
	InstanceID string `json:"instance_id"`
	Previous   string `json:"previous_state"`
	Current    string `json:"current_state"`
}

// Report is what stop-all did.
type Report struct {
	Target    Target    `json:"target"`
	Terminate bool      `json:"terminate"`
	Instances []Stopped `json:"instances"`
	// Errors are the instances that could not be changed, with why.
	Errors []string `json:"errors,omitempty"`
}

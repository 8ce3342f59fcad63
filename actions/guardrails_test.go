package actions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/guard"
	"github.com/econe/econe-server/notify"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
	"github.com/rs/zerolog"
)

// events records notifications.
type events struct {
	mu  sync.Mutex
	got []notify.Event
}

func (e *events) add(ev notify.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// take returns the events so far and forgets them.
func (e *events) take() []notify.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.got
	e.got = nil
	return out
}

func kinds(evs []notify.Event) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, string(ev.Kind)+":"+ev.User+ev.Group)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// newGuardEnv is an instance fixture whose users are in the store, and
// its guardrails telling ev.
func newGuardEnv(t *testing.T, cfg *conf.Config) (*testEnv, *manualClock, *Guardrails, *events) {
	t.Helper()
	e, clock, _ := newInstanceEnv(t, cfg)
	err := e.svc.Store.Update(func(tx store.Tx) error {
		for _, u := range e.users {
			u.AccessKeyID = "AKIA" + u.Name
			if err := store.PutUser(tx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	return e, clock, &Guardrails{Service: e.svc, Notify: ev.add}, ev
}

func sweep(t *testing.T, g *Guardrails) {
	t.Helper()
	if err := g.Sweep(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

func instanceRecord(t *testing.T, s *Service, owner, id string) *store.Instance {
	t.Helper()
	var inst *store.Instance
	if err := s.Store.View(func(tx store.Tx) (err error) { inst, err = store.GetInstance(tx, owner, id); return err }); err != nil || inst == nil {
		t.Fatalf("instance %s: %v", id, err)
	}
	return inst
}

// intervals is every usage interval of owner.
func intervals(t *testing.T, s *Service, owner string) []usage.Interval {
	t.Helper()
	var out []usage.Interval
	err := s.Store.View(func(tx store.Tx) error {
		return store.ScanJSON(tx, store.BucketUsageIntervals, store.OwnerPrefix(owner), func(_ string, iv *usage.Interval) error {
			out = append(out, *iv)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An instance running past max_running_hours is warned warning_lead_time
// before (once), then stopped or terminated, through a real webhook on
// loopback; the ledger's running interval ends when the stop completes.
func TestGuardrailMaxRunningHours(t *testing.T) {
	cases := []struct {
		name      string
		action    string
		launchKV  []string
		wantState string
		wantKind  notify.Kind
	}{
		{"stop", conf.ActionStop, nil, "stopped", notify.Stopped},
		{"terminate (group setting)", conf.ActionTerminate, nil, "terminated", notify.Terminated},
		{"terminate, protected: stopped", conf.ActionTerminate, []string{"DisableApiTermination", "true"}, "stopped", notify.Stopped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var posted []notify.Event
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var ev notify.Event
				if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
					t.Errorf("webhook body: %v", err)
				}
				mu.Lock()
				posted = append(posted, ev)
				mu.Unlock()
			}))
			defer hook.Close()
			cfg := conf.Default()
			cfg.Quota.MaxRunningHours = quota.Int(2)
			cfg.Groups = map[string]conf.Group{"students": {MaxRunningHoursAction: c.action}}
			e, clock, g, _ := newGuardEnv(t, cfg)
			d := notify.New(zerolog.Nop(), 10, &notify.Webhook{URL: hook.URL, Timeout: time.Second, MaxAttempts: 1, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
			g.Notify = d.Notify
			t0 := clock.Now()
			id := launch(t, e, "carol", c.launchKV...)[0]
			for _, step := range []time.Duration{time.Hour, 29 * time.Minute, time.Minute, 10 * time.Minute, 20 * time.Minute} {
				clock.Advance(step)
				sweep(t, g) // 1h, 1h29: nothing; 1h30: warning; 1h40: none again; 2h: stopped
			}
			stopAt := clock.Now()
			sweep(t, g) // done: not repeated
			clock.Advance(time.Minute)
			if got := stateOf(t, e, "carol", id); got != c.wantState {
				t.Errorf("state: got %s, want %s", got, c.wantState)
			}
			d.Close(context.Background())
			var got []string
			for _, ev := range posted {
				got = append(got, string(ev.Kind))
				if ev.User != "carol" || len(ev.InstanceIDs) != 1 || ev.InstanceIDs[0] != id {
					t.Errorf("%s event: got user %q, instances %v; want carol, [%s]", ev.Kind, ev.User, ev.InstanceIDs, id)
				}
			}
			if want := []string{string(notify.Warning), string(c.wantKind)}; !sameStrings(got, want) {
				t.Errorf("webhook got %v, want %v", got, want)
			}
			inst := instanceRecord(t, e.svc, "carol", id)
			if inst.StateReason != guardReason {
				t.Errorf("state reason: got %q, want %q", inst.StateReason, guardReason)
			}
			ivs := intervals(t, e.svc, "carol")
			wantEnd := stopAt.Add(2 * time.Second) // the sim stops (and terminates) in 2s
			if c.wantState == "terminated" {
				wantEnd = stopAt.Add(cfg.Backend.Sim.TerminateDelay.D())
			}
			if len(ivs) != 1 || !ivs[0].Start.Equal(t0) || !ivs[0].End.Equal(wantEnd) {
				t.Errorf("intervals: got %+v, want one from %s to %s", ivs, t0, wantEnd)
			}
			checkBooks(t, e.svc, "carol")
		})
	}
}

// A group's stop schedule stops every running instance of the group when
// it fires, once; others' instances and earlier firings are left alone.
func TestGuardrailScheduledStop(t *testing.T) {
	cfg := conf.Default()
	cfg.Guardrails.TimeZone = "Europe/Madrid" // 23:00 there is 22:00 UTC in November
	cfg.Groups = map[string]conf.Group{"students": {StopSchedule: []string{"daily 23:00"}}}
	e, clock, g, ev := newGuardEnv(t, cfg)
	clock.Advance(-2 * time.Hour) // 10:00 UTC
	sweep(t, g)                   // the first sweep: the previous night's firing is not acted on
	carol := launch(t, e, "carol", "MaxCount", "2")
	alice := launch(t, e, "alice")[0]
	clock.Advance(11*time.Hour + 59*time.Minute) // 21:59 UTC
	sweep(t, g)
	if got := ev.take(); len(got) != 0 {
		t.Fatalf("before 23:00: got %v, want no events", kinds(got))
	}
	clock.Advance(2 * time.Minute)
	sweep(t, g)
	clock.Advance(time.Minute)
	sweep(t, g)
	want := []string{"scheduled_stop:carolstudents", "scheduled_stop:carolstudents"}
	if got := kinds(ev.take()); !sameStrings(got, want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
	for _, id := range carol {
		if got := stateOf(t, e, "carol", id); got != "stopped" {
			t.Errorf("carol's %s: got %s, want stopped", id, got)
		}
	}
	if got := stateOf(t, e, "alice", alice); got != "running" {
		t.Errorf("alice's (no group) %s: got %s, want running", alice, got)
	}
	// Started again after the stop, it runs until the next night.
	e.mustCall(t, "carol", "StartInstances", "InstanceId.1", carol[0])
	clock.Advance(time.Hour)
	sweep(t, g)
	if got := stateOf(t, e, "carol", carol[0]); got != "running" {
		t.Errorf("restarted after the firing: got %s, want running", got)
	}
	checkBooks(t, e.svc, "carol")
}

// When a student's cost reaches their budget, budget_exhausted is told
// once; with stop_on_budget their running instances are stopped too.
func TestGuardrailBudget(t *testing.T) {
	cases := []struct {
		name       string
		stop       bool
		wantEvents []string
		wantState  string
	}{
		{"notify only", false, []string{"budget_exhausted:alice"}, "running"},
		{"stop on budget", true, []string{"budget_exhausted:alice", "stopped:alice"}, "stopped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := conf.Default()
			cfg.Guardrails.StopOnBudget = c.stop
			e, clock, g, ev := newGuardEnv(t, cfg)
			budget, _ := quota.ParseMoney("0.044") // one hour of m1.small
			if err := e.svc.Store.Update(func(tx store.Tx) error {
				return store.PutQuota(tx, store.QuotaUser, "alice", quota.Limits{Budget: &budget})
			}); err != nil {
				t.Fatal(err)
			}
			id := launch(t, e, "alice")[0]
			launch(t, e, "bob") // no budget
			clock.Advance(59 * time.Minute)
			sweep(t, g)
			if got := ev.take(); len(got) != 0 {
				t.Fatalf("within budget: got %v, want none", kinds(got))
			}
			clock.Advance(time.Minute)
			sweep(t, g)
			clock.Advance(time.Minute)
			sweep(t, g)
			if got := kinds(ev.take()); !sameStrings(got, c.wantEvents) {
				t.Errorf("events: got %v, want %v", got, c.wantEvents)
			}
			if got := stateOf(t, e, "alice", id); got != c.wantState {
				t.Errorf("state: got %s, want %s", got, c.wantState)
			}
			checkBooks(t, e.svc, "alice")
		})
	}
}

// term_ended is told once per group, when its term is over.
func TestGuardrailTermEnd(t *testing.T) {
	cfg := conf.Default()
	cfg.Groups = map[string]conf.Group{"students": {TermEnd: "2026-11-21"}, "later": {TermEnd: "2027-01-31"}}
	_, clock, g, ev := newGuardEnv(t, cfg) // 2026-11-21 12:00 UTC
	sweep(t, g)
	clock.Advance(12 * time.Hour)
	sweep(t, g)
	clock.Advance(time.Hour)
	sweep(t, g)
	if got, want := kinds(ev.take()), []string{"term_ended:students"}; !sameStrings(got, want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
}

// flaky fails Stop calls as told: "after" stops the machine and then
// reports a failure (the answer was lost: a crash right after the call),
// "before" fails without stopping. It counts the calls per machine.
type flaky struct {
	backend.Backend
	mu    sync.Mutex
	fail  map[int]string // by call number, from 1
	calls int
	stops map[string]int
}

func (f *flaky) Stop(ctx context.Context, id string, force bool) (backend.Machine, error) {
	f.mu.Lock()
	f.calls++
	mode := f.fail[f.calls]
	if mode != "before" {
		f.stops[id]++
	}
	f.mu.Unlock()
	if mode == "before" {
		return backend.Machine{}, errors.New("backend unreachable")
	}
	m, err := f.Backend.Stop(ctx, id, force)
	if mode == "after" {
		return backend.Machine{}, errors.New("connection reset")
	}
	return m, err
}

// A sweep that fails half-way (one stop made but not recorded, one not
// made) is finished by the next sweep after a restart: each machine is
// stopped exactly once and each stop told exactly once.
func TestGuardrailCrashMidSweep(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxRunningHours = quota.Int(1)
	cfg.Guardrails.WarningLeadTime = 0
	e, clock, g, ev := newGuardEnv(t, cfg)
	ids := launch(t, e, "alice", "MaxCount", "3")
	clock.Advance(time.Hour)
	f := &flaky{Backend: e.svc.Backend, fail: map[int]string{2: "after", 3: "before"}, stops: map[string]int{}}
	crashing := *e.svc
	crashing.Backend = backend.Discover(f)
	g.Service = &crashing
	if err := g.Sweep(context.Background()); err == nil {
		t.Fatal("sweep with a failing backend: got no error")
	}
	var unfinished []*guard.Action
	e.svc.Store.View(func(tx store.Tx) (err error) { unfinished, err = guard.Unfinished(tx); return err })
	if len(unfinished) != 2 {
		t.Fatalf("after the failed sweep: got %d unfinished actions, want 2", len(unfinished))
	}
	// Restart: a new backend over the same store, the failures gone.
	restarted := *e.svc
	f2 := &flaky{Backend: openTestSim(t, cfg, e.svc.Store, clock), stops: f.stops}
	restarted.Backend = backend.Discover(f2)
	g2 := &Guardrails{Service: &restarted, Notify: ev.add}
	clock.Advance(time.Minute)
	sweep(t, g2)
	sweep(t, g2)
	clock.Advance(time.Minute)
	for _, id := range ids {
		inst := instanceRecord(t, &restarted, "alice", id)
		if n := f.stops[inst.BackendID]; n != 1 {
			t.Errorf("%s: got %d stop calls that reached the machine, want 1", id, n)
		}
		if got := stateOf(t, &testEnv{svc: &restarted, users: e.users}, "alice", id); got != "stopped" {
			t.Errorf("%s: got %s, want stopped", id, got)
		}
	}
	if got := ev.take(); len(got) != 3 {
		t.Errorf("got %d notifications %v, want 3 (one stop each)", len(got), kinds(got))
	}
	checkBooks(t, &restarted, "alice")
}

// stop-all stops (or terminates) every live instance of a user, a group
// or everyone, and leaves the rest alone.
func TestStopAll(t *testing.T) {
	cases := []struct {
		name      string
		target    guard.Target
		terminate bool
		want      map[string]string // owner -> state after
	}{
		{"user", guard.Target{User: "alice"}, false, map[string]string{"alice": "stopped", "bob": "running", "carol": "running"}},
		{"group", guard.Target{Group: "students"}, false, map[string]string{"alice": "running", "bob": "running", "carol": "stopped"}},
		{"user, terminate", guard.Target{User: "bob"}, true, map[string]string{"alice": "running", "bob": "terminated", "carol": "running"}},
		{"everyone", guard.Target{All: true}, false, map[string]string{"alice": "stopped", "bob": "stopped", "carol": "stopped"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, clock, _, _ := newGuardEnv(t, nil)
			ids := map[string]string{}
			for _, u := range []string{"alice", "bob", "carol"} {
				ids[u] = launch(t, e, u)[0]
			}
			clock.Advance(time.Minute)
			rep, err := e.svc.StopAll(context.Background(), c.target, c.terminate)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			n := 0
			for u, want := range c.want {
				if got := stateOf(t, e, u, ids[u]); got != want {
					t.Errorf("%s's instance: got %s, want %s", u, got, want)
				}
				if want != "running" {
					n++
				}
			}
			if len(rep.Instances) != n || len(rep.Errors) != 0 {
				t.Errorf("report: got %+v, want %d instances and no errors", rep, n)
			}
			again, err := e.svc.StopAll(context.Background(), c.target, c.terminate)
			if err != nil || len(again.Instances) != 0 {
				t.Errorf("again: got %+v, %v; want nothing to do", again, err)
			}
		})
	}
	e, _, _, _ := newGuardEnv(t, nil)
	for _, bad := range []guard.Target{{}, {User: "alice", Group: "students"}, {User: "alice", All: true}} {
		if _, err := e.svc.StopAll(context.Background(), bad, false); err == nil {
			t.Errorf("target %+v: got no error, want one", bad)
		}
	}
}

// releasingStore counts ReleasePages.
type releasingStore struct {
	store.Store
	released atomic.Int64
}

func (r *releasingStore) ReleasePages() error {
	r.released.Add(1)
	return nil
}

// Each background pass reads every instance; the store's pages it mapped
// in are released after it, before the loop waits for the next.
func TestBackgroundPassesReleasePages(t *testing.T) {
	e, _, g, _ := newGuardEnv(t, nil)
	launch(t, e, "alice")
	rs := &releasingStore{Store: e.svc.Store}
	e.svc.Store = rs
	for _, c := range []struct {
		name  string
		start func(context.Context, time.Duration, func(time.Duration) <-chan time.Time) <-chan struct{}
	}{
		{"usage reconciliation", e.svc.ReconcileUsageEvery},
		{"guardrail sweep", g.SweepEvery},
	} {
		before := rs.released.Load()
		ctx, cancel := context.WithCancel(context.Background())
		var atWait int64
		<-c.start(ctx, time.Minute, func(time.Duration) <-chan time.Time {
			atWait = rs.released.Load() - before
			cancel()
			return nil
		})
		if atWait != 1 {
			t.Errorf("%s: got %d releases when the first pass ended, want 1", c.name, atWait)
		}
	}
}

// Package backendtest is the conformance suite every backend must pass:
// call Run from the backend's own test with a constructor. The suite
// drives the clock, so the constructor must make the backend use it, and
// it reopens backends on the same store to check restart survival.
package backendtest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// Settle is the longest transitional delay the backend under test uses:
// after the suite advances the clock by Settle, every transition is done.
const Settle = time.Hour

// NewBackend builds the backend under test on st, reading time from clock.
type NewBackend func(t *testing.T, st store.Store, clock func() time.Time) backend.Backend

// Clock is a manual clock the suite advances; other packages' tests use
// it too, so that tests move time instead of sleeping.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	st    store.Store
	clock *Clock
	newB  NewBackend
	b     backend.Backend
	ctx   context.Context
}

func setup(t *testing.T, newB NewBackend) *env {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "suite.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, clock: &Clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, newB: newB, ctx: context.Background()}
	e.b = newB(t, st, e.clock.Now)
	t.Cleanup(func() { e.b.Close() })
	return e
}

func (e *env) run(id string) backend.Machine {
	e.t.Helper()
	m, err := e.b.Run(e.ctx, launchContext(id))
	if err != nil {
		e.t.Fatalf("Run(%s): %v", id, err)
	}
	if m.ID == "" {
		e.t.Fatalf("Run(%s) returned a machine without an id", id)
	}
	return m
}

func launchContext(id string) *backend.LaunchContext {
	return &backend.LaunchContext{
		InstanceID:   id,
		Owner:        "suite",
		InstanceType: backend.InstanceType{Name: "t3.micro", VCPUs: 2, MemoryMiB: 1024, Architecture: "x86_64"},
		Image:        backend.Image{ID: "ami-12c6146b", Name: "suite", Architecture: "x86_64", RootDeviceName: "/dev/xvda", RootSizeGiB: 8},
		Zone:         "us-east-1a",
		UserData:     []byte("#!/bin/sh\necho suite\n"),
		Tags:         map[string]string{"Name": "suite"},
	}
}

func (e *env) state(id string) backend.State {
	e.t.Helper()
	ms, err := e.b.Describe(e.ctx, []string{id})
	if err != nil {
		e.t.Fatalf("Describe(%s): %v", id, err)
	}
	if len(ms) != 1 || ms[0].ID != id {
		e.t.Fatalf("Describe(%s) = %+v, want one machine with that id", id, ms)
	}
	return ms[0].State
}

func (e *env) wantState(id string, want backend.State) {
	e.t.Helper()
	if got := e.state(id); got != want {
		e.t.Fatalf("state of %s = %s, want %s", id, got, want)
	}
}

// settle lets every transition finish.
func (e *env) settle() { e.clock.Advance(Settle) }

// stop stops a running machine and lets it settle.
func (e *env) stop(id string) {
	e.t.Helper()
	if _, err := e.b.Stop(e.ctx, id, false); err != nil {
		e.t.Fatal(err)
	}
	e.settle()
}

// reopen closes the backend and builds a new one on the same store.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.b.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.b = e.newB(e.t, e.st, e.clock.Now)
}

// Run runs the whole suite.
func Run(t *testing.T, newB NewBackend) {
	tests := []struct {
		name string
		fn   func(e *env)
	}{
		{"lifecycle", testLifecycle},
		{"wrong states", testWrongStates},
		{"terminate is idempotent", testTerminateIdempotent},
		{"unknown ids", testUnknownIDs},
		{"restart survival", testRestart},
		{"distinct addresses", testDistinctAddresses},
		{"console output", testConsole},
		{"concurrent runs", testConcurrent},
		{"launch in a transaction", testRunInTx},
		{"key pairs", testKeyPairs},
		{"security groups", testSecurityGroups},
		{"instance settings", testInstanceSettings},
		{"images", testImages},
		{"settled states", testSettledStates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(setup(t, newB)) })
	}
}

func testLifecycle(e *env) {
	m := e.run("i-0000000000000a001")
	if m.State != backend.Pending && m.State != backend.Running {
		e.t.Fatalf("Run state = %s, want pending (or running)", m.State)
	}
	e.settle()
	e.wantState(m.ID, backend.Running)
	steps := []struct {
		name    string
		op      func() (backend.Machine, error)
		now     []backend.State // acceptable state right after the call
		settled backend.State
	}{
		{"stop", func() (backend.Machine, error) { return e.b.Stop(e.ctx, m.ID, false) }, []backend.State{backend.Stopping, backend.Stopped}, backend.Stopped},
		{"start", func() (backend.Machine, error) { return e.b.Start(e.ctx, m.ID) }, []backend.State{backend.Pending, backend.Running}, backend.Running},
		{"reboot", func() (backend.Machine, error) {
			return backend.Machine{State: backend.Running}, e.b.Reboot(e.ctx, m.ID)
		}, []backend.State{backend.Running}, backend.Running},
		{"force stop", func() (backend.Machine, error) { return e.b.Stop(e.ctx, m.ID, true) }, []backend.State{backend.Stopping, backend.Stopped}, backend.Stopped},
		{"terminate stopped", func() (backend.Machine, error) { return e.b.Terminate(e.ctx, m.ID) }, []backend.State{backend.ShuttingDown, backend.Terminated}, backend.Terminated},
	}
	for _, s := range steps {
		got, err := s.op()
		if err != nil {
			e.t.Fatalf("%s: %v", s.name, err)
		}
		if !stateIn(got.State, s.now) {
			e.t.Fatalf("%s: got state %s, want one of %v", s.name, got.State, s.now)
		}
		e.settle()
		e.wantState(m.ID, s.settled)
	}
}

func stateIn(s backend.State, list []backend.State) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func testWrongStates(e *env) {
	m := e.run("i-0000000000000a002")
	e.settle()
	if _, err := e.b.Start(e.ctx, m.ID); !errors.Is(err, backend.ErrIncorrectState) {
		e.t.Errorf("start running: got %v, want ErrIncorrectState", err)
	}
	e.stop(m.ID)
	stopped := []struct {
		name string
		op   func() error
	}{
		{"stop stopped", func() error { _, err := e.b.Stop(e.ctx, m.ID, false); return err }},
		{"reboot stopped", func() error { return e.b.Reboot(e.ctx, m.ID) }},
	}
	for _, c := range stopped {
		if err := c.op(); !errors.Is(err, backend.ErrIncorrectState) {
			e.t.Errorf("%s: got %v, want ErrIncorrectState", c.name, err)
		}
	}
	if _, err := e.b.Terminate(e.ctx, m.ID); err != nil {
		e.t.Fatal(err)
	}
	e.settle()
	if _, err := e.b.Start(e.ctx, m.ID); !errors.Is(err, backend.ErrIncorrectState) {
		e.t.Errorf("start terminated: got %v, want ErrIncorrectState", err)
	}
}

func testTerminateIdempotent(e *env) {
	m := e.run("i-0000000000000a003")
	for i := range 3 {
		got, err := e.b.Terminate(e.ctx, m.ID)
		if err != nil {
			e.t.Fatalf("terminate #%d: %v", i+1, err)
		}
		if got.State != backend.ShuttingDown && got.State != backend.Terminated {
			e.t.Fatalf("terminate #%d: got %s, want shutting-down or terminated", i+1, got.State)
		}
	}
	e.settle()
	got, err := e.b.Terminate(e.ctx, m.ID)
	if err != nil || got.State != backend.Terminated {
		e.t.Fatalf("terminate after settle: got %s, %v, want terminated, nil", got.State, err)
	}
	e.wantState(m.ID, backend.Terminated)
}

func testUnknownIDs(e *env) {
	const ghost = "no-such-machine"
	e.wantState(ghost, backend.Terminated)
	ops := []struct {
		name string
		op   func() error
	}{
		{"stop", func() error { _, err := e.b.Stop(e.ctx, ghost, false); return err }},
		{"start", func() error { _, err := e.b.Start(e.ctx, ghost); return err }},
		{"reboot", func() error { return e.b.Reboot(e.ctx, ghost) }},
		{"console", func() error { _, err := e.b.ConsoleOutput(e.ctx, ghost); return err }},
	}
	for _, o := range ops {
		if err := o.op(); !errors.Is(err, backend.ErrNotFound) {
			e.t.Errorf("%s unknown id: got %v, want ErrNotFound", o.name, err)
		}
	}
	if got, err := e.b.Terminate(e.ctx, ghost); err != nil || got.State != backend.Terminated {
		e.t.Errorf("terminate unknown id: got %s, %v, want terminated, nil", got.State, err)
	}
}

func testRestart(e *env) {
	pending := e.run("i-0000000000000a004")
	stopped := e.run("i-0000000000000a005")
	e.settle()
	e.stop(stopped.ID)
	booting := e.run("i-0000000000000a006")
	e.reopen()
	e.wantState(pending.ID, backend.Running)
	e.wantState(stopped.ID, backend.Stopped)
	e.settle()
	e.wantState(booting.ID, backend.Running)
	if f, ok := e.b.(backend.LaunchFinder); ok {
		got, found, err := f.FindLaunch(e.ctx, "i-0000000000000a006")
		if err != nil || !found || got.ID != booting.ID {
			e.t.Errorf("FindLaunch after restart = %+v, %v, %v, want %s", got, found, err, booting.ID)
		}
	}
}

func testDistinctAddresses(e *env) {
	seen := map[string]string{}
	for _, id := range []string{"i-0000000000000b001", "i-0000000000000b002", "i-0000000000000b003"} {
		m := e.run(id)
		if m.PrivateIP == "" {
			continue // a backend may assign addresses only once running
		}
		if other, dup := seen[m.PrivateIP]; dup {
			e.t.Errorf("%s and %s share address %s", other, m.ID, m.PrivateIP)
		}
		seen[m.PrivateIP] = m.ID
	}
}

func testConsole(e *env) {
	m := e.run("i-0000000000000c001")
	e.settle()
	out, err := e.b.ConsoleOutput(e.ctx, m.ID)
	if err != nil {
		e.t.Fatalf("ConsoleOutput: %v", err)
	}
	if out == "" {
		e.t.Errorf("console output of a running machine is empty")
	}
}

func testConcurrent(e *env) {
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lc := &backend.LaunchContext{InstanceID: fmt.Sprintf("i-%017x", 0xd00+i), Zone: "us-east-1a",
				InstanceType: backend.InstanceType{Name: "t3.micro", VCPUs: 2, MemoryMiB: 1024}}
			m, err := e.b.Run(e.ctx, lc)
			if err != nil {
				errs <- err
				return
			}
			ids[i] = m.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatalf("concurrent Run: %v", err)
	}
	e.settle()
	ms, err := e.b.Describe(e.ctx, ids)
	if err != nil {
		e.t.Fatal(err)
	}
	for i, m := range ms {
		if m.State != backend.Running || m.ID != ids[i] {
			e.t.Errorf("machine %d: got %s %s, want %s running", i, m.ID, m.State, ids[i])
		}
	}
}

// testRunInTx checks the optional TxLauncher ability: the machine commits
// with the caller's transaction, a retried transaction gets a machine of
// the same id, and a rolled-back one leaves nothing behind a restart.
func testRunInTx(e *env) {
	tl, ok := e.b.(backend.TxLauncher)
	if !ok {
		e.t.Skip("backend does not launch in transactions")
	}
	// A retried transaction is rolled back and run again: its machine has
	// the same id. One never retried leaves nothing behind.
	rollback := errors.New("roll back")
	launchIn := func(id string, commit bool) (m backend.Machine) {
		err := e.st.Update(func(tx store.Tx) error {
			var err error
			if m, err = tl.RunInTx(tx, launchContext(id)); err != nil || commit {
				return err
			}
			return rollback
		})
		if commit && err != nil || !commit && !errors.Is(err, rollback) {
			e.t.Fatalf("launch of %s (commit %v): got %v", id, commit, err)
		}
		return m
	}
	tried := launchIn("i-0000000000000d001", false)
	first := launchIn("i-0000000000000d001", true)
	if first.ID == "" || first.ID != tried.ID {
		e.t.Fatalf("RunInTx again for one instance: got %+v then %+v, want a machine of the same id", tried, first)
	}
	rolledBack := launchIn("i-0000000000000d002", false)
	e.wantState(first.ID, backend.Pending)
	e.reopen()
	e.settle()
	e.wantState(first.ID, backend.Running)
	e.wantState(rolledBack.ID, backend.Terminated)
}

package backendtest

import (
	"errors"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// The optional abilities' parts of the suite; Run includes them, and each
// skips for a backend that lacks its ability (which is allowed).

const (
	suiteGroup = "sg-0123456789abcdef0"
	suiteKey   = "key-0123456789abcdef0"
)

// testKeyPairs: imports and deletes are idempotent, as econe-server
// repeats them after a crash.
func testKeyPairs(e *env) {
	kb := backend.Discover(e.b).KeyPairs
	if kb == nil {
		e.t.Skip("backend has no KeyPairs ability")
	}
	spec := backend.KeySpec{KeyID: suiteKey, Owner: "suite", Name: "suite",
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEOPg2GZK1Nq0VkEhoNyGx6qjFhmGMq4i2sKHKjXx3oE suite"}
	steps := []struct {
		name string
		call func() error
	}{
		{"import", func() error { return kb.ImportKey(e.ctx, spec) }},
		{"import again", func() error { return kb.ImportKey(e.ctx, spec) }},
		{"delete", func() error { return kb.DeleteKey(e.ctx, suiteKey) }},
		{"delete again", func() error { return kb.DeleteKey(e.ctx, suiteKey) }},
		{"delete an unknown key", func() error { return kb.DeleteKey(e.ctx, "key-0000000000000000f") }},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			e.t.Fatalf("%s: %v", s.name, err)
		}
	}
}

// testSecurityGroups: every call is idempotent, and rules may name
// another group by econe-server's id.
func testSecurityGroups(e *env) {
	gb := backend.Discover(e.b).SecurityGroups
	if gb == nil {
		e.t.Skip("backend has no SecurityGroups ability")
	}
	const peer = "sg-0123456789abcdef1"
	ssh := []backend.Rule{{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"}}
	fromPeer := []backend.Rule{{Protocol: "-1", FromPort: 0, ToPort: 0, GroupID: peer}}
	spec := backend.GroupSpec{GroupID: suiteGroup, Owner: "suite", Name: "web", Description: "suite"}
	steps := []struct {
		name string
		call func() error
	}{
		{"create", func() error { return gb.CreateGroup(e.ctx, spec) }},
		{"create again", func() error { return gb.CreateGroup(e.ctx, spec) }},
		{"create the peer", func() error {
			return gb.CreateGroup(e.ctx, backend.GroupSpec{GroupID: peer, Owner: "suite", Name: "db", Description: "suite"})
		}},
		{"authorize", func() error { return gb.Authorize(e.ctx, suiteGroup, ssh) }},
		{"authorize again", func() error { return gb.Authorize(e.ctx, suiteGroup, ssh) }},
		{"authorize a group peer", func() error { return gb.Authorize(e.ctx, suiteGroup, fromPeer) }},
		{"revoke", func() error { return gb.Revoke(e.ctx, suiteGroup, ssh) }},
		{"revoke again", func() error { return gb.Revoke(e.ctx, suiteGroup, ssh) }},
		{"revoke the group peer", func() error { return gb.Revoke(e.ctx, suiteGroup, fromPeer) }},
		{"delete", func() error { return gb.DeleteGroup(e.ctx, suiteGroup) }},
		{"delete again", func() error { return gb.DeleteGroup(e.ctx, suiteGroup) }},
		{"delete the peer", func() error { return gb.DeleteGroup(e.ctx, peer) }},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			e.t.Fatalf("%s: %v", s.name, err)
		}
	}
}

// testInstanceSettings: the whole set of settings is applied again and
// again (idempotent), to a running or a stopped machine; an unknown
// machine is ErrNotFound.
func testInstanceSettings(e *env) {
	sb := backend.Discover(e.b).Settings
	if sb == nil {
		e.t.Skip("backend has no InstanceSettings ability")
	}
	m := e.run("i-0000000000000c0de")
	e.settle()
	set := backend.MachineSettings{Options: store.InstanceOptions{EbsOptimized: true, Monitoring: true,
		Metadata: store.MetadataOptions{HTTPTokens: "required", HopLimit: 2}}}
	for _, step := range []string{"running", "running again"} {
		if err := sb.ApplySettings(e.ctx, m.ID, set); err != nil {
			e.t.Fatalf("%s: %v", step, err)
		}
	}
	e.stop(m.ID)
	set.Options.Monitoring = false
	if err := sb.ApplySettings(e.ctx, m.ID, set); err != nil {
		e.t.Fatalf("stopped: %v", err)
	}
	if err := sb.ApplySettings(e.ctx, "no-such-machine", set); !errors.Is(err, backend.ErrNotFound) {
		e.t.Errorf("unknown machine: got %v, want ErrNotFound", err)
	}
}

// testImages: an image of a running or stopped machine leaves it in its
// state once settled (a reboot keeps it running); a snapshot copy is
// done no sooner than asked; deregistering is idempotent; a machine it
// does not know is ErrNotFound.
func testImages(e *env) {
	ib := backend.Discover(e.b).Images
	if ib == nil {
		e.t.Skip("backend has no Images ability")
	}
	m := e.run("i-0000000000000d001")
	e.settle()
	for _, noReboot := range []bool{false, true} {
		before := e.clock.Now()
		done, err := ib.CreateImage(e.ctx, "ami-0123456789abcdef0", m.ID, noReboot)
		if err != nil {
			e.t.Fatalf("CreateImage (noReboot %t): %v", noReboot, err)
		}
		if done.Before(before) {
			e.t.Errorf("CreateImage (noReboot %t): done at %v, before it was asked (%v)", noReboot, done, before)
		}
		e.settle()
		e.wantState(m.ID, backend.Running)
	}
	e.stop(m.ID)
	if _, err := ib.CreateImage(e.ctx, "ami-0123456789abcdef1", m.ID, false); err != nil {
		e.t.Errorf("CreateImage of a stopped machine: %v", err)
	}
	e.wantState(m.ID, backend.Stopped)
	if _, err := ib.CreateImage(e.ctx, "ami-0123456789abcdef2", "unknown-machine", true); !errors.Is(err, backend.ErrNotFound) {
		e.t.Errorf("CreateImage of an unknown machine: got %v, want ErrNotFound", err)
	}
	before := e.clock.Now()
	if done, err := ib.CopySnapshot(e.ctx, "snap-0123456789abcdef1", "snap-0123456789abcdef0"); err != nil || done.Before(before) {
		e.t.Errorf("CopySnapshot: got done at %v and %v, want no error and a time from %v on", done, err, before)
	}
	for _, name := range []string{"deregister", "deregister again", "deregister an unknown image"} {
		id := "ami-0123456789abcdef0"
		if name == "deregister an unknown image" {
			id = "ami-000000000000000ff"
		}
		if err := ib.DeregisterImage(e.ctx, id); err != nil {
			e.t.Errorf("%s: %v", name, err)
		}
	}
}

// testSettledStates: a state the backend calls settled stays however long
// no call moves the machine, and a state a machine left by itself (a
// boot, a shutdown) is not called settled.
func testSettledStates(e *env) {
	sb := backend.Discover(e.b).Settled
	if sb == nil {
		e.t.Skip("backend has no SettledStates ability")
	}
	m := e.run("i-0000000000000a0c1")
	steps := []struct {
		name string
		call func() (backend.Machine, error)
	}{
		{"run", func() (backend.Machine, error) { return m, nil }},
		{"stop", func() (backend.Machine, error) { return e.b.Stop(e.ctx, m.ID, false) }},
		{"start", func() (backend.Machine, error) { return e.b.Start(e.ctx, m.ID) }},
		{"terminate", func() (backend.Machine, error) { return e.b.Terminate(e.ctx, m.ID) }},
	}
	for _, s := range steps {
		entered, err := s.call()
		if err != nil {
			e.t.Fatalf("%s: %v", s.name, err)
		}
		e.settle()
		now := e.state(m.ID)
		if now != entered.State && sb.Settled(entered.State) {
			e.t.Errorf("%s: the machine left %s by itself (now %s), but %s is called settled", s.name, entered.State, now, entered.State)
		}
		e.clock.Advance(10 * Settle)
		if later := e.state(m.ID); later != now && sb.Settled(now) {
			e.t.Errorf("%s: the machine left %s by itself (later %s), but %s is called settled", s.name, now, later, now)
		}
	}
}

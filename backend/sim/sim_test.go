package sim_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/backend/sim"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

func newSim(t *testing.T, st store.Store, clock func() time.Time) backend.Backend {
	t.Helper()
	return newSimWith(t, conf.Default(), st, clock)
}

func newSimWith(t *testing.T, cfg *conf.Config, st store.Store, clock func() time.Time) backend.Backend {
	t.Helper()
	b, err := sim.New(backend.Deps{Config: cfg, Store: store.NewSpace(st, "sim"), Clock: clock, Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	return b
}

// openStore is a fresh store, closed when the test ends.
func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenBolt(t.TempDir()+"/sim.db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) { backendtest.Run(t, newSim) }

func TestVolumeConformance(t *testing.T) { backendtest.RunVolumes(t, newSim) }

// TestTimedTransitions checks the configured delays, to the second.
func TestTimedTransitions(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	b := newSim(t, st, clock.Now) // defaults: boot 3s, stop 2s, terminate 2s
	ctx := context.Background()
	m, err := b.Run(ctx, &backend.LaunchContext{InstanceID: "i-0123456789abcdef0", InstanceType: backend.InstanceType{Name: "t3.micro"}, Zone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	state := func() backend.State {
		ms, _ := b.Describe(ctx, []string{m.ID})
		return ms[0].State
	}
	steps := []struct {
		name    string
		advance time.Duration
		op      func()
		want    backend.State
	}{
		{"just launched", 0, nil, backend.Pending},
		{"boot not done", 2999 * time.Millisecond, nil, backend.Pending},
		{"booted", time.Millisecond, nil, backend.Running},
		{"stop requested", 0, func() { b.Stop(ctx, m.ID, false) }, backend.Stopping},
		{"stopped", 2 * time.Second, nil, backend.Stopped},
		{"terminate requested", 0, func() { b.Terminate(ctx, m.ID) }, backend.ShuttingDown},
		{"terminated", 2 * time.Second, nil, backend.Terminated},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		if s.op != nil {
			s.op()
		}
		if got := state(); got != s.want {
			t.Fatalf("%s: got %s, want %s", s.name, got, s.want)
		}
	}
}

// With no delays, each call's answer still shows the state it entered, as
// EC2's answers do, and the next read sees the transition over.
func TestZeroDelaysAnswerTheStateEntered(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	cfg := conf.Default()
	cfg.Backend.Sim.BootDelay, cfg.Backend.Sim.StopDelay, cfg.Backend.Sim.TerminateDelay = conf.Duration(0), conf.Duration(0), conf.Duration(0)
	b := newSimWith(t, cfg, st, clock.Now)
	ctx := context.Background()
	var id string
	steps := []struct {
		name         string
		op           func() (backend.Machine, error)
		answer, read backend.State
	}{
		{"run", func() (backend.Machine, error) {
			return b.Run(ctx, &backend.LaunchContext{InstanceID: "i-0123456789abcdef2", InstanceType: backend.InstanceType{Name: "t3.micro"}, Zone: "us-east-1a"})
		}, backend.Pending, backend.Running},
		{"stop", func() (backend.Machine, error) { return b.Stop(ctx, id, false) }, backend.Stopping, backend.Stopped},
		{"start", func() (backend.Machine, error) { return b.Start(ctx, id) }, backend.Pending, backend.Running},
		{"terminate", func() (backend.Machine, error) { return b.Terminate(ctx, id) }, backend.ShuttingDown, backend.Terminated},
	}
	for _, s := range steps {
		m, err := s.op()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		id = m.ID
		if m.State != s.answer {
			t.Errorf("%s answered %s, want %s", s.name, m.State, s.answer)
		}
		ms, err := b.Describe(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		if ms[0].State != s.read {
			t.Errorf("after %s: read %s, want %s", s.name, ms[0].State, s.read)
		}
	}
}

func TestAddressesAndConsole(t *testing.T) {
	st := openStore(t)
	b := newSim(t, st, time.Now)
	ctx := context.Background()
	m, err := b.Run(ctx, &backend.LaunchContext{InstanceID: "i-0123456789abcdef1", InstanceType: backend.InstanceType{Name: "m1.small"}, Zone: "us-east-1b"})
	if err != nil {
		t.Fatal(err)
	}
	if !hostOf(m.PrivateIP, "10.77.0.0/16") {
		t.Errorf("first address: got %s, want a host address of 10.77.0.0/16", m.PrivateIP)
	}
	if got, want := m.PrivateDNSName, "ip-"+strings.ReplaceAll(m.PrivateIP, ".", "-")+".ec2.internal"; got != want {
		t.Errorf("private DNS name: got %s, want %s", got, want)
	}
	out, err := b.ConsoleOutput(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"i-0123456789abcdef1", "m1.small"} {
		if !strings.Contains(out, want) {
			t.Errorf("console output does not mention %s:\n%s", want, out)
		}
	}
}

// A full address range fails launches with ErrCapacity, and frees up as
// soon as a terminated machine's address is free again, however the
// "full" finding is remembered between launches.
func TestAddressRangeFull(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	cfg := conf.Default()
	cfg.Backend.Sim.CIDR = "10.9.0.0/29" // .4, .5 and .6: the first four are reserved, .7 is broadcast
	b := newSimWith(t, cfg, st, clock.Now)
	ctx := context.Background()
	n := 0
	launch := func() (backend.Machine, error) {
		n++
		return b.Run(ctx, &backend.LaunchContext{InstanceID: fmt.Sprintf("i-%017x", n), InstanceType: backend.InstanceType{Name: "t3.micro"}, Zone: "us-east-1a"})
	}
	var first backend.Machine
	for i := range 3 {
		m, err := launch()
		if err != nil {
			t.Fatalf("launch %d of 3: %v", i+1, err)
		}
		if i == 0 {
			first = m
		}
	}
	for i := range 2 {
		if _, err := launch(); !errors.Is(err, backend.ErrCapacity) {
			t.Fatalf("launch into a full range, try %d: got %v, want ErrCapacity", i+1, err)
		}
	}
	if _, err := b.Terminate(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := launch(); !errors.Is(err, backend.ErrCapacity) {
		t.Fatalf("while the machine shuts down: got %v, want ErrCapacity", err)
	}
	clock.Advance(2 * time.Second) // the default terminate delay
	m, err := launch()
	if err != nil {
		t.Fatalf("once the machine is terminated: got %v, want a launch", err)
	}
	if m.PrivateIP != first.PrivateIP {
		t.Errorf("got address %s, want the freed %s", m.PrivateIP, first.PrivateIP)
	}
	if _, err := launch(); !errors.Is(err, backend.ErrCapacity) {
		t.Fatalf("full again: got %v, want ErrCapacity", err)
	}
}

// TestReplicasShareMachines: two sims over one store, as two replicas
// are, both opened before anything is launched. Each sees the machines
// the other launched and changed, and never hands out an address the
// other holds.
func TestReplicasShareMachines(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	a, b := newSim(t, st, clock.Now), newSim(t, st, clock.Now)
	ctx := context.Background()
	launch := func(be backend.Backend, id string) backend.Machine {
		m, err := be.Run(ctx, &backend.LaunchContext{InstanceID: id, InstanceType: backend.InstanceType{Name: "t3.micro"}, Zone: "us-east-1a"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	onA := launch(a, "i-0000000000000a001")
	clock.Advance(3 * time.Second) // the default boot delay
	state := func(be backend.Backend) backend.State {
		ms, err := be.Describe(ctx, []string{onA.ID})
		if err != nil {
			t.Fatal(err)
		}
		return ms[0].State
	}
	if got := state(b); got != backend.Running {
		t.Fatalf("A's machine described through B: got %s, want running", got)
	}
	if found, ok, err := b.(backend.LaunchFinder).FindLaunch(ctx, "i-0000000000000a001"); err != nil || !ok || found.ID != onA.ID {
		t.Errorf("FindLaunch through B: got %+v, %v, %v, want %s", found, ok, err, onA.ID)
	}
	if again := launch(b, "i-0000000000000a001"); again.ID != onA.ID || again.PrivateIP != onA.PrivateIP {
		t.Errorf("launch of the same instance through B: got %s at %s, want %s at %s", again.ID, again.PrivateIP, onA.ID, onA.PrivateIP)
	}
	if onB := launch(b, "i-0000000000000b001"); onB.PrivateIP == onA.PrivateIP {
		t.Errorf("B's machine got A's live address %s", onA.PrivateIP)
	}
	if _, err := b.Terminate(ctx, onA.ID); err != nil {
		t.Fatal(err)
	}
	if got := state(a); got != backend.ShuttingDown {
		t.Errorf("after B terminated it, through A: got %s, want shutting-down", got)
	}
}

// TestOlderLayoutIsMoved: machines stored by an older version, keyed by
// launch time with no address records, are found by id after start-up,
// and their addresses are not handed out again.
func TestOlderLayoutIsMoved(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	old := `{"id":"sim-0000000000000c001","instance_id":"i-0000000000000c001","instance_type":"t3.micro","zone":"us-east-1a",` +
		`"state":"running","changed":"2024-01-01T00:00:00Z","private_ip":"10.77.0.4","launched":"2024-01-01T00:00:00Z","boots":1}`
	err := store.NewSpace(st, "sim").Update(func(tx store.SpaceTx) error {
		return tx.Put("machine/20240101T000000.000000000/sim-0000000000000c001", []byte(old))
	})
	if err != nil {
		t.Fatal(err)
	}
	b := newSim(t, st, clock.Now)
	ctx := context.Background()
	ms, err := b.Describe(ctx, []string{"sim-0000000000000c001"})
	if err != nil || ms[0].State != backend.Running {
		t.Fatalf("older machine after start-up: got %+v, %v, want running", ms, err)
	}
	m, err := b.Run(ctx, &backend.LaunchContext{InstanceID: "i-0000000000000c002", InstanceType: backend.InstanceType{Name: "t3.micro"}, Zone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	if m.PrivateIP == "10.77.0.4" {
		t.Errorf("new machine got the older machine's address %s", m.PrivateIP)
	}
}

// hostOf reports whether ip is an address that cidr hands out: neither its
// first four (reserved) nor its last.
func hostOf(ip, cidr string) bool {
	a, err := netip.ParseAddr(ip)
	p := netip.MustParsePrefix(cidr)
	last := p.Addr()
	for range 1<<(32-p.Bits()) - 1 {
		last = last.Next()
	}
	return err == nil && p.Contains(a) && p.Addr().Next().Next().Next().Less(a) && a != last
}

// Launches at once take their addresses from a random host of the range
// on, not from one "next address": launches in two replicas do not
// contend for the same one. Here each launch is a replica's first (a new
// sim on the store) and is rolled back, so every one searches an empty
// range, as concurrent launches would.
func TestAddressesStartAtRandom(t *testing.T) {
	st := openStore(t)
	errRollBack := errors.New("roll back")
	seen := map[string]bool{}
	for i := range 20 {
		b := newSim(t, st, time.Now).(backend.TxLauncher)
		var m backend.Machine // of the function's last run
		err := st.Update(func(tx store.Tx) (err error) {
			m, err = b.RunInTx(tx, &backend.LaunchContext{InstanceID: fmt.Sprintf("i-%017x", i), InstanceType: backend.InstanceType{Name: "t3.micro"}, Zone: "us-east-1a"})
			if err != nil {
				return err
			}
			return errRollBack
		})
		if err != errRollBack {
			t.Fatal(err)
		}
		if !hostOf(m.PrivateIP, "10.77.0.0/16") {
			t.Errorf("got %s, want a host address of 10.77.0.0/16", m.PrivateIP)
		}
		seen[m.PrivateIP] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 launches into an empty range: got addresses %v, want them spread over the range", seen)
	}
}

// A launch in a subnet takes its address there: the one asked for, or a
// free one. Default VPCs share one network, so an address is held
// once among them; a student's own VPC is a network of its own.
func TestSubnetAddresses(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	ctx := context.Background()
	b := newSim(t, st, clock.Now)
	shared := backend.Subnet{ID: "subnet-a", VpcID: "vpc-alice", CIDR: "10.77.16.0/20", Shared: true}
	sharedBob := backend.Subnet{ID: "subnet-b", VpcID: "vpc-bob", CIDR: "10.77.16.0/20", Shared: true}
	own := backend.Subnet{ID: "subnet-c", VpcID: "vpc-own1", CIDR: "10.1.2.0/24"}
	ownOther := backend.Subnet{ID: "subnet-d", VpcID: "vpc-own2", CIDR: "10.1.2.0/24"}
	n := 0
	launch := func(sn backend.Subnet, want string) (backend.Machine, error) {
		n++
		return b.Run(ctx, &backend.LaunchContext{InstanceID: fmt.Sprintf("i-%017x", n), InstanceType: backend.InstanceType{Name: "t3.micro"}, Subnet: sn, PrivateIP: want})
	}
	cases := []struct {
		name   string
		subnet backend.Subnet
		want   string
		got    string // the address, the range it is in, or the error code
	}{
		{"asked for", shared, "10.77.16.9", "10.77.16.9"},
		{"held in the shared network", sharedBob, "10.77.16.9", "InvalidIPAddress.InUse"},
		{"asked for in an own VPC", own, "10.1.2.9", "10.1.2.9"},
		{"held in that VPC", own, "10.1.2.9", "InvalidIPAddress.InUse"},
		{"free in the other VPC", ownOther, "10.1.2.9", "10.1.2.9"},
		{"reserved", own, "10.1.2.1", "InvalidParameterValue"},
		// After those asked for, which a random one must not take.
		{"free in the subnet", shared, "", "10.77.16.0/20"},
		{"another default VPC", sharedBob, "", "10.77.16.0/20"},
		{"own VPC", own, "", "10.1.2.0/24"},
		{"another own VPC, same range", ownOther, "", "10.1.2.0/24"},
	}
	machines := map[string]backend.Machine{}
	for _, c := range cases {
		m, err := launch(c.subnet, c.want)
		got := m.PrivateIP
		var be *backend.Error
		if errors.As(err, &be) {
			got = be.Code
		} else if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.got && !(strings.Contains(c.got, "/") && hostOf(got, c.got)) {
			t.Errorf("%s: got %s, want %s", c.name, got, c.got)
		}
		machines[c.name] = m
	}
	// Once its holder is terminated, an address can be asked for again.
	if _, err := b.Terminate(ctx, machines["asked for"].ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if m, err := launch(sharedBob, "10.77.16.9"); err != nil || m.PrivateIP != "10.77.16.9" {
		t.Errorf("the freed address: got %s, %v; want 10.77.16.9", m.PrivateIP, err)
	}
}

// Two replicas' sims on one store agree on who holds an address: the
// records are in the store, only the search hint is per process.
func TestSubnetAddressesAcrossReplicas(t *testing.T) {
	st := openStore(t)
	clock := &backendtest.Clock{}
	ctx := context.Background()
	a, b := newSim(t, st, clock.Now), newSim(t, st, clock.Now)
	sn := backend.Subnet{ID: "subnet-c", VpcID: "vpc-own1", CIDR: "10.1.2.0/24"}
	run := func(be backend.Backend, id int, want string) (backend.Machine, error) {
		return be.Run(ctx, &backend.LaunchContext{InstanceID: fmt.Sprintf("i-%017x", id), InstanceType: backend.InstanceType{Name: "t3.micro"}, Subnet: sn, PrivateIP: want})
	}
	m1, err1 := run(a, 1, "")
	m2, err2 := run(b, 2, "")
	if err1 != nil || err2 != nil || m1.PrivateIP == m2.PrivateIP {
		t.Fatalf("got %s (%v) and %s (%v), want two different addresses", m1.PrivateIP, err1, m2.PrivateIP, err2)
	}
	var be *backend.Error
	if _, err := run(b, 3, m1.PrivateIP); !errors.As(err, &be) || be.Code != "InvalidIPAddress.InUse" {
		t.Errorf("the other replica's address: got %v, want InvalidIPAddress.InUse", err)
	}
}

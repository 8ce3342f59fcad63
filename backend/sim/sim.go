// Package sim is the embedded simulated cloud, econe-server's default
// backend. Its machines live only in its store.Space, so every replica
// sharing the store sees the same machines: each operation reads and
// writes them in one store transaction, and Describe reads the store.
// Timed transitions (pending→running, stopping→stopped,
// shutting-down→terminated) are never stored: they are computed from the
// injected clock and the time the transitional state was entered, so a
// restart, or another replica, just carries on where it was.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/go-json-experiment/json"
	"github.com/rs/zerolog"
)

// forgetAfter is how long a terminated machine is kept; after that it is
// dropped at start-up (Describe reports unknown ids as terminated anyway).
const forgetAfter = 24 * time.Hour

// reservedHosts is how many addresses at the start of the CIDR are not
// handed out (network address and three more, as AWS reserves in a subnet).
const reservedHosts = 4

// Keys in the sim's space. A machine's id is derived from its instance's
// ("sim-" + the hex), so Describe, FindLaunch and a retried launch each
// find it with one read.
const (
	machinePrefix = "machine/" // machine/ID: a machine
	// ip/ADDR (8 hex digits): the machine id holding the address in the
	// shared network (default VPCs); ip/vpc-…/ADDR in a student's own VPC.
	ipPrefix = "ip/"
)

func machineKey(id string) string { return machinePrefix + id }

func ipKey(network string, a netip.Addr) string {
	b := a.As4()
	if network != "" {
		network += "/"
	}
	return fmt.Sprintf("%s%s%02x%02x%02x%02x", ipPrefix, network, b[0], b[1], b[2], b[3])
}

// machineID is the machine an instance's launch creates.
func machineID(instanceID string) string { return "sim-" + strings.TrimPrefix(instanceID, "i-") }

// machine is one simulated machine as stored.
type machine struct {
	ID           string        `json:"id"`
	InstanceID   string        `json:"instance_id"`
	InstanceType string        `json:"instance_type"`
	Zone         string        `json:"zone"`
	State        backend.State `json:"state"` // as last entered by an operation
	Changed      time.Time     `json:"changed"`
	Reason       string        `json:"reason,omitempty"`
	PrivateIP    string        `json:"private_ip"`
	// Network is the address space of PrivateIP: "" for the shared one,
	// else the student's VPC (see ipKey).
	Network  string    `json:"network,omitempty"`
	Launched time.Time `json:"launched"`
	Boots    int       `json:"boots"`
}

// The abilities the sim has (and, by their absence here, lacks: security
// groups and key pairs, which it does not enforce).
var (
	_ backend.Backend       = (*Sim)(nil)
	_ backend.TxLauncher    = (*Sim)(nil)
	_ backend.LaunchFinder  = (*Sim)(nil)
	_ backend.SettledStates = (*Sim)(nil)
)

// Sim is the simulated backend. It keeps nothing in memory: the store's
// records decide.
type Sim struct {
	st     *store.Space
	clock  func() time.Time
	cfg    conf.SimBackend
	log    zerolog.Logger
	prefix netip.Prefix
}

// New builds the sim backend from deps.
func New(deps backend.Deps) (backend.Backend, error) {
	return Open(deps)
}

// Open is New with the concrete type, for tests that inspect it.
func Open(deps backend.Deps) (*Sim, error) {
	if deps.Store == nil || deps.Config == nil {
		return nil, fmt.Errorf("sim: a store and a configuration are required")
	}
	prefix, err := netip.ParsePrefix(deps.Config.Backend.Sim.CIDR)
	if err != nil || !prefix.Addr().Is4() {
		return nil, fmt.Errorf("sim: backend.sim.cidr %q is not an IPv4 CIDR", deps.Config.Backend.Sim.CIDR)
	}
	clock := deps.Clock
	if clock == nil {
		clock = time.Now
	}
	s := &Sim{st: deps.Store, clock: clock, cfg: deps.Config.Backend.Sim, log: deps.Log, prefix: prefix.Masked()}
	if err := s.tidy(); err != nil {
		return nil, err
	}
	return s, nil
}

// tidy runs at start-up: it forgets machines terminated long ago and
// moves machines stored by an older version (keyed by launch time, with
// no address records) to their id's key. It finds the work in a read
// transaction and does each piece in an update that checks it again, so
// replicas starting together do it once.
func (s *Sim) tidy() error {
	now := s.now()
	var todo []string
	err := s.st.View(func(tx store.SpaceTx) error {
		return tx.Scan(machinePrefix, func(key string, raw []byte) error {
			m, err := decodeMachine(key, raw)
			if err != nil {
				return err
			}
			if key != machineKey(m.ID) || s.stale(m, now) {
				todo = append(todo, key)
			}
			return nil
		})
	})
	if err != nil || len(todo) == 0 {
		return err
	}
	return s.st.Update(func(tx store.SpaceTx) error {
		for _, key := range todo {
			if err := s.tidyOne(tx, key, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// tidyOne forgets or moves the machine at key, if it still needs it.
func (s *Sim) tidyOne(tx store.SpaceTx, key string, now time.Time) error {
	raw := tx.Get(key)
	if raw == nil {
		return nil
	}
	m, err := decodeMachine(key, raw)
	if err != nil {
		return err
	}
	if err := tx.Delete(key); err != nil {
		return err
	}
	ip, ipErr := netip.ParseAddr(m.PrivateIP)
	if s.stale(m, now) {
		if ipErr == nil && string(tx.Get(ipKey(m.Network, ip))) == m.ID {
			return tx.Delete(ipKey(m.Network, ip))
		}
		return nil
	}
	if ipErr == nil && tx.Get(ipKey(m.Network, ip)) == nil {
		if err := tx.Put(ipKey(m.Network, ip), []byte(m.ID)); err != nil {
			return err
		}
	}
	return s.put(tx, m)
}

// stale reports whether m was terminated more than forgetAfter ago.
func (s *Sim) stale(m *machine, now time.Time) bool {
	st, at := s.current(m, now)
	return st == backend.Terminated && now.Sub(at) > forgetAfter
}

func decodeMachine(key string, raw []byte) (*machine, error) {
	m := new(machine)
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("sim: decode %s: %w", key, err)
	}
	return m, nil
}

// get reads machine id; nil when there is none.
func (s *Sim) get(tx store.SpaceTx, id string) (*machine, error) {
	raw := tx.Get(machineKey(id))
	if raw == nil {
		return nil, nil
	}
	return decodeMachine(machineKey(id), raw)
}

// put writes m.
func (s *Sim) put(tx store.SpaceTx, m *machine) error {
	raw, err := store.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Put(machineKey(m.ID), raw)
}

func (s *Sim) now() time.Time { return s.clock().UTC() }

// delay is how long the simulation stays in a transitional state.
func (s *Sim) delay(st backend.State) (next backend.State, d time.Duration, timed bool) {
	switch st {
	case backend.Pending:
		return backend.Running, s.cfg.BootDelay.D(), true
	case backend.Stopping:
		return backend.Stopped, s.cfg.StopDelay.D(), true
	case backend.ShuttingDown:
		return backend.Terminated, s.cfg.TerminateDelay.D(), true
	}
	return st, 0, false
}

// Settled implements backend.SettledStates: the states no delay moves on from
// (running, stopped, terminated) change only through the calls.
func (s *Sim) Settled(st backend.State) bool {
	_, _, timed := s.delay(st)
	return !timed
}

// current is m's state at now, with the time it was entered: the stored
// state advanced through every transition whose delay has elapsed.
func (s *Sim) current(m *machine, now time.Time) (backend.State, time.Time) {
	st, at := m.State, m.Changed
	for {
		next, d, timed := s.delay(st)
		if !timed || now.Sub(at) < d {
			return st, at
		}
		st, at = next, at.Add(d)
	}
}

// view is the backend.Machine of m at now.
func (s *Sim) view(m *machine, now time.Time) backend.Machine {
	st, at := s.current(m, now)
	return s.viewIn(m, st, at)
}

// entered is m in the state a call has just put it in, not yet advanced:
// the answer to RunInstances, StopInstances, StartInstances or
// TerminateInstances shows that state on EC2 however short the
// transition, and a zero delay only means the next read sees it over.
func (s *Sim) entered(m *machine) backend.Machine { return s.viewIn(m, m.State, m.Changed) }

// viewIn is the backend.Machine of m in state st, entered at at.
func (s *Sim) viewIn(m *machine, st backend.State, at time.Time) backend.Machine {
	out := backend.Machine{ID: m.ID, State: st, Changed: at, Reason: m.Reason}
	if st != backend.Terminated {
		out.PrivateIP = m.PrivateIP
		out.PrivateDNSName = s.dnsName(m.PrivateIP)
	}
	return out
}

// dnsName is EC2's private DNS form: ip-10-77-0-5.<suffix>.
func (s *Sim) dnsName(ip string) string {
	return "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + s.cfg.DNSSuffix
}

// addressRange is where a launch takes its address: the subnet's range in
// its network, or the sim's own cidr for a launch with no subnet.
type addressRange struct {
	network string
	prefix  netip.Prefix
}

// rangeOf is lc's addressRange.
func (s *Sim) rangeOf(lc *backend.LaunchContext) (addressRange, error) {
	if lc.Subnet.CIDR == "" {
		return addressRange{prefix: s.prefix}, nil
	}
	p, err := netip.ParsePrefix(lc.Subnet.CIDR)
	if err != nil || !p.Addr().Is4() {
		return addressRange{}, fmt.Errorf("sim: subnet %s has no IPv4 range (%q)", lc.Subnet.ID, lc.Subnet.CIDR)
	}
	r := addressRange{prefix: p.Masked()}
	if !lc.Subnet.Shared {
		r.network = lc.Subnet.VpcID
	}
	return r, nil
}

func firstHost(p netip.Prefix) netip.Addr {
	a := p.Addr()
	for range reservedHosts {
		a = a.Next()
	}
	return a
}

// allocateIP reserves a private address for id (a machine, or an
// interface) in tx: want when given (InvalidIPAddress.InUse when another
// holds it), else a free one, searched from host start of the range on
// (randomHost), as EC2 hands out a subnet's addresses in no order. An
// address is free when nobody holds it, or its holder is a machine
// terminated (or forgotten). Starting at random, launches
// at once (in this replica or another) read and write different keys,
// which in a shared store (PostgreSQL) do not conflict as a common "next
// address" would. A full range is searched whole by every launch: nothing
// remembers it is full, since another replica's terminate (or a
// rollback) frees an address unseen.
func (s *Sim) allocateIP(tx store.SpaceTx, id string, r addressRange, want string, start int, now time.Time) (netip.Addr, error) {
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !r.prefix.Contains(a) || a.Less(firstHost(r.prefix)) || a == lastAddr(r.prefix) {
			return netip.Addr{}, &backend.Error{Code: ec2err.InvalidParameterValue, Message: fmt.Sprintf("Address %s is not a free host address of %s.", want, r.prefix)}
		}
		taken, err := s.claimAddress(tx, id, r.network, a, now)
		if err != nil {
			return netip.Addr{}, err
		}
		if !taken {
			return netip.Addr{}, &backend.Error{Code: ec2err.InvalidIPAddressInUse, Message: fmt.Sprintf("Address %s is in use.", want)}
		}
		return a, nil
	}
	n := hosts(r.prefix)
	for i := range n {
		a := nthHost(r.prefix, (start+i)%n)
		taken, err := s.claimAddress(tx, id, r.network, a, now)
		if err != nil || taken {
			return a, err
		}
	}
	return netip.Addr{}, backend.ErrCapacity
}

// claimAddress gives a in network to id when it is free. An address nobody
// holds is created without being read (store.Create: on PostgreSQL no
// predicate lock on the index page where concurrent launches claim
// theirs); one held is read, to see whether its holder is terminated.
func (s *Sim) claimAddress(tx store.SpaceTx, id, network string, a netip.Addr, now time.Time) (bool, error) {
	created, err := tx.Create(ipKey(network, a), []byte(id))
	if err != nil || created {
		return created, err
	}
	free, err := s.addressFree(tx, network, a, now)
	if err != nil || !free {
		return false, err
	}
	return true, tx.Put(ipKey(network, a), []byte(id))
}

// nthHost is the n-th address p hands out, from 0.
func nthHost(p netip.Prefix, n int) netip.Addr {
	b := firstHost(p).As4()
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) + uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// hosts is how many addresses a range hands out.
func hosts(p netip.Prefix) int {
	return 1<<(32-p.Bits()) - reservedHosts - 1
}

// randomHost is where a search for a free address in p starts: a host
// drawn at random (see allocateIP).
func randomHost(p netip.Prefix) int {
	if !p.IsValid() || hosts(p) <= 0 {
		return 0
	}
	return rand.N(hosts(p))
}

// addressFree reports whether a is free in network at now.
func (s *Sim) addressFree(tx store.SpaceTx, network string, a netip.Addr, now time.Time) (bool, error) {
	holder := tx.Get(ipKey(network, a))
	if holder == nil {
		return true, nil
	}
	if isInterface(string(holder)) {
		return false, nil
	}
	m, err := s.get(tx, string(holder))
	if err != nil || m == nil {
		return m == nil, err
	}
	st, _ := s.current(m, now)
	return st == backend.Terminated, nil
}

// lastAddr is the prefix's broadcast address, never handed out.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Run accepts a machine in state pending. Run is idempotent per
// LaunchContext.InstanceID: a second call returns the machine of the first.
func (s *Sim) Run(ctx context.Context, lc *backend.LaunchContext) (out backend.Machine, err error) {
	err = s.st.Update(func(tx store.SpaceTx) error {
		out, err = s.launch(tx, lc, false)
		return err
	})
	if err != nil {
		return backend.Machine{}, err
	}
	s.log.Debug().Str("machine", out.ID).Str("instance", lc.InstanceID).Str("ip", out.PrivateIP).Msg("sim: machine accepted")
	return out, nil
}

// RunInTx implements backend.TxLauncher: the machine is written in the
// caller's transaction, and goes with it if it is rolled back. Its
// instance is new (the TxLauncher contract), so neither is its machine,
// whose id is derived from the instance's: the machine's key is written
// without being read, as on PostgreSQL the read of an absent key would
// lock the index page where concurrent launches write their own.
func (s *Sim) RunInTx(tx store.Tx, lc *backend.LaunchContext) (backend.Machine, error) {
	return s.launch(s.st.In(tx), lc, true)
}

// launch returns the instance's machine, accepting a new pending one with
// a fresh address if it has none; fresh says it has none, unread.
func (s *Sim) launch(tx store.SpaceTx, lc *backend.LaunchContext, fresh bool) (backend.Machine, error) {
	if lc.InstanceID == "" {
		return backend.Machine{}, fmt.Errorf("sim: launch context without an instance id")
	}
	now := s.now()
	id := machineID(lc.InstanceID)
	r, rangeErr := s.rangeOf(lc)
	start := randomHost(r.prefix)
	if !fresh {
		if rangeErr == nil && hosts(r.prefix) > 0 {
			// The machine and the first address to try, in one read.
			first := nthHost(r.prefix, start)
			if a, err := netip.ParseAddr(lc.PrivateIP); err == nil {
				first = a
			}
			tx.Prefetch(machineKey(id), ipKey(r.network, first))
		}
		m, err := s.get(tx, id)
		if err != nil || m != nil {
			return s.view(m, now), err
		}
	}
	if rangeErr != nil {
		return backend.Machine{}, rangeErr
	}
	var (
		ip  netip.Addr
		err error
	)
	if lc.Interface != "" {
		ip, err = interfaceAddress(tx, r, lc)
	} else {
		ip, err = s.allocateIP(tx, id, r, lc.PrivateIP, start, now)
	}
	if err != nil {
		return backend.Machine{}, err
	}
	m := &machine{
		ID: id, InstanceID: lc.InstanceID, InstanceType: lc.InstanceType.Name, Zone: lc.Zone,
		State: backend.Pending, Changed: now, PrivateIP: ip.String(), Network: r.network, Launched: now, Boots: 1,
	}
	return s.entered(m), s.put(tx, m)
}

// FindLaunch implements backend.LaunchFinder.
func (s *Sim) FindLaunch(ctx context.Context, instanceID string) (out backend.Machine, found bool, err error) {
	err = s.st.View(func(tx store.SpaceTx) error {
		m, err := s.get(tx, machineID(instanceID))
		if m != nil && m.InstanceID == instanceID {
			out, found = s.view(m, s.now()), true
		}
		return err
	})
	return out, found, err
}

// Describe reports every id; unknown ones as terminated.
func (s *Sim) Describe(ctx context.Context, ids []string) ([]backend.Machine, error) {
	now := s.now()
	out := make([]backend.Machine, len(ids))
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = machineKey(id)
	}
	raws, err := s.st.ReadMany(keys) // one read of them all
	if err != nil {
		return nil, err
	}
	for i, raw := range raws {
		if raw == nil {
			out[i] = backend.Machine{ID: ids[i], State: backend.Terminated}
			continue
		}
		m, err := decodeMachine(keys[i], raw)
		if err != nil {
			return nil, err
		}
		out[i] = s.view(m, now)
	}
	return out, nil
}

// change applies fn to machine id's current state and writes the result,
// in one transaction. fn returns ErrIncorrectState to refuse, errUnchanged
// to write nothing.
func (s *Sim) change(id string, fn func(m *machine, st backend.State, now time.Time) error) (out backend.Machine, err error) {
	err = s.st.Update(func(tx store.SpaceTx) error {
		now := s.now()
		m, err := s.get(tx, id)
		switch {
		case err != nil:
			return err
		case m == nil:
			return backend.ErrNotFound
		}
		st, at := s.current(m, now)
		m.State, m.Changed = st, at
		out = s.view(m, now) // what errUnchanged reports
		if err := fn(m, st, now); err != nil {
			return err
		}
		out = s.entered(m)
		return s.put(tx, m)
	})
	return out, err
}

// enter moves m into st now.
func enter(m *machine, st backend.State, now time.Time, reason string) {
	m.State, m.Changed, m.Reason = st, now, reason
}

// Stop moves a running machine to stopping.
func (s *Sim) Stop(ctx context.Context, id string, force bool) (backend.Machine, error) {
	return s.change(id, func(m *machine, st backend.State, now time.Time) error {
		if st != backend.Running {
			return backend.ErrIncorrectState
		}
		enter(m, backend.Stopping, now, "")
		return nil
	})
}

// Start moves a stopped machine to pending; it boots again.
func (s *Sim) Start(ctx context.Context, id string) (backend.Machine, error) {
	return s.change(id, func(m *machine, st backend.State, now time.Time) error {
		if st != backend.Stopped {
			return backend.ErrIncorrectState
		}
		enter(m, backend.Pending, now, "")
		m.Boots++
		return nil
	})
}

// Reboot restarts a running machine; it stays running, as on EC2.
func (s *Sim) Reboot(ctx context.Context, id string) error {
	_, err := s.change(id, func(m *machine, st backend.State, now time.Time) error {
		if st != backend.Running {
			return backend.ErrIncorrectState
		}
		m.Boots++
		return nil
	})
	return err
}

// Terminate moves a machine to shutting-down; a terminated or unknown
// machine reports terminated (idempotent).
func (s *Sim) Terminate(ctx context.Context, id string) (backend.Machine, error) {
	out, err := s.change(id, func(m *machine, st backend.State, now time.Time) error {
		switch st {
		case backend.Terminated, backend.ShuttingDown:
			return errUnchanged
		}
		enter(m, backend.ShuttingDown, now, "")
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return out, nil
	case errors.Is(err, backend.ErrNotFound):
		return backend.Machine{ID: id, State: backend.Terminated}, nil
	}
	return out, err
}

// errUnchanged tells change that nothing needs writing.
var errUnchanged = errors.New("sim: unchanged")

// lookup reads machine id in a transaction of its own; ErrNotFound when
// there is none.
func (s *Sim) lookup(id string) (m *machine, err error) {
	err = s.st.View(func(tx store.SpaceTx) error {
		m, err = s.get(tx, id)
		return err
	})
	if err == nil && m == nil {
		err = backend.ErrNotFound
	}
	return m, err
}

// ConsoleOutput is a short synthetic boot log per boot of the machine.
func (s *Sim) ConsoleOutput(ctx context.Context, id string) (string, error) {
	c, err := s.lookup(id)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for boot := 1; boot <= c.Boots; boot++ {
		fmt.Fprintf(&b, "[    0.000000] Linux version 6.1.0-econe-sim (econe@sim) #%d SMP\r\n", boot)
		fmt.Fprintf(&b, "[    0.000000] DMI: econe sim %s, zone %s\r\n", c.InstanceType, c.Zone)
		fmt.Fprintf(&b, "[    1.204511] cloud-init[412]: instance-id: %s\r\n", c.InstanceID)
		fmt.Fprintf(&b, "[    1.204689] cloud-init[412]: local-ipv4: %s\r\n", c.PrivateIP)
		fmt.Fprintf(&b, "[    2.318004] cloud-init[412]: Cloud-init finished at %s. Up 2.31 seconds\r\n", c.Launched.Format(time.RFC1123))
		fmt.Fprintf(&b, "%s login:\r\n", s.dnsName(c.PrivateIP))
	}
	return b.String(), nil
}

// Close has nothing to release: every change is already durable.
func (s *Sim) Close() error { return nil }

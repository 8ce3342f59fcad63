// Package sim is the embedded simulated cloud, econe-server's default
// backend. Machines live in memory and are persisted (in its store.Space)
// whenever an operation changes them. Timed transitions (pending→running,
// stopping→stopped, shutting-down→terminated) are never stored: they are
// computed from the injected clock and the time the transitional state was
// entered, so a restart just reloads and carries on where it was.
package sim

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
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

// machine is one simulated machine as persisted.
type machine struct {
	ID           string        `json:"id"`
	InstanceID   string        `json:"instance_id"`
	InstanceType string        `json:"instance_type"`
	Zone         string        `json:"zone"`
	State        backend.State `json:"state"` // as last entered by an operation
	Changed      time.Time     `json:"changed"`
	Reason       string        `json:"reason,omitempty"`
	PrivateIP    string        `json:"private_ip"`
	Launched     time.Time     `json:"launched"`
	Boots        int           `json:"boots"`
	// key is where the machine is stored: by launch time, so that the
	// machines of one group commit land on the same few pages instead of
	// one random page each.
	key string
}

// The abilities the sim has (and, by their absence here, lacks: security
// groups and key pairs, which it does not enforce).
var (
	_ backend.Backend      = (*Sim)(nil)
	_ backend.TxLauncher   = (*Sim)(nil)
	_ backend.LaunchFinder = (*Sim)(nil)
)

// Sim is the simulated backend.
type Sim struct {
	st     *store.Space
	clock  func() time.Time
	cfg    conf.SimBackend
	log    zerolog.Logger
	prefix netip.Prefix

	mu         sync.RWMutex
	machines   map[string]*machine
	byInstance map[string]string     // EC2 instance id -> machine id
	ipOwner    map[netip.Addr]string // private address -> machine id
	nextIP     netip.Addr            // where the next address search starts
	// fullUntil, when set, is the range found full: until then, and until
	// a machine changes, a launch fails at once instead of searching every
	// address again (inside the launch's commit, which others wait on).
	fullUntil time.Time
	opLocks   map[string]*sync.Mutex
}

// New builds the sim backend from deps and reloads its machines.
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
	s := &Sim{
		st: deps.Store, clock: clock, cfg: deps.Config.Backend.Sim, log: deps.Log,
		prefix: prefix.Masked(), machines: map[string]*machine{}, byInstance: map[string]string{},
		ipOwner: map[netip.Addr]string{}, opLocks: map[string]*sync.Mutex{},
	}
	s.nextIP = s.firstHost()
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

const machinePrefix = "machine/"

// load reads every machine back and forgets those terminated long ago.
func (s *Sim) load() error {
	now := s.now()
	var stale []string
	err := s.st.View(func(tx store.SpaceTx) error {
		return tx.Scan(machinePrefix, func(key string, raw []byte) error {
			m := new(machine)
			if err := json.Unmarshal(raw, m); err != nil {
				return fmt.Errorf("sim: decode %s: %w", key, err)
			}
			if st, at := s.current(m, now); st == backend.Terminated && now.Sub(at) > forgetAfter {
				stale = append(stale, key)
				return nil
			}
			m.key = key
			s.install(m)
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	return s.st.Update(func(tx store.SpaceTx) error {
		for _, k := range stale {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// install puts m in the maps; the caller holds mu (or is loading).
func (s *Sim) install(m *machine) {
	s.machines[m.ID] = m
	s.byInstance[m.InstanceID] = m.ID
	if ip, err := netip.ParseAddr(m.PrivateIP); err == nil {
		s.ipOwner[ip] = m.ID
	}
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

func (s *Sim) firstHost() netip.Addr {
	a := s.prefix.Addr()
	for range reservedHosts {
		a = a.Next()
	}
	return a
}

// allocateIP reserves a free private address for id; the caller holds mu.
// An address is free when nobody holds it or its holder is terminated.
func (s *Sim) allocateIP(id string, now time.Time) (netip.Addr, error) {
	if now.Before(s.fullUntil) {
		return netip.Addr{}, backend.ErrCapacity
	}
	start := s.nextIP
	a := start
	freeAt := time.Time{} // the soonest a held address frees by itself
	for {
		if !s.prefix.Contains(a) || a == lastAddr(s.prefix) {
			a = s.firstHost()
		}
		holder, taken := s.ipOwner[a]
		if taken {
			m := s.machines[holder]
			st, at := s.current(m, now)
			if st == backend.Terminated {
				taken = false
			} else if next, d, timed := s.delay(st); timed && next == backend.Terminated && (freeAt.IsZero() || at.Add(d).Before(freeAt)) {
				freeAt = at.Add(d)
			}
		}
		if !taken {
			s.ipOwner[a] = id
			s.nextIP = a.Next()
			return a, nil
		}
		a = a.Next()
		if a == start {
			s.fullUntil = freeAt
			if freeAt.IsZero() {
				s.fullUntil = farFuture
			}
			return netip.Addr{}, backend.ErrCapacity
		}
	}
}

// farFuture stands for "until a machine changes".
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// lastAddr is the prefix's broadcast address, never handed out.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// persist writes m durably. Concurrent calls share a commit (Store.Update
// batches), which is what keeps parallel launches fast.
func (s *Sim) persist(m *machine) error {
	raw, err := store.Marshal(m)
	if err != nil {
		return err
	}
	return s.st.Update(func(tx store.SpaceTx) error {
		return tx.Put(m.key, raw)
	})
}

// opLock serializes operations on one machine, so its persisted copies are
// written in the order the operations happened; different machines proceed
// in parallel.
func (s *Sim) opLock(id string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.opLocks[id]
	if !ok {
		l = &sync.Mutex{}
		s.opLocks[id] = l
	}
	return l
}

// Run accepts a machine in state pending. Run is idempotent per
// LaunchContext.InstanceID: a second call returns the machine of the first.
func (s *Sim) Run(ctx context.Context, lc *backend.LaunchContext) (backend.Machine, error) {
	if lc.InstanceID == "" {
		return backend.Machine{}, fmt.Errorf("sim: launch context without an instance id")
	}
	l := s.opLock("launch/" + lc.InstanceID)
	l.Lock()
	defer l.Unlock()
	now := s.now()
	s.mu.Lock()
	if id, ok := s.byInstance[lc.InstanceID]; ok {
		out := s.view(s.machines[id], now)
		s.mu.Unlock()
		return out, nil
	}
	m, err := s.newMachine(lc, now)
	s.mu.Unlock()
	if err != nil {
		return backend.Machine{}, err
	}
	if err := s.persist(m); err != nil {
		s.mu.Lock()
		delete(s.ipOwner, netip.MustParseAddr(m.PrivateIP))
		s.fullUntil = time.Time{}
		s.mu.Unlock()
		return backend.Machine{}, err
	}
	s.mu.Lock()
	s.install(m)
	s.mu.Unlock()
	s.log.Debug().Str("machine", m.ID).Str("instance", lc.InstanceID).Str("ip", m.PrivateIP).Msg("sim: machine accepted")
	return s.view(m, now), nil
}

// RunInTx implements backend.TxLauncher: the machine is written in the
// caller's transaction. It is installed in memory at once (an address
// must not be handed out twice); if the transaction is rolled back the
// machine is never referred to, and a restart forgets it.
func (s *Sim) RunInTx(tx store.Tx, lc *backend.LaunchContext) (backend.Machine, error) {
	if lc.InstanceID == "" {
		return backend.Machine{}, fmt.Errorf("sim: launch context without an instance id")
	}
	now := s.now()
	s.mu.Lock()
	m, err := s.machineOf(lc, now)
	s.mu.Unlock()
	if err != nil {
		return backend.Machine{}, err
	}
	raw, err := store.Marshal(m)
	if err != nil {
		return backend.Machine{}, err
	}
	if err := s.st.In(tx).Put(m.key, raw); err != nil {
		return backend.Machine{}, err
	}
	return s.view(m, now), nil
}

// machineOf returns the instance's machine, accepting a new one if it has
// none; the caller holds mu.
func (s *Sim) machineOf(lc *backend.LaunchContext, now time.Time) (*machine, error) {
	if id, ok := s.byInstance[lc.InstanceID]; ok {
		return s.machines[id], nil
	}
	m, err := s.newMachine(lc, now)
	if err != nil {
		return nil, err
	}
	s.install(m)
	return m, nil
}

// newMachine builds a pending machine with a fresh address; the caller
// holds mu.
func (s *Sim) newMachine(lc *backend.LaunchContext, now time.Time) (*machine, error) {
	id := "sim-" + strings.TrimPrefix(lc.InstanceID, "i-")
	ip, err := s.allocateIP(id, now)
	if err != nil {
		return nil, err
	}
	return &machine{
		ID: id, InstanceID: lc.InstanceID, InstanceType: lc.InstanceType.Name, Zone: lc.Zone,
		State: backend.Pending, Changed: now, PrivateIP: ip.String(), Launched: now, Boots: 1,
		key: machinePrefix + now.UTC().Format("20060102T150405.000000000") + "/" + id,
	}, nil
}

// FindLaunch implements backend.LaunchFinder.
func (s *Sim) FindLaunch(ctx context.Context, instanceID string) (backend.Machine, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byInstance[instanceID]
	if !ok {
		return backend.Machine{}, false, nil
	}
	return s.view(s.machines[id], s.now()), true, nil
}

// Describe reports every id; unknown ones as terminated.
func (s *Sim) Describe(ctx context.Context, ids []string) ([]backend.Machine, error) {
	now := s.now()
	out := make([]backend.Machine, len(ids))
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, id := range ids {
		if m, ok := s.machines[id]; ok {
			out[i] = s.view(m, now)
		} else {
			out[i] = backend.Machine{ID: id, State: backend.Terminated}
		}
	}
	return out, nil
}

// change applies fn to a copy of machine id's current state, persists the
// result and installs it. fn returns ErrIncorrectState to refuse.
func (s *Sim) change(id string, fn func(m *machine, st backend.State, now time.Time) error) (backend.Machine, error) {
	l := s.opLock(id)
	l.Lock()
	defer l.Unlock()
	now := s.now()
	s.mu.RLock()
	old, ok := s.machines[id]
	var m machine
	if ok {
		m = *old
	}
	s.mu.RUnlock()
	if !ok {
		return backend.Machine{}, backend.ErrNotFound
	}
	st, at := s.current(&m, now)
	m.State, m.Changed = st, at
	if err := fn(&m, st, now); err != nil {
		return backend.Machine{}, err
	}
	if err := s.persist(&m); err != nil {
		return backend.Machine{}, err
	}
	s.mu.Lock()
	s.machines[id] = &m
	s.fullUntil = time.Time{} // a terminating machine may free an address
	s.mu.Unlock()
	return s.view(&m, now), nil
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
		ms, _ := s.Describe(ctx, []string{id})
		return ms[0], nil
	case errors.Is(err, backend.ErrNotFound):
		return backend.Machine{ID: id, State: backend.Terminated}, nil
	}
	return out, err
}

// errUnchanged tells change that nothing needs persisting.
var errUnchanged = errors.New("sim: unchanged")

// ConsoleOutput is a short synthetic boot log per boot of the machine.
func (s *Sim) ConsoleOutput(ctx context.Context, id string) (string, error) {
	s.mu.RLock()
	m, ok := s.machines[id]
	var c machine
	if ok {
		c = *m
	}
	s.mu.RUnlock()
	if !ok {
		return "", backend.ErrNotFound
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

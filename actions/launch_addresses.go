package actions

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/elasticip"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// Launch addresses: the public IPv4 address EC2 gives an instance at
// launch when its subnet maps one (MapPublicIpOnLaunch, the default
// subnets) or device 0 asks for one (AssociatePublicIpAddress), released
// at stop and terminate and given anew at start. Here they come from
// elastic_ips.launch_pool (store/launch_addresses.go), taken and released
// by the instance transition in its own transaction, so two launches
// never share one and a 2xx means it is recorded. An elastic IP replaces
// the instance's launch address (associateAddress undoes it), and an
// instance whose elastic IP goes gets a new one, as on EC2.
//
// The records change first, then the provider wires the change: with the
// admin's scripts, the transition writes an AddressIntent (keyed
// store.LaunchIntentKey) and its caller carries it out once the
// transaction commits, the elastic IPs' intent machinery unchanged
// (addresses.go): a crash leaves the intent to start-up's reconciliation,
// which undoes it (the instance then shows no public address until its
// next start). A released address stays taken until its disassociation
// has run, so it is never wired to two instances. Without scripts there
// is nothing to wire and no intent.

// wiring collects the launch address intents written in one Store.Update,
// for its caller to carry out after the commit. Reset it at the start of
// the update's function, which may run more than once.
type wiring struct{ intents []*store.AddressIntent }

func (w *wiring) reset() { w.intents = w.intents[:0] }

// updateWired is Store.Update for fn, which may move instances
// (transition with move.wire = w): once it commits, the launch address
// intents it wrote are carried out.
func (s *Service) updateWired(ctx context.Context, fn func(tx store.Tx, w *wiring) error) error {
	var w wiring
	err := s.Store.Update(func(tx store.Tx) error {
		w.reset()
		return fn(tx, &w)
	})
	if err == nil {
		s.carryOutLaunch(ctx, &w)
	}
	return err
}

// exhaustedLog lets the exhausted pool's warning through once a minute:
// once the pool is full every launch that inherits a mapping meets it,
// inside the store's one committer.
var exhaustedLog = &zerolog.BurstSampler{Burst: 1, Period: time.Minute}

// launchPools caches each configured launch pool, expanded, by its text:
// a launch draws from it in its transaction.
var launchPools sync.Map // string -> []string

// launchPool is the configured launch pool, one address each, sorted
// bytewise; nil when
// there is none, or when the backend's own network gives instances their
// public addresses (ec2).
func (s *Service) launchPool() []string {
	if s.Backend.Network != nil || len(s.Config.ElasticIPs.LaunchPool) == 0 {
		return nil
	}
	key := strings.Join(s.Config.ElasticIPs.LaunchPool, ",")
	if ips, ok := launchPools.Load(key); ok {
		return ips.([]string)
	}
	addrs, err := s.Config.LaunchPoolAddresses()
	if err != nil { // Validate refuses such a pool at start
		s.Log.Error().Err(err).Msg("elastic_ips.launch_pool is invalid: no instance gets a public address at launch")
		return nil
	}
	ips := make([]string, len(addrs))
	for i, a := range addrs {
		ips[i] = a.String()
	}
	slices.Sort(ips) // as store.ClaimLaunchAddress wants it
	launchPools.Store(key, ips)
	return ips
}

// mapsPublicIP reports whether launches here can get a public address
// without asking: from the launch pool, or from the backend's network. A
// subnet's MapPublicIpOnLaunch says true only then.
func (s *Service) mapsPublicIP() bool {
	return s.Backend.Network != nil || len(s.Config.ElasticIPs.LaunchPool) > 0
}

// wiresAddresses reports whether the provider does anything: the admin's
// scripts (or a test's), not the pure simulation's records.
func (s *Service) wiresAddresses() bool {
	switch s.provider().(type) {
	case nil, elasticip.Record:
		return false
	}
	return true
}

// launchActive is whether an instance in state holds a launch address.
func launchActive(state string) bool {
	return state == string(backend.Pending) || state == string(backend.Running)
}

// moveLaunchAddress gives inst, about to be written in tx, a launch
// address when it is active, wants one and shows no public address, and
// takes its launch address back when it is no longer active. Intents for
// the provider go to w.
func (s *Service) moveLaunchAddress(tx store.Tx, inst *store.Instance, w *wiring) error {
	switch {
	case launchActive(inst.State) && inst.PublicIPOnLaunch && inst.LaunchIP == "" && inst.PublicIP == "" && inst.PrivateIP != "":
		return s.assignLaunchAddress(tx, inst, w)
	case !launchActive(inst.State) && inst.LaunchIP != "":
		return s.releaseLaunchAddress(tx, inst, w)
	}
	return nil
}

func (s *Service) assignLaunchAddress(tx store.Tx, inst *store.Instance, w *wiring) error {
	pool := s.launchPool()
	if len(pool) == 0 {
		return nil
	}
	// From a random address on, as the sim's private addresses: launches
	// at once try different keys.
	ip, err := store.ClaimLaunchAddress(tx, pool, rand.N(len(pool)), inst)
	if err != nil {
		return err
	}
	if ip == "" {
		// A launch that asked for one outright is refused (launchTx); this
		// one only inherited its subnet's mapping, or is a start.
		log := s.Log.Sample(exhaustedLog)
		log.Warn().Str("user", inst.Owner).Str("instance", inst.ID).Int("launch_pool", len(pool)).
			Msg("launch address pool exhausted: the instance runs without a public address (logged at most once a minute)")
		return nil
	}
	inst.LaunchIP = ip
	return s.wireLaunch(tx, inst.Owner, &store.AddressIntent{Target: s.launchBinding(inst, ip)}, w)
}

// releaseLaunchAddress takes inst's launch address back. With scripts it
// stays taken until its disassociation has run (the intent's end frees
// it); when the assignment's intent is still in flight, that one ends by
// disassociating it, since the instance no longer holds it.
func (s *Service) releaseLaunchAddress(tx store.Tx, inst *store.Instance, w *wiring) error {
	ip := inst.LaunchIP
	inst.LaunchIP = ""
	if s.Backend.Network != nil {
		return nil // the backend's own address
	}
	if held, err := holdsLaunchAddress(tx, ip, inst.Owner, inst.ID); err != nil || !held {
		return err
	}
	if !s.wiresAddresses() {
		return store.FreeLaunchAddress(tx, ip)
	}
	in, err := store.GetAddressIntent(tx, store.LaunchIntentKey(ip))
	if err != nil || in != nil {
		return err
	}
	return s.wireLaunch(tx, inst.Owner, &store.AddressIntent{Undo: []store.AddressBinding{*s.launchBinding(inst, ip)}}, w)
}

// holdsLaunchAddress reports whether the pool's records give ip to
// owner's instanceID.
func holdsLaunchAddress(tx store.Tx, ip, owner, instanceID string) (bool, error) {
	held, err := store.GetLaunchAddress(tx, ip)
	return err == nil && held != nil && held.Owner == owner && held.InstanceID == instanceID, err
}

// wireLaunch records in (a launch address's change) for the provider when
// it runs scripts, and adds it to w, whose owner carries it out.
func (s *Service) wireLaunch(tx store.Tx, owner string, in *store.AddressIntent, w *wiring) error {
	if !s.wiresAddresses() {
		return nil
	}
	b := in.Bindings()[0]
	in.Owner, in.AllocationID, in.Started, in.Replica = owner, store.LaunchIntentKey(b.PublicIP), s.now(), s.Replica
	if w != nil {
		w.intents = append(w.intents, in)
	}
	return store.PutAddressIntent(tx, in)
}

// launchBinding is inst's launch address ip as a binding, what the
// provider is told.
func (s *Service) launchBinding(inst *store.Instance, ip string) *store.AddressBinding {
	return &store.AddressBinding{PublicIP: ip, Launch: true, AddressAssociation: store.AddressAssociation{
		InstanceID: inst.ID, PrivateIP: inst.PrivateIP, Network: s.instanceNetwork(inst.PrivateIP),
	}}
}

// heldLaunchBinding is the launch address instanceID holds, as a binding;
// ok is false when it holds none of the pool's.
func (s *Service) heldLaunchBinding(tx store.Tx, owner, instanceID string) (b store.AddressBinding, ok bool, err error) {
	inst, err := store.GetInstance(tx, owner, instanceID)
	if err != nil || inst == nil || inst.LaunchIP == "" || s.Backend.Network != nil {
		return b, false, err
	}
	return *s.launchBinding(inst, inst.LaunchIP), true, nil
}

// clearLaunchBinding records b, a launch address, as disassociated: the
// instance no longer shows it and, when free is set (the disassociation
// has run) and no other intent still owes one for it, it is free again.
func clearLaunchBinding(tx store.Tx, owner string, b store.AddressBinding, free bool) error {
	inst, err := store.GetInstance(tx, owner, b.InstanceID)
	if err != nil {
		return err
	}
	if inst != nil && inst.LaunchIP == b.PublicIP {
		inst.LaunchIP = ""
		if err := store.PutInstance(tx, inst); err != nil {
			return err
		}
	}
	if !free {
		return nil
	}
	if held, err := holdsLaunchAddress(tx, b.PublicIP, owner, b.InstanceID); err != nil || !held {
		return err
	}
	if in, err := store.GetAddressIntent(tx, store.LaunchIntentKey(b.PublicIP)); err != nil || in != nil {
		return err
	}
	return store.FreeLaunchAddress(tx, b.PublicIP)
}

// requireLaunchHeld fails as requireLiveTarget does when b's instance no
// longer holds its launch address: stopped or terminated meanwhile, its
// just-made association is undone.
func requireLaunchHeld(tx store.Tx, owner string, b store.AddressBinding) error {
	inst, err := store.GetInstance(tx, owner, b.InstanceID)
	if err != nil {
		return err
	}
	if inst == nil || inst.LaunchIP != b.PublicIP {
		return errLaunchGone
	}
	return nil
}

// carryOutLaunch carries out the launch address intents w holds. A failure
// is the log's only: the instance's state change is recorded and stands,
// and a failed intent keeps its address until it is re-run.
func (s *Service) carryOutLaunch(ctx context.Context, w *wiring) {
	ctx = context.WithoutCancel(ctx)
	for _, in := range w.intents {
		if err := s.carryOut(ctx, in); err != nil {
			s.Log.Error().Err(err).Str("user", in.Owner).Str("intent", in.AllocationID).Msg("wiring a launch address failed")
		}
	}
	w.reset()
}

// errLaunchGone is a launch address's association made for an instance
// that no longer holds it: targetGone, so it is undone.
var errLaunchGone = ec2err.New(ec2err.IncorrectInstanceState, "The instance was stopped or terminated while its public address was being wired; the address is released.")

// requirePublicIP refuses a launch that asked for a public address
// outright (AssociatePublicIpAddress=true) when the pool has none left,
// or there is no pool: EC2 would give one, and an instance the student
// cannot reach is not what they asked for. The code is AddressLimitExceeded,
// EC2's for running out of public IPv4 addresses, which the elastic IP pool
// here answers too. A launch that only inherits its subnet's mapping gets
// no address instead (assignLaunchAddress logs it), as a subnet's default
// should not make launches fail.
func (s *Service) requirePublicIP(inst *store.Instance, lr *launchRequest) error {
	if lr.net.publicIP == nil || !*lr.net.publicIP || inst.LaunchIP != "" || inst.PrivateIP == "" || s.Backend.Network != nil {
		return nil
	}
	if len(s.launchPool()) == 0 {
		return ec2err.New(ec2err.AddressLimitExceeded, "This endpoint gives no public IPv4 addresses at launch (the administrator configured no elastic_ips.launch_pool): launch without AssociatePublicIpAddress, then allocate and associate an elastic IP.")
	}
	return ec2err.New(ec2err.AddressLimitExceeded, "No public IPv4 address is left in this endpoint's launch pool. Launch without AssociatePublicIpAddress, or try again after other instances stop.")
}

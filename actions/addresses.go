package actions

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/elasticip"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Elastic IPs. The records say who holds which address and where it is
// associated; the provider (s.Addresses: the admin's scripts, or nothing)
// makes associations real. Every change of association follows one path:
//
//  1. one transaction checks the request and writes an AddressIntent (the
//     bindings to undo, the one to make), which also locks the addresses
//     and instances involved: another request touching them gets
//     IncorrectState until it is done;
//  2. outside any transaction the provider disassociates each Undo
//     binding, then associates Target;
//  3. one transaction records the outcome and deletes the intent.
//
// A failure is undone, never half-kept: a failed association is
// disassociated again (a script may have done half its work), bindings
// already undone are recorded as such, and a reassociation that fails thus
// leaves the address associated with neither instance. When even the undo
// fails the intent stays, marked Failed, holding the disassociations still
// owed; the next request touching it, or the next start-up, re-runs them
// first. A crash leaves the intent unfailed, naming the script then
// running; start-up (ReconcileAddresses) stops that script and treats the
// intent the same way, undoing Target as well, so store and network agree.

var addressActions = map[string]Handler{
	"AllocateAddress":            (*Service).allocateAddress,
	"AssociateAddress":           (*Service).associateAddress,
	"DisassociateAddress":        (*Service).disassociateAddress,
	"ReleaseAddress":             (*Service).releaseAddress,
	"DescribeAddresses":          (*Service).describeAddresses,
	"DescribeAddressesAttribute": (*Service).describeAddressesAttribute, // addresses_attribute.go
}

const (
	domainVPC      = "vpc"
	domainStandard = "standard"
	// elasticIPResource is the TagSpecification resource type of addresses.
	elasticIPResource = "elastic-ip"
)

type allocateAddressResponse struct {
	Meta
	AllocationID       string `xml:"allocationId"`
	PublicIPv4Pool     string `xml:"publicIpv4Pool"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	Domain             string `xml:"domain"`
	PublicIP           string `xml:"publicIp"`
}

func (s *Service) allocateAddress(r *Request) (any, error) {
	domain := r.Params.String("Domain")
	if domain == "" {
		domain = domainVPC
	}
	if domain != domainVPC && domain != domainStandard {
		return nil, ec2err.BadValue("Domain", domain, "It must be vpc or standard.")
	}
	want := r.Params.String("Address")
	if want != "" {
		if ip, err := netip.ParseAddr(want); err != nil || !ip.Is4() {
			return nil, ec2err.BadValue("Address", want, "It must be an IPv4 address.")
		}
	}
	tags, err := tagSpecTags(r.Params, elasticIPResource)
	if err != nil {
		return nil, err
	}
	inBackend := s.Backend.Addresses != nil
	if len(s.Config.ElasticIPs.Pool) == 0 && !inBackend {
		return nil, ec2err.New(ec2err.AddressLimitExceeded, "No elastic IP addresses are available: the administrator has configured no elastic IP pool (elastic_ips.pool) on this endpoint.")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	addr := &store.Address{AllocationID: store.NewID("eipalloc"), Owner: owner, Domain: domain, Allocated: s.now()}
	if inBackend {
		// The address asked for, until the backend answers with its own.
		addr.PublicIP, addr.Pending = want, store.AddressAllocating
	}
	err = s.Store.Update(func(tx store.Tx) error {
		if err := s.checkQuota(tx, r.User, quota.Delta{Addresses: 1}); err != nil {
			return err
		}
		if inBackend {
			if err := store.PutAddress(tx, addr); err != nil {
				return err
			}
			return putTags(tx, owner, addr.AllocationID, tags)
		}
		ip, err := store.ClaimPoolAddress(tx, want, addr)
		switch {
		case errors.Is(err, store.ErrPoolExhausted):
			return ec2err.New(ec2err.AddressLimitExceeded, "The elastic IP pool of this endpoint is exhausted: every address is allocated. Try again later or ask your administrator for a larger pool.")
		case errors.Is(err, store.ErrNotInPool), errors.Is(err, store.ErrAddressTaken):
			// One answer for both: whether another student holds an address is theirs to know.
			return ec2err.New(ec2err.InvalidAddressNotFound, "The address '%s' is not available from this endpoint's elastic IP pool; omit Address to get any free one.", want)
		case err != nil:
			return err
		}
		addr.PublicIP = ip
		if err := store.PutAddress(tx, addr); err != nil {
			return err
		}
		return putTags(tx, owner, addr.AllocationID, tags)
	})
	if err == nil {
		addr, err = s.addressInBackend(r.Context, addr)
	}
	if err != nil {
		return nil, err
	}
	s.requestLog(r).Info().Str("allocation_id", addr.AllocationID).Str("elastic_ip", addr.PublicIP).Msg("elastic IP allocated")
	return &allocateAddressResponse{
		AllocationID: addr.AllocationID, PublicIPv4Pool: "amazon", NetworkBorderGroup: s.Config.Region,
		Domain: addr.Domain, PublicIP: addr.PublicIP,
	}, nil
}

// addressRef is how a request names an address: by its id (the
// allocation id, or for DisassociateAddress the association id) or by its
// public IP, exactly one of the two.
type addressRef struct {
	Param    string // AllocationId | AssociationId
	ID       string
	PublicIP string
}

// addressIDForms gives, per parameter, the id prefix and the code of a malformed id.
var addressIDForms = map[string]struct{ prefix, malformed string }{
	"AllocationId":  {"eipalloc", ec2err.InvalidAllocationIDMalformed},
	"AssociationId": {"eipassoc", ec2err.InvalidAssociationIDMalformed},
}

func addressRefParams(p *query.Params, param string) (addressRef, error) {
	ref := addressRef{Param: param, ID: p.String(param), PublicIP: p.String("PublicIp")}
	form := addressIDForms[param]
	switch {
	case ref.ID == "" && ref.PublicIP == "":
		return ref, ec2err.New(ec2err.MissingParameter, "The request must contain the parameter %s or PublicIp.", param)
	case ref.ID != "" && ref.PublicIP != "":
		return ref, ec2err.New(ec2err.InvalidParameterCombination, "Give either %s or PublicIp, not both.", param)
	case ref.ID != "" && !store.ValidID(form.prefix, ref.ID):
		return ref, malformedAddressID(form.malformed, form.prefix, ref.ID)
	}
	return ref, nil
}

func malformedAddressID(code, prefix, id string) error {
	return ec2err.New(code, "The ID '%s' is malformed: it should look like %s-0123456789abcdef0.", id, prefix)
}

// find returns the user's address the reference names, or the NotFound
// error for it: another student's address looks exactly like none.
func (ref addressRef) find(tx store.Tx, owner string) (*store.Address, error) {
	var match func(*store.Address) bool
	var notFound error
	switch {
	case ref.PublicIP != "":
		match = func(a *store.Address) bool { return a.PublicIP == ref.PublicIP }
		notFound = ec2err.New(ec2err.InvalidAddressNotFound, "The address '%s' does not exist (or is not yours): allocate one with AllocateAddress.", ref.PublicIP)
	case ref.Param == "AssociationId":
		match = func(a *store.Address) bool { return a.Association != nil && a.Association.AssociationID == ref.ID }
		notFound = ec2err.New(ec2err.InvalidAssociationIDNotFound, "The association ID '%s' does not exist", ref.ID)
	default:
		match = func(a *store.Address) bool { return a.AllocationID == ref.ID }
		notFound = ec2err.New(ec2err.InvalidAllocationIDNotFound, "The allocation ID '%s' does not exist", ref.ID)
	}
	a, err := store.FindAddress(tx, owner, match)
	switch {
	case err == nil && a == nil:
		err = notFound
	case err == nil && a.Pending != "":
		err = changeInProgress(a.AllocationID)
	}
	return a, err
}

type associateAddressResponse struct {
	Meta
	Return        bool   `xml:"return"`
	AssociationID string `xml:"associationId"`
}

// States in which an instance can take an address: as in a VPC, a stopped
// instance keeps its private address and so can be given an elastic IP.
var associableStates = []string{string(backend.Running), string(backend.Stopped)}

func (s *Service) associateAddress(r *Request) (any, error) {
	ref, err := addressRefParams(r.Params, "AllocationId")
	if err != nil {
		return nil, err
	}
	instanceID, ifaceID, err := s.addressTarget(r)
	if err != nil {
		return nil, err
	}
	reassociate, err := r.Params.Bool("AllowReassociation", false)
	if err != nil {
		return nil, err
	}
	privateIP := r.Params.String("PrivateIpAddress")
	owner := r.User.Name
	var seen *store.Instance
	if ifaceID == "" {
		if seen, err = s.currentInstance(r, instanceID); err != nil {
			return nil, err
		}
		// An instance launched on an interface of the student's has its
		// address there, as the interface keeps it when the instance goes.
		if p := storedPrimary(seen); p != nil {
			ifaceID = p.ID
		}
	}
	var associationID string
	plan := func(tx store.Tx, _ []store.AddressBinding) (*store.AddressIntent, error) {
		associationID = ""
		addr, err := ref.find(tx, owner)
		if err != nil {
			return nil, err
		}
		var target store.AddressAssociation
		if ifaceID != "" {
			target, err = interfaceTarget(tx, owner, ifaceID, privateIP)
		} else {
			target, err = s.instanceTarget(tx, seen, privateIP)
		}
		if err != nil {
			return nil, err
		}
		if cur := addr.Association; cur != nil && cur.InstanceID == target.InstanceID && cur.NetworkInterfaceID == target.NetworkInterfaceID {
			// Already done, unless a change in flight is undoing it.
			if err := checkAddressLocks(tx, addr.AllocationID, target.Target(), nil); err != nil {
				return nil, err
			}
			associationID = cur.AssociationID // EC2 answers with the association as it is
			return nil, r.DryRun()
		}
		undo, err := s.associationsReplaced(tx, addr, owner, target, reassociate)
		if err != nil {
			return nil, err
		}
		if target.NetworkInterfaceID == "" {
			// An elastic IP replaces the instance's launch address, unasked, as on EC2.
			if b, held, err := s.heldLaunchBinding(tx, owner, target.InstanceID); err != nil {
				return nil, err
			} else if held {
				undo = append(undo, b)
			}
		}
		if err := checkAddressLocks(tx, addr.AllocationID, target.Target(), undo); err != nil {
			return nil, err
		}
		if err := r.DryRun(); err != nil {
			return nil, err
		}
		target.AssociationID, target.Network = store.NewID("eipassoc"), s.instanceNetwork(target.PrivateIP)
		associationID = target.AssociationID
		return &store.AddressIntent{Owner: owner, AllocationID: addr.AllocationID, Undo: undo, Target: &store.AddressBinding{
			AllocationID: addr.AllocationID, PublicIP: addr.PublicIP, AddressAssociation: target,
		}, Started: s.now()}, nil
	}
	if err := s.changeAssociations(r, plan); err != nil {
		return nil, err
	}
	return &associateAddressResponse{Return: true, AssociationID: associationID}, nil
}

// instanceTarget is the association with the instance seen, checked
// again in tx: it must be able to take an address, and have privateIP
// when one is asked for.
func (s *Service) instanceTarget(tx store.Tx, seen *store.Instance, privateIP string) (store.AddressAssociation, error) {
	inst, err := s.reread(tx, seen)
	if err != nil {
		return store.AddressAssociation{}, err
	}
	if !contains(associableStates, inst.State) {
		return store.AddressAssociation{}, ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is %s; an elastic IP can be associated only with a running or stopped instance.", inst.ID, inst.State)
	}
	if inst.PrivateIP == "" {
		return store.AddressAssociation{}, ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' has no private address yet; try again in a few seconds.", inst.ID)
	}
	if privateIP != "" && privateIP != inst.PrivateIP {
		return store.AddressAssociation{}, ec2err.New(ec2err.InvalidParameterValue, "The instance '%s' has no private address %s; its address is %s.", inst.ID, privateIP, inst.PrivateIP)
	}
	return store.AddressAssociation{InstanceID: inst.ID, PrivateIP: inst.PrivateIP}, nil
}

// associationsReplaced returns the bindings an association of addr with
// target replaces: addr's own (if elsewhere) and the target's other
// address (an instance or interface has one public address). Replacing
// either needs AllowReassociation, so nothing is undone by surprise.
func (s *Service) associationsReplaced(tx store.Tx, addr *store.Address, owner string, target store.AddressAssociation, reassociate bool) ([]store.AddressBinding, error) {
	var undo []store.AddressBinding
	if b, ok := addr.Binding(); ok {
		if !reassociate {
			return nil, ec2err.New(ec2err.ResourceAlreadyAssociated, "The address %s (%s) is already associated with %s (%s); set AllowReassociation to move it.", addr.PublicIP, addr.AllocationID, b.Target(), b.AssociationID)
		}
		undo = append(undo, b)
	}
	other, err := store.FindAddress(tx, owner, func(a *store.Address) bool {
		return a.Association != nil && a.Association.InstanceID == target.InstanceID && a.Association.NetworkInterfaceID == target.NetworkInterfaceID
	})
	if err != nil || other == nil {
		return undo, err
	}
	if !reassociate {
		return nil, ec2err.New(ec2err.ResourceAlreadyAssociated, "%s already has the elastic IP %s (%s); set AllowReassociation to replace it.", target.Target(), other.PublicIP, other.Association.AssociationID)
	}
	b, _ := other.Binding()
	return append(undo, b), nil
}

// instanceNetwork is the private network an address lies in, for the
// scripts' context; "" when the backend's network is not known here.
func (s *Service) instanceNetwork(privateIP string) string {
	ip, err := netip.ParseAddr(privateIP)
	if err != nil {
		return ""
	}
	if pfx, err := netip.ParsePrefix(s.Config.Backend.Sim.CIDR); err == nil && s.Config.Backend.Name == "sim" && pfx.Contains(ip) {
		return pfx.String()
	}
	return ""
}

func (s *Service) disassociateAddress(r *Request) (any, error) {
	ref, err := addressRefParams(r.Params, "AssociationId")
	if err != nil {
		return nil, err
	}
	if err := s.changeAssociations(r, s.disassociation(r, ref)); err != nil {
		return nil, err
	}
	return ok()
}

// disassociation plans undoing the association of the address ref names,
// if it has one.
func (s *Service) disassociation(r *Request, ref addressRef) planFunc {
	owner := r.User.Name
	return func(tx store.Tx, settled []store.AddressBinding) (*store.AddressIntent, error) {
		addr, err := ref.find(tx, owner)
		if err != nil {
			// A retry whose association the re-run of a failed intent has just undone.
			if ec2err.Is(err, ec2err.InvalidAssociationIDNotFound) && boundAs(settled, ref.ID) {
				return nil, r.DryRun()
			}
			return nil, err
		}
		b, associated := addr.Binding()
		if err := checkAddressLocks(tx, addr.AllocationID, b.Target(), nil); err != nil {
			return nil, err
		}
		if !associated {
			return nil, r.DryRun() // already disassociated, nothing to do
		}
		if err := r.DryRun(); err != nil {
			return nil, err
		}
		return &store.AddressIntent{Owner: owner, AllocationID: addr.AllocationID, Undo: []store.AddressBinding{b}, Started: s.now()}, nil
	}
}

func boundAs(bindings []store.AddressBinding, associationID string) bool {
	for _, b := range bindings {
		if b.AssociationID == associationID {
			return true
		}
	}
	return false
}

func (s *Service) releaseAddress(r *Request) (any, error) {
	ref, err := addressRefParams(r.Params, "AllocationId")
	if err != nil {
		return nil, err
	}
	// Every instance here is in the default VPC, where EC2 disassociates
	// an address as it releases it. This step also answers a DryRun.
	if err := s.changeAssociations(r, s.disassociation(r, ref)); err != nil {
		return nil, err
	}
	owner := r.User.Name
	var released *store.Address
	plan := func(tx store.Tx, _ []store.AddressBinding) (*store.AddressIntent, error) {
		addr, err := ref.find(tx, owner)
		if err != nil {
			return nil, err
		}
		if err := checkAddressLocks(tx, addr.AllocationID, "", nil); err != nil {
			return nil, err
		}
		if b, associated := addr.Binding(); associated { // associated again meanwhile
			return nil, ec2err.New(ec2err.InvalidIPAddressInUse, "The address %s is associated with %s (%s); disassociate it (DisassociateAddress) before releasing it.", addr.PublicIP, b.InstanceID, b.AssociationID)
		}
		released = addr
		if s.Backend.Addresses != nil {
			addr.Pending = store.AddressReleasing
			return nil, store.PutAddress(tx, addr)
		}
		return nil, store.ReleaseAddress(tx, addr)
	}
	if err := s.changeAssociations(r, plan); err != nil {
		return nil, err
	}
	if _, err := s.addressInBackend(r.Context, released); err != nil {
		return nil, err
	}
	s.requestLog(r).Info().Str("allocation_id", released.AllocationID).Str("elastic_ip", released.PublicIP).Msg("elastic IP released")
	return ok()
}

// associationUndo plans undoing the owner's elastic IP association that
// match picks (an instance's, or an interface's), if there is one; holder
// (that instance or interface) is what the address locks are checked for.
func (s *Service) associationUndo(owner, holder string, match func(*store.AddressAssociation) bool) planFunc {
	return func(tx store.Tx, _ []store.AddressBinding) (*store.AddressIntent, error) {
		addr, err := store.FindAddress(tx, owner, func(a *store.Address) bool {
			return a.Association != nil && match(a.Association)
		})
		if err != nil || addr == nil {
			return nil, err
		}
		b, _ := addr.Binding()
		if err := checkAddressLocks(tx, addr.AllocationID, holder, nil); err != nil {
			return nil, err
		}
		return &store.AddressIntent{Owner: owner, AllocationID: addr.AllocationID, Undo: []store.AddressBinding{b}, Started: s.now()}, nil
	}
}

// releaseAddresses disassociates the addresses of terminated instances,
// running the disassociate script. A failure leaves a Failed intent that a
// retried TerminateInstances (or DisassociateAddress, or a restart) re-runs.
func (s *Service) releaseAddresses(r *Request, instanceIDs []string) error {
	owner := r.User.Name
	var errs []error
	for _, id := range instanceIDs {
		plan := s.associationUndo(owner, id, func(as *store.AddressAssociation) bool { return as.InstanceID == id })
		errs = append(errs, s.changeAssociations(r, plan))
	}
	return errors.Join(errs...)
}

// planFunc checks a request in the transaction and returns the intent to
// carry out (nil when the transaction itself did all there was to do).
// settled lists the bindings a re-run of a failed intent has just undone.
type planFunc func(tx store.Tx, settled []store.AddressBinding) (*store.AddressIntent, error)

// changeAssociations runs the three steps (see the top of this file). When
// the plan meets a failed intent, that intent is re-run first and the plan
// tried again, once.
func (s *Service) changeAssociations(r *Request, plan planFunc) error {
	// Scripts run to the end even if the client hangs up: a script killed
	// half-way would leave work for the undo to guess at.
	ctx := context.WithoutCancel(r.Context)
	var settled []store.AddressBinding
	for attempt := 0; ; attempt++ {
		var intent *store.AddressIntent
		err := s.Store.Update(func(tx store.Tx) error {
			var err error
			if intent, err = plan(tx, settled); err != nil || intent == nil {
				return err
			}
			intent.Replica = s.Replica
			return store.PutAddressIntent(tx, intent)
		})
		var stale *staleIntentError
		if errors.As(err, &stale) && attempt == 0 {
			if settled, err = s.rerunFailedIntent(ctx, stale.intent); err != nil {
				return err
			}
			continue
		}
		if err != nil || intent == nil {
			return err
		}
		return s.carryOut(ctx, intent)
	}
}

// staleIntentError is a plan meeting a Failed intent: not in flight, so it
// can be claimed and re-run.
type staleIntentError struct{ intent *store.AddressIntent }

func (e *staleIntentError) Error() string {
	return "elastic IP intent " + e.intent.AllocationID + " failed earlier and must be re-run"
}

// checkAddressLocks refuses a change while another is in flight for the
// allocation, the target (instance or interface) or any binding to undo;
// a failed intent in the way is returned as a staleIntentError.
func checkAddressLocks(tx store.Tx, allocationID, target string, undo []store.AddressBinding) error {
	intents, err := store.ListAddressIntents(tx)
	if err != nil {
		return err
	}
	for _, in := range intents {
		touched := in.Touches(allocationID, target)
		for _, b := range undo {
			touched = touched || in.Touches(b.AllocationID, b.Target())
		}
		switch {
		case !touched:
		case in.Failed:
			return &staleIntentError{intent: in}
		default:
			return changeInProgress(in.AllocationID)
		}
	}
	return nil
}

func changeInProgress(allocationID string) error {
	return ec2err.New(ec2err.IncorrectState, "Another change of the elastic IP %s (or of an instance it involves) is in progress; try again in a few seconds.", allocationID)
}

// rerunFailedIntent claims a failed intent (so no other request re-runs it
// too) and carries out its disassociations; it returns what it undid.
func (s *Service) rerunFailedIntent(ctx context.Context, failed *store.AddressIntent) ([]store.AddressBinding, error) {
	var claimed *store.AddressIntent
	err := s.Store.Update(func(tx store.Tx) error {
		in, err := store.GetAddressIntent(tx, failed.AllocationID)
		if err != nil {
			return err
		}
		if in == nil || !in.Failed {
			return changeInProgress(failed.AllocationID)
		}
		in.Failed, in.Replica = false, s.Replica
		claimed = in
		return store.PutAddressIntent(tx, in)
	})
	if err != nil {
		return nil, err
	}
	return claimed.Undo, s.carryOut(ctx, claimed)
}

// carryOut runs an intent's scripts and records the outcome (steps 2 and 3).
// The launch addresses its outcome gives (an instance whose elastic IP
// went) are carried out after it.
func (s *Service) carryOut(ctx context.Context, in *store.AddressIntent) error {
	var w wiring
	defer s.carryOutLaunch(ctx, &w)
	started := s.scriptStarted(in.AllocationID)
	for i, b := range in.Undo {
		if err := s.provider().Disassociate(ctx, s.association(in.Owner, b), started); err != nil {
			// Those before i are undone; i and the rest are still owed.
			if ferr := s.finishIntent(in, in.Undo[:i], nil, in.Undo[i:], &w); ferr != nil {
				return ferr
			}
			return scriptFailure("Disassociating", b, err, "it is retried when you retry the request")
		}
	}
	if in.Target == nil {
		return s.finishIntent(in, in.Undo, nil, nil, &w)
	}
	err := s.provider().Associate(ctx, s.association(in.Owner, *in.Target), started)
	if err == nil {
		if err = s.finishIntent(in, in.Undo, in.Target, nil, &w); !targetGone(err) {
			return err
		}
	}
	// The script may have done half its work before failing, or the
	// instance was terminated meanwhile: undo it.
	undone, owed := in.Undo, []store.AddressBinding(nil)
	if uerr := s.provider().Disassociate(ctx, s.association(in.Owner, *in.Target), started); uerr != nil {
		owed = []store.AddressBinding{*in.Target}
	} else if in.Target.Launch {
		// Recorded when it was given: its record goes now.
		undone = append(slices.Clip(undone), *in.Target)
	}
	if ferr := s.finishIntent(in, undone, nil, owed, &w); ferr != nil {
		return ferr
	}
	if targetGone(err) {
		return err
	}
	return scriptFailure("Associating", *in.Target, err, "the address is not associated")
}

// scriptStarted records a script's process group in the intent before the
// script runs, for start-up to stop it should the server crash meanwhile.
func (s *Service) scriptStarted(allocationID string) elasticip.Started {
	return func(p elasticip.Process) error {
		return s.Store.Update(func(tx store.Tx) error {
			in, err := store.GetAddressIntent(tx, allocationID)
			if err != nil {
				return err
			}
			if in == nil {
				return fmt.Errorf("the intent of %s is gone", allocationID)
			}
			in.Script = &store.ScriptProcess{PGID: p.PGID, StartTime: p.StartTime}
			return store.PutAddressIntent(tx, in)
		})
	}
}

// finishIntent records the outcome of an intent in one transaction: undone
// bindings cleared, made set, and either the intent deleted or, when
// disassociations are still owed, kept as Failed with just those. A made
// binding whose instance has been terminated meanwhile is refused with
// IncorrectInstanceState and nothing is recorded: TerminateInstances has
// already released the instance's addresses, and did not see this one.
//
// A launch address (Binding.Launch) was recorded when it was given: made,
// it must still be the instance's; undone, its record goes; owed, the
// instance stops showing it, and it stays taken until the re-run. Launch
// addresses given meanwhile (an instance whose elastic IP went) go to w.
func (s *Service) finishIntent(in *store.AddressIntent, undone []store.AddressBinding, made *store.AddressBinding, owed []store.AddressBinding, w *wiring) error {
	err := s.Store.Update(func(tx store.Tx) error {
		w.reset()
		// The intent goes first, so that a launch address undone below
		// sees no intent of its own still owing its disassociation.
		if len(owed) == 0 {
			if err := store.DeleteAddressIntent(tx, in.AllocationID); err != nil {
				return err
			}
		} else {
			left := *in
			// No script runs for it now: the failed call has reaped its own.
			left.Undo, left.Target, left.Failed, left.Script = owed, nil, true, nil
			if err := store.PutAddressIntent(tx, &left); err != nil {
				return err
			}
		}
		for _, b := range undone {
			if err := s.clearBinding(tx, in.Owner, b, w); err != nil {
				return err
			}
		}
		for _, b := range owed {
			if b.Launch {
				if err := clearLaunchBinding(tx, in.Owner, b, false); err != nil {
					return err
				}
			}
		}
		switch {
		case made == nil:
			return nil
		case made.Launch:
			return requireLaunchHeld(tx, in.Owner, *made)
		}
		if err := requireLiveTarget(tx, in.Owner, made.AddressAssociation); err != nil {
			return err
		}
		return setBinding(tx, in.Owner, *made)
	})
	if err != nil {
		w.reset() // what a rolled-back run collected was never given
	}
	if err != nil && !targetGone(err) {
		s.Log.Error().Err(err).Str("allocation_id", in.AllocationID).Msg("recording the outcome of an elastic IP change failed; start-up reconciliation will redo it")
	}
	return err
}

// requireLiveTarget fails when the target of b is gone (or going, an
// instance), as its record in tx says.
func requireLiveTarget(tx store.Tx, owner string, b store.AddressAssociation) error {
	if b.NetworkInterfaceID != "" {
		ni, err := store.GetNetworkInterface(tx, owner, b.NetworkInterfaceID)
		if err == nil && ni == nil {
			err = ec2err.New(ec2err.InvalidNetworkInterfaceIDNotFound, "The network interface '%s' was deleted while the elastic IP was being associated with it; the address is not associated.", b.NetworkInterfaceID)
		}
		return err
	}
	instanceID := b.InstanceID
	inst, err := store.GetInstance(tx, owner, instanceID)
	if err != nil {
		return err
	}
	if inst == nil || inst.State == string(backend.ShuttingDown) || inst.State == string(backend.Terminated) {
		return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' was terminated while the elastic IP was being associated with it; the address is not associated.", instanceID)
	}
	return nil
}

// targetGone reports whether a change failed because its instance or
// interface went meanwhile (requireLiveTarget).
func targetGone(err error) bool {
	return ec2err.Is(err, ec2err.IncorrectInstanceState) || ec2err.Is(err, ec2err.InvalidNetworkInterfaceIDNotFound)
}

// clearBinding records a binding as undone: on its address and its
// instance or interface, only where the records still say so. An instance
// left with no public address gets a launch address if it should have
// one (w collects its intent).
func (s *Service) clearBinding(tx store.Tx, owner string, b store.AddressBinding, w *wiring) error {
	if b.Launch {
		return clearLaunchBinding(tx, owner, b, true)
	}
	addr, err := store.GetAddress(tx, owner, b.AllocationID)
	if err != nil {
		return err
	}
	if addr != nil && addr.Association != nil && addr.Association.AssociationID == b.AssociationID {
		addr.Association = nil
		if err := store.PutAddress(tx, addr); err != nil {
			return err
		}
	}
	if b.NetworkInterfaceID != "" {
		return setInterfacePublicIP(tx, owner, b.NetworkInterfaceID, b.PublicIP, "")
	}
	inst, err := store.GetInstance(tx, owner, b.InstanceID)
	if err != nil || inst == nil || inst.PublicIP != b.PublicIP {
		return err
	}
	inst.PublicIP, inst.PublicDNSName = "", ""
	if err := s.moveLaunchAddress(tx, inst, w); err != nil {
		return err
	}
	return store.PutInstance(tx, inst)
}

// setInterfacePublicIP moves the interface's public address from was to
// ip, if it is there and was still says so ("" matches any).
func setInterfacePublicIP(tx store.Tx, owner, id, was, ip string) error {
	ni, err := store.GetNetworkInterface(tx, owner, id)
	if err != nil || ni == nil || (was != "" && ni.PublicIP != was) {
		return err
	}
	ni.PublicIP = ip
	return store.PutNetworkInterface(tx, ni)
}

// setBinding records a binding as made. The public DNS name is the address
// itself: no DNS here resolves ec2-203-0-113-10.compute-1.amazonaws.com,
// and clients (hadoop-ec2 among them) ssh to whatever dnsName says.
func setBinding(tx store.Tx, owner string, b store.AddressBinding) error {
	addr, err := store.GetAddress(tx, owner, b.AllocationID)
	if err != nil {
		return err
	}
	if addr != nil {
		addr.Association = &b.AddressAssociation
		if err := store.PutAddress(tx, addr); err != nil {
			return err
		}
	}
	if b.NetworkInterfaceID != "" {
		return setInterfacePublicIP(tx, owner, b.NetworkInterfaceID, "", b.PublicIP)
	}
	inst, err := store.GetInstance(tx, owner, b.InstanceID)
	if err != nil || inst == nil {
		return err
	}
	inst.PublicIP, inst.PublicDNSName = b.PublicIP, b.PublicIP
	return store.PutInstance(tx, inst)
}

func (s *Service) association(owner string, b store.AddressBinding) elasticip.Association {
	return elasticip.Association{
		PublicIP: b.PublicIP, PrivateIP: b.PrivateIP, InstanceID: b.InstanceID, Owner: owner,
		AllocationID: b.AllocationID, AssociationID: b.AssociationID, Network: b.Network, Launch: b.Launch,
	}
}

// scriptFailure is what the student sees of a failed provider call: what
// failed and what state it left. The script's output is only in the log.
func scriptFailure(doing string, b store.AddressBinding, err error, outcome string) error {
	if errors.As(err, new(*backend.Error)) {
		return backendError(err, refusals{}) // the cloud's refusal, with its code
	}
	return &ec2err.Error{
		Code:    ec2err.InternalError,
		Message: doing + " the elastic IP " + b.PublicIP + " and instance " + b.InstanceID + " failed on the server side; " + outcome + ". If it keeps failing, tell your administrator (with this request ID).",
		Detail:  err.Error(),
	}
}

// reconcileWorkers bounds how many unfinished intents start-up undoes at
// once: each may run scripts for up to script_timeout.
const reconcileWorkers = 8

// Reconciliation is start-up's undoing of unfinished intents, running in
// the background while the API serves.
type Reconciliation struct {
	Pending int // intents being undone
	done    chan struct{}
}

// Done is closed once every intent is undone, or marked Failed for the
// next request touching it.
func (r *Reconciliation) Done() <-chan struct{} { return r.done }

// poolIPs is the configured elastic IP pool, one address each.
func (s *Service) poolIPs() ([]string, error) {
	pool, err := s.Config.PoolAddresses()
	if err != nil {
		return nil, err
	}
	ips := make([]string, len(pool))
	for i, a := range pool {
		ips[i] = a.String()
	}
	return ips, nil
}

// SyncAddressPool makes the stored pool the configured one. The pool is
// configuration, so every replica does it before serving, whichever one
// leads the background work (ReconcileAddresses, on the leader, does it
// again with the intents it claims).
func (s *Service) SyncAddressPool() error {
	ips, err := s.poolIPs()
	if err != nil {
		return err
	}
	return s.Store.Update(func(tx store.Tx) error { return store.SyncAddressPool(tx, ips) })
}

// ReconcileAddresses brings the address records in line with the
// configuration and the network: the pool bucket is rebuilt from
// elastic_ips.pool, and every intent of a replica that is gone (orphaned:
// left by a crash, or by a failure) is claimed (no longer Failed, now this
// replica's), so it keeps its addresses and instances locked
// (IncorrectState) while it is undone and no request or later pass re-runs
// it meanwhile. The leader calls it (on bbolt at start-up, before any
// request). The undoing runs in the background,
// reconcileWorkers intents at a time, until ctx ends: for each, the script
// the crash may have left running is stopped, then its disassociations
// are re-run and a half-made association disassociated. An intent whose
// scripts fail again stays, marked Failed, and is re-run by the next
// request touching it.
func (s *Service) ReconcileAddresses(ctx context.Context, orphaned Orphaned) (*Reconciliation, error) {
	ips, err := s.poolIPs()
	if err != nil {
		return nil, err
	}
	var intents []*store.AddressIntent
	var leftBy []string // the replica each intent was claimed from
	err = s.Store.Update(func(tx store.Tx) error {
		intents, leftBy = nil, nil
		if err := store.SyncAddressPool(tx, ips); err != nil {
			return err
		}
		all, err := store.ListAddressIntents(tx)
		if err != nil {
			return err
		}
		for _, in := range all {
			if !orphaned(in.Replica) {
				continue
			}
			intents, leftBy = append(intents, in), append(leftBy, in.Replica)
			if in.Failed || in.Replica != s.Replica {
				in.Failed, in.Replica = false, s.Replica
				if err := store.PutAddressIntent(tx, in); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rec := &Reconciliation{Pending: len(intents), done: make(chan struct{})}
	go func() {
		defer close(rec.done)
		slots := make(chan struct{}, reconcileWorkers)
		var wg sync.WaitGroup
		for i, in := range intents {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				s.reconcileIntent(ctx, in, leftBy[i])
			}()
		}
		wg.Wait()
	}()
	return rec, nil
}

// reconcileIntent undoes one unfinished intent that replica leftBy left
// (see ReconcileAddresses).
func (s *Service) reconcileIntent(ctx context.Context, in *store.AddressIntent, leftBy string) {
	log := s.Log.With().Str("allocation_id", in.AllocationID).Str("user", in.Owner).Logger()
	// A script is a process of its replica's host: one another host left
	// died with its server (scriptrun's parent death signal) or its host.
	if p := in.Script; p != nil && replicaHost(leftBy) == replicaHost(s.Replica) {
		// Left running, it could redo its work after the undo.
		if err := elasticip.StopGroup(ctx, elasticip.Process{PGID: p.PGID, StartTime: p.StartTime}); err != nil {
			log.Error().Err(err).Int("pgid", p.PGID).Msg("cannot stop the elastic IP script a crash left running; the change stays locked until the next start")
			return
		}
	}
	// Whether Target was made before the crash is unknown: undo it too.
	in.Undo, in.Target = in.Bindings(), nil
	err := s.carryOut(ctx, in)
	log.Warn().Err(err).Bool("settled", err == nil).Msg("reconciled an unfinished elastic IP change")
}

// replicaHost is the host of a replica id (HOST/PID/…; "" on bbolt).
func replicaHost(replica string) string {
	host, _, _ := strings.Cut(replica, "/")
	return host
}

type addressItem struct {
	AllocationID       string       `xml:"allocationId"`
	AssociationID      string       `xml:"associationId,omitempty"`
	Domain             string       `xml:"domain"`
	NetworkInterfaceID string       `xml:"networkInterfaceId,omitempty"`
	InterfaceOwnerID   string       `xml:"networkInterfaceOwnerId,omitempty"`
	PrivateIP          string       `xml:"privateIpAddress,omitempty"`
	Tags               []addressTag `xml:"tagSet>item,omitempty"`
	PublicIPv4Pool     string       `xml:"publicIpv4Pool"`
	NetworkBorderGroup string       `xml:"networkBorderGroup"`
	InstanceID         string       `xml:"instanceId,omitempty"`
	PublicIP           string       `xml:"publicIp"`
}

type addressTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type describeAddressesResponse struct {
	Meta
	Addresses []addressItem `xml:"addressesSet>item"`
}

// addressAttrs answers DescribeAddresses' filters for one address.
func (s *Service) addressAttrs(a *store.Address, tags []store.Tag, accountID string) Attrs {
	assoc := store.AddressAssociation{}
	if a.Association != nil {
		assoc = *a.Association
	}
	return func(name string) ([]string, bool) {
		if v, known := tagAttrs(tags, name); known {
			return v, true
		}
		switch name {
		case "domain":
			return []string{a.Domain}, true
		case "public-ip":
			return []string{a.PublicIP}, true
		case "allocation-id":
			return []string{a.AllocationID}, true
		case "instance-id":
			return addressValue(assoc.InstanceID), true
		case "association-id":
			return addressValue(assoc.AssociationID), true
		case "private-ip-address":
			return addressValue(assoc.PrivateIP), true
		case "network-border-group":
			return []string{s.Config.Region}, true
		case "network-interface-id":
			return addressValue(addressInterface(a)), true
		case "network-interface-owner-id":
			if addressInterface(a) == "" {
				return nil, true
			}
			return []string{accountID}, true
		}
		return nil, false
	}
}

func addressValue(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func (s *Service) describeAddresses(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, s.addressAttrs(&store.Address{}, nil, "")); err != nil {
		return nil, err
	}
	ips, allocs := r.Params.List("PublicIp"), r.Params.List("AllocationId")
	for _, id := range allocs {
		if !store.ValidID("eipalloc", id) {
			return nil, malformedAddressID(ec2err.InvalidAllocationIDMalformed, "eipalloc", id)
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	resp := &describeAddressesResponse{}
	err = s.Store.View(func(tx store.Tx) error {
		all, err := store.ListAddresses(tx, owner)
		if err != nil {
			return err
		}
		if err := requireListed(all, ips, allocs); err != nil {
			return err
		}
		for _, a := range all {
			if a.Pending == store.AddressAllocating {
				continue // no address yet
			}
			if (len(ips) > 0 || len(allocs) > 0) && !contains(ips, a.PublicIP) && !contains(allocs, a.AllocationID) {
				continue
			}
			if a, err = shownAddress(tx, a); err != nil {
				return err
			}
			tags, err := store.Tags(tx, owner, a.AllocationID)
			if err != nil {
				return err
			}
			if matchFilters(filters, s.addressAttrs(a, tags, r.User.AccountID)) {
				resp.Addresses = append(resp.Addresses, s.addressItem(r, a, tags))
			}
		}
		return nil
	})
	return resp, err
}

// requireListed fails when an address asked for by name is not the user's,
// as EC2 does rather than answering with fewer items.
func requireListed(all []*store.Address, ips, allocs []string) error {
	have := map[string]bool{}
	for _, a := range all {
		have[a.PublicIP], have[a.AllocationID] = true, true
	}
	for _, ip := range ips {
		if !have[ip] {
			return ec2err.New(ec2err.InvalidAddressNotFound, "Address '%s' not found.", ip)
		}
	}
	for _, id := range allocs {
		if !have[id] {
			return ec2err.New(ec2err.InvalidAllocationIDNotFound, "The allocation ID '%s' does not exist", id)
		}
	}
	return nil
}

func (s *Service) addressItem(r *Request, a *store.Address, tags []store.Tag) addressItem {
	item := addressItem{
		AllocationID: a.AllocationID, Domain: a.Domain, PublicIP: a.PublicIP,
		PublicIPv4Pool: "amazon", NetworkBorderGroup: s.Config.Region,
	}
	if a.Association != nil {
		item.AssociationID = a.Association.AssociationID
		item.InstanceID = a.Association.InstanceID
		item.PrivateIP = a.Association.PrivateIP
	}
	// boto 2's parser ends an address at a nested </item> (compat item 2):
	// old API versions get no tagSet.
	if !r.Before(DefaultVersion) {
		if item.NetworkInterfaceID = addressInterface(a); item.NetworkInterfaceID != "" {
			item.InterfaceOwnerID = r.User.AccountID
		}
		for _, t := range tags {
			item.Tags = append(item.Tags, addressTag{Key: t.Key, Value: t.Value})
		}
	}
	return item
}

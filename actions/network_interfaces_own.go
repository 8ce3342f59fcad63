package actions

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// The network interfaces a student creates (store.NetworkInterface):
// CreateNetworkInterface, DeleteNetworkInterface, Attach/Detach and
// ModifyNetworkInterfaceAttribute. An interface holds its private address
// through the backend's InterfaceAddresses ability (the sim's allocation,
// shared with the machines), from creation to deletion; attaching one is
// a record only. When its instance terminates, transition detaches it
// (detachInterfaces), or deletes it when its attachment says so
// (DeleteOnTermination, set by ModifyNetworkInterfaceAttribute).

// networkInterfaceResource is the TagSpecification resource type.
const networkInterfaceResource = "network-interface"

// The CreateNetworkInterface fields econe does not offer: one private
// IPv4 address per interface.
var unsupportedCreateInterfaceFields = []string{
	"SecondaryPrivateIpAddressCount", "PrivateIpAddresses", "Ipv6AddressCount", "Ipv6Addresses",
	"Ipv4Prefix", "Ipv4PrefixCount", "Ipv6Prefix", "Ipv6PrefixCount", "EnablePrimaryIpv6",
}

// interfacesAllowed refuses what makes or attaches an interface where the
// backend cannot hold its address: on the ec2 backend, as other network
// creation is refused there (backend.ec2.allow_vpcs), and on any backend
// without the ability.
func (s *Service) interfacesAllowed() error {
	if err := s.networksAllowed(); err != nil {
		return ec2err.New(ec2err.UnsupportedOperation, "Creating and attaching network interfaces is not offered on this course's cloud: your instances use the course network (your default VPC). Ask your instructor (backend.ec2.allow_vpcs).")
	}
	if s.Backend.Interfaces == nil {
		return ec2err.New(ec2err.UnsupportedOperation, "Network interfaces of your own are not offered on this cloud: its backend (%s) gives addresses to instances only. Use each instance's own interface.", s.Config.Backend.Name)
	}
	return nil
}

// interfaceMAC is a locally administered MAC (0x0e), as EC2's are.
func interfaceMAC(id string) string {
	h := sha256.Sum256([]byte(id))
	x := hex.EncodeToString(h[:5])
	return "0e:" + x[0:2] + ":" + x[2:4] + ":" + x[4:6] + ":" + x[6:8] + ":" + x[8:10]
}

type createNetworkInterfaceResponse struct {
	Meta
	NetworkInterface networkInterfaceXML `xml:"networkInterface"`
}

func (s *Service) createNetworkInterface(r *Request) (any, error) {
	if err := s.interfacesAllowed(); err != nil {
		return nil, err
	}
	p := r.Params
	subnetID, err := requiredID(p, "SubnetId", "subnet", ec2err.InvalidSubnetIDMalformed)
	if err != nil {
		return nil, err
	}
	for _, f := range append(unsupportedCreateInterfaceFields, "InterfaceType") {
		if p.Has(f) || len(p.Struct(f).Values()) > 0 {
			return nil, ec2err.New(ec2err.UnsupportedOperation, "%s is not supported here: a network interface has one private IPv4 address from its subnet.", f)
		}
	}
	desc := p.String("Description")
	if len(desc) > maxInterfaceDescription {
		return nil, ec2err.BadValue("Description", desc, "It must be at most 255 characters.")
	}
	want := p.String("PrivateIpAddress")
	if want != "" {
		if a, err := netip.ParseAddr(want); err != nil || !a.Is4() {
			return nil, ec2err.BadValue("PrivateIpAddress", want, "It must be an IPv4 address.")
		}
	}
	groupIDs := p.List("SecurityGroupId")
	if err := checkIDs(groupIDs, "sg", ec2err.InvalidGroupIDMalformed); err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(p, networkInterfaceResource)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	if err := s.ensureDefaultNetwork(owner); err != nil {
		return nil, err
	}
	id := store.NewID("eni")
	var ni *store.NetworkInterface
	err = s.Store.Update(func(tx store.Tx) error {
		sn, err := s.subnetByID(tx, owner, subnetID)
		if err != nil {
			return err
		}
		if want != "" {
			if err := checkSubnetAddress(sn, want); err != nil {
				return err
			}
		}
		groups, _, err := s.subnetGroups(tx, owner, sn, nil, groupIDs)
		if err != nil {
			return err
		}
		// The limit keeps one student from holding the addresses of a
		// range the students share (the default VPC).
		if err := s.checkQuota(tx, r.User, quota.Delta{NetworkInterfaces: 1}); err != nil {
			return err
		}
		ip, dns, err := s.Backend.Interfaces.HoldAddress(tx, id, backendSubnet(sn), want)
		if err != nil {
			return interfaceBackendError(err)
		}
		ni = &store.NetworkInterface{
			ID: id, Owner: owner, SubnetID: sn.ID, VpcID: sn.VpcID, Zone: sn.Zone, PrivateIP: ip, PrivateDNS: dns,
			MAC: interfaceMAC(id), Description: desc, Groups: groups, Created: s.now(),
		}
		if err := store.PutNetworkInterface(tx, ni); err != nil {
			return err
		}
		return putTags(tx, owner, id, tags)
	})
	if err != nil {
		return nil, err
	}
	s.requestLog(r).Info().Str("network_interface_id", id).Str("subnet_id", ni.SubnetID).Msg("network interface created")
	return &createNetworkInterfaceResponse{NetworkInterface: ownInterface(ni, r.User.AccountID, nil, tags)}, nil
}

// interfaceBackendError is the student's error for a backend's refusal of
// an interface address (an address in use keeps its code).
func interfaceBackendError(err error) error {
	if errors.As(err, new(*backend.Error)) {
		return backendError(err, refusals{})
	}
	return err
}

// requiredInterface reads NetworkInterfaceId.
func requiredInterface(p *query.Params) (string, error) {
	return requiredID(p, "NetworkInterfaceId", "eni", ec2err.InvalidNetworkInterfaceIDMalformed)
}

// ownInterfaceByID is the caller's interface id in tx, or NotFound.
func ownInterfaceByID(tx store.Tx, owner, id string) (*store.NetworkInterface, error) {
	ni, err := store.GetNetworkInterface(tx, owner, id)
	if err == nil && ni == nil {
		err = interfaceNotFound([]string{id})
	}
	return ni, err
}

func interfaceInUse(ni *store.NetworkInterface) error {
	return ec2err.New(ec2err.InvalidNetworkInterfaceInUse, "Interface: [%s] in use: it is attached to %s (%s); detach it first (DetachNetworkInterface).", ni.ID, ni.Attachment.InstanceID, ni.Attachment.ID)
}

func (s *Service) deleteNetworkInterface(r *Request) (any, error) {
	id, err := requiredInterface(r.Params)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	// An instance whose termination nobody described yet holds it no more.
	if err := s.settle(r); err != nil {
		return nil, err
	}
	// EC2 releases the interface's elastic IP with it: disassociate it
	// first, through the one path of addresses.go.
	if err := s.changeAssociations(r, s.interfaceDisassociation(owner, id)); err != nil {
		return nil, err
	}
	err = s.Store.Update(func(tx store.Tx) error {
		ni, err := ownInterfaceByID(tx, owner, id)
		switch {
		case err != nil:
			return err
		case ni.Attachment != nil:
			return interfaceInUse(ni)
		case ni.PublicIP != "": // associated again meanwhile
			return ec2err.New(ec2err.InvalidNetworkInterfaceInUse, "Interface: [%s] has the elastic IP %s; disassociate it first (DisassociateAddress).", id, ni.PublicIP)
		}
		return s.removeInterface(tx, ni)
	})
	if err != nil {
		return nil, err
	}
	s.requestLog(r).Info().Str("network_interface_id", id).Msg("network interface deleted")
	return ok()
}

// removeInterface deletes ni and gives its address back to the backend.
func (s *Service) removeInterface(tx store.Tx, ni *store.NetworkInterface) error {
	if s.Backend.Interfaces != nil {
		sn, err := store.GetSubnet(tx, ni.Owner, ni.SubnetID)
		if err != nil {
			return err
		}
		if sn != nil {
			if err := s.Backend.Interfaces.ReleaseAddress(tx, ni.ID, backendSubnet(sn), ni.PrivateIP); err != nil {
				return err
			}
		}
	}
	return store.DeleteNetworkInterface(tx, ni.Owner, ni.ID)
}

// interfaceDisassociation plans undoing the elastic IP association of the
// owner's interface id, if it has one.
func (s *Service) interfaceDisassociation(owner, id string) planFunc {
	return s.associationUndo(owner, id, func(as *store.AddressAssociation) bool { return as.NetworkInterfaceID == id })
}

type attachNetworkInterfaceResponse struct {
	Meta
	AttachmentID     string `xml:"attachmentId"`
	NetworkCardIndex int    `xml:"networkCardIndex"`
}

func (s *Service) attachNetworkInterface(r *Request) (any, error) {
	if err := s.interfacesAllowed(); err != nil {
		return nil, err
	}
	p := r.Params
	id, err := requiredInterface(p)
	if err != nil {
		return nil, err
	}
	instanceID, err := requiredID(p, "InstanceId", "i", ec2err.InvalidInstanceIDMalformed)
	if err != nil {
		return nil, err
	}
	if _, err := p.Required("DeviceIndex"); err != nil {
		return nil, err
	}
	index, err := p.Int("DeviceIndex", 0)
	if err != nil {
		return nil, err
	}
	if index < 0 {
		return nil, ec2err.BadValue("DeviceIndex", strconv.Itoa(index), "It must be 1 or more: device 0 is the instance's primary interface.")
	}
	if card, err := p.Int("NetworkCardIndex", 0); err != nil || card != 0 {
		if err == nil {
			err = ec2err.New(ec2err.UnsupportedOperation, "NetworkCardIndex %d is not supported here: instances have one network card (0).", card)
		}
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	seen, err := s.currentInstance(r, instanceID)
	if err != nil {
		return nil, err
	}
	attachmentID := store.NewID("eni-attach")
	err = s.Store.Update(func(tx store.Tx) error {
		inst, err := s.reread(tx, seen)
		if err != nil {
			return err
		}
		if !contains(associableStates, inst.State) {
			return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is %s; a network interface can be attached only to a running or stopped instance.", inst.ID, inst.State)
		}
		ni, err := ownInterfaceByID(tx, owner, id)
		if err != nil {
			return err
		}
		if ni.Attachment != nil {
			return interfaceInUse(ni)
		}
		if ni.Zone != inst.Zone {
			return ec2err.New(ec2err.InvalidParameterValue, "The network interface %s is in %s and the instance %s in %s: they must be in the same availability zone.", id, ni.Zone, inst.ID, inst.Zone)
		}
		if index == 0 {
			return deviceTaken(inst.ID, index)
		}
		on, err := store.ListInterfacesOn(tx, owner, []string{inst.ID})
		if err != nil {
			return err
		}
		for _, other := range on {
			if other.Attachment != nil && other.Attachment.DeviceIndex == index {
				return deviceTaken(inst.ID, index)
			}
		}
		ni.Attachment = &store.InterfaceAttachment{ID: attachmentID, InstanceID: inst.ID, DeviceIndex: index, AttachTime: s.now()}
		return store.PutNetworkInterface(tx, ni)
	})
	if err != nil {
		return nil, err
	}
	s.requestLog(r).Info().Str("network_interface_id", id).Str("instance_id", instanceID).Int("device_index", index).Msg("network interface attached")
	return &attachNetworkInterfaceResponse{AttachmentID: attachmentID}, nil
}

func deviceTaken(instanceID string, index int) error {
	return ec2err.New(ec2err.InvalidParameterValue, "Instance '%s' already has an interface attached at device index '%d'.", instanceID, index)
}

func (s *Service) detachNetworkInterface(r *Request) (any, error) {
	attachmentID, err := r.Params.Required("AttachmentId")
	if err != nil {
		return nil, err
	}
	if _, err := r.Params.Bool("Force", false); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		nis, err := store.ListNetworkInterfaces(tx, owner)
		if err != nil {
			return err
		}
		for _, ni := range nis {
			if a := ni.Attachment; a != nil && a.ID == attachmentID {
				if a.DeviceIndex == 0 {
					return primaryNotDetachable()
				}
				ni.Attachment = nil
				return store.PutNetworkInterface(tx, ni)
			}
		}
		insts, err := store.ListInstances(tx, owner)
		if err != nil {
			return err
		}
		for _, inst := range insts {
			if hasInterface(inst) && interfaceOf(inst).attachmentID == attachmentID {
				return primaryNotDetachable()
			}
		}
		return ec2err.New(ec2err.InvalidAttachmentIDNotFound, "The attachment ID '%s' does not exist", attachmentID)
	})
	if err != nil {
		return nil, err
	}
	s.requestLog(r).Info().Str("attachment_id", attachmentID).Msg("network interface detached")
	return ok()
}

// attachPrimary attaches ni as the primary interface (device 0) of the
// instance id being launched on it.
func attachPrimary(tx store.Tx, ni *store.NetworkInterface, id string, now time.Time) error {
	ni.Attachment = &store.InterfaceAttachment{ID: store.NewID("eni-attach"), InstanceID: id, AttachTime: now}
	return store.PutNetworkInterface(tx, ni)
}

func primaryNotDetachable() error {
	return ec2err.New(ec2err.OperationNotPermitted, "The network interface at device index 0 and networkCard index 0 cannot be detached.")
}

// setPrimaryGroups gives the interface inst was launched on (device 0)
// the instance's new groups. With interfaces of the student's attached
// beside its primary, EC2 wants the change made on an interface instead.
func setPrimaryGroups(tx store.Tx, inst *store.Instance, refs []store.GroupRef) error {
	on, err := store.ListInterfacesOn(tx, inst.Owner, []string{inst.ID})
	if err != nil {
		return err
	}
	for _, ni := range on {
		if ni.Attachment.DeviceIndex != 0 {
			return ec2err.New(ec2err.InvalidInstanceID, "There are multiple interfaces attached to instance '%s'. Please specify an interface ID for the operation instead (ModifyNetworkInterfaceAttribute).", inst.ID)
		}
	}
	if !tx.Writable() { // updateInstance's check of the change, before the backend's
		return nil
	}
	for _, ni := range on {
		ni.Groups = refs
		if err := store.PutNetworkInterface(tx, ni); err != nil {
			return err
		}
	}
	return nil
}

// detachInterfaces detaches the student's interfaces from inst, which has
// just terminated (transition calls it in the same transaction), and
// deletes those whose attachment is DeleteOnTermination. One that still
// has an elastic IP is only detached: its address is disassociated
// through the provider (releaseInterfaceAddresses, when TerminateInstances
// asked), never in a transaction, so the interface stays, detached, for
// the student to delete.
// inst's own primary interface goes with it, and its tags, unless it is
// kept (KeepInterface).
func (s *Service) detachInterfaces(tx store.Tx, inst *store.Instance) error {
	on, err := store.ListInterfacesOn(tx, inst.Owner, []string{inst.ID})
	if err != nil {
		return err
	}
	if storedPrimary(&store.Instance{Interfaces: on}) == nil {
		if err := s.keepOrDropPrimary(tx, inst); err != nil {
			return err
		}
	}
	for _, ni := range on {
		if ni.Attachment.DeleteOnTermination && ni.PublicIP == "" {
			if err := s.removeInterface(tx, ni); err != nil {
				return err
			}
			continue
		}
		ni.Attachment = nil
		if err := store.PutNetworkInterface(tx, ni); err != nil {
			return err
		}
	}
	return nil
}

// keepOrDropPrimary ends inst's derived primary interface, inst having
// terminated: a kept one (KeepInterface) becomes a record of the
// student's, available, with the instance's address (held for it by the
// backend from now on), groups, description, MAC and tags; otherwise its
// tags go. The launch address went with the instance. Where the address
// can no longer be held (another backend since the launch, or the address
// lost), the interface goes too, and a line says so: a termination is
// never refused.
func (s *Service) keepOrDropPrimary(tx store.Tx, inst *store.Instance) error {
	eni := interfaceOf(inst)
	if inst.KeepInterface {
		err := s.keepPrimary(tx, inst, eni)
		var refused *ec2err.Error
		var backendRefused *backend.Error
		if err == nil || !(errors.As(err, &refused) || errors.As(err, &backendRefused)) {
			return err
		}
		s.Log.Warn().Err(err).Str("instance_id", inst.ID).Str("network_interface_id", eni.id).
			Msg("the instance's interface was to outlive it, but its address cannot be held for it: deleted with the instance")
	}
	return store.DeleteAllTags(tx, inst.Owner, eni.id)
}

// keepPrimary records inst's derived interface eni as the student's.
func (s *Service) keepPrimary(tx store.Tx, inst *store.Instance, eni primaryInterface) error {
	if err := s.interfacesAllowed(); err != nil {
		return err
	}
	if inst.PrivateIP == "" { // a launch that never got as far as an address
		return ec2err.New(ec2err.IncorrectInstanceState, "The instance %s has no private address to keep.", inst.ID)
	}
	subnetID, vpcID := instanceSubnet(inst)
	sn, err := s.subnetByID(tx, inst.Owner, subnetID)
	if err != nil {
		return err
	}
	ip, dns, err := s.Backend.Interfaces.HoldAddress(tx, eni.id, backendSubnet(sn), inst.PrivateIP)
	if err != nil {
		return err
	}
	return store.PutNetworkInterface(tx, &store.NetworkInterface{
		ID: eni.id, Owner: inst.Owner, SubnetID: subnetID, VpcID: vpcID, Zone: inst.Zone, PrivateIP: ip, PrivateDNS: dns,
		MAC: eni.mac, Description: inst.InterfaceDescription, Groups: inst.Groups, Created: inst.LaunchTime,
	})
}

// releaseInterfaceAddresses disassociates the elastic IPs of the
// interfaces to be deleted with the instances, which are terminating, so
// that transition can delete them.
func (s *Service) releaseInterfaceAddresses(r *Request, instanceIDs []string) error {
	owner := r.User.Name
	var going []string
	err := s.Store.View(func(tx store.Tx) error {
		on, err := store.ListInterfacesOn(tx, owner, instanceIDs)
		going = nil
		for _, ni := range on {
			if ni.Attachment.DeleteOnTermination && ni.PublicIP != "" {
				going = append(going, ni.ID)
			}
		}
		return err
	})
	errs := []error{err}
	for _, id := range going {
		errs = append(errs, s.changeAssociations(r, s.interfaceDisassociation(owner, id)))
	}
	return errors.Join(errs...)
}

type networkInterfaceAttributeResponse struct {
	Meta
	Attachment         *networkInterfaceAttachmentXML `xml:"attachment"`
	Description        *attrValueXML                  `xml:"description"`
	Groups             *groupSetXML                   `xml:"groupSet"`
	NetworkInterfaceID string                         `xml:"networkInterfaceId"`
	SourceDestCheck    *attrBoolXML                   `xml:"sourceDestCheck"`
	AssociatePublicIP  *bool                          `xml:"associatePublicIpAddress"`
}

// networkInterfaceAttributes answer DescribeNetworkInterfaceAttribute,
// each from the interface as DescribeNetworkInterfaces shows it.
var networkInterfaceAttributes = map[string]func(out *networkInterfaceAttributeResponse, ni *networkInterfaceXML){
	"description": func(out *networkInterfaceAttributeResponse, ni *networkInterfaceXML) {
		out.Description = &attrValueXML{Value: ni.Description}
	},
	"groupSet": func(out *networkInterfaceAttributeResponse, ni *networkInterfaceXML) {
		out.Groups = &groupSetXML{Items: ni.Groups}
	},
	"sourceDestCheck": func(out *networkInterfaceAttributeResponse, ni *networkInterfaceXML) {
		out.SourceDestCheck = &attrBoolXML{Value: ni.SourceDestCheck}
	},
	"attachment": func(out *networkInterfaceAttributeResponse, ni *networkInterfaceXML) {
		out.Attachment = ni.Attachment
	},
	"associatePublicIpAddress": func(out *networkInterfaceAttributeResponse, ni *networkInterfaceXML) {
		public := ni.Association != nil
		out.AssociatePublicIP = &public
	},
}

func (s *Service) describeNetworkInterfaceAttribute(r *Request) (any, error) {
	id, err := requiredInterface(r.Params)
	if err != nil {
		return nil, err
	}
	name, err := r.Params.Required("Attribute")
	if err != nil {
		return nil, err
	}
	fill, known := networkInterfaceAttributes[name]
	if !known {
		return nil, ec2err.New(ec2err.InvalidParameterValue, "Value (%s) for parameter attribute is invalid. Unknown attribute.", name)
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	all, err := s.allInterfaces(r)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].NetworkInterfaceID == id {
			out := &networkInterfaceAttributeResponse{NetworkInterfaceID: id}
			fill(out, &all[i])
			return out, nil
		}
	}
	return nil, interfaceNotFound([]string{id})
}

func (s *Service) modifyNetworkInterfaceAttribute(r *Request) (any, error) {
	p := r.Params
	id, err := requiredInterface(p)
	if err != nil {
		return nil, err
	}
	groupIDs := p.List("SecurityGroupId")
	var change func(tx store.Tx, ni *store.NetworkInterface) error
	var attach *attachmentChange
	given := 0
	if p.Has("Attachment.DeleteOnTermination") || p.Has("Attachment.AttachmentId") {
		given++
		if attach, err = parseAttachmentChange(p); err != nil {
			return nil, err
		}
		change = func(_ store.Tx, ni *store.NetworkInterface) error {
			if ni.Attachment == nil || ni.Attachment.ID != attach.id {
				return attachmentNotFound(attach.id)
			}
			ni.Attachment.DeleteOnTermination = attach.deleteOnTermination
			return nil
		}
	}
	if p.Has("Description.Value") {
		given++
		desc := p.String("Description.Value")
		if len(desc) > maxInterfaceDescription {
			return nil, ec2err.BadValue("Description.Value", desc, "It must be at most 255 characters.")
		}
		change = func(_ store.Tx, ni *store.NetworkInterface) error { ni.Description = desc; return nil }
	}
	if p.Has("SourceDestCheck.Value") {
		given++
		check, err := p.Bool("SourceDestCheck.Value", true)
		if err != nil {
			return nil, err
		}
		change = func(_ store.Tx, ni *store.NetworkInterface) error { ni.NoSourceDestCheck = !check; return nil }
	}
	if len(groupIDs) > 0 {
		given++
		if err := checkIDs(groupIDs, "sg", ec2err.InvalidGroupIDMalformed); err != nil {
			return nil, err
		}
		change = func(tx store.Tx, ni *store.NetworkInterface) error {
			sn, err := s.subnetByID(tx, ni.Owner, ni.SubnetID)
			if err != nil {
				return err
			}
			ni.Groups, _, err = s.subnetGroups(tx, ni.Owner, sn, nil, groupIDs)
			return err
		}
	}
	switch given {
	case 0:
		return nil, ec2err.New(ec2err.MissingParameter, "The request must contain one attribute to modify: Attachment, Description, SecurityGroupId or SourceDestCheck.")
	case 1:
	default:
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "Modify one attribute per request: Attachment, Description, SecurityGroupId or SourceDestCheck.")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	err = s.Store.Update(func(tx store.Tx) error {
		ni, err := store.GetNetworkInterface(tx, r.User.Name, id)
		if err != nil {
			return err
		}
		if ni == nil {
			return s.modifyDerivedPrimary(tx, r.User.Name, id, attach)
		}
		if err := change(tx, ni); err != nil {
			return err
		}
		return store.PutNetworkInterface(tx, ni)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// attachmentChange is ModifyNetworkInterfaceAttribute's Attachment.
type attachmentChange struct {
	id                  string
	deleteOnTermination bool
}

// parseAttachmentChange reads Attachment.*: EC2 wants the attachment's
// id with DeleteOnTermination.
func parseAttachmentChange(p *query.Params) (*attachmentChange, error) {
	id, err := p.Required("Attachment.AttachmentId")
	if err != nil {
		return nil, err
	}
	if _, err := p.Required("Attachment.DeleteOnTermination"); err != nil {
		return nil, err
	}
	del, err := p.Bool("Attachment.DeleteOnTermination", false)
	return &attachmentChange{id: id, deleteOnTermination: del}, err
}

func attachmentNotFound(id string) error {
	return ec2err.New(ec2err.InvalidAttachmentIDNotFound, "The attachment ID '%s' does not exist", id)
}

// modifyDerivedPrimary answers ModifyNetworkInterfaceAttribute on an
// instance's own primary interface (eni), which has no record: its
// DeleteOnTermination is the instance's KeepInterface, and its other
// attributes are the instance's.
func (s *Service) modifyDerivedPrimary(tx store.Tx, owner, eni string, attach *attachmentChange) error {
	inst, err := derivedPrimary(tx, owner, eni)
	switch {
	case err != nil:
		return err
	case inst == nil:
		return interfaceNotFound([]string{eni})
	case attach == nil:
		return ec2err.New(ec2err.UnsupportedOperation, "The network interface %s is the primary interface of %s: change its groups and source/dest check on the instance (ModifyInstanceAttribute).", eni, inst.ID)
	case attach.id != interfaceOf(inst).attachmentID:
		return attachmentNotFound(attach.id)
	}
	if !attach.deleteOnTermination {
		if err := s.interfacesAllowed(); err != nil { // the kept interface is one of the student's
			return err
		}
	}
	inst.KeepInterface = !attach.deleteOnTermination
	return store.PutInstance(tx, inst)
}

// derivedPrimary is the owner's instance whose own (derived) primary
// interface is eni, or nil. An instance launched on an interface of the
// student's has none.
func derivedPrimary(tx store.Tx, owner, eni string) (*store.Instance, error) {
	insts, err := store.ListInstances(tx, owner)
	if err != nil {
		return nil, err
	}
	for _, inst := range insts {
		if !hasInterface(inst) || interfaceOf(inst).id != eni {
			continue
		}
		on, err := store.ListInterfacesOn(tx, owner, []string{inst.ID})
		if err != nil || slices.ContainsFunc(on, func(ni *store.NetworkInterface) bool { return ni.Attachment.DeviceIndex == 0 }) {
			return nil, err
		}
		return inst, nil
	}
	return nil, nil
}

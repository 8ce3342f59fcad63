package actions

import (
	"sort"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// DescribeNetworkInterfaces: the primary interface of each of the
// caller's instances that is not terminated (instances_network.go), and
// the interfaces the caller created (network_interfaces_own.go). It reads
// the instances as DescribeInstances does, so a primary interface's
// address and status are the instance's current ones.
var networkInterfaceActions = map[string]Handler{
	"DescribeNetworkInterfaces":         (*Service).describeNetworkInterfaces,
	"CreateNetworkInterface":            (*Service).createNetworkInterface,
	"DeleteNetworkInterface":            (*Service).deleteNetworkInterface,
	"AttachNetworkInterface":            (*Service).attachNetworkInterface,
	"DetachNetworkInterface":            (*Service).detachNetworkInterface,
	"ModifyNetworkInterfaceAttribute":   (*Service).modifyNetworkInterfaceAttribute,
	"DescribeNetworkInterfaceAttribute": (*Service).describeNetworkInterfaceAttribute,
}

type networkInterfaceXML struct {
	Association        *interfaceAssociationXML       `xml:"association"`
	Attachment         *networkInterfaceAttachmentXML `xml:"attachment"`
	AvailabilityZone   string                         `xml:"availabilityZone"`
	Description        string                         `xml:"description"`
	Groups             []groupItemXML                 `xml:"groupSet>item"`
	InterfaceType      string                         `xml:"interfaceType"`
	Ipv6Addresses      string                         `xml:"ipv6AddressesSet"`
	MacAddress         string                         `xml:"macAddress"`
	NetworkInterfaceID string                         `xml:"networkInterfaceId"`
	OwnerID            string                         `xml:"ownerId"`
	PrivateDNSName     string                         `xml:"privateDnsName"`
	PrivateIPAddress   string                         `xml:"privateIpAddress"`
	PrivateIPAddresses []interfacePrivateIPXML        `xml:"privateIpAddressesSet>item"`
	RequesterManaged   bool                           `xml:"requesterManaged"`
	SourceDestCheck    bool                           `xml:"sourceDestCheck"`
	Status             string                         `xml:"status"`
	SubnetID           string                         `xml:"subnetId"`
	Tags               []tagXML                       `xml:"tagSet>item"`
	VpcID              string                         `xml:"vpcId"`
}

type networkInterfaceAttachmentXML struct {
	AttachTime          string `xml:"attachTime"`
	AttachmentID        string `xml:"attachmentId"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	DeviceIndex         int    `xml:"deviceIndex"`
	NetworkCardIndex    int    `xml:"networkCardIndex"`
	InstanceID          string `xml:"instanceId"`
	InstanceOwnerID     string `xml:"instanceOwnerId"`
	Status              string `xml:"status"`
}

type describeNetworkInterfacesResponse struct {
	Meta
	NetworkInterfaces []networkInterfaceXML `xml:"networkInterfaceSet>item"`
	NextToken         string                `xml:"nextToken,omitempty"`
}

// networkInterface is inst's derived primary interface as
// DescribeNetworkInterfaces shows it; addr is the elastic IP associated
// with it, if any.
func networkInterface(inst *store.Instance, accountID string, addr *store.Address) networkInterfaceXML {
	ni := derivedInterface(inst, accountID)
	assoc := association(inst, accountID, addr)
	for i := range ni.PrivateIPAddresses {
		ni.PrivateIPAddresses[i].Association = assoc
	}
	return networkInterfaceXML{
		Association: assoc,
		Attachment: &networkInterfaceAttachmentXML{
			AttachTime: ni.Attachment.AttachTime, AttachmentID: ni.Attachment.AttachmentID, DeleteOnTermination: ni.Attachment.DeleteOnTermination,
			InstanceID: inst.ID, InstanceOwnerID: accountID, Status: ni.Attachment.Status,
		},
		AvailabilityZone: inst.Zone, Description: ni.Description, Groups: ni.Groups, InterfaceType: ni.InterfaceType, MacAddress: ni.MacAddress,
		NetworkInterfaceID: ni.NetworkInterfaceID, OwnerID: accountID, PrivateDNSName: ni.PrivateDNSName,
		PrivateIPAddress: ni.PrivateIPAddress, PrivateIPAddresses: ni.PrivateIPAddresses, SourceDestCheck: true,
		Status: ni.Status, SubnetID: ni.SubnetID, VpcID: ni.VpcID,
	}
}

// ownInterface is a student's interface as DescribeNetworkInterfaces
// shows it; addr is the elastic IP associated with it, if known.
func ownInterface(ni *store.NetworkInterface, accountID string, addr *store.Address, tags []store.Tag) networkInterfaceXML {
	var assoc *interfaceAssociationXML
	if ni.PublicIP != "" {
		assoc = &interfaceAssociationXML{IPOwnerID: accountID, PublicDNSName: ni.PublicIP, PublicIP: ni.PublicIP}
		if addr != nil && addr.Association != nil {
			assoc.AllocationID, assoc.AssociationID = addr.AllocationID, addr.Association.AssociationID
		}
	}
	x := networkInterfaceXML{
		Association: assoc, AvailabilityZone: ni.Zone, Description: ni.Description, Groups: groupItems(ni.Groups, false),
		InterfaceType: "interface", MacAddress: ni.MAC, NetworkInterfaceID: ni.ID, OwnerID: accountID,
		PrivateDNSName: ni.PrivateDNS, PrivateIPAddress: ni.PrivateIP,
		PrivateIPAddresses: []interfacePrivateIPXML{{Association: assoc, Primary: true, PrivateDNSName: ni.PrivateDNS, PrivateIPAddress: ni.PrivateIP}},
		SourceDestCheck:    !ni.NoSourceDestCheck, Status: "available", SubnetID: ni.SubnetID, Tags: tagsXML(tags), VpcID: ni.VpcID,
	}
	if a := ni.Attachment; a != nil {
		x.Status = "in-use"
		x.Attachment = &networkInterfaceAttachmentXML{
			AttachTime: ec2Second(a.AttachTime), AttachmentID: a.ID, DeleteOnTermination: a.DeleteOnTermination, DeviceIndex: a.DeviceIndex,
			InstanceID: a.InstanceID, InstanceOwnerID: accountID, Status: "attached",
		}
	}
	return x
}

// instanceItem is an attached interface as its instance's item shows it.
func instanceItem(n networkInterfaceXML) instanceENIXML {
	it := instanceENIXML{
		Association: n.Association, Description: n.Description, Groups: n.Groups, MacAddress: n.MacAddress,
		NetworkInterfaceID: n.NetworkInterfaceID, OwnerID: n.OwnerID, PrivateDNSName: n.PrivateDNSName,
		PrivateIPAddress: n.PrivateIPAddress, PrivateIPAddresses: n.PrivateIPAddresses, SourceDestCheck: n.SourceDestCheck,
		Status: n.Status, SubnetID: n.SubnetID, VpcID: n.VpcID, InterfaceType: n.InterfaceType,
	}
	if a := n.Attachment; a != nil {
		it.Attachment = instanceInterfaceAttachmentXML{
			AttachTime: a.AttachTime, AttachmentID: a.AttachmentID, DeleteOnTermination: a.DeleteOnTermination,
			DeviceIndex: a.DeviceIndex, Status: a.Status, NetworkCardIndex: a.NetworkCardIndex,
		}
	}
	return it
}

// interfaceAttrs answers DescribeNetworkInterfaces filters for one
// interface, of either kind.
func interfaceAttrs(ni *networkInterfaceXML) Attrs {
	att := ni.Attachment
	if att == nil {
		att = &networkInterfaceAttachmentXML{}
	}
	return func(name string) ([]string, bool) {
		switch name {
		case "network-interface-id":
			return one(ni.NetworkInterfaceID)
		case "subnet-id":
			return one(ni.SubnetID)
		case "vpc-id":
			return one(ni.VpcID)
		case "availability-zone":
			return one(ni.AvailabilityZone)
		case "status":
			return one(ni.Status)
		case "private-ip-address", "addresses.private-ip-address":
			return one(ni.PrivateIPAddress)
		case "private-dns-name":
			return one(ni.PrivateDNSName)
		case "mac-address":
			return one(ni.MacAddress)
		case "owner-id", "attachment.instance-owner-id":
			return one(ni.OwnerID)
		case "description":
			return []string{ni.Description}, true
		case "interface-type":
			return one(ni.InterfaceType)
		case "source-dest-check":
			return boolText(ni.SourceDestCheck), true
		case "requester-managed":
			return boolText(false), true
		case "addresses.primary":
			return boolText(true), true
		case "attachment.delete-on-termination":
			if ni.Attachment == nil {
				return nil, true
			}
			return boolText(att.DeleteOnTermination), true
		case "attachment.instance-id":
			return one(att.InstanceID)
		case "attachment.attachment-id":
			return one(att.AttachmentID)
		case "attachment.status":
			return one(att.Status)
		case "attachment.device-index":
			if ni.Attachment == nil {
				return nil, true
			}
			return one(strconv.Itoa(att.DeviceIndex))
		case "attachment.attach-time":
			return one(att.AttachTime)
		case "group-id":
			return groupValues(groupRefs(ni.Groups), func(g store.GroupRef) string { return g.ID }), true
		case "group-name":
			return groupValues(groupRefs(ni.Groups), func(g store.GroupRef) string { return g.Name }), true
		}
		a := ni.Association
		if a == nil {
			a = &interfaceAssociationXML{}
		}
		switch name {
		case "association.public-ip", "addresses.association.public-ip":
			return one(a.PublicIP)
		case "association.allocation-id":
			return one(a.AllocationID)
		case "association.association-id":
			return one(a.AssociationID)
		case "association.ip-owner-id", "addresses.association.owner-id":
			return one(a.IPOwnerID)
		case "association.public-dns-name":
			return one(a.PublicDNSName)
		}
		return tagAttrs(storeTags(ni.Tags), name)
	}
}

func storeTags(tags []tagXML) []store.Tag {
	out := make([]store.Tag, len(tags))
	for i, t := range tags {
		out[i] = store.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func groupRefs(items []groupItemXML) []store.GroupRef {
	out := make([]store.GroupRef, len(items))
	for i, g := range items {
		out[i] = store.GroupRef{ID: g.GroupID, Name: g.GroupName}
	}
	return out
}

// requestedInterfaces returns NetworkInterfaceId.N, each checked for form.
func requestedInterfaces(r *Request) ([]string, error) {
	ids := r.Params.List("NetworkInterfaceId")
	return ids, checkIDs(ids, "eni", ec2err.InvalidNetworkInterfaceIDMalformed)
}

func interfaceNotFound(ids []string) error {
	return ec2err.New(ec2err.InvalidNetworkInterfaceIDNotFound, "The networkInterface ID '%s' does not exist", strings.Join(ids, ", "))
}

func (s *Service) describeNetworkInterfaces(r *Request) (any, error) {
	ids, err := requestedInterfaces(r)
	if err != nil {
		return nil, err
	}
	filters, err := describeChecks(r, interfaceAttrs(&networkInterfaceXML{}), ids, "The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults")
	if err != nil {
		return nil, err
	}
	all, err := s.allInterfaces(r)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, id := range ids {
		wanted[id] = true
	}
	var out []networkInterfaceXML
	found := map[string]bool{}
	for _, ni := range all {
		if len(ids) > 0 && !wanted[ni.NetworkInterfaceID] {
			continue
		}
		found[ni.NetworkInterfaceID] = true
		if matchFilters(filters, interfaceAttrs(&ni)) {
			out = append(out, ni)
		}
	}
	var missing []string
	for _, id := range dedupe(ids) {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, interfaceNotFound(missing)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NetworkInterfaceID < out[j].NetworkInterfaceID })
	page, err := paginate(len(out), func(i int) string { return out[i].NetworkInterfaceID }, r.Params, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &describeNetworkInterfacesResponse{NetworkInterfaces: out[page.Start:page.End], NextToken: page.NextToken}, nil
}

// allInterfaces is every interface of the caller's, of both kinds: the
// primaries of their instances, then the interfaces they created.
func (s *Service) allInterfaces(r *Request) ([]networkInterfaceXML, error) {
	insts, _, err := s.loadInstances(r, nil)
	if err != nil {
		return nil, err
	}
	var addrs []*store.Address
	var own []*store.NetworkInterface
	var tags map[string][]store.Tag // of both kinds of interface
	if err := s.Store.View(func(tx store.Tx) error {
		if addrs, err = store.ListAddresses(tx, r.User.Name); err != nil {
			return err
		}
		if own, err = store.ListNetworkInterfaces(tx, r.User.Name); err != nil {
			return err
		}
		tags = map[string][]store.Tag{}
		return store.ScanTags(tx, r.User.Name, func(id string, t store.Tag) error {
			if strings.HasPrefix(id, "eni-") {
				tags[id] = append(tags[id], t)
			}
			return nil
		})
	}); err != nil {
		return nil, err
	}
	byInstance, byInterface := map[string]*store.Address{}, map[string]*store.Address{}
	for _, a := range addrs {
		switch b := a.Association; {
		case b == nil:
		case b.NetworkInterfaceID != "":
			byInterface[b.NetworkInterfaceID] = a
		default:
			byInstance[b.InstanceID] = a
		}
	}
	var all []networkInterfaceXML
	for _, inst := range insts {
		if hasInterface(inst) && storedPrimary(inst) == nil {
			ni := networkInterface(inst, r.User.AccountID, byInstance[inst.ID])
			ni.Tags = tagsXML(tags[ni.NetworkInterfaceID])
			all = append(all, ni)
		}
	}
	for _, ni := range own {
		all = append(all, ownInterface(ni, r.User.AccountID, byInterface[ni.ID], tags[ni.ID]))
	}
	return all, nil
}

// instanceOfInterface is the id of the caller's instance whose primary
// interface is eni, or InvalidNetworkInterfaceID.NotFound.
func (s *Service) instanceOfInterface(r *Request, eni string) (string, error) {
	if err := checkIDs([]string{eni}, "eni", ec2err.InvalidNetworkInterfaceIDMalformed); err != nil {
		return "", err
	}
	var inst *store.Instance
	err := s.Store.View(func(tx store.Tx) (err error) {
		inst, err = derivedPrimary(tx, r.User.Name, eni)
		return err
	})
	if err != nil {
		return "", err
	}
	if inst == nil {
		return "", interfaceNotFound([]string{eni})
	}
	return inst.ID, nil
}

// addressTarget is what AssociateAddress names: an instance by
// InstanceId, or by NetworkInterfaceId its primary interface's; or an
// interface the student created (ifaceID).
func (s *Service) addressTarget(r *Request) (instanceID, ifaceID string, err error) {
	eni := r.Params.String("NetworkInterfaceId")
	switch {
	case eni == "":
		instanceID, err = requiredID(r.Params, "InstanceId", "i", ec2err.InvalidInstanceIDMalformed)
		return instanceID, "", err
	case r.Params.String("InstanceId") != "":
		return "", "", ec2err.New(ec2err.InvalidParameterCombination, "Give either InstanceId or NetworkInterfaceId, not both.")
	}
	if err := checkIDs([]string{eni}, "eni", ec2err.InvalidNetworkInterfaceIDMalformed); err != nil {
		return "", "", err
	}
	var own bool
	if err := s.Store.View(func(tx store.Tx) error {
		ni, err := store.GetNetworkInterface(tx, r.User.Name, eni)
		own = ni != nil
		return err
	}); err != nil || own {
		return "", eni, err
	}
	instanceID, err = s.instanceOfInterface(r, eni)
	return instanceID, "", err
}

// interfaceTarget is the association with the caller's interface id, as
// its record in tx says: it must have privateIP when one is asked for.
func interfaceTarget(tx store.Tx, owner, id, privateIP string) (store.AddressAssociation, error) {
	ni, err := store.GetNetworkInterface(tx, owner, id)
	switch {
	case err != nil:
		return store.AddressAssociation{}, err
	case ni == nil:
		return store.AddressAssociation{}, interfaceNotFound([]string{id})
	case privateIP != "" && privateIP != ni.PrivateIP:
		return store.AddressAssociation{}, ec2err.New(ec2err.InvalidParameterValue, "The network interface '%s' has no private address %s; its address is %s.", id, privateIP, ni.PrivateIP)
	}
	return store.AddressAssociation{NetworkInterfaceID: id, PrivateIP: ni.PrivateIP}, nil
}

// addressInterface is the interface an elastic IP is associated with: the
// student's interface, or its instance's primary one ("" when not
// associated).
func addressInterface(a *store.Address) string {
	switch {
	case a.Association == nil:
		return ""
	case a.Association.NetworkInterfaceID != "":
		return a.Association.NetworkInterfaceID
	}
	return interfaceOf(&store.Instance{Owner: a.Owner, ID: a.Association.InstanceID}).id
}

// shownAddress is a as DescribeAddresses shows it: bound to an interface
// of the student's, its instance is the one the interface is attached to.
func shownAddress(tx store.Tx, a *store.Address) (*store.Address, error) {
	if a.Association == nil || a.Association.NetworkInterfaceID == "" {
		return a, nil
	}
	ni, err := store.GetNetworkInterface(tx, a.Owner, a.Association.NetworkInterfaceID)
	if err != nil || ni == nil || ni.Attachment == nil {
		return a, err
	}
	shown, assoc := *a, *a.Association
	assoc.InstanceID = ni.Attachment.InstanceID
	shown.Association = &assoc
	return &shown, nil
}

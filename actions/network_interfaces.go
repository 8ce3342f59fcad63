package actions

import (
	"sort"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// DescribeNetworkInterfaces: the primary interface of each of the
// caller's instances that is not terminated (instances_network.go). It
// reads the instances as DescribeInstances does, so the interface's
// address and status are the instance's current ones.
var networkInterfaceActions = map[string]Handler{
	"DescribeNetworkInterfaces": (*Service).describeNetworkInterfaces,
}

type networkInterfaceXML struct {
	Association        *interfaceAssociationXML      `xml:"association"`
	Attachment         networkInterfaceAttachmentXML `xml:"attachment"`
	AvailabilityZone   string                        `xml:"availabilityZone"`
	Description        string                        `xml:"description"`
	Groups             []groupItemXML                `xml:"groupSet>item"`
	InterfaceType      string                        `xml:"interfaceType"`
	Ipv6Addresses      string                        `xml:"ipv6AddressesSet"`
	MacAddress         string                        `xml:"macAddress"`
	NetworkInterfaceID string                        `xml:"networkInterfaceId"`
	OwnerID            string                        `xml:"ownerId"`
	PrivateDNSName     string                        `xml:"privateDnsName"`
	PrivateIPAddress   string                        `xml:"privateIpAddress"`
	PrivateIPAddresses []interfacePrivateIPXML       `xml:"privateIpAddressesSet>item"`
	RequesterManaged   bool                          `xml:"requesterManaged"`
	SourceDestCheck    bool                          `xml:"sourceDestCheck"`
	Status             string                        `xml:"status"`
	SubnetID           string                        `xml:"subnetId"`
	Tags               []tagXML                      `xml:"tagSet>item"`
	VpcID              string                        `xml:"vpcId"`
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

// networkInterface is inst's primary interface as DescribeNetworkInterfaces
// shows it; addr is the elastic IP associated with it, if any.
func networkInterface(inst *store.Instance, accountID string, addr *store.Address) networkInterfaceXML {
	var x instanceXML
	renderNetwork(&x, inst, accountID)
	ni := x.NetworkInterfaces.Items[0]
	assoc := association(inst, accountID, addr)
	for i := range ni.PrivateIPAddresses {
		ni.PrivateIPAddresses[i].Association = assoc
	}
	return networkInterfaceXML{
		Association: assoc,
		Attachment: networkInterfaceAttachmentXML{
			AttachTime: ni.Attachment.AttachTime, AttachmentID: ni.Attachment.AttachmentID, DeleteOnTermination: true,
			InstanceID: inst.ID, InstanceOwnerID: accountID, Status: ni.Attachment.Status,
		},
		AvailabilityZone: inst.Zone, Description: ni.Description, Groups: ni.Groups, InterfaceType: ni.InterfaceType, MacAddress: ni.MacAddress,
		NetworkInterfaceID: ni.NetworkInterfaceID, OwnerID: accountID, PrivateDNSName: ni.PrivateDNSName,
		PrivateIPAddress: ni.PrivateIPAddress, PrivateIPAddresses: ni.PrivateIPAddresses, SourceDestCheck: true,
		Status: ni.Status, SubnetID: ni.SubnetID, VpcID: ni.VpcID,
	}
}

// interfaceAttrs answers DescribeNetworkInterfaces filters for one
// interface. Interfaces have no tags of their own here: the tag filters
// match nothing but are accepted.
func interfaceAttrs(ni *networkInterfaceXML) Attrs {
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
		case "source-dest-check", "requester-managed", "addresses.primary", "attachment.delete-on-termination":
			return one(map[string]string{"source-dest-check": "true", "requester-managed": "false", "addresses.primary": "true", "attachment.delete-on-termination": "true"}[name])
		case "attachment.instance-id":
			return one(ni.Attachment.InstanceID)
		case "attachment.attachment-id":
			return one(ni.Attachment.AttachmentID)
		case "attachment.status":
			return one(ni.Attachment.Status)
		case "attachment.device-index":
			return one("0")
		case "attachment.attach-time":
			return one(ni.Attachment.AttachTime)
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
		return tagAttrs(nil, name)
	}
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
	insts, _, err := s.loadInstances(r, nil)
	if err != nil {
		return nil, err
	}
	var addrs []*store.Address
	if err := s.Store.View(func(tx store.Tx) error {
		addrs, err = store.ListAddresses(tx, r.User.Name)
		return err
	}); err != nil {
		return nil, err
	}
	byInstance := map[string]*store.Address{}
	for _, a := range addrs {
		if a.Association != nil {
			byInstance[a.Association.InstanceID] = a
		}
	}
	wanted := map[string]bool{}
	for _, id := range ids {
		wanted[id] = true
	}
	var out []networkInterfaceXML
	found := map[string]bool{}
	for _, inst := range insts {
		if !hasInterface(inst) {
			continue
		}
		ni := networkInterface(inst, r.User.AccountID, byInstance[inst.ID])
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

// instanceOfInterface is the id of the caller's instance whose primary
// interface is eni, or InvalidNetworkInterfaceID.NotFound.
func (s *Service) instanceOfInterface(r *Request, eni string) (string, error) {
	if err := checkIDs([]string{eni}, "eni", ec2err.InvalidNetworkInterfaceIDMalformed); err != nil {
		return "", err
	}
	var id string
	err := s.Store.View(func(tx store.Tx) error {
		id = ""
		insts, err := store.ListInstances(tx, r.User.Name)
		for _, inst := range insts {
			if hasInterface(inst) && interfaceOf(inst).id == eni {
				id = inst.ID
			}
		}
		return err
	})
	if err == nil && id == "" {
		err = interfaceNotFound([]string{eni})
	}
	return id, err
}

// addressTarget is the instance AssociateAddress names: by InstanceId, or
// by NetworkInterfaceId, its primary interface's.
func (s *Service) addressTarget(r *Request) (string, error) {
	eni := r.Params.String("NetworkInterfaceId")
	switch {
	case eni == "":
		return requiredID(r.Params, "InstanceId", "i", ec2err.InvalidInstanceIDMalformed)
	case r.Params.String("InstanceId") != "":
		return "", ec2err.New(ec2err.InvalidParameterCombination, "Give either InstanceId or NetworkInterfaceId, not both.")
	}
	return s.instanceOfInterface(r, eni)
}

// addressInterface is the interface an elastic IP is associated with: its
// instance's primary one ("" when not associated).
func addressInterface(a *store.Address) string {
	if a.Association == nil {
		return ""
	}
	return interfaceOf(&store.Instance{Owner: a.Owner, ID: a.Association.InstanceID}).id
}

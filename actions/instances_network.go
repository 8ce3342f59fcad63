package actions

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Instance networking: every instance is in a subnet of one of its
// owner's VPCs (the default subnet of its zone unless it asked for
// another) and has one network interface, its primary (device 0), with a
// private address from that subnet. The interface is not a record of its
// own: it is derived from the instance (its id from the instance's), so it
// lives and goes with the instance, through the instance's one transition
// path, and an instance recorded before there were subnets is in its
// zone's default subnet when read. The interfaces a student creates
// (network_interfaces_own.go) are records of their own: attached ones
// follow the primary in the instance's item, and an instance launched on
// one (NetworkInterface.1.NetworkInterfaceId) has it as its primary
// instead of the derived one.

// netRequest is the networking part of a RunInstances: the instance-level
// SubnetId and PrivateIpAddress, or the same in NetworkInterface.1.
type netRequest struct {
	subnetID    string
	privateIP   string
	description string // the interface's
	// interfaceID is NetworkInterface.1.NetworkInterfaceId: the student's
	// interface the instance is launched on (its subnet, groups and
	// address).
	interfaceID string
	// zoneGiven says Placement.AvailabilityZone was sent: it must then
	// be the subnet's zone.
	zoneGiven bool
	// publicIP is NetworkInterface.1.AssociatePublicIpAddress, nil when
	// not sent (the subnet's MapPublicIpOnLaunch decides).
	publicIP *bool
	// keep is NetworkInterface.1.DeleteOnTermination false: the new
	// interface outlives its instance.
	keep bool
}

// maxInterfaceDescription is EC2's limit on a network interface's description.
const maxInterfaceDescription = 255

// The interface fields econe does not offer: one primary interface with
// one private IPv4 address.
var unsupportedInterfaceFields = []string{
	"PrivateIpAddresses", "SecondaryPrivateIpAddressCount",
	"Ipv6AddressCount", "Ipv6Addresses", "Ipv4Prefix", "Ipv4PrefixCount", "Ipv6Prefix", "Ipv6PrefixCount",
	"NetworkCardIndex", "AssociateCarrierIpAddress",
}

// parseLaunchNetwork decodes where the launch's primary interface goes.
// NetworkInterface.1's groups become the launch's group ids; the
// instance-level forms may not be given with it, as on EC2.
func parseLaunchNetwork(p *query.Params, lr *launchRequest) (netRequest, error) {
	nr := netRequest{subnetID: p.String("SubnetId"), privateIP: p.String("PrivateIpAddress"), zoneGiven: p.String("Placement.AvailabilityZone") != ""}
	nis := p.Structs("NetworkInterface")
	if len(nis) > 0 {
		switch {
		case nr.subnetID != "":
			return nr, ec2err.New(ec2err.InvalidParameterCombination, "Network interfaces and an instance-level subnet ID may not be specified on the same request")
		case len(lr.groupNames) > 0 || len(lr.groupIDs) > 0:
			return nr, ec2err.New(ec2err.InvalidParameterCombination, "Network interfaces and an instance-level security groups may not be specified on the same request")
		case nr.privateIP != "":
			return nr, ec2err.New(ec2err.InvalidParameterCombination, "Network interfaces and an instance-level private IP address should not be specified on the same request")
		case len(nis) > 1:
			return nr, ec2err.New(ec2err.UnsupportedOperation, "An instance here has one network interface: give NetworkInterface.1 only (DeviceIndex 0).")
		}
		ni := nis[0]
		idx, err := ni.Required("DeviceIndex")
		if err != nil {
			return nr, err
		}
		if idx != "0" {
			return nr, ec2err.BadValue("NetworkInterface.1.DeviceIndex", idx, "An instance here has one network interface, its primary: DeviceIndex 0.")
		}
		if t := ni.String("InterfaceType"); t != "" && t != "interface" { // "interface" is EC2's ordinary kind
			return nr, ec2err.New(ec2err.UnsupportedOperation, "NetworkInterface.1.InterfaceType %s is not supported here: the primary interface is an ordinary one (interface).", t)
		}
		for _, f := range unsupportedInterfaceFields {
			if ni.Has(f) || len(ni.Struct(f).Values()) > 0 { // a value, or a list of them
				return nr, ec2err.New(ec2err.UnsupportedOperation, "NetworkInterface.1.%s is not supported here: the primary interface gets one private IPv4 address from its subnet.", f)
			}
		}
		if ni.Has("AssociatePublicIpAddress") {
			v, err := ni.Bool("AssociatePublicIpAddress", false)
			if err != nil {
				return nr, err
			}
			nr.publicIP = &v
		}
		if nr.interfaceID = ni.String("NetworkInterfaceId"); nr.interfaceID != "" {
			return nr, parseLaunchInterface(ni, nr.interfaceID, lr)
		}
		del, err := ni.Bool("DeleteOnTermination", true)
		if err != nil {
			return nr, err
		}
		nr.keep = !del
		nr.subnetID, nr.privateIP, nr.description = ni.String("SubnetId"), ni.String("PrivateIpAddress"), ni.String("Description")
		if len(nr.description) > maxInterfaceDescription {
			return nr, ec2err.BadValue("NetworkInterface.1.Description", nr.description, "It must be at most 255 characters.")
		}
		lr.groupIDs = ni.List("SecurityGroupId")
	}
	if nr.privateIP != "" {
		if a, err := netip.ParseAddr(nr.privateIP); err != nil || !a.Is4() {
			return nr, ec2err.BadValue("PrivateIpAddress", nr.privateIP, "It must be an IPv4 address.")
		}
		if lr.max > 1 {
			return nr, ec2err.New(ec2err.InvalidParameterCombination, "A private IP address can be given only when launching one instance (MaxCount 1); this request asks for up to %d.", lr.max)
		}
	}
	return nr, nil
}

// parseLaunchInterface checks a launch on the student's interface id
// (NetworkInterface.1 is ni): the interface brings its subnet, groups and
// address, so they may not be given, and it is not deleted with the
// instance (EC2 allows DeleteOnTermination only for a new interface).
func parseLaunchInterface(ni *query.Params, id string, lr *launchRequest) error {
	if err := checkIDs([]string{id}, "eni", ec2err.InvalidNetworkInterfaceIDMalformed); err != nil {
		return err
	}
	if ni.Has("AssociatePublicIpAddress") { // EC2's words
		return ec2err.New(ec2err.InvalidParameterCombination, "The associatePublicIPAddress parameter cannot be specified for a network interface with an ID.")
	}
	for _, f := range []string{"SubnetId", "PrivateIpAddress", "Description", "SecurityGroupId"} {
		if ni.Has(f) || len(ni.Struct(f).Values()) > 0 {
			return ec2err.New(ec2err.InvalidParameterCombination, "NetworkInterface.1.NetworkInterfaceId and NetworkInterface.1.%s may not be specified on the same request: the interface brings its own.", f)
		}
	}
	if keep, err := ni.Bool("DeleteOnTermination", false); err != nil || keep {
		if err == nil {
			err = ec2err.New(ec2err.InvalidParameterCombination, "NetworkInterface.1.DeleteOnTermination can be true only for a network interface the launch creates, not for %s.", id)
		}
		return err
	}
	if lr.max > 1 {
		return ec2err.New(ec2err.InvalidParameterCombination, "A network interface can be given only when launching one instance (MaxCount 1); this request asks for up to %d.", lr.max)
	}
	return nil
}

// launchPlace is where a launch puts its instance: its subnet and groups,
// and the student's interface it is launched on, if any.
type launchPlace struct {
	subnet *store.Subnet
	groups []store.GroupRef
	sgs    []backend.SecurityGroup
	iface  *store.NetworkInterface
}

// publicIP reports whether the launch's instances get a public address
// at launch: device 0's AssociatePublicIpAddress when sent, else the
// subnet's MapPublicIpOnLaunch (as shown: only where addresses can be
// given). An interface of the student's keeps its own public address
// (an elastic IP).
func (s *Service) publicIP(lp *launchPlace, lr *launchRequest) bool {
	switch {
	case lp.iface != nil:
		return false
	case lr.net.publicIP != nil:
		return *lr.net.publicIP
	}
	return lp.subnet.MapPublicIP && s.mapsPublicIP()
}

// privateIP is the address the launch asks the backend for.
func (lp *launchPlace) privateIP(lr *launchRequest) string {
	if lp.iface != nil {
		return lp.iface.PrivateIP
	}
	return lr.net.privateIP
}

// launchOnInterface resolves a launch on the owner's interface id: it
// must be available, and in the zone asked for.
func (s *Service) launchOnInterface(tx store.Tx, owner string, lr *launchRequest) (*launchPlace, error) {
	ni, err := ownInterfaceByID(tx, owner, lr.net.interfaceID)
	if err != nil {
		return nil, err
	}
	if ni.Attachment != nil {
		return nil, interfaceInUse(ni)
	}
	if lr.net.zoneGiven && ni.Zone != lr.zone {
		return nil, ec2err.New(ec2err.InvalidParameterValue, "Value (%s) for parameter availabilityZone is invalid. Network interface '%s' is in the availability zone %s", lr.zone, ni.ID, ni.Zone)
	}
	sn, err := s.subnetByID(tx, owner, ni.SubnetID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ni.Groups))
	for i, g := range ni.Groups {
		ids[i] = g.ID
	}
	refs, sgs, err := s.launchGroups(tx, owner, sn, nil, ids)
	return &launchPlace{subnet: sn, groups: refs, sgs: sgs, iface: ni}, err
}

// launchNetwork resolves the launch's subnet (the zone's default subnet
// when none is named; the zone follows a named one) and its groups, which
// must be in the subnet's VPC. Group names are for the default VPC only,
// and a launch into another VPC with no group gets that VPC's default.
func (s *Service) launchNetwork(tx store.Tx, owner string, lr *launchRequest) (*launchPlace, error) {
	if lr.net.interfaceID != "" {
		return s.launchOnInterface(tx, owner, lr)
	}
	if lr.net.keep {
		if err := s.interfacesAllowed(); err != nil { // the kept interface is one of the student's
			return nil, err
		}
	}
	var sn *store.Subnet
	var err error
	if lr.net.subnetID == "" {
		sn, err = s.defaultSubnet(tx, owner, lr.zone)
	} else if sn, err = s.subnetByID(tx, owner, lr.net.subnetID); err == nil && lr.net.zoneGiven && sn.Zone != lr.zone {
		err = ec2err.New(ec2err.InvalidParameterValue, "Value (%s) for parameter availabilityZone is invalid. Subnet '%s' is in the availability zone %s", lr.zone, sn.ID, sn.Zone)
	}
	if err != nil {
		return nil, err
	}
	if err := checkSubnetAddress(sn, lr.net.privateIP); err != nil {
		return nil, err
	}
	refs, groups, err := s.subnetGroups(tx, owner, sn, lr.groupNames, lr.groupIDs)
	return &launchPlace{subnet: sn, groups: refs, sgs: groups}, err
}

// subnetGroups resolves the groups of an interface in subnet sn (see
// launchGroups). Group names are for the default VPC only, and an
// interface in another VPC with no group gets that VPC's default.
func (s *Service) subnetGroups(tx store.Tx, owner string, sn *store.Subnet, names, ids []string) ([]store.GroupRef, []backend.SecurityGroup, error) {
	if sn.VpcID != store.DefaultVPCID(owner) {
		if len(names) > 0 {
			return nil, nil, ec2err.New(ec2err.InvalidParameterCombination, "The parameter groupName cannot be used with the parameter subnet")
		}
		if len(ids) == 0 {
			ids = []string{store.DefaultGroupID(owner, sn.VpcID)}
		}
	}
	return s.launchGroups(tx, owner, sn, names, ids)
}

// checkSubnetAddress checks a requested private address against the
// subnet: inside its range and not one of the five EC2 reserves.
func checkSubnetAddress(sn *store.Subnet, want string) error {
	if want == "" {
		return nil
	}
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		return fmt.Errorf("subnet %s has a bad range %q: %w", sn.ID, sn.CIDR, err)
	}
	a := netip.MustParseAddr(want) // parseLaunchNetwork checked it
	if !p.Contains(a) {
		return ec2err.New(ec2err.InvalidParameterValue, "Address %s does not fall within the subnet's address range (%s, subnet %s)", want, sn.CIDR, sn.ID)
	}
	first := p.Addr()
	for range 4 {
		first = first.Next()
	}
	if a.Less(first) || !p.Contains(a.Next()) {
		return ec2err.New(ec2err.InvalidParameterValue, "Address %s is in subnet's reserved address range (the first four and the last address of %s)", want, sn.CIDR)
	}
	return nil
}

// groupInVPC checks that g may be a group of an instance in subnet sn.
func groupInVPC(g *store.SecurityGroup, sn *store.Subnet) error {
	vpc := g.VpcID
	if g.InDefaultVPC() {
		vpc = store.DefaultVPCID(g.Owner)
	}
	if vpc != sn.VpcID {
		return ec2err.New(ec2err.InvalidParameter, "Security group %s and subnet %s belong to different networks.", g.ID, sn.ID)
	}
	return nil
}

// backendSubnet is sn as a backend sees it.
func backendSubnet(sn *store.Subnet) backend.Subnet {
	return backend.Subnet{ID: sn.ID, VpcID: sn.VpcID, CIDR: sn.CIDR, Shared: sn.VpcID == store.DefaultVPCID(sn.Owner)}
}

// instanceSubnet is where inst is: its subnet and VPC, the zone's default
// ones for an instance recorded before there were subnets.
func instanceSubnet(inst *store.Instance) (subnetID, vpcID string) {
	if inst.SubnetID != "" {
		return inst.SubnetID, inst.VpcID
	}
	return store.DefaultSubnetID(inst.Owner, inst.Zone), store.DefaultVPCID(inst.Owner)
}

// primaryInterface is the ids and MAC of inst's primary interface, all
// from one hash of the instance's id (a describe renders thousands). The
// MAC is locally administered (0x0e), as EC2's are.
type primaryInterface struct{ id, attachmentID, mac string }

func interfaceOf(inst *store.Instance) primaryInterface {
	h := sha256.Sum256([]byte(inst.Owner + "\x00" + inst.ID + "\x00eni"))
	x := hex.EncodeToString(h[:])
	return primaryInterface{
		id: "eni-" + x[:17], attachmentID: "eni-attach-" + x[17:34],
		mac: "0e:" + x[34:36] + ":" + x[36:38] + ":" + x[38:40] + ":" + x[40:42] + ":" + x[42:44],
	}
}

// hasInterface reports whether inst's interface exists: it goes when the
// instance is terminated.
func hasInterface(inst *store.Instance) bool { return inst.State != string(backend.Terminated) }

// ---- the interface in DescribeInstances (InstanceNetworkInterface) ----

// instanceENISetXML is a pointer in the instance item, so that old API
// versions, which have no interfaces, get no element at all.
type instanceENISetXML struct {
	Items []instanceENIXML `xml:"item"`
}

type instanceENIXML struct {
	Association        *interfaceAssociationXML       `xml:"association"`
	Attachment         instanceInterfaceAttachmentXML `xml:"attachment"`
	Description        string                         `xml:"description"`
	Groups             []groupItemXML                 `xml:"groupSet>item"`
	Ipv6Addresses      string                         `xml:"ipv6AddressesSet"`
	MacAddress         string                         `xml:"macAddress"`
	NetworkInterfaceID string                         `xml:"networkInterfaceId"`
	OwnerID            string                         `xml:"ownerId"`
	PrivateDNSName     string                         `xml:"privateDnsName"`
	PrivateIPAddress   string                         `xml:"privateIpAddress"`
	PrivateIPAddresses []interfacePrivateIPXML        `xml:"privateIpAddressesSet>item"`
	SourceDestCheck    bool                           `xml:"sourceDestCheck"`
	Status             string                         `xml:"status"`
	SubnetID           string                         `xml:"subnetId"`
	VpcID              string                         `xml:"vpcId"`
	InterfaceType      string                         `xml:"interfaceType"`
}

type instanceInterfaceAttachmentXML struct {
	AttachTime          string `xml:"attachTime"`
	AttachmentID        string `xml:"attachmentId"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	DeviceIndex         int    `xml:"deviceIndex"`
	Status              string `xml:"status"`
	NetworkCardIndex    int    `xml:"networkCardIndex"`
}

// interfaceAssociationXML is the public address of an interface; the
// allocation and association ids are DescribeNetworkInterfaces' only.
type interfaceAssociationXML struct {
	AllocationID  string `xml:"allocationId,omitempty"`
	AssociationID string `xml:"associationId,omitempty"`
	IPOwnerID     string `xml:"ipOwnerId"`
	PublicDNSName string `xml:"publicDnsName"`
	PublicIP      string `xml:"publicIp"`
}

type interfacePrivateIPXML struct {
	Association      *interfaceAssociationXML `xml:"association"`
	Primary          bool                     `xml:"primary"`
	PrivateDNSName   string                   `xml:"privateDnsName"`
	PrivateIPAddress string                   `xml:"privateIpAddress"`
}

// association is the interface's public address: an elastic IP (addr,
// when known, names its allocation), or the launch address, whose owner
// is EC2's "amazon".
func association(inst *store.Instance, accountID string, addr *store.Address) *interfaceAssociationXML {
	if inst.PublicIP == "" {
		if inst.LaunchIP == "" {
			return nil
		}
		return &interfaceAssociationXML{IPOwnerID: "amazon", PublicDNSName: inst.LaunchIP, PublicIP: inst.LaunchIP}
	}
	a := &interfaceAssociationXML{IPOwnerID: accountID, PublicDNSName: inst.PublicDNSName, PublicIP: inst.PublicIP}
	if addr != nil && addr.Association != nil {
		a.AllocationID, a.AssociationID = addr.AllocationID, addr.Association.AssociationID
	}
	return a
}

// renderNetwork fills the instance item's subnet, VPC and interfaces: its
// primary (derived, unless it was launched on an interface of the
// student's, device 0), then the student's interfaces attached to it
// (inst.Interfaces, in device order).
func renderNetwork(x *instanceXML, inst *store.Instance, accountID string) {
	if !hasInterface(inst) {
		return
	}
	yes := true
	x.SourceDestCheck = &yes
	x.SubnetID, x.VpcID = instanceSubnet(inst)
	var items []instanceENIXML
	if p := storedPrimary(inst); p == nil {
		items = append(items, derivedInterface(inst, accountID))
	} else if p.PublicIP != "" {
		x.IPAddress, x.DNSName = p.PublicIP, p.PublicIP // its elastic IP is the instance's
	}
	for _, ni := range inst.Interfaces {
		items = append(items, instanceItem(ownInterface(ni, accountID, nil, nil)))
	}
	x.NetworkInterfaces = &instanceENISetXML{Items: items}
}

// storedPrimary is the student's interface inst was launched on (device
// 0), or nil when its primary is its own derived one.
func storedPrimary(inst *store.Instance) *store.NetworkInterface {
	for _, ni := range inst.Interfaces {
		if ni.Attachment.DeviceIndex == 0 {
			return ni
		}
	}
	return nil
}

// derivedInterface is inst's own primary interface as its item shows it.
func derivedInterface(inst *store.Instance, accountID string) instanceENIXML {
	subnet, vpc := instanceSubnet(inst)
	eni := interfaceOf(inst)
	assoc := association(inst, accountID, nil)
	ni := instanceENIXML{
		Association: assoc,
		Attachment: instanceInterfaceAttachmentXML{
			AttachTime: ec2Second(inst.LaunchTime), AttachmentID: eni.attachmentID, DeleteOnTermination: !inst.KeepInterface, Status: "attached",
		},
		Description: inst.InterfaceDescription, Groups: groupItems(inst.Groups, false), MacAddress: eni.mac, NetworkInterfaceID: eni.id, OwnerID: accountID,
		PrivateDNSName: inst.PrivateDNSName, PrivateIPAddress: inst.PrivateIP, SourceDestCheck: true, Status: "in-use",
		SubnetID: subnet, VpcID: vpc, InterfaceType: "interface",
	}
	if inst.PrivateIP != "" {
		ni.PrivateIPAddresses = []interfacePrivateIPXML{{Association: assoc, Primary: true, PrivateDNSName: inst.PrivateDNSName, PrivateIPAddress: inst.PrivateIP}}
	}
	return ni
}

// instanceInterfaceFilters are DescribeInstances' filters on an
// instance's interfaces: each matches any of them.
var instanceInterfaceFilters = map[string]func(it *instanceENIXML) []string{
	"network-interface.vpc-id":                          func(it *instanceENIXML) []string { return []string{it.VpcID} },
	"network-interface.subnet-id":                       func(it *instanceENIXML) []string { return []string{it.SubnetID} },
	"network-interface.network-interface-id":            func(it *instanceENIXML) []string { return []string{it.NetworkInterfaceID} },
	"network-interface.attachment.attachment-id":        func(it *instanceENIXML) []string { return []string{it.Attachment.AttachmentID} },
	"network-interface.mac-address":                     func(it *instanceENIXML) []string { return []string{it.MacAddress} },
	"network-interface.addresses.private-ip-address":    func(it *instanceENIXML) []string { return []string{it.PrivateIPAddress} },
	"network-interface.private-ip-address":              func(it *instanceENIXML) []string { return []string{it.PrivateIPAddress} },
	"network-interface.private-dns-name":                func(it *instanceENIXML) []string { return []string{it.PrivateDNSName} },
	"network-interface.status":                          func(it *instanceENIXML) []string { return []string{it.Status} },
	"network-interface.association.public-ip":           interfacePublicIP,
	"network-interface.addresses.association.public-ip": interfacePublicIP,
	"network-interface.association.ip-owner-id": func(it *instanceENIXML) []string {
		if it.Association == nil {
			return nil
		}
		return []string{it.Association.IPOwnerID}
	},
	"network-interface.attachment.device-index": func(it *instanceENIXML) []string { return []string{strconv.Itoa(it.Attachment.DeviceIndex)} },
	"network-interface.group-id": func(it *instanceENIXML) []string {
		return groupValues(groupRefs(it.Groups), func(g store.GroupRef) string { return g.ID })
	},
	"network-interface.group-name": func(it *instanceENIXML) []string {
		return groupValues(groupRefs(it.Groups), func(g store.GroupRef) string { return g.Name })
	},
}

func interfacePublicIP(it *instanceENIXML) []string {
	if it.Association == nil {
		return nil
	}
	return []string{it.Association.PublicIP}
}

// networkAttrs answers the DescribeInstances filters on an instance's
// network; known is false for other names.
func networkAttrs(inst *store.Instance, name string) (values []string, known bool) {
	if name == "vpc-id" || name == "subnet-id" {
		if !hasInterface(inst) {
			return nil, true
		}
		subnet, vpc := instanceSubnet(inst)
		return one(map[string]string{"vpc-id": vpc, "subnet-id": subnet}[name])
	}
	field, known := instanceInterfaceFilters[name]
	if !known {
		return nil, false
	}
	var x instanceXML
	renderNetwork(&x, inst, "")
	if x.NetworkInterfaces == nil {
		return nil, true
	}
	for i := range x.NetworkInterfaces.Items {
		for _, v := range field(&x.NetworkInterfaces.Items[i]) {
			if v != "" {
				values = append(values, v)
			}
		}
	}
	return values, true
}

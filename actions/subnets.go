package actions

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// defaultSubnet returns the owner's default subnet in zone, making the
// default VPC and the subnet when missing (tx must then be writable). A
// zone the admin added after the VPC was made, or whose default subnet the
// student deleted, gets its subnet on first use, unless another subnet of
// the VPC has its block.
func (s *Service) defaultSubnet(tx store.Tx, owner, zone string) (*store.Subnet, error) {
	if !s.validZone(zone) {
		return nil, ec2err.New(ec2err.InvalidParameterValue, "Invalid availability zone: [%s]. Zones here: %v", zone, s.Config.AvailabilityZones)
	}
	id := store.DefaultSubnetID(owner, zone)
	sn, err := store.GetSubnet(tx, owner, id)
	if err != nil || sn != nil {
		return sn, err
	}
	v, err := s.defaultVPC(tx, owner)
	if err != nil {
		return nil, err
	}
	if sn, err = store.GetSubnet(tx, owner, id); err != nil || sn != nil { // made with the VPC just now
		return sn, err
	}
	block, err := netip.ParsePrefix(s.defaultNetwork().Subnets[zone])
	if err != nil || !inside(block, netip.MustParsePrefix(v.CIDR)) {
		return nil, ec2err.New(ec2err.InvalidSubnetIDNotFound, "Your default VPC %s (%s) has no default subnet in %s; choose another zone or give a SubnetId.", v.ID, v.CIDR, zone)
	}
	if err := checkNoConflict(tx, owner, v.ID, block); err != nil { // the student's own took its place
		return nil, err
	}
	sn = &store.Subnet{ID: id, Owner: owner, VpcID: v.ID, Zone: zone, DefaultForAz: true, MapPublicIP: true, CIDR: block.String()}
	return sn, store.PutSubnet(tx, sn)
}

// zoneBlock is zone i's block of a default VPC's range shared among n
// zones: a /most (a /20, as AWS's default subnets are), or an even share
// of a range too small for n of those. ok is false when the range has no
// block left for zone i (a /30 among 8 zones): that zone has no default
// subnet.
func zoneBlock(vpc netip.Prefix, i, n, most int) (block netip.Prefix, ok bool) {
	size := max(most, vpc.Bits()+bits.Len(uint(n-1)))
	if size > 32 {
		size = 32
	}
	if i >= 1<<(size-vpc.Bits()) {
		return netip.Prefix{}, false
	}
	a := vpc.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i) << (32 - size)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), size), true
}

var subnetKind = netKind[store.Subnet]{
	idParam: "SubnetId", prefix: "subnet", malformed: ec2err.InvalidSubnetIDMalformed, notFound: ec2err.InvalidSubnetIDNotFound,
	what: "subnet ID", get: store.GetSubnet, list: store.ListSubnets, id: func(sn *store.Subnet) string { return sn.ID },
}

// subnetByID is one of the owner's subnets by a checked id, or the EC2
// error.
func (s *Service) subnetByID(tx store.Tx, owner, id string) (*store.Subnet, error) {
	return subnetKind.byID(tx, owner, id)
}

var subnetActions = map[string]Handler{
	"CreateSubnet":          (*Service).createSubnet,
	"DescribeSubnets":       (*Service).describeSubnets,
	"DeleteSubnet":          (*Service).deleteSubnet,
	"ModifySubnetAttribute": (*Service).modifySubnetAttribute,
}

// EC2's bounds on a subnet's IPv4 block, and the addresses it keeps in
// each (network, router, DNS, future use, broadcast).
const (
	minSubnetBits     = 16
	maxSubnetBits     = 28
	reservedPerSubnet = 5
)

// Element order follows botocore's Subnet shape.
type subnetXML struct {
	AvailabilityZoneID   string            `xml:"availabilityZoneId"`
	MapCustomerOwnedIP   bool              `xml:"mapCustomerOwnedIpOnLaunch"`
	OwnerID              string            `xml:"ownerId"`
	AssignIPv6OnCreation bool              `xml:"assignIpv6AddressOnCreation"`
	IPv6Associations     *itemSet[string]  `xml:"ipv6CidrBlockAssociationSet"`
	Tags                 []tagXML          `xml:"tagSet>item"`
	ARN                  string            `xml:"subnetArn"`
	EnableDNS64          bool              `xml:"enableDns64"`
	IPv6Native           bool              `xml:"ipv6Native"`
	PrivateDNSOptions    privateDNSOptions `xml:"privateDnsNameOptionsOnLaunch"`
	BlockPublicAccess    blockPublicAccess `xml:"blockPublicAccessStates"`
	SubnetID             string            `xml:"subnetId"`
	State                string            `xml:"state"`
	VpcID                string            `xml:"vpcId"`
	CIDRBlock            string            `xml:"cidrBlock"`
	AvailableIPs         int               `xml:"availableIpAddressCount"`
	AvailabilityZone     string            `xml:"availabilityZone"`
	DefaultForAz         bool              `xml:"defaultForAz"`
	MapPublicIPOnLaunch  bool              `xml:"mapPublicIpOnLaunch"`
}

type privateDNSOptions struct {
	HostnameType string `xml:"hostnameType"`
	ARecord      bool   `xml:"enableResourceNameDnsARecord"`
	AAAARecord   bool   `xml:"enableResourceNameDnsAAAARecord"`
}

// subnetView renders subnets; used counts the instances in each.
type subnetView struct {
	s       *Service
	account string
	used    map[string]int
}

// readUse counts the owner's instances that are not terminated per subnet.
func (v *subnetView) readUse(tx store.Tx, owner string) error {
	v.used = map[string]int{}
	return store.ScanJSON(tx, store.BucketInstances, store.OwnerPrefix(owner), func(_ string, inst *store.Instance) error {
		if inst.SubnetID != "" && inst.State != "terminated" {
			v.used[inst.SubnetID]++
		}
		return nil
	})
}

func (v *subnetView) available(sn *store.Subnet) int {
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		return 0
	}
	return max(0, 1<<(32-p.Bits())-reservedPerSubnet-v.used[sn.ID])
}

func (v *subnetView) zoneID(zone string) string {
	for _, z := range v.s.zones() {
		if z.ZoneName == zone {
			return z.ZoneID
		}
	}
	return ""
}

func (v *subnetView) arn(id string) string {
	return "arn:aws:ec2:" + v.s.Config.Region + ":" + v.account + ":subnet/" + id
}

func (v *subnetView) render(sn *store.Subnet, tags []store.Tag, state string) subnetXML {
	return subnetXML{
		AvailabilityZoneID: v.zoneID(sn.Zone), OwnerID: v.account, IPv6Associations: &itemSet[string]{},
		Tags: tagsXML(tags), ARN: v.arn(sn.ID), PrivateDNSOptions: privateDNSOptions{HostnameType: "ip-name"},
		BlockPublicAccess: blockPublicAccess{"off"}, SubnetID: sn.ID, State: state, VpcID: sn.VpcID,
		CIDRBlock: sn.CIDR, AvailableIPs: v.available(sn), AvailabilityZone: sn.Zone,
		DefaultForAz: sn.DefaultForAz, MapPublicIPOnLaunch: v.mapsPublicIP(sn),
	}
}

// mapsPublicIP is the subnet's MapPublicIpOnLaunch as it works: false
// where no address can be given at launch (no launch pool), whatever the
// record says.
func (v *subnetView) mapsPublicIP(sn *store.Subnet) bool {
	return sn.MapPublicIP && v.s.mapsPublicIP()
}

// attrs answers DescribeSubnets' filters (the documented names, and the
// camel-case ones older tools send).
func (v *subnetView) attrs(sn *store.Subnet, tags []store.Tag) Attrs {
	zone, zoneID, cidr, def := []string{sn.Zone}, []string{v.zoneID(sn.Zone)}, []string{sn.CIDR}, boolText(sn.DefaultForAz)
	return netAttrs(tags, map[string][]string{
		"subnet-id": {sn.ID}, "vpc-id": {sn.VpcID}, "vpcId": {sn.VpcID}, "state": {stateAvailable},
		"availability-zone": zone, "availabilityZone": zone, "availability-zone-id": zoneID, "availabilityZoneId": zoneID,
		"available-ip-address-count": {strconv.Itoa(v.available(sn))}, "availableIpAddressCount": {strconv.Itoa(v.available(sn))},
		"cidr": cidr, "cidr-block": cidr, "cidrBlock": cidr, "default-for-az": def, "defaultForAz": def,
		"map-public-ip-on-launch": boolText(v.mapsPublicIP(sn)), "owner-id": {v.account}, "subnet-arn": {v.arn(sn.ID)},
		"ipv6-native": boolText(false), "enable-dns64": boolText(false), "outpost-arn": nil,
		"ipv6-cidr-block-association.ipv6-cidr-block": nil, "ipv6-cidr-block-association.association-id": nil,
		"ipv6-cidr-block-association.state": nil, "customer-owned-ipv4-pool": nil, "map-customer-owned-ip-on-launch": boolText(false),
	})
}

// CreateSubnet

type createSubnetResponse struct {
	Meta
	Subnet subnetXML `xml:"subnet"`
}

func (s *Service) createSubnet(r *Request) (any, error) {
	if err := s.networksAllowed(); err != nil {
		return nil, err
	}
	vpcID, err := requiredID(r.Params, "VpcId", "vpc", ec2err.InvalidVpcIDMalformed)
	if err != nil {
		return nil, err
	}
	cidr, err := requiredCIDR(r, minSubnetBits, maxSubnetBits, ec2err.InvalidSubnetRange)
	if err != nil {
		return nil, err
	}
	zone, err := s.subnetZone(r)
	if err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "subnet")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	sn := &store.Subnet{ID: store.NewID("subnet"), Owner: owner, VpcID: vpcID, CIDR: cidr.String(), Zone: zone}
	err = s.Store.Update(func(tx store.Tx) error {
		v, err := s.vpcForChange(tx, owner, vpcID)
		if err != nil {
			return err
		}
		if !inside(cidr, netip.MustParsePrefix(v.CIDR)) {
			return cidrInvalid(ec2err.InvalidSubnetRange, r.Params.String("CidrBlock"))
		}
		if err := checkNoConflict(tx, owner, vpcID, cidr); err != nil {
			return err
		}
		if err := store.PutSubnet(tx, sn); err != nil {
			return err
		}
		return putTags(tx, owner, sn.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	view := &subnetView{s: s, account: r.User.AccountID}
	return &createSubnetResponse{Subnet: view.render(sn, tags, stateAvailable)}, nil
}

// subnetZone is CreateSubnet's AvailabilityZone or AvailabilityZoneId (the
// first zone when both are left out, as EC2 picks one).
func (s *Service) subnetZone(r *Request) (string, error) {
	name, id := r.Params.String("AvailabilityZone"), r.Params.String("AvailabilityZoneId")
	if name != "" && id != "" {
		return "", ec2err.New(ec2err.InvalidParameterCombination, "Give AvailabilityZone or AvailabilityZoneId, not both.")
	}
	all := s.zones()
	for _, z := range all {
		if z.ZoneName == name || z.ZoneID == id {
			return z.ZoneName, nil
		}
	}
	param, value := "availabilityZone", name
	if id != "" {
		param, value = "availabilityZoneId", id
	}
	if value != "" {
		return "", ec2err.BadValue(param, value, "Subnets can currently only be created in the following availability zones: "+strings.Join(s.Config.AvailabilityZones, ", ")+".")
	}
	return all[0].ZoneName, nil
}

// checkNoConflict refuses a block that overlaps another subnet of the VPC.
func checkNoConflict(tx store.Tx, owner, vpcID string, cidr netip.Prefix) error {
	all, err := store.ListSubnets(tx, owner)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.VpcID == vpcID && overlaps(o.CIDR, cidr.String()) {
			return ec2err.New(ec2err.InvalidSubnetConflict, "The CIDR '%s' conflicts with another subnet", cidr)
		}
	}
	return nil
}

// DescribeSubnets

type describeSubnetsResponse struct {
	Meta
	NextToken string      `xml:"nextToken,omitempty"`
	Subnets   []subnetXML `xml:"subnetSet>item"`
}

func (s *Service) describeSubnets(r *Request) (any, error) {
	view := &subnetView{s: s, account: r.User.AccountID}
	subnets, next, err := describeNet(s, r, subnetKind, view.attrs, func(tx store.Tx) error { return view.readUse(tx, r.User.Name) }, func(sn *store.Subnet, tags []store.Tag) subnetXML {
		return view.render(sn, tags, stateAvailable)
	})
	if err != nil {
		return nil, err
	}
	return &describeSubnetsResponse{NextToken: next, Subnets: subnets}, nil
}

// DeleteSubnet

func (s *Service) deleteSubnet(r *Request) (any, error) {
	if err := s.settle(r); err != nil {
		return nil, err
	}
	owner := r.User.Name
	return deleteNet(s, r, subnetKind, func(tx store.Tx, sn *store.Subnet) error {
		inUse, err := store.SubnetInUse(tx, owner, sn.ID)
		if err == nil && inUse {
			err = ec2err.New(ec2err.DependencyViolation, "The subnet '%s' has dependencies and cannot be deleted: an instance that is not terminated, or a network interface, is in it.", sn.ID)
		}
		return err
	}, func(tx store.Tx, sn *store.Subnet) error {
		if err := dropSubnetAssociations(tx, owner, sn.ID); err != nil {
			return err
		}
		return store.DeleteSubnet(tx, owner, sn.ID)
	})
}

// ModifySubnetAttribute

// unsupportedSubnetAttributes are the attributes of ModifySubnetAttribute
// these subnets do not have (no IPv6, no Outposts, no resource names).
var unsupportedSubnetAttributes = []string{
	"AssignIpv6AddressOnCreation", "MapCustomerOwnedIpOnLaunch", "CustomerOwnedIpv4Pool", "EnableDns64",
	"PrivateDnsHostnameTypeOnLaunch", "EnableResourceNameDnsARecordOnLaunch", "EnableResourceNameDnsAAAARecordOnLaunch",
	"EnableLniAtDeviceIndex", "DisableLniAtDeviceIndex",
}

func (s *Service) modifySubnetAttribute(r *Request) (any, error) {
	id, err := requiredID(r.Params, "SubnetId", "subnet", ec2err.InvalidSubnetIDMalformed)
	if err != nil {
		return nil, err
	}
	for _, a := range unsupportedSubnetAttributes {
		if r.Params.Has(a) || r.Params.Has(a+".Value") { // a plain value or an AttributeBooleanValue
			return nil, ec2err.New(ec2err.UnsupportedOperation, "The subnet attribute %s is not offered here; only MapPublicIpOnLaunch is.", a)
		}
	}
	if !r.Params.Has("MapPublicIpOnLaunch.Value") {
		return nil, ec2err.Missing("MapPublicIpOnLaunch.Value")
	}
	mapPublic, err := r.Params.Bool("MapPublicIpOnLaunch.Value", false)
	if err != nil {
		return nil, err
	}
	if mapPublic && !s.mapsPublicIP() {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "This endpoint gives no public IPv4 addresses at launch (the administrator configured no elastic_ips.launch_pool), so MapPublicIpOnLaunch cannot be turned on; allocate and associate an elastic IP instead.")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		sn, err := s.subnetByID(tx, owner, id)
		if err != nil {
			return err
		}
		sn.MapPublicIP = mapPublic
		return store.PutSubnet(tx, sn)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

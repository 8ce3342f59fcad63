package actions

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// The network model: every student has a default VPC (isDefault) with one
// default subnet per availability zone, an internet gateway and a main
// route table, made on first use, like their default security group (which
// belongs to it). Its range is the course network on a backend that has
// one (backend.Network: real EC2), else the sim's cidr, where instance
// addresses come from, or EC2's 172.31.0.0/16. Its records have
// derived ids, so two replicas making it at once agree. Students make more
// VPCs of their own (max_vpcs counts the default one too).

// awsDefaultVPCCIDR is the range of every AWS account's default VPC.
var awsDefaultVPCCIDR = netip.MustParsePrefix("172.31.0.0/16")

// defaultSubnetBits is the size of AWS's default subnets (a /20 each).
const defaultSubnetBits = 20

// defaultNetwork is the ranges of every student's default VPC and its
// subnets: the backend's network, else the sim's cidr or EC2's range cut
// into a block per zone.
func (s *Service) defaultNetwork() backend.DefaultNetwork {
	if s.Backend.Network != nil {
		if n := s.Backend.Network.DefaultNetwork(); n.CIDR != "" {
			return n
		}
	}
	vpc, most := awsDefaultVPCCIDR, defaultSubnetBits
	if s.Config.Backend.Name == "sim" {
		// The zones share the admin's range evenly, so every address of it
		// stays usable: it is sized for the course, whose launches may all
		// go to one zone.
		most = 0
		if p, err := netip.ParsePrefix(s.Config.Backend.Sim.CIDR); err == nil {
			vpc = p.Masked()
		}
	}
	n := backend.DefaultNetwork{CIDR: vpc.String(), Subnets: map[string]string{}}
	for i, zone := range s.Config.AvailabilityZones {
		if block, ok := zoneBlock(vpc, i, len(s.Config.AvailabilityZones), most); ok {
			n.Subnets[zone] = block.String()
		}
	}
	return n
}

// defaultVPC returns the owner's default VPC, making it and its default
// subnets, gateway, route table and security group when missing (tx must
// then be writable: read-only actions call ensureDefaultNetwork first).
func (s *Service) defaultVPC(tx store.Tx, owner string) (*store.VPC, error) {
	id := store.DefaultVPCID(owner)
	v, err := store.GetVPC(tx, owner, id)
	if err != nil || v != nil {
		return v, err
	}
	network := s.defaultNetwork()
	v = newVPC(owner, id, network.CIDR, true)
	igw := &store.InternetGateway{ID: store.DefaultInternetGatewayID(owner), Owner: owner, VpcID: id}
	if err := store.PutInternetGateway(tx, igw); err != nil {
		return nil, err
	}
	if err := putNewVPC(tx, v, store.Route{Destination: "0.0.0.0/0", GatewayID: igw.ID}); err != nil {
		return nil, err
	}
	if err := adoptLegacyGroups(tx, owner, id); err != nil {
		return nil, err
	}
	for _, zone := range s.Config.AvailabilityZones {
		if _, ok := network.Subnets[zone]; !ok {
			continue // a range too small for every zone, or a course network without this zone
		}
		if _, err := s.defaultSubnet(tx, owner, zone); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// ensureDefaultNetwork is defaultVPC for read-only actions: it writes only
// the first time.
func (s *Service) ensureDefaultNetwork(owner string) error {
	var found bool
	err := s.Store.View(func(tx store.Tx) error {
		v, err := store.GetVPC(tx, owner, store.DefaultVPCID(owner))
		found = v != nil
		return err
	})
	if err != nil || found {
		return err
	}
	return s.Store.Update(func(tx store.Tx) error {
		_, err := s.defaultVPC(tx, owner)
		return err
	})
}

// newVPC is a VPC as EC2 makes it: DNS resolution on, and DNS host names
// only in a default VPC.
func newVPC(owner, id, cidr string, isDefault bool) *store.VPC {
	return &store.VPC{
		ID: id, Owner: owner, CIDR: cidr, IsDefault: isDefault,
		DNSSupport: true, DNSHostnames: isDefault,
		CIDRAssociationID: store.DerivedID("vpc-cidr-assoc", owner, id),
	}
}

// putNewVPC stores a new VPC with what EC2 makes with it: its main route
// table (the local route, then routes) and its security group "default"
// (the default VPC's may exist already, made before there were VPCs).
func putNewVPC(tx store.Tx, v *store.VPC, routes ...store.Route) error {
	if err := store.PutVPC(tx, v); err != nil {
		return err
	}
	rtb := &store.RouteTable{
		ID: store.MainRouteTableID(v.Owner, v.ID), Owner: v.Owner, VpcID: v.ID, Main: true,
		MainAssocID: store.DerivedID("rtbassoc", v.Owner, v.ID, "main"),
		Routes:      append([]store.Route{{Destination: v.CIDR, GatewayID: localGateway}}, routes...),
	}
	if err := store.PutRouteTable(tx, rtb); err != nil {
		return err
	}
	g, err := store.SecurityGroupInVPC(tx, v.Owner, v.ID, defaultGroupName)
	if err != nil || g != nil {
		return err
	}
	return store.PutSecurityGroup(tx, newDefaultGroup(v.Owner, v.ID))
}

// localGateway is the target of a VPC's own range in every route table.
const localGateway = "local"

// adoptLegacyGroups moves the owner's groups made before each student had
// a default VPC (store.LegacyVpcID) into the new default VPC.
func adoptLegacyGroups(tx store.Tx, owner, vpcID string) error {
	groups, err := store.ListSecurityGroups(tx, owner)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.VpcID == store.LegacyVpcID || g.VpcID == "" {
			g.VpcID = vpcID
			if err := store.PutSecurityGroup(tx, g); err != nil {
				return err
			}
		}
	}
	return nil
}

var vpcKind = netKind[store.VPC]{
	idParam: "VpcId", prefix: "vpc", malformed: ec2err.InvalidVpcIDMalformed, notFound: ec2err.InvalidVpcIDNotFound,
	what: "vpc ID", get: store.GetVPC, list: store.ListVPCs, id: func(v *store.VPC) string { return v.ID },
}

// vpcByID is one of the owner's VPCs by a checked id, or the EC2 error.
func (s *Service) vpcByID(tx store.Tx, owner, id string) (*store.VPC, error) {
	return vpcKind.byID(tx, owner, id)
}

// vpcForChange is vpcByID in a writable tx, the default network made
// first, so that its VPC can be named before anything else made it.
func (s *Service) vpcForChange(tx store.Tx, owner, id string) (*store.VPC, error) {
	if _, err := s.defaultVPC(tx, owner); err != nil {
		return nil, err
	}
	return s.vpcByID(tx, owner, id)
}

var vpcActions = map[string]Handler{
	"CreateVpc":            (*Service).createVpc,
	"DescribeVpcs":         (*Service).describeVpcs,
	"DeleteVpc":            (*Service).deleteVpc,
	"DescribeVpcAttribute": (*Service).describeVpcAttribute,
	"ModifyVpcAttribute":   (*Service).modifyVpcAttribute,
}

// EC2's bounds on a VPC's IPv4 block.
const (
	minVPCBits = 16
	maxVPCBits = 28
)

// Element order follows botocore's Vpc shape.
type vpcXML struct {
	OwnerID           string            `xml:"ownerId"`
	InstanceTenancy   string            `xml:"instanceTenancy"`
	CIDRAssociations  []cidrAssocXML    `xml:"cidrBlockAssociationSet>item"`
	IsDefault         bool              `xml:"isDefault"`
	Tags              []tagXML          `xml:"tagSet>item"`
	BlockPublicAccess blockPublicAccess `xml:"blockPublicAccessStates"`
	VpcID             string            `xml:"vpcId"`
	State             string            `xml:"state"`
	CIDRBlock         string            `xml:"cidrBlock"`
	DHCPOptionsID     string            `xml:"dhcpOptionsId"`
}

type cidrAssocXML struct {
	AssociationID string           `xml:"associationId"`
	CIDRBlock     string           `xml:"cidrBlock"`
	State         associationState `xml:"cidrBlockState"`
}

// blockPublicAccess is VPC Block Public Access, never turned on here.
type blockPublicAccess struct {
	Mode string `xml:"internetGatewayBlockMode"`
}

// The constant parts of every VPC: no DHCP option set of its own ("default"
// is how EC2 says so), default tenancy; its primary block is associated
// (stateAssociated, as a route table's associations are).
const (
	vpcDHCPOptions = "default"
	vpcTenancy     = "default"
	stateAvailable = "available"
	statePending   = "pending"
)

func vpcView(v *store.VPC, tags []store.Tag, accountID, state string) vpcXML {
	return vpcXML{
		OwnerID: accountID, InstanceTenancy: vpcTenancy, IsDefault: v.IsDefault, Tags: tagsXML(tags),
		CIDRAssociations:  []cidrAssocXML{{AssociationID: v.CIDRAssociationID, CIDRBlock: v.CIDR, State: associationState{stateAssociated}}},
		BlockPublicAccess: blockPublicAccess{"off"}, VpcID: v.ID, State: state, CIDRBlock: v.CIDR, DHCPOptionsID: vpcDHCPOptions,
	}
}

// vpcAttrs answers DescribeVpcs' filters (the documented names, and the
// camel-case ones older tools send).
func vpcAttrs(accountID string) func(*store.VPC, []store.Tag) Attrs {
	return func(v *store.VPC, tags []store.Tag) Attrs {
		cidr, def := []string{v.CIDR}, boolText(v.IsDefault)
		return netAttrs(tags, map[string][]string{
			"vpc-id": {v.ID}, "cidr": cidr, "cidr-block": cidr, "cidrBlock": cidr,
			"cidr-block-association.cidr-block":     cidr,
			"cidr-block-association.association-id": {v.CIDRAssociationID},
			"cidr-block-association.state":          {stateAssociated},
			"dhcp-options-id":                       {vpcDHCPOptions}, "is-default": def, "isDefault": def,
			"owner-id": {accountID}, "state": {stateAvailable}, "instance-tenancy": {vpcTenancy},
			"ipv6-cidr-block-association.ipv6-cidr-block": nil, "ipv6-cidr-block-association.ipv6-pool": nil,
			"ipv6-cidr-block-association.association-id": nil, "ipv6-cidr-block-association.state": nil,
		})
	}
}

// networksAllowed refuses the creation of network resources on the ec2
// backend unless the admin allows it (backend.ec2.allow_vpcs): there a
// student's network is the course's, and what they create is only ours.
func (s *Service) networksAllowed() error {
	if s.Config.Backend.Name == "ec2" && !s.Config.Backend.EC2.AllowVPCs {
		return ec2err.New(ec2err.UnsupportedOperation, "Creating VPCs, subnets, internet gateways and route tables is not offered on this course's cloud: your instances use the course network (your default VPC). Ask your instructor (backend.ec2.allow_vpcs).")
	}
	return nil
}

// CreateVpc

type createVpcResponse struct {
	Meta
	Vpc vpcXML `xml:"vpc"`
}

func (s *Service) createVpc(r *Request) (any, error) {
	if err := s.networksAllowed(); err != nil {
		return nil, err
	}
	cidr, err := requiredCIDR(r, minVPCBits, maxVPCBits, ec2err.InvalidVpcRange)
	if err != nil {
		return nil, err
	}
	if t := r.Params.String("InstanceTenancy"); t != "" && t != vpcTenancy {
		return nil, ec2err.BadValue("InstanceTenancy", t, "Only default tenancy is offered here.")
	}
	if ipv6, err := r.Params.Bool("AmazonProvidedIpv6CidrBlock", false); err != nil || ipv6 {
		if err == nil {
			err = ec2err.New(ec2err.UnsupportedOperation, "IPv6 blocks are not offered here: leave out AmazonProvidedIpv6CidrBlock.")
		}
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "vpc")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	v := newVPC(owner, store.NewID("vpc"), cidr.String(), false)
	err = s.Store.Update(func(tx store.Tx) error {
		if _, err := s.defaultVPC(tx, owner); err != nil { // it counts toward max_vpcs
			return err
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{VPCs: 1}); err != nil {
			return err
		}
		if err := putNewVPC(tx, v); err != nil {
			return err
		}
		return putTags(tx, owner, v.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	return &createVpcResponse{Vpc: vpcView(v, tags, r.User.AccountID, statePending)}, nil
}

// DescribeVpcs

type describeVpcsResponse struct {
	Meta
	NextToken string   `xml:"nextToken,omitempty"`
	Vpcs      []vpcXML `xml:"vpcSet>item"`
}

func (s *Service) describeVpcs(r *Request) (any, error) {
	vpcs, next, err := describeNet(s, r, vpcKind, vpcAttrs(r.User.AccountID), nil, func(v *store.VPC, tags []store.Tag) vpcXML {
		return vpcView(v, tags, r.User.AccountID, stateAvailable)
	})
	if err != nil {
		return nil, err
	}
	return &describeVpcsResponse{NextToken: next, Vpcs: vpcs}, nil
}

// DeleteVpc

func (s *Service) deleteVpc(r *Request) (any, error) {
	owner := r.User.Name
	return deleteNet(s, r, vpcKind, func(tx store.Tx, v *store.VPC) error {
		if v.IsDefault {
			// Made again on first use, it would come back at once.
			return ec2err.New(ec2err.OperationNotPermitted, "The default VPC '%s' cannot be deleted here: your instances and groups live in it. Delete the VPCs you created instead.", v.ID)
		}
		return checkVPCEmpty(tx, v)
	}, func(tx store.Tx, v *store.VPC) error {
		if err := store.DeleteRouteTable(tx, owner, store.MainRouteTableID(owner, v.ID)); err != nil {
			return err
		}
		g, err := store.SecurityGroupInVPC(tx, owner, v.ID, defaultGroupName)
		if err == nil && g != nil {
			err = store.DeleteSecurityGroup(tx, owner, g.ID)
		}
		if err != nil {
			return err
		}
		return store.DeleteVPC(tx, owner, v.ID)
	})
}

// checkVPCEmpty refuses to delete a VPC that still has what EC2 says
// must go first: subnets, an attached gateway, route tables other than
// the main one, security groups other than "default".
func checkVPCEmpty(tx store.Tx, v *store.VPC) error {
	dependent := func(what, id string) error {
		return ec2err.New(ec2err.DependencyViolation, "The vpc '%s' has dependencies and cannot be deleted: %s %s is still in it; delete it (or detach it) first.", v.ID, what, id)
	}
	subnets, err := store.ListSubnets(tx, v.Owner)
	if err != nil {
		return err
	}
	for _, sn := range subnets {
		if sn.VpcID == v.ID {
			return dependent("subnet", sn.ID)
		}
	}
	igws, err := store.ListInternetGateways(tx, v.Owner)
	if err != nil {
		return err
	}
	for _, g := range igws {
		if g.VpcID == v.ID {
			return dependent("internet gateway", g.ID)
		}
	}
	rtbs, err := store.ListRouteTables(tx, v.Owner)
	if err != nil {
		return err
	}
	for _, t := range rtbs {
		if t.VpcID == v.ID && !t.Main {
			return dependent("route table", t.ID)
		}
	}
	groups, err := store.ListSecurityGroups(tx, v.Owner)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.VpcID == v.ID && g.Name != defaultGroupName {
			return dependent("security group", g.ID)
		}
	}
	return nil
}

// DescribeVpcAttribute and ModifyVpcAttribute

type describeVpcAttributeResponse struct {
	Meta
	EnableDNSHostnames *attrBoolXML `xml:"enableDnsHostnames"`
	EnableDNSSupport   *attrBoolXML `xml:"enableDnsSupport"`
	EnableNAUMetrics   *attrBoolXML `xml:"enableNetworkAddressUsageMetrics"`
	VpcID              string       `xml:"vpcId"`
}

// vpcAttribute is one VPC attribute: its name in DescribeVpcAttribute
// (enableDnsSupport), in ModifyVpcAttribute (EnableDnsSupport.Value), its
// field of the record (nil: always false here) and of the answer.
type vpcAttribute struct {
	name, param string
	field       func(*store.VPC) *bool
	out         func(*describeVpcAttributeResponse) **attrBoolXML
}

var vpcAttributes = []vpcAttribute{
	{"enableDnsSupport", "EnableDnsSupport", func(v *store.VPC) *bool { return &v.DNSSupport },
		func(r *describeVpcAttributeResponse) **attrBoolXML { return &r.EnableDNSSupport }},
	{"enableDnsHostnames", "EnableDnsHostnames", func(v *store.VPC) *bool { return &v.DNSHostnames },
		func(r *describeVpcAttributeResponse) **attrBoolXML { return &r.EnableDNSHostnames }},
	{"enableNetworkAddressUsageMetrics", "EnableNetworkAddressUsageMetrics", nil,
		func(r *describeVpcAttributeResponse) **attrBoolXML { return &r.EnableNAUMetrics }},
}

func (s *Service) describeVpcAttribute(r *Request) (any, error) {
	id, err := requiredID(r.Params, "VpcId", "vpc", ec2err.InvalidVpcIDMalformed)
	if err != nil {
		return nil, err
	}
	name, err := r.Params.Required("Attribute")
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(vpcAttributes, func(a vpcAttribute) bool { return a.name == name })
	if i < 0 {
		return nil, ec2err.BadValue("Attribute", name, "It must be enableDnsSupport, enableDnsHostnames or enableNetworkAddressUsageMetrics.")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	if err := s.ensureDefaultNetwork(r.User.Name); err != nil {
		return nil, err
	}
	resp := &describeVpcAttributeResponse{VpcID: id}
	err = s.Store.View(func(tx store.Tx) error {
		v, err := s.vpcByID(tx, r.User.Name, id)
		if err != nil {
			return err
		}
		value := &attrBoolXML{}
		if f := vpcAttributes[i].field; f != nil {
			value.Value = *f(v)
		}
		*vpcAttributes[i].out(resp) = value
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Service) modifyVpcAttribute(r *Request) (any, error) {
	id, err := requiredID(r.Params, "VpcId", "vpc", ec2err.InvalidVpcIDMalformed)
	if err != nil {
		return nil, err
	}
	var attr vpcAttribute
	var value bool
	var named []string
	for _, a := range vpcAttributes {
		if !r.Params.Has(a.param + ".Value") {
			continue
		}
		named, attr = append(named, a.name), a
		if value, err = r.Params.Bool(a.param+".Value", false); err != nil {
			return nil, err
		}
	}
	switch {
	case len(named) == 0:
		return nil, ec2err.New(ec2err.MissingParameter, "The request must name one attribute: EnableDnsSupport.Value or EnableDnsHostnames.Value.")
	case len(named) > 1:
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "Fields for multiple attribute types specified: %s. Modify one attribute per request.", strings.Join(named, ", "))
	case attr.field == nil && value:
		return nil, ec2err.New(ec2err.UnsupportedOperation, "%s is not offered here.", attr.name)
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	if attr.field == nil {
		return ok()
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		v, err := s.vpcForChange(tx, owner, id)
		if err != nil {
			return err
		}
		*attr.field(v) = value
		return store.PutVPC(tx, v)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

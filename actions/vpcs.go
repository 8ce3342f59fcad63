package actions

import (
	"fmt"
	"net/netip"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// The network model: every student has a default VPC (isDefault) with one
// default subnet per availability zone, an internet gateway and a main
// route table, made on first use, like their default security group (which
// belongs to it). Its range is the sim's cidr, where instance addresses
// come from, and 172.31.0.0/16, EC2's, on other backends. Its records have
// derived ids, so two replicas making it at once agree. Students make more
// VPCs of their own (max_vpcs counts the default one too).

// awsDefaultVPCCIDR is the range of every AWS account's default VPC.
var awsDefaultVPCCIDR = netip.MustParsePrefix("172.31.0.0/16")

// defaultSubnetBits is the size of AWS's default subnets (a /20 each).
const defaultSubnetBits = 20

// defaultVPCCIDR is the range of every student's default VPC.
func (s *Service) defaultVPCCIDR() netip.Prefix {
	if s.Config.Backend.Name == "sim" {
		if p, err := netip.ParsePrefix(s.Config.Backend.Sim.CIDR); err == nil {
			return p.Masked()
		}
	}
	return awsDefaultVPCCIDR
}

// zoneBlockBits is the longest prefix of a default subnet: AWS's /20, or
// on the sim none, so the zones share the admin's cidr evenly and every
// address of it stays usable (the range is sized for the course, all of
// whose launches may go to one zone).
func (s *Service) zoneBlockBits() int {
	if s.Config.Backend.Name == "sim" {
		return 0
	}
	return defaultSubnetBits
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
	v = newVPC(owner, id, s.defaultVPCCIDR(), true)
	if err := putNewVPC(tx, v); err != nil {
		return nil, err
	}
	if err := adoptLegacyGroups(tx, owner, id); err != nil {
		return nil, err
	}
	for _, zone := range s.Config.AvailabilityZones {
		if _, err := s.defaultSubnet(tx, owner, zone); err != nil {
			return nil, err
		}
	}
	igw := &store.InternetGateway{ID: store.DefaultInternetGatewayID(owner), Owner: owner, VpcID: id}
	if err := store.PutInternetGateway(tx, igw); err != nil {
		return nil, err
	}
	rtb, err := store.GetRouteTable(tx, owner, store.MainRouteTableID(owner, id))
	if err == nil && rtb == nil { // a failed read (a conflict on PostgreSQL): the update is run again
		err = fmt.Errorf("default VPC %s: its main route table %s is not there", id, store.MainRouteTableID(owner, id))
	}
	if err != nil {
		return nil, err
	}
	rtb.Routes = append(rtb.Routes, store.Route{Destination: "0.0.0.0/0", GatewayID: igw.ID})
	return v, store.PutRouteTable(tx, rtb)
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
func newVPC(owner, id string, cidr netip.Prefix, isDefault bool) *store.VPC {
	return &store.VPC{
		ID: id, Owner: owner, CIDR: cidr.String(), IsDefault: isDefault,
		DNSSupport: true, DNSHostnames: isDefault,
		CIDRAssociationID: store.DerivedID("vpc-cidr-assoc", owner, id),
	}
}

// putNewVPC stores a new VPC with what EC2 makes with it: its main route
// table (the local route) and its security group "default" (the default
// VPC's may exist already, made before there were VPCs).
func putNewVPC(tx store.Tx, v *store.VPC) error {
	if err := store.PutVPC(tx, v); err != nil {
		return err
	}
	rtb := &store.RouteTable{
		ID: store.MainRouteTableID(v.Owner, v.ID), Owner: v.Owner, VpcID: v.ID, Main: true,
		MainAssocID: store.DerivedID("rtbassoc", v.Owner, v.ID, "main"),
		Routes:      []store.Route{{Destination: v.CIDR, GatewayID: localGateway}},
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

// vpcByID is one of the owner's VPCs by a checked id, or the EC2 error.
func (s *Service) vpcByID(tx store.Tx, owner, id string) (*store.VPC, error) {
	if err := checkIDs([]string{id}, "vpc", ec2err.InvalidVpcIDMalformed); err != nil {
		return nil, err
	}
	v, err := store.GetVPC(tx, owner, id)
	if err == nil && v == nil {
		err = vpcNotFound(id)
	}
	return v, err
}

func vpcNotFound(id string) error {
	return ec2err.New(ec2err.InvalidVpcIDNotFound, "The vpc ID '%s' does not exist", id)
}

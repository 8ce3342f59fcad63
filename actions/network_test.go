package actions

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// labNet is a student's lab network: a VPC with a subnet, an attached
// gateway and a table routing the subnet to it.
type labNet struct {
	vpc, subnet, igw, rtb, assoc string
}

func (e *testEnv) createLabNet(t *testing.T, user, cidr, subnetCIDR string) labNet {
	t.Helper()
	var n labNet
	n.vpc = e.mustCall(t, user, "CreateVpc", "CidrBlock", cidr).(*createVpcResponse).Vpc.VpcID
	n.subnet = e.mustCall(t, user, "CreateSubnet", "VpcId", n.vpc, "CidrBlock", subnetCIDR).(*createSubnetResponse).Subnet.SubnetID
	n.igw = e.mustCall(t, user, "CreateInternetGateway").(*createInternetGatewayResponse).InternetGateway.ID
	e.mustCall(t, user, "AttachInternetGateway", "InternetGatewayId", n.igw, "VpcId", n.vpc)
	n.rtb = e.mustCall(t, user, "CreateRouteTable", "VpcId", n.vpc).(*createRouteTableResponse).RouteTable.ID
	e.mustCall(t, user, "CreateRoute", "RouteTableId", n.rtb, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", n.igw)
	n.assoc = e.mustCall(t, user, "AssociateRouteTable", "RouteTableId", n.rtb, "SubnetId", n.subnet).(*associateRouteTableResponse).AssociationID
	return n
}

// A lab network is taken down in the order EC2 insists on: each step
// before its turn is a DependencyViolation.
func TestNetworkTeardownOrder(t *testing.T) {
	e := newTestEnv(t, nil)
	n := e.createLabNet(t, "alice", "10.0.0.0/16", "10.0.1.0/24")
	sg := e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web", "VpcId", n.vpc).(*createSecurityGroupResponse).GroupID
	steps := []struct {
		name   string
		action string
		kv     []string
		early  string // the code before its dependencies are gone; "" = none
	}{
		{"route table still associated", "DeleteRouteTable", []string{"RouteTableId", n.rtb}, ec2err.DependencyViolation},
		{"gateway still attached", "DeleteInternetGateway", []string{"InternetGatewayId", n.igw}, ec2err.DependencyViolation},
		{"vpc with everything in it", "DeleteVpc", []string{"VpcId", n.vpc}, ec2err.DependencyViolation},
		{"delete subnet", "DeleteSubnet", []string{"SubnetId", n.subnet}, ""},
		{"vpc with its gateway", "DeleteVpc", []string{"VpcId", n.vpc}, ec2err.DependencyViolation},
		{"detach gateway", "DetachInternetGateway", []string{"InternetGatewayId", n.igw, "VpcId", n.vpc}, ""},
		{"delete gateway", "DeleteInternetGateway", []string{"InternetGatewayId", n.igw}, ""},
		{"vpc with its route table", "DeleteVpc", []string{"VpcId", n.vpc}, ec2err.DependencyViolation},
		{"delete route table (the subnet's association went with it)", "DeleteRouteTable", []string{"RouteTableId", n.rtb}, ""},
		{"vpc with a group", "DeleteVpc", []string{"VpcId", n.vpc}, ec2err.DependencyViolation},
		{"delete group", "DeleteSecurityGroup", []string{"GroupId", sg}, ""},
		{"delete vpc", "DeleteVpc", []string{"VpcId", n.vpc}, ""},
	}
	for _, st := range steps {
		_, err := e.call(t, "alice", st.action, st.kv...)
		if st.early == "" && err != nil {
			t.Fatalf("%s: got %v, want success", st.name, err)
		}
		if st.early != "" && !ec2err.Is(err, st.early) {
			t.Fatalf("%s: got %v, want %s", st.name, err, st.early)
		}
	}
	vpcs, subnets, igws, rtbs := viewNetwork(t, e, "alice")
	if len(vpcs) != 1 || len(subnets) != 2 || len(igws) != 1 || len(rtbs) != 1 {
		t.Errorf("got %d VPCs, %d subnets, %d gateways, %d tables, want the default network only (1, 2, 1, 1)", len(vpcs), len(subnets), len(igws), len(rtbs))
	}
	groups := e.mustCall(t, "alice", "DescribeSecurityGroups").(*describeSecurityGroupsResponse).Groups
	if len(groups) != 1 || groups[0].VpcID != store.DefaultVPCID("alice") {
		t.Errorf("got groups %+v, want only the default VPC's default group (the VPC's own went with it)", groups)
	}
}

func TestNetworkErrors(t *testing.T) {
	e := newTestEnv(t, nil)
	n := e.createLabNet(t, "alice", "10.0.0.0/16", "10.0.1.0/24")
	other := e.mustCall(t, "alice", "CreateVpc", "CidrBlock", "10.1.0.0/16").(*createVpcResponse).Vpc.VpcID
	otherIGW := e.mustCall(t, "alice", "CreateInternetGateway").(*createInternetGatewayResponse).InternetGateway.ID
	mainRtb := store.MainRouteTableID("alice", n.vpc)
	var mainAssoc string
	for _, rt := range e.mustCall(t, "alice", "DescribeRouteTables", "RouteTableId.1", mainRtb).(*describeRouteTablesResponse).RouteTables[0].Associations {
		mainAssoc = rt.ID
	}
	bob := e.createLabNet(t, "bob", "10.0.0.0/16", "10.0.1.0/24")
	cases := []struct {
		name   string
		action string
		kv     []string
		want   string
	}{
		{"vpc too big", "CreateVpc", []string{"CidrBlock", "10.0.0.0/8"}, ec2err.InvalidVpcRange},
		{"vpc too small", "CreateVpc", []string{"CidrBlock", "10.0.0.0/29"}, ec2err.InvalidVpcRange},
		{"vpc cidr not a cidr", "CreateVpc", []string{"CidrBlock", "10.0.0.0"}, ec2err.InvalidParameterValue},
		{"vpc cidr missing", "CreateVpc", nil, ec2err.MissingParameter},
		{"vpc ipv6", "CreateVpc", []string{"CidrBlock", "10.2.0.0/16", "AmazonProvidedIpv6CidrBlock", "true"}, ec2err.UnsupportedOperation},
		{"vpc tag spec of another type", "CreateVpc", []string{"CidrBlock", "10.2.0.0/16", "TagSpecification.1.ResourceType", "subnet", "TagSpecification.1.Tag.1.Key", "k"}, ec2err.InvalidParameterValue},
		{"vpc id malformed", "DescribeVpcs", []string{"VpcId.1", "vpc-xyz"}, ec2err.InvalidVpcIDMalformed},
		{"vpc unknown", "DescribeVpcs", []string{"VpcId.1", "vpc-0123456789abcdef0"}, ec2err.InvalidVpcIDNotFound},
		{"bob's vpc", "DescribeVpcs", []string{"VpcId.1", bob.vpc}, ec2err.InvalidVpcIDNotFound},
		{"bob's vpc deleted", "DeleteVpc", []string{"VpcId", bob.vpc}, ec2err.InvalidVpcIDNotFound},
		{"default vpc deleted", "DeleteVpc", []string{"VpcId", store.DefaultVPCID("alice")}, ec2err.OperationNotPermitted},
		{"unknown filter", "DescribeVpcs", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, ec2err.InvalidParameterValue},
		{"attribute unknown", "DescribeVpcAttribute", []string{"VpcId", n.vpc, "Attribute", "colour"}, ec2err.InvalidParameterValue},
		{"attribute of bob's vpc", "DescribeVpcAttribute", []string{"VpcId", bob.vpc, "Attribute", "enableDnsSupport"}, ec2err.InvalidVpcIDNotFound},
		{"modify two attributes", "ModifyVpcAttribute", []string{"VpcId", n.vpc, "EnableDnsSupport.Value", "true", "EnableDnsHostnames.Value", "true"}, ec2err.InvalidParameterCombination},
		{"modify no attribute", "ModifyVpcAttribute", []string{"VpcId", n.vpc}, ec2err.MissingParameter},
		{"modify bob's vpc", "ModifyVpcAttribute", []string{"VpcId", bob.vpc, "EnableDnsHostnames.Value", "true"}, ec2err.InvalidVpcIDNotFound},
		{"subnet outside its vpc", "CreateSubnet", []string{"VpcId", n.vpc, "CidrBlock", "10.9.0.0/24"}, ec2err.InvalidSubnetRange},
		{"subnet too small", "CreateSubnet", []string{"VpcId", n.vpc, "CidrBlock", "10.0.2.0/29"}, ec2err.InvalidSubnetRange},
		{"subnet overlapping", "CreateSubnet", []string{"VpcId", n.vpc, "CidrBlock", "10.0.1.128/25"}, ec2err.InvalidSubnetConflict},
		{"subnet containing another", "CreateSubnet", []string{"VpcId", n.vpc, "CidrBlock", "10.0.0.0/20"}, ec2err.InvalidSubnetConflict},
		{"subnet in bob's vpc", "CreateSubnet", []string{"VpcId", bob.vpc, "CidrBlock", "10.0.2.0/24"}, ec2err.InvalidVpcIDNotFound},
		{"subnet in an unknown zone", "CreateSubnet", []string{"VpcId", n.vpc, "CidrBlock", "10.0.2.0/24", "AvailabilityZone", "mars-1a"}, ec2err.InvalidParameterValue},
		{"subnet unknown", "DescribeSubnets", []string{"SubnetId.1", "subnet-0123456789abcdef0"}, ec2err.InvalidSubnetIDNotFound},
		{"subnet malformed", "DeleteSubnet", []string{"SubnetId", "sub-1"}, ec2err.InvalidSubnetIDMalformed},
		{"bob's subnet", "DeleteSubnet", []string{"SubnetId", bob.subnet}, ec2err.InvalidSubnetIDNotFound},
		{"subnet attribute unsupported", "ModifySubnetAttribute", []string{"SubnetId", n.subnet, "AssignIpv6AddressOnCreation.Value", "true"}, ec2err.UnsupportedOperation},
		{"subnet attribute missing", "ModifySubnetAttribute", []string{"SubnetId", n.subnet}, ec2err.MissingParameter},
		{"bob's gateway", "DescribeInternetGateways", []string{"InternetGatewayId.1", bob.igw}, ec2err.InvalidInternetGatewayIDNotFound},
		{"attach an attached gateway", "AttachInternetGateway", []string{"InternetGatewayId", n.igw, "VpcId", other}, ec2err.ResourceAlreadyAssociated},
		{"attach a second gateway", "AttachInternetGateway", []string{"InternetGatewayId", otherIGW, "VpcId", n.vpc}, ec2err.ResourceAlreadyAssociated},
		{"attach bob's gateway", "AttachInternetGateway", []string{"InternetGatewayId", bob.igw, "VpcId", other}, ec2err.InvalidInternetGatewayIDNotFound},
		{"attach to bob's vpc", "AttachInternetGateway", []string{"InternetGatewayId", otherIGW, "VpcId", bob.vpc}, ec2err.InvalidVpcIDNotFound},
		{"detach from the wrong vpc", "DetachInternetGateway", []string{"InternetGatewayId", n.igw, "VpcId", other}, ec2err.GatewayNotAttached},
		{"detach from a vpc that does not exist", "DetachInternetGateway", []string{"InternetGatewayId", n.igw, "VpcId", "vpc-deadbeef"}, ec2err.GatewayNotAttached},
		{"route table in bob's vpc", "CreateRouteTable", []string{"VpcId", bob.vpc}, ec2err.InvalidVpcIDNotFound},
		{"bob's route table", "DescribeRouteTables", []string{"RouteTableId.1", bob.rtb}, ec2err.InvalidRouteTableIDNotFound},
		{"delete a main table", "DeleteRouteTable", []string{"RouteTableId", mainRtb}, ec2err.DependencyViolation},
		{"route exists", "CreateRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", n.igw}, ec2err.RouteAlreadyExists},
		{"route to the local range", "CreateRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.0.0.0/16", "GatewayId", n.igw}, ec2err.RouteAlreadyExists},
		{"route to a detached gateway", "CreateRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.8.0.0/16", "GatewayId", otherIGW}, ec2err.InvalidParameterValue},
		{"route to bob's gateway", "CreateRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.8.0.0/16", "GatewayId", bob.igw}, ec2err.InvalidGatewayIDNotFound},
		{"route to no target", "CreateRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.8.0.0/16"}, ec2err.InvalidParameterCombination},
		{"route to a NAT gateway", "CreateRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.8.0.0/16", "NatGatewayId", "nat-0123456789abcdef0"}, ec2err.UnsupportedOperation},
		{"route to bob's instance", "CreateRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.8.0.0/16", "InstanceId", "i-0123456789abcdef0"}, ec2err.InvalidInstanceIDNotFound},
		{"route in bob's table", "CreateRoute", []string{"RouteTableId", bob.rtb, "DestinationCidrBlock", "10.8.0.0/16", "GatewayId", n.igw}, ec2err.InvalidRouteTableIDNotFound},
		{"delete a missing route", "DeleteRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.8.0.0/16"}, ec2err.InvalidRouteNotFound},
		{"delete the local route", "DeleteRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.0.0.0/16"}, ec2err.InvalidParameterValue},
		{"associate an associated subnet", "AssociateRouteTable", []string{"RouteTableId", mainRtb, "SubnetId", n.subnet}, ec2err.ResourceAlreadyAssociated},
		{"associate another vpc's subnet", "AssociateRouteTable", []string{"RouteTableId", n.rtb, "SubnetId", store.DefaultSubnetID("alice", "us-east-1a")}, ec2err.InvalidParameterValue},
		{"associate bob's subnet", "AssociateRouteTable", []string{"RouteTableId", n.rtb, "SubnetId", bob.subnet}, ec2err.InvalidSubnetIDNotFound},
		{"disassociate bob's association", "DisassociateRouteTable", []string{"AssociationId", bob.assoc}, ec2err.InvalidAssociationIDNotFound},
		{"disassociate the main association", "DisassociateRouteTable", []string{"AssociationId", mainAssoc}, ec2err.InvalidParameterValue},
		{"group in bob's vpc", "CreateSecurityGroup", []string{"GroupName", "x", "GroupDescription", "x", "VpcId", bob.vpc}, ec2err.InvalidVpcIDNotFound},
		{"tag bob's vpc", "CreateTags", []string{"ResourceId.1", bob.vpc, "Tag.1.Key", "k"}, ec2err.InvalidVpcIDNotFound},
		{"tag bob's route table", "CreateTags", []string{"ResourceId.1", bob.rtb, "Tag.1.Key", "k"}, ec2err.InvalidRouteTableIDNotFound},
		{"dry run", "CreateVpc", []string{"CidrBlock", "10.2.0.0/16", "DryRun", "true"}, ec2err.DryRunOperation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, "alice", c.action, c.kv...)
			wantCode(t, err, c.want)
		})
	}
	if got := len(e.mustCall(t, "alice", "DescribeVpcs").(*describeVpcsResponse).Vpcs); got != 3 {
		t.Errorf("got %d VPCs after the refusals, want alice's 3 (the dry run made none)", got)
	}
}

func TestDescribeNetworkFilters(t *testing.T) {
	e := newTestEnv(t, nil)
	n := e.createLabNet(t, "alice", "10.0.0.0/16", "10.0.1.0/24")
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", n.vpc, "ResourceId.2", n.subnet, "Tag.1.Key", "lab", "Tag.1.Value", "3")
	e.createLabNet(t, "bob", "10.0.0.0/16", "10.0.1.0/24")
	def := store.DefaultVPCID("alice")
	ids := func(resp any) []string {
		var out []string
		switch r := resp.(type) {
		case *describeVpcsResponse:
			for _, v := range r.Vpcs {
				out = append(out, v.VpcID)
			}
		case *describeSubnetsResponse:
			for _, sn := range r.Subnets {
				out = append(out, sn.SubnetID)
			}
		case *describeInternetGatewaysResponse:
			for _, g := range r.InternetGateways {
				out = append(out, g.ID)
			}
		case *describeRouteTablesResponse:
			for _, t := range r.RouteTables {
				out = append(out, t.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	defSubnets := sorted(store.DefaultSubnetID("alice", "us-east-1a"), store.DefaultSubnetID("alice", "us-east-1b"))
	filter := func(name string, values ...string) []string {
		kv := []string{"Filter.1.Name", name}
		for i, v := range values {
			kv = append(kv, fmt.Sprintf("Filter.1.Value.%d", i+1), v)
		}
		return kv
	}
	cases := []struct {
		name   string
		action string
		kv     []string
		want   []string
	}{
		{"all vpcs", "DescribeVpcs", nil, sorted(def, n.vpc)},
		{"isDefault", "DescribeVpcs", filter("isDefault", "true"), []string{def}},
		{"is-default false", "DescribeVpcs", filter("is-default", "false"), []string{n.vpc}},
		{"vpc cidr", "DescribeVpcs", filter("cidr", "10.0.0.0/16"), []string{n.vpc}},
		{"vpc cidr-block-association", "DescribeVpcs", filter("cidr-block-association.cidr-block", "10.77.0.0/16"), []string{def}},
		{"vpc state", "DescribeVpcs", filter("state", "available"), sorted(def, n.vpc)},
		{"vpc tag", "DescribeVpcs", filter("tag:lab", "3"), []string{n.vpc}},
		{"vpc by id", "DescribeVpcs", []string{"VpcId.1", n.vpc}, []string{n.vpc}},
		{"subnets of a vpc", "DescribeSubnets", filter("vpc-id", n.vpc), []string{n.subnet}},
		{"default-for-az", "DescribeSubnets", filter("default-for-az", "true"), defSubnets},
		{"defaultForAz", "DescribeSubnets", filter("defaultForAz", "false"), []string{n.subnet}},
		{"availability-zone", "DescribeSubnets", filter("availability-zone", "us-east-1b"), []string{store.DefaultSubnetID("alice", "us-east-1b")}},
		{"availabilityZone and cidrBlock", "DescribeSubnets", append(filter("availabilityZone", "us-east-1a"), "Filter.2.Name", "cidrBlock", "Filter.2.Value.1", "10.0.1.0/24"), []string{n.subnet}},
		{"subnet cidr-block wildcard", "DescribeSubnets", filter("cidr-block", "10.77.*"), defSubnets},
		{"subnet tag", "DescribeSubnets", filter("tag-key", "lab"), []string{n.subnet}},
		{"subnet available addresses", "DescribeSubnets", filter("available-ip-address-count", "251"), []string{n.subnet}},
		{"gateway attachment.vpc-id", "DescribeInternetGateways", filter("attachment.vpc-id", n.vpc), []string{n.igw}},
		{"all gateways", "DescribeInternetGateways", nil, sorted(n.igw, store.DefaultInternetGatewayID("alice"))},
		{"main tables", "DescribeRouteTables", filter("association.main", "true"), sorted(store.MainRouteTableID("alice", def), store.MainRouteTableID("alice", n.vpc))},
		{"route-table-id", "DescribeRouteTables", filter("route-table-id", n.rtb), []string{n.rtb}},
		{"tables of a subnet", "DescribeRouteTables", filter("association.subnet-id", n.subnet), []string{n.rtb}},
		{"tables routing to a gateway", "DescribeRouteTables", filter("route.gateway-id", n.igw), []string{n.rtb}},
		{"tables of a vpc", "DescribeRouteTables", filter("vpc-id", n.vpc), sorted(n.rtb, store.MainRouteTableID("alice", n.vpc))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(e.mustCall(t, "alice", c.action, c.kv...)); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestNetworkShapes(t *testing.T) {
	e := newTestEnv(t, nil)
	n := e.createLabNet(t, "alice", "10.0.0.0/16", "10.0.1.0/24")
	vpc := e.mustCall(t, "alice", "DescribeVpcs", "VpcId.1", n.vpc).(*describeVpcsResponse).Vpcs[0]
	if vpc.CIDRBlock != "10.0.0.0/16" || vpc.IsDefault || vpc.State != "available" || vpc.OwnerID != "111111111111" ||
		len(vpc.CIDRAssociations) != 1 || vpc.CIDRAssociations[0].State.State != "associated" || vpc.DHCPOptionsID != "default" {
		t.Errorf("got VPC %+v, want 10.0.0.0/16, not default, available, alice's, its block associated", vpc)
	}
	sn := e.mustCall(t, "alice", "DescribeSubnets", "SubnetId.1", n.subnet).(*describeSubnetsResponse).Subnets[0]
	if sn.AvailableIPs != 251 || sn.MapPublicIPOnLaunch || sn.DefaultForAz || sn.AvailabilityZone != "us-east-1a" || sn.VpcID != n.vpc ||
		sn.ARN != "arn:aws:ec2:us-east-1:111111111111:subnet/"+n.subnet {
		t.Errorf("got subnet %+v, want 251 free addresses in us-east-1a, no public addresses, its ARN", sn)
	}
	rtb := e.mustCall(t, "alice", "DescribeRouteTables", "RouteTableId.1", n.rtb).(*describeRouteTablesResponse).RouteTables[0]
	wantRoutes := []routeXML{
		{Destination: "10.0.0.0/16", GatewayID: "local", Origin: "CreateRouteTable", State: "active"},
		{Destination: "0.0.0.0/0", GatewayID: n.igw, Origin: "CreateRoute", State: "active"},
	}
	if !slices.Equal(rtb.Routes, wantRoutes) || len(rtb.Associations) != 1 || rtb.Associations[0].SubnetID != n.subnet || rtb.Associations[0].Main {
		t.Errorf("got table %+v, want routes %+v and the subnet's association", rtb, wantRoutes)
	}
	// Detached, the gateway's route is a blackhole.
	e.mustCall(t, "alice", "DetachInternetGateway", "InternetGatewayId", n.igw, "VpcId", n.vpc)
	rtb = e.mustCall(t, "alice", "DescribeRouteTables", "RouteTableId.1", n.rtb).(*describeRouteTablesResponse).RouteTables[0]
	if got := rtb.Routes[1].State; got != "blackhole" {
		t.Errorf("got route state %s after detaching, want blackhole", got)
	}
	e.mustCall(t, "alice", "ModifySubnetAttribute", "SubnetId", n.subnet, "MapPublicIpOnLaunch.Value", "true")
	if sn := e.mustCall(t, "alice", "DescribeSubnets", "SubnetId.1", n.subnet).(*describeSubnetsResponse).Subnets[0]; !sn.MapPublicIPOnLaunch {
		t.Errorf("got mapPublicIpOnLaunch false after setting it, want true")
	}
	e.mustCall(t, "alice", "DisassociateRouteTable", "AssociationId", n.assoc)
	e.mustCall(t, "alice", "DeleteRoute", "RouteTableId", n.rtb, "DestinationCidrBlock", "0.0.0.0/0")
	rtb = e.mustCall(t, "alice", "DescribeRouteTables", "RouteTableId.1", n.rtb).(*describeRouteTablesResponse).RouteTables[0]
	if len(rtb.Routes) != 1 || len(rtb.Associations) != 0 {
		t.Errorf("got table %+v, want the local route only and no association", rtb)
	}
}

func TestVpcAttributes(t *testing.T) {
	e := newTestEnv(t, nil)
	vpc := e.mustCall(t, "alice", "CreateVpc", "CidrBlock", "10.0.0.0/16").(*createVpcResponse).Vpc.VpcID
	get := func(vpcID, attr string) bool {
		t.Helper()
		resp := e.mustCall(t, "alice", "DescribeVpcAttribute", "VpcId", vpcID, "Attribute", attr).(*describeVpcAttributeResponse)
		for _, v := range []*attrBoolXML{resp.EnableDNSSupport, resp.EnableDNSHostnames, resp.EnableNAUMetrics} {
			if v != nil {
				return v.Value
			}
		}
		t.Fatalf("%s: no value in %+v", attr, resp)
		return false
	}
	cases := []struct {
		name, vpc, attr string
		want            bool
	}{
		{"new vpc resolves names", vpc, "enableDnsSupport", true},
		{"new vpc has no host names", vpc, "enableDnsHostnames", false},
		{"default vpc has host names", store.DefaultVPCID("alice"), "enableDnsHostnames", true},
		{"no usage metrics", vpc, "enableNetworkAddressUsageMetrics", false},
	}
	for _, c := range cases {
		if got := get(c.vpc, c.attr); got != c.want {
			t.Errorf("%s: got %s %v, want %v", c.name, c.attr, got, c.want)
		}
	}
	e.mustCall(t, "alice", "ModifyVpcAttribute", "VpcId", vpc, "EnableDnsHostnames.Value", "true")
	if !get(vpc, "enableDnsHostnames") {
		t.Errorf("got enableDnsHostnames false after setting it, want true")
	}
}

// max_vpcs counts the default VPC: 4 more fit under EC2's 5.
func TestVpcQuota(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := range 4 {
		e.mustCall(t, "alice", "CreateVpc", "CidrBlock", fmt.Sprintf("10.%d.0.0/16", i))
	}
	_, err := e.call(t, "alice", "CreateVpc", "CidrBlock", "10.9.0.0/16")
	wantCode(t, err, ec2err.VpcLimitExceeded)
	e.mustCall(t, "bob", "CreateVpc", "CidrBlock", "10.9.0.0/16") // bob's count is his own
	var c store.Counters
	if err := e.svc.Store.View(func(tx store.Tx) (err error) {
		c, err = store.GetCounters(tx, "alice")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if c.VPCs != 5 {
		t.Errorf("got alice's VPC counter %d, want 5", c.VPCs)
	}
}

// Groups are named per VPC: each VPC has its own "default", and a name
// may repeat in another VPC but not in its own.
func TestGroupsPerVpc(t *testing.T) {
	e := newTestEnv(t, nil)
	vpc := e.mustCall(t, "alice", "CreateVpc", "CidrBlock", "10.0.0.0/16").(*createVpcResponse).Vpc.VpcID
	e.createGroup(t, "alice", "web")
	inVPC := e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web", "VpcId", vpc).(*createSecurityGroupResponse).GroupID
	_, err := e.call(t, "alice", "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web", "VpcId", vpc)
	wantCode(t, err, ec2err.InvalidGroupDuplicate)
	groups := e.mustCall(t, "alice", "DescribeSecurityGroups", "Filter.1.Name", "vpc-id", "Filter.1.Value.1", vpc).(*describeSecurityGroupsResponse).Groups
	var names []string
	for _, g := range groups {
		names = append(names, g.GroupName+"@"+g.GroupID)
	}
	slices.Sort(names)
	want := []string{"default@" + store.DefaultGroupID("alice", vpc), "web@" + inVPC}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("got groups %v in %s, want %v", names, vpc, want)
	}
	// A GroupName names a group of the default VPC, as in EC2.
	got := e.mustCall(t, "alice", "DescribeSecurityGroups", "GroupName.1", "web").(*describeSecurityGroupsResponse).Groups
	if len(got) != 1 || got[0].VpcID != store.DefaultVPCID("alice") {
		t.Errorf("got %+v for GroupName web, want the default VPC's", got)
	}
}

func TestNetworkTagSpecifications(t *testing.T) {
	e := newTestEnv(t, nil)
	vpc := e.mustCall(t, "alice", "CreateVpc", "CidrBlock", "10.0.0.0/16",
		"TagSpecification.1.ResourceType", "vpc", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "lab").(*createVpcResponse).Vpc
	if len(vpc.Tags) != 1 || vpc.Tags[0].Value != "lab" {
		t.Errorf("got tags %+v on the new VPC, want Name=lab", vpc.Tags)
	}
	igw := e.mustCall(t, "alice", "CreateInternetGateway",
		"TagSpecification.1.ResourceType", "internet-gateway", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "gw").(*createInternetGatewayResponse).InternetGateway.ID
	tags := e.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "vpc", "Filter.1.Value.2", "internet-gateway").(*describeTagsResponse).Tags
	var got []string
	for _, tg := range tags {
		got = append(got, tg.ResourceType+":"+tg.ResourceID+":"+tg.Value)
	}
	slices.Sort(got)
	want := []string{"internet-gateway:" + igw + ":gw", "vpc:" + vpc.VpcID + ":lab"}
	if !slices.Equal(got, want) {
		t.Errorf("got tags %v, want %v", got, want)
	}
}

func TestNetworksOnTheEC2Backend(t *testing.T) {
	cases := []struct {
		name  string
		allow bool
		want  string
	}{
		{"refused", false, ec2err.UnsupportedOperation},
		{"allowed by the admin", true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := conf.Default()
			cfg.Backend.Name, cfg.Backend.EC2.AllowVPCs = "ec2", c.allow
			e := newTestEnv(t, cfg)
			for _, call := range [][]string{
				{"CreateVpc", "CidrBlock", "10.0.0.0/16"},
				{"CreateSubnet", "VpcId", store.DefaultVPCID("alice"), "CidrBlock", "172.31.200.0/24"},
				{"CreateInternetGateway"},
				{"CreateRouteTable", "VpcId", store.DefaultVPCID("alice")},
			} {
				_, err := e.call(t, "alice", call[0], call[1:]...)
				if c.want == "" && err != nil || c.want != "" && !ec2err.Is(err, c.want) {
					t.Errorf("%s: got %v, want %q", call[0], err, c.want)
				}
			}
			if vpcs := e.mustCall(t, "alice", "DescribeVpcs", "Filter.1.Name", "isDefault", "Filter.1.Value.1", "true").(*describeVpcsResponse).Vpcs; len(vpcs) != 1 || vpcs[0].CIDRBlock != "172.31.0.0/16" {
				t.Errorf("got default VPCs %+v, want one, 172.31.0.0/16", vpcs)
			}
		})
	}
}

// A backend that holds groups in the cloud holds them in the course
// network: a group of a student's own VPC would be made there anyway.
func TestGroupsOfOwnVpcsNeedNoCloudGroups(t *testing.T) {
	cfg := conf.Default()
	cfg.Backend.Name, cfg.Backend.EC2.AllowVPCs = "ec2", true
	e := newTestEnv(t, cfg)
	e.svc.Backend = backend.Abilities{SecurityGroups: &recordingGroups{}}
	vpc := e.mustCall(t, "alice", "CreateVpc", "CidrBlock", "10.0.0.0/16").(*createVpcResponse).Vpc.VpcID
	_, err := e.call(t, "alice", "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web", "VpcId", vpc)
	wantCode(t, err, ec2err.UnsupportedOperation)
	e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web", "VpcId", store.DefaultVPCID("alice"))
}

func TestReplaceRouteAndAssociations(t *testing.T) {
	e := newTestEnv(t, nil)
	n := e.createLabNet(t, "alice", "10.0.0.0/16", "10.0.1.0/24")
	table := func(id string) routeTableXML {
		t.Helper()
		return e.mustCall(t, "alice", "DescribeRouteTables", "RouteTableId.1", id).(*describeRouteTablesResponse).RouteTables[0]
	}
	// A new gateway takes the old one's place and the route follows it.
	igw2 := e.mustCall(t, "alice", "CreateInternetGateway").(*createInternetGatewayResponse).InternetGateway.ID
	e.mustCall(t, "alice", "DetachInternetGateway", "InternetGatewayId", n.igw, "VpcId", n.vpc)
	e.mustCall(t, "alice", "AttachInternetGateway", "InternetGatewayId", igw2, "VpcId", n.vpc)
	e.mustCall(t, "alice", "ReplaceRoute", "RouteTableId", n.rtb, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", igw2)
	if got := table(n.rtb).Routes[1]; got.GatewayID != igw2 || got.State != "active" {
		t.Errorf("got route %+v after ReplaceRoute, want an active one to %s", got, igw2)
	}
	// The subnet moves to the main table, then the main association moves
	// to the lab's table.
	main := store.MainRouteTableID("alice", n.vpc)
	moved := e.mustCall(t, "alice", "ReplaceRouteTableAssociation", "AssociationId", n.assoc, "RouteTableId", main).(*replaceRouteTableAssociationResponse).NewAssociationID
	if a := table(main).Associations; len(a) != 2 || a[1].ID != moved || a[1].SubnetID != n.subnet || len(table(n.rtb).Associations) != 0 {
		t.Errorf("got main table associations %+v, want the main one and the subnet's %s", a, moved)
	}
	mainAssoc := table(main).Associations[0].ID
	newMain := e.mustCall(t, "alice", "ReplaceRouteTableAssociation", "AssociationId", mainAssoc, "RouteTableId", n.rtb).(*replaceRouteTableAssociationResponse).NewAssociationID
	mains := e.mustCall(t, "alice", "DescribeRouteTables", "Filter.1.Name", "association.main", "Filter.1.Value.1", "true", "Filter.2.Name", "vpc-id", "Filter.2.Value.1", n.vpc).(*describeRouteTablesResponse).RouteTables
	if len(mains) != 1 || mains[0].ID != n.rtb || mains[0].Associations[0].ID != newMain || !mains[0].Associations[0].Main {
		t.Errorf("got main tables %+v, want %s with the main association %s", mains, n.rtb, newMain)
	}
	// The old main table is an ordinary one now: it goes once its subnet does.
	e.mustCall(t, "alice", "DisassociateRouteTable", "AssociationId", moved)
	e.mustCall(t, "alice", "DeleteRouteTable", "RouteTableId", main)
	_, err := e.call(t, "alice", "DeleteRouteTable", "RouteTableId", n.rtb)
	wantCode(t, err, ec2err.DependencyViolation)

	bob := e.createLabNet(t, "bob", "10.0.0.0/16", "10.0.1.0/24")
	other := e.createLabNet(t, "alice", "10.1.0.0/16", "10.1.1.0/24")
	cases := []struct {
		name   string
		action string
		kv     []string
		want   string
	}{
		{"replace a missing route", "ReplaceRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.9.0.0/16", "GatewayId", igw2}, ec2err.InvalidParameterValue},
		{"replace the local route", "ReplaceRoute", []string{"RouteTableId", n.rtb, "DestinationCidrBlock", "10.0.0.0/16", "GatewayId", igw2}, ec2err.InvalidParameterValue},
		{"replace a route in bob's table", "ReplaceRoute", []string{"RouteTableId", bob.rtb, "DestinationCidrBlock", "0.0.0.0/0", "GatewayId", igw2}, ec2err.InvalidRouteTableIDNotFound},
		{"move bob's association", "ReplaceRouteTableAssociation", []string{"AssociationId", bob.assoc, "RouteTableId", n.rtb}, ec2err.InvalidAssociationIDNotFound},
		{"move to another VPC's table", "ReplaceRouteTableAssociation", []string{"AssociationId", other.assoc, "RouteTableId", n.rtb}, ec2err.InvalidParameterValue},
		{"move to bob's table", "ReplaceRouteTableAssociation", []string{"AssociationId", other.assoc, "RouteTableId", bob.rtb}, ec2err.InvalidRouteTableIDNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, "alice", c.action, c.kv...)
			wantCode(t, err, c.want)
		})
	}
}

// Tools compare these messages with EC2's word for word.
func TestCidrMessagesAreEC2s(t *testing.T) {
	e := newTestEnv(t, nil)
	vpc := e.mustCall(t, "alice", "CreateVpc", "CidrBlock", "10.0.0.0/16").(*createVpcResponse).Vpc.VpcID
	e.mustCall(t, "alice", "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.0.0.0/24")
	cases := []struct {
		name, action string
		kv           []string
		want         string
	}{
		{"vpc range", "CreateVpc", []string{"CidrBlock", "10.1.0.0/29"}, "The CIDR '10.1.0.0/29' is invalid."},
		{"vpc block", "CreateVpc", []string{"CidrBlock", "1000.1.0.0/20"}, "Value (1000.1.0.0/20) for parameter cidrBlock is invalid. This is not a valid CIDR block."},
		{"subnet range", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.1.0.0/20"}, "The CIDR '10.1.0.0/20' is invalid."},
		{"subnet conflict", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.0.0.0/25"}, "The CIDR '10.0.0.0/25' conflicts with another subnet"},
		{"subnet zone", "CreateSubnet", []string{"VpcId", vpc, "CidrBlock", "10.0.5.0/24", "AvailabilityZone", "us-east-1z"},
			"Value (us-east-1z) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: us-east-1a, us-east-1b."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, "alice", c.action, c.kv...)
			var ee *ec2err.Error
			if !errors.As(err, &ee) || ee.Message != c.want {
				t.Errorf("got %v, want the message %q", err, c.want)
			}
		})
	}
}

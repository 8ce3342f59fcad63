package actions

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// netEnv is an instance fixture where alice and bob each have a VPC of
// their own, 10.1.0.0/16 (the same range: VPCs are networks of their
// own), with a subnet 10.1.2.0/24 in the second zone and a group "web" in
// it; alice also has a group "app" in her default VPC.
type netEnv struct {
	*testEnv
	clock      *manualClock
	zone       string // the own subnets' zone
	vpc, sub   map[string]string
	web        map[string]string
	defaultApp string
}

func newNetEnv(t *testing.T, cfg *conf.Config) *netEnv {
	t.Helper()
	if cfg == nil {
		cfg = conf.Default()
	}
	e, clock, _ := newInstanceEnv(t, cfg)
	n := &netEnv{testEnv: e, clock: clock, zone: cfg.AvailabilityZones[1], vpc: map[string]string{}, sub: map[string]string{}, web: map[string]string{}}
	for _, owner := range []string{"alice", "bob"} {
		n.vpc[owner], n.sub[owner] = ownVPC(t, e, owner, "10.1.0.0/16", "10.1.2.0/24", n.zone)
		n.web[owner] = e.mustCall(t, owner, "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "web", "VpcId", n.vpc[owner]).(*createSecurityGroupResponse).GroupID
	}
	n.defaultApp = e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "app", "GroupDescription", "app").(*createSecurityGroupResponse).GroupID
	return n
}

// ownVPC makes a VPC of owner's with one subnet, through CreateVpc and
// CreateSubnet.
func ownVPC(t *testing.T, e *testEnv, owner, vpcCIDR, subnetCIDR, zone string) (vpcID, subnetID string) {
	t.Helper()
	vpcID = e.mustCall(t, owner, "CreateVpc", "CidrBlock", vpcCIDR).(*createVpcResponse).Vpc.VpcID
	subnetID = e.mustCall(t, owner, "CreateSubnet", "VpcId", vpcID, "CidrBlock", subnetCIDR, "AvailabilityZone", zone).(*createSubnetResponse).Subnet.SubnetID
	return vpcID, subnetID
}

// run launches one instance and returns it as RunInstances shows it.
func (n *netEnv) run(t *testing.T, user string, kv ...string) instanceXML {
	t.Helper()
	ids := launch(t, n.testEnv, user, kv...)
	return n.instance(t, user, ids[0])
}

func (n *netEnv) instance(t *testing.T, user, id string) instanceXML {
	t.Helper()
	got := describe(t, n.testEnv, user, "InstanceId.1", id)
	if len(got) != 1 {
		t.Fatalf("describe %s: got %d instances", id, len(got))
	}
	return got[0]
}

func (n *netEnv) interfaces(t *testing.T, user string, kv ...string) []networkInterfaceXML {
	t.Helper()
	return n.mustCall(t, user, "DescribeNetworkInterfaces", kv...).(*describeNetworkInterfacesResponse).NetworkInterfaces
}

func groupIDsOf(items []groupItemXML) []string {
	var out []string
	for _, g := range items {
		out = append(out, g.GroupID)
	}
	return out
}

// primary checks that x has one primary interface that agrees with the
// instance item, and returns it.
func primary(t *testing.T, x instanceXML) instanceENIXML {
	t.Helper()
	if x.NetworkInterfaces == nil || len(x.NetworkInterfaces.Items) != 1 {
		t.Fatalf("instance %s: got interfaces %+v, want one", x.InstanceID, x.NetworkInterfaces)
	}
	ni := x.NetworkInterfaces.Items[0]
	if ni.SubnetID != x.SubnetID || ni.VpcID != x.VpcID || ni.PrivateIPAddress != x.PrivateIPAddress || ni.Attachment.DeviceIndex != 0 ||
		ni.Status != "in-use" || !ni.Attachment.DeleteOnTermination || !slices.Equal(groupIDsOf(ni.Groups), groupIDsOf(x.Groups.Items)) {
		t.Errorf("interface %+v does not agree with its instance (subnet %s, vpc %s, ip %s, groups %v)", ni, x.SubnetID, x.VpcID, x.PrivateIPAddress, x.Groups.Items)
	}
	return ni
}

func TestLaunchPlacesInstancesInSubnets(t *testing.T) {
	n := newNetEnv(t, nil)
	zones := n.svc.Config.AvailabilityZones
	alice := "alice"
	cases := []struct {
		name       string
		kv         []string
		subnet     string
		zone       string
		ip         string // "" = any in the subnet
		groups     []string
		defaultVPC bool
	}{
		// The fixed addresses first: the launches without one take a
		// random free address of the subnet, which could be one of these.
		{"private address", []string{"SubnetId", n.sub[alice], "PrivateIpAddress", "10.1.2.77"}, n.sub[alice], n.zone, "10.1.2.77", nil, false},
		{"NetworkInterface.1 with groups", []string{"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.SubnetId", n.sub[alice],
			"NetworkInterface.1.SecurityGroupId.1", n.web[alice], "NetworkInterface.1.PrivateIpAddress", "10.1.2.78",
			"NetworkInterface.1.AssociatePublicIpAddress", "true", "NetworkInterface.1.DeleteOnTermination", "true", "NetworkInterface.1.Description", "front"},
			n.sub[alice], n.zone, "10.1.2.78", []string{n.web[alice]}, false},
		{"default VPC, default zone", nil, store.DefaultSubnetID(alice, zones[0]), zones[0], "", nil, true},
		{"default VPC, zone b", []string{"Placement.AvailabilityZone", zones[1]}, store.DefaultSubnetID(alice, zones[1]), zones[1], "", nil, true},
		{"default VPC by group name", []string{"SecurityGroup.1", "app"}, store.DefaultSubnetID(alice, zones[0]), zones[0], "", []string{n.defaultApp}, true},
		{"own subnet with its group", []string{"SubnetId", n.sub[alice], "SecurityGroupId.1", n.web[alice]}, n.sub[alice], n.zone, "", []string{n.web[alice]}, false},
		{"own subnet, no group: the VPC's default", []string{"SubnetId", n.sub[alice]}, n.sub[alice], n.zone, "", []string{store.DefaultGroupID(alice, n.vpc[alice])}, false},
		{"own subnet and zone agree", []string{"SubnetId", n.sub[alice], "Placement.AvailabilityZone", n.zone}, n.sub[alice], n.zone, "", nil, false},
		{"NetworkInterface.1 in the default VPC", []string{"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.SecurityGroupId.1", n.defaultApp},
			store.DefaultSubnetID(alice, zones[0]), zones[0], "", []string{n.defaultApp}, true},
		{"NetworkInterface.1 of EC2's ordinary type", []string{"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.InterfaceType", "interface"},
			store.DefaultSubnetID(alice, zones[0]), zones[0], "", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := n.run(t, alice, c.kv...)
			vpc := n.vpc[alice]
			if c.defaultVPC {
				vpc = store.DefaultVPCID(alice)
			}
			if x.SubnetID != c.subnet || x.VpcID != vpc || x.Placement.AvailabilityZone != c.zone {
				t.Errorf("got subnet %s vpc %s zone %s, want %s %s %s", x.SubnetID, x.VpcID, x.Placement.AvailabilityZone, c.subnet, vpc, c.zone)
			}
			var cidr string
			err := n.svc.Store.View(func(tx store.Tx) error {
				sn, err := store.GetSubnet(tx, alice, c.subnet)
				if sn != nil {
					cidr = sn.CIDR
				}
				return err
			})
			if err != nil || cidr == "" {
				t.Fatalf("subnet %s: %v (record missing)", c.subnet, err)
			}
			ip, err := netip.ParseAddr(x.PrivateIPAddress)
			if err != nil || !netip.MustParsePrefix(cidr).Contains(ip) || (c.ip != "" && x.PrivateIPAddress != c.ip) {
				t.Errorf("got private IP %q, want one in %s (%q)", x.PrivateIPAddress, cidr, c.ip)
			}
			if c.groups != nil && !slices.Equal(groupIDsOf(x.Groups.Items), c.groups) {
				t.Errorf("got groups %v, want %v", groupIDsOf(x.Groups.Items), c.groups)
			}
			ni := primary(t, x)
			if want := map[bool]string{true: "front"}[slices.Contains(c.kv, "front")]; ni.Description != want {
				t.Errorf("interface description: got %q, want %q", ni.Description, want)
			}
			listed := n.interfaces(t, alice, "NetworkInterfaceId.1", ni.NetworkInterfaceID)
			if len(listed) != 1 || listed[0].Attachment.InstanceID != x.InstanceID || listed[0].PrivateIPAddress != x.PrivateIPAddress ||
				listed[0].SubnetID != c.subnet || listed[0].AvailabilityZone != c.zone || listed[0].MacAddress != ni.MacAddress {
				t.Errorf("DescribeNetworkInterfaces %s: got %+v, want the instance's interface", ni.NetworkInterfaceID, listed)
			}
		})
	}
}

func TestLaunchNetworkErrors(t *testing.T) {
	n := newNetEnv(t, nil)
	n.run(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.9")
	ni := func(kv ...string) []string { return append([]string{"NetworkInterface.1.DeviceIndex", "0"}, kv...) }
	cases := []struct {
		name string
		kv   []string
		code string
	}{
		{"another student's subnet", []string{"SubnetId", n.sub["bob"]}, ec2err.InvalidSubnetIDNotFound},
		{"no such subnet", []string{"SubnetId", "subnet-0123456789abcdef0"}, ec2err.InvalidSubnetIDNotFound},
		{"malformed subnet", []string{"SubnetId", "sub-1"}, ec2err.InvalidSubnetIDMalformed},
		{"another student's subnet in the interface", ni("NetworkInterface.1.SubnetId", n.sub["bob"]), ec2err.InvalidSubnetIDNotFound},
		{"default VPC group in own subnet", []string{"SubnetId", n.sub["alice"], "SecurityGroupId.1", n.defaultApp}, ec2err.InvalidParameter},
		{"own VPC group in default subnet", []string{"SecurityGroupId.1", n.web["alice"]}, ec2err.InvalidParameter},
		{"own VPC group in the interface, default subnet", ni("NetworkInterface.1.SecurityGroupId.1", n.web["alice"]), ec2err.InvalidParameter},
		{"another student's group in the interface", ni("NetworkInterface.1.SubnetId", n.sub["alice"], "NetworkInterface.1.SecurityGroupId.1", n.web["bob"]), ec2err.InvalidGroupNotFound},
		{"group name with own subnet", []string{"SubnetId", n.sub["alice"], "SecurityGroup.1", "web"}, ec2err.InvalidParameterCombination},
		{"interface and subnet", ni("SubnetId", n.sub["alice"]), ec2err.InvalidParameterCombination},
		{"interface and groups", ni("SecurityGroupId.1", n.web["alice"]), ec2err.InvalidParameterCombination},
		{"interface and group names", ni("SecurityGroup.1", "default"), ec2err.InvalidParameterCombination},
		{"interface and private address", ni("PrivateIpAddress", "10.1.2.20"), ec2err.InvalidParameterCombination},
		{"interface without device index", []string{"NetworkInterface.1.SubnetId", n.sub["alice"]}, ec2err.MissingParameter},
		{"second device", []string{"NetworkInterface.1.DeviceIndex", "1"}, ec2err.InvalidParameterValue},
		{"two interfaces", ni("NetworkInterface.2.DeviceIndex", "1"), ec2err.UnsupportedOperation},
		{"unknown interface", ni("NetworkInterface.1.NetworkInterfaceId", "eni-0123456789abcdef0"), ec2err.InvalidNetworkInterfaceIDNotFound},
		{"EFA interface", ni("NetworkInterface.1.InterfaceType", "efa"), ec2err.UnsupportedOperation},
		{"secondary addresses", ni("NetworkInterface.1.PrivateIpAddresses.1.PrivateIpAddress", "10.77.0.20", "NetworkInterface.1.PrivateIpAddresses.1.Primary", "true"), ec2err.UnsupportedOperation},
		{"ipv6 addresses", ni("NetworkInterface.1.Ipv6Addresses.1.Ipv6Address", "2001:db8::1"), ec2err.UnsupportedOperation},
		{"interface description too long", ni("NetworkInterface.1.Description", strings.Repeat("d", 256)), ec2err.InvalidParameterValue},
		{"address outside the subnet", []string{"SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.3.5"}, ec2err.InvalidParameterValue},
		{"address reserved at the start", []string{"SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.3"}, ec2err.InvalidParameterValue},
		{"broadcast address", []string{"SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.255"}, ec2err.InvalidParameterValue},
		{"not an address", []string{"PrivateIpAddress", "10.1.2"}, ec2err.InvalidParameterValue},
		{"address for several instances", []string{"SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.20", "MaxCount", "2"}, ec2err.InvalidParameterCombination},
		{"address in use", []string{"SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.9"}, ec2err.InvalidIPAddressInUse},
		{"address in use, interface form", ni("NetworkInterface.1.SubnetId", n.sub["alice"], "NetworkInterface.1.PrivateIpAddress", "10.1.2.9"), ec2err.InvalidIPAddressInUse},
		{"zone other than the subnet's", []string{"SubnetId", n.sub["alice"], "Placement.AvailabilityZone", n.svc.Config.AvailabilityZones[0]}, ec2err.InvalidParameterValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := n.call(t, "alice", "RunInstances", withDefaults(c.kv, "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")...)
			wantCode(t, err, c.code)
		})
	}
	if got := len(describe(t, n.testEnv, "alice")); got != 1 {
		t.Errorf("after the refused launches: got %d instances, want 1", got)
	}
}

func TestNetworkIsolationAndAddresses(t *testing.T) {
	n := newNetEnv(t, nil)
	// The same address in two students' own VPCs: separate networks.
	a := n.run(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.50")
	b := n.run(t, "bob", "SubnetId", n.sub["bob"], "PrivateIpAddress", "10.1.2.50")
	if a.PrivateIPAddress != b.PrivateIPAddress {
		t.Fatalf("got %s and %s, want both 10.1.2.50", a.PrivateIPAddress, b.PrivateIPAddress)
	}
	// The default VPCs share the course's network: addresses never repeat.
	da := n.run(t, "alice")
	db := n.run(t, "bob")
	if da.PrivateIPAddress == db.PrivateIPAddress {
		t.Errorf("two students' default-VPC instances share %s", da.PrivateIPAddress)
	}
	_, err := n.call(t, "bob", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "PrivateIpAddress", da.PrivateIPAddress)
	wantCode(t, err, ec2err.InvalidIPAddressInUse)

	aliceENI := primary(t, a).NetworkInterfaceID
	for _, ni := range n.interfaces(t, "bob") {
		if ni.Attachment.InstanceOwnerID != n.users["bob"].AccountID {
			t.Errorf("bob sees interface %s of account %s", ni.NetworkInterfaceID, ni.Attachment.InstanceOwnerID)
		}
	}
	_, err = n.call(t, "bob", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", aliceENI)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)
	_, err = n.call(t, "bob", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", "eni-1")
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDMalformed)
	_, err = n.call(t, "bob", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", primary(t, b).NetworkInterfaceID, "MaxResults", "5")
	wantCode(t, err, ec2err.InvalidParameterCombination)

	// Terminated, the interface goes with the instance and frees the address.
	n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", a.InstanceID)
	n.clock.Advance(settle)
	if got := n.instance(t, "alice", a.InstanceID); got.NetworkInterfaces != nil || got.SubnetID != "" {
		t.Errorf("terminated instance: got interfaces %+v subnet %q, want none", got.NetworkInterfaces, got.SubnetID)
	}
	_, err = n.call(t, "alice", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", aliceENI)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)
	if again := n.run(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.50"); again.PrivateIPAddress != "10.1.2.50" {
		t.Errorf("relaunch on the freed address: got %s", again.PrivateIPAddress)
	}
}

func TestNetworkFilters(t *testing.T) {
	n := newNetEnv(t, nil)
	own := n.run(t, "alice", "SubnetId", n.sub["alice"], "SecurityGroupId.1", n.web["alice"])
	def := n.run(t, "alice")
	ownENI, defENI := primary(t, own).NetworkInterfaceID, primary(t, def).NetworkInterfaceID
	instances := []struct{ filter, value, want string }{
		{"vpc-id", n.vpc["alice"], own.InstanceID},
		{"vpc-id", store.DefaultVPCID("alice"), def.InstanceID},
		{"subnet-id", n.sub["alice"], own.InstanceID},
		{"network-interface.subnet-id", def.SubnetID, def.InstanceID},
		{"network-interface.vpc-id", n.vpc["alice"], own.InstanceID},
		{"network-interface.network-interface-id", defENI, def.InstanceID},
		{"private-ip-address", own.PrivateIPAddress, own.InstanceID},
		{"network-interface.addresses.private-ip-address", def.PrivateIPAddress, def.InstanceID},
		{"network-interface.group-id", n.web["alice"], own.InstanceID},
	}
	for _, c := range instances {
		got := describe(t, n.testEnv, "alice", "Filter.1.Name", c.filter, "Filter.1.Value.1", c.value)
		if len(got) != 1 || got[0].InstanceID != c.want {
			t.Errorf("DescribeInstances %s=%s: got %d instances, want %s", c.filter, c.value, len(got), c.want)
		}
	}
	interfaces := []struct{ filter, value, want string }{
		{"network-interface-id", ownENI, ownENI},
		{"subnet-id", def.SubnetID, defENI},
		{"vpc-id", n.vpc["alice"], ownENI},
		{"attachment.instance-id", def.InstanceID, defENI},
		{"private-ip-address", own.PrivateIPAddress, ownENI},
		{"group-id", n.web["alice"], ownENI},
		{"availability-zone", n.zone, ownENI},
		{"status", "in-use", ""},
		{"tag:Name", "x", "none"},
	}
	for _, c := range interfaces {
		got := n.interfaces(t, "alice", "Filter.1.Name", c.filter, "Filter.1.Value.1", c.value)
		var ids []string
		for _, ni := range got {
			ids = append(ids, ni.NetworkInterfaceID)
		}
		switch c.want {
		case "":
			if len(ids) != 2 {
				t.Errorf("DescribeNetworkInterfaces %s=%s: got %v, want both", c.filter, c.value, ids)
			}
		case "none":
			if len(ids) != 0 {
				t.Errorf("DescribeNetworkInterfaces %s=%s: got %v, want none", c.filter, c.value, ids)
			}
		default:
			if len(ids) != 1 || ids[0] != c.want {
				t.Errorf("DescribeNetworkInterfaces %s=%s: got %v, want %s", c.filter, c.value, ids, c.want)
			}
		}
	}
	_, err := n.call(t, "alice", "DescribeNetworkInterfaces", "Filter.1.Name", "nope", "Filter.1.Value.1", "x")
	wantCode(t, err, ec2err.InvalidParameterValue)
}

// An instance recorded before there were subnets is in its zone's
// default subnet, and that subnet is in use.
func TestOldInstanceRecordsGetTheDefaultSubnet(t *testing.T) {
	n := newNetEnv(t, nil)
	x := n.run(t, "alice", "Placement.AvailabilityZone", n.zone)
	err := n.svc.Store.Update(func(tx store.Tx) error {
		inst, err := store.GetInstance(tx, "alice", x.InstanceID)
		if err != nil {
			return err
		}
		inst.SubnetID, inst.VpcID = "", ""
		return store.PutInstance(tx, inst)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := n.instance(t, "alice", x.InstanceID)
	if want := store.DefaultSubnetID("alice", n.zone); got.SubnetID != want || got.VpcID != store.DefaultVPCID("alice") {
		t.Errorf("old record: got subnet %s vpc %s, want %s %s", got.SubnetID, got.VpcID, want, store.DefaultVPCID("alice"))
	}
	primary(t, got)
	err = n.svc.Store.View(func(tx store.Tx) error {
		inUse, err := store.SubnetInUse(tx, "alice", store.DefaultSubnetID("alice", n.zone))
		if err == nil && !inUse {
			t.Errorf("the default subnet of an old record's zone: got not in use, want in use")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestElasticIPOnTheInterface(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"198.51.100.10"}
	n := newNetEnv(t, cfg)
	n.svc.Addresses = &fakeAddressProvider{}
	reconcile(t, n.svc)
	x := n.run(t, "alice")
	n.clock.Advance(settle)
	eni := primary(t, x).NetworkInterfaceID
	alloc := n.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse).AllocationID
	_, err := n.call(t, "bob", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)
	_, err = n.call(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni, "InstanceId", x.InstanceID)
	wantCode(t, err, ec2err.InvalidParameterCombination)
	assoc := n.mustCall(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni).(*associateAddressResponse).AssociationID

	ni := primary(t, n.instance(t, "alice", x.InstanceID))
	if ni.Association == nil || ni.Association.PublicIP != "198.51.100.10" || ni.Association.IPOwnerID != n.users["alice"].AccountID ||
		len(ni.PrivateIPAddresses) != 1 || ni.PrivateIPAddresses[0].Association == nil {
		t.Errorf("instance interface after AssociateAddress: got %+v, want association 198.51.100.10", ni)
	}
	addrs := n.mustCall(t, "alice", "DescribeAddresses", "Filter.1.Name", "network-interface-id", "Filter.1.Value.1", eni).(*describeAddressesResponse).Addresses
	if len(addrs) != 1 || addrs[0].NetworkInterfaceID != eni || addrs[0].InterfaceOwnerID != n.users["alice"].AccountID || addrs[0].AssociationID != assoc {
		t.Errorf("DescribeAddresses network-interface-id=%s: got %+v, want the address on that interface", eni, addrs)
	}
	listed := n.interfaces(t, "alice", "Filter.1.Name", "association.public-ip", "Filter.1.Value.1", "198.51.100.10")
	if len(listed) != 1 || listed[0].Association == nil || listed[0].Association.AllocationID != alloc || listed[0].Association.AssociationID != assoc {
		t.Errorf("DescribeNetworkInterfaces by public IP: got %+v, want %s with %s/%s", listed, eni, alloc, assoc)
	}
}

package actions

import (
	"net/netip"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
)

func TestZoneBlock(t *testing.T) {
	cases := []struct {
		name string
		vpc  string
		i, n int
		want string // "" when the zone has no block
	}{
		{"aws default, first zone", "172.31.0.0/16", 0, 2, "172.31.0.0/20"},
		{"aws default, second zone", "172.31.0.0/16", 1, 2, "172.31.16.0/20"},
		{"aws default, sixth of six", "172.31.0.0/16", 5, 6, "172.31.80.0/20"},
		{"small range split evenly", "10.0.0.0/24", 1, 2, "10.0.0.128/25"},
		{"three zones in a /24", "10.0.0.0/24", 2, 3, "10.0.0.128/26"},
		{"one zone in a /24", "10.0.0.0/24", 0, 1, "10.0.0.0/24"},
		{"tiny range, last block", "10.0.0.0/30", 3, 8, "10.0.0.3/32"},
		{"tiny range, no block left", "10.0.0.0/30", 5, 8, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			block, ok := zoneBlock(netip.MustParsePrefix(c.vpc), c.i, c.n, defaultSubnetBits)
			if got := block.String(); !ok && c.want != "" || ok && got != c.want {
				t.Errorf("zoneBlock(%s, %d, %d): got %s, want %s", c.vpc, c.i, c.n, got, c.want)
			}
		})
	}
	// The sim's zones share the admin's range evenly, however large.
	if got, _ := zoneBlock(netip.MustParsePrefix("10.64.0.0/10"), 2, 3, 0); got.String() != "10.96.0.0/12" {
		t.Errorf("even split of 10.64.0.0/10, third of three zones: got %s, want 10.96.0.0/12", got)
	}
}

// viewNetwork reads the owner's network records.
func viewNetwork(t *testing.T, e *testEnv, owner string) (vpcs []*store.VPC, subnets []*store.Subnet, igws []*store.InternetGateway, rtbs []*store.RouteTable) {
	t.Helper()
	err := e.svc.Store.View(func(tx store.Tx) (err error) {
		if vpcs, err = store.ListVPCs(tx, owner); err != nil {
			return err
		}
		if subnets, err = store.ListSubnets(tx, owner); err != nil {
			return err
		}
		if igws, err = store.ListInternetGateways(tx, owner); err != nil {
			return err
		}
		rtbs, err = store.ListRouteTables(tx, owner)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return
}

func TestDefaultNetworkOnFirstUse(t *testing.T) {
	cases := []struct {
		name    string
		backend string
		cidr    string
		network backend.DefaultNetwork // the backend's (backend.Network)
		vpc     string
		want    []string // the subnets' ranges in zone order
	}{
		{"sim range, shared evenly", "sim", "10.77.0.0/16", backend.DefaultNetwork{}, "10.77.0.0/16", []string{"10.77.0.0/17", "10.77.128.0/17"}},
		{"small sim range", "sim", "192.168.5.0/24", backend.DefaultNetwork{}, "192.168.5.0/24", []string{"192.168.5.0/25", "192.168.5.128/25"}},
		{"other backends: EC2's range", "other", "10.77.0.0/16", backend.DefaultNetwork{}, "172.31.0.0/16", []string{"172.31.0.0/20", "172.31.16.0/20"}},
		{"the course network", "ec2", "10.77.0.0/16",
			backend.DefaultNetwork{CIDR: "10.20.0.0/16", Subnets: map[string]string{"us-east-1a": "10.20.64.0/24", "us-east-1b": "10.20.3.0/24"}},
			"10.20.0.0/16", []string{"10.20.64.0/24", "10.20.3.0/24"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := conf.Default()
			cfg.Backend.Name, cfg.Backend.Sim.CIDR = c.backend, c.cidr
			e := newTestEnv(t, cfg)
			if c.network.CIDR != "" {
				e.svc.Backend.Network = fixedNetwork(c.network)
			}
			for range 2 { // the second call finds it made
				e.mustCall(t, "alice", "DescribeSecurityGroups")
			}
			vpcs, subnets, igws, rtbs := viewNetwork(t, e, "alice")
			vpcID := store.DefaultVPCID("alice")
			if len(vpcs) != 1 || vpcs[0].ID != vpcID || !vpcs[0].IsDefault {
				t.Fatalf("got VPCs %+v, want the one default VPC %s", vpcs, vpcID)
			}
			if got := vpcs[0].CIDR; got != c.vpc {
				t.Errorf("got VPC range %s, want %s", got, c.vpc)
			}
			if len(subnets) != len(cfg.AvailabilityZones) {
				t.Fatalf("got %d subnets, want one per zone (%d)", len(subnets), len(cfg.AvailabilityZones))
			}
			for i, zone := range cfg.AvailabilityZones {
				var sn *store.Subnet
				if err := e.svc.Store.View(func(tx store.Tx) (err error) {
					sn, err = e.svc.subnetByID(tx, "alice", store.DefaultSubnetID("alice", zone))
					return err
				}); err != nil {
					t.Fatalf("zone %s: %v", zone, err)
				}
				if sn.CIDR != c.want[i] || sn.Zone != zone || !sn.DefaultForAz || !sn.MapPublicIP || sn.VpcID != vpcID {
					t.Errorf("zone %s: got subnet %+v, want %s, default for its zone, public addresses, in %s", zone, sn, c.want[i], vpcID)
				}
			}
			if len(igws) != 1 || igws[0].VpcID != vpcID {
				t.Errorf("got gateways %+v, want one attached to %s", igws, vpcID)
			}
			if len(rtbs) != 1 || !rtbs[0].Main || len(rtbs[0].Routes) != 2 || rtbs[0].Routes[1].GatewayID != igws[0].ID {
				t.Errorf("got route tables %+v, want the main one with the local route and a default route to the gateway", rtbs)
			}
			g := e.mustCall(t, "alice", "DescribeSecurityGroups").(*describeSecurityGroupsResponse).Groups
			if len(g) != 1 || g[0].VpcID != vpcID || g[0].GroupID != store.DefaultGroupID("alice", vpcID) {
				t.Errorf("got groups %+v, want the default group of %s", g, vpcID)
			}
			if bob, _, _, _ := viewNetwork(t, e, "bob"); len(bob) != 0 {
				t.Errorf("got bob's VPCs %+v, want none until bob asks", bob)
			}
		})
	}
}

type fixedNetwork backend.DefaultNetwork

func (n fixedNetwork) DefaultNetwork() backend.DefaultNetwork { return backend.DefaultNetwork(n) }

// DescribeAccountAttributes names the caller's default VPC, made for it.
func TestAccountDefaultVpc(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, user := range []string{"alice", "bob"} {
		attrs := e.mustCall(t, user, "DescribeAccountAttributes", "AttributeName.1", "default-vpc").(*describeAccountAttributesResponse).Attributes
		want := store.DefaultVPCID(user)
		if len(attrs) != 1 || len(attrs[0].Values) != 1 || attrs[0].Values[0].Value != want {
			t.Errorf("%s: got %+v, want default-vpc %s", user, attrs, want)
		}
		vpcs, _, _, _ := viewNetwork(t, e, user)
		if len(vpcs) != 1 || vpcs[0].ID != want {
			t.Errorf("%s: got VPCs %+v, want the default one made", user, vpcs)
		}
	}
}

// Groups made before each student had a default VPC move into it, keeping
// their ids and names.
func TestLegacyGroupsMoveToDefaultVPC(t *testing.T) {
	e := newTestEnv(t, nil)
	legacy := []*store.SecurityGroup{
		{ID: "sg-0000000000000000a", Owner: "alice", Name: "default", Description: "default VPC security group", VpcID: store.LegacyVpcID},
		{ID: "sg-0000000000000000b", Owner: "alice", Name: "web", Description: "web", VpcID: store.LegacyVpcID},
	}
	if err := e.svc.Store.Update(func(tx store.Tx) error {
		for _, g := range legacy {
			if err := store.PutSecurityGroup(tx, g); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := e.mustCall(t, "alice", "DescribeSecurityGroups").(*describeSecurityGroupsResponse).Groups
	if len(got) != 2 {
		t.Fatalf("got %d groups, want alice's 2 (no second default)", len(got))
	}
	for i, g := range got {
		if g.GroupID != legacy[i].ID || g.VpcID != store.DefaultVPCID("alice") {
			t.Errorf("got group %s in %s, want %s in %s", g.GroupID, g.VpcID, legacy[i].ID, store.DefaultVPCID("alice"))
		}
	}
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", "GroupName", "web", "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0")
}

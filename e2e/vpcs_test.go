package e2e

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/econetest"
)

// A networking lab with the AWS CLI: the default VPC and its subnets as a
// tool finds them, then a VPC of the student's own built up and taken
// down, each delete before its turn refused as EC2 refuses it.
func TestVpcLabWithAWSCLI(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	var vpcs struct {
		Vpcs []struct {
			VpcId, CidrBlock, State string
			IsDefault               bool
		}
	}
	cliJSON(t, e, alice, &vpcs, "ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true")
	if len(vpcs.Vpcs) != 1 || vpcs.Vpcs[0].CidrBlock != e.Config.Backend.Sim.CIDR || !vpcs.Vpcs[0].IsDefault || vpcs.Vpcs[0].State != "available" {
		t.Fatalf("describe-vpcs isDefault: got %+v, want one available default VPC on %s", vpcs.Vpcs, e.Config.Backend.Sim.CIDR)
	}
	def := vpcs.Vpcs[0].VpcId
	var subnets struct {
		Subnets []struct {
			SubnetId, VpcId, AvailabilityZone string
			DefaultForAz, MapPublicIpOnLaunch bool
		}
	}
	cliJSON(t, e, alice, &subnets, "ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true", "Name=vpc-id,Values="+def)
	var zones []string
	for _, sn := range subnets.Subnets {
		if !sn.DefaultForAz || !sn.MapPublicIpOnLaunch || sn.VpcId != def {
			t.Errorf("got default subnet %+v, want default for its zone, public addresses, in %s", sn, def)
		}
		zones = append(zones, sn.AvailabilityZone)
	}
	if slices.Sort(zones); !slices.Equal(zones, testZones) {
		t.Errorf("got default subnets in %v, want one per zone %v", zones, testZones)
	}

	var vpc struct{ Vpc struct{ VpcId string } }
	cliJSON(t, e, alice, &vpc, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/16",
		"--tag-specifications", "ResourceType=vpc,Tags=[{Key=Name,Value=lab}]")
	var subnet struct{ Subnet struct{ SubnetId string } }
	cliJSON(t, e, alice, &subnet, "ec2", "create-subnet", "--vpc-id", vpc.Vpc.VpcId, "--cidr-block", "10.0.1.0/24", "--availability-zone", testZones[1])
	var igw struct {
		InternetGateway struct{ InternetGatewayId string }
	}
	cliJSON(t, e, alice, &igw, "ec2", "create-internet-gateway")
	ids := []string{vpc.Vpc.VpcId, subnet.Subnet.SubnetId, igw.InternetGateway.InternetGatewayId}
	steps := []struct {
		args []string
		want string // the code of the refusal; "" = success
	}{
		{[]string{"attach-internet-gateway", "--internet-gateway-id", ids[2], "--vpc-id", ids[0]}, ""},
		{[]string{"create-subnet", "--vpc-id", ids[0], "--cidr-block", "10.0.1.128/25"}, "InvalidSubnet.Conflict"},
		{[]string{"create-subnet", "--vpc-id", ids[0], "--cidr-block", "192.168.0.0/24"}, "InvalidSubnet.Range"},
		{[]string{"delete-vpc", "--vpc-id", ids[0]}, "DependencyViolation"},
		{[]string{"delete-internet-gateway", "--internet-gateway-id", ids[2]}, "DependencyViolation"},
		{[]string{"modify-subnet-attribute", "--subnet-id", ids[1], "--map-public-ip-on-launch"}, ""},
		{[]string{"modify-vpc-attribute", "--vpc-id", ids[0], "--enable-dns-hostnames", "{\"Value\":true}"}, ""},
		{[]string{"delete-subnet", "--subnet-id", ids[1]}, ""},
		{[]string{"delete-vpc", "--vpc-id", ids[0]}, "DependencyViolation"},
		{[]string{"detach-internet-gateway", "--internet-gateway-id", ids[2], "--vpc-id", ids[0]}, ""},
		{[]string{"delete-internet-gateway", "--internet-gateway-id", ids[2]}, ""},
		{[]string{"delete-vpc", "--vpc-id", ids[0]}, ""},
	}
	for _, st := range steps {
		_, err := e.CLI(t, alice, append([]string{"ec2"}, st.args...)...)
		if st.want == "" && err != nil || st.want != "" && (err == nil || !strings.Contains(err.Error(), "("+st.want+")")) {
			t.Fatalf("%s: got %v, want %q", st.args[0], err, st.want)
		}
	}
	var tables struct {
		RouteTables []struct {
			Routes []struct{ DestinationCidrBlock, GatewayId, State string }
		}
	}
	cliJSON(t, e, alice, &tables, "ec2", "describe-route-tables", "--filters", "Name=association.main,Values=true", "Name=vpc-id,Values="+def)
	if len(tables.RouteTables) != 1 || len(tables.RouteTables[0].Routes) != 2 || tables.RouteTables[0].Routes[1].DestinationCidrBlock != "0.0.0.0/0" ||
		!strings.HasPrefix(tables.RouteTables[0].Routes[1].GatewayId, "igw-") {
		t.Errorf("got the default VPC's main table %+v, want the local route and 0.0.0.0/0 to its gateway", tables.RouteTables)
	}
}

// boto3VpcScript builds a VPC with routing and reports the EC2 codes of
// the mistakes a lab makes; bob's calls on alice's ids follow.
const boto3VpcScript = boto3WithCode + `
v = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
s = ec2.create_subnet(VpcId=v, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
g = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
ec2.attach_internet_gateway(InternetGatewayId=g, VpcId=v)
t = ec2.create_route_table(VpcId=v)["RouteTable"]["RouteTableId"]
ec2.create_route(RouteTableId=t, DestinationCidrBlock="0.0.0.0/0", GatewayId=g)
a = ec2.associate_route_table(RouteTableId=t, SubnetId=s)["AssociationId"]
out = {
  "ids": [v, s, g, t, a],
  "route_again": code(ec2.create_route, RouteTableId=t, DestinationCidrBlock="0.0.0.0/0", GatewayId=g),
  "vpc_range": code(ec2.create_vpc, CidrBlock="10.0.0.0/8"),
  "delete_table": code(ec2.delete_route_table, RouteTableId=t),
  "delete_vpc": code(ec2.delete_vpc, VpcId=v),
  "attach_again": code(ec2.attach_internet_gateway, InternetGatewayId=g, VpcId=v),
  "routes": [r["State"] for r in ec2.describe_route_tables(RouteTableIds=[t])["RouteTables"][0]["Routes"]],
  "default_vpc": ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"],
  "default_group_vpc": ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["VpcId"],
  "attr": ec2.describe_vpc_attribute(VpcId=v, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"],
}
print(json.dumps(out))
`

const boto3OtherStudentVpcScript = boto3WithCode + `
v, s, g, t, a = sys.argv[1:6]
print(json.dumps({
  "vpcs": len(ec2.describe_vpcs()["Vpcs"]),
  "describe_vpc": code(ec2.describe_vpcs, VpcIds=[v]),
  "delete_vpc": code(ec2.delete_vpc, VpcId=v),
  "subnet": code(ec2.describe_subnets, SubnetIds=[s]),
  "subnet_in_vpc": code(ec2.create_subnet, VpcId=v, CidrBlock="10.0.2.0/24"),
  "gateway": code(ec2.detach_internet_gateway, InternetGatewayId=g, VpcId=v),
  "table": code(ec2.delete_route_table, RouteTableId=t),
  "association": code(ec2.disassociate_route_table, AssociationId=a),
  "tag": code(ec2.create_tags, Resources=[v], Tags=[{"Key": "k", "Value": "v"}]),
}))
`

func TestVpcsWithBoto3(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	bob := e.User(t, "bob")
	out, err := e.Boto3(t, alice, boto3VpcScript)
	var got struct {
		IDs             []string `json:"ids"`
		RouteAgain      string   `json:"route_again"`
		VpcRange        string   `json:"vpc_range"`
		DeleteTable     string   `json:"delete_table"`
		DeleteVpc       string   `json:"delete_vpc"`
		AttachAgain     string   `json:"attach_again"`
		Routes          []string `json:"routes"`
		DefaultVpc      string   `json:"default_vpc"`
		DefaultGroupVpc string   `json:"default_group_vpc"`
		Attr            bool     `json:"attr"`
	}
	decodeOutput(t, out, err, &got)
	checks := []struct{ name, got, want string }{
		{"route again", got.RouteAgain, "RouteAlreadyExists 400"},
		{"vpc too big", got.VpcRange, "InvalidVpc.Range 400"},
		{"associated table", got.DeleteTable, "DependencyViolation 400"},
		{"vpc in use", got.DeleteVpc, "DependencyViolation 400"},
		{"gateway attached twice", got.AttachAgain, "Resource.AlreadyAssociated 400"},
		{"routes", strings.Join(got.Routes, ","), "active,active"},
		{"default group's VPC", got.DefaultGroupVpc, got.DefaultVpc},
		{"dns support", strconv.FormatBool(got.Attr), "true"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(got.IDs) != 5 {
		t.Fatalf("got ids %v, want five", got.IDs)
	}
	out, err = e.Boto3(t, bob, "import sys; sys.argv = ['x', '"+strings.Join(got.IDs, "', '")+"']\n"+boto3OtherStudentVpcScript)
	var bobs map[string]any
	decodeOutput(t, out, err, &bobs)
	want := map[string]any{
		"vpcs": 1.0, "describe_vpc": "InvalidVpcID.NotFound 400", "delete_vpc": "InvalidVpcID.NotFound 400",
		"subnet": "InvalidSubnetID.NotFound 400", "subnet_in_vpc": "InvalidVpcID.NotFound 400",
		"gateway": "InvalidInternetGatewayID.NotFound 400", "table": "InvalidRouteTableID.NotFound 400",
		"association": "InvalidAssociationID.NotFound 400", "tag": "InvalidVpcID.NotFound 400",
	}
	for k, w := range want {
		if bobs[k] != w {
			t.Errorf("bob's %s: got %v, want %v", k, bobs[k], w)
		}
	}
}

// aws-sdk-go-v2: tags on create, filters, and the quota of 5 VPCs (the
// default one counts).
func TestVpcsWithSDK(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	ctx := econetest.Context(t)
	c := e.EC2(alice)
	var made []string
	for i, cidr := range []string{"10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"} {
		out, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr), TagSpecifications: []types.TagSpecification{{
			ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{{Key: aws.String("n"), Value: aws.String(string(rune('a' + i)))}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, aws.ToString(out.Vpc.VpcId))
	}
	_, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.4.0.0/16")})
	if got := apiCode(err); got != "VpcLimitExceeded" {
		t.Errorf("fifth VPC of mine: got %s, want VpcLimitExceeded", got)
	}
	out, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("tag:n"), Values: []string{"b", "c"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range out.Vpcs {
		got = append(got, aws.ToString(v.VpcId))
	}
	if want := slices.Sorted(slices.Values(made[1:3])); !slices.Equal(got, want) {
		t.Errorf("describe by tag:n b,c: got %v, want %v", got, want)
	}
	sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(made[0]), CidrBlock: aws.String("10.0.0.0/20"), AvailabilityZone: aws.String(testZones[2])})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(sn.Subnet.AvailableIpAddressCount) != 4091 || aws.ToString(sn.Subnet.AvailabilityZone) != testZones[2] {
		t.Errorf("got subnet %+v, want 4091 free addresses in %s", sn.Subnet, testZones[2])
	}
	_, err = e.EC2(e.User(t, "bob")).DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: sn.Subnet.SubnetId})
	var ae interface{ ErrorCode() string }
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSubnetID.NotFound" {
		t.Errorf("bob deleting alice's subnet: got %v, want InvalidSubnetID.NotFound", err)
	}
	if arn := aws.ToString(sn.Subnet.SubnetArn); !strings.HasSuffix(arn, ":subnet/"+aws.ToString(sn.Subnet.SubnetId)) {
		t.Errorf("got subnet ARN %s, want it to end in the subnet id", arn)
	}
}

package e2e

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
)

// Instance networking through the stock clients: instances in the default
// VPC and in a subnet of the student's own, their primary interface, and
// EC2's errors for a bad placement.

// ownSubnet stores a VPC of the student's (10.1.0.0/16) with a subnet
// 10.1.2.0/24 in the second zone, as CreateVpc and CreateSubnet make them.
func ownSubnet(t *testing.T, e *econetest.Env, user string) (vpcID, subnetID string) {
	t.Helper()
	vpc := &store.VPC{ID: store.NewID("vpc"), Owner: user, CIDR: "10.1.0.0/16", DNSSupport: true}
	sn := &store.Subnet{ID: store.NewID("subnet"), Owner: user, VpcID: vpc.ID, CIDR: "10.1.2.0/24", Zone: testZones[1]}
	err := e.App.Store.Update(func(tx store.Tx) error {
		if err := store.PutVPC(tx, vpc); err != nil {
			return err
		}
		return store.PutSubnet(tx, sn)
	})
	if err != nil {
		t.Fatal(err)
	}
	return vpc.ID, sn.ID
}

type cliInterface struct {
	NetworkInterfaceId, SubnetId, VpcId, PrivateIpAddress, Status, MacAddress string
	Attachment                                                                struct {
		InstanceId          string
		DeviceIndex         int
		DeleteOnTermination bool
	}
	Groups      []struct{ GroupId string }
	Association *struct{ PublicIp, AllocationId string }
}

type cliInstance struct {
	InstanceId, ImageId, InstanceType, KeyName string
	SubnetId, VpcId, PrivateIpAddress          string
	Placement                                  struct{ AvailabilityZone string }
	SecurityGroups                             []struct{ GroupId string }
	NetworkInterfaces                          []cliInterface
	Tags                                       []struct{ Key, Value string }
}

func cliRun(t *testing.T, e *econetest.Env, c *admin.Credentials, args ...string) cliInstance {
	t.Helper()
	var out struct{ Instances []cliInstance }
	cliJSON(t, e, c, &out, append([]string{"ec2", "run-instances", "--image-id", "ami-0a1b2c3d4e5f60001", "--count", "1"}, args...)...)
	if len(out.Instances) != 1 {
		t.Fatalf("run-instances %v: got %d instances", args, len(out.Instances))
	}
	var desc struct {
		Reservations []struct{ Instances []cliInstance }
	}
	cliJSON(t, e, c, &desc, "ec2", "describe-instances", "--instance-ids", out.Instances[0].InstanceId)
	return desc.Reservations[0].Instances[0]
}

// checkPrimary checks an instance's one interface against the instance.
func checkPrimary(t *testing.T, inst cliInstance, cidr string) {
	t.Helper()
	ip, err := netip.ParseAddr(inst.PrivateIpAddress)
	if err != nil || !netip.MustParsePrefix(cidr).Contains(ip) {
		t.Errorf("instance %s: private IP %q, want one in %s", inst.InstanceId, inst.PrivateIpAddress, cidr)
	}
	if len(inst.NetworkInterfaces) != 1 {
		t.Fatalf("instance %s: got %d interfaces, want 1", inst.InstanceId, len(inst.NetworkInterfaces))
	}
	ni := inst.NetworkInterfaces[0]
	if !strings.HasPrefix(ni.NetworkInterfaceId, "eni-") || ni.SubnetId != inst.SubnetId || ni.VpcId != inst.VpcId ||
		ni.PrivateIpAddress != inst.PrivateIpAddress || ni.Status != "in-use" || ni.Attachment.DeviceIndex != 0 || !ni.Attachment.DeleteOnTermination ||
		len(ni.Groups) != len(inst.SecurityGroups) {
		t.Errorf("instance %+v: interface %+v does not agree", inst, ni)
	}
}

func TestInstanceNetworkWithAWSCLI(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	bob := e.User(t, "bob")
	def := cliRun(t, e, alice)
	if !strings.HasPrefix(def.VpcId, "vpc-") || !strings.HasPrefix(def.SubnetId, "subnet-") || def.Placement.AvailabilityZone != testZones[0] {
		t.Errorf("default launch: got vpc %q subnet %q zone %s, want the default VPC's subnet in %s", def.VpcId, def.SubnetId, def.Placement.AvailabilityZone, testZones[0])
	}
	checkPrimary(t, def, "10.77.0.0/16")

	vpc, subnet := ownSubnet(t, e, "alice")
	var group struct{ GroupId string }
	cliJSON(t, e, alice, &group, "ec2", "create-security-group", "--group-name", "web", "--description", "web", "--vpc-id", vpc)
	own := cliRun(t, e, alice, "--subnet-id", subnet, "--security-group-ids", group.GroupId, "--private-ip-address", "10.1.2.30")
	if own.SubnetId != subnet || own.VpcId != vpc || own.Placement.AvailabilityZone != testZones[1] || own.PrivateIpAddress != "10.1.2.30" ||
		len(own.SecurityGroups) != 1 || own.SecurityGroups[0].GroupId != group.GroupId {
		t.Errorf("launch in own subnet: got %+v, want subnet %s, zone %s, 10.1.2.30, group %s", own, subnet, testZones[1], group.GroupId)
	}
	checkPrimary(t, own, "10.1.2.0/24")

	var byFilter struct {
		Reservations []struct{ Instances []cliInstance }
	}
	cliJSON(t, e, alice, &byFilter, "ec2", "describe-instances", "--filters", "Name=subnet-id,Values="+subnet)
	if len(byFilter.Reservations) != 1 || byFilter.Reservations[0].Instances[0].InstanceId != own.InstanceId {
		t.Errorf("describe-instances subnet-id=%s: got %+v, want %s only", subnet, byFilter, own.InstanceId)
	}
	var enis struct{ NetworkInterfaces []cliInterface }
	cliJSON(t, e, alice, &enis, "ec2", "describe-network-interfaces", "--filters", "Name=attachment.instance-id,Values="+own.InstanceId)
	if len(enis.NetworkInterfaces) != 1 || enis.NetworkInterfaces[0].NetworkInterfaceId != own.NetworkInterfaces[0].NetworkInterfaceId ||
		enis.NetworkInterfaces[0].SubnetId != subnet || enis.NetworkInterfaces[0].Attachment.InstanceId != own.InstanceId {
		t.Errorf("describe-network-interfaces: got %+v, want %s's interface", enis, own.InstanceId)
	}

	cases := []struct {
		name string
		as   *admin.Credentials
		args []string
		code string
	}{
		{"address in use", alice, []string{"--subnet-id", subnet, "--security-group-ids", group.GroupId, "--private-ip-address", "10.1.2.30"}, "InvalidIPAddress.InUse"},
		{"another student's subnet", bob, []string{"--subnet-id", subnet}, "InvalidSubnetID.NotFound"},
		{"group of another VPC", alice, []string{"--subnet-id", subnet, "--security-group-ids", def.SecurityGroups[0].GroupId}, "InvalidParameter"},
		{"group name outside the default VPC", alice, []string{"--subnet-id", subnet, "--security-groups", "web"}, "InvalidParameterCombination"},
	}
	for _, c := range cases {
		out, err := e.CLI(t, c.as, append([]string{"ec2", "run-instances", "--image-id", "ami-0a1b2c3d4e5f60001", "--count", "1"}, c.args...)...)
		if err == nil || !strings.Contains(out+err.Error(), "("+c.code+")") {
			t.Errorf("%s: got %q, %v; want the error %s", c.name, out, err, c.code)
		}
	}
	// bob sees none of alice's interfaces.
	out, err := e.CLI(t, bob, "ec2", "describe-network-interfaces", "--network-interface-ids", own.NetworkInterfaces[0].NetworkInterfaceId)
	if err == nil || !strings.Contains(out+err.Error(), "InvalidNetworkInterfaceID.NotFound") {
		t.Errorf("bob describing alice's interface: got %q, %v; want InvalidNetworkInterfaceID.NotFound", out, err)
	}
}

// boto3NetworkScript launches as Ansible's ec2_instance does in its subnet
// form (the group in NetworkInterfaces[0].Groups), then tries a subnet that
// does not exist, then gives the instance an elastic IP by its interface
// and reads it back as ec2_eip does (instance["VpcId"]).
const boto3NetworkScript = boto3WithCode + `
subnet, group = sys.argv[1], sys.argv[2]
inst = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1, NetworkInterfaces=[
    {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group], "AssociatePublicIpAddress": True, "DeleteOnTermination": True}])["Instances"][0]
iid = inst["InstanceId"]
eni = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
alloc = ec2.allocate_address(Domain="vpc")
ec2.associate_address(AllocationId=alloc["AllocationId"], NetworkInterfaceId=eni)
cur = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
ni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
# An interface that outlives its instance.
kept = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1, NetworkInterfaces=[
    {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group], "DeleteOnTermination": False}])["Instances"][0]
kept_eni = kept["NetworkInterfaces"][0]["NetworkInterfaceId"]
kept_dot = ec2.describe_network_interfaces(NetworkInterfaceIds=[kept_eni])["NetworkInterfaces"][0]["Attachment"]["DeleteOnTermination"]
ec2.terminate_instances(InstanceIds=[kept["InstanceId"]])
ec2.get_waiter("instance_terminated").wait(InstanceIds=[kept["InstanceId"]], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
left = ec2.describe_network_interfaces(NetworkInterfaceIds=[kept_eni])["NetworkInterfaces"][0]
ec2.delete_network_interface(NetworkInterfaceId=kept_eni)
json.dump({
    "kept": [kept_dot, left["Status"], left["PrivateIpAddress"] == kept["PrivateIpAddress"], "Attachment" in left],
    "kept_deleted": code(ec2.describe_network_interfaces, NetworkInterfaceIds=[kept_eni]),
    "groups": [g["GroupId"] for g in cur["SecurityGroups"]],
    "eni_groups": [g["GroupId"] for g in cur["NetworkInterfaces"][0]["Groups"]],
    "subnet": cur["SubnetId"], "vpc": cur["VpcId"],
    "public_ip": cur["NetworkInterfaces"][0]["Association"]["PublicIp"], "eip": alloc["PublicIp"],
    "eni_alloc": ni["Association"]["AllocationId"], "alloc": alloc["AllocationId"],
    "bad_subnet": code(ec2.run_instances, ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": "subnet-0123456789abcdef0", "Groups": [group]}]),
    "both": code(ec2.run_instances, ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1, SubnetId=subnet,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet}]),
}, sys.stdout)
`

func TestInstanceNetworkWithBoto3(t *testing.T) {
	t.Parallel()
	e, alice := start(t, func(c *conf.Config) { c.ElasticIPs.Pool = []string{"203.0.113.20"} })
	vpc, subnet := ownSubnet(t, e, "alice")
	var group struct{ GroupId string }
	cliJSON(t, e, alice, &group, "ec2", "create-security-group", "--group-name", "web", "--description", "web", "--vpc-id", vpc)
	out, err := e.Boto3(t, alice, "import sys; sys.argv = ['x', '"+subnet+"', '"+group.GroupId+"']\n"+boto3NetworkScript)
	var got struct {
		Groups      []string `json:"groups"`
		EniGroups   []string `json:"eni_groups"`
		Subnet      string   `json:"subnet"`
		Vpc         string   `json:"vpc"`
		PublicIP    string   `json:"public_ip"`
		EIP         string   `json:"eip"`
		EniAlloc    string   `json:"eni_alloc"`
		Alloc       string   `json:"alloc"`
		BadSubnet   string   `json:"bad_subnet"`
		Both        string   `json:"both"`
		Kept        []any    `json:"kept"`
		KeptDeleted string   `json:"kept_deleted"`
	}
	decodeOutput(t, out, err, &got)
	if want := []any{false, "available", true, false}; !reflect.DeepEqual(got.Kept, want) || got.KeptDeleted != "InvalidNetworkInterfaceID.NotFound 400" {
		t.Errorf("DeleteOnTermination false: got [deleteOnTermination, status after, same address, attached] %v, then %s; want %v, then InvalidNetworkInterfaceID.NotFound 400", got.Kept, got.KeptDeleted, want)
	}
	if len(got.Groups) != 1 || got.Groups[0] != group.GroupId || len(got.EniGroups) != 1 || got.EniGroups[0] != group.GroupId {
		t.Errorf("NetworkInterfaces[0].Groups: got instance groups %v, interface groups %v, want [%s]", got.Groups, got.EniGroups, group.GroupId)
	}
	if got.Subnet != subnet || got.Vpc != vpc {
		t.Errorf("got subnet %s vpc %s, want %s %s", got.Subnet, got.Vpc, subnet, vpc)
	}
	if got.PublicIP != got.EIP || got.EIP != "203.0.113.20" || got.EniAlloc != got.Alloc {
		t.Errorf("elastic IP by interface: got public %s (eip %s), allocation %s (want %s)", got.PublicIP, got.EIP, got.EniAlloc, got.Alloc)
	}
	if got.BadSubnet != "InvalidSubnetID.NotFound 400" {
		t.Errorf("a subnet that does not exist: got %s, want InvalidSubnetID.NotFound 400", got.BadSubnet)
	}
	if got.Both != "InvalidParameterCombination 400" {
		t.Errorf("SubnetId with NetworkInterfaces: got %s, want InvalidParameterCombination 400", got.Both)
	}
}

func TestInstanceNetworkWithSDK(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	ctx := econetest.Context(t)
	c := e.EC2(alice)
	first, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		Placement: &types.Placement{AvailabilityZone: aws.String(testZones[2])}})
	if err != nil {
		t.Fatal(err)
	}
	inst := first.Instances[0]
	subnet := aws.ToString(inst.SubnetId)
	// A second instance in the first one's subnet, at a chosen address
	// that is not the first one's own.
	first4 := aws.ToString(inst.PrivateIpAddress)
	ip := first4[:strings.LastIndexByte(first4, '.')] + ".200"
	if ip == first4 {
		ip = first4[:strings.LastIndexByte(first4, '.')] + ".201"
	}
	second, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(subnet), PrivateIpAddress: aws.String(ip)})
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Instances[0]; aws.ToString(got.PrivateIpAddress) != ip || aws.ToString(got.Placement.AvailabilityZone) != testZones[2] {
		t.Errorf("launch in subnet %s at %s: got %s in %s", subnet, ip, aws.ToString(got.PrivateIpAddress), aws.ToString(got.Placement.AvailabilityZone))
	}
	enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{{Name: aws.String("subnet-id"), Values: []string{subnet}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(enis.NetworkInterfaces) != 2 {
		t.Fatalf("interfaces in %s: got %d, want 2", subnet, len(enis.NetworkInterfaces))
	}
	for _, ni := range enis.NetworkInterfaces {
		if aws.ToString(ni.VpcId) != aws.ToString(inst.VpcId) || ni.Status != types.NetworkInterfaceStatusInUse || ni.Attachment == nil || aws.ToInt32(ni.Attachment.DeviceIndex) != 0 {
			t.Errorf("interface %+v: want in-use, attached as device 0, in %s", ni, aws.ToString(inst.VpcId))
		}
	}
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(subnet), PrivateIpAddress: aws.String(ip)})
	if got := apiCode(err); got != "InvalidIPAddress.InUse" {
		t.Errorf("the same address again: got %s, want InvalidIPAddress.InUse", got)
	}
}

package e2e

import (
	"testing"

	"github.com/econe/econe-server/conf"
)

// A lab's standalone network interface through boto3: create one in a
// subnet of the student's own VPC, attach it to an instance, give it an
// elastic IP, detach it, launch an instance on it, and delete it; a
// classmate cannot see or delete it.

const boto3InterfaceSetup = boto3WithCode + `
zone = sys.argv[1]
vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.5.1.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
# The interface's chosen address before the instance's: the sim gives the
# instance a random free one, which could otherwise be 10.5.1.50.
eni = ec2.create_network_interface(SubnetId=sub, Description="lab", PrivateIpAddress="10.5.1.50",
    TagSpecifications=[{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "db"}]}])["NetworkInterface"]
iid = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1, SubnetId=sub)["Instances"][0]["InstanceId"]
ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
att = ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=iid, DeviceIndex=1)["AttachmentId"]
alloc = ec2.allocate_address(Domain="vpc")
ec2.associate_address(AllocationId=alloc["AllocationId"], NetworkInterfaceId=eni["NetworkInterfaceId"])
inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
addr = ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"][0]
named = ec2.describe_network_interfaces(Filters=[{"Name": "tag:Name", "Values": ["db"]}])["NetworkInterfaces"]
json.dump({
    "eni": eni["NetworkInterfaceId"], "status": eni["Status"], "ip": eni["PrivateIpAddress"], "att": att,
    "instance": iid, "alloc": alloc["AllocationId"],
    "interfaces": [[n["NetworkInterfaceId"], n["Attachment"]["DeviceIndex"], n.get("Association", {}).get("PublicIp", "")] for n in inst["NetworkInterfaces"]],
    "primary_att": inst["NetworkInterfaces"][0]["Attachment"]["AttachmentId"],
    "addr": [addr.get("NetworkInterfaceId", ""), addr.get("PrivateIpAddress", ""), addr.get("InstanceId", "")],
    "named": [n["NetworkInterfaceId"] + " " + n["Status"] for n in named],
    "in_use": code(ec2.delete_network_interface, NetworkInterfaceId=eni["NetworkInterfaceId"]),
}, sys.stdout)
`

const boto3InterfaceClassmate = boto3WithCode + `
eni = sys.argv[1]
json.dump({
    "describe": code(ec2.describe_network_interfaces, NetworkInterfaceIds=[eni]),
    "delete": code(ec2.delete_network_interface, NetworkInterfaceId=eni),
    "tag": code(ec2.create_tags, Resources=[eni], Tags=[{"Key": "k", "Value": "v"}]),
}, sys.stdout)
`

const boto3InterfaceTeardown = boto3WithCode + `
eni, att, primary_att, alloc = sys.argv[1:5]
primary = code(ec2.detach_network_interface, AttachmentId=primary_att)
ec2.detach_network_interface(AttachmentId=att)
status = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Status"]
# An instance launched on the interface takes its subnet and address, and
# leaves it available when it terminates.
on = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1,
    NetworkInterfaces=[{"DeviceIndex": 0, "NetworkInterfaceId": eni}])["Instances"][0]
launched = [on["NetworkInterfaces"][0]["NetworkInterfaceId"], on["PrivateIpAddress"]]
ec2.terminate_instances(InstanceIds=[on["InstanceId"]])
ec2.get_waiter("instance_terminated").wait(InstanceIds=[on["InstanceId"]], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
ec2.delete_network_interface(NetworkInterfaceId=eni)
addr = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]
json.dump({
    "primary": primary, "status": status, "launched": launched,
    "gone": code(ec2.describe_network_interfaces, NetworkInterfaceIds=[eni]),
    "addr_eni": addr.get("NetworkInterfaceId", ""),
}, sys.stdout)
`

func TestNetworkInterfacesWithBoto3(t *testing.T) {
	t.Parallel()
	e, alice := start(t, func(c *conf.Config) { c.ElasticIPs.Pool = []string{"203.0.113.30"} })
	bob := e.User(t, "bob")
	out, err := e.Boto3(t, alice, "import sys; sys.argv = ['x', '"+testZones[0]+"']\n"+boto3InterfaceSetup)
	var made struct {
		ENI        string    `json:"eni"`
		Status     string    `json:"status"`
		IP         string    `json:"ip"`
		Att        string    `json:"att"`
		Instance   string    `json:"instance"`
		Alloc      string    `json:"alloc"`
		Interfaces [][]any   `json:"interfaces"`
		PrimaryAtt string    `json:"primary_att"`
		Addr       [3]string `json:"addr"`
		Named      []string  `json:"named"`
		InUse      string    `json:"in_use"`
	}
	decodeOutput(t, out, err, &made)
	if made.Status != "available" || made.IP != "10.5.1.50" {
		t.Errorf("create-network-interface: got status %s, address %s; want available, 10.5.1.50", made.Status, made.IP)
	}
	if len(made.Interfaces) != 2 || made.Interfaces[1][0] != made.ENI || made.Interfaces[1][1] != float64(1) || made.Interfaces[1][2] != "203.0.113.30" {
		t.Errorf("instance's interfaces: got %v, want its primary then %s at device 1 with 203.0.113.30", made.Interfaces, made.ENI)
	}
	if made.Addr != [3]string{made.ENI, "10.5.1.50", made.Instance} {
		t.Errorf("describe-addresses: got interface, private IP, instance %v; want %s 10.5.1.50 %s", made.Addr, made.ENI, made.Instance)
	}
	if len(made.Named) != 1 || made.Named[0] != made.ENI+" in-use" {
		t.Errorf("tag:Name=db: got %v, want %s in-use", made.Named, made.ENI)
	}
	if made.InUse != "InvalidNetworkInterface.InUse 400" {
		t.Errorf("deleting an attached interface: got %s, want InvalidNetworkInterface.InUse 400", made.InUse)
	}

	out, err = e.Boto3(t, bob, "import sys; sys.argv = ['x', '"+made.ENI+"']\n"+boto3InterfaceClassmate)
	var classmate struct{ Describe, Delete, Tag string }
	decodeOutput(t, out, err, &classmate)
	want := "InvalidNetworkInterfaceID.NotFound 400"
	if classmate.Describe != want || classmate.Delete != want || classmate.Tag != want {
		t.Errorf("bob on alice's interface: got describe %s, delete %s, tag %s; want %s", classmate.Describe, classmate.Delete, classmate.Tag, want)
	}

	out, err = e.Boto3(t, alice, "import sys; sys.argv = ['x', '"+made.ENI+"', '"+made.Att+"', '"+made.PrimaryAtt+"', '"+made.Alloc+"']\n"+boto3InterfaceTeardown)
	var down struct {
		Primary, Status, Gone string
		Launched              []string
		AddrENI               string `json:"addr_eni"`
	}
	decodeOutput(t, out, err, &down)
	if len(down.Launched) != 2 || down.Launched[0] != made.ENI || down.Launched[1] != "10.5.1.50" {
		t.Errorf("run-instances on the interface: got interface and address %v, want %s 10.5.1.50", down.Launched, made.ENI)
	}
	if down.Primary != "OperationNotPermitted 400" || down.Status != "available" || down.Gone != want || down.AddrENI != "" {
		t.Errorf("teardown: got primary detach %s, status after detach %s, describe after delete %s, address still on %q; want OperationNotPermitted 400, available, %s, none",
			down.Primary, down.Status, down.Gone, down.AddrENI, want)
	}
}

// An interface marked DeleteOnTermination goes with its instance; an
// instance's own primary interface takes tags, and once marked to be kept
// it stays, available, with them (boto3).
const boto3InterfaceDeleteOnTermination = boto3WithCode + `
inst = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1)["Instances"][0]
iid = inst["InstanceId"]
ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
primary = inst["NetworkInterfaces"][0]
ec2.create_tags(Resources=[primary["NetworkInterfaceId"]], Tags=[{"Key": "Name", "Value": "web"}])
named = ec2.describe_network_interfaces(Filters=[{"Name": "tag:Name", "Values": ["web"]}])["NetworkInterfaces"]
eni = ec2.create_network_interface(SubnetId=inst["SubnetId"])["NetworkInterface"]["NetworkInterfaceId"]
att = ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=iid, DeviceIndex=1)["AttachmentId"]
ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Attachment={"AttachmentId": att, "DeleteOnTermination": True})
shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Attachment"]["DeleteOnTermination"]
keep = code(ec2.modify_network_interface_attribute, NetworkInterfaceId=primary["NetworkInterfaceId"],
    Attachment={"AttachmentId": primary["Attachment"]["AttachmentId"], "DeleteOnTermination": False})
ec2.terminate_instances(InstanceIds=[iid])
ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
json.dump({
    "named": [n["NetworkInterfaceId"] for n in named], "primary": primary["NetworkInterfaceId"],
    "shown": shown, "keep_primary": keep,
    "gone": code(ec2.describe_network_interfaces, NetworkInterfaceIds=[eni]),
    "kept": ec2.describe_network_interfaces(NetworkInterfaceIds=[primary["NetworkInterfaceId"]])["NetworkInterfaces"][0]["Status"],
    "tags_left": [t["ResourceId"] for t in ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["network-interface"]}])["Tags"]],
}, sys.stdout)
`

func TestInterfaceDeleteOnTerminationWithBoto3(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	out, err := e.Boto3(t, alice, boto3InterfaceDeleteOnTermination)
	var got struct {
		Named       []string
		Primary     string
		Shown       bool
		KeepPrimary string `json:"keep_primary"`
		Gone        string
		Kept        string
		TagsLeft    []string `json:"tags_left"`
	}
	decodeOutput(t, out, err, &got)
	if len(got.Named) != 1 || got.Named[0] != got.Primary {
		t.Errorf("tag:Name=web: got %v, want the instance's primary interface %s", got.Named, got.Primary)
	}
	if !got.Shown || got.KeepPrimary != "ok" {
		t.Errorf("got deleteOnTermination %v, keeping the primary %s; want true, ok", got.Shown, got.KeepPrimary)
	}
	if got.Gone != "InvalidNetworkInterfaceID.NotFound 400" || got.Kept != "available" || len(got.TagsLeft) != 1 || got.TagsLeft[0] != got.Primary {
		t.Errorf("after termination: got describe %s, kept primary %s, interface tags on %v; want InvalidNetworkInterfaceID.NotFound 400, available, the kept primary's (%s)", got.Gone, got.Kept, got.TagsLeft, got.Primary)
	}
}

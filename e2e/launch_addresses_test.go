package e2e

import (
	"testing"

	"github.com/econe/econe-server/conf"
)

// A public IPv4 address at launch, through boto3: an instance in a
// default subnet shows one (PublicIpAddress, and the association of its
// primary interface, owned by "amazon"); one launched with
// AssociatePublicIpAddress=False shows none; a stop releases it.

const boto3LaunchAddress = boto3WithCode + `
subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
iid = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
eni = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"][0]
by_ip = ec2.describe_instances(Filters=[{"Name": "ip-address", "Values": [inst.get("PublicIpAddress", "-")]}])["Reservations"]
private = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1,
    NetworkInterfaces=[{"DeviceIndex": 0, "AssociatePublicIpAddress": False}])["Instances"][0]["InstanceId"]
ec2.stop_instances(InstanceIds=[iid])
stopped = ec2.describe_instances(InstanceIds=[iid, private])["Reservations"]
json.dump({
    "maps": [s["MapPublicIpOnLaunch"] for s in subnets],
    "public_ip": inst.get("PublicIpAddress", ""), "dns": inst.get("PublicDnsName", ""),
    "instance_assoc": inst["NetworkInterfaces"][0].get("Association", {}),
    "eni_assoc": eni.get("Association", {}),
    "by_ip": [i["InstanceId"] for r in by_ip for i in r["Instances"]],
    "after": {i["InstanceId"]: i.get("PublicIpAddress", "") for r in stopped for i in r["Instances"]},
    "instance": iid, "private": private,
}, sys.stdout)
`

func TestLaunchAddressWithBoto3(t *testing.T) {
	t.Parallel()
	e, alice := start(t, func(c *conf.Config) { c.ElasticIPs.LaunchPool = []string{"192.0.2.20"} })
	out, err := e.Boto3(t, alice, boto3LaunchAddress)
	var got struct {
		Maps          []bool            `json:"maps"`
		PublicIP      string            `json:"public_ip"`
		DNS           string            `json:"dns"`
		InstanceAssoc map[string]string `json:"instance_assoc"`
		ENIAssoc      map[string]string `json:"eni_assoc"`
		ByIP          []string          `json:"by_ip"`
		After         map[string]string `json:"after"`
		Instance      string            `json:"instance"`
		Private       string            `json:"private"`
	}
	decodeOutput(t, out, err, &got)
	for _, m := range got.Maps {
		if !m {
			t.Errorf("default subnets: got MapPublicIpOnLaunch %v, want true for each", got.Maps)
			break
		}
	}
	if got.PublicIP != "192.0.2.20" || got.DNS != "192.0.2.20" {
		t.Errorf("run-instances in a default subnet: got PublicIpAddress %q PublicDnsName %q, want 192.0.2.20 both", got.PublicIP, got.DNS)
	}
	want := map[string]string{"IpOwnerId": "amazon", "PublicDnsName": "192.0.2.20", "PublicIp": "192.0.2.20"}
	for name, assoc := range map[string]map[string]string{"instance's interface": got.InstanceAssoc, "describe-network-interfaces": got.ENIAssoc} {
		for k, v := range want {
			if assoc[k] != v {
				t.Errorf("%s: got association %v, want %v", name, assoc, want)
				break
			}
		}
	}
	if len(got.ByIP) != 1 || got.ByIP[0] != got.Instance {
		t.Errorf("filter ip-address: got %v, want [%s]", got.ByIP, got.Instance)
	}
	if got.After[got.Instance] != "" || got.After[got.Private] != "" {
		t.Errorf("after the stop / with AssociatePublicIpAddress=False: got public addresses %v, want none", got.After)
	}
}

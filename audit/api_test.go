package audit_test

import (
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/audit"
)

// readOnly is every action of the table that changes nothing. Every other
// action is audited; a new action fails this test until it is listed here
// or in mutating, so its class is chosen on purpose.
var readOnly = []string{
	"DescribeAccountAttributes", "DescribeAddresses", "DescribeAddressesAttribute", "DescribeAvailabilityZones", "DescribeImages",
	"DescribeInstanceAttribute", "DescribeInstanceStatus", "DescribeInstanceTypes", "DescribeInstances",
	"DescribeKeyPairs", "DescribeRegions", "DescribeSecurityGroupRules", "DescribeSecurityGroups",
	"DescribeSnapshots", "DescribeTags", "DescribeVolumes", "DescribeVolumesModifications", "GetConsoleOutput", "GetInstanceUefiData",
	"GetCallerIdentity", "GetUser",
	"DescribeLaunchTemplates", "DescribeLaunchTemplateVersions", "GetLaunchTemplateData",
	"DescribeInstanceCreditSpecifications", "DescribeInstanceTypeOfferings", "DescribeSnapshotAttribute",
	"DescribeImageAttribute",
	"DescribeVpcs", "DescribeVpcAttribute", "DescribeSubnets", "DescribeInternetGateways", "DescribeRouteTables",
	"DescribeNetworkInterfaces", "DescribeNetworkInterfaceAttribute",
	"DescribeVpcClassicLink", "DescribeVpcClassicLinkDnsSupport",
	"DescribeManagedPrefixLists", "GetManagedPrefixListEntries",
}

var mutating = []string{
	"AllocateAddress", "AssociateAddress", "AttachVolume", "AuthorizeSecurityGroupEgress",
	"AuthorizeSecurityGroupIngress", "CreateKeyPair", "CreateSecurityGroup", "CreateSnapshot", "CreateTags",
	"CreateVolume", "DeleteKeyPair", "DeleteSecurityGroup", "DeleteSnapshot", "DeleteTags", "DeleteVolume",
	"DetachVolume", "DisassociateAddress", "ImportKeyPair", "ModifyInstanceAttribute", "ModifyVolume",
	"RebootInstances", "ReleaseAddress", "RevokeSecurityGroupEgress", "RevokeSecurityGroupIngress",
	"RunInstances", "StartInstances", "StopInstances", "TerminateInstances",
	"CreateLaunchTemplate", "ModifyLaunchTemplate", "DeleteLaunchTemplate", "CreateLaunchTemplateVersion",
	"DeleteLaunchTemplateVersions",
	"CreateSnapshots", "ModifyInstanceCreditSpecification", "ModifyInstanceMetadataOptions", "ModifySnapshotAttribute",
	"MonitorInstances", "ResetSnapshotAttribute", "UnmonitorInstances",
	"CreateImage", "CopyImage", "RegisterImage", "DeregisterImage", "ModifyImageAttribute", "ResetImageAttribute",
	"CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "CreateSubnet", "DeleteSubnet", "ModifySubnetAttribute",
	"CreateInternetGateway", "DeleteInternetGateway", "AttachInternetGateway", "DetachInternetGateway",
	"CreateRouteTable", "DeleteRouteTable", "CreateRoute", "DeleteRoute", "AssociateRouteTable", "DisassociateRouteTable",
	"ReplaceRoute", "ReplaceRouteTableAssociation",
	"ModifySecurityGroupRules", "UpdateSecurityGroupRuleDescriptionsIngress", "UpdateSecurityGroupRuleDescriptionsEgress",
	"CreateManagedPrefixList", "ModifyManagedPrefixList", "DeleteManagedPrefixList",
	"CreateNetworkInterface", "DeleteNetworkInterface", "AttachNetworkInterface", "DetachNetworkInterface",
	"ModifyNetworkInterfaceAttribute",
}

func TestMutatingClassifiesEveryAction(t *testing.T) {
	var names []string
	for name := range actions.Table() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want, listed := false, slices.Contains(readOnly, name)
		if slices.Contains(mutating, name) {
			want, listed = true, true
		}
		if !listed {
			t.Errorf("action %s is in neither readOnly nor mutating: decide whether it is audited", name)
			continue
		}
		if got := audit.Mutating(name); got != want {
			t.Errorf("Mutating(%s): got %v, want %v", name, got, want)
		}
	}
}

func TestRequestResources(t *testing.T) {
	tests := []struct {
		name   string
		params url.Values
		want   []string
	}{
		{"instance list", url.Values{"Action": {"TerminateInstances"}, "InstanceId.1": {"i-2"}, "InstanceId.2": {"i-1"}}, []string{"i-1", "i-2"}},
		{"run: image, key, groups; never user data", url.Values{"ImageId": {"ami-1"}, "KeyName": {"k"}, "SecurityGroupId.1": {"sg-1"},
			"UserData": {"c2VjcmV0"}, "ClientToken": {"t"}, "MinCount": {"1"}}, []string{"ami-1", "k", "sg-1"}},
		{"nested ids", url.Values{"GroupId": {"sg-1"}, "IpPermissions.1.Groups.1.GroupId": {"sg-2"}, "IpPermissions.1.IpRanges.1.CidrIp": {"0.0.0.0/0"}}, []string{"sg-1", "sg-2"}},
		{"tags name resources, not values", url.Values{"ResourceId.1": {"vol-1"}, "Tag.1.Key": {"Name"}, "Tag.1.Value": {"x"}}, []string{"vol-1"}},
		{"import key pair: never the key material", url.Values{"KeyName": {"k"}, "PublicKeyMaterial": {"c3NoLXJzYQ=="}}, []string{"k"}},
		{"filters are not resources", url.Values{"Filter.1.Name": {"instance-id"}, "Filter.1.Value.1": {"i-9"}}, nil},
		{"signature parameters are not resources", url.Values{"AWSAccessKeyId": {"AKIA1"}, "Signature": {"s"}, "X-Amz-Credential": {"AKIA1/x"},
			"X-Amz-Signature": {"s"}, "AllocationId": {"eipalloc-1"}}, []string{"eipalloc-1"}},
		{"classic address", url.Values{"PublicIp": {"198.51.100.7"}}, []string{"198.51.100.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := audit.RequestResources(tt.params); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// up and down reach each other (a recursive pair of types).
type up struct {
	InstanceID string `xml:"instanceId"`
	Child      *down
}

type down struct{ Parent *up }

// A response's ids are found at any depth; secrets next to them are not.
func TestResponseResources(t *testing.T) {
	type item struct {
		InstanceID string `xml:"instanceId"`
		ImageID    string `xml:"imageId"`
		Groups     []struct {
			GroupID string `xml:"groupId"`
		} `xml:"groupSet>item"`
	}
	type run struct {
		actions.Meta
		Instances []item `xml:"instancesSet>item"`
	}
	type keyPair struct {
		actions.Meta
		KeyPairID   string `xml:"keyPairId"`
		KeyMaterial string `xml:"keyMaterial"`
	}
	type volume struct {
		VolumeID string `xml:"volumeId"`
	}
	type createVolume struct {
		actions.Meta
		volume // the actions embed unexported response parts
	}
	type node struct {
		InstanceID string  `xml:"instanceId"`
		Children   []*node `xml:"children>item"`
		Any        any
		Raw        []byte
	}
	g := struct {
		GroupID string `xml:"groupId"`
	}{"sg-1"}
	tests := []struct {
		name string
		resp any
		want []string
	}{
		{"instances", &run{Instances: []item{{InstanceID: "i-1", ImageID: "ami-1", Groups: []struct {
			GroupID string `xml:"groupId"`
		}{g}}, {InstanceID: "i-2"}}}, []string{"i-1", "sg-1", "i-2"}},
		{"key pair without its material", &keyPair{KeyPairID: "key-1", KeyMaterial: "-----BEGIN RSA PRIVATE KEY-----"}, []string{"key-1"}},
		{"embedded part", &createVolume{volume: volume{VolumeID: "vol-1"}}, []string{"vol-1"}},
		{"nil", nil, nil},
		{"recursive type, through an interface", &node{InstanceID: "i-1", Children: []*node{{InstanceID: "i-2", Any: &volume{VolumeID: "vol-2"}, Raw: []byte("x")}}},
			[]string{"i-1", "i-2", "vol-2"}},
		{"types that reach each other", &up{InstanceID: "i-3", Child: &down{Parent: &up{InstanceID: "i-4"}}}, []string{"i-3", "i-4"}},
		{"the inner one alone, planned within the outer", &down{Parent: &up{InstanceID: "i-5"}}, []string{"i-5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := audit.ResponseResources(tt.resp); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// A RunInstances answer's shape: one reservation of one instance with its
// groups, interface, volume and tags, and the many fields that hold no id.
func BenchmarkResponseResources(b *testing.B) {
	type tag struct {
		Key   string `xml:"key"`
		Value string `xml:"value"`
	}
	type group struct {
		GroupID   string `xml:"groupId"`
		GroupName string `xml:"groupName"`
	}
	type ebs struct {
		VolumeID            string    `xml:"volumeId"`
		Status              string    `xml:"status"`
		AttachTime          time.Time `xml:"attachTime"`
		DeleteOnTermination bool      `xml:"deleteOnTermination"`
	}
	type device struct {
		DeviceName string `xml:"deviceName"`
		Ebs        ebs    `xml:"ebs"`
	}
	type iface struct {
		NetworkInterfaceID string  `xml:"networkInterfaceId"`
		SubnetID           string  `xml:"subnetId"`
		VpcID              string  `xml:"vpcId"`
		MacAddress         string  `xml:"macAddress"`
		PrivateIPAddress   string  `xml:"privateIpAddress"`
		SourceDestCheck    bool    `xml:"sourceDestCheck"`
		Groups             []group `xml:"groupSet>item"`
		AttachmentID       string  `xml:"attachment>attachmentId"`
		DeviceIndex        int     `xml:"attachment>deviceIndex"`
	}
	type state struct {
		Code int    `xml:"code"`
		Name string `xml:"name"`
	}
	type instance struct {
		InstanceID     string    `xml:"instanceId"`
		ImageID        string    `xml:"imageId"`
		State          state     `xml:"instanceState"`
		PrivateDNSName string    `xml:"privateDnsName"`
		DNSName        string    `xml:"dnsName"`
		KeyName        string    `xml:"keyName"`
		LaunchIndex    int       `xml:"amiLaunchIndex"`
		InstanceType   string    `xml:"instanceType"`
		LaunchTime     time.Time `xml:"launchTime"`
		Zone           string    `xml:"placement>availabilityZone"`
		Tenancy        string    `xml:"placement>tenancy"`
		Monitoring     string    `xml:"monitoring>state"`
		SubnetID       string    `xml:"subnetId"`
		VpcID          string    `xml:"vpcId"`
		PrivateIP      string    `xml:"privateIpAddress"`
		Groups         []group   `xml:"groupSet>item"`
		Architecture   string    `xml:"architecture"`
		RootDeviceType string    `xml:"rootDeviceType"`
		RootDeviceName string    `xml:"rootDeviceName"`
		Devices        []device  `xml:"blockDeviceMapping>item"`
		Hypervisor     string    `xml:"hypervisor"`
		ClientToken    string    `xml:"clientToken"`
		Tags           []tag     `xml:"tagSet>item"`
		Interfaces     []iface   `xml:"networkInterfaceSet>item"`
		EbsOptimized   bool      `xml:"ebsOptimized"`
		EnaSupport     bool      `xml:"enaSupport"`
		MetadataTokens string    `xml:"metadataOptions>httpTokens"`
		Hops           int       `xml:"metadataOptions>httpPutResponseHopLimit"`
		BootMode       string    `xml:"currentInstanceBootMode"`
		Usage          time.Time `xml:"usageOperationUpdateTime"`
	}
	type reservation struct {
		actions.Meta
		ReservationID string     `xml:"reservationId"`
		OwnerID       string     `xml:"ownerId"`
		Groups        []group    `xml:"groupSet>item"`
		Instances     []instance `xml:"instancesSet>item"`
	}
	gs := []group{{"sg-0123456789abcdef0", "default"}}
	resp := &reservation{ReservationID: "r-1", OwnerID: "123456789012", Groups: gs, Instances: []instance{{
		InstanceID: "i-1", ImageID: "ami-1", State: state{0, "pending"}, InstanceType: "t2.micro", SubnetID: "subnet-1",
		VpcID: "vpc-1", Groups: gs, Devices: []device{{"/dev/sda1", ebs{VolumeID: "vol-1"}}},
		Tags: []tag{{"Name", "web"}}, Interfaces: []iface{{NetworkInterfaceID: "eni-1", SubnetID: "subnet-1", VpcID: "vpc-1", Groups: gs, AttachmentID: "eni-attach-1"}},
	}}}
	b.ReportAllocs()
	for b.Loop() {
		audit.ResponseResources(resp)
	}
}

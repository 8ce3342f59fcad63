package actions

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// createENI makes one of user's interfaces and returns it as created.
func (n *netEnv) createENI(t *testing.T, user string, kv ...string) networkInterfaceXML {
	t.Helper()
	return n.mustCall(t, user, "CreateNetworkInterface", kv...).(*createNetworkInterfaceResponse).NetworkInterface
}

// oneInterface describes user's interface id.
func (n *netEnv) oneInterface(t *testing.T, user, id string) networkInterfaceXML {
	t.Helper()
	got := n.interfaces(t, user, "NetworkInterfaceId.1", id)
	if len(got) != 1 {
		t.Fatalf("DescribeNetworkInterfaces %s: got %d, want 1", id, len(got))
	}
	return got[0]
}

func interfaceIDs(x instanceXML) []string {
	var out []string
	if x.NetworkInterfaces != nil {
		for _, it := range x.NetworkInterfaces.Items {
			out = append(out, it.NetworkInterfaceID)
		}
	}
	return out
}

func TestNetworkInterfaceLifecycle(t *testing.T) {
	n := newNetEnv(t, nil)
	eni := n.createENI(t, "alice", "SubnetId", n.sub["alice"], "Description", "lab eni", "SecurityGroupId.1", n.web["alice"],
		"TagSpecification.1.ResourceType", "network-interface", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "db")
	ip := netip.MustParseAddr(eni.PrivateIPAddress)
	if eni.Status != "available" || eni.Attachment != nil || eni.SubnetID != n.sub["alice"] || eni.VpcID != n.vpc["alice"] ||
		eni.AvailabilityZone != n.zone || !netip.MustParsePrefix("10.1.2.0/24").Contains(ip) || eni.Description != "lab eni" ||
		!slices.Equal(groupIDsOf(eni.Groups), []string{n.web["alice"]}) || len(eni.Tags) != 1 || eni.Tags[0].Value != "db" ||
		!strings.HasPrefix(eni.MacAddress, "0e:") || !eni.SourceDestCheck || eni.OwnerID != n.users["alice"].AccountID {
		t.Fatalf("CreateNetworkInterface: got %+v, want an available interface in %s with group web and tag Name=db", eni, n.sub["alice"])
	}
	if got := n.oneInterface(t, "alice", eni.NetworkInterfaceID); got.PrivateIPAddress != eni.PrivateIPAddress || got.Status != "available" {
		t.Errorf("DescribeNetworkInterfaces: got %+v, want it as created", got)
	}
	x := n.run(t, "alice", "SubnetId", n.sub["alice"])
	n.clock.Advance(settle)

	att := n.mustCall(t, "alice", "AttachNetworkInterface", "NetworkInterfaceId", eni.NetworkInterfaceID, "InstanceId", x.InstanceID, "DeviceIndex", "1").(*attachNetworkInterfaceResponse)
	if !store.ValidID("eni-attach", att.AttachmentID) {
		t.Fatalf("AttachNetworkInterface: got attachment id %q, want eni-attach-…", att.AttachmentID)
	}
	inst := n.instance(t, "alice", x.InstanceID)
	if ids := interfaceIDs(inst); len(ids) != 2 || ids[1] != eni.NetworkInterfaceID {
		t.Fatalf("instance after attach: got interfaces %v, want its primary then %s", ids, eni.NetworkInterfaceID)
	}
	second := inst.NetworkInterfaces.Items[1]
	if second.Attachment.AttachmentID != att.AttachmentID || second.Attachment.DeviceIndex != 1 || second.Attachment.DeleteOnTermination ||
		second.Status != "in-use" || !slices.Equal(groupIDsOf(second.Groups), []string{n.web["alice"]}) {
		t.Errorf("instance's second interface: got %+v, want attachment %s at device 1, its own groups", second, att.AttachmentID)
	}
	got := n.oneInterface(t, "alice", eni.NetworkInterfaceID)
	if got.Status != "in-use" || got.Attachment == nil || got.Attachment.InstanceID != x.InstanceID || got.Attachment.DeviceIndex != 1 {
		t.Errorf("DescribeNetworkInterfaces after attach: got %+v, want in-use on %s", got, x.InstanceID)
	}
	attr := n.mustCall(t, "alice", "DescribeNetworkInterfaceAttribute", "NetworkInterfaceId", eni.NetworkInterfaceID, "Attribute", "attachment").(*networkInterfaceAttributeResponse)
	if attr.Attachment == nil || attr.Attachment.InstanceID != x.InstanceID || attr.Attachment.DeleteOnTermination || attr.Description != nil {
		t.Errorf("DescribeNetworkInterfaceAttribute attachment: got %+v, want the attachment to %s only", attr, x.InstanceID)
	}
	filtered := []struct{ name, value string }{
		{"attachment.instance-id", x.InstanceID},
		{"attachment.attachment-id", att.AttachmentID},
		{"attachment.device-index", "1"},
		{"status", "in-use"},
		{"tag:Name", "db"},
		{"group-id", n.web["alice"]},
	}
	for _, f := range filtered {
		if got := n.interfaces(t, "alice", "Filter.1.Name", f.name, "Filter.1.Value.1", f.value, "Filter.2.Name", "network-interface-id", "Filter.2.Value.1", eni.NetworkInterfaceID); len(got) != 1 {
			t.Errorf("DescribeNetworkInterfaces %s=%s: got %d, want the attached interface", f.name, f.value, len(got))
		}
	}
	if got := describe(t, n.testEnv, "alice", "Filter.1.Name", "network-interface.network-interface-id", "Filter.1.Value.1", eni.NetworkInterfaceID); len(got) != 1 {
		t.Errorf("DescribeInstances network-interface.network-interface-id: got %d instances, want the one it is attached to", len(got))
	}

	_, err := n.call(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", eni.NetworkInterfaceID)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceInUse)
	_, err = n.call(t, "alice", "ModifyInstanceAttribute", "InstanceId", x.InstanceID, "GroupId.1", n.web["alice"])
	wantCode(t, err, ec2err.InvalidInstanceID)
	n.mustCall(t, "alice", "DetachNetworkInterface", "AttachmentId", att.AttachmentID)
	if ids := interfaceIDs(n.instance(t, "alice", x.InstanceID)); len(ids) != 1 {
		t.Errorf("instance after detach: got interfaces %v, want its primary only", ids)
	}
	if got := n.oneInterface(t, "alice", eni.NetworkInterfaceID); got.Status != "available" || got.Attachment != nil {
		t.Errorf("after detach: got %+v, want available", got)
	}
	n.mustCall(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", eni.NetworkInterfaceID)
	_, err = n.call(t, "alice", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", eni.NetworkInterfaceID)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)
	// Its address is free again.
	if again := n.createENI(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", eni.PrivateIPAddress); again.PrivateIPAddress != eni.PrivateIPAddress {
		t.Errorf("address of a deleted interface: got %s, want %s free again", again.PrivateIPAddress, eni.PrivateIPAddress)
	}
}

func TestNetworkInterfaceErrors(t *testing.T) {
	n := newNetEnv(t, nil)
	zones := n.svc.Config.AvailabilityZones
	x := n.run(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.40")
	other := n.run(t, "alice", "Placement.AvailabilityZone", zones[0]) // default subnet, another zone
	bobs := n.run(t, "bob", "SubnetId", n.sub["bob"])
	n.clock.Advance(settle)
	eni := n.createENI(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.50").NetworkInterfaceID
	held := n.createENI(t, "alice", "SubnetId", n.sub["alice"]).NetworkInterfaceID
	att := n.mustCall(t, "alice", "AttachNetworkInterface", "NetworkInterfaceId", held, "InstanceId", x.InstanceID, "DeviceIndex", "1").(*attachNetworkInterfaceResponse).AttachmentID
	bobsENI := n.createENI(t, "bob", "SubnetId", n.sub["bob"]).NetworkInterfaceID
	primaryAtt := primary(t, other).Attachment.AttachmentID
	sub := n.sub["alice"]
	cases := []struct {
		name, user, action string
		args               []string
		want               string
	}{
		{"create: no subnet", "alice", "CreateNetworkInterface", nil, ec2err.MissingParameter},
		{"create: malformed subnet", "alice", "CreateNetworkInterface", []string{"SubnetId", "subnet-x"}, ec2err.InvalidSubnetIDMalformed},
		{"create: unknown subnet", "alice", "CreateNetworkInterface", []string{"SubnetId", "subnet-0123456789abcdef0"}, ec2err.InvalidSubnetIDNotFound},
		{"create: another student's subnet", "bob", "CreateNetworkInterface", []string{"SubnetId", sub}, ec2err.InvalidSubnetIDNotFound},
		{"create: address outside the subnet", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "PrivateIpAddress", "54.0.0.1"}, ec2err.InvalidParameterValue},
		{"create: reserved address", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "PrivateIpAddress", "10.1.2.3"}, ec2err.InvalidParameterValue},
		{"create: not an address", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "PrivateIpAddress", "ten"}, ec2err.InvalidParameterValue},
		{"create: an instance's address", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "PrivateIpAddress", "10.1.2.40"}, ec2err.InvalidIPAddressInUse},
		{"create: an interface's address", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "PrivateIpAddress", "10.1.2.50"}, ec2err.InvalidIPAddressInUse},
		{"create: group of another VPC", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "SecurityGroupId.1", n.defaultApp}, ec2err.InvalidParameter},
		{"create: another student's group", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "SecurityGroupId.1", n.web["bob"]}, ec2err.InvalidGroupNotFound},
		{"create: malformed group", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "SecurityGroupId.1", "sg-x"}, ec2err.InvalidGroupIDMalformed},
		{"create: secondary addresses", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "SecondaryPrivateIpAddressCount", "2"}, ec2err.UnsupportedOperation},
		{"create: description too long", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "Description", strings.Repeat("d", 256)}, ec2err.InvalidParameterValue},
		{"create: dry run", "alice", "CreateNetworkInterface", []string{"SubnetId", sub, "DryRun", "true"}, ec2err.DryRunOperation},
		{"delete: malformed", "alice", "DeleteNetworkInterface", []string{"NetworkInterfaceId", "eni-x"}, ec2err.InvalidNetworkInterfaceIDMalformed},
		{"delete: unknown", "alice", "DeleteNetworkInterface", []string{"NetworkInterfaceId", "eni-0123456789abcdef0"}, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"delete: another student's", "bob", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni}, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"delete: attached", "alice", "DeleteNetworkInterface", []string{"NetworkInterfaceId", held}, ec2err.InvalidNetworkInterfaceInUse},
		{"delete: dry run", "alice", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni, "DryRun", "true"}, ec2err.DryRunOperation},
		{"attach: no device index", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", x.InstanceID}, ec2err.MissingParameter},
		{"attach: device 0", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", x.InstanceID, "DeviceIndex", "0"}, ec2err.InvalidParameterValue},
		{"attach: device taken", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", x.InstanceID, "DeviceIndex", "1"}, ec2err.InvalidParameterValue},
		{"attach: another zone", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", other.InstanceID, "DeviceIndex", "1"}, ec2err.InvalidParameterValue},
		{"attach: already attached", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", held, "InstanceId", x.InstanceID, "DeviceIndex", "2"}, ec2err.InvalidNetworkInterfaceInUse},
		{"attach: another student's instance", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", bobs.InstanceID, "DeviceIndex", "1"}, ec2err.InvalidInstanceIDNotFound},
		{"attach: another student's interface", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", bobsENI, "InstanceId", x.InstanceID, "DeviceIndex", "2"}, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"attach: dry run", "alice", "AttachNetworkInterface", []string{"NetworkInterfaceId", eni, "InstanceId", x.InstanceID, "DeviceIndex", "2", "DryRun", "true"}, ec2err.DryRunOperation},
		{"detach: unknown attachment", "alice", "DetachNetworkInterface", []string{"AttachmentId", "eni-attach-1234abcd"}, ec2err.InvalidAttachmentIDNotFound},
		{"detach: another student's attachment", "bob", "DetachNetworkInterface", []string{"AttachmentId", att}, ec2err.InvalidAttachmentIDNotFound},
		{"detach: the primary interface", "alice", "DetachNetworkInterface", []string{"AttachmentId", primaryAtt}, ec2err.OperationNotPermitted},
		{"detach: dry run", "alice", "DetachNetworkInterface", []string{"AttachmentId", att, "DryRun", "true"}, ec2err.DryRunOperation},
		{"modify: no attribute", "alice", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni}, ec2err.MissingParameter},
		{"modify: two attributes", "alice", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Description.Value", "x", "SourceDestCheck.Value", "false"}, ec2err.InvalidParameterCombination},
		{"modify: group of another VPC", "alice", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "SecurityGroupId.1", n.defaultApp}, ec2err.InvalidParameter},
		{"modify: another student's", "bob", "ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Description.Value", "x"}, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"attribute: unknown", "alice", "DescribeNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Attribute", "attach"}, ec2err.InvalidParameterValue},
		{"attribute: another student's", "bob", "DescribeNetworkInterfaceAttribute", []string{"NetworkInterfaceId", eni, "Attribute", "description"}, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"tag: another student's", "bob", "CreateTags", []string{"ResourceId.1", eni, "Tag.1.Key", "k", "Tag.1.Value", "v"}, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"delete subnet with an interface", "alice", "DeleteSubnet", []string{"SubnetId", sub}, ec2err.DependencyViolation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := n.call(t, c.user, c.action, c.args...)
			wantCode(t, err, c.want)
		})
	}
	// Nothing changed: the interfaces are as they were.
	if got := n.oneInterface(t, "alice", eni); got.Status != "available" || got.Description != "" || got.PrivateIPAddress != "10.1.2.50" {
		t.Errorf("after the refused calls: got %+v, want %s unchanged", got, eni)
	}
	if got := n.oneInterface(t, "alice", held); got.Attachment == nil || got.Attachment.AttachmentID != att {
		t.Errorf("after the refused calls: got %+v, want %s still attached (%s)", got, held, att)
	}
}

func TestModifyNetworkInterfaceAttribute(t *testing.T) {
	n := newNetEnv(t, nil)
	eni := n.createENI(t, "alice", "SubnetId", n.sub["alice"]).NetworkInterfaceID
	def := store.DefaultGroupID("alice", n.vpc["alice"])
	if got := groupIDsOf(n.oneInterface(t, "alice", eni).Groups); !slices.Equal(got, []string{def}) {
		t.Fatalf("interface made with no group: got groups %v, want its VPC's default %s", got, def)
	}
	n.mustCall(t, "alice", "ModifyNetworkInterfaceAttribute", "NetworkInterfaceId", eni, "Description.Value", "front")
	n.mustCall(t, "alice", "ModifyNetworkInterfaceAttribute", "NetworkInterfaceId", eni, "SourceDestCheck.Value", "false")
	n.mustCall(t, "alice", "ModifyNetworkInterfaceAttribute", "NetworkInterfaceId", eni, "SecurityGroupId.1", n.web["alice"])
	if attr := n.mustCall(t, "alice", "DescribeNetworkInterfaceAttribute", "NetworkInterfaceId", eni, "Attribute", "sourceDestCheck").(*networkInterfaceAttributeResponse); attr.SourceDestCheck == nil || attr.SourceDestCheck.Value {
		t.Errorf("DescribeNetworkInterfaceAttribute sourceDestCheck: got %+v, want false", attr.SourceDestCheck)
	}
	got := n.oneInterface(t, "alice", eni)
	if got.Description != "front" || got.SourceDestCheck || !slices.Equal(groupIDsOf(got.Groups), []string{n.web["alice"]}) {
		t.Errorf("after ModifyNetworkInterfaceAttribute: got description %q, sourceDestCheck %v, groups %v; want front, false, [%s]",
			got.Description, got.SourceDestCheck, groupIDsOf(got.Groups), n.web["alice"])
	}
	if found := n.interfaces(t, "alice", "Filter.1.Name", "source-dest-check", "Filter.1.Value.1", "false"); len(found) != 1 || found[0].NetworkInterfaceID != eni {
		t.Errorf("source-dest-check=false: got %d interfaces, want %s", len(found), eni)
	}
	n.mustCall(t, "alice", "CreateTags", "ResourceId.1", eni, "Tag.1.Key", "role", "Tag.1.Value", "front")
	tags := n.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "network-interface").(*describeTagsResponse).Tags
	if len(tags) != 1 || tags[0].ResourceID != eni || tags[0].Key != "role" {
		t.Errorf("DescribeTags resource-type=network-interface: got %+v, want role on %s", tags, eni)
	}
}

// An interface lives on when its instance terminates: it is detached.
func TestTerminateDetachesInterfaces(t *testing.T) {
	n := newNetEnv(t, nil)
	x := n.run(t, "alice", "SubnetId", n.sub["alice"])
	n.clock.Advance(settle)
	eni := n.createENI(t, "alice", "SubnetId", n.sub["alice"]).NetworkInterfaceID
	n.mustCall(t, "alice", "AttachNetworkInterface", "NetworkInterfaceId", eni, "InstanceId", x.InstanceID, "DeviceIndex", "1")
	n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", x.InstanceID)
	n.clock.Advance(settle)
	describe(t, n.testEnv, "alice") // records the terminated machine
	if got := n.oneInterface(t, "alice", eni); got.Status != "available" || got.Attachment != nil {
		t.Errorf("interface of a terminated instance: got %+v, want it detached and available", got)
	}
	n.mustCall(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", eni)
}

// A termination nobody described frees the interface for deletion: the
// delete brings the caller's instances up to date first.
func TestDeleteInterfaceOfTerminatedInstance(t *testing.T) {
	n := newNetEnv(t, nil)
	x := n.run(t, "alice", "SubnetId", n.sub["alice"])
	n.clock.Advance(settle)
	eni := n.createENI(t, "alice", "SubnetId", n.sub["alice"]).NetworkInterfaceID
	n.mustCall(t, "alice", "AttachNetworkInterface", "NetworkInterfaceId", eni, "InstanceId", x.InstanceID, "DeviceIndex", "1")
	n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", x.InstanceID)
	_, err := n.call(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", eni)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceInUse) // still shutting down
	n.clock.Advance(settle)
	if _, err := n.call(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", eni); err != nil {
		t.Fatalf("DeleteNetworkInterface once its instance has terminated: got %v, want it deleted", err)
	}
	_, err = n.call(t, "alice", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", eni)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)
}

// Attachment.DeleteOnTermination: recorded on the attachment, shown, and
// honoured when the instance terminates (its elastic IP disassociated
// first, and kept by the student). An instance's own primary interface
// is always deleted with it.
func TestInterfaceDeleteOnTermination(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"198.51.100.10"}
	n := newNetEnv(t, cfg)
	n.svc.Addresses = &fakeAddressProvider{}
	reconcile(t, n.svc)
	x := n.run(t, "alice", "SubnetId", n.sub["alice"])
	n.clock.Advance(settle)
	plain := n.createENI(t, "alice", "SubnetId", n.sub["alice"], "TagSpecification.1.ResourceType", "network-interface",
		"TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "scratch")
	withIP := n.createENI(t, "alice", "SubnetId", n.sub["alice"])
	kept := n.createENI(t, "alice", "SubnetId", n.sub["alice"])
	attach := func(eni string, index int) string {
		return n.mustCall(t, "alice", "AttachNetworkInterface", "NetworkInterfaceId", eni, "InstanceId", x.InstanceID,
			"DeviceIndex", strconv.Itoa(index)).(*attachNetworkInterfaceResponse).AttachmentID
	}
	att := attach(plain.NetworkInterfaceID, 1)
	attIP := attach(withIP.NetworkInterfaceID, 2)
	attach(kept.NetworkInterfaceID, 3)
	alloc := n.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse).AllocationID
	n.mustCall(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", withIP.NetworkInterfaceID)
	primary := x.NetworkInterfaces.Items[0]

	modify := func(eni string, kv ...string) error {
		_, err := n.call(t, "alice", "ModifyNetworkInterfaceAttribute", append([]string{"NetworkInterfaceId", eni}, kv...)...)
		return err
	}
	refused := []struct {
		name string
		eni  string
		kv   []string
		want string
	}{
		{"no attachment id", plain.NetworkInterfaceID, []string{"Attachment.DeleteOnTermination", "true"}, ec2err.MissingParameter},
		{"another attachment's id", plain.NetworkInterfaceID, []string{"Attachment.AttachmentId", attIP, "Attachment.DeleteOnTermination", "true"}, ec2err.InvalidAttachmentIDNotFound},
		{"not a boolean", plain.NetworkInterfaceID, []string{"Attachment.AttachmentId", att, "Attachment.DeleteOnTermination", "maybe"}, ec2err.InvalidParameterValue},
		{"with a description", plain.NetworkInterfaceID, []string{"Attachment.AttachmentId", att, "Attachment.DeleteOnTermination", "true", "Description.Value", "x"}, ec2err.InvalidParameterCombination},
		{"another student's", plain.NetworkInterfaceID, nil, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"the instance's own interface's description", primary.NetworkInterfaceID, []string{"Description.Value", "x"}, ec2err.UnsupportedOperation},
		{"the instance's own interface, another attachment", primary.NetworkInterfaceID, []string{"Attachment.AttachmentId", att, "Attachment.DeleteOnTermination", "true"}, ec2err.InvalidAttachmentIDNotFound},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.kv == nil {
				_, err = n.call(t, "bob", "ModifyNetworkInterfaceAttribute", "NetworkInterfaceId", c.eni, "Attachment.AttachmentId", att, "Attachment.DeleteOnTermination", "true")
			} else {
				err = modify(c.eni, c.kv...)
			}
			wantCode(t, err, c.want)
		})
	}
	if err := modify(primary.NetworkInterfaceID, "Attachment.AttachmentId", primary.Attachment.AttachmentID, "Attachment.DeleteOnTermination", "true"); err != nil {
		t.Errorf("the instance's own interface deleted on termination, as it is: got %v, want success", err)
	}
	for _, c := range []struct{ eni, att string }{{plain.NetworkInterfaceID, att}, {withIP.NetworkInterfaceID, attIP}} {
		if err := modify(c.eni, "Attachment.AttachmentId", c.att, "Attachment.DeleteOnTermination", "true"); err != nil {
			t.Fatalf("DeleteOnTermination on %s: %v", c.eni, err)
		}
	}
	if got := n.oneInterface(t, "alice", plain.NetworkInterfaceID); got.Attachment == nil || !got.Attachment.DeleteOnTermination {
		t.Errorf("DescribeNetworkInterfaces: got attachment %+v, want deleteOnTermination true", got.Attachment)
	}
	attr := n.mustCall(t, "alice", "DescribeNetworkInterfaceAttribute", "NetworkInterfaceId", plain.NetworkInterfaceID, "Attribute", "attachment").(*networkInterfaceAttributeResponse)
	if attr.Attachment == nil || !attr.Attachment.DeleteOnTermination {
		t.Errorf("DescribeNetworkInterfaceAttribute attachment: got %+v, want deleteOnTermination true", attr.Attachment)
	}
	if items := n.instance(t, "alice", x.InstanceID).NetworkInterfaces.Items; len(items) != 4 || !items[1].Attachment.DeleteOnTermination || items[3].Attachment.DeleteOnTermination {
		t.Errorf("the instance's interfaces: got %+v, want devices 1 and 2 deleted on termination, 3 not", items)
	}
	if got := n.interfaces(t, "alice", "Filter.1.Name", "attachment.delete-on-termination", "Filter.1.Value.1", "true"); len(got) != 3 {
		t.Errorf("attachment.delete-on-termination=true: got %d interfaces, want 3 (the primary, devices 1 and 2)", len(got))
	}

	n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", x.InstanceID)
	n.clock.Advance(settle)
	describe(t, n.testEnv, "alice") // records the termination
	for _, eni := range []string{plain.NetworkInterfaceID, withIP.NetworkInterfaceID} {
		_, err := n.call(t, "alice", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", eni)
		wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)
	}
	if got := n.oneInterface(t, "alice", kept.NetworkInterfaceID); got.Status != "available" {
		t.Errorf("the interface not deleted on termination: got %+v, want it detached", got)
	}
	if tags := n.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-id", "Filter.1.Value.1", plain.NetworkInterfaceID).(*describeTagsResponse).Tags; len(tags) != 0 {
		t.Errorf("tags of the deleted interface: got %+v, want none", tags)
	}
	addrs := n.mustCall(t, "alice", "DescribeAddresses", "AllocationId.1", alloc).(*describeAddressesResponse).Addresses
	if len(addrs) != 1 || addrs[0].AssociationID != "" || addrs[0].NetworkInterfaceID != "" {
		t.Errorf("the elastic IP of the deleted interface: got %+v, want it still allocated, not associated", addrs)
	}
	// Their addresses are free again.
	for _, ip := range []string{plain.PrivateIPAddress, withIP.PrivateIPAddress} {
		n.createENI(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", ip)
	}
}

// An instance's own primary interface is taggable like any interface of
// the student's, and its tags go with it when the instance terminates.
func TestDerivedPrimaryInterfaceTags(t *testing.T) {
	n := newNetEnv(t, nil)
	x := n.run(t, "alice", "SubnetId", n.sub["alice"])
	eni := x.NetworkInterfaces.Items[0].NetworkInterfaceID
	tag := func(user, action string, kv ...string) error {
		_, err := n.call(t, user, action, append([]string{"ResourceId.1", eni}, kv...)...)
		return err
	}
	tagsOf := func() []tagDescriptionXML {
		return n.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-id", "Filter.1.Value.1", eni).(*describeTagsResponse).Tags
	}
	if err := tag("alice", "CreateTags", "Tag.1.Key", "Name", "Tag.1.Value", "web", "Tag.2.Key", "tier", "Tag.2.Value", "front"); err != nil {
		t.Fatalf("CreateTags on the instance's primary interface %s: %v", eni, err)
	}
	wantCode(t, tag("bob", "CreateTags", "Tag.1.Key", "Name", "Tag.1.Value", "mine"), ec2err.InvalidNetworkInterfaceIDNotFound)
	wantCode(t, tag("bob", "DeleteTags", "Tag.1.Key", "Name"), ec2err.InvalidNetworkInterfaceIDNotFound)
	got := n.interfaces(t, "alice", "Filter.1.Name", "tag:Name", "Filter.1.Value.1", "web")
	if len(got) != 1 || got[0].NetworkInterfaceID != eni || len(got[0].Tags) != 2 {
		t.Fatalf("DescribeNetworkInterfaces tag:Name=web: got %+v, want %s with its two tags", got, eni)
	}
	if d := tagsOf(); len(d) != 2 || d[0].ResourceType != "network-interface" {
		t.Errorf("DescribeTags of %s: got %+v, want its two tags as a network-interface's", eni, d)
	}
	if err := tag("alice", "DeleteTags", "Tag.1.Key", "tier"); err != nil {
		t.Fatalf("DeleteTags: %v", err)
	}
	if got := n.interfaces(t, "alice", "Filter.1.Name", "tag-key", "Filter.1.Value.1", "tier"); len(got) != 0 {
		t.Errorf("tag-key=tier after DeleteTags: got %d interfaces, want none", len(got))
	}
	n.clock.Advance(settle)
	n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", x.InstanceID)
	n.clock.Advance(settle)
	describe(t, n.testEnv, "alice") // records the termination
	if d := tagsOf(); len(d) != 0 {
		t.Errorf("DescribeTags of the terminated instance's interface: got %+v, want none", d)
	}
	wantCode(t, tag("alice", "CreateTags", "Tag.1.Key", "Name", "Tag.1.Value", "web"), ec2err.InvalidNetworkInterfaceIDNotFound)
}

// RunInstances tags the primary interface it makes (TagSpecification
// network-interface); an instance launched on an existing interface makes
// none, and EC2 fails such a launch.
func TestLaunchTagsPrimaryInterface(t *testing.T) {
	n := newNetEnv(t, nil)
	spec := []string{"TagSpecification.1.ResourceType", "network-interface", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web"}
	x := n.run(t, "alice", append([]string{"SubnetId", n.sub["alice"]}, spec...)...)
	eni := x.NetworkInterfaces.Items[0].NetworkInterfaceID
	if got := n.interfaces(t, "alice", "Filter.1.Name", "tag:Name", "Filter.1.Value.1", "web"); len(got) != 1 || got[0].NetworkInterfaceID != eni {
		t.Errorf("tag:Name=web after a launch tagging its interface: got %+v, want %s", got, eni)
	}
	if tags := n.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-id", "Filter.1.Value.1", x.InstanceID).(*describeTagsResponse).Tags; len(tags) != 0 {
		t.Errorf("the instance's tags: got %+v, want none (the tags were the interface's)", tags)
	}
	own := n.createENI(t, "alice", "SubnetId", n.sub["alice"]).NetworkInterfaceID
	_, err := n.call(t, "alice", "RunInstances", withDefaults(append([]string{"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.NetworkInterfaceId", own}, spec...),
		"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")...)
	wantCode(t, err, ec2err.InvalidParameterCombination)
}

// An interface marked DeleteOnTermination whose instance terminates
// without TerminateInstances (the machine shut itself down) still holds
// its elastic IP: it is detached and kept, never deleted with its address
// still associated.
func TestDeleteOnTerminationKeepsInterfaceWithElasticIP(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"198.51.100.10"}
	n := newNetEnv(t, cfg)
	n.svc.Addresses = &fakeAddressProvider{}
	reconcile(t, n.svc)
	x := n.run(t, "alice", "SubnetId", n.sub["alice"])
	n.clock.Advance(settle)
	eni := n.createENI(t, "alice", "SubnetId", n.sub["alice"]).NetworkInterfaceID
	att := n.mustCall(t, "alice", "AttachNetworkInterface", "NetworkInterfaceId", eni, "InstanceId", x.InstanceID, "DeviceIndex", "1").(*attachNetworkInterfaceResponse).AttachmentID
	n.mustCall(t, "alice", "ModifyNetworkInterfaceAttribute", "NetworkInterfaceId", eni, "Attachment.AttachmentId", att, "Attachment.DeleteOnTermination", "true")
	alloc := n.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse).AllocationID
	n.mustCall(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni)
	var backendID string
	if err := n.svc.Store.View(func(tx store.Tx) error {
		inst, err := store.GetInstance(tx, "alice", x.InstanceID)
		backendID = inst.BackendID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.Backend.Terminate(context.Background(), backendID); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(settle)
	describe(t, n.testEnv, "alice") // records the termination
	got := n.oneInterface(t, "alice", eni)
	if got.Status != "available" || got.Association == nil || got.Association.PublicIP != "198.51.100.10" {
		t.Errorf("interface with an elastic IP after its instance terminated: got %+v, want it detached, still with 198.51.100.10", got)
	}
}

func TestLaunchOnInterface(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"198.51.100.10"}
	n := newNetEnv(t, cfg)
	n.svc.Addresses = &fakeAddressProvider{}
	reconcile(t, n.svc)
	eni := n.createENI(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", "10.1.2.60", "SecurityGroupId.1", n.web["alice"]).NetworkInterfaceID
	on := []string{"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.NetworkInterfaceId", eni}
	refused := []struct {
		name string
		args []string
		want string
	}{
		{"with its subnet", append(slices.Clone(on), "NetworkInterface.1.SubnetId", n.sub["alice"]), ec2err.InvalidParameterCombination},
		{"with groups", append(slices.Clone(on), "NetworkInterface.1.SecurityGroupId.1", n.web["alice"]), ec2err.InvalidParameterCombination},
		{"deleted on termination", append(slices.Clone(on), "NetworkInterface.1.DeleteOnTermination", "true"), ec2err.InvalidParameterCombination},
		{"two instances", append(slices.Clone(on), "MaxCount", "2"), ec2err.InvalidParameterCombination},
		{"instance-level groups", append(slices.Clone(on), "SecurityGroupId.1", n.web["alice"]), ec2err.InvalidParameterCombination},
		{"another zone", append(slices.Clone(on), "Placement.AvailabilityZone", n.svc.Config.AvailabilityZones[0]), ec2err.InvalidParameterValue},
		{"another student's interface", nil, ec2err.InvalidNetworkInterfaceIDNotFound},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			user, args := "alice", c.args
			if args == nil {
				user, args = "bob", on
			}
			_, err := n.call(t, user, "RunInstances", withDefaults(args, "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")...)
			wantCode(t, err, c.want)
		})
	}
	x := n.run(t, "alice", on...)
	if x.SubnetID != n.sub["alice"] || x.PrivateIPAddress != "10.1.2.60" || !slices.Equal(interfaceIDs(x), []string{eni}) ||
		!slices.Equal(groupIDsOf(x.Groups.Items), []string{n.web["alice"]}) || x.NetworkInterfaces.Items[0].Attachment.DeviceIndex != 0 {
		t.Fatalf("instance launched on %s: got subnet %s, address %s, interfaces %v, groups %v; want the interface's", eni, x.SubnetID, x.PrivateIPAddress, interfaceIDs(x), x.Groups.Items)
	}
	if got := n.interfaces(t, "alice", "Filter.1.Name", "attachment.instance-id", "Filter.1.Value.1", x.InstanceID); len(got) != 1 || got[0].NetworkInterfaceID != eni {
		t.Errorf("interfaces of %s: got %+v, want only %s", x.InstanceID, got, eni)
	}
	_, err := n.call(t, "alice", "RunInstances", withDefaults(on, "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")...)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceInUse)
	n.clock.Advance(settle)
	_, err = n.call(t, "alice", "DetachNetworkInterface", "AttachmentId", x.NetworkInterfaces.Items[0].Attachment.AttachmentID)
	wantCode(t, err, ec2err.OperationNotPermitted)
	// Its groups are the interface's.
	def := store.DefaultGroupID("alice", n.vpc["alice"])
	n.mustCall(t, "alice", "ModifyInstanceAttribute", "InstanceId", x.InstanceID, "GroupId.1", def)
	if got := groupIDsOf(n.oneInterface(t, "alice", eni).Groups); !slices.Equal(got, []string{def}) {
		t.Errorf("interface groups after ModifyInstanceAttribute: got %v, want [%s]", got, def)
	}
	// An elastic IP given to the instance goes on its interface, and stays
	// there when the instance terminates.
	alloc := n.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse).AllocationID
	n.mustCall(t, "alice", "AssociateAddress", "AllocationId", alloc, "InstanceId", x.InstanceID)
	if inst := n.instance(t, "alice", x.InstanceID); inst.IPAddress != "198.51.100.10" || inst.NetworkInterfaces.Items[0].Association == nil {
		t.Errorf("instance with an elastic IP: got public IP %q, interface %+v; want 198.51.100.10 on %s", inst.IPAddress, inst.NetworkInterfaces.Items[0], eni)
	}
	n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", x.InstanceID)
	n.clock.Advance(settle)
	describe(t, n.testEnv, "alice")
	addrs := n.mustCall(t, "alice", "DescribeAddresses", "AllocationId.1", alloc).(*describeAddressesResponse).Addresses
	if len(addrs) != 1 || addrs[0].NetworkInterfaceID != eni || addrs[0].InstanceID != "" {
		t.Errorf("address after the instance terminated: got %+v, want it on %s, no instance", addrs, eni)
	}
	// The interface kept its address: a new instance launches on it again.
	if y := n.run(t, "alice", on...); y.PrivateIPAddress != "10.1.2.60" {
		t.Errorf("second launch on %s: got address %s, want 10.1.2.60", eni, y.PrivateIPAddress)
	}
}

// Instances and interfaces take addresses from one allocation: in a
// subnet with room for eleven hosts (a /28), ten interfaces and one
// instance fill it, each with its own address.
func TestInterfaceAndInstanceAddressesNeverCollide(t *testing.T) {
	n := newNetEnv(t, nil)
	vpc := n.vpc["alice"]
	small := n.mustCall(t, "alice", "CreateSubnet", "VpcId", vpc, "CidrBlock", "10.1.9.0/28", "AvailabilityZone", n.zone).(*createSubnetResponse).Subnet.SubnetID
	seen := map[string]bool{}
	for i := range 10 {
		ip := n.createENI(t, "alice", "SubnetId", small).PrivateIPAddress
		if seen[ip] {
			t.Fatalf("interface %d: got address %s twice", i, ip)
		}
		seen[ip] = true
	}
	x := n.run(t, "alice", "SubnetId", small)
	if seen[x.PrivateIPAddress] || x.PrivateIPAddress == "" {
		t.Errorf("instance in the subnet: got address %q, want one no interface holds (%v)", x.PrivateIPAddress, seen)
	}
	_, err := n.call(t, "alice", "CreateNetworkInterface", "SubnetId", small)
	if err == nil {
		t.Errorf("a twelfth holder in a subnet of eleven hosts: got no error, want a refusal")
	}
	for ip := range seen {
		_, err := n.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "SubnetId", small, "PrivateIpAddress", ip)
		wantCode(t, err, ec2err.InvalidIPAddressInUse)
	}
}

func TestElasticIPOnOwnInterface(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"198.51.100.10"}
	n := newNetEnv(t, cfg)
	provider := &fakeAddressProvider{}
	n.svc.Addresses = provider
	reconcile(t, n.svc)
	eni1 := n.createENI(t, "alice", "SubnetId", n.sub["alice"])
	eni2 := n.createENI(t, "alice", "SubnetId", n.sub["alice"])
	alloc := n.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse).AllocationID
	address := func() addressItem {
		t.Helper()
		addrs := n.mustCall(t, "alice", "DescribeAddresses", "AllocationId.1", alloc).(*describeAddressesResponse).Addresses
		if len(addrs) != 1 {
			t.Fatalf("DescribeAddresses %s: got %d", alloc, len(addrs))
		}
		return addrs[0]
	}
	_, err := n.call(t, "bob", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni1.NetworkInterfaceID)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)

	assoc := n.mustCall(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni1.NetworkInterfaceID).(*associateAddressResponse).AssociationID
	if got := provider.takeCalls(); !slices.Equal(got, []string{"associate 198.51.100.10 "}) {
		t.Errorf("provider calls: got %q, want one association (no instance)", got)
	}
	if a := address(); a.NetworkInterfaceID != eni1.NetworkInterfaceID || a.PrivateIP != eni1.PrivateIPAddress || a.InstanceID != "" ||
		a.AssociationID != assoc || a.InterfaceOwnerID != n.users["alice"].AccountID {
		t.Errorf("DescribeAddresses: got %+v, want associated with %s (%s), no instance", a, eni1.NetworkInterfaceID, eni1.PrivateIPAddress)
	}
	if again := n.mustCall(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni1.NetworkInterfaceID).(*associateAddressResponse).AssociationID; again != assoc {
		t.Errorf("the same association again: got %s, want %s (idempotent)", again, assoc)
	}
	_, err = n.call(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni2.NetworkInterfaceID)
	wantCode(t, err, ec2err.ResourceAlreadyAssociated)
	n.mustCall(t, "alice", "AssociateAddress", "AllocationId", alloc, "NetworkInterfaceId", eni2.NetworkInterfaceID, "AllowReassociation", "true")
	if a := address(); a.NetworkInterfaceID != eni2.NetworkInterfaceID {
		t.Errorf("after reassociation: got %+v, want it on %s", a, eni2.NetworkInterfaceID)
	}
	if got := n.oneInterface(t, "alice", eni1.NetworkInterfaceID); got.Association != nil {
		t.Errorf("the interface it left: got association %+v, want none", got.Association)
	}

	x := n.run(t, "alice", "SubnetId", n.sub["alice"])
	n.clock.Advance(settle)
	n.mustCall(t, "alice", "AttachNetworkInterface", "NetworkInterfaceId", eni2.NetworkInterfaceID, "InstanceId", x.InstanceID, "DeviceIndex", "1")
	if a := address(); a.InstanceID != x.InstanceID || a.NetworkInterfaceID != eni2.NetworkInterfaceID {
		t.Errorf("address of an attached interface: got %+v, want instance %s through %s", a, x.InstanceID, eni2.NetworkInterfaceID)
	}
	got := n.oneInterface(t, "alice", eni2.NetworkInterfaceID)
	if got.Association == nil || got.Association.PublicIP != "198.51.100.10" || got.Association.AllocationID != alloc {
		t.Errorf("DescribeNetworkInterfaces: got association %+v, want 198.51.100.10 (%s)", got.Association, alloc)
	}
	if inst := n.instance(t, "alice", x.InstanceID); inst.IPAddress != "" || inst.NetworkInterfaces.Items[1].Association == nil {
		t.Errorf("instance: got public IP %q and second interface %+v, want the address on the second interface only", inst.IPAddress, inst.NetworkInterfaces.Items[1])
	}
	n.mustCall(t, "alice", "DetachNetworkInterface", "AttachmentId", got.Attachment.AttachmentID)
	provider.takeCalls()
	n.mustCall(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", eni2.NetworkInterfaceID)
	if got := provider.takeCalls(); !slices.Equal(got, []string{"disassociate 198.51.100.10 "}) {
		t.Errorf("provider calls of the delete: got %q, want the address disassociated", got)
	}
	if a := address(); a.AssociationID != "" || a.NetworkInterfaceID != "" {
		t.Errorf("address of a deleted interface: got %+v, want it unassociated", a)
	}
}

func TestInterfacesRefusedOnTheEC2Backend(t *testing.T) {
	cases := []struct {
		name  string
		allow bool
		says  string
	}{
		{"network creation refused", false, "allow_vpcs"},
		{"no address holder", true, "backend (ec2)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := conf.Default()
			cfg.Backend.Name, cfg.Backend.EC2.AllowVPCs = "ec2", c.allow
			e := newTestEnv(t, cfg)
			for _, call := range [][]string{
				{"CreateNetworkInterface", "SubnetId", store.DefaultSubnetID("alice", cfg.AvailabilityZones[0])},
				{"AttachNetworkInterface", "NetworkInterfaceId", "eni-0123456789abcdef0", "InstanceId", "i-0123456789abcdef0", "DeviceIndex", "1"},
				{"RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.DeleteOnTermination", "false"},
			} {
				_, err := e.call(t, "alice", call[0], call[1:]...)
				if !ec2err.Is(err, ec2err.UnsupportedOperation) || !strings.Contains(err.Error(), c.says) {
					t.Errorf("%s: got %v, want UnsupportedOperation saying %q", call[0], err, c.says)
				}
			}
		})
	}
}

// An instance's own primary interface launched with DeleteOnTermination
// false, or changed to it, outlives the instance as an interface of the
// student's: available, with its address (still in use), MAC, groups,
// description and tags, until the student deletes it.
func TestPrimaryInterfaceKeptOnTermination(t *testing.T) {
	n := newNetEnv(t, nil)
	kept := n.run(t, "alice", "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.SubnetId", n.sub["alice"],
		"NetworkInterface.1.SecurityGroupId.1", n.web["alice"], "NetworkInterface.1.Description", "front",
		"NetworkInterface.1.DeleteOnTermination", "false")
	changed := n.run(t, "alice")
	dropped := n.run(t, "alice", "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.DeleteOnTermination", "true")
	n.clock.Advance(settle)
	keptENI, changedENI, droppedENI := kept.NetworkInterfaces.Items[0], changed.NetworkInterfaces.Items[0], dropped.NetworkInterfaces.Items[0]
	n.mustCall(t, "alice", "ModifyNetworkInterfaceAttribute", "NetworkInterfaceId", changedENI.NetworkInterfaceID,
		"Attachment.AttachmentId", changedENI.Attachment.AttachmentID, "Attachment.DeleteOnTermination", "false")
	for _, eni := range []string{keptENI.NetworkInterfaceID, droppedENI.NetworkInterfaceID} {
		n.mustCall(t, "alice", "CreateTags", "ResourceId.1", eni, "Tag.1.Key", "Name", "Tag.1.Value", "web")
	}
	shown := []struct {
		name      string
		x         instanceXML
		deleteDoT bool
	}{{"launched kept", kept, false}, {"changed to kept", changed, false}, {"deleted", dropped, true}}
	for _, c := range shown {
		item := n.instance(t, "alice", c.x.InstanceID).NetworkInterfaces.Items[0]
		listed := n.oneInterface(t, "alice", item.NetworkInterfaceID)
		if item.Attachment.DeleteOnTermination != c.deleteDoT || listed.Attachment == nil || listed.Attachment.DeleteOnTermination != c.deleteDoT {
			t.Errorf("%s: got deleteOnTermination %v in the instance, %+v in DescribeNetworkInterfaces, want %v", c.name, item.Attachment.DeleteOnTermination, listed.Attachment, c.deleteDoT)
		}
	}
	if got := n.interfaces(t, "alice", "Filter.1.Name", "attachment.delete-on-termination", "Filter.1.Value.1", "false"); len(got) != 2 {
		t.Errorf("attachment.delete-on-termination=false: got %d interfaces, want the two kept", len(got))
	}

	for _, x := range []instanceXML{kept, changed, dropped} {
		n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", x.InstanceID)
	}
	n.clock.Advance(settle)
	describe(t, n.testEnv, "alice") // records the terminations
	got := n.oneInterface(t, "alice", keptENI.NetworkInterfaceID)
	if got.Status != "available" || got.Attachment != nil || got.PrivateIPAddress != kept.PrivateIPAddress || got.MacAddress != keptENI.MacAddress ||
		got.SubnetID != n.sub["alice"] || got.Description != "front" || len(got.Groups) != 1 || got.Groups[0].GroupID != n.web["alice"] ||
		len(got.Tags) != 1 || got.Tags[0].Value != "web" {
		t.Errorf("the kept interface after its instance: got %+v, want it available, with %s, its MAC, subnet, group, description and tag", got, kept.PrivateIPAddress)
	}
	n.oneInterface(t, "alice", changedENI.NetworkInterfaceID)
	_, err := n.call(t, "alice", "DescribeNetworkInterfaces", "NetworkInterfaceId.1", droppedENI.NetworkInterfaceID)
	wantCode(t, err, ec2err.InvalidNetworkInterfaceIDNotFound)
	if tags := n.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-id", "Filter.1.Value.1", droppedENI.NetworkInterfaceID).(*describeTagsResponse).Tags; len(tags) != 0 {
		t.Errorf("tags of the interface deleted with its instance: got %+v, want none", tags)
	}

	// The kept interface holds its address until it is deleted, and can
	// carry a new instance.
	_, err = n.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "SubnetId", n.sub["alice"], "PrivateIpAddress", kept.PrivateIPAddress)
	wantCode(t, err, ec2err.InvalidIPAddressInUse)
	again := n.run(t, "alice", "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.NetworkInterfaceId", keptENI.NetworkInterfaceID)
	if again.PrivateIPAddress != kept.PrivateIPAddress {
		t.Errorf("a launch on the kept interface: got address %s, want %s", again.PrivateIPAddress, kept.PrivateIPAddress)
	}
	n.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", again.InstanceID)
	n.clock.Advance(settle)
	describe(t, n.testEnv, "alice")
	n.mustCall(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", keptENI.NetworkInterfaceID)
	if x := n.run(t, "alice", "SubnetId", n.sub["alice"], "PrivateIpAddress", kept.PrivateIPAddress); x.PrivateIPAddress != kept.PrivateIPAddress {
		t.Errorf("the deleted interface's address: got %s, want it free for a launch", x.PrivateIPAddress)
	}
}

// An interface that will outlive its instance counts against the
// student's interface limit from the launch on.
func TestKeptInterfaceWithinQuota(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxNetworkInterfaces = quota.Int(1)
	n := newNetEnv(t, cfg)
	n.createENI(t, "alice", "SubnetId", n.sub["alice"])
	keep := []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.DeleteOnTermination", "false"}
	_, err := n.call(t, "alice", "RunInstances", keep...)
	wantCode(t, err, ec2err.NetworkInterfaceLimitExceeded)
	n.run(t, "alice") // its interface goes with it: not counted
	n.run(t, "bob", keep[4:]...)
}

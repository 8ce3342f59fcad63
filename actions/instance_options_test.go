package actions

import (
	"encoding/xml"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/econe/econe-server/ec2err"
)

// RunInstances' options are stored and shown back by DescribeInstances,
// DescribeInstanceAttribute and DescribeInstanceCreditSpecifications.
func TestLaunchOptionsShownBack(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice", "InstanceType", "t3.micro", "EbsOptimized", "true", "Monitoring.Enabled", "true",
		"HibernationOptions.Configured", "true", "DisableApiStop", "true", "CreditSpecification.CpuCredits", "standard",
		"MetadataOptions.HttpTokens", "required", "MetadataOptions.HttpPutResponseHopLimit", "2",
		"MetadataOptions.HttpEndpoint", "enabled", "MetadataOptions.InstanceMetadataTags", "enabled")[0]
	x := describe(t, e, "alice", "InstanceId.1", id)[0]
	checks := []struct{ name, got, want string }{
		{"ebsOptimized", b(x.EbsOptimized), "true"},
		{"monitoring", x.Monitoring.State, "enabled"},
		{"hibernationOptions", b(x.Hibernation.Configured), "true"},
		{"metadataOptions.httpTokens", x.Metadata.HTTPTokens, "required"},
		{"metadataOptions.httpPutResponseHopLimit", strconv.Itoa(x.Metadata.HopLimit), "2"},
		{"metadataOptions.instanceMetadataTags", x.Metadata.Tags, "enabled"},
		{"metadataOptions.httpProtocolIpv6", x.Metadata.ProtocolIPv6, "disabled"},
		{"metadataOptions.state", x.Metadata.State, "applied"},
		{"sourceDestCheck", b(*x.SourceDestCheck), "true"},
		{"disableApiStop attribute", b(e.mustCall(t, "alice", "DescribeInstanceAttribute", "InstanceId", id, "Attribute", "disableApiStop").(*instanceAttributeResponse).DisableAPIStop.Value), "true"},
		{"ebsOptimized attribute", b(e.mustCall(t, "alice", "DescribeInstanceAttribute", "InstanceId", id, "Attribute", "ebsOptimized").(*instanceAttributeResponse).EbsOptimized.Value), "true"},
		{"cpu credits", e.mustCall(t, "alice", "DescribeInstanceCreditSpecifications", "InstanceId.1", id).(*describeCreditsResponse).Items[0].CPUCredits, "standard"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
	// Defaults: what EC2 gives an instance launched without options.
	d := describe(t, e, "alice", "InstanceId.1", launch(t, e, "alice")[0])[0]
	if d.EbsOptimized || d.Monitoring.State != "disabled" || d.Metadata.HTTPTokens != "optional" || d.Metadata.HopLimit != 1 || d.Metadata.HTTPEndpoint != "enabled" {
		t.Errorf("defaults: got ebsOptimized %t, monitoring %s, metadata %+v; want false, disabled, optional/1/enabled", d.EbsOptimized, d.Monitoring.State, *d.Metadata)
	}
}

func b(v bool) string { return map[bool]string{true: "true", false: "false"}[v] }

func TestLaunchOptionErrors(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	tests := []struct {
		name string
		kv   []string
		want string
	}{
		{"tokens", []string{"MetadataOptions.HttpTokens", "sometimes"}, ec2err.InvalidParameterValue},
		{"endpoint", []string{"MetadataOptions.HttpEndpoint", "on"}, ec2err.InvalidParameterValue},
		{"tags", []string{"MetadataOptions.InstanceMetadataTags", "yes"}, ec2err.InvalidParameterValue},
		{"hop limit 0", []string{"MetadataOptions.HttpPutResponseHopLimit", "0"}, ec2err.InvalidParameterValue},
		{"hop limit 65", []string{"MetadataOptions.HttpPutResponseHopLimit", "65"}, ec2err.InvalidParameterValue},
		{"credits", []string{"InstanceType", "t3.micro", "CreditSpecification.CpuCredits", "infinite"}, ec2err.InvalidParameterValue},
		{"unlimited on m1.small", []string{"InstanceType", "m1.small", "CreditSpecification.CpuCredits", "unlimited"}, ec2err.CreditsNotSupported},
		{"monitoring", []string{"Monitoring.Enabled", "maybe"}, ec2err.InvalidParameterValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", "RunInstances", withDefaults(tt.kv, "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")...)
			wantCode(t, err, tt.want)
		})
	}
	// Standard credits on a type without credits is accepted, as on EC2.
	launch(t, e, "alice", "InstanceType", "m1.small", "CreditSpecification.CpuCredits", "standard")
}

// Every attribute of botocore's InstanceAttributeName is answered, in its
// own element.
func TestDescribeEveryInstanceAttribute(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	elements := map[string]string{"instanceType": "instanceType", "kernel": "kernel", "ramdisk": "ramdisk", "userData": "userData",
		"disableApiTermination": "disableApiTermination", "instanceInitiatedShutdownBehavior": "instanceInitiatedShutdownBehavior",
		"rootDeviceName": "rootDeviceName", "blockDeviceMapping": "blockDeviceMapping", "productCodes": "productCodes",
		"sourceDestCheck": "sourceDestCheck", "groupSet": "groupSet", "ebsOptimized": "ebsOptimized", "sriovNetSupport": "sriovNetSupport",
		"enaSupport": "enaSupport", "enclaveOptions": "enclaveOptions", "disableApiStop": "disableApiStop"}
	if len(elements) != len(instanceAttributes) {
		t.Fatalf("got %d attributes listed, want the model's %d", len(instanceAttributes), len(elements))
	}
	for _, name := range instanceAttributes {
		t.Run(name, func(t *testing.T) {
			resp, err := e.call(t, "alice", "DescribeInstanceAttribute", "InstanceId", id, "Attribute", name)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := xml.Marshal(resp)
			if got := strings.Count(string(out), "<"+elements[name]+">"); got != 1 {
				t.Errorf("got %d <%s> elements in %s, want 1", got, elements[name], out)
			}
		})
	}
	for _, bad := range []string{"Kernel", "RamDisk", "userdata", "abc"} {
		_, err := e.call(t, "alice", "DescribeInstanceAttribute", "InstanceId", id, "Attribute", bad)
		if !ec2err.Is(err, ec2err.InvalidParameterValue) || !strings.Contains(err.Error(), "Value ("+bad+") for parameter attribute is invalid. Unknown attribute.") {
			t.Errorf("attribute %s: got %v, want EC2's InvalidParameterValue Unknown attribute", bad, err)
		}
	}
}

// ModifyInstanceAttribute: each attribute EC2 changes, in both forms, with
// the state it needs, shown back by DescribeInstanceAttribute.
func TestModifyInstanceAttributes(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	sg1, sg2 := e.createGroup(t, "alice", "web"), e.createGroup(t, "alice", "db")
	bobs := e.createGroup(t, "bob", "web")
	running := launch(t, e, "alice")[0]
	stopped := launch(t, e, "alice")[0]
	clock.Advance(settle)
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", stopped)
	clock.Advance(settle)
	attr := func(id, name string) string {
		out, _ := xml.Marshal(e.mustCall(t, "alice", "DescribeInstanceAttribute", "InstanceId", id, "Attribute", name))
		s := string(out)
		return s[strings.Index(s, "<"+name+">"):]
	}
	tests := []struct {
		name, id string
		kv       []string
		attr     string
		want     string // in the attribute's XML
		err      string
	}{
		{"sourceDestCheck off", running, []string{"SourceDestCheck.Value", "false"}, "sourceDestCheck", "<value>false</value>", ""},
		{"sourceDestCheck by Attribute", running, []string{"Attribute", "sourceDestCheck", "Value", "true"}, "sourceDestCheck", "<value>true</value>", ""},
		{"disableApiStop", running, []string{"DisableApiStop.Value", "true"}, "disableApiStop", "<value>true</value>", ""},
		{"groups", running, []string{"GroupId.1", sg1, "GroupId.2", sg2}, "groupSet", "<groupId>" + sg2 + "</groupId><groupName>db</groupName>", ""},
		{"groups by Attribute", running, []string{"Attribute", "groupSet", "Value", sg1}, "groupSet", "<groupSet><item><groupId>" + sg1 + "</groupId><groupName>web</groupName></item></groupSet>", ""},
		{"kernel stopped", stopped, []string{"Kernel.Value", "aki-12345678"}, "kernel", "<kernel><value>aki-12345678</value></kernel>", ""},
		{"ramdisk stopped", stopped, []string{"Attribute", "ramdisk", "Value", "ari-12345678"}, "ramdisk", "<ramdisk><value>ari-12345678</value></ramdisk>", ""},
		{"ebsOptimized stopped", stopped, []string{"EbsOptimized.Value", "true"}, "ebsOptimized", "<value>true</value>", ""},
		{"kernel running", running, []string{"Kernel.Value", "aki-12345678"}, "", "", ec2err.IncorrectInstanceState},
		{"ebsOptimized running", running, []string{"EbsOptimized.Value", "true"}, "", "", ec2err.IncorrectInstanceState},
		{"another student's group", running, []string{"GroupId.1", bobs}, "", "", ec2err.InvalidGroupNotFound},
		{"malformed group", running, []string{"GroupId.1", "web"}, "", "", ec2err.InvalidGroupIDMalformed},
		{"empty kernel", stopped, []string{"Kernel.Value", ""}, "", "", ec2err.MissingParameter},
		{"not modifiable", running, []string{"Attribute", "rootDeviceName", "Value", "/dev/sdz"}, "", "", ec2err.InvalidParameterValue},
		{"unknown", running, []string{"Attribute", "colour", "Value", "red"}, "", "", ec2err.InvalidParameterValue},
		{"bad bool", running, []string{"SourceDestCheck.Value", "perhaps"}, "", "", ec2err.InvalidParameterValue},
		{"no value", running, []string{"Attribute", "sourceDestCheck"}, "", "", ec2err.MissingParameter},
		{"sriov", running, []string{"SriovNetSupport.Value", "simple"}, "", "", ec2err.UnsupportedOperation},
		{"no such device", running, []string{"BlockDeviceMapping.1.DeviceName", "/dev/sdq", "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "false"}, "", "", ec2err.InvalidInstanceAttributeValue},
		{"mapping without the setting", running, []string{"BlockDeviceMapping.1.DeviceName", "/dev/xvda"}, "", "", ec2err.MissingParameter},
		{"dry run", running, []string{"SourceDestCheck.Value", "false", "DryRun", "true"}, "", "", ec2err.DryRunOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", "ModifyInstanceAttribute", append([]string{"InstanceId", tt.id}, tt.kv...)...)
			if tt.err != "" {
				wantCode(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := attr(tt.id, tt.attr); !strings.Contains(got, tt.want) {
				t.Errorf("got %s, want it to contain %s", got, tt.want)
			}
		})
	}
	// The dry run changed nothing; stop protection stops StopInstances.
	if got := attr(running, "sourceDestCheck"); !strings.Contains(got, "<value>true</value>") {
		t.Errorf("after a dry run: got %s, want sourceDestCheck still true", got)
	}
	if x := describe(t, e, "alice", "InstanceId.1", running)[0]; len(x.Groups.Items) != 1 || x.Groups.Items[0].GroupID != sg1 {
		t.Errorf("DescribeInstances groups: got %+v, want only %s", x.Groups.Items, sg1)
	}
	_, err := e.call(t, "alice", "StopInstances", "InstanceId.1", running)
	wantCode(t, err, ec2err.OperationNotPermitted)
	// Another student's instance is not found; a terminated one changes no more.
	_, err = e.call(t, "bob", "ModifyInstanceAttribute", "InstanceId", running, "SourceDestCheck.Value", "false")
	wantCode(t, err, ec2err.InvalidInstanceIDNotFound)
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", stopped)
	_, err = e.call(t, "alice", "ModifyInstanceAttribute", "InstanceId", stopped, "DisableApiTermination.Value", "true")
	wantCode(t, err, ec2err.IncorrectInstanceState)
}

// Ansible's ec2_vol sends ModifyInstanceAttribute with
// BlockDeviceMapping.N.Ebs.DeleteOnTermination: the volume's attachment
// takes it, and terminating the instance deletes (or keeps) the volume.
func TestModifyDeleteOnTerminationThenTerminate(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice", "BlockDeviceMapping.1.DeviceName", "/dev/sdf", "BlockDeviceMapping.1.Ebs.VolumeSize", "1",
		"BlockDeviceMapping.1.Ebs.DeleteOnTermination", "false")[0]
	clock.Advance(settle)
	devices := map[string]string{}
	for _, bd := range describe(t, e, "alice", "InstanceId.1", id)[0].BlockDevices {
		devices[bd.DeviceName] = bd.Ebs.VolumeID
	}
	e.mustCall(t, "alice", "ModifyInstanceAttribute", "InstanceId", id,
		"BlockDeviceMapping.1.DeviceName", "/dev/sdf", "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true",
		"BlockDeviceMapping.2.DeviceName", "/dev/xvda", "BlockDeviceMapping.2.Ebs.DeleteOnTermination", "false")
	got := map[string]bool{}
	for _, bd := range e.mustCall(t, "alice", "DescribeInstanceAttribute", "InstanceId", id, "Attribute", "blockDeviceMapping").(*instanceAttributeResponse).BlockDevices.Items {
		got[bd.DeviceName] = bd.Ebs.DeleteOnTermination
	}
	if !got["/dev/sdf"] || got["/dev/xvda"] {
		t.Errorf("deleteOnTermination: got %v, want /dev/sdf true, /dev/xvda false", got)
	}
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", id)
	clock.Advance(settle)
	left := map[string]bool{}
	for _, v := range e.mustCall(t, "alice", "DescribeVolumes").(*describeVolumesResponse).Volumes {
		left[v.VolumeID] = true
	}
	if left[devices["/dev/sdf"]] || !left[devices["/dev/xvda"]] {
		t.Errorf("after terminate: got volumes %v, want /dev/sdf's %s deleted and /dev/xvda's %s kept", left, devices["/dev/sdf"], devices["/dev/xvda"])
	}
}

func TestModifyInstanceMetadataOptions(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	resp := e.mustCall(t, "alice", "ModifyInstanceMetadataOptions", "InstanceId", id, "HttpTokens", "required", "HttpPutResponseHopLimit", "3").(*modifyMetadataResponse)
	if resp.Options.HTTPTokens != "required" || resp.Options.HopLimit != 3 || resp.Options.State != "pending" {
		t.Errorf("answer: got %+v, want required, 3, pending", *resp.Options)
	}
	e.mustCall(t, "alice", "ModifyInstanceMetadataOptions", "InstanceId", id, "InstanceMetadataTags", "enabled")
	if m := describe(t, e, "alice", "InstanceId.1", id)[0].Metadata; m.HTTPTokens != "required" || m.HopLimit != 3 || m.Tags != "enabled" || m.State != "applied" {
		t.Errorf("described: got %+v, want required, 3, tags enabled, applied (one change keeps the others)", *m)
	}
	tests := []struct {
		name, user string
		kv         []string
		want       string
	}{
		{"tokens", "alice", []string{"InstanceId", id, "HttpTokens", "always"}, ec2err.InvalidParameterValue},
		{"hops", "alice", []string{"InstanceId", id, "HttpPutResponseHopLimit", "100"}, ec2err.InvalidParameterValue},
		{"ipv6", "alice", []string{"InstanceId", id, "HttpProtocolIpv6", "sure"}, ec2err.InvalidParameterValue},
		{"no instance", "alice", []string{"HttpTokens", "required"}, ec2err.MissingParameter},
		{"another student's", "bob", []string{"InstanceId", id, "HttpTokens", "optional"}, ec2err.InvalidInstanceIDNotFound},
		{"dry run", "alice", []string{"InstanceId", id, "HttpTokens", "optional", "DryRun", "true"}, ec2err.DryRunOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, tt.user, "ModifyInstanceMetadataOptions", tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
}

func TestInstanceCreditSpecifications(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	t2 := launch(t, e, "alice", "InstanceType", "t2.micro")[0]
	t3 := launch(t, e, "alice", "InstanceType", "t3.micro")[0]
	m1 := launch(t, e, "alice", "InstanceType", "m1.small")[0]
	credits := func(user string, kv ...string) map[string]string {
		out := map[string]string{}
		for _, it := range e.mustCall(t, user, "DescribeInstanceCreditSpecifications", kv...).(*describeCreditsResponse).Items {
			out[it.InstanceID] = it.CPUCredits
		}
		return out
	}
	// Without ids: the unlimited ones (t3's default); by id: any type.
	if got := credits("alice"); len(got) != 1 || got[t3] != "unlimited" {
		t.Errorf("without ids: got %v, want only %s unlimited", got, t3)
	}
	if got := credits("alice", "InstanceId.1", t2, "InstanceId.2", m1); got[t2] != "standard" || got[m1] != "standard" {
		t.Errorf("by id: got %v, want t2 and m1 standard", got)
	}
	if got := credits("bob"); len(got) != 0 {
		t.Errorf("bob: got %v, want none of alice's", got)
	}
	resp := e.mustCall(t, "alice", "ModifyInstanceCreditSpecification",
		"InstanceCreditSpecification.1.InstanceId", t2, "InstanceCreditSpecification.1.CpuCredits", "unlimited",
		"InstanceCreditSpecification.2.InstanceId", m1, "InstanceCreditSpecification.2.CpuCredits", "unlimited",
		"InstanceCreditSpecification.3.InstanceId", "i-0123456789abcdef0", "InstanceCreditSpecification.3.CpuCredits", "unlimited",
		"InstanceCreditSpecification.4.InstanceId", "i-nothex", "InstanceCreditSpecification.4.CpuCredits", "unlimited",
	).(*modifyCreditsResponse)
	failed := map[string]string{}
	for _, f := range resp.Unsuccessful {
		failed[f.InstanceID] = f.Error.Code
	}
	if len(resp.Successful) != 1 || resp.Successful[0].InstanceID != t2 {
		t.Errorf("successful: got %+v, want only %s", resp.Successful, t2)
	}
	wantFailed := map[string]string{m1: ec2err.CreditsNotSupported, "i-0123456789abcdef0": ec2err.InvalidInstanceIDNotFound, "i-nothex": ec2err.InvalidInstanceIDMalformed}
	for id, code := range wantFailed {
		if failed[id] != code {
			t.Errorf("unsuccessful %s: got %q, want %s", id, failed[id], code)
		}
	}
	if got := credits("alice"); got[t2] != "unlimited" {
		t.Errorf("after modify: got %v, want %s unlimited", got, t2)
	}
	// Bob cannot change alice's instance: it is not found for him.
	resp = e.mustCall(t, "bob", "ModifyInstanceCreditSpecification", "InstanceCreditSpecification.1.InstanceId", t3, "InstanceCreditSpecification.1.CpuCredits", "standard").(*modifyCreditsResponse)
	if len(resp.Unsuccessful) != 1 || resp.Unsuccessful[0].Error.Code != ec2err.InvalidInstanceIDNotFound {
		t.Errorf("bob on alice's: got %+v, want InvalidInstanceID.NotFound", resp.Unsuccessful)
	}
	_, err := e.call(t, "alice", "ModifyInstanceCreditSpecification", "InstanceCreditSpecification.1.InstanceId", t3, "InstanceCreditSpecification.1.CpuCredits", "lots")
	wantCode(t, err, ec2err.InvalidParameterValue)
	_, err = e.call(t, "alice", "ModifyInstanceCreditSpecification")
	wantCode(t, err, ec2err.MissingParameter)
	// As botocore's model says: MaxResults and instance ids not together.
	_, err = e.call(t, "alice", "DescribeInstanceCreditSpecifications", "InstanceId.1", t2, "MaxResults", "5")
	wantCode(t, err, ec2err.InvalidParameterCombination)
}

func TestMonitorInstances(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	resp := e.mustCall(t, "alice", "MonitorInstances", "InstanceId.1", id).(*monitorInstancesResponse)
	if len(resp.Items) != 1 || resp.Items[0].Monitoring.State != "pending" {
		t.Errorf("monitor: got %+v, want pending", resp.Items)
	}
	if got := describe(t, e, "alice", "InstanceId.1", id)[0].Monitoring.State; got != "enabled" {
		t.Errorf("after monitor: got %s, want enabled", got)
	}
	resp = e.mustCall(t, "alice", "UnmonitorInstances", "InstanceId.1", id).(*monitorInstancesResponse)
	if len(resp.Items) != 1 || resp.Items[0].Monitoring.State != "disabling" {
		t.Errorf("unmonitor: got %+v, want disabling", resp.Items)
	}
	if got := describe(t, e, "alice", "InstanceId.1", id)[0].Monitoring.State; got != "disabled" {
		t.Errorf("after unmonitor: got %s, want disabled", got)
	}
	_, err := e.call(t, "bob", "MonitorInstances", "InstanceId.1", id)
	wantCode(t, err, ec2err.InvalidInstanceIDNotFound)
	_, err = e.call(t, "alice", "MonitorInstances")
	wantCode(t, err, ec2err.MissingParameter)
}

// A backend without the InstanceSettings ability (the ec2 backend today)
// refuses every setting the cloud would have to enforce, and keeps those
// econe-server enforces itself.
func TestSettingsRefusedWithoutTheAbility(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	e.svc.Backend.Settings = nil
	tests := []struct {
		name, action string
		kv           []string
	}{
		{"launch with monitoring", "RunInstances", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "Monitoring.Enabled", "true"}},
		{"metadata options", "ModifyInstanceMetadataOptions", []string{"InstanceId", id, "HttpTokens", "required"}},
		{"source/dest check", "ModifyInstanceAttribute", []string{"InstanceId", id, "SourceDestCheck.Value", "false"}},
		{"groups", "ModifyInstanceAttribute", []string{"InstanceId", id, "GroupId.1", e.createGroup(t, "alice", "web")}},
		{"monitoring", "MonitorInstances", []string{"InstanceId.1", id}},
		{"credits", "ModifyInstanceCreditSpecification", []string{"InstanceCreditSpecification.1.InstanceId", id, "InstanceCreditSpecification.1.CpuCredits", "standard"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", tt.action, tt.kv...)
			wantCode(t, err, ec2err.UnsupportedOperation)
		})
	}
	e.mustCall(t, "alice", "ModifyInstanceAttribute", "InstanceId", id, "DisableApiStop.Value", "true")
	// Asking for what EC2 gives anyway, or for protection, is no setting of the cloud's.
	launch(t, e, "alice", "DisableApiTermination", "true", "DisableApiStop", "true", "MetadataOptions.HttpTokens", "optional",
		"MetadataOptions.HttpPutResponseHopLimit", "1", "Monitoring.Enabled", "false", "InstanceType", "t3.micro", "CreditSpecification.CpuCredits", "unlimited")
}

func TestDescribeInstanceTypeOfferings(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	offers := func(kv ...string) []string {
		var out []string
		for _, o := range e.mustCall(t, "alice", "DescribeInstanceTypeOfferings", kv...).(*describeInstanceTypeOfferingsResponse).Offerings {
			out = append(out, o.LocationType+":"+o.Location+":"+o.InstanceType)
		}
		return out
	}
	zones := e.svc.zones()
	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{"region, one type", []string{"Filter.1.Name", "instance-type", "Filter.1.Value.1", "t3.micro"}, []string{"region:us-east-1:t3.micro"}},
		{"zones", []string{"LocationType", "availability-zone", "Filter.1.Name", "instance-type", "Filter.1.Value.1", "m5.large", "Filter.2.Name", "location", "Filter.2.Value.1", zones[0].ZoneName},
			[]string{"availability-zone:" + zones[0].ZoneName + ":m5.large"}},
		{"zone ids", []string{"LocationType", "availability-zone-id", "Filter.1.Name", "instance-type", "Filter.1.Value.1", "t4g.*"},
			func() (out []string) {
				for _, z := range zones {
					out = append(out, "availability-zone-id:"+z.ZoneID+":t4g.micro")
				}
				return out
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := offers(tt.kv...); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if got, want := len(offers()), len(e.svc.catalog().InstanceTypes()); got != want {
		t.Errorf("region offerings: got %d, want one per type (%d)", got, want)
	}
	for name, kv := range map[string][]string{
		"location type": {"LocationType", "galaxy"},
		"filter":        {"Filter.1.Name", "vcpu", "Filter.1.Value.1", "2"},
		"max results":   {"MaxResults", "2"},
	} {
		_, err := e.call(t, "alice", "DescribeInstanceTypeOfferings", kv...)
		if !ec2err.Is(err, ec2err.InvalidParameterValue) && !ec2err.Is(err, ec2err.InvalidFilter) {
			t.Errorf("%s: got %v, want InvalidParameterValue or InvalidFilter", name, err)
		}
	}
}

// DescribeInstances filters on the options.
func TestDescribeInstancesFiltersOnOptions(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	watched := launch(t, e, "alice", "Monitoring.Enabled", "true", "MetadataOptions.HttpTokens", "required")[0]
	plain := launch(t, e, "alice")[0]
	e.mustCall(t, "alice", "ModifyInstanceAttribute", "InstanceId", plain, "SourceDestCheck.Value", "false")
	tests := []struct{ filter, value, want string }{
		{"monitoring-state", "enabled", watched},
		{"monitoring-state", "disabled", plain},
		{"metadata-options.http-tokens", "required", watched},
		{"metadata-options.http-put-response-hop-limit", "1", watched + " " + plain},
		{"source-dest-check", "false", plain},
		{"hibernation-options.configured", "true", ""},
	}
	for _, tt := range tests {
		t.Run(tt.filter+"="+tt.value, func(t *testing.T) {
			var got []string
			for _, x := range describe(t, e, "alice", "Filter.1.Name", tt.filter, "Filter.1.Value.1", tt.value) {
				got = append(got, x.InstanceID)
			}
			want := strings.Fields(tt.want)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

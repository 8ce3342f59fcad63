package actions

import (
	"fmt"
	"strings"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
)

// rulesText renders a group's rules by id, in id order:
// "sgr-…: in tcp 22-22 10.0.0.0/8 (desc) [k=v]".
func (e *testEnv) rulesText(t *testing.T, user, groupID string) map[string]string {
	t.Helper()
	rules := e.mustCall(t, user, "DescribeSecurityGroupRules", "Filter.1.Name", "group-id", "Filter.1.Value.1", groupID).(*describeSecurityGroupRulesResponse).Rules
	out := map[string]string{}
	for _, r := range rules {
		dir := "in"
		if r.IsEgress {
			dir = "out"
		}
		peer := r.CIDRv4 + r.CIDRv6 + r.PrefixList
		if r.Referenced != nil {
			peer = "group:" + r.Referenced.GroupID + "/" + r.Referenced.UserID
		}
		s := fmt.Sprintf("%s %s %d-%d %s", dir, r.IPProtocol, r.FromPort, r.ToPort, peer)
		if r.Description != "" {
			s += " (" + r.Description + ")"
		}
		for _, tag := range r.Tags {
			s += " [" + tag.Key + "=" + tag.Value + "]"
		}
		out[r.ID] = s
	}
	return out
}

// authorizeOne authorizes one rule and returns its id.
func (e *testEnv) authorizeOne(t *testing.T, user, action, groupID string, kv ...string) string {
	t.Helper()
	resp := e.mustCall(t, user, action, append([]string{"GroupId", groupID}, kv...)...).(*authorizeResponse)
	if len(resp.Rules.Items) != 1 {
		t.Fatalf("got %d rules, want 1", len(resp.Rules.Items))
	}
	return resp.Rules.Items[0].ID
}

// tcpFrom is one IpPermissions.1 rule for tcp port from cidr.
func tcpFrom(port int, cidr string) []string {
	p := fmt.Sprint(port)
	return []string{"IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", p, "IpPermissions.1.ToPort", p, "IpPermissions.1.IpRanges.1.CidrIp", cidr}
}

// modify builds ModifySecurityGroupRules' parameters: GroupId, then each
// rule as its id and SecurityGroupRule fields (name, value, …).
func modify(groupID string, rules ...[]string) []string {
	kv := []string{"GroupId", groupID}
	for i, r := range rules {
		n := fmt.Sprintf("SecurityGroupRule.%d.", i+1)
		kv = append(kv, n+"SecurityGroupRuleId", r[0])
		for j := 1; j+1 < len(r); j += 2 {
			kv = append(kv, n+"SecurityGroupRule."+r[j], r[j+1])
		}
	}
	return kv
}

func TestModifySecurityGroupRules(t *testing.T) {
	e := newTestEnv(t, nil)
	web := e.createGroup(t, "alice", "web")
	other := e.createGroup(t, "alice", "other")
	ssh := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, tcpFrom(22, "10.0.0.0/8")...)
	http := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, tcpFrom(80, "10.0.0.0/8")...)
	out := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupEgress", web, tcpFrom(443, "192.0.2.0/24")...)
	otherRule := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", other, tcpFrom(22, "10.0.0.0/8")...)
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", ssh, "Tag.1.Key", "role", "Tag.1.Value", "admin")
	bobs := e.createGroup(t, "bob", "bobs")
	bobRule := e.authorizeOne(t, "bob", "AuthorizeSecurityGroupIngress", bobs, tcpFrom(22, "10.0.0.0/8")...)
	udp := func(id string) []string {
		return []string{id, "IpProtocol", "udp", "FromPort", "53", "ToPort", "53", "CidrIpv4", "192.0.2.0/24"}
	}

	errs := []struct {
		name string
		kv   []string
		code string
		msg  string
	}{
		{"group that does not exist", modify("sg-00000000", udp(ssh)), ec2err.InvalidGroupNotFound, "The security group 'sg-00000000' does not exist"},
		{"classmate's group", modify(bobs, udp(bobRule)), ec2err.InvalidGroupNotFound, ""},
		{"malformed group id", modify("web", udp(ssh)), ec2err.InvalidGroupIDMalformed, ""},
		{"no group", modify("", udp(ssh))[2:], ec2err.MissingParameter, ""},
		{"no rule", modify(web), ec2err.MissingParameter, ""},
		{"rule that does not exist", modify(web, udp("sgr-00000000")), ec2err.InvalidSecurityGroupRuleIDNF, "The security group rule ID 'sgr-00000000' does not exist"},
		{"rule of another of her groups", modify(web, udp(otherRule)), ec2err.InvalidSecurityGroupRuleIDNF, ""},
		{"classmate's rule", modify(web, udp(bobRule)), ec2err.InvalidSecurityGroupRuleIDNF, ""},
		{"malformed rule id", modify(web, udp("rule-1")), ec2err.InvalidSecurityGroupRuleIDMalformed, "The security group rule ID 'rule-1' is malformed"},
		{"no protocol", modify(web, []string{ssh, "FromPort", "1", "ToPort", "2", "CidrIpv4", "10.0.0.0/8"}), ec2err.InvalidParameterValue,
			"Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly."},
		{"one port only", modify(web, []string{ssh, "IpProtocol", "udp", "ToPort", "2", "CidrIpv4", "10.0.0.0/8"}), ec2err.InvalidParameterValue,
			"Invalid value for portRange. Must specify both from and to ports with TCP/UDP."},
		{"no peer", modify(web, []string{ssh, "IpProtocol", "udp", "FromPort", "1", "ToPort", "2"}), ec2err.MissingParameter,
			"The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or referencedGroupId"},
		{"two peers", modify(web, []string{ssh, "IpProtocol", "udp", "FromPort", "1", "ToPort", "2", "CidrIpv4", "10.0.0.0/8", "CidrIpv6", "2001:db8::/32"}),
			ec2err.InvalidParameterCombination, "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified"},
		{"bad cidr", modify(web, []string{ssh, "IpProtocol", "-1", "CidrIpv4", "10.0.0.1/8"}), ec2err.InvalidParameterValue, ""},
		{"ipv4 rule made ipv6", modify(web, []string{ssh, "IpProtocol", "-1", "CidrIpv6", "2001:db8::/32"}), ec2err.InvalidParameterValue, ""},
		{"classmate's group as peer", modify(web, []string{ssh, "IpProtocol", "-1", "ReferencedGroupId", bobs}), ec2err.InvalidGroupNotFound, ""},
		{"same as another rule", modify(web, []string{ssh, "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIpv4", "10.0.0.0/8"}),
			ec2err.InvalidPermissionDuplicate, ""},
		{"two rules made the same", modify(web, udp(ssh), udp(http)), ec2err.InvalidPermissionDuplicate, ""},
		{"one rule twice", modify(web, udp(ssh), udp(ssh)), ec2err.InvalidParameterValue, ""},
		{"dry run", append(modify(web, udp(ssh)), "DryRun", "true"), ec2err.DryRunOperation, ""},
	}
	before := e.rulesText(t, "alice", web)
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, "alice", "ModifySecurityGroupRules", c.kv...)
			wantCode(t, err, c.code)
			if c.msg != "" && (err == nil || ec2err.As(err).Message != c.msg) {
				t.Errorf("got message %v, want %q", err, c.msg)
			}
		})
	}
	if got := e.rulesText(t, "alice", web); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("failed requests changed the rules: got %v, want %v", got, before)
	}

	// Ingress and egress in one request; ids and tags stay; the rule may
	// take the permission another rule of the request gives up.
	e.mustCall(t, "alice", "ModifySecurityGroupRules", modify(web,
		[]string{ssh, "IpProtocol", "udp", "FromPort", "53", "ToPort", "53", "CidrIpv4", "192.0.2.0/24", "Description", "dns"},
		[]string{http, "IpProtocol", "tcp", "FromPort", "22", "ToPort", "22", "ReferencedGroupId", other},
		[]string{out, "IpProtocol", "udp", "FromPort", "1", "ToPort", "2", "CidrIpv4", "0.0.0.0/0", "Description", "out"})...)
	got := e.rulesText(t, "alice", web)
	want := map[string]string{
		ssh:  "in udp 53-53 192.0.2.0/24 (dns) [role=admin]",
		http: "in tcp 22-22 group:" + other + "/111111111111",
		out:  "out udp 1-2 0.0.0.0/0 (out)",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("rule %s: got %q, want %q", id, got[id], w)
		}
	}
	// ssh's old permission is free again.
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", append([]string{"GroupId", web}, tcpFrom(22, "10.0.0.0/8")...)...)
	if got := e.rulesText(t, "bob", bobs)[bobRule]; got != "in tcp 22-22 10.0.0.0/8" {
		t.Errorf("bob's rule: got %q, want it unchanged", got)
	}
}

// With a backend that holds the groups a rule's traffic cannot change in
// place (the backend would revoke and authorize); its description can.
func TestModifySecurityGroupRulesWithGroupsBackend(t *testing.T) {
	e := newTestEnv(t, nil)
	gb := &recordingGroups{}
	e.svc.Backend = backend.Abilities{SecurityGroups: gb}
	web := e.createGroup(t, "alice", "web")
	ssh := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, tcpFrom(22, "10.0.0.0/8")...)
	calls := len(gb.calls)
	_, err := e.call(t, "alice", "ModifySecurityGroupRules", modify(web, []string{ssh, "IpProtocol", "tcp", "FromPort", "23", "ToPort", "23", "CidrIpv4", "10.0.0.0/8"})...)
	wantCode(t, err, ec2err.UnsupportedOperation)
	e.mustCall(t, "alice", "ModifySecurityGroupRules", modify(web, []string{ssh, "IpProtocol", "tcp", "FromPort", "22", "ToPort", "22", "CidrIpv4", "10.0.0.0/8", "Description", "ssh"})...)
	if got := e.rulesText(t, "alice", web)[ssh]; got != "in tcp 22-22 10.0.0.0/8 (ssh)" {
		t.Errorf("got %q, want the new description", got)
	}
	if len(gb.calls) != calls {
		t.Errorf("got backend calls %v, want none for a description", gb.calls[calls:])
	}
}

func TestUpdateSecurityGroupRuleDescriptions(t *testing.T) {
	e := newTestEnv(t, nil)
	web := e.createGroup(t, "alice", "web")
	a := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, tcpFrom(22, "10.0.0.0/8")...)
	b := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22",
		"IpPermissions.1.ToPort", "22", "IpPermissions.1.IpRanges.1.CidrIp", "192.0.2.0/24", "IpPermissions.1.IpRanges.1.Description", "old")
	var allOut string
	for id, r := range e.rulesText(t, "alice", web) {
		if strings.HasPrefix(r, "out ") {
			allOut = id
		}
	}
	bobs := e.createGroup(t, "bob", "bobs")
	bobRule := e.authorizeOne(t, "bob", "AuthorizeSecurityGroupIngress", bobs, tcpFrom(22, "10.0.0.0/8")...)
	both := []string{"IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22", "IpPermissions.1.ToPort", "22",
		"IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8", "IpPermissions.1.IpRanges.1.Description", "lab",
		"IpPermissions.1.IpRanges.2.CidrIp", "192.0.2.0/24"}
	byID := func(id, d string) []string {
		return []string{"SecurityGroupRuleDescription.1.SecurityGroupRuleId", id, "SecurityGroupRuleDescription.1.Description", d}
	}

	errs := []struct {
		name   string
		action string
		kv     []string
		code   string
	}{
		{"rule that does not exist", "UpdateSecurityGroupRuleDescriptionsIngress", append([]string{"GroupId", web}, tcpFrom(23, "10.0.0.0/8")...), ec2err.InvalidPermissionNotFound},
		{"ingress rule as egress", "UpdateSecurityGroupRuleDescriptionsEgress", append([]string{"GroupId", web}, byID(a, "x")...), ec2err.InvalidSecurityGroupRuleIDNF},
		{"classmate's rule", "UpdateSecurityGroupRuleDescriptionsIngress", append([]string{"GroupId", web}, byID(bobRule, "x")...), ec2err.InvalidSecurityGroupRuleIDNF},
		{"classmate's group", "UpdateSecurityGroupRuleDescriptionsIngress", append([]string{"GroupId", bobs}, byID(bobRule, "x")...), ec2err.InvalidGroupNotFound},
		{"malformed rule id", "UpdateSecurityGroupRuleDescriptionsIngress", append([]string{"GroupId", web}, byID("a", "x")...), ec2err.InvalidSecurityGroupRuleIDMalformed},
		{"both forms", "UpdateSecurityGroupRuleDescriptionsIngress", append(append([]string{"GroupId", web}, byID(a, "x")...), both...), ec2err.InvalidParameterCombination},
		{"neither form", "UpdateSecurityGroupRuleDescriptionsIngress", []string{"GroupId", web}, ec2err.MissingParameter},
		{"no group", "UpdateSecurityGroupRuleDescriptionsIngress", both, ec2err.MissingParameter},
		{"description too long", "UpdateSecurityGroupRuleDescriptionsIngress", append([]string{"GroupId", web}, byID(a, strings.Repeat("x", 256))...), ec2err.InvalidParameterValue},
		{"dry run", "UpdateSecurityGroupRuleDescriptionsIngress", append([]string{"GroupId", web, "DryRun", "true"}, both...), ec2err.DryRunOperation},
	}
	before := e.rulesText(t, "alice", web)
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, "alice", c.action, c.kv...)
			wantCode(t, err, c.code)
		})
	}
	if got := e.rulesText(t, "alice", web); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("failed requests changed the rules: got %v, want %v", got, before)
	}

	// By permission (the group by name, in the default VPC): a permission
	// without a description clears the rule's.
	e.mustCall(t, "alice", "UpdateSecurityGroupRuleDescriptionsIngress", append([]string{"GroupName", "web"}, both...)...)
	// By rule id, egress.
	e.mustCall(t, "alice", "UpdateSecurityGroupRuleDescriptionsEgress", append([]string{"GroupId", web}, byID(allOut, "all out")...)...)
	got := e.rulesText(t, "alice", web)
	want := map[string]string{a: "in tcp 22-22 10.0.0.0/8 (lab)", b: "in tcp 22-22 192.0.2.0/24", allOut: "out -1 -1--1 0.0.0.0/0 (all out)"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("rule %s: got %q, want %q", id, got[id], w)
		}
	}
	if got := permText(e.group(t, "alice", DefaultVersion, web).Ingress); got != "tcp 22-22 [10.0.0.0/8(lab) 192.0.2.0/24]" {
		t.Errorf("DescribeSecurityGroups: got %q, want the new descriptions", got)
	}
}

// Tags on security group rules work as on any resource: CreateTags,
// DeleteTags and DescribeTags by sgr- id, a classmate's rule not found.
func TestTagsOnSecurityGroupRules(t *testing.T) {
	e := newTestEnv(t, nil)
	web := e.createGroup(t, "alice", "web")
	rule := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, tcpFrom(22, "10.0.0.0/8")...)
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", rule, "Tag.1.Key", "Name", "Tag.1.Value", "ssh", "Tag.2.Key", "lab", "Tag.2.Value", "1")
	if got := e.rulesText(t, "alice", web)[rule]; got != "in tcp 22-22 10.0.0.0/8 [Name=ssh] [lab=1]" {
		t.Errorf("DescribeSecurityGroupRules: got %q, want both tags", got)
	}
	if got := tagList(t, e, "alice", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "security-group-rule"); got != "security-group-rule:Name=ssh security-group-rule:lab=1" {
		t.Errorf("DescribeTags resource-type security-group-rule: got %q, want both tags", got)
	}
	e.mustCall(t, "alice", "DeleteTags", "ResourceId.1", rule, "Tag.1.Key", "lab")
	if got := e.rulesText(t, "alice", web)[rule]; got != "in tcp 22-22 10.0.0.0/8 [Name=ssh]" {
		t.Errorf("after DeleteTags: got %q, want the Name tag only", got)
	}
	for _, c := range []struct {
		name, user, action, id, code string
	}{
		{"classmate tags", "bob", "CreateTags", rule, ec2err.InvalidSecurityGroupRuleIDNF},
		{"classmate untags", "bob", "DeleteTags", rule, ec2err.InvalidSecurityGroupRuleIDNF},
		{"rule that does not exist", "alice", "CreateTags", "sgr-00000000", ec2err.InvalidSecurityGroupRuleIDNF},
		{"malformed rule id", "alice", "CreateTags", "sgr-x", ec2err.InvalidIDMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, c.user, c.action, "ResourceId.1", c.id, "Tag.1.Key", "k", "Tag.1.Value", "v")
			wantCode(t, err, c.code)
		})
	}
	if got := e.rulesText(t, "alice", web)[rule]; got != "in tcp 22-22 10.0.0.0/8 [Name=ssh]" {
		t.Errorf("after a classmate's tries: got %q, want the Name tag only", got)
	}
}

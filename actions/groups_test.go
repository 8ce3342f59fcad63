package actions

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// createGroup makes a group as user and returns its id.
func (e *testEnv) createGroup(t *testing.T, user, name string) string {
	t.Helper()
	return e.mustCall(t, user, "CreateSecurityGroup", "GroupName", name, "GroupDescription", name+" group").(*createSecurityGroupResponse).GroupID
}

func (e *testEnv) group(t *testing.T, user, version, id string) securityGroupXML {
	t.Helper()
	resp, err := e.callVersion(t, user, version, "DescribeSecurityGroups", "GroupId.1", id)
	if err != nil {
		t.Fatal(err)
	}
	groups := resp.(*describeSecurityGroupsResponse).Groups
	if len(groups) != 1 {
		t.Fatalf("got %d groups for %s, want 1", len(groups), id)
	}
	return groups[0]
}

// permText renders IpPermissions compactly: "tcp 22-22 [0.0.0.0/0]".
func permText(perms []ipPermissionXML) string {
	var parts []string
	for _, p := range perms {
		s := p.IPProtocol
		if p.FromPort != nil {
			s += fmt.Sprintf(" %d-%d", *p.FromPort, *p.ToPort)
		}
		var peers []string
		for _, r := range p.IPRanges {
			peers = append(peers, r.CIDR+desc(r.Description))
		}
		for _, r := range p.IPv6Ranges {
			peers = append(peers, r.CIDR+desc(r.Description))
		}
		for _, r := range p.PrefixListIDs {
			peers = append(peers, r.ID)
		}
		for _, g := range p.Groups {
			peers = append(peers, "group:"+g.GroupID+"/"+g.UserID+g.GroupName)
		}
		parts = append(parts, s+" ["+strings.Join(peers, " ")+"]")
	}
	return strings.Join(parts, "; ")
}

func desc(d string) string {
	if d == "" {
		return ""
	}
	return "(" + d + ")"
}

func TestDefaultGroupOnFirstUse(t *testing.T) {
	e := newTestEnv(t, nil)
	for range 2 {
		resp := e.mustCall(t, "alice", "DescribeSecurityGroups").(*describeSecurityGroupsResponse)
		if len(resp.Groups) != 1 || resp.Groups[0].GroupName != "default" {
			t.Fatalf("got %+v, want exactly the default group", resp.Groups)
		}
		g := resp.Groups[0]
		if want := "-1 [group:" + g.GroupID + "/111111111111]"; permText(g.Ingress) != want {
			t.Errorf("got default ingress %q, want %q", permText(g.Ingress), want)
		}
		if got := permText(g.Egress.Items); got != "-1 [0.0.0.0/0]" || g.VpcID != store.DefaultVPCID("alice") || g.OwnerID != "111111111111" {
			t.Errorf("got egress %q vpc %q owner %q, want all-out, %s, alice's account", got, g.VpcID, g.OwnerID, store.DefaultVPCID("alice"))
		}
	}
	_, err := e.call(t, "alice", "CreateSecurityGroup", "GroupName", "default", "GroupDescription", "x")
	wantCode(t, err, ec2err.InvalidGroupReserved)
	_, err = e.call(t, "alice", "DeleteSecurityGroup", "GroupName", "default")
	wantCode(t, err, ec2err.CannotDelete)
}

func TestAuthorizeForms(t *testing.T) {
	e := newTestEnv(t, nil)
	peer := e.createGroup(t, "alice", "peer")
	pl := e.createPrefixList(t, "alice", "IPv4")
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"cli ip permissions", []string{"IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22", "IpPermissions.1.ToPort", "22", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"},
			"tcp 22-22 [0.0.0.0/0]"},
		{"legacy flat cidr", []string{"IpProtocol", "udp", "FromPort", "53", "ToPort", "53", "CidrIp", "10.0.0.0/8"},
			"udp 53-53 [10.0.0.0/8]"},
		{"legacy group pair means all tcp, udp and icmp", []string{"SourceSecurityGroupName", "peer"},
			"tcp 0-65535 [group:" + peer + "/111111111111]; udp 0-65535 [group:" + peer + "/111111111111]; icmp -1--1 [group:" + peer + "/111111111111]"},
		{"legacy group pair with owner and ports", []string{"SourceSecurityGroupName", "peer", "SourceSecurityGroupOwnerId", "111111111111", "IpProtocol", "tcp", "FromPort", "80", "ToPort", "81"},
			"tcp 80-81 [group:" + peer + "/111111111111]"},
		{"several peers and descriptions", []string{"IpPermissions.1.IpProtocol", "6", "IpPermissions.1.FromPort", "443", "IpPermissions.1.ToPort", "443",
			"IpPermissions.1.IpRanges.1.CidrIp", "192.0.2.0/24", "IpPermissions.1.IpRanges.1.Description", "lab",
			"IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "2001:db8::/32", "IpPermissions.1.PrefixListIds.1.PrefixListId", pl,
			"IpPermissions.1.Groups.1.GroupId", peer},
			"tcp 443-443 [192.0.2.0/24(lab) 2001:db8::/32 " + pl + " group:" + peer + "/111111111111]"},
		{"icmp defaults to any type and code", []string{"IpPermissions.1.IpProtocol", "icmp", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"},
			"icmp -1--1 [0.0.0.0/0]"},
		{"all traffic has no ports", []string{"IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.FromPort", "5", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"},
			"-1 [0.0.0.0/0]"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := e.createGroup(t, "alice", fmt.Sprintf("g%d", i))
			resp := e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", append([]string{"GroupName", fmt.Sprintf("g%d", i)}, c.kv...)...).(*authorizeResponse)
			if !resp.Return || len(resp.Rules.Items) == 0 || !strings.HasPrefix(resp.Rules.Items[0].ID, "sgr-") {
				t.Errorf("got return %v rules %+v, want true and sgr- rule ids", resp.Return, resp.Rules)
			}
			if got := permText(e.group(t, "alice", DefaultVersion, id).Ingress); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	e := newTestEnv(t, nil)
	e.createGroup(t, "alice", "web")
	bobs := e.createGroup(t, "bob", "bobs")
	ssh := []string{"IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22", "IpPermissions.1.ToPort", "22", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"}
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", append([]string{"GroupName", "web"}, ssh...)...)
	perm := func(kv ...string) []string { return append([]string{"GroupName", "web"}, kv...) }
	cases := []struct {
		name string
		kv   []string
		code string
	}{
		{"duplicate", perm(ssh...), ec2err.InvalidPermissionDuplicate},
		{"duplicate within the request", perm("IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "CidrIp", "1.2.3.4/32",
			"IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "1", "IpPermissions.1.ToPort", "1", "IpPermissions.1.IpRanges.1.CidrIp", "1.2.3.4/32"), ec2err.InvalidPermissionDuplicate},
		{"tcp without ports", perm("IpProtocol", "tcp", "CidrIp", "0.0.0.0/0"), ec2err.InvalidParameterValue},
		{"reversed ports", perm("IpProtocol", "tcp", "FromPort", "90", "ToPort", "80", "CidrIp", "0.0.0.0/0"), ec2err.InvalidParameterValue},
		{"port out of range", perm("IpProtocol", "udp", "FromPort", "1", "ToPort", "70000", "CidrIp", "0.0.0.0/0"), ec2err.InvalidParameterValue},
		{"unknown protocol", perm("IpProtocol", "sctpx", "CidrIp", "0.0.0.0/0"), ec2err.InvalidParameterValue},
		{"bad cidr", perm("IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "CidrIp", "10.0.0.0/33"), ec2err.InvalidParameterValue},
		{"host bits set", perm("IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "CidrIp", "10.0.0.1/8"), ec2err.InvalidParameterValue},
		{"ipv6 in CidrIp", perm("IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "CidrIp", "2001:db8::/32"), ec2err.InvalidParameterValue},
		{"no source", perm("IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "1", "IpPermissions.1.ToPort", "1"), ec2err.MissingParameter},
		{"nothing", perm(), ec2err.MissingParameter},
		{"another student's group id", perm("IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.Groups.1.GroupId", bobs), ec2err.InvalidGroupNotFound},
		{"another account's group", perm("SourceSecurityGroupName", "web", "SourceSecurityGroupOwnerId", "222222222222"), ec2err.InvalidGroupNotFound},
		{"unknown target", []string{"GroupName", "nope", "IpProtocol", "-1", "CidrIp", "0.0.0.0/0"}, ec2err.InvalidGroupNotFound},
		{"malformed target id", []string{"GroupId", "web", "IpProtocol", "-1", "CidrIp", "0.0.0.0/0"}, ec2err.InvalidGroupIDMalformed},
		{"no target", []string{"IpProtocol", "-1", "CidrIp", "0.0.0.0/0"}, ec2err.MissingParameter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, "alice", "AuthorizeSecurityGroupIngress", c.kv...)
			wantCode(t, err, c.code)
		})
	}
	_, err := e.call(t, "alice", "AuthorizeSecurityGroupEgress", "GroupId", bobs, "IpProtocol", "-1", "CidrIp", "0.0.0.0/0")
	wantCode(t, err, ec2err.InvalidGroupNotFound)
	web := e.mustCall(t, "alice", "DescribeSecurityGroups", "GroupName.1", "web").(*describeSecurityGroupsResponse).Groups[0]
	if got := permText(web.Ingress); got != "tcp 22-22 [0.0.0.0/0]" {
		t.Errorf("failed requests changed the group: got %q, want only the ssh rule", got)
	}
}

func TestRevoke(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createGroup(t, "alice", "web")
	http := []string{"GroupId", id, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "80", "IpPermissions.1.ToPort", "80", "IpPermissions.1.IpRanges.1.CidrIp", "127.0.0.1/32"}

	// A rule that does not exist: success, reported as unknown to current
	// clients and silently to old ones.
	resp := e.mustCall(t, "alice", "RevokeSecurityGroupIngress", http...).(*revokeResponse)
	if !resp.Return || permText(resp.Unknown.Items) != "tcp 80-80 [127.0.0.1/32]" || len(resp.Revoked.Items) != 0 {
		t.Errorf("got return %v unknown %q revoked %d, want true, the rule, none", resp.Return, permText(resp.Unknown.Items), len(resp.Revoked.Items))
	}
	old, err := e.callVersion(t, "alice", "2010-08-31", "RevokeSecurityGroupIngress", http...)
	if err != nil || !old.(*revokeResponse).Return || old.(*revokeResponse).Unknown != nil {
		t.Errorf("old version: got %+v, %v; want return true and no unknown set", old, err)
	}

	auth := e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", http...).(*authorizeResponse)
	resp = e.mustCall(t, "alice", "RevokeSecurityGroupIngress", http...).(*revokeResponse)
	if len(resp.Revoked.Items) != 1 || resp.Revoked.Items[0].ID != auth.Rules.Items[0].ID || len(resp.Unknown.Items) != 0 {
		t.Errorf("got revoked %+v unknown %d, want the one rule", resp.Revoked.Items, len(resp.Unknown.Items))
	}
	if got := permText(e.group(t, "alice", DefaultVersion, id).Ingress); got != "" {
		t.Errorf("got ingress %q after revoke, want none", got)
	}

	// By rule id, including the default egress rule.
	egress := e.group(t, "alice", DefaultVersion, id)
	rules := e.mustCall(t, "alice", "DescribeSecurityGroupRules", "Filter.1.Name", "group-id", "Filter.1.Value.1", id).(*describeSecurityGroupRulesResponse).Rules
	if len(rules) != 1 || !rules[0].IsEgress || rules[0].CIDRv4 != "0.0.0.0/0" || rules[0].FromPort != -1 || len(egress.Egress.Items) != 1 {
		t.Fatalf("got rules %+v, want the default egress rule with ports -1", rules)
	}
	_, err = e.call(t, "alice", "RevokeSecurityGroupEgress", "GroupId", id, "SecurityGroupRuleId.1", "sgr-0000000000000000a")
	wantCode(t, err, ec2err.InvalidSecurityGroupRuleIDNF)
	e.mustCall(t, "alice", "RevokeSecurityGroupEgress", "GroupId", id, "SecurityGroupRuleId.1", rules[0].ID)
	if got := e.group(t, "alice", DefaultVersion, id).Egress.Items; len(got) != 0 {
		t.Errorf("got egress %q after revoking its rule, want none", permText(got))
	}
	_, err = e.call(t, "alice", "DescribeSecurityGroupRules", "SecurityGroupRuleId.1", rules[0].ID)
	wantCode(t, err, ec2err.InvalidSecurityGroupRuleIDNF)

	// A group id filter is checked as EC2 checks it (moto's aws_verified
	// test_invalid_security_group_id_in_rules_search); a wildcard is a pattern.
	_, err = e.call(t, "alice", "DescribeSecurityGroupRules", "Filter.1.Name", "group-id", "Filter.1.Value.1", "foobar")
	if err == nil || ec2err.As(err).Code != ec2err.InvalidGroupIDMalformed || ec2err.As(err).Message != "The security group ID 'foobar' is malformed" {
		t.Errorf("group-id filter foobar: got %v, want InvalidGroupId.Malformed: The security group ID 'foobar' is malformed", err)
	}
	e.mustCall(t, "alice", "DescribeSecurityGroupRules", "Filter.1.Name", "group-id", "Filter.1.Value.1", "sg-*")
}

func TestDeleteSecurityGroup(t *testing.T) {
	e := newTestEnv(t, nil)
	used := e.createGroup(t, "alice", "used")
	referenced := e.createGroup(t, "alice", "referenced")
	e.createGroup(t, "alice", "referrer")
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", "GroupName", "referrer", "SourceSecurityGroupName", "referenced")
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", "GroupName", "used", "SourceSecurityGroupName", "used") // self-reference does not block
	putInstance := func(state string) {
		err := e.svc.Store.Update(func(tx store.Tx) error {
			return store.PutInstance(tx, &store.Instance{ID: "i-0123456789abcdef0", Owner: "alice", State: state, Groups: []store.GroupRef{{ID: used, Name: "used"}}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	putInstance("running")
	cases := []struct {
		name string
		kv   []string
		code string
	}{
		{"in use by an instance", []string{"GroupName", "used"}, ec2err.DependencyViolation},
		{"referenced by another group", []string{"GroupId", referenced}, ec2err.DependencyViolation},
		{"unknown", []string{"GroupName", "nope"}, ec2err.InvalidGroupNotFound},
		{"another student's view", []string{"GroupId", used}, ec2err.InvalidGroupNotFound},
		{"nothing", nil, ec2err.MissingParameter},
		{"dry run", []string{"GroupId", used, "DryRun", "true"}, ec2err.DependencyViolation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user := "alice"
			if c.name == "another student's view" {
				user = "bob"
			}
			_, err := e.call(t, user, "DeleteSecurityGroup", c.kv...)
			wantCode(t, err, c.code)
		})
	}
	putInstance("terminated")
	if resp := e.mustCall(t, "alice", "DeleteSecurityGroup", "GroupName", "used").(*deleteSecurityGroupResponse); !resp.Return || resp.GroupID != used {
		t.Errorf("got %+v, want return true and the group id", resp)
	}
	e.mustCall(t, "alice", "DeleteSecurityGroup", "GroupName", "referrer")
	e.mustCall(t, "alice", "DeleteSecurityGroup", "GroupId", referenced)
	if left := e.mustCall(t, "alice", "DescribeSecurityGroups").(*describeSecurityGroupsResponse).Groups; len(left) != 1 {
		t.Errorf("got %d groups, want only default", len(left))
	}
}

func TestDescribeSecurityGroupsFiltersPagingAndVersions(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := range 6 {
		e.createGroup(t, "alice", fmt.Sprintf("grp%d", i))
	}
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", "GroupName", "grp1", "IpProtocol", "tcp", "FromPort", "8020", "ToPort", "8020", "CidrIp", "127.0.0.1/32")
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", "GroupName", "grp2", "SourceSecurityGroupName", "grp3")
	e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "tagged", "GroupDescription", "d",
		"TagSpecification.1.ResourceType", "security-group", "TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "nn")
	e.createGroup(t, "bob", "bobs")
	cases := []struct {
		name string
		kv   []string
		want int
	}{
		{"all of alice's and her default", nil, 8},
		{"by name", []string{"GroupName.1", "grp2", "GroupName.2", "grp3"}, 2},
		{"group-name wildcard", []string{"Filter.1.Name", "group-name", "Filter.1.Value.1", "grp*"}, 6},
		{"ingress port", []string{"Filter.1.Name", "ip-permission.from-port", "Filter.1.Value.1", "8020"}, 1},
		{"egress cidr", []string{"Filter.1.Name", "egress.ip-permission.cidr", "Filter.1.Value.1", "0.0.0.0/0"}, 8},
		{"ingress peer by name", []string{"Filter.1.Name", "ip-permission.group-name", "Filter.1.Value.1", "grp3"}, 1},
		{"egress peer by name", []string{"Filter.1.Name", "egress.ip-permission.group-name", "Filter.1.Value.1", "grp3"}, 0},
		{"tag", []string{"Filter.1.Name", "tag:role", "Filter.1.Value.1", "nn"}, 1},
		{"vpc", []string{"Filter.1.Name", "vpc-id", "Filter.1.Value.1", store.DefaultVPCID("alice")}, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := e.mustCall(t, "alice", "DescribeSecurityGroups", c.kv...).(*describeSecurityGroupsResponse).Groups
			if len(got) != c.want {
				t.Errorf("got %d groups, want %d", len(got), c.want)
			}
		})
	}
	_, err := e.call(t, "alice", "DescribeSecurityGroups", "GroupName.1", "bobs")
	wantCode(t, err, ec2err.InvalidGroupNotFound)
	_, err = e.call(t, "alice", "DescribeSecurityGroups", "Filter.1.Name", "ip-permission.colour", "Filter.1.Value.1", "x")
	wantCode(t, err, ec2err.InvalidParameterValue)

	seen := map[string]bool{}
	token := ""
	for pages := 0; pages < 5; pages++ {
		page := e.mustCall(t, "alice", "DescribeSecurityGroups", "MaxResults", "5", "NextToken", token).(*describeSecurityGroupsResponse)
		for _, g := range page.Groups {
			seen[g.GroupID] = true
		}
		if token = page.NextToken; token == "" {
			break
		}
	}
	if len(seen) != 8 {
		t.Errorf("got %d distinct groups over the pages, want 8", len(seen))
	}
}

// The 2010-08-31 shape that boto 2.0b3 parses: no vpcId, no egress list, no
// ARN; group pairs carry the group's name.
func TestSecurityGroupOldShape(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createGroup(t, "alice", "cluster")
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", "GroupName", "cluster", "SourceSecurityGroupName", "cluster")
	g := e.group(t, "alice", "2010-08-31", id)
	out, err := xml.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, absent := range []string{"vpcId", "ipPermissionsEgress", "securityGroupArn"} {
		if strings.Contains(text, absent) {
			t.Errorf("old shape has %s: %s", absent, text)
		}
	}
	if want := "tcp 0-65535 [group:" + id + "/111111111111cluster]"; !strings.HasPrefix(permText(g.Ingress), want) {
		t.Errorf("got %q, want it to start with %q", permText(g.Ingress), want)
	}
}

func TestLaunchGroups(t *testing.T) {
	e := newTestEnv(t, nil)
	web := e.createGroup(t, "alice", "web")
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", "GroupId", web, "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0")
	bobs := e.createGroup(t, "bob", "bobs")
	cases := []struct {
		name       string
		owner      string
		names, ids []string
		want       []string
		code       string
	}{
		{"nothing means default", "carol", nil, nil, []string{"default"}, ""},
		{"by name and id, once each", "alice", []string{"web", "default"}, []string{web}, []string{"web", "default"}, ""},
		{"unknown name", "alice", []string{"nope"}, nil, nil, ec2err.InvalidGroupNotFound},
		{"another student's id", "alice", nil, []string{bobs}, nil, ec2err.InvalidGroupNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var refs []store.GroupRef
			var err error
			updErr := e.svc.Store.Update(func(tx store.Tx) error {
				sn, snErr := e.svc.defaultSubnet(tx, c.owner, e.svc.Config.AvailabilityZones[0])
				if snErr != nil {
					return snErr
				}
				refs, _, err = e.svc.launchGroups(tx, c.owner, sn, c.names, c.ids)
				return nil
			})
			if updErr != nil {
				t.Fatal(updErr)
			}
			if c.code != "" {
				wantCode(t, err, c.code)
				return
			}
			var got []string
			for _, r := range refs {
				got = append(got, r.Name)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("got groups %v, want %v", got, c.want)
			}
		})
	}
	err := e.svc.Store.Update(func(tx store.Tx) error {
		sn, err := e.svc.defaultSubnet(tx, "alice", e.svc.Config.AvailabilityZones[0])
		if err != nil {
			return err
		}
		_, groups, err := e.svc.launchGroups(tx, "alice", sn, []string{"web"}, nil)
		if err != nil {
			return err
		}
		rules := groups[0].Rules
		if len(rules) != 2 || rules[0].Protocol != "tcp" || rules[0].FromPort != 80 || rules[0].CIDR != "0.0.0.0/0" || !rules[1].Egress {
			t.Errorf("got backend rules %+v, want tcp 80 in and all out", rules)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

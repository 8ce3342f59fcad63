package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/econetest"
)

func TestSecurityGroupsWithAWSCLI(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	out, err := e.CLI(t, alice, "ec2", "create-security-group", "--group-name", "web", "--description", "web servers")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ GroupId string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.GroupId, "sg-") {
		t.Fatalf("create-security-group: got %q (%v), want a GroupId", out, err)
	}
	// The CLI's shorthand flags become IpPermissions.1.*.
	out, err = e.CLI(t, alice, "ec2", "authorize-security-group-ingress", "--group-id", created.GroupId, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
	if err != nil {
		t.Fatal(err)
	}
	var authorized struct {
		Return             bool
		SecurityGroupRules []struct {
			SecurityGroupRuleId, IpProtocol, CidrIpv4 string
			FromPort, ToPort                          int
			IsEgress                                  bool
		}
	}
	if err := json.Unmarshal([]byte(out), &authorized); err != nil || !authorized.Return || len(authorized.SecurityGroupRules) != 1 {
		t.Fatalf("authorize: got %s (%v), want return true and one rule", out, err)
	}
	if r := authorized.SecurityGroupRules[0]; !strings.HasPrefix(r.SecurityGroupRuleId, "sgr-") || r.IpProtocol != "tcp" || r.FromPort != 22 || r.ToPort != 22 || r.CidrIpv4 != "0.0.0.0/0" || r.IsEgress {
		t.Errorf("got rule %+v, want sgr- tcp 22-22 from 0.0.0.0/0 ingress", r)
	}
	out, err = e.CLI(t, alice, "ec2", "describe-security-groups", "--group-names", "web",
		"--query", "SecurityGroups[0].{perms:IpPermissions,egress:IpPermissionsEgress,vpc:VpcId,owner:OwnerId}")
	if err != nil {
		t.Fatal(err)
	}
	var described struct {
		Perms []struct {
			IpProtocol string
			FromPort   int
			IpRanges   []struct{ CidrIp string }
		}
		Egress []struct{ IpProtocol string }
		Vpc    string
	}
	if err := json.Unmarshal([]byte(out), &described); err != nil {
		t.Fatal(err)
	}
	if len(described.Perms) != 1 || described.Perms[0].FromPort != 22 || described.Perms[0].IpRanges[0].CidrIp != "0.0.0.0/0" ||
		len(described.Egress) != 1 || described.Egress[0].IpProtocol != "-1" || !strings.HasPrefix(described.Vpc, "vpc-") {
		t.Errorf("describe-security-groups: got %s, want the ssh rule, the default egress rule and a vpc id", out)
	}
	// Revoking a rule that is not there succeeds and says which was unknown.
	out, err = e.CLI(t, alice, "ec2", "revoke-security-group-ingress", "--group-name", "web", "--protocol", "tcp", "--port", "80", "--cidr", "10.0.0.0/8")
	if err != nil || !strings.Contains(out, `"UnknownIpPermissions"`) || !strings.Contains(out, "10.0.0.0/8") {
		t.Errorf("revoke of a missing rule: got %s, %v; want success listing it as unknown", out, err)
	}
}

func TestSecurityGroupIsolation(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	securityGroupIsolation(t, e, alice)
}

// securityGroupIsolation: bob, on e with alice, meets only NotFound for
// her group of the name he also uses.
func securityGroupIsolation(t *testing.T, e *econetest.Env, alice *admin.Credentials) {
	bob := e.User(t, "bob")
	ctx := context.Background()
	mine, err := e.EC2(alice).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("alice's")})
	if err != nil {
		t.Fatal(err)
	}
	bobs, err := e.EC2(bob).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("bob's")})
	if err != nil {
		t.Fatalf("bob's group of the same name: %v", err)
	}
	cases := []struct {
		name string
		call func() error
	}{
		{"describe", func() error {
			_, err := e.EC2(bob).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{*mine.GroupId}})
			return err
		}},
		{"authorize on it", func() error {
			_, err := e.EC2(bob).AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: mine.GroupId, IpProtocol: aws.String("-1"), CidrIp: aws.String("0.0.0.0/0")})
			return err
		}},
		{"refer to it in a rule", func() error {
			_, err := e.EC2(bob).AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: bobs.GroupId, IpPermissions: []types.IpPermission{{
				IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
				UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: mine.GroupId}},
			}}})
			return err
		}},
		{"delete", func() error {
			_, err := e.EC2(bob).DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: mine.GroupId})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if code, status := apiError(c.call()); code != "InvalidGroup.NotFound" || status != 400 {
				t.Errorf("got %s/%d, want InvalidGroup.NotFound/400", code, status)
			}
		})
	}
	out, err := e.EC2(bob).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil || len(out.SecurityGroups) != 2 {
		t.Fatalf("got %v, %v; want bob's default and web groups only", out, err)
	}
	for _, g := range out.SecurityGroups {
		if *g.GroupId == *mine.GroupId || aws.ToString(g.Description) == "alice's" {
			t.Errorf("bob sees alice's group %s", *g.GroupId)
		}
	}
}

// A group an instance is in cannot be deleted until the instance is gone.
func TestDeleteGroupInUseWithRunInstances(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	ctx := context.Background()
	client := e.EC2(alice)
	g, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("cluster"), Description: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("lab")}); err != nil {
		t.Fatal(err)
	}
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), InstanceType: types.InstanceTypeT2Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		KeyName: aws.String("lab"), SecurityGroupIds: []string{*g.GroupId},
	})
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	id := run.Instances[0].InstanceId
	if got := run.Instances[0].SecurityGroups; len(got) != 1 || *got[0].GroupId != *g.GroupId || *got[0].GroupName != "cluster" {
		t.Errorf("got instance groups %+v, want cluster", got)
	}
	_, err = client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("cluster")})
	if code, status := apiError(err); code != "DependencyViolation" || status != 400 {
		t.Fatalf("delete of a group in use: got %s/%d, want DependencyViolation/400", code, status)
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{*id}}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute) // past the (zero) terminate delay, within the signature skew
	if _, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{*id}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: g.GroupId}); err != nil {
		t.Errorf("delete after the instance terminated: got %v, want success", err)
	}
	_, err = client.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroups: []string{"nope"},
	})
	if code, _ := apiError(err); code != "InvalidGroup.NotFound" {
		t.Errorf("RunInstances with an unknown group: got %s, want InvalidGroup.NotFound", code)
	}
	_, err = client.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), KeyName: aws.String("nope"),
	})
	if code, _ := apiError(err); code != "InvalidKeyPair.NotFound" {
		t.Errorf("RunInstances with an unknown key: got %s, want InvalidKeyPair.NotFound", code)
	}
}

// Debian's boto 2.49 reads groups as the hadoop scripts do: rules by
// protocol and ports, grants by group name.
const boto2GroupsScript = `
import boto, boto.ec2, json, os
from boto.ec2.regioninfo import RegionInfo
host, port = os.environ["ECONE_HOST"].split(":")
conn = boto.ec2.connection.EC2Connection(
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
    region=RegionInfo(name=os.environ["AWS_DEFAULT_REGION"], endpoint=host),
    port=int(port), is_secure=False)
g = conn.create_security_group("cluster", "Cluster")
print(json.dumps({
    "self": conn.authorize_security_group(group_name="cluster", src_security_group_name="cluster"),
    "ssh": g.authorize("tcp", 22, 22, "0.0.0.0/0"),
    "revoke missing": conn.revoke_security_group(group_name="cluster", ip_protocol="tcp", from_port=80, to_port=80, cidr_ip="127.0.0.1/32"),
    "rules": sorted("%s %s-%s %s" % (r.ip_protocol, r.from_port, r.to_port, ",".join(x.cidr_ip or x.name for x in r.grants))
                    for r in conn.get_all_security_groups(groupnames=["cluster"])[0].rules),
    "delete": conn.delete_security_group("cluster"),
}))
`

func TestSecurityGroupsWithBoto2(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	out, err := e.Boto2(t, alice, boto2GroupsScript)
	var got map[string]any
	decodeOutput(t, out, err, &got)
	want := map[string]any{
		"self": true, "ssh": true, "revoke missing": true, "delete": true,
		"rules": []any{"icmp -1--1 cluster", "tcp 0-65535 cluster", "tcp 22-22 0.0.0.0/0", "udp 0-65535 cluster"},
	}
	for k, w := range want {
		if jsonOf(got[k]) != jsonOf(w) {
			t.Errorf("%s: got %v, want %v", k, got[k], w)
		}
	}
}

// A rule changes in place with the AWS CLI (its id and tags stay) and is
// tagged by its sgr- id; a classmate meets NotFound for both.
func TestModifySecurityGroupRulesAndRuleTagsWithAWSCLI(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	bob := e.User(t, "bob")
	out, err := e.CLI(t, alice, "ec2", "create-security-group", "--group-name", "web", "--description", "web servers", "--query", "GroupId", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	group := strings.TrimSpace(out)
	out, err = e.CLI(t, alice, "ec2", "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8",
		"--query", "SecurityGroupRules[0].SecurityGroupRuleId", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	rule := strings.TrimSpace(out)
	if _, err := e.CLI(t, alice, "ec2", "create-tags", "--resources", rule, "--tags", "Key=Name,Value=ssh"); err != nil {
		t.Fatalf("create-tags on a rule: %v", err)
	}
	change := `[{"SecurityGroupRuleId":"` + rule + `","SecurityGroupRule":{"IpProtocol":"tcp","FromPort":2222,"ToPort":2222,"CidrIpv4":"192.0.2.0/24","Description":"ssh on 2222"}}]`
	out, err = e.CLI(t, alice, "ec2", "modify-security-group-rules", "--group-id", group, "--security-group-rules", change)
	if err != nil || !strings.Contains(out, `"Return": true`) {
		t.Fatalf("modify-security-group-rules: got %s, %v; want Return true", out, err)
	}
	out, err = e.CLI(t, alice, "ec2", "describe-security-group-rules", "--security-group-rule-ids", rule)
	if err != nil {
		t.Fatal(err)
	}
	var described struct {
		SecurityGroupRules []struct {
			SecurityGroupRuleId, IpProtocol, CidrIpv4, Description string
			FromPort, ToPort                                       int
			Tags                                                   []struct{ Key, Value string }
		}
	}
	if err := json.Unmarshal([]byte(out), &described); err != nil || len(described.SecurityGroupRules) != 1 {
		t.Fatalf("describe-security-group-rules: got %s (%v), want the rule", out, err)
	}
	got := described.SecurityGroupRules[0]
	if got.IpProtocol != "tcp" || got.FromPort != 2222 || got.ToPort != 2222 || got.CidrIpv4 != "192.0.2.0/24" || got.Description != "ssh on 2222" ||
		len(got.Tags) != 1 || got.Tags[0].Key != "Name" || got.Tags[0].Value != "ssh" {
		t.Errorf("got rule %+v, want tcp 2222 from 192.0.2.0/24, its description and its Name tag", got)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"bob modifies alice's group", []string{"ec2", "modify-security-group-rules", "--group-id", group, "--security-group-rules", change}, "InvalidGroup.NotFound"},
		{"bob tags alice's rule", []string{"ec2", "create-tags", "--resources", rule, "--tags", "Key=k,Value=v"}, "InvalidSecurityGroupRuleId.NotFound"},
	} {
		if _, err := e.CLI(t, bob, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
}

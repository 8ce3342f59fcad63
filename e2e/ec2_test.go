package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// ec2Server is econe-server on the ec2 backend, forwarding to a moto of
// its own; it returns the server and moto's endpoint.
func ec2Server(t *testing.T) (*econetest.Env, string) {
	moto := econetest.Moto(t)
	return econetest.Start(t, ec2Backend(t, moto, "cs101", "econe")), moto
}

// ec2Backend configures the ec2 backend at endpoint, for a course whose
// names start with prefix: tests sharing one moto keep apart by these.
func ec2Backend(t *testing.T, endpoint, course, prefix string) func(*conf.Config) {
	dir := t.TempDir()
	// lab.broken maps to a type EC2 does not have: its launch fails in AWS.
	tpl := "instance_types:\n  - name: lab.broken\n    vcpus: 1\n    memory_mib: 512\n    settings: {aws_type: x9.nothing}\n"
	if err := os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(c *conf.Config) {
		c.TemplatesDir = dir
		c.Backend.Name = "ec2"
		c.Backend.EC2.Endpoint, c.Backend.EC2.Course, c.Backend.EC2.NamePrefix = endpoint, course, prefix
		c.Backend.EC2.Credentials = conf.EC2Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}
		c.Backend.EC2.DescribeCache = 0
	}
}

// motoBoto3 runs a boto3 script against moto itself (the course's view of
// the account); the script finds moto's URL in MOTO.
func motoBoto3(t *testing.T, moto, script string) string {
	t.Helper()
	py := econetest.Python(t)
	cmd := exec.Command(py, "-")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_DEFAULT_REGION=us-east-1", "MOTO=" + moto}
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 against moto: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestEC2Lifecycle: a student's instance on the ec2 backend, with the AWS
// CLI v2 through econe-server, checked in moto's own state.
func TestEC2Lifecycle(t *testing.T) {
	e, moto := ec2Server(t)
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	var key struct{ KeyName, KeyMaterial string }
	cliJSON(t, e, alice, &key, "ec2", "create-key-pair", "--key-name", "laptop")
	var run struct{ Instances []struct{ InstanceId string } }
	cliJSON(t, e, alice, &run, "ec2", "run-instances", "--image-id", "ami-12c6146b", "--instance-type", "t3.micro", "--key-name", "laptop")
	id := run.Instances[0].InstanceId
	var bobRun struct{ Instances []struct{ InstanceId string } }
	cliJSON(t, e, bob, &bobRun, "ec2", "run-instances", "--image-id", "ami-12c6146b", "--instance-type", "t3.micro")

	state := func() string {
		var d struct {
			Reservations []struct {
				Instances []struct {
					InstanceId string
					State      struct{ Name string }
				}
			}
		}
		cliJSON(t, e, alice, &d, "ec2", "describe-instances")
		var ids, states []string
		for _, r := range d.Reservations {
			for _, i := range r.Instances {
				ids, states = append(ids, i.InstanceId), append(states, i.State.Name)
			}
		}
		if len(ids) != 1 || ids[0] != id {
			t.Fatalf("alice describes %v, want only her %s", ids, id)
		}
		return states[0]
	}
	steps := []struct {
		name string
		args []string
		want string
	}{
		{"launched", nil, "running"},
		{"stop", []string{"stop-instances"}, "stopped"},
		{"start", []string{"start-instances"}, "running"},
		{"reboot", []string{"reboot-instances"}, "running"},
		{"terminate", []string{"terminate-instances"}, "terminated"},
	}
	for _, s := range steps {
		if s.args != nil {
			if out, err := e.CLI(t, alice, append(append([]string{"ec2"}, s.args...), "--instance-ids", id)...); err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, out)
			}
		}
		if got := state(); got != s.want {
			t.Errorf("after %s: state %s, want %s", s.name, got, s.want)
		}
	}

	// The course's own view: the key is namespaced and tagged, and holds
	// no private key; alice's instance carries econe's id.
	got := motoBoto3(t, moto, `
import boto3, os
c = boto3.client("ec2", endpoint_url=os.environ["MOTO"])
k = c.describe_key_pairs()["KeyPairs"]
print(sorted((x["KeyName"], {t["Key"]: t["Value"] for t in x.get("Tags", [])}.get("econe:owner")) for x in k))
ids = sorted(t["Value"] for r in c.describe_instances()["Reservations"] for i in r["Instances"] for t in i.get("Tags", []) if t["Key"] == "econe:id")
print(ids)
`)
	want := "[('econe-alice-laptop', 'alice')]\n" + "['" + strings.Join(sortedIDs(id, bobRun.Instances[0].InstanceId), "', '") + "']"
	if got != want {
		t.Errorf("moto's state:\n%s\nwant:\n%s", got, want)
	}
}

func sortedIDs(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// TestEC2LaunchRefused: a launch EC2 refuses reaches the student, through
// boto3, with EC2's code.
func TestEC2LaunchRefused(t *testing.T) {
	e, _ := ec2Server(t)
	alice := e.User(t, "alice")
	out, err := e.Boto3(t, alice, `
import boto3, botocore, os
c = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
try:
    c.run_instances(ImageId="ami-12c6146b", InstanceType="lab.broken", MinCount=1, MaxCount=1)
    print("launched")
except botocore.exceptions.ClientError as err:
    print(err.response["Error"]["Code"])
`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out), "InvalidInstanceType.NotFound"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestEC2SecurityGroups: a student's groups and rule changes reach AWS
// namespaced and tagged, with group peers by AWS's ids; the legacy
// by-name forms (hadoop-ec2's) too. Checked in moto's own state.
func TestEC2SecurityGroups(t *testing.T) {
	e, moto := ec2Server(t)
	alice := e.User(t, "alice")
	out, err := e.Boto3(t, alice, `
import boto3, os
c = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
web = c.create_security_group(GroupName="web", Description="web servers")["GroupId"]
db = c.create_security_group(GroupName="db", Description="databases")["GroupId"]
c.authorize_security_group_ingress(GroupId=web, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
c.authorize_security_group_ingress(GroupId=web, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
# The legacy flat form, by names.
c.authorize_security_group_ingress(GroupName="db", SourceSecurityGroupName="web", IpProtocol="tcp", FromPort=5432, ToPort=5432)
c.revoke_security_group_ingress(GroupName="web", IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0")
print(web, db)
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ids := strings.Fields(out)
	if len(ids) != 2 {
		t.Fatalf("got %q, want two group ids", out)
	}
	got := motoBoto3(t, moto, `
import boto3, os
c = boto3.client("ec2", endpoint_url=os.environ["MOTO"])
gs = {g["GroupId"]: g for g in c.describe_security_groups(Filters=[{"Name": "tag:econe:owner", "Values": ["alice"]}])["SecurityGroups"]}
name = {gid: g["GroupName"] for gid, g in gs.items()}
for g in sorted(gs.values(), key=lambda g: g["GroupName"]):
    tags = {t["Key"]: t["Value"] for t in g.get("Tags", [])}
    rules = sorted((p["IpProtocol"], p.get("FromPort"), [r["CidrIp"] for r in p["IpRanges"]], [name.get(u["GroupId"], u["GroupId"]) for u in p["UserIdGroupPairs"]]) for p in g["IpPermissions"])
    print(g["GroupName"], tags.get("econe:id"), tags.get("econe:course"), rules)
`)
	want := "econe-alice-db " + ids[1] + " cs101 [('tcp', 5432, [], ['econe-alice-web'])]\n" +
		"econe-alice-web " + ids[0] + " cs101 [('tcp', 80, ['0.0.0.0/0'], [])]"
	if got != want {
		t.Errorf("moto's groups:\n%s\nwant:\n%s", got, want)
	}

	out, err = e.Boto3(t, alice, `
import boto3, os
c = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
c.delete_security_group(GroupName="db")
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := motoBoto3(t, moto, `
import boto3, os
c = boto3.client("ec2", endpoint_url=os.environ["MOTO"])
print(sorted(g["GroupName"] for g in c.describe_security_groups(Filters=[{"Name": "tag:econe:owner", "Values": ["alice"]}])["SecurityGroups"]))
`); got != "['econe-alice-web']" {
		t.Errorf("after deleting db, moto has %s, want ['econe-alice-web']", got)
	}
}

// TestEC2ElasticIPs: on the ec2 backend a student's elastic IP is a real
// AWS address, tagged, associated with the instance's AWS machine, and
// released in AWS. Checked in moto's own state at each step.
func TestEC2ElasticIPs(t *testing.T) {
	e, moto := ec2Server(t)
	alice := e.User(t, "alice")
	var run struct{ Instances []struct{ InstanceId string } }
	cliJSON(t, e, alice, &run, "ec2", "run-instances", "--image-id", "ami-12c6146b", "--instance-type", "t3.micro")
	id := run.Instances[0].InstanceId
	var alloc struct{ AllocationId, PublicIp string }
	cliJSON(t, e, alice, &alloc, "ec2", "allocate-address", "--domain", "vpc")
	// moto's view: each address as "IP econe:id econe:owner econe:id-of-the-instance".
	view := func() string {
		return motoBoto3(t, moto, `
import boto3, os
c = boto3.client("ec2", endpoint_url=os.environ["MOTO"])
ids = {i["InstanceId"]: t["Value"] for r in c.describe_instances()["Reservations"] for i in r["Instances"] for t in i.get("Tags", []) if t["Key"] == "econe:id"}
for a in c.describe_addresses()["Addresses"]:
    tags = {t["Key"]: t["Value"] for t in a.get("Tags", [])}
    print(a["PublicIp"], tags.get("econe:id"), tags.get("econe:owner"), ids.get(a.get("InstanceId"), "-"))
`)
	}
	steps := []struct {
		name string
		args []string
		want string
	}{
		{"allocated", nil, alloc.PublicIp + " " + alloc.AllocationId + " alice -"},
		{"associated", []string{"associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", id}, alloc.PublicIp + " " + alloc.AllocationId + " alice " + id},
		{"disassociated", []string{"disassociate-address", "--public-ip", alloc.PublicIp}, alloc.PublicIp + " " + alloc.AllocationId + " alice -"},
		{"released", []string{"release-address", "--allocation-id", alloc.AllocationId}, ""},
	}
	for _, s := range steps {
		if s.args != nil {
			if out, err := e.CLI(t, alice, append([]string{"ec2"}, s.args...)...); err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, out)
			}
		}
		if got := view(); got != s.want {
			t.Errorf("%s: moto has %q, want %q", s.name, got, s.want)
		}
		if s.name == "associated" {
			var d struct {
				Addresses []struct{ PublicIp, InstanceId, AllocationId string }
			}
			cliJSON(t, e, alice, &d, "ec2", "describe-addresses")
			if len(d.Addresses) != 1 || d.Addresses[0].InstanceId != id || d.Addresses[0].PublicIp != alloc.PublicIp {
				t.Errorf("describe-addresses: got %+v, want %s on %s", d.Addresses, alloc.PublicIp, id)
			}
		}
	}
}

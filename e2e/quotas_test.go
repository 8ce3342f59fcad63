package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/quota"
)

// The steps every client takes, and the EC2 code each must see ("ok" for
// success): the student may hold one instance of m1.small or t2.micro,
// one address and one volume besides its root; a second student's budget is spent.
var quotaSteps = []struct{ step, want string }{
	{"run", "ok"},
	{"run", "InstanceLimitExceeded"},
	{"run-type", "InvalidParameterValue"},
	{"allocate", "ok"},
	{"allocate", "AddressLimitExceeded"},
	{"volume", "ok"},
	{"volume", "VolumeLimitExceeded"},
	{"budget-run", "ResourceLimitExceeded"},
}

// max_volumes 2: the instance's root volume and one more.
var quotaLimits = quota.Limits{MaxInstances: quota.Int(1), MaxAddresses: quota.Int(1), MaxVolumes: quota.Int(2), InstanceTypes: []string{"m1.small", "t2.micro"}}

// quotaUsers makes the student held to quotaLimits and one whose budget
// (0) is spent.
func quotaUsers(t *testing.T, e *econetest.Env, prefix string) (limited, broke *admin.Credentials) {
	limited, broke = e.User(t, prefix+"-limited"), e.User(t, prefix+"-broke")
	for name, l := range map[string]quota.Limits{limited.Name: quotaLimits, broke.Name: {Budget: new(quota.Money)}} {
		if _, err := e.App.Users.SetQuota(admin.QuotaTarget{User: name}, l); err != nil {
			t.Fatal(err)
		}
	}
	return limited, broke
}

func checkQuotaSteps(t *testing.T, client string, got []string) {
	t.Helper()
	if len(got) != len(quotaSteps) {
		t.Fatalf("%s: got %d answers %v, want %d", client, len(got), got, len(quotaSteps))
	}
	for i, s := range quotaSteps {
		if got[i] != s.want {
			t.Errorf("%s step %d (%s): got %s, want %s", client, i, s.step, got[i], s.want)
		}
	}
}

var cliCode = regexp.MustCompile(`An error occurred \(([A-Za-z.]+)\)`)

func TestQuotaRefusalsCLI(t *testing.T) {
	e := econetest.Start(t)
	limited, broke := quotaUsers(t, e, "cli")
	zone := e.Config.AvailabilityZones[0]
	run := []string{"ec2", "run-instances", "--image-id", "ami-0a1b2c3d4e5f60001", "--count", "1"}
	args := map[string][]string{
		"run":        run,
		"run-type":   append(run, "--instance-type", "c5.xlarge"),
		"allocate":   {"ec2", "allocate-address"},
		"volume":     {"ec2", "create-volume", "--availability-zone", zone, "--size", "1"},
		"budget-run": run,
	}
	var got []string
	for _, s := range quotaSteps {
		who := limited
		if s.step == "budget-run" {
			who = broke
		}
		_, err := e.CLI(t, who, args[s.step]...)
		switch m := cliCode.FindStringSubmatch(fmt.Sprint(err)); {
		case err == nil:
			got = append(got, "ok")
		case m != nil:
			got = append(got, m[1])
		default:
			t.Fatalf("%s: %v", s.step, err)
		}
	}
	checkQuotaSteps(t, "aws cli", got)
}

const boto3QuotaScript = `
import boto3, botocore, os, sys
ec2 = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
zone = sys.argv[1]
def run(**kw):
    return ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1, **kw)
steps = {
    "run": run,
    "run-type": lambda: run(InstanceType="c5.xlarge"),
    "allocate": lambda: ec2.allocate_address(Domain="vpc"),
    "volume": lambda: ec2.create_volume(AvailabilityZone=zone, Size=1),
}
for step in sys.argv[2:]:
    try:
        steps[step]()
        print("ok")
    except botocore.exceptions.ClientError as e:
        print(e.response["Error"]["Code"])
`

const boto2QuotaScript = `
import boto, boto.ec2, os, sys
from boto.exception import EC2ResponseError
from boto.ec2.regioninfo import RegionInfo
host, port = os.environ["ECONE_HOST"].split(":")
conn = boto.ec2.connection.EC2Connection(
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
    region=RegionInfo(name=os.environ["AWS_DEFAULT_REGION"], endpoint=host),
    port=int(port), is_secure=False)
zone = sys.argv[1]
steps = {
    "run": lambda: conn.run_instances("ami-0a1b2c3d4e5f60001", min_count=1, max_count=1),
    "run-type": lambda: conn.run_instances("ami-0a1b2c3d4e5f60001", instance_type="c5.xlarge"),
    "allocate": lambda: conn.allocate_address(),
    "volume": lambda: conn.create_volume(1, zone),
}
for step in sys.argv[2:]:
    try:
        steps[step]()
        print("ok")
    except EC2ResponseError as e:
        print(e.error_code)
`

// TestQuotaRefusalsPython drives boto3 and boto 2 (as the hadoop scripts
// use it) through the same steps.
func TestQuotaRefusalsPython(t *testing.T) {
	e := econetest.Start(t)
	for _, c := range []struct {
		name   string
		script string
		run    func(testing.TB, *admin.Credentials, string) (string, error)
	}{
		{"boto3", boto3QuotaScript, e.Boto3},
		{"boto2", boto2QuotaScript, e.Boto2},
	} {
		t.Run(c.name, func(t *testing.T) {
			limited, broke := quotaUsers(t, e, c.name)
			argv := func(steps ...string) string {
				return fmt.Sprintf("import sys; sys.argv = %s\n", pyList(append([]string{"x", e.Config.AvailabilityZones[0]}, steps...)))
			}
			var steps []string
			for _, s := range quotaSteps[:len(quotaSteps)-1] {
				steps = append(steps, s.step)
			}
			out, err := c.run(t, limited, argv(steps...)+c.script)
			if err != nil {
				t.Fatal(err)
			}
			budget, err := c.run(t, broke, argv("run")+c.script)
			if err != nil {
				t.Fatal(err)
			}
			checkQuotaSteps(t, c.name, strings.Fields(out+budget))
		})
	}
}

func pyList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

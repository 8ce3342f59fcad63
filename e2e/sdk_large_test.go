package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/quota"
)

// TestSDKReadsLargeAnswers describes a student's 100 instances (an answer
// of about 130 KB) over and over with aws-sdk-go-v2 reading the answer
// from the connection as a student's program does, behind the README's
// workaround (econetest.SDKHTTPClient). Without it, 13 to 40 of these 120
// calls failed with "use of closed network connection".
func TestSDKReadsLargeAnswers(t *testing.T) {
	const instances, calls = 100, 120
	e := econetest.Start(t, func(c *conf.Config) { // more than EC2's default limits
		c.Quota.MaxInstances, c.Quota.MaxVCPUs = quota.Int(instances), quota.Int(2*instances)
	})
	c, ctx := e.EC2(e.User(t, "alice")), econetest.Context(t)
	if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(debianAMI), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(instances), MaxCount: aws.Int32(instances),
	}); err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	failed := 0
	for i := range calls {
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			if failed++; failed <= 3 {
				t.Errorf("call %d: %v", i, err)
			}
			continue
		}
		if got := len(instanceIDsOf(out.Reservations)); got != instances {
			t.Fatalf("call %d: got %d instances, want %d", i, got, instances)
		}
	}
	if failed > 0 {
		t.Errorf("DescribeInstances: %d of %d calls failed, want none", failed, calls)
	}
}

package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/econetest"
)

// classicLinkGone is EC2's answer to the ClassicLink describes in a region
// without EC2-Classic.
var classicLinkGone = boto3Failure{Code: "UnsupportedOperation", Status: 400, Message: "The functionality you requested is not available in this region."}

// TestClassicLinkUnsupported: the ClassicLink describes that Ansible's
// ec2_vpc_net_info makes for every VPC get EC2's UnsupportedOperation,
// which the tools read as ClassicLink disabled, from boto3 and
// aws-sdk-go-v2 alike.
func TestClassicLinkUnsupported(t *testing.T) {
	e, alice := start(t)
	for _, method := range []string{"describe_vpc_classic_link", "describe_vpc_classic_link_dns_support"} {
		if got := boto3Error(t, e, alice, "", method); got != classicLinkGone {
			t.Errorf("boto3 %s: got %+v, want %+v", method, got, classicLinkGone)
		}
	}

	ctx := econetest.Context(t)
	client := e.EC2(alice)
	vpcs := []string{"vpc-0123456789abcdef0"}
	sdk := []struct {
		name string
		call func() error
	}{
		{"DescribeVpcClassicLink", func() error {
			_, err := client.DescribeVpcClassicLink(ctx, &ec2.DescribeVpcClassicLinkInput{VpcIds: vpcs})
			return err
		}},
		{"DescribeVpcClassicLinkDnsSupport", func() error {
			_, err := client.DescribeVpcClassicLinkDnsSupport(ctx, &ec2.DescribeVpcClassicLinkDnsSupportInput{VpcIds: vpcs})
			return err
		}},
	}
	for _, tc := range sdk {
		code, status := apiError(tc.call())
		if code != classicLinkGone.Code || status != classicLinkGone.Status {
			t.Errorf("aws-sdk-go-v2 %s: got %s %d, want %s %d", tc.name, code, status, classicLinkGone.Code, classicLinkGone.Status)
		}
	}
}

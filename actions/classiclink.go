package actions

import "github.com/econe/econe-server/ec2err"

// ClassicLink linked EC2-Classic instances to a VPC. EC2-Classic is
// retired and this endpoint never had it, so the describes answer as EC2
// does in a region without EC2-Classic: UnsupportedOperation, with EC2's
// own words, which tools recognise and read as "not enabled" (Ansible's
// ec2_vpc_net_info asks both for every VPC it lists; older Terraform AWS
// providers match the message).
var classicLinkActions = map[string]Handler{
	"DescribeVpcClassicLink":           (*Service).classicLinkUnsupported,
	"DescribeVpcClassicLinkDnsSupport": (*Service).classicLinkUnsupported,
}

func (s *Service) classicLinkUnsupported(*Request) (any, error) {
	return nil, ec2err.New(ec2err.UnsupportedOperation, "The functionality you requested is not available in this region.")
}

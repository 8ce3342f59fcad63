package ec2

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/backend"
)

// findNetwork reads, once at start, the course's network that is every
// student's default VPC: subnet_id's VPC with that subnet, or the
// account's default VPC with its default subnets in the configured zones.
// An account without a default VPC leaves it zero (students then see EC2's
// usual ranges).
func (b *EC2) findNetwork(ctx context.Context) error {
	vpcs := &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}}
	subnets := &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}}
	if b.cfg.SubnetID != "" {
		vpcs = &ec2.DescribeVpcsInput{VpcIds: []string{b.vpcID}}
		subnets = &ec2.DescribeSubnetsInput{SubnetIds: []string{b.cfg.SubnetID}}
	}
	vout, err := b.api.DescribeVpcs(ctx, vpcs)
	if err != nil {
		return fmt.Errorf("ec2: AWS refused DescribeVpcs (the policy must allow ec2:DescribeVpcs): %w", err)
	}
	if len(vout.Vpcs) == 0 {
		return nil
	}
	sout, err := b.api.DescribeSubnets(ctx, subnets)
	if err != nil {
		return fmt.Errorf("ec2: AWS refused DescribeSubnets (the policy must allow ec2:DescribeSubnets): %w", err)
	}
	n := backend.DefaultNetwork{CIDR: aws.ToString(vout.Vpcs[0].CidrBlock), Subnets: map[string]string{}}
	for _, sn := range sout.Subnets {
		if zone := aws.ToString(sn.AvailabilityZone); slices.Contains(b.zones, zone) && aws.ToString(sn.VpcId) == aws.ToString(vout.Vpcs[0].VpcId) {
			n.Subnets[zone] = aws.ToString(sn.CidrBlock)
		}
	}
	b.network = n
	return nil
}

// DefaultNetwork is the backend.Network ability: the course's network.
func (b *EC2) DefaultNetwork() backend.DefaultNetwork { return b.network }

package ec2

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/backend"
)

// Elastic IPs are real AWS addresses, tagged econe:* and mapped from
// econe's allocation ids (eipalloc-…) to AWS's.

var _ backend.Addresses = (*EC2)(nil)

// address is AWS's address for econe's allocation id, nil when AWS has none.
func (b *EC2) address(ctx context.Context, id string) (*types.Address, error) {
	in := &ec2.DescribeAddressesInput{Filters: b.byTag(id)}
	if aid := b.mapped(id); aid != "" {
		in = &ec2.DescribeAddressesInput{AllocationIds: []string{aid}}
	}
	out, err := b.api.DescribeAddresses(ctx, in)
	if code(err) == "InvalidAllocationID.NotFound" {
		return nil, nil
	}
	if err != nil {
		return nil, b.awsError("DescribeAddresses", err)
	}
	if len(out.Addresses) == 0 {
		return nil, nil
	}
	a := out.Addresses[0]
	return &a, b.setID(id, aws.ToString(a.AllocationId))
}

// AllocateAddress allocates a VPC address, or finds the one an earlier
// call for the same id allocated.
func (b *EC2) AllocateAddress(ctx context.Context, spec backend.AddressSpec) (string, error) {
	a, err := b.address(ctx, spec.AllocationID)
	if err != nil {
		return "", err
	}
	if a != nil {
		return aws.ToString(a.PublicIp), nil
	}
	in := &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc,
		TagSpecifications: []types.TagSpecification{b.tagSpec(types.ResourceTypeElasticIp, spec.AllocationID, spec.Owner)}}
	if spec.PublicIP != "" {
		in.Address = aws.String(spec.PublicIP)
	}
	out, err := b.api.AllocateAddress(ctx, in)
	if err != nil {
		return "", b.awsError("AllocateAddress", err)
	}
	return aws.ToString(out.PublicIp), b.setID(spec.AllocationID, aws.ToString(out.AllocationId))
}

// ReleaseAddress releases an address; one AWS does not have is released.
func (b *EC2) ReleaseAddress(ctx context.Context, id string) error {
	a, err := b.address(ctx, id)
	if err != nil || a == nil {
		return err
	}
	if _, err := b.api.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: a.AllocationId}); err != nil && code(err) != "InvalidAllocationID.NotFound" {
		return b.awsError("ReleaseAddress", err)
	}
	return b.forgetID(id)
}

// AssociateAddress binds the address to an instance, from any other.
func (b *EC2) AssociateAddress(ctx context.Context, id, machineID string) error {
	a, err := b.address(ctx, id)
	if err == nil && a == nil {
		err = &backend.Error{Code: "InvalidAllocationID.NotFound", Message: "The allocation ID '" + id + "' does not exist."}
	}
	if err != nil {
		return err
	}
	if aws.ToString(a.InstanceId) == machineID {
		return nil
	}
	_, err = b.api.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: a.AllocationId, InstanceId: aws.String(machineID), AllowReassociation: aws.Bool(true)})
	if err != nil {
		return b.awsError("AssociateAddress", err)
	}
	return nil
}

// DisassociateAddress unbinds the address; one not bound is unbound.
func (b *EC2) DisassociateAddress(ctx context.Context, id string) error {
	a, err := b.address(ctx, id)
	if err != nil || a == nil || a.AssociationId == nil {
		return err
	}
	if _, err := b.api.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: a.AssociationId}); err != nil && code(err) != "InvalidAssociationID.NotFound" {
		return b.awsError("DisassociateAddress", err)
	}
	return nil
}

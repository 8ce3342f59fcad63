package ec2

import (
	"context"
	"net/netip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/backend"
)

// Key pairs: only the public key reaches AWS, named PREFIX-USER-NAME.

// ImportKey imports k's public key; a key AWS already has under its name
// is imported.
func (b *EC2) ImportKey(ctx context.Context, k backend.KeySpec) error {
	name := b.name(k.Owner, k.Name)
	// Mapped first, so that a deletion after a crash finds it.
	if err := b.setID(k.KeyID, name); err != nil {
		return err
	}
	_, err := b.api.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String(name), PublicKeyMaterial: []byte(k.PublicKey),
		TagSpecifications: []types.TagSpecification{b.tagSpec(types.ResourceTypeKeyPair, k.KeyID, k.Owner)}})
	if err != nil && code(err) != "InvalidKeyPair.Duplicate" {
		return b.awsError("ImportKeyPair", err)
	}
	return nil
}

// DeleteKey deletes a key; one AWS does not have is deleted.
func (b *EC2) DeleteKey(ctx context.Context, keyID string) error {
	name := b.mapped(keyID)
	if name == "" {
		out, err := b.api.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: b.byTag(keyID)})
		if err != nil {
			return b.awsError("DescribeKeyPairs", err)
		}
		if len(out.KeyPairs) == 0 {
			return nil
		}
		name = aws.ToString(out.KeyPairs[0].KeyName)
	}
	if _, err := b.api.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String(name)}); err != nil && code(err) != "InvalidKeyPair.NotFound" {
		return b.awsError("DeleteKeyPair", err)
	}
	return b.forgetID(keyID)
}

// Security groups: named PREFIX-USER-NAME in AWS, mapped from econe's ids.

// group is AWS's id for econe's group id, "" when AWS has none.
func (b *EC2) group(ctx context.Context, id string) (string, error) {
	if aid := b.mapped(id); aid != "" {
		return aid, nil
	}
	return b.findGroup(ctx, b.byTag(id), id)
}

// findGroup maps id to the one group filters find ("" for none).
func (b *EC2) findGroup(ctx context.Context, filters []types.Filter, id string) (string, error) {
	out, err := b.api.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filters})
	if err != nil {
		return "", b.awsError("DescribeSecurityGroups", err)
	}
	if len(out.SecurityGroups) == 0 {
		return "", nil
	}
	aid := aws.ToString(out.SecurityGroups[0].GroupId)
	return aid, b.setID(id, aid)
}

func (b *EC2) mustGroup(ctx context.Context, id string) (string, error) {
	aid, err := b.group(ctx, id)
	if err == nil && aid == "" {
		err = &backend.Error{Code: "InvalidGroup.NotFound", Message: "The security group '" + id + "' does not exist."}
	}
	return aid, err
}

// CreateGroup creates g, or finds the group an earlier call made.
func (b *EC2) CreateGroup(ctx context.Context, g backend.GroupSpec) error {
	if aid, err := b.group(ctx, g.GroupID); err != nil || aid != "" {
		return err
	}
	name, desc := b.name(g.Owner, g.Name), g.Description
	if desc == "" {
		desc = g.Name
	}
	in := &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(desc),
		TagSpecifications: []types.TagSpecification{b.tagSpec(types.ResourceTypeSecurityGroup, g.GroupID, g.Owner)}}
	if b.vpcID != "" {
		in.VpcId = aws.String(b.vpcID)
	}
	out, err := b.api.CreateSecurityGroup(ctx, in)
	if code(err) == "InvalidGroup.Duplicate" {
		// Made by a call whose answer was lost before its tags were read.
		_, err = b.findGroup(ctx, []types.Filter{{Name: aws.String("group-name"), Values: []string{name}}}, g.GroupID)
		return err
	}
	if err != nil {
		return b.awsError("CreateSecurityGroup", err)
	}
	return b.setID(g.GroupID, aws.ToString(out.GroupId))
}

// DeleteGroup deletes a group; one AWS does not have is deleted.
func (b *EC2) DeleteGroup(ctx context.Context, id string) error {
	aid, err := b.group(ctx, id)
	if err != nil || aid == "" {
		return err
	}
	if _, err := b.api.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(aid)}); err != nil && code(err) != "InvalidGroup.NotFound" {
		return b.awsError("DeleteSecurityGroup", err)
	}
	return b.forgetID(id)
}

// Authorize adds rules, one call each so that one AWS already has does
// not refuse the others.
func (b *EC2) Authorize(ctx context.Context, id string, rules []backend.Rule) error {
	return b.eachRule(ctx, id, rules, "InvalidPermission.Duplicate", func(aid string, r backend.Rule, p types.IpPermission) error {
		var err error
		if r.Egress {
			_, err = b.api.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(aid), IpPermissions: []types.IpPermission{p}})
		} else {
			_, err = b.api.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(aid), IpPermissions: []types.IpPermission{p}})
		}
		return err
	})
}

// Revoke removes rules; one AWS does not have is removed.
func (b *EC2) Revoke(ctx context.Context, id string, rules []backend.Rule) error {
	return b.eachRule(ctx, id, rules, "InvalidPermission.NotFound", func(aid string, r backend.Rule, p types.IpPermission) error {
		var err error
		if r.Egress {
			_, err = b.api.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(aid), IpPermissions: []types.IpPermission{p}})
		} else {
			_, err = b.api.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(aid), IpPermissions: []types.IpPermission{p}})
		}
		return err
	})
}

// eachRule calls fn for each of rules as AWS's permission on group id's
// AWS group, taking the AWS code done as success.
func (b *EC2) eachRule(ctx context.Context, id string, rules []backend.Rule, done string, fn func(aid string, r backend.Rule, p types.IpPermission) error) error {
	aid, err := b.mustGroup(ctx, id)
	if err != nil {
		return err
	}
	for _, r := range rules {
		p, err := b.permission(ctx, r)
		if err != nil {
			return err
		}
		if err := fn(aid, r, p); err != nil && code(err) != done {
			return b.awsError("security group rule", err)
		}
	}
	return nil
}

// permission is r in AWS's words, its peer group by AWS's id.
func (b *EC2) permission(ctx context.Context, r backend.Rule) (types.IpPermission, error) {
	p := types.IpPermission{IpProtocol: aws.String(r.Protocol)}
	switch r.Protocol {
	case "tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58":
		p.FromPort, p.ToPort = aws.Int32(int32(r.FromPort)), aws.Int32(int32(r.ToPort))
	}
	switch {
	case r.GroupID != "":
		peer, err := b.mustGroup(ctx, r.GroupID)
		if err != nil {
			return p, err
		}
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: aws.String(peer)}}
	case r.PrefixListID != "":
		p.PrefixListIds = []types.PrefixListId{{PrefixListId: aws.String(r.PrefixListID)}}
	default:
		if pfx, err := netip.ParsePrefix(r.CIDR); err == nil && pfx.Addr().Is6() {
			p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(r.CIDR)}}
		} else {
			p.IpRanges = []types.IpRange{{CidrIp: aws.String(r.CIDR)}}
		}
	}
	return p, nil
}

// launchGroups are AWS's ids of a launch's groups, creating (with their
// rules) those never created in AWS, such as the implicit default group.
func (b *EC2) launchGroups(ctx context.Context, owner string, groups []backend.SecurityGroup) ([]string, error) {
	var fresh []backend.SecurityGroup
	for _, g := range groups {
		aid, err := b.group(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		if aid == "" {
			if err := b.CreateGroup(ctx, backend.GroupSpec{GroupID: g.ID, Owner: owner, Name: g.Name}); err != nil {
				return nil, err
			}
			fresh = append(fresh, g)
		}
	}
	// Rules after every group exists: they may name one another.
	for _, g := range fresh {
		if err := b.Authorize(ctx, g.ID, g.Rules); err != nil {
			return nil, err
		}
	}
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = b.mapped(g.ID)
	}
	return ids, nil
}

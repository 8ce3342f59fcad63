package store

// SecurityGroup is a student's security group with its rules. Records are
// keyed OWNER/sg-…; names are unique per VPC, and the index
// security_group_names finds a group by name without decoding the others:
// OWNER/NAME for the groups of the default VPC (the ones EC2 lets a
// GroupName parameter name; RunInstances resolves names on every launch),
// OWNER/vpc-…/NAME for those of the student's other VPCs.
type SecurityGroup struct {
	ID          string `json:"id"`
	Owner       string `json:"owner"`
	Name        string `json:"name"`
	Description string `json:"description"`
	VpcID       string `json:"vpc_id"`
	Ingress     []Rule `json:"ingress,omitempty"`
	Egress      []Rule `json:"egress,omitempty"`
	// Pending are the backend changes in flight (their intents), in the
	// order they were made; each is removed once the backend answered.
	Pending []GroupChange `json:"pending,omitempty"`
}

// GroupChange is one change of a group a backend with the SecurityGroups
// ability is to make: the group's creation or deletion, or rules of one
// direction authorized or revoked.
type GroupChange struct {
	ID     string `json:"id"`
	Op     string `json:"op"` // GroupCreating | GroupDeleting | RulesAuthorizing | RulesRevoking
	Egress bool   `json:"egress,omitzero"`
	Rules  []Rule `json:"rules,omitempty"`
}

// The backend changes a security group's record may be waiting on.
const (
	GroupCreating    = "creating"
	GroupDeleting    = "deleting"
	RulesAuthorizing = "authorizing"
	RulesRevoking    = "revoking"
)

// Rule is one security group rule (sgr-…): a protocol and port range with
// exactly one peer, the way EC2 models rules since rule ids exist. EC2's
// IpPermission lists are these rules grouped by protocol and ports.
type Rule struct {
	ID       string `json:"id"`
	Protocol string `json:"protocol"` // tcp | udp | icmp | icmpv6 | -1 | a protocol number
	// FromPort and ToPort are the port range (tcp, udp) or the ICMP type
	// and code (-1 = all); both are 0 for protocols without ports.
	FromPort int `json:"from_port"`
	ToPort   int `json:"to_port"`
	// The peer: exactly one of these is set.
	CIDRv4       string `json:"cidr_v4,omitempty"`
	CIDRv6       string `json:"cidr_v6,omitempty"`
	PrefixListID string `json:"prefix_list_id,omitempty"`
	GroupID      string `json:"group_id,omitempty"` // one of the owner's groups
	Description  string `json:"description,omitempty"`
}

// SamePermission reports whether two rules allow the same traffic from the
// same peer (descriptions and ids aside): EC2's notion of a duplicate.
func (r Rule) SamePermission(o Rule) bool {
	return r.Protocol == o.Protocol && r.FromPort == o.FromPort && r.ToPort == o.ToPort &&
		r.CIDRv4 == o.CIDRv4 && r.CIDRv6 == o.CIDRv6 && r.PrefixListID == o.PrefixListID && r.GroupID == o.GroupID
}

// LegacyVpcID is the VPC id every group had before each student had a
// default VPC of their own: such a group is in the student's default VPC
// (the default VPC's creation moves it there).
const LegacyVpcID = "vpc-0ec0e000000000000"

// InDefaultVPC reports whether the group is in its owner's default VPC.
func (g *SecurityGroup) InDefaultVPC() bool {
	return g.VpcID == "" || g.VpcID == LegacyVpcID || g.VpcID == DefaultVPCID(g.Owner)
}

func groupNameKey(g *SecurityGroup) string {
	if g.InDefaultVPC() {
		return OwnedKey(g.Owner, g.Name)
	}
	return OwnedKey(g.Owner, g.VpcID+"/"+g.Name)
}

// GetSecurityGroup loads one of the user's groups by id; nil when absent.
func GetSecurityGroup(tx Tx, owner, id string) (*SecurityGroup, error) {
	return GetOwned[SecurityGroup](tx, BucketSecurityGroups, owner, id)
}

// SecurityGroupByName finds the user's group called name in their default
// VPC; nil when absent.
// DefaultGroupRefs are the keys SecurityGroupByName(owner, name) reads
// for the default VPC's default group (named name, its id derived), for
// Prefetch.
func DefaultGroupRefs(owner, name string) []Ref {
	vpc := DefaultVPCID(owner)
	return []Ref{{Bucket: BucketSecurityGroupNames, Key: groupNameKey(&SecurityGroup{Owner: owner, VpcID: vpc, Name: name})},
		{Bucket: BucketSecurityGroups, Key: OwnedKey(owner, DefaultGroupID(owner, vpc))}}
}

func SecurityGroupByName(tx Tx, owner, name string) (*SecurityGroup, error) {
	return SecurityGroupInVPC(tx, owner, DefaultVPCID(owner), name)
}

// SecurityGroupInVPC finds the user's group called name in VPC vpcID; nil
// when absent.
func SecurityGroupInVPC(tx Tx, owner, vpcID, name string) (*SecurityGroup, error) {
	id := tx.Get(BucketSecurityGroupNames, groupNameKey(&SecurityGroup{Owner: owner, VpcID: vpcID, Name: name}))
	if id == nil {
		return nil, nil
	}
	return GetSecurityGroup(tx, owner, string(id))
}

// PutSecurityGroup stores a group (groups are never renamed, and move
// only from LegacyVpcID to the default VPC's id, under the same name key).
func PutSecurityGroup(tx Tx, g *SecurityGroup) error {
	if err := tx.Put(BucketSecurityGroupNames, groupNameKey(g), []byte(g.ID)); err != nil {
		return err
	}
	return counted(tx, BucketSecurityGroups, g.Owner, g.ID, g, countGroup)
}

// DeleteSecurityGroup removes a group, its name and its tags.
func DeleteSecurityGroup(tx Tx, owner, id string) error {
	g, err := GetSecurityGroup(tx, owner, id)
	if err != nil || g == nil {
		return err
	}
	if err := tx.Delete(BucketSecurityGroupNames, groupNameKey(g)); err != nil {
		return err
	}
	return counted[SecurityGroup](tx, BucketSecurityGroups, owner, id, nil, countGroup)
}

// ListSecurityGroups returns all of the user's groups in id order.
func ListSecurityGroups(tx Tx, owner string) ([]*SecurityGroup, error) {
	return ListOwned[SecurityGroup](tx, BucketSecurityGroups, owner)
}

// GroupOfRule finds the owner's group that has the rule ruleID (sgr-…) in
// either direction; nil when none has. Rules have no index of their own:
// they live in their group's record, so this is one scan of the owner's
// groups.
func GroupOfRule(tx Tx, owner, ruleID string) (*SecurityGroup, error) {
	var found *SecurityGroup
	err := ScanJSON(tx, BucketSecurityGroups, OwnerPrefix(owner), func(_ string, g *SecurityGroup) error {
		if _, _, ok := g.Rule(ruleID); ok {
			found = g
			return ErrStop
		}
		return nil
	})
	return found, err
}

// Rule finds one of the group's rules by id: its index in its direction's
// list and whether that is egress.
func (g *SecurityGroup) Rule(ruleID string) (i int, egress, ok bool) {
	for _, egress := range []bool{false, true} {
		rules := g.Ingress
		if egress {
			rules = g.Egress
		}
		for i, r := range rules {
			if r.ID == ruleID {
				return i, egress, true
			}
		}
	}
	return 0, false, false
}

// GroupInUse reports whether any of the user's instances that is not
// terminated is in the group: such a group cannot be deleted.
func GroupInUse(tx Tx, owner, groupID string) (bool, error) {
	inUse := false
	err := ScanJSON(tx, BucketInstances, OwnerPrefix(owner), func(_ string, inst *Instance) error {
		if inst.State == "terminated" {
			return nil
		}
		for _, g := range inst.Groups {
			if g.ID == groupID {
				inUse = true
				return ErrStop
			}
		}
		return nil
	})
	return inUse, err
}

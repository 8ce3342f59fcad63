package actions

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

var securityGroupActions = map[string]Handler{
	"CreateSecurityGroup":           (*Service).createSecurityGroup,
	"DescribeSecurityGroups":        (*Service).describeSecurityGroups,
	"DeleteSecurityGroup":           (*Service).deleteSecurityGroup,
	"AuthorizeSecurityGroupIngress": func(s *Service, r *Request) (any, error) { return s.authorize(r, false) },
	"AuthorizeSecurityGroupEgress":  func(s *Service, r *Request) (any, error) { return s.authorize(r, true) },
	"RevokeSecurityGroupIngress":    func(s *Service, r *Request) (any, error) { return s.revoke(r, false) },
	"RevokeSecurityGroupEgress":     func(s *Service, r *Request) (any, error) { return s.revoke(r, true) },
	"DescribeSecurityGroupRules":    (*Service).describeSecurityGroupRules,
	// groups_rules.go
	"ModifySecurityGroupRules":                   (*Service).modifySecurityGroupRules,
	"UpdateSecurityGroupRuleDescriptionsIngress": func(s *Service, r *Request) (any, error) { return s.updateRuleDescriptions(r, false) },
	"UpdateSecurityGroupRuleDescriptionsEgress":  func(s *Service, r *Request) (any, error) { return s.updateRuleDescriptions(r, true) },
}

const (
	defaultGroupName        = "default"
	defaultGroupDescription = "default VPC security group"
	maxGroupNameLen         = 255
	maxRulesPerDirection    = 60 // EC2's default quota per group and direction
	// apiRuleSets is the first API version with rule ids and rule sets in
	// answers; older clients get the classic shapes.
	apiRuleSets = DefaultVersion
	// apiVPC is the API version that introduced VPC groups (vpcId, egress).
	apiVPC = "2011-01-01"
)

// Every VPC has a group "default", made with it; the student's default
// group is the default VPC's, made with that VPC on first use: in the
// transaction that first needs it, or (for read-only calls) just before.

func newDefaultGroup(owner, vpcID string) *store.SecurityGroup {
	id := store.DefaultGroupID(owner, vpcID)
	return &store.SecurityGroup{
		ID: id, Owner: owner, Name: defaultGroupName, Description: defaultGroupDescription, VpcID: vpcID,
		Ingress: []store.Rule{{ID: store.NewID("sgr"), Protocol: "-1", GroupID: id}},
		Egress:  []store.Rule{allowAllEgress()},
	}
}

// allowAllEgress is the outbound rule every new VPC group starts with.
func allowAllEgress() store.Rule {
	return store.Rule{ID: store.NewID("sgr"), Protocol: "-1", CIDRv4: "0.0.0.0/0"}
}

// ensureDefaultGroup returns the owner's default group, making the default
// VPC with it if missing (tx must then be writable).
func (s *Service) ensureDefaultGroup(tx store.Tx, owner string) (*store.SecurityGroup, error) {
	vpcID := store.DefaultVPCID(owner)
	// Every launch comes here: the VPC is made when missing, and otherwise
	// not decoded.
	if tx.Get(store.BucketVPCs, store.OwnedKey(owner, vpcID)) == nil {
		if _, err := s.defaultVPC(tx, owner); err != nil {
			return nil, err
		}
	}
	g, err := store.SecurityGroupInVPC(tx, owner, vpcID, defaultGroupName)
	if err == nil && g == nil {
		g = newDefaultGroup(owner, vpcID)
		err = store.PutSecurityGroup(tx, g)
	}
	return g, err
}

// findGroup resolves GroupId (preferred) or GroupName to one of the
// owner's groups.
func findGroup(tx store.Tx, owner, id, name string) (*store.SecurityGroup, error) {
	if id != "" {
		if err := checkIDs([]string{id}, "sg", ec2err.InvalidGroupIDMalformed); err != nil {
			return nil, err
		}
		g, err := store.GetSecurityGroup(tx, owner, id)
		if err == nil && g == nil {
			err = ec2err.New(ec2err.InvalidGroupNotFound, "The security group '%s' does not exist", id)
		}
		return g, err
	}
	if name == "" {
		return nil, ec2err.Missing("GroupId")
	}
	g, err := store.SecurityGroupByName(tx, owner, name)
	if err == nil && g == nil {
		err = ec2err.New(ec2err.InvalidGroupNotFound, "The security group '%s' does not exist in default VPC '%s'", name, store.DefaultVPCID(owner))
	}
	return g, err
}

// changeGroup changes a group the one way (see groups_backend.go): record
// checks the change and records it in one Store.Update, returning the
// group and the change it intends for the backend (nil if none), which is
// then made there. It returns the group.
func (s *Service) changeGroup(r *Request, record func(tx store.Tx) (*store.SecurityGroup, *store.GroupChange, error)) (*store.SecurityGroup, error) {
	var g *store.SecurityGroup
	var c *store.GroupChange
	err := s.Store.Update(func(tx store.Tx) (err error) {
		g, c, err = record(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, s.groupInBackend(r.Context, g, c)
}

// CreateSecurityGroup

type createSecurityGroupResponse struct {
	Meta
	Return  bool     `xml:"return"`
	GroupID string   `xml:"groupId"`
	Tags    []tagXML `xml:"tagSet>item"`
	ARN     string   `xml:"securityGroupArn,omitempty"`
}

func (s *Service) createSecurityGroup(r *Request) (any, error) {
	name, err := r.Params.Required("GroupName")
	if err != nil {
		return nil, err
	}
	description, err := r.Params.Required("GroupDescription")
	if err != nil {
		return nil, err
	}
	if err := checkGroupName(name, description); err != nil {
		return nil, err
	}
	vpcID := r.Params.String("VpcId")
	tags, err := tagSpecTags(r.Params, "security-group")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	g := &store.SecurityGroup{
		ID: store.NewID("sg"), Owner: owner, Name: name, Description: description,
		Egress: []store.Rule{allowAllEgress()},
	}
	created := s.intend(g, store.GroupCreating, true, g.Egress)
	_, err = s.changeGroup(r, func(tx store.Tx) (*store.SecurityGroup, *store.GroupChange, error) {
		v, err := s.defaultVPC(tx, owner)
		if err == nil && vpcID != "" {
			v, err = s.vpcByID(tx, owner, vpcID)
		}
		if err == nil && !v.IsDefault && s.Backend.SecurityGroups != nil {
			err = ec2err.New(ec2err.UnsupportedOperation, "On this course's cloud security groups live in your default VPC %s: leave out VpcId.", store.DefaultVPCID(owner))
		}
		if err != nil {
			return nil, nil, err
		}
		g.VpcID = v.ID
		if dup, err := store.SecurityGroupInVPC(tx, owner, v.ID, name); err != nil || dup != nil {
			if err == nil {
				err = ec2err.New(ec2err.InvalidGroupDuplicate, "The security group '%s' already exists for VPC '%s'", name, v.ID)
			}
			return nil, nil, err
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{SecurityGroups: 1}); err != nil {
			return nil, nil, err
		}
		if err := store.PutSecurityGroup(tx, g); err != nil {
			return nil, nil, err
		}
		return g, created, putTags(tx, owner, g.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	resp := &createSecurityGroupResponse{Return: true, GroupID: g.ID, Tags: tagsXML(tags)}
	if !r.Before(apiRuleSets) {
		resp.ARN = s.groupARN(r.User, g.ID)
	}
	return resp, nil
}

func checkGroupName(name, description string) error {
	switch {
	case len(name) > maxGroupNameLen:
		return ec2err.BadValue("GroupName", name, fmt.Sprintf("Security group names are at most %d characters.", maxGroupNameLen))
	case strings.HasPrefix(strings.ToLower(name), "sg-"):
		return ec2err.BadValue("GroupName", name, "Security group names cannot start with 'sg-' (that is how group ids look).")
	case name == defaultGroupName:
		return ec2err.New(ec2err.InvalidGroupReserved, "The security group name 'default' is reserved: you already have a group called default.")
	case len(description) > maxGroupNameLen:
		return ec2err.BadValue("GroupDescription", description, fmt.Sprintf("Descriptions are at most %d characters.", maxGroupNameLen))
	}
	return nil
}

func (s *Service) groupARN(u *store.User, id string) string {
	return "arn:aws:ec2:" + s.Config.Region + ":" + u.AccountID + ":security-group/" + id
}

// DescribeSecurityGroups

type securityGroupXML struct {
	GroupID string `xml:"groupId"`
	// Egress is nil, and absent, for clients older than VPCs.
	Egress      *itemSet[ipPermissionXML] `xml:"ipPermissionsEgress,omitempty"`
	Tags        []tagXML                  `xml:"tagSet>item"`
	VpcID       string                    `xml:"vpcId,omitempty"`
	ARN         string                    `xml:"securityGroupArn,omitempty"`
	OwnerID     string                    `xml:"ownerId"`
	GroupName   string                    `xml:"groupName"`
	Description string                    `xml:"groupDescription"`
	Ingress     []ipPermissionXML         `xml:"ipPermissions>item"`
}

// itemSet is an EC2 list (<x><item/>…</x>) that only some API versions
// have: a nil *itemSet is left out, while an empty slice field would still
// write its wrapper element.
type itemSet[T any] struct {
	Items []T `xml:"item"`
}

type ipPermissionXML struct {
	IPProtocol    string          `xml:"ipProtocol"`
	FromPort      *int            `xml:"fromPort,omitempty"`
	ToPort        *int            `xml:"toPort,omitempty"`
	Groups        []groupPairXML  `xml:"groups>item"`
	IPRanges      []ipRangeXML    `xml:"ipRanges>item"`
	IPv6Ranges    []ipv6RangeXML  `xml:"ipv6Ranges>item"`
	PrefixListIDs []prefixListXML `xml:"prefixListIds>item"`
}

type groupPairXML struct {
	Description string `xml:"description,omitempty"`
	UserID      string `xml:"userId"`
	GroupName   string `xml:"groupName,omitempty"`
	GroupID     string `xml:"groupId"`
}

type ipRangeXML struct {
	Description string `xml:"description,omitempty"`
	CIDR        string `xml:"cidrIp"`
}

type ipv6RangeXML struct {
	Description string `xml:"description,omitempty"`
	CIDR        string `xml:"cidrIpv6"`
}

type prefixListXML struct {
	Description string `xml:"description,omitempty"`
	ID          string `xml:"prefixListId"`
}

type describeSecurityGroupsResponse struct {
	Meta
	NextToken string             `xml:"nextToken,omitempty"`
	Groups    []securityGroupXML `xml:"securityGroupInfo>item"`
}

func (s *Service) describeSecurityGroups(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, groupAttrs(&store.SecurityGroup{}, nil, "", nil)); err != nil {
		return nil, err
	}
	owner := r.User.Name
	if err := s.ensureDefaultNetwork(owner); err != nil {
		return nil, err
	}
	names, ids := r.Params.List("GroupName"), r.Params.List("GroupId")
	resp := &describeSecurityGroupsResponse{}
	err = s.Store.View(func(tx store.Tx) error {
		all, err := store.ListSecurityGroups(tx, owner)
		if err != nil {
			return err
		}
		if err := checkGroupsExist(tx, owner, names, ids); err != nil {
			return err
		}
		nameOf := make(map[string]string, len(all)) // for the ip-permission.group-name filters
		for _, g := range all {
			nameOf[g.ID] = g.Name
		}
		var picked []*store.SecurityGroup
		var pickedTags [][]store.Tag
		for _, g := range all {
			// GroupName.N names groups of the default VPC, as in EC2.
			if len(names) > 0 && !(contains(names, g.Name) && g.InDefaultVPC()) || len(ids) > 0 && !contains(ids, g.ID) {
				continue
			}
			tags, err := store.Tags(tx, owner, g.ID)
			if err != nil {
				return err
			}
			if matchFilters(filters, groupAttrs(g, tags, r.User.AccountID, nameOf)) {
				picked, pickedTags = append(picked, g), append(pickedTags, tags)
			}
		}
		page, err := paginate(len(picked), func(i int) string { return picked[i].ID }, r.Params, 5, 1000)
		if err != nil {
			return err
		}
		view := s.newGroupView(r, all)
		resp.NextToken, resp.Groups = page.NextToken, nil
		for i := page.Start; i < page.End; i++ {
			resp.Groups = append(resp.Groups, view.group(picked[i], pickedTags[i]))
		}
		return nil
	})
	return resp, err
}

func checkGroupsExist(tx store.Tx, owner string, names, ids []string) error {
	for _, id := range ids {
		if _, err := findGroup(tx, owner, id, ""); err != nil {
			return err
		}
	}
	for _, n := range names {
		if _, err := findGroup(tx, owner, "", n); err != nil {
			return err
		}
	}
	return nil
}

// groupView renders groups in the shape of the request's API version.
type groupView struct {
	s       *Service
	user    *store.User
	old     bool              // before rule ids: classic shapes, group names in pairs
	classic bool              // before VPCs: no vpcId, no egress
	nameOf  map[string]string // group id -> name, for group pairs
}

func (s *Service) newGroupView(r *Request, all []*store.SecurityGroup) *groupView {
	names := make(map[string]string, len(all))
	for _, g := range all {
		names[g.ID] = g.Name
	}
	return &groupView{s: s, user: r.User, old: r.Before(apiRuleSets), classic: r.Before(apiVPC), nameOf: names}
}

func (v *groupView) group(g *store.SecurityGroup, tags []store.Tag) securityGroupXML {
	out := securityGroupXML{
		GroupID: g.ID, Tags: tagsXML(tags), OwnerID: v.user.AccountID, GroupName: g.Name,
		Description: g.Description, Ingress: v.permissions(g.Ingress),
	}
	if !v.classic {
		out.VpcID, out.Egress = g.VpcID, &itemSet[ipPermissionXML]{v.permissions(g.Egress)}
	}
	if !v.old {
		out.ARN = v.s.groupARN(v.user, g.ID)
	}
	return out
}

// permissions groups rules into EC2's IpPermission list: one entry per
// protocol and port range, in the order the ranges first appear, each
// listing its peers. A classic group-pair grant (three rules: tcp, udp and
// icmp from one group) therefore renders as the three entries EC2 showed.
func (v *groupView) permissions(rules []store.Rule) []ipPermissionXML {
	var out []ipPermissionXML
	index := map[string]int{}
	for _, rule := range rules {
		k := rule.Protocol + "/" + strconv.Itoa(rule.FromPort) + "/" + strconv.Itoa(rule.ToPort)
		i, seen := index[k]
		if !seen {
			i = len(out)
			index[k] = i
			out = append(out, ipPermissionXML{IPProtocol: rule.Protocol})
			if hasPorts(rule.Protocol) {
				out[i].FromPort, out[i].ToPort = intPtr(rule.FromPort), intPtr(rule.ToPort)
			}
		}
		v.addPeer(&out[i], rule)
	}
	return out
}

func (v *groupView) addPeer(p *ipPermissionXML, rule store.Rule) {
	switch {
	case rule.CIDRv4 != "":
		p.IPRanges = append(p.IPRanges, ipRangeXML{rule.Description, rule.CIDRv4})
	case rule.CIDRv6 != "":
		p.IPv6Ranges = append(p.IPv6Ranges, ipv6RangeXML{rule.Description, rule.CIDRv6})
	case rule.PrefixListID != "":
		p.PrefixListIDs = append(p.PrefixListIDs, prefixListXML{rule.Description, rule.PrefixListID})
	default:
		pair := groupPairXML{Description: rule.Description, UserID: v.user.AccountID, GroupID: rule.GroupID}
		if v.old {
			pair.GroupName = v.nameOf[rule.GroupID]
		}
		p.Groups = append(p.Groups, pair)
	}
}

func intPtr(n int) *int { return &n }

// hasPorts reports whether a protocol's rules carry ports (or ICMP type
// and code); other protocols apply to all traffic of the protocol.
func hasPorts(protocol string) bool {
	switch protocol {
	case "tcp", "udp", "icmp", "icmpv6":
		return true
	}
	return false
}

// groupAttrs answers DescribeSecurityGroups' filters.
// nameOf gives the names of the groups rules refer to.
func groupAttrs(g *store.SecurityGroup, tags []store.Tag, accountID string, nameOf map[string]string) Attrs {
	return func(name string) ([]string, bool) {
		switch name {
		case "group-id":
			return []string{g.ID}, true
		case "group-name":
			return []string{g.Name}, true
		case "description":
			return []string{g.Description}, true
		case "vpc-id":
			return []string{g.VpcID}, true
		case "owner-id":
			return []string{accountID}, true
		}
		if field, ok := strings.CutPrefix(name, "egress.ip-permission."); ok {
			return ruleAttr(g.Egress, field, accountID, nameOf)
		}
		if field, ok := strings.CutPrefix(name, "ip-permission."); ok {
			return ruleAttr(g.Ingress, field, accountID, nameOf)
		}
		return tagAttrs(tags, name)
	}
}

// ruleAttr is one ip-permission.* filter over a group's rules.
func ruleAttr(rules []store.Rule, field, accountID string, nameOf map[string]string) ([]string, bool) {
	pick := map[string]func(store.Rule) string{
		"cidr":           func(r store.Rule) string { return r.CIDRv4 },
		"ipv6-cidr":      func(r store.Rule) string { return r.CIDRv6 },
		"prefix-list-id": func(r store.Rule) string { return r.PrefixListID },
		"group-id":       func(r store.Rule) string { return r.GroupID },
		"group-name":     func(r store.Rule) string { return nameOf[r.GroupID] },
		"protocol":       func(r store.Rule) string { return r.Protocol },
		"from-port":      func(r store.Rule) string { return portText(r, r.FromPort) },
		"to-port":        func(r store.Rule) string { return portText(r, r.ToPort) },
		"user-id": func(r store.Rule) string {
			if r.GroupID == "" {
				return ""
			}
			return accountID
		},
	}[field]
	if pick == nil {
		return nil, false
	}
	var out []string
	for _, r := range rules {
		if v := pick(r); v != "" {
			out = append(out, v)
		}
	}
	return out, true
}

func portText(r store.Rule, port int) string {
	if !hasPorts(r.Protocol) {
		return ""
	}
	return strconv.Itoa(port)
}

// DeleteSecurityGroup

type deleteSecurityGroupResponse struct {
	Meta
	Return  bool   `xml:"return"`
	GroupID string `xml:"groupId,omitempty"`
}

func (s *Service) deleteSecurityGroup(r *Request) (any, error) {
	id, name := r.Params.String("GroupId"), r.Params.String("GroupName")
	if id == "" && name == "" {
		return nil, ec2err.Missing("GroupId")
	}
	if err := s.settle(r); err != nil {
		return nil, err
	}
	owner := r.User.Name
	deleted, err := s.changeGroup(r, func(tx store.Tx) (*store.SecurityGroup, *store.GroupChange, error) {
		g, err := findGroup(tx, owner, id, name)
		if err != nil {
			return nil, nil, err
		}
		if err := checkDeletable(tx, g); err != nil {
			return nil, nil, err
		}
		if err := r.DryRun(); err != nil {
			return nil, nil, err
		}
		if change := s.intend(g, store.GroupDeleting, false, nil); change != nil {
			return g, change, store.PutSecurityGroup(tx, g)
		}
		if err := deleteRuleTags(tx, owner, g.Ingress, g.Egress); err != nil {
			return nil, nil, err
		}
		return g, nil, store.DeleteSecurityGroup(tx, owner, g.ID)
	})
	if err != nil {
		return nil, err
	}
	resp := &deleteSecurityGroupResponse{Return: true}
	if !r.Before(apiRuleSets) {
		resp.GroupID = deleted.ID
	}
	return resp, nil
}

// checkDeletable refuses the default group, a group an instance is in,
// and a group another group's rules refer to, as EC2 does.
func checkDeletable(tx store.Tx, g *store.SecurityGroup) error {
	if g.Name == defaultGroupName {
		return ec2err.New(ec2err.CannotDelete, "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
	}
	inUse, err := store.GroupInUse(tx, g.Owner, g.ID)
	if err != nil {
		return err
	}
	if inUse {
		return ec2err.New(ec2err.DependencyViolation, "resource %s has a dependent object: an instance that is not terminated is in this group", g.ID)
	}
	all, err := store.ListSecurityGroups(tx, g.Owner)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.ID != g.ID && (refersTo(o.Ingress, g.ID) || refersTo(o.Egress, g.ID)) {
			return ec2err.New(ec2err.DependencyViolation, "resource %s has a dependent object: rules of group %s (%s) refer to it", g.ID, o.ID, o.Name)
		}
	}
	return nil
}

func refersTo(rules []store.Rule, groupID string) bool {
	return slices.ContainsFunc(rules, func(r store.Rule) bool { return r.GroupID == groupID })
}

func deleteRuleTags(tx store.Tx, owner string, ruleLists ...[]store.Rule) error {
	for _, rules := range ruleLists {
		for _, rule := range rules {
			if err := store.DeleteAllTags(tx, owner, rule.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func rulesOf(g *store.SecurityGroup, egress bool) *[]store.Rule {
	if egress {
		return &g.Egress
	}
	return &g.Ingress
}

// Launching.

// toBackendGroup is a group with its rules as a backend sees them.
func toBackendGroup(g *store.SecurityGroup) backend.SecurityGroup {
	return backend.SecurityGroup{ID: g.ID, Name: g.Name, Rules: append(backendRules(g.Ingress, false), backendRules(g.Egress, true)...)}
}

package actions

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
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
	if _, err := s.defaultVPC(tx, owner); err != nil {
		return nil, err
	}
	g, err := store.SecurityGroupByName(tx, owner, defaultGroupName)
	if err == nil && g == nil {
		g = newDefaultGroup(owner, store.DefaultVPCID(owner))
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
	err = s.Store.Update(func(tx store.Tx) error {
		v, err := s.defaultVPC(tx, owner)
		if err == nil && vpcID != "" {
			v, err = s.vpcByID(tx, owner, vpcID)
		}
		if err == nil && !v.IsDefault && s.Backend.SecurityGroups != nil {
			err = ec2err.New(ec2err.UnsupportedOperation, "On this course's cloud security groups live in your default VPC %s: leave out VpcId.", store.DefaultVPCID(owner))
		}
		if err != nil {
			return err
		}
		g.VpcID = v.ID
		if dup, err := store.SecurityGroupInVPC(tx, owner, v.ID, name); err != nil || dup != nil {
			if err == nil {
				err = ec2err.New(ec2err.InvalidGroupDuplicate, "The security group '%s' already exists for VPC '%s'", name, v.ID)
			}
			return err
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{SecurityGroups: 1}); err != nil {
			return err
		}
		if err := store.PutSecurityGroup(tx, g); err != nil {
			return err
		}
		return putTags(tx, owner, g.ID, tags)
	})
	if err == nil {
		err = s.groupInBackend(r.Context, g, created)
	}
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
	var deleted string
	var group *store.SecurityGroup
	var change *store.GroupChange
	err := s.Store.Update(func(tx store.Tx) error {
		g, err := findGroup(tx, owner, id, name)
		if err != nil {
			return err
		}
		if err := checkDeletable(tx, g); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		deleted, group = g.ID, g
		if change = s.intend(g, store.GroupDeleting, false, nil); change != nil {
			return store.PutSecurityGroup(tx, g)
		}
		if err := deleteRuleTags(tx, owner, g.Ingress, g.Egress); err != nil {
			return err
		}
		return store.DeleteSecurityGroup(tx, owner, g.ID)
	})
	if err == nil {
		err = s.groupInBackend(r.Context, group, change)
	}
	if err != nil {
		return nil, err
	}
	resp := &deleteSecurityGroupResponse{Return: true}
	if !r.Before(apiRuleSets) {
		resp.GroupID = deleted
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

// Rules in requests.

// ruleRequest is a rule as asked for: a group peer is named by id or name
// until resolved inside the transaction.
type ruleRequest struct {
	store.Rule
	peerName   string
	peerUserID string
}

// parseRuleRequests decodes IpPermissions.N and the legacy flat form
// (IpProtocol, FromPort, ToPort, CidrIp; SourceSecurityGroupName[/OwnerId]).
func parseRuleRequests(p *query.Params, egress bool) ([]ruleRequest, error) {
	var out []ruleRequest
	for _, perm := range p.Structs("IpPermissions") {
		rules, err := parsePermission(perm)
		if err != nil {
			return nil, err
		}
		out = append(out, rules...)
	}
	flat, err := parseFlatPermission(p, egress)
	if err != nil {
		return nil, err
	}
	out = append(out, flat...)
	if len(out) == 0 {
		return nil, ec2err.Missing("IpPermissions")
	}
	return out, nil
}

func parsePermission(perm *query.Params) ([]ruleRequest, error) {
	base, err := parseProtocolPorts(perm)
	if err != nil {
		return nil, err
	}
	var out []ruleRequest
	add := func(param string, set func(*ruleRequest, *query.Params) error) error {
		for _, peer := range perm.Structs(param) {
			rr := ruleRequest{Rule: base}
			var err error
			if rr.Description, err = ruleDescription(peer, param+".Description"); err != nil {
				return err
			}
			if err := set(&rr, peer); err != nil {
				return err
			}
			out = append(out, rr)
		}
		return nil
	}
	steps := []struct {
		param string
		set   func(*ruleRequest, *query.Params) error
	}{
		{"IpRanges", func(rr *ruleRequest, q *query.Params) (err error) {
			rr.CIDRv4, err = parseCIDR(q, "CidrIp", false)
			return err
		}},
		{"Ipv6Ranges", func(rr *ruleRequest, q *query.Params) (err error) {
			rr.CIDRv6, err = parseCIDR(q, "CidrIpv6", true)
			return err
		}},
		{"PrefixListIds", func(rr *ruleRequest, q *query.Params) (err error) {
			rr.PrefixListID, err = parsePrefixListID(q)
			return err
		}},
		{"Groups", func(rr *ruleRequest, q *query.Params) error {
			rr.GroupID, rr.peerName, rr.peerUserID = q.String("GroupId"), q.String("GroupName"), q.String("UserId")
			if rr.GroupID == "" && rr.peerName == "" {
				return ec2err.Missing("IpPermissions.Groups.GroupId")
			}
			return nil
		}},
	}
	for _, st := range steps {
		if err := add(st.param, st.set); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, ec2err.New(ec2err.MissingParameter, "The permission for protocol %s names no source or destination: give IpRanges, Ipv6Ranges, PrefixListIds or Groups.", base.Protocol)
	}
	return out, nil
}

// classicGroupGrant is what EC2-Classic meant by a group pair without
// protocol and ports: all TCP, UDP and ICMP traffic from that group.
var classicGroupGrant = []store.Rule{
	{Protocol: "tcp", FromPort: 0, ToPort: 65535},
	{Protocol: "udp", FromPort: 0, ToPort: 65535},
	{Protocol: "icmp", FromPort: -1, ToPort: -1},
}

func parseFlatPermission(p *query.Params, egress bool) ([]ruleRequest, error) {
	source := p.String("SourceSecurityGroupName")
	cidr := p.String("CidrIp")
	if source == "" && cidr == "" && !p.Has("IpProtocol") {
		return nil, nil
	}
	if egress && source != "" {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "SourceSecurityGroupName is not supported for egress rules: use IpPermissions with Groups.")
	}
	if source != "" && !p.Has("IpProtocol") {
		out := make([]ruleRequest, len(classicGroupGrant))
		for i, base := range classicGroupGrant {
			out[i] = ruleRequest{Rule: base, peerName: source, peerUserID: p.String("SourceSecurityGroupOwnerId")}
		}
		return out, nil
	}
	base, err := parseProtocolPorts(p)
	if err != nil {
		return nil, err
	}
	if source != "" {
		return []ruleRequest{{Rule: base, peerName: source, peerUserID: p.String("SourceSecurityGroupOwnerId")}}, nil
	}
	if cidr == "" {
		return nil, ec2err.New(ec2err.MissingParameter, "The rule names no source: give CidrIp or SourceSecurityGroupName (or use IpPermissions).")
	}
	rr := ruleRequest{Rule: base}
	rr.CIDRv4, err = parseCIDR(p, "CidrIp", false)
	return []ruleRequest{rr}, err
}

// protocolNames maps the protocol numbers EC2 names to their names.
var protocolNames = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}

// parseProtocolPorts reads IpProtocol, FromPort and ToPort with EC2's
// rules: TCP and UDP need both ports, ICMP takes type and code (-1 = any),
// other protocols have no ports.
func parseProtocolPorts(p *query.Params) (store.Rule, error) {
	raw, err := p.Required("IpProtocol")
	if err != nil {
		return store.Rule{}, err
	}
	proto := strings.ToLower(raw)
	if name, ok := protocolNames[proto]; ok {
		proto = name
	}
	if n, err := strconv.Atoi(proto); !hasPorts(proto) && proto != "-1" && (err != nil || n < 0 || n > 255) {
		return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid value '%s' for IP protocol. Unknown protocol: use tcp, udp, icmp, icmpv6, -1 (all) or a protocol number 0-255.", raw)
	}
	rule := store.Rule{Protocol: proto}
	if !hasPorts(proto) {
		return rule, nil
	}
	from, fromSent, err := p.OptionalInt("FromPort")
	if err != nil {
		return store.Rule{}, err
	}
	to, toSent, err := p.OptionalInt("ToPort")
	if err != nil {
		return store.Rule{}, err
	}
	if proto == "icmp" || proto == "icmpv6" {
		if !fromSent {
			from = -1
		}
		if !toSent {
			to = -1
		}
		if from < -1 || from > 255 || to < -1 || to > 255 {
			return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid ICMP type %d or code %d: each must be -1 (any) or 0-255.", from, to)
		}
		rule.FromPort, rule.ToPort = from, to
		return rule, nil
	}
	if !fromSent || !toSent {
		return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
	}
	if from < 0 || to > 65535 || from > to {
		return store.Rule{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid %s port range %d-%d: ports are 0-65535 and FromPort must not exceed ToPort.", strings.ToUpper(proto), from, to)
	}
	rule.FromPort, rule.ToPort = from, to
	return rule, nil
}

func parseCIDR(p *query.Params, name string, v6 bool) (string, error) {
	v, err := p.Required(name)
	if err != nil {
		return "", err
	}
	ip, network, err := net.ParseCIDR(v)
	if err != nil || (ip.To4() == nil) != v6 {
		family := "IPv4"
		if v6 {
			family = "IPv6"
		}
		return "", ec2err.BadValue(name, v, "It must be an "+family+" CIDR block such as "+map[bool]string{false: "203.0.113.0/24", true: "2001:db8::/32"}[v6]+".")
	}
	if !ip.Equal(network.IP) {
		return "", ec2err.New(ec2err.InvalidParameterValue, "CIDR block %s is malformed: it has host bits set; did you mean %s?", v, network)
	}
	return v, nil
}

// resolvePeers turns group peers into the owner's group ids. A rule may
// refer only to the student's own groups: anyone else's is not found.
func resolvePeers(tx store.Tx, user *store.User, reqs []ruleRequest) ([]store.Rule, error) {
	out := make([]store.Rule, len(reqs))
	for i, rr := range reqs {
		rule := rr.Rule
		if rr.GroupID != "" || rr.peerName != "" {
			if rr.peerUserID != "" && strings.ReplaceAll(rr.peerUserID, "-", "") != user.AccountID {
				return nil, ec2err.New(ec2err.InvalidGroupNotFound, "The security group '%s%s' of account %s does not exist: rules may refer only to your own groups.", rr.GroupID, rr.peerName, rr.peerUserID)
			}
			g, err := findGroup(tx, user.Name, rr.GroupID, rr.peerName)
			if err != nil {
				return nil, err
			}
			rule.GroupID = g.ID
		}
		out[i] = rule
	}
	return out, nil
}

// describeRule names a rule in messages the way EC2 does.
func describeRule(r store.Rule, egress bool) string {
	peer := r.CIDRv4 + r.CIDRv6 + r.PrefixListID + r.GroupID
	dir := "ALLOW"
	if egress {
		dir = "ALLOW egress"
	}
	proto := strings.ToUpper(r.Protocol)
	if !hasPorts(r.Protocol) {
		return fmt.Sprintf("peer: %s, %s, %s", peer, proto, dir)
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, %s", peer, proto, r.FromPort, r.ToPort, dir)
}

func rulesOf(g *store.SecurityGroup, egress bool) *[]store.Rule {
	if egress {
		return &g.Egress
	}
	return &g.Ingress
}

// AuthorizeSecurityGroupIngress / Egress

type securityGroupRuleXML struct {
	ID          string            `xml:"securityGroupRuleId"`
	GroupID     string            `xml:"groupId"`
	GroupOwner  string            `xml:"groupOwnerId"`
	IsEgress    bool              `xml:"isEgress"`
	IPProtocol  string            `xml:"ipProtocol"`
	FromPort    int               `xml:"fromPort"`
	ToPort      int               `xml:"toPort"`
	CIDRv4      string            `xml:"cidrIpv4,omitempty"`
	CIDRv6      string            `xml:"cidrIpv6,omitempty"`
	PrefixList  string            `xml:"prefixListId,omitempty"`
	Referenced  *referencedGroupX `xml:"referencedGroupInfo,omitempty"`
	Description string            `xml:"description,omitempty"`
	Tags        []tagXML          `xml:"tagSet>item"`
	ARN         string            `xml:"securityGroupRuleArn"`
}

type referencedGroupX struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

type authorizeResponse struct {
	Meta
	Return bool                           `xml:"return"`
	Rules  *itemSet[securityGroupRuleXML] `xml:"securityGroupRuleSet,omitempty"`
}

// ruleChange opens an authorize or revoke: the student's default group
// exists, the target group and its rule list for the direction, and the
// requested rules with their peers resolved among the student's groups.
func (s *Service) ruleChange(tx store.Tx, r *Request, egress bool, reqs []ruleRequest) (*store.SecurityGroup, *[]store.Rule, []store.Rule, error) {
	if _, err := s.ensureDefaultGroup(tx, r.User.Name); err != nil {
		return nil, nil, nil, err
	}
	g, err := targetGroup(tx, r, egress)
	if err != nil {
		return nil, nil, nil, err
	}
	rules, err := resolvePeers(tx, r.User, reqs)
	if err != nil {
		return nil, nil, nil, err
	}
	return g, rulesOf(g, egress), rules, nil
}

// targetGroup is the group a rule change is for: ingress names its group by GroupId or GroupName;
// egress (a VPC-only action) by GroupId.
func targetGroup(tx store.Tx, r *Request, egress bool) (*store.SecurityGroup, error) {
	if egress {
		id, err := r.Params.Required("GroupId")
		if err != nil {
			return nil, err
		}
		return findGroup(tx, r.User.Name, id, "")
	}
	return findGroup(tx, r.User.Name, r.Params.String("GroupId"), r.Params.String("GroupName"))
}

func (s *Service) authorize(r *Request, egress bool) (any, error) {
	reqs, err := parseRuleRequests(r.Params, egress)
	if err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "security-group-rule")
	if err != nil {
		return nil, err
	}
	var added []store.Rule
	var group *store.SecurityGroup
	var change *store.GroupChange
	err = s.Store.Update(func(tx store.Tx) error {
		g, existing, rules, err := s.ruleChange(tx, r, egress, reqs)
		if err != nil {
			return err
		}
		for i, rule := range rules {
			if slices.ContainsFunc(*existing, rule.SamePermission) || slices.ContainsFunc(rules[:i], rule.SamePermission) {
				return ec2err.New(ec2err.InvalidPermissionDuplicate, "the specified rule \"%s\" already exists", describeRule(rule, egress))
			}
		}
		if err := s.checkPrefixLists(tx, r.User.Name, rules); err != nil {
			return err
		}
		if len(*existing)+len(rules) > maxRulesPerDirection {
			return ec2err.New(ec2err.RulesPerSecurityGroupLimit, "The maximum number of rules per security group (%d per direction) has been reached.", maxRulesPerDirection)
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		for i := range rules {
			rules[i].ID = store.NewID("sgr")
			if err := putTags(tx, r.User.Name, rules[i].ID, tags); err != nil {
				return err
			}
		}
		*existing = append(*existing, rules...)
		added, group = rules, g
		change = s.intend(g, store.RulesAuthorizing, egress, rules)
		return store.PutSecurityGroup(tx, g)
	})
	if err == nil {
		err = s.groupInBackend(r.Context, group, change)
	}
	if err != nil {
		return nil, err
	}
	resp := &authorizeResponse{Return: true}
	if !r.Before(apiRuleSets) {
		resp.Rules = &itemSet[securityGroupRuleXML]{}
		for _, rule := range added {
			resp.Rules.Items = append(resp.Rules.Items, s.ruleXML(r.User, group.ID, rule, egress, tags))
		}
	}
	return resp, nil
}

func (s *Service) ruleXML(u *store.User, groupID string, rule store.Rule, egress bool, tags []store.Tag) securityGroupRuleXML {
	out := securityGroupRuleXML{
		ID: rule.ID, GroupID: groupID, GroupOwner: u.AccountID, IsEgress: egress, IPProtocol: rule.Protocol,
		FromPort: -1, ToPort: -1, CIDRv4: rule.CIDRv4, CIDRv6: rule.CIDRv6, PrefixList: rule.PrefixListID,
		Description: rule.Description, Tags: tagsXML(tags),
		ARN: "arn:aws:ec2:" + s.Config.Region + ":" + u.AccountID + ":security-group-rule/" + rule.ID,
	}
	if hasPorts(rule.Protocol) {
		out.FromPort, out.ToPort = rule.FromPort, rule.ToPort
	}
	if rule.GroupID != "" {
		out.Referenced = &referencedGroupX{GroupID: rule.GroupID, UserID: u.AccountID}
	}
	return out
}

// RevokeSecurityGroupIngress / Egress

type revokedRuleXML struct {
	ID          string `xml:"securityGroupRuleId"`
	GroupID     string `xml:"groupId"`
	IsEgress    bool   `xml:"isEgress"`
	IPProtocol  string `xml:"ipProtocol"`
	FromPort    int    `xml:"fromPort"`
	ToPort      int    `xml:"toPort"`
	CIDRv4      string `xml:"cidrIpv4,omitempty"`
	CIDRv6      string `xml:"cidrIpv6,omitempty"`
	PrefixList  string `xml:"prefixListId,omitempty"`
	Referenced  string `xml:"referencedGroupId,omitempty"`
	Description string `xml:"description,omitempty"`
}

type revokeResponse struct {
	Meta
	Return  bool                      `xml:"return"`
	Unknown *itemSet[ipPermissionXML] `xml:"unknownIpPermissionSet,omitempty"`
	Revoked *itemSet[revokedRuleXML]  `xml:"revokedSecurityGroupRuleSet,omitempty"`
}

// revoke removes the rules that exist. Rules that do not are no error
// (old clients revoke before they authorize); current API versions list
// them in unknownIpPermissionSet.
func (s *Service) revoke(r *Request, egress bool) (any, error) {
	ruleIDs := r.Params.List("SecurityGroupRuleId")
	var reqs []ruleRequest
	if len(ruleIDs) == 0 {
		var err error
		if reqs, err = parseRuleRequests(r.Params, egress); err != nil {
			return nil, err
		}
	}
	var revoked, unknown []store.Rule
	var group *store.SecurityGroup
	var change *store.GroupChange
	err := s.Store.Update(func(tx store.Tx) error {
		revoked, unknown = nil, nil
		g, existing, wanted, err := s.ruleChange(tx, r, egress, reqs)
		if err != nil {
			return err
		}
		if err := checkRuleIDs(*existing, ruleIDs); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		var kept []store.Rule
		for _, rule := range *existing {
			if contains(ruleIDs, rule.ID) || slices.ContainsFunc(wanted, rule.SamePermission) {
				revoked = append(revoked, rule)
			} else {
				kept = append(kept, rule)
			}
		}
		for _, w := range wanted {
			if !slices.ContainsFunc(revoked, w.SamePermission) {
				unknown = append(unknown, w)
			}
		}
		*existing = kept
		group = g
		// With a backend, the rules' tags go once it has revoked them.
		change = nil
		if len(revoked) > 0 {
			change = s.intend(g, store.RulesRevoking, egress, revoked)
		}
		if change == nil {
			if err := deleteRuleTags(tx, r.User.Name, revoked); err != nil {
				return err
			}
		}
		return store.PutSecurityGroup(tx, g)
	})
	if err == nil {
		err = s.groupInBackend(r.Context, group, change)
	}
	if err != nil {
		return nil, err
	}
	resp := &revokeResponse{Return: true}
	if !r.Before(apiRuleSets) {
		// Current versions name peers by id only, so the view needs no names.
		resp.Unknown = &itemSet[ipPermissionXML]{s.newGroupView(r, nil).permissions(unknown)}
		resp.Revoked = &itemSet[revokedRuleXML]{}
		for _, rule := range revoked {
			x := s.ruleXML(r.User, group.ID, rule, egress, nil)
			resp.Revoked.Items = append(resp.Revoked.Items, revokedRuleXML{
				ID: x.ID, GroupID: x.GroupID, IsEgress: egress, IPProtocol: x.IPProtocol, FromPort: x.FromPort, ToPort: x.ToPort,
				CIDRv4: x.CIDRv4, CIDRv6: x.CIDRv6, PrefixList: x.PrefixList, Referenced: rule.GroupID, Description: x.Description,
			})
		}
	}
	return resp, nil
}

func checkRuleIDs(rules []store.Rule, ids []string) error {
	for _, id := range ids {
		if !slices.ContainsFunc(rules, func(r store.Rule) bool { return r.ID == id }) {
			return ec2err.New(ec2err.InvalidSecurityGroupRuleIDNF, "The security group rule ID '%s' does not exist in this group and direction", id)
		}
	}
	return nil
}

// DescribeSecurityGroupRules

type describeSecurityGroupRulesResponse struct {
	Meta
	Rules     []securityGroupRuleXML `xml:"securityGroupRuleSet>item"`
	NextToken string                 `xml:"nextToken,omitempty"`
}

// groupRule is one rule with the group and direction it belongs to.
type groupRule struct {
	group  *store.SecurityGroup
	rule   store.Rule
	egress bool
	tags   []store.Tag
}

func (s *Service) describeSecurityGroupRules(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, groupRuleAttrs(groupRule{group: &store.SecurityGroup{}})); err != nil {
		return nil, err
	}
	for _, f := range filters {
		for _, v := range f.Values {
			if f.Name == "group-id" && !strings.ContainsAny(v, "*?") && !store.ValidID("sg", v) {
				return nil, ec2err.New(ec2err.InvalidGroupIDMalformed, "The security group ID '%s' is malformed", v)
			}
		}
	}
	owner := r.User.Name
	if err := s.ensureDefaultNetwork(owner); err != nil {
		return nil, err
	}
	ids := r.Params.List("SecurityGroupRuleId")
	resp := &describeSecurityGroupRulesResponse{}
	err = s.Store.View(func(tx store.Tx) error {
		all, err := allGroupRules(tx, owner)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !slices.ContainsFunc(all, func(gr groupRule) bool { return gr.rule.ID == id }) {
				return ec2err.New(ec2err.InvalidSecurityGroupRuleIDNF, "The security group rule ID '%s' does not exist", id)
			}
		}
		var picked []groupRule
		for _, gr := range all {
			if (len(ids) == 0 || contains(ids, gr.rule.ID)) && matchFilters(filters, groupRuleAttrs(gr)) {
				picked = append(picked, gr)
			}
		}
		page, err := paginate(len(picked), func(i int) string { return picked[i].rule.ID }, r.Params, 5, 1000)
		if err != nil {
			return err
		}
		resp.NextToken, resp.Rules = page.NextToken, nil
		for _, gr := range picked[page.Start:page.End] {
			resp.Rules = append(resp.Rules, s.ruleXML(r.User, gr.group.ID, gr.rule, gr.egress, gr.tags))
		}
		return nil
	})
	return resp, err
}

// allGroupRules lists every rule of the owner's groups, sorted by rule id
// (the pagination key).
func allGroupRules(tx store.Tx, owner string) ([]groupRule, error) {
	groups, err := store.ListSecurityGroups(tx, owner)
	if err != nil {
		return nil, err
	}
	var out []groupRule
	for _, g := range groups {
		for _, dir := range []bool{false, true} {
			for _, rule := range *rulesOf(g, dir) {
				tags, err := store.Tags(tx, owner, rule.ID)
				if err != nil {
					return nil, err
				}
				out = append(out, groupRule{group: g, rule: rule, egress: dir, tags: tags})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rule.ID < out[j].rule.ID })
	return out, nil
}

func groupRuleAttrs(gr groupRule) Attrs {
	return func(name string) ([]string, bool) {
		switch name {
		case "group-id":
			return []string{gr.group.ID}, true
		case "security-group-rule-id":
			return []string{gr.rule.ID}, true
		}
		return tagAttrs(gr.tags, name)
	}
}

// Launching.

// toBackendGroup is a group with its rules as a backend sees them.
func toBackendGroup(g *store.SecurityGroup) backend.SecurityGroup {
	return backend.SecurityGroup{ID: g.ID, Name: g.Name, Rules: append(backendRules(g.Ingress, false), backendRules(g.Egress, true)...)}
}

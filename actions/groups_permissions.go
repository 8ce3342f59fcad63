package actions

import (
	"slices"
	"sort"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// A group's permissions: Authorize and RevokeSecurityGroupIngress/Egress,
// and DescribeSecurityGroupRules.

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
	group, err := s.changeGroup(r, func(tx store.Tx) (*store.SecurityGroup, *store.GroupChange, error) {
		g, existing, rules, err := s.ruleChange(tx, r, egress, reqs)
		if err != nil {
			return nil, nil, err
		}
		for i, rule := range rules {
			if slices.ContainsFunc(*existing, rule.SamePermission) || slices.ContainsFunc(rules[:i], rule.SamePermission) {
				return nil, nil, ec2err.New(ec2err.InvalidPermissionDuplicate, "the specified rule \"%s\" already exists", describeRule(rule, egress))
			}
		}
		if err := s.checkPrefixLists(tx, r.User.Name, rules); err != nil {
			return nil, nil, err
		}
		if len(*existing)+len(rules) > maxRulesPerDirection {
			return nil, nil, ec2err.New(ec2err.RulesPerSecurityGroupLimit, "The maximum number of rules per security group (%d per direction) has been reached.", maxRulesPerDirection)
		}
		if err := r.DryRun(); err != nil {
			return nil, nil, err
		}
		for i := range rules {
			rules[i].ID = store.NewID("sgr")
			if err := putTags(tx, r.User.Name, rules[i].ID, tags); err != nil {
				return nil, nil, err
			}
		}
		*existing = append(*existing, rules...)
		added = rules
		change := s.intend(g, store.RulesAuthorizing, egress, rules)
		return g, change, store.PutSecurityGroup(tx, g)
	})
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
	group, err := s.changeGroup(r, func(tx store.Tx) (*store.SecurityGroup, *store.GroupChange, error) {
		revoked, unknown = nil, nil
		g, existing, wanted, err := s.ruleChange(tx, r, egress, reqs)
		if err != nil {
			return nil, nil, err
		}
		if err := checkRuleIDs(*existing, ruleIDs); err != nil {
			return nil, nil, err
		}
		if err := r.DryRun(); err != nil {
			return nil, nil, err
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
		// With a backend, the rules' tags go once it has revoked them.
		var change *store.GroupChange
		if len(revoked) > 0 {
			change = s.intend(g, store.RulesRevoking, egress, revoked)
		}
		if change == nil {
			if err := deleteRuleTags(tx, r.User.Name, revoked); err != nil {
				return nil, nil, err
			}
		}
		return g, change, store.PutSecurityGroup(tx, g)
	})
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

package actions

import (
	"fmt"
	"slices"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Changing rules in place: ModifySecurityGroupRules replaces rules by id
// (the id, and so the rule's tags, stay), UpdateSecurityGroupRuleDescriptions*
// changes only descriptions. Either way the group's record is rewritten in
// one Store.Update with the checks.

// ModifySecurityGroupRules

// ruleUpdate is one SecurityGroupRule.N: the rule's id and what it becomes.
type ruleUpdate struct {
	id   string
	rule ruleRequest
}

func (s *Service) modifySecurityGroupRules(r *Request) (any, error) {
	groupID, err := r.Params.Required("GroupId")
	if err != nil {
		return nil, err
	}
	updates, err := parseRuleUpdates(r.Params)
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		if _, err := s.ensureDefaultGroup(tx, owner); err != nil {
			return err
		}
		g, err := findGroup(tx, owner, groupID, "")
		if err != nil {
			return err
		}
		reqs := make([]ruleRequest, len(updates))
		for i, u := range updates {
			reqs[i] = u.rule
		}
		rules, err := resolvePeers(tx, r.User, reqs)
		if err == nil {
			err = s.checkPrefixLists(tx, owner, rules)
		}
		if err != nil {
			return err
		}
		moved := false // a rule's traffic changes, not only its description
		for i, u := range updates {
			at, egress, ok := g.Rule(u.id)
			if !ok {
				return ruleNotFound(u.id)
			}
			list := rulesOf(g, egress)
			old := (*list)[at]
			if (old.CIDRv4 != "" && rules[i].CIDRv6 != "") || (old.CIDRv6 != "" && rules[i].CIDRv4 != "") {
				return ec2err.New(ec2err.InvalidParameterValue, "Invalid rule type for security group rule '%s'. You may not change an IPv4 CIDR rule into an IPv6 one or back: revoke it and authorize the new rule.", u.id)
			}
			rules[i].ID = old.ID
			moved = moved || !old.SamePermission(rules[i])
			(*list)[at] = rules[i]
		}
		// Checked once every rule has changed: two rules may swap peers.
		for _, rule := range rules {
			_, egress, _ := g.Rule(rule.ID)
			if slices.ContainsFunc(*rulesOf(g, egress), func(o store.Rule) bool { return o.ID != rule.ID && o.SamePermission(rule) }) {
				return ec2err.New(ec2err.InvalidPermissionDuplicate, "the specified rule \"%s\" already exists", describeRule(rule, egress))
			}
		}
		// A backend holding the groups would have to revoke and authorize,
		// which it cannot do as one change; descriptions stay here.
		if moved && s.Backend.SecurityGroups != nil {
			return ec2err.New(ec2err.UnsupportedOperation, "On this course's cloud a rule's protocol, ports or peer cannot be modified in place: revoke the rule and authorize the new one (descriptions can be modified).")
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		return store.PutSecurityGroup(tx, g)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

func ruleNotFound(id string) error {
	return ec2err.New(ec2err.InvalidSecurityGroupRuleIDNF, "The security group rule ID '%s' does not exist", id)
}

// parseRuleUpdates reads SecurityGroupRule.N, each rule named once.
func parseRuleUpdates(p *query.Params) ([]ruleUpdate, error) {
	structs := p.Structs("SecurityGroupRule")
	if len(structs) == 0 {
		return nil, ec2err.Missing("SecurityGroupRule")
	}
	out := make([]ruleUpdate, len(structs))
	for i, sp := range structs {
		id, err := ruleID(sp)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out[:i], func(u ruleUpdate) bool { return u.id == id }) {
			return nil, ec2err.New(ec2err.InvalidParameterValue, "The security group rule ID '%s' is given more than once: modify each rule once per request.", id)
		}
		rule, err := parseRuleSpec(sp.Struct("SecurityGroupRule"))
		if err != nil {
			return nil, err
		}
		out[i] = ruleUpdate{id: id, rule: rule}
	}
	return out, nil
}

// ruleID reads a required SecurityGroupRuleId and checks its form.
func ruleID(p *query.Params) (string, error) {
	id, err := p.Required("SecurityGroupRuleId")
	if err == nil && !store.ValidID("sgr", id) {
		err = ec2err.New(ec2err.InvalidSecurityGroupRuleIDMalformed, "The security group rule ID '%s' is malformed", id)
	}
	return id, err
}

// parseRuleSpec reads a SecurityGroupRuleRequest: a protocol (required
// here, as in every VPC rule), its ports and exactly one peer.
func parseRuleSpec(p *query.Params) (ruleRequest, error) {
	if !p.Has("IpProtocol") {
		return ruleRequest{}, ec2err.New(ec2err.InvalidParameterValue, "Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly.")
	}
	base, err := parseProtocolPorts(p)
	if err != nil {
		return ruleRequest{}, err
	}
	peers := 0
	for _, name := range []string{"CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId"} {
		if p.Has(name) {
			peers++
		}
	}
	switch {
	case peers > 1:
		return ruleRequest{}, ec2err.New(ec2err.InvalidParameterCombination, "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified")
	case peers == 0:
		return ruleRequest{}, ec2err.New(ec2err.MissingParameter, "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or referencedGroupId")
	}
	rr := ruleRequest{Rule: base}
	switch {
	case p.Has("CidrIpv4"):
		rr.CIDRv4, err = parseCIDR(p, "CidrIpv4", false)
	case p.Has("CidrIpv6"):
		rr.CIDRv6, err = parseCIDR(p, "CidrIpv6", true)
	case p.Has("PrefixListId"):
		rr.PrefixListID, err = parsePrefixListID(p)
	default:
		rr.GroupID, err = p.Required("ReferencedGroupId")
	}
	if err != nil {
		return ruleRequest{}, err
	}
	rr.Description, err = ruleDescription(p, "SecurityGroupRule.Description")
	return rr, err
}

// ruleDescription reads a rule's Description, at most 255 characters;
// param names it in the error.
func ruleDescription(p *query.Params, param string) (string, error) {
	d := p.String("Description")
	if len(d) > maxGroupNameLen {
		return "", ec2err.BadValue(param, d, fmt.Sprintf("Rule descriptions are at most %d characters.", maxGroupNameLen))
	}
	return d, nil
}

// parsePrefixListID reads a required PrefixListId and checks its form.
func parsePrefixListID(p *query.Params) (string, error) {
	id, err := p.Required("PrefixListId")
	if err == nil && !store.ValidID("pl", id) {
		err = ec2err.BadValue("PrefixListId", id, "Prefix list ids look like pl-0123456789abcdef0.")
	}
	return id, err
}

// UpdateSecurityGroupRuleDescriptionsIngress / Egress

// updateRuleDescriptions sets the descriptions of existing rules, named by
// id (SecurityGroupRuleDescription.N) or by their permission (IpPermissions,
// whose descriptions replace the matching rules'; none given clears one).
func (s *Service) updateRuleDescriptions(r *Request, egress bool) (any, error) {
	byID, err := parseRuleDescriptions(r.Params)
	if err != nil {
		return nil, err
	}
	perms := r.Params.Structs("IpPermissions")
	switch {
	case len(perms) > 0 && len(byID) > 0:
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "The parameter 'ipPermissions' may not be used in combination with 'securityGroupRuleDescriptions'.")
	case len(perms) == 0 && len(byID) == 0:
		return nil, ec2err.New(ec2err.MissingParameter, "The request must contain either IpPermissions or SecurityGroupRuleDescriptions.")
	}
	var reqs []ruleRequest
	for _, perm := range perms {
		rules, err := parsePermission(perm)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, rules...)
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		if _, err := s.ensureDefaultGroup(tx, owner); err != nil {
			return err
		}
		g, err := findGroup(tx, owner, r.Params.String("GroupId"), r.Params.String("GroupName"))
		if err != nil {
			return err
		}
		wanted, err := resolvePeers(tx, r.User, reqs)
		if err != nil {
			return err
		}
		rules := *rulesOf(g, egress)
		for _, w := range wanted {
			i := slices.IndexFunc(rules, w.SamePermission)
			if i < 0 {
				return ec2err.New(ec2err.InvalidPermissionNotFound, "The specified rule does not exist in this security group: \"%s\"", describeRule(w, egress))
			}
			rules[i].Description = w.Description
		}
		for _, d := range byID {
			i := slices.IndexFunc(rules, func(rule store.Rule) bool { return rule.ID == d.ID })
			if i < 0 {
				return ruleNotFound(d.ID)
			}
			rules[i].Description = d.Description
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		return store.PutSecurityGroup(tx, g)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// parseRuleDescriptions reads SecurityGroupRuleDescription.N as rules
// carrying only their id and description.
func parseRuleDescriptions(p *query.Params) ([]store.Rule, error) {
	var out []store.Rule
	for _, sp := range p.Structs("SecurityGroupRuleDescription") {
		id, err := ruleID(sp)
		if err != nil {
			return nil, err
		}
		d, err := ruleDescription(sp, "SecurityGroupRuleDescription.Description")
		if err != nil {
			return nil, err
		}
		out = append(out, store.Rule{ID: id, Description: d})
	}
	return out, nil
}

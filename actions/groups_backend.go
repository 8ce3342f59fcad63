package actions

import (
	"context"
	"slices"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// Security groups reach a backend with the SecurityGroups ability as key
// pairs do: each change is recorded first (a GroupChange in the group's
// Pending, with its rules), the backend is called outside any
// transaction, and its answer recorded. A refusal undoes the change in
// the record (and, best effort, in the backend: a rule change of several
// rules may have been made in part) and reaches the student with its EC2
// code. A crash in between leaves the intent, which RecoverSecurityGroups
// finishes at start-up (the backend's calls are idempotent).

// intend adds a change of g to its intents and returns it; nil (and g
// unchanged) when the backend holds no groups. Call it in the transaction
// that makes the change.
func (s *Service) intend(g *store.SecurityGroup, op string, egress bool, rules []store.Rule) *store.GroupChange {
	if s.Backend.SecurityGroups == nil {
		return nil
	}
	c := store.GroupChange{ID: store.NewID("sgc"), Op: op, Egress: egress, Rules: rules}
	g.Pending = append(g.Pending, c)
	return &c
}

// groupInBackend makes g's change c in the backend and records the answer.
func (s *Service) groupInBackend(ctx context.Context, g *store.SecurityGroup, c *store.GroupChange) error {
	sb := s.Backend.SecurityGroups
	if sb == nil || c == nil {
		return nil
	}
	berr := s.applyGroupChange(ctx, sb, g, *c)
	if berr != nil {
		s.undoInBackend(ctx, sb, g, *c)
	}
	err := s.Store.Update(func(tx store.Tx) error {
		cur, err := store.GetSecurityGroup(tx, g.Owner, g.ID)
		if err != nil || cur == nil {
			return err
		}
		i := slices.IndexFunc(cur.Pending, func(p store.GroupChange) bool { return p.ID == c.ID })
		if i < 0 {
			return nil
		}
		cur.Pending = slices.Delete(cur.Pending, i, i+1)
		return finishGroupChange(tx, cur, *c, berr == nil)
	})
	if berr != nil {
		return backendError(berr, refusals{})
	}
	return err
}

// applyGroupChange is c in the backend's calls.
func (s *Service) applyGroupChange(ctx context.Context, sb backend.SecurityGroups, g *store.SecurityGroup, c store.GroupChange) error {
	rules := backendRules(c.Rules, c.Egress)
	switch c.Op {
	case store.GroupCreating:
		if err := sb.CreateGroup(ctx, backend.GroupSpec{GroupID: g.ID, Owner: g.Owner, Name: g.Name, Description: g.Description}); err != nil {
			return err
		}
		return sb.Authorize(ctx, g.ID, rules)
	case store.GroupDeleting:
		return sb.DeleteGroup(ctx, g.ID)
	}
	if err := s.defaultGroupInBackend(ctx, sb, g, c); err != nil {
		return err
	}
	if c.Op == store.RulesAuthorizing {
		return sb.Authorize(ctx, g.ID, rules)
	}
	return sb.Revoke(ctx, g.ID, rules)
}

// undoInBackend takes back what a refused rule change may have made in
// part; it is logged, not returned: the student sees the first refusal.
func (s *Service) undoInBackend(ctx context.Context, sb backend.SecurityGroups, g *store.SecurityGroup, c store.GroupChange) {
	var err error
	switch rules := backendRules(c.Rules, c.Egress); c.Op {
	case store.RulesAuthorizing:
		err = sb.Revoke(ctx, g.ID, rules)
	case store.RulesRevoking:
		err = sb.Authorize(ctx, g.ID, rules)
	}
	if err != nil {
		s.Log.Error().Err(err).Str("security_group", g.ID).Str("op", c.Op).Msg("a refused rule change could not be taken back in the backend")
	}
}

// defaultGroupInBackend makes sure the owner's default group, made
// implicitly and so never created through CreateGroup, is in the backend
// with its rules before a rule change of it or naming it as a peer.
func (s *Service) defaultGroupInBackend(ctx context.Context, sb backend.SecurityGroups, g *store.SecurityGroup, c store.GroupChange) error {
	var d *store.SecurityGroup
	err := s.Store.View(func(tx store.Tx) (err error) {
		d, err = store.SecurityGroupByName(tx, g.Owner, defaultGroupName)
		return err
	})
	if err != nil || d == nil || d.ID != g.ID && !refersTo(c.Rules, d.ID) {
		return err
	}
	if err := sb.CreateGroup(ctx, backend.GroupSpec{GroupID: d.ID, Owner: d.Owner, Name: d.Name, Description: d.Description}); err != nil {
		return err
	}
	return sb.Authorize(ctx, d.ID, toBackendGroup(d).Rules)
}

// finishGroupChange records the backend's answer to c on g (c already
// out of g.Pending): a deletion done removes the group, a creation
// refused removes it, a rule change refused is undone; the rules' tags
// go with the rules.
func finishGroupChange(tx store.Tx, g *store.SecurityGroup, c store.GroupChange, done bool) error {
	rules := rulesOf(g, c.Egress)
	switch {
	case c.Op == store.GroupDeleting && done, c.Op == store.GroupCreating && !done:
		if err := deleteRuleTags(tx, g.Owner, g.Ingress, g.Egress); err != nil {
			return err
		}
		return store.DeleteSecurityGroup(tx, g.Owner, g.ID)
	case c.Op == store.RulesAuthorizing && !done:
		*rules = slices.DeleteFunc(*rules, func(r store.Rule) bool {
			return slices.ContainsFunc(c.Rules, func(o store.Rule) bool { return o.ID == r.ID })
		})
		if err := deleteRuleTags(tx, g.Owner, c.Rules); err != nil {
			return err
		}
	case c.Op == store.RulesRevoking && done:
		if err := deleteRuleTags(tx, g.Owner, c.Rules); err != nil {
			return err
		}
	case c.Op == store.RulesRevoking && !done:
		for _, r := range c.Rules {
			if !slices.ContainsFunc(*rules, r.SamePermission) {
				*rules = append(*rules, r)
			}
		}
	}
	return store.PutSecurityGroup(tx, g)
}

// backendRules are rules of one direction as a backend sees them.
func backendRules(rules []store.Rule, egress bool) []backend.Rule {
	out := make([]backend.Rule, len(rules))
	for i, r := range rules {
		out[i] = backend.Rule{
			Egress: egress, Protocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort,
			CIDR: r.CIDRv4 + r.CIDRv6, PrefixListID: r.PrefixListID, GroupID: r.GroupID,
		}
	}
	return out
}

// RecoverSecurityGroups finishes the security group changes a crash left
// between the intent and the backend's answer, in the order they were
// made. app.Open calls it before serving; a change the backend refuses is
// undone and logged.
func (s *Service) RecoverSecurityGroups(ctx context.Context) error {
	if s.Backend.SecurityGroups == nil {
		return nil
	}
	var pending []*store.SecurityGroup
	err := s.Store.View(func(tx store.Tx) error {
		pending = nil
		return store.ScanJSON(tx, store.BucketSecurityGroups, "", func(_ string, g *store.SecurityGroup) error {
			if len(g.Pending) > 0 {
				pending = append(pending, g)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, g := range pending {
		for _, c := range g.Pending {
			if err := s.groupInBackend(ctx, g, &c); err != nil {
				s.Log.Error().Err(err).Str("security_group", g.ID).Str("op", c.Op).Msg("a security group change interrupted by a restart could not be finished")
			}
		}
	}
	return nil
}

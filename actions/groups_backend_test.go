package actions

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// recordingGroups is a backend's SecurityGroups ability that records its
// calls (groups by id, created ones by owner and name, rules as
// "[out ]PROTO FROM-TO PEER") and refuses a call creating a group of a name
// or naming a rule in refuse with that code.
type recordingGroups struct {
	mu     sync.Mutex
	calls  []string
	refuse map[string]string
}

func (g *recordingGroups) answer(call string, keys ...string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, call)
	for _, k := range keys {
		if code := g.refuse[k]; code != "" {
			return &backend.Error{Code: code, Message: "refused " + k}
		}
	}
	return nil
}

func ruleText(r backend.Rule) string {
	dir := ""
	if r.Egress {
		dir = "out "
	}
	return fmt.Sprintf("%s%s %d-%d %s", dir, r.Protocol, r.FromPort, r.ToPort, r.CIDR+r.GroupID+r.PrefixListID)
}

func (g *recordingGroups) rulesCall(op, id string, rules []backend.Rule) error {
	texts := make([]string, len(rules))
	for i, r := range rules {
		texts[i] = ruleText(r)
	}
	return g.answer(op+" "+id+" ["+strings.Join(texts, ", ")+"]", texts...)
}

func (g *recordingGroups) CreateGroup(ctx context.Context, s backend.GroupSpec) error {
	return g.answer("create "+s.Owner+" "+s.Name, s.Name)
}
func (g *recordingGroups) DeleteGroup(ctx context.Context, id string) error {
	return g.answer("delete " + id)
}
func (g *recordingGroups) Authorize(ctx context.Context, id string, rules []backend.Rule) error {
	return g.rulesCall("authorize", id, rules)
}
func (g *recordingGroups) Revoke(ctx context.Context, id string, rules []backend.Rule) error {
	return g.rulesCall("revoke", id, rules)
}

// took returns the calls made since the last took, with the owner's group
// ids replaced by their names.
func (g *recordingGroups) took(t *testing.T, e *testEnv, owner string) string {
	t.Helper()
	g.mu.Lock()
	out := strings.Join(g.calls, "; ")
	g.calls = nil
	g.mu.Unlock()
	for name, grp := range groupRecords(t, e, owner) {
		out = strings.ReplaceAll(out, grp.ID, name)
	}
	return out
}

func groupRecords(t *testing.T, e *testEnv, owner string) map[string]*store.SecurityGroup {
	t.Helper()
	out := map[string]*store.SecurityGroup{}
	if err := e.svc.Store.View(func(tx store.Tx) error {
		groups, err := store.ListSecurityGroups(tx, owner)
		for _, g := range groups {
			out[g.Name] = g
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Security group changes reach a backend with the SecurityGroups ability,
// by econe's ids (the legacy by-name forms too), after the record; a
// refusal reaches the student with its EC2 code and leaves the record, and
// the backend, as they were.
func TestSecurityGroupsReachBackend(t *testing.T) {
	e := newTestEnv(t, nil)
	gb := &recordingGroups{refuse: map[string]string{"refused": "InvalidGroup.Duplicate", "tcp 22-22 10.0.0.0/8": ec2err.RequestLimitExceeded}}
	e.svc.Backend = backend.Abilities{SecurityGroups: gb}
	const old = "2010-08-31" // hadoop-ec2's version: groups and peers by name
	steps := []struct {
		name    string
		version string
		kv      []string
		code    string
		want    string
	}{
		{"create", DefaultVersion, []string{"CreateSecurityGroup", "GroupName", "web", "GroupDescription", "d"}, "",
			"create alice web; authorize web [out -1 0-0 0.0.0.0/0]"},
		{"legacy group pair by name", old, []string{"AuthorizeSecurityGroupIngress", "GroupName", "web", "SourceSecurityGroupName", "web"}, "",
			"authorize web [tcp 0-65535 web, udp 0-65535 web, icmp -1--1 web]"},
		{"legacy cidr rule by name", old, []string{"AuthorizeSecurityGroupIngress", "GroupName", "web", "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0"}, "",
			"authorize web [tcp 80-80 0.0.0.0/0]"},
		{"refused rule is taken back", DefaultVersion, []string{"AuthorizeSecurityGroupIngress", "GroupName", "web", "IpProtocol", "tcp", "FromPort", "22", "ToPort", "22", "CidrIp", "10.0.0.0/8"}, ec2err.RequestLimitExceeded,
			"authorize web [tcp 22-22 10.0.0.0/8]; revoke web [tcp 22-22 10.0.0.0/8]"},
		{"revoke by name", old, []string{"RevokeSecurityGroupIngress", "GroupName", "web", "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0"}, "",
			"revoke web [tcp 80-80 0.0.0.0/0]"},
		{"revoke of nothing calls nothing", DefaultVersion, []string{"RevokeSecurityGroupIngress", "GroupName", "web", "IpProtocol", "tcp", "FromPort", "80", "ToPort", "80", "CidrIp", "0.0.0.0/0"}, "", ""},
		{"the implicit default group is made first", old, []string{"AuthorizeSecurityGroupIngress", "GroupName", "default", "IpProtocol", "tcp", "FromPort", "8080", "ToPort", "8080", "CidrIp", "0.0.0.0/0"}, "",
			"create alice default; authorize default [-1 0-0 default, tcp 8080-8080 0.0.0.0/0, out -1 0-0 0.0.0.0/0]; authorize default [tcp 8080-8080 0.0.0.0/0]"},
		{"refused create", DefaultVersion, []string{"CreateSecurityGroup", "GroupName", "refused", "GroupDescription", "d"}, "InvalidGroup.Duplicate",
			"create alice refused"},
		{"delete", old, []string{"DeleteSecurityGroup", "GroupName", "web"}, "", "delete web"},
	}
	for _, st := range steps {
		ids := groupRecords(t, e, "alice") // names of groups the step deletes
		_, err := e.callVersion(t, "alice", st.version, st.kv[0], st.kv[1:]...)
		if st.code == "" && err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.code != "" {
			wantCode(t, err, st.code)
		}
		got := gb.took(t, e, "alice")
		for name, g := range ids {
			got = strings.ReplaceAll(got, g.ID, name)
		}
		if got != st.want {
			t.Errorf("%s: got backend calls %q, want %q", st.name, got, st.want)
		}
	}
	recs := groupRecords(t, e, "alice")
	for name, g := range recs {
		if len(g.Pending) > 0 {
			t.Errorf("group %s: got pending changes %+v, want none", name, g.Pending)
		}
	}
	if _, ok := recs["refused"]; ok {
		t.Errorf("a group the backend refused to create is recorded")
	}
	if _, ok := recs["web"]; ok {
		t.Errorf("a deleted group is still recorded")
	}
}

// A rule change the backend refuses leaves the group's rules as they were.
func TestRefusedRuleChangeUndone(t *testing.T) {
	e := newTestEnv(t, nil)
	gb := &recordingGroups{}
	e.svc.Backend = backend.Abilities{SecurityGroups: gb}
	e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "web", "GroupDescription", "d")
	perm := []string{"GroupName", "web", "IpProtocol", "tcp", "FromPort", "22", "ToPort", "22", "CidrIp", "10.0.0.0/8"}
	e.mustCall(t, "alice", "AuthorizeSecurityGroupIngress", perm...)
	before := groupRecords(t, e, "alice")["web"].Ingress
	gb.refuse = map[string]string{"tcp 22-22 10.0.0.0/8": ec2err.RequestLimitExceeded}
	_, err := e.call(t, "alice", "RevokeSecurityGroupIngress", perm...)
	wantCode(t, err, ec2err.RequestLimitExceeded)
	after := groupRecords(t, e, "alice")["web"].Ingress
	if len(after) != 1 || len(before) != 1 || after[0] != before[0] {
		t.Errorf("refused revoke: got ingress %+v, want %+v", after, before)
	}
}

// Changes a crash left between their intent and the backend's answer are
// finished at start-up, in order.
func TestRecoverSecurityGroups(t *testing.T) {
	e := newTestEnv(t, nil)
	gb := &recordingGroups{}
	e.svc.Backend = backend.Abilities{SecurityGroups: gb}
	e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "creating", "GroupDescription", "d")
	e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "deleting", "GroupDescription", "d")
	gb.took(t, e, "alice")
	recs := groupRecords(t, e, "alice")
	rule := store.Rule{ID: "sgr-1", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRv4: "0.0.0.0/0"}
	e.svc.Store.Update(func(tx store.Tx) error {
		c, d := recs["creating"], recs["deleting"]
		c.Ingress = append(c.Ingress, rule)
		c.Pending = []store.GroupChange{{ID: "1", Op: store.GroupCreating, Egress: true, Rules: c.Egress}, {ID: "2", Op: store.RulesAuthorizing, Rules: []store.Rule{rule}}}
		d.Pending = []store.GroupChange{{ID: "3", Op: store.GroupDeleting}}
		store.PutSecurityGroup(tx, c)
		return store.PutSecurityGroup(tx, d)
	})
	if err := e.svc.RecoverSecurityGroups(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := gb.took(t, e, "alice")
	got = strings.ReplaceAll(got, recs["deleting"].ID, "deleting")
	// Groups come in id order; each group's changes in the order made.
	want := []string{"create alice creating; authorize creating [out -1 0-0 0.0.0.0/0]; authorize creating [tcp 22-22 0.0.0.0/0]", "delete deleting"}
	if got != want[0]+"; "+want[1] && got != want[1]+"; "+want[0] {
		t.Errorf("recovery: got backend calls %q, want %q and %q", got, want[0], want[1])
	}
	after := groupRecords(t, e, "alice")
	if g := after["creating"]; g == nil || len(g.Pending) != 0 || len(g.Ingress) != 1 {
		t.Errorf("interrupted create and authorize: got %+v, want the group with its rule and nothing pending", g)
	}
	if g := after["deleting"]; g != nil {
		t.Errorf("interrupted delete: got %+v, want it gone", g)
	}
}

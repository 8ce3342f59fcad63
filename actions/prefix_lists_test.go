package actions

import (
	"fmt"
	"strings"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
)

// createPrefixList makes a list of the family with one entry and returns its id.
func (e *testEnv) createPrefixList(t *testing.T, user, family string) string {
	t.Helper()
	cidr := map[string]string{"IPv4": "198.51.100.0/24", "IPv6": "2001:db8:1::/48"}[family]
	resp := e.mustCall(t, user, "CreateManagedPrefixList", "PrefixListName", "office", "AddressFamily", family, "MaxEntries", "3",
		"Entry.1.Cidr", cidr, "Entry.1.Description", "office").(*prefixListResponse)
	return resp.PrefixList.ID
}

// entriesText is the list's current entries: "cidr(desc) cidr".
func (e *testEnv) entriesText(t *testing.T, user, id string) string {
	t.Helper()
	resp := e.mustCall(t, user, "GetManagedPrefixListEntries", "PrefixListId", id).(*getManagedPrefixListEntriesResponse)
	var out []string
	for _, en := range resp.Entries {
		out = append(out, en.CIDR+desc(en.Description))
	}
	return strings.Join(out, " ")
}

func TestManagedPrefixListLifecycle(t *testing.T) {
	e := newTestEnv(t, nil)
	created := e.mustCall(t, "alice", "CreateManagedPrefixList", "PrefixListName", "campus", "AddressFamily", "IPv4", "MaxEntries", "2",
		"Entry.1.Cidr", "10.1.0.0/16", "Entry.1.Description", "labs", "TagSpecification.1.ResourceType", "prefix-list",
		"TagSpecification.1.Tag.1.Key", "course", "TagSpecification.1.Tag.1.Value", "net101").(*prefixListResponse).PrefixList
	id := created.ID
	if !strings.HasPrefix(id, "pl-") || created.State != "create-complete" || created.Version != 1 || created.MaxEntries != 2 ||
		created.OwnerID != "111111111111" || created.ARN != "arn:aws:ec2:us-east-1:111111111111:prefix-list/"+id || len(created.Tags) != 1 {
		t.Fatalf("got %+v, want a pl- id, create-complete, version 1, 2 entries at most, alice's account and ARN, the tag", created)
	}
	if got := e.entriesText(t, "alice", id); got != "10.1.0.0/16(labs)" {
		t.Errorf("entries: got %q, want the one entry", got)
	}

	steps := []struct {
		name    string
		kv      []string
		code    string
		entries string
		version int64
	}{
		{"add and remove in one change", []string{"AddEntry.1.Cidr", "10.2.0.0/16", "RemoveEntry.1.Cidr", "10.1.0.0/16"}, "", "10.2.0.0/16", 2},
		{"re-adding takes the new description", []string{"AddEntry.1.Cidr", "10.2.0.0/16", "AddEntry.1.Description", "dorms"}, "", "10.2.0.0/16(dorms)", 3},
		{"rename keeps the version", []string{"PrefixListName", "campus-2"}, "", "10.2.0.0/16(dorms)", 3},
		{"stale version", []string{"CurrentVersion", "1", "AddEntry.1.Cidr", "10.3.0.0/16"}, ec2err.PrefixListVersionMismatch, "", 0},
		{"over MaxEntries", []string{"AddEntry.1.Cidr", "10.3.0.0/16", "AddEntry.2.Cidr", "10.4.0.0/16"}, ec2err.InvalidParameterValue, "", 0},
		{"wrong family", []string{"AddEntry.1.Cidr", "2001:db8::/32"}, ec2err.InvalidParameterValue, "", 0},
		{"remove what is not there", []string{"RemoveEntry.1.Cidr", "10.9.0.0/16"}, ec2err.InvalidParameterValue, "", 0},
		{"entries and size at once", []string{"MaxEntries", "5", "AddEntry.1.Cidr", "10.3.0.0/16"}, ec2err.InvalidParameterCombination, "", 0},
		{"reserved name", []string{"PrefixListName", "com.amazonaws.us-east-1.s3"}, ec2err.InvalidParameterValue, "", 0},
		{"dry run", []string{"DryRun", "true", "AddEntry.1.Cidr", "10.3.0.0/16"}, ec2err.DryRunOperation, "", 0},
		{"grow with the current version", []string{"CurrentVersion", "3", "MaxEntries", "5"}, "", "10.2.0.0/16(dorms)", 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			resp, err := e.call(t, "alice", "ModifyManagedPrefixList", append([]string{"PrefixListId", id}, st.kv...)...)
			if st.code != "" {
				wantCode(t, err, st.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pl := resp.(*prefixListResponse).PrefixList
			if got := e.entriesText(t, "alice", id); got != st.entries || pl.Version != st.version || pl.State != "modify-complete" {
				t.Errorf("got entries %q version %d state %s, want %q, %d, modify-complete", got, pl.Version, pl.State, st.entries, st.version)
			}
		})
	}
	lists := e.mustCall(t, "alice", "DescribeManagedPrefixLists", "Filter.1.Name", "tag:course", "Filter.1.Value.1", "net101").(*describeManagedPrefixListsResponse).PrefixLists
	if len(lists) != 1 || lists[0].Name != "campus-2" || lists[0].MaxEntries != 5 || lists[0].Version != 3 {
		t.Errorf("describe by tag: got %+v, want campus-2 with 5 entries at most, version 3", lists)
	}
	if got := len(e.mustCall(t, "bob", "DescribeManagedPrefixLists").(*describeManagedPrefixListsResponse).PrefixLists); got != 0 {
		t.Errorf("bob's describe: got %d lists, want none of alice's", got)
	}

	// Deleting a list that a rule names leaves it delete-failed, as EC2's
	// asynchronous deletion does; once the rule is revoked, it goes.
	web := e.createGroup(t, "alice", "web")
	rule := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "22",
		"IpPermissions.1.ToPort", "22", "IpPermissions.1.PrefixListIds.1.PrefixListId", id)
	if got := e.rulesText(t, "alice", web)[rule]; got != "in tcp 22-22 "+id {
		t.Errorf("rule: got %q, want tcp 22 from %s", got, id)
	}
	for i, want := range []string{"delete-failed", ""} {
		deleted := e.mustCall(t, "alice", "DeleteManagedPrefixList", "PrefixListId", id).(*prefixListResponse).PrefixList
		if deleted.ID != id || deleted.State != "delete-in-progress" {
			t.Errorf("delete %d: got %+v, want %s delete-in-progress", i+1, deleted, id)
		}
		resp, err := e.call(t, "alice", "DescribeManagedPrefixLists", "PrefixListId.1", id)
		switch {
		case want == "":
			wantCode(t, err, ec2err.InvalidPrefixListIDNotFound)
		case err != nil:
			t.Fatal(err)
		default:
			if got := resp.(*describeManagedPrefixListsResponse).PrefixLists[0]; got.State != want || !strings.Contains(got.StateMessage, web) {
				t.Errorf("after delete %d: got state %s (%s), want %s naming %s", i+1, got.State, got.StateMessage, want, web)
			}
		}
		if i == 0 {
			e.mustCall(t, "alice", "RevokeSecurityGroupIngress", "GroupId", web, "SecurityGroupRuleId.1", rule)
		}
	}
	_, err := e.call(t, "alice", "GetManagedPrefixListEntries", "PrefixListId", id)
	wantCode(t, err, ec2err.InvalidPrefixListIDNotFound)
	if got := tagList(t, e, "alice", "Filter.1.Name", "resource-id", "Filter.1.Value.1", id); got != "" {
		t.Errorf("tags after delete: got %q, want none", got)
	}
}

func TestManagedPrefixListErrors(t *testing.T) {
	e := newTestEnv(t, nil)
	mine := e.createPrefixList(t, "alice", "IPv4")
	v6 := e.createPrefixList(t, "alice", "IPv6")
	bobs := e.createPrefixList(t, "bob", "IPv4")
	web := e.createGroup(t, "alice", "web")
	ssh := e.authorizeOne(t, "alice", "AuthorizeSecurityGroupIngress", web, tcpFrom(22, "10.0.0.0/8")...)
	create := func(kv ...string) []string {
		return withDefaults(kv, "PrefixListName", "x", "AddressFamily", "IPv4", "MaxEntries", "1")
	}
	fromList := func(pl string) []string {
		return []string{"GroupId", web, "IpPermissions.1.IpProtocol", "tcp", "IpPermissions.1.FromPort", "80", "IpPermissions.1.ToPort", "80",
			"IpPermissions.1.PrefixListIds.1.PrefixListId", pl}
	}
	cases := []struct {
		name   string
		action string
		kv     []string
		code   string
	}{
		{"no name", "CreateManagedPrefixList", []string{"AddressFamily", "IPv4", "MaxEntries", "1"}, ec2err.MissingParameter},
		{"no family", "CreateManagedPrefixList", []string{"PrefixListName", "x", "MaxEntries", "1"}, ec2err.MissingParameter},
		{"bad family", "CreateManagedPrefixList", create("AddressFamily", "ipv5"), ec2err.InvalidParameterValue},
		{"no size", "CreateManagedPrefixList", []string{"PrefixListName", "x", "AddressFamily", "IPv4"}, ec2err.MissingParameter},
		{"size 0", "CreateManagedPrefixList", create("MaxEntries", "0"), ec2err.InvalidParameterValue},
		{"size over 1000", "CreateManagedPrefixList", create("MaxEntries", "1001"), ec2err.InvalidParameterValue},
		{"more entries than its size", "CreateManagedPrefixList", create("Entry.1.Cidr", "10.0.0.0/8", "Entry.2.Cidr", "11.0.0.0/8"), ec2err.InvalidParameterValue},
		{"entry of the other family", "CreateManagedPrefixList", create("Entry.1.Cidr", "2001:db8::/32"), ec2err.InvalidParameterValue},
		{"entry with host bits", "CreateManagedPrefixList", create("Entry.1.Cidr", "10.0.0.1/8"), ec2err.InvalidParameterValue},
		{"wrong tag type", "CreateManagedPrefixList", create("TagSpecification.1.ResourceType", "vpc", "TagSpecification.1.Tag.1.Key", "k"), ec2err.InvalidParameterValue},
		{"create dry run", "CreateManagedPrefixList", create("DryRun", "true"), ec2err.DryRunOperation},
		{"classmate's list", "GetManagedPrefixListEntries", []string{"PrefixListId", bobs}, ec2err.InvalidPrefixListIDNotFound},
		{"classmate's list by describe", "DescribeManagedPrefixLists", []string{"PrefixListId.1", bobs}, ec2err.InvalidPrefixListIDNotFound},
		{"malformed id", "GetManagedPrefixListEntries", []string{"PrefixListId", "office"}, ec2err.InvalidPrefixListIDMalformed},
		{"older version", "GetManagedPrefixListEntries", []string{"PrefixListId", mine, "TargetVersion", "0"}, ec2err.InvalidParameterValue},
		{"modify classmate's", "ModifyManagedPrefixList", []string{"PrefixListId", bobs, "PrefixListName", "mine"}, ec2err.InvalidPrefixListIDNotFound},
		{"shrink below its entries", "ModifyManagedPrefixList", []string{"PrefixListId", mine, "AddEntry.1.Cidr", "10.0.0.0/8"}, ""},
		{"delete classmate's", "DeleteManagedPrefixList", []string{"PrefixListId", bobs}, ec2err.InvalidPrefixListIDNotFound},
		{"delete dry run", "DeleteManagedPrefixList", []string{"PrefixListId", mine, "DryRun", "true"}, ec2err.DryRunOperation},
		{"unknown filter", "DescribeManagedPrefixLists", []string{"Filter.1.Name", "cidr", "Filter.1.Value.1", "x"}, ec2err.InvalidParameterValue},
		{"rule naming a classmate's list", "AuthorizeSecurityGroupIngress", fromList(bobs), ec2err.InvalidPrefixListIDNotFound},
		{"rule naming a list that does not exist", "AuthorizeSecurityGroupIngress", fromList("pl-0123456789abcdef0"), ec2err.InvalidPrefixListIDNotFound},
		{"rule modified to a classmate's list", "ModifySecurityGroupRules", modify(web, []string{ssh, "IpProtocol", "-1", "PrefixListId", bobs}), ec2err.InvalidPrefixListIDNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.call(t, "alice", c.action, c.kv...)
			if c.code == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			wantCode(t, err, c.code)
		})
	}
	_, err := e.call(t, "alice", "ModifyManagedPrefixList", "PrefixListId", mine, "MaxEntries", "1")
	wantCode(t, err, ec2err.InvalidParameterValue) // it has 2 entries now
	lists := e.mustCall(t, "alice", "DescribeManagedPrefixLists").(*describeManagedPrefixListsResponse).PrefixLists
	if len(lists) != 2 || fmt.Sprint(lists[0].ID < lists[1].ID) != "true" || !strings.Contains(lists[0].ID+lists[1].ID, v6) {
		t.Errorf("got %+v, want alice's two lists in id order and nothing the failed calls would have made", lists)
	}
}

// A ClientToken makes one list however often it is sent.
func TestCreateManagedPrefixListIdempotent(t *testing.T) {
	e := newTestEnv(t, nil)
	kv := []string{"PrefixListName", "x", "AddressFamily", "IPv4", "MaxEntries", "1", "ClientToken", "retry-1"}
	first := e.mustCall(t, "alice", "CreateManagedPrefixList", kv...).(*prefixListResponse).PrefixList.ID
	second := e.mustCall(t, "alice", "CreateManagedPrefixList", kv...).(*prefixListResponse).PrefixList.ID
	bobs := e.mustCall(t, "bob", "CreateManagedPrefixList", kv...).(*prefixListResponse).PrefixList.ID
	lists := e.mustCall(t, "alice", "DescribeManagedPrefixLists").(*describeManagedPrefixListsResponse).PrefixLists
	if first != second || len(lists) != 1 || bobs == first {
		t.Errorf("got ids %s, %s (bob %s) and %d lists, want one list for alice and bob's own", first, second, bobs, len(lists))
	}
}

// Prefix lists count toward max_prefix_lists, EC2's 100 by default.
func TestManagedPrefixListQuota(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxPrefixLists = quota.Int(1)
	e := newTestEnv(t, cfg)
	id := e.createPrefixList(t, "alice", "IPv4")
	_, err := e.call(t, "alice", "CreateManagedPrefixList", "PrefixListName", "y", "AddressFamily", "IPv4", "MaxEntries", "1")
	wantCode(t, err, ec2err.ResourceLimitExceeded)
	e.mustCall(t, "alice", "DeleteManagedPrefixList", "PrefixListId", id)
	e.createPrefixList(t, "alice", "IPv4")
	if got := *quota.Builtin().MaxPrefixLists; got != 100 {
		t.Errorf("builtin max_prefix_lists: got %d, want EC2's 100", got)
	}
}

// On a backend that holds the groups, rules cannot name a student's own
// list, so none is made.
func TestManagedPrefixListRefusedWithGroupsBackend(t *testing.T) {
	e := newTestEnv(t, nil)
	e.svc.Backend = backend.Abilities{SecurityGroups: &recordingGroups{}}
	_, err := e.call(t, "alice", "CreateManagedPrefixList", "PrefixListName", "x", "AddressFamily", "IPv4", "MaxEntries", "1")
	wantCode(t, err, ec2err.UnsupportedOperation)
}

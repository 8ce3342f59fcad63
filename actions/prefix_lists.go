package actions

import (
	"fmt"
	"slices"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Customer-managed prefix lists: a student's named sets of CIDR blocks,
// which their security group rules may name as a peer (PrefixListId).
// They live in the store only, so on a backend that holds the groups
// (whose rules would name a list the cloud does not know) they are refused.
var prefixListActions = map[string]Handler{
	"CreateManagedPrefixList":     (*Service).createManagedPrefixList,
	"DescribeManagedPrefixLists":  (*Service).describeManagedPrefixLists,
	"GetManagedPrefixListEntries": (*Service).getManagedPrefixListEntries,
	"ModifyManagedPrefixList":     (*Service).modifyManagedPrefixList,
	"DeleteManagedPrefixList":     (*Service).deleteManagedPrefixList,
}

const (
	maxPrefixListEntries = 1000 // EC2's largest MaxEntries
	maxPrefixListName    = 255
)

type managedPrefixListXML struct {
	ID            string   `xml:"prefixListId"`
	AddressFamily string   `xml:"addressFamily"`
	State         string   `xml:"state"`
	StateMessage  string   `xml:"stateMessage,omitempty"`
	ARN           string   `xml:"prefixListArn"`
	Name          string   `xml:"prefixListName"`
	MaxEntries    int      `xml:"maxEntries"`
	Version       int64    `xml:"version"`
	Tags          []tagXML `xml:"tagSet>item"`
	OwnerID       string   `xml:"ownerId"`
}

type prefixListResponse struct {
	Meta
	PrefixList managedPrefixListXML `xml:"prefixList"`
}

func (s *Service) prefixListXML(u *store.User, pl *store.PrefixList, tags []store.Tag) managedPrefixListXML {
	return managedPrefixListXML{
		ID: pl.ID, AddressFamily: pl.AddressFamily, State: pl.State, StateMessage: pl.StateMessage,
		ARN:  "arn:aws:ec2:" + s.Config.Region + ":" + u.AccountID + ":prefix-list/" + pl.ID,
		Name: pl.Name, MaxEntries: pl.MaxEntries, Version: pl.Version, Tags: tagsXML(tags), OwnerID: u.AccountID,
	}
}

// prefixList loads one of the owner's lists: a classmate's is not found.
func prefixList(tx store.Tx, owner, id string) (*store.PrefixList, error) {
	pl, err := store.GetPrefixList(tx, owner, id)
	if err == nil && pl == nil {
		err = ec2err.New(ec2err.InvalidPrefixListIDNotFound, "The prefix list ID '%s' does not exist", id)
	}
	return pl, err
}

func prefixListID(p *query.Params) (string, error) {
	return requiredID(p, "PrefixListId", "pl", ec2err.InvalidPrefixListIDMalformed)
}

// checkPrefixLists makes sure every prefix list the rules name is one of
// the owner's. A backend that holds the groups checks its own (the cloud's
// AWS-managed lists among them).
func (s *Service) checkPrefixLists(tx store.Tx, owner string, rules []store.Rule) error {
	if s.Backend.SecurityGroups != nil {
		return nil
	}
	for _, r := range rules {
		if r.PrefixListID == "" {
			continue
		}
		if _, err := prefixList(tx, owner, r.PrefixListID); err != nil {
			return err
		}
	}
	return nil
}

// CreateManagedPrefixList

func (s *Service) createManagedPrefixList(r *Request) (any, error) {
	name, err := prefixListName(r.Params, true)
	if err != nil {
		return nil, err
	}
	family, err := r.Params.Required("AddressFamily")
	if err != nil {
		return nil, err
	}
	if family != "IPv4" && family != "IPv6" {
		return nil, ec2err.BadValue("AddressFamily", family, "It must be IPv4 or IPv6.")
	}
	maxEntries, err := prefixListMaxEntries(r.Params, true)
	if err != nil {
		return nil, err
	}
	pl := &store.PrefixList{
		ID: store.NewID("pl"), Owner: r.User.Name, Name: name, AddressFamily: family, MaxEntries: maxEntries, Version: 1, State: "create-complete",
	}
	if pl.Entries, err = applyEntries(pl, nil, r.Params.Structs("Entry")); err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "prefix-list")
	if err != nil {
		return nil, err
	}
	if s.Backend.SecurityGroups != nil {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "On this course's cloud security group rules cannot name your own prefix lists, so none can be made: use CIDR blocks in the rules.")
	}
	// A retry with the same ClientToken finds the list it made.
	if token := r.Params.String("ClientToken"); token != "" {
		pl.ID = store.DerivedID("pl", pl.Owner, token)
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	err = s.Store.Update(func(tx store.Tx) error {
		had, err := store.GetPrefixList(tx, pl.Owner, pl.ID)
		if err != nil || had != nil {
			if had != nil {
				*pl = *had
				tags, err = store.Tags(tx, pl.Owner, pl.ID)
			}
			return err
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{PrefixLists: 1}); err != nil {
			return err
		}
		if err := store.PutPrefixList(tx, pl); err != nil {
			return err
		}
		return putTags(tx, pl.Owner, pl.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	return &prefixListResponse{PrefixList: s.prefixListXML(r.User, pl, tags)}, nil
}

// prefixListName reads PrefixListName; names starting with com.amazonaws
// are AWS's.
func prefixListName(p *query.Params, required bool) (string, error) {
	name := p.String("PrefixListName")
	switch {
	case name == "" && required:
		return "", ec2err.Missing("PrefixListName")
	case len(name) > maxPrefixListName:
		return "", ec2err.BadValue("PrefixListName", name, fmt.Sprintf("Prefix list names are at most %d characters.", maxPrefixListName))
	case strings.HasPrefix(strings.ToLower(name), "com.amazonaws"):
		return "", ec2err.BadValue("PrefixListName", name, "Names starting with com.amazonaws are reserved for AWS.")
	}
	return name, nil
}

// prefixListMaxEntries reads MaxEntries, 1 to 1000; 0 when optional and absent.
func prefixListMaxEntries(p *query.Params, required bool) (int, error) {
	n, sent, err := p.OptionalInt("MaxEntries")
	switch {
	case err != nil:
		return 0, err
	case !sent && required:
		return 0, ec2err.Missing("MaxEntries")
	case sent && (n < 1 || n > maxPrefixListEntries):
		return 0, ec2err.BadValue("MaxEntries", p.String("MaxEntries"), fmt.Sprintf("It must be between 1 and %d.", maxPrefixListEntries))
	}
	return n, nil
}

// applyEntries is pl's entries with the CIDRs of remove taken out, then
// the entries of add put in (a CIDR already there takes the new
// description), each of the list's address family, within MaxEntries.
func applyEntries(pl *store.PrefixList, remove, add []*query.Params) ([]store.PrefixListEntry, error) {
	entries := slices.Clone(pl.Entries)
	for _, rp := range remove {
		cidr, err := rp.Required("Cidr")
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(entries, func(e store.PrefixListEntry) bool { return e.CIDR == cidr })
		if i < 0 {
			return nil, ec2err.New(ec2err.InvalidParameterValue, "The CIDR %s is not an entry of prefix list %s, so it cannot be removed.", cidr, pl.ID)
		}
		entries = slices.Delete(entries, i, i+1)
	}
	for _, ap := range add {
		cidr, err := parseCIDR(ap, "Cidr", pl.AddressFamily == "IPv6")
		if err != nil {
			return nil, err
		}
		d, err := ruleDescription(ap, "Entry.Description")
		if err != nil {
			return nil, err
		}
		entries = slices.DeleteFunc(entries, func(e store.PrefixListEntry) bool { return e.CIDR == cidr })
		entries = append(entries, store.PrefixListEntry{CIDR: cidr, Description: d})
	}
	if len(entries) > pl.MaxEntries {
		return nil, ec2err.New(ec2err.InvalidParameterValue, "The prefix list would have %d entries, more than its MaxEntries of %d: remove some or raise MaxEntries first.", len(entries), pl.MaxEntries)
	}
	return entries, nil
}

// DescribeManagedPrefixLists

type describeManagedPrefixListsResponse struct {
	Meta
	NextToken   string                 `xml:"nextToken,omitempty"`
	PrefixLists []managedPrefixListXML `xml:"prefixListSet>item"`
}

func prefixListAttrs(pl *store.PrefixList, tags []store.Tag, accountID string) Attrs {
	return func(name string) ([]string, bool) {
		switch name {
		case "prefix-list-id":
			return one(pl.ID)
		case "prefix-list-name":
			return one(pl.Name)
		case "owner-id":
			return one(accountID)
		}
		return tagAttrs(tags, name)
	}
}

func (s *Service) describeManagedPrefixLists(r *Request) (any, error) {
	ids := r.Params.List("PrefixListId")
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, prefixListAttrs(&store.PrefixList{}, nil, "")); err != nil {
		return nil, err
	}
	if err := checkIDs(ids, "pl", ec2err.InvalidPrefixListIDMalformed); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	resp := &describeManagedPrefixListsResponse{}
	err = s.Store.View(func(tx store.Tx) error {
		for _, id := range ids {
			if _, err := prefixList(tx, owner, id); err != nil {
				return err
			}
		}
		all, err := store.ListPrefixLists(tx, owner)
		if err != nil {
			return err
		}
		var picked []managedPrefixListXML
		for _, pl := range all {
			if len(ids) > 0 && !contains(ids, pl.ID) {
				continue
			}
			tags, err := store.Tags(tx, owner, pl.ID)
			if err != nil {
				return err
			}
			if matchFilters(filters, prefixListAttrs(pl, tags, r.User.AccountID)) {
				picked = append(picked, s.prefixListXML(r.User, pl, tags))
			}
		}
		page, err := paginate(len(picked), func(i int) string { return picked[i].ID }, r.Params, 1, 100)
		resp.NextToken, resp.PrefixLists = page.NextToken, picked[page.Start:page.End]
		return err
	})
	return resp, err
}

// GetManagedPrefixListEntries

type prefixListEntryXML struct {
	CIDR        string `xml:"cidr"`
	Description string `xml:"description,omitempty"`
}

type getManagedPrefixListEntriesResponse struct {
	Meta
	Entries   []prefixListEntryXML `xml:"entrySet>item"`
	NextToken string               `xml:"nextToken,omitempty"`
}

func (s *Service) getManagedPrefixListEntries(r *Request) (any, error) {
	id, err := prefixListID(r.Params)
	if err != nil {
		return nil, err
	}
	target, targeted, err := r.Params.OptionalInt("TargetVersion")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	var pl *store.PrefixList
	err = s.Store.View(func(tx store.Tx) (err error) {
		pl, err = prefixList(tx, r.User.Name, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if targeted && int64(target) != pl.Version {
		return nil, ec2err.BadValue("TargetVersion", r.Params.String("TargetVersion"), fmt.Sprintf("Only the current version (%d) of prefix list %s is kept.", pl.Version, id))
	}
	entries := slices.Clone(pl.Entries)
	slices.SortFunc(entries, func(a, b store.PrefixListEntry) int { return strings.Compare(a.CIDR, b.CIDR) })
	page, err := paginate(len(entries), func(i int) string { return entries[i].CIDR }, r.Params, 1, 100)
	if err != nil {
		return nil, err
	}
	resp := &getManagedPrefixListEntriesResponse{NextToken: page.NextToken}
	for _, e := range entries[page.Start:page.End] {
		resp.Entries = append(resp.Entries, prefixListEntryXML(e))
	}
	return resp, nil
}

// ModifyManagedPrefixList

func (s *Service) modifyManagedPrefixList(r *Request) (any, error) {
	id, err := prefixListID(r.Params)
	if err != nil {
		return nil, err
	}
	name, err := prefixListName(r.Params, false)
	if err != nil {
		return nil, err
	}
	maxEntries, err := prefixListMaxEntries(r.Params, false)
	if err != nil {
		return nil, err
	}
	add, remove := r.Params.Structs("AddEntry"), r.Params.Structs("RemoveEntry")
	if maxEntries > 0 && len(add)+len(remove) > 0 {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "You cannot modify the entries of a prefix list and its MaxEntries in the same request.")
	}
	current, checkVersion, err := r.Params.OptionalInt("CurrentVersion")
	if err != nil {
		return nil, err
	}
	var pl *store.PrefixList
	var tags []store.Tag
	err = s.Store.Update(func(tx store.Tx) error {
		var err error
		if pl, err = prefixList(tx, r.User.Name, id); err != nil {
			return err
		}
		if checkVersion && int64(current) != pl.Version {
			return ec2err.New(ec2err.PrefixListVersionMismatch, "The prefix list has the incorrect version number.")
		}
		if maxEntries > 0 {
			if maxEntries < len(pl.Entries) {
				return ec2err.BadValue("MaxEntries", r.Params.String("MaxEntries"), fmt.Sprintf("Prefix list %s has %d entries: remove some first.", id, len(pl.Entries)))
			}
			pl.MaxEntries = maxEntries
		}
		if len(add)+len(remove) > 0 {
			if pl.Entries, err = applyEntries(pl, remove, add); err != nil {
				return err
			}
			pl.Version++
		}
		if name != "" {
			pl.Name = name
		}
		pl.State, pl.StateMessage = "modify-complete", ""
		if err := r.DryRun(); err != nil {
			return err
		}
		if tags, err = store.Tags(tx, pl.Owner, pl.ID); err != nil {
			return err
		}
		return store.PutPrefixList(tx, pl)
	})
	if err != nil {
		return nil, err
	}
	return &prefixListResponse{PrefixList: s.prefixListXML(r.User, pl, tags)}, nil
}

// DeleteManagedPrefixList

// deleteManagedPrefixList answers as EC2's asynchronous deletion does,
// delete-in-progress; a list that rules still name is not deleted but left
// delete-failed, saying which group's rules name it.
func (s *Service) deleteManagedPrefixList(r *Request) (any, error) {
	id, err := prefixListID(r.Params)
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	var pl *store.PrefixList
	var tags []store.Tag
	err = s.Store.Update(func(tx store.Tx) error {
		var err error
		if pl, err = prefixList(tx, owner, id); err != nil {
			return err
		}
		user, err := prefixListUser(tx, owner, id)
		if err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		if tags, err = store.Tags(tx, owner, id); err != nil {
			return err
		}
		if user != nil {
			pl.State, pl.StateMessage = "delete-failed", fmt.Sprintf("The prefix list is referenced by security group %s (%s): remove those rules, then delete it again.", user.ID, user.Name)
			return store.PutPrefixList(tx, pl)
		}
		if err := store.DeleteAllTags(tx, owner, id); err != nil {
			return err
		}
		return store.DeletePrefixList(tx, owner, id)
	})
	if err != nil {
		return nil, err
	}
	x := s.prefixListXML(r.User, pl, tags)
	x.State, x.StateMessage = "delete-in-progress", ""
	return &prefixListResponse{PrefixList: x}, nil
}

// prefixListUser is the first of the owner's groups whose rules name the
// list; nil when none does.
func prefixListUser(tx store.Tx, owner, id string) (*store.SecurityGroup, error) {
	groups, err := store.ListSecurityGroups(tx, owner)
	if err != nil {
		return nil, err
	}
	names := func(rule store.Rule) bool { return rule.PrefixListID == id }
	for _, g := range groups {
		if slices.ContainsFunc(g.Ingress, names) || slices.ContainsFunc(g.Egress, names) {
			return g, nil
		}
	}
	return nil, nil
}

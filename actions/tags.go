package actions

import (
	"slices"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Tags work alike for every resource type in store.ResourceTypes: a
// resource is taggable when the caller owns it, and another student's id
// answers exactly as one that does not exist.
var tagActions = map[string]Handler{
	"CreateTags":   (*Service).createTags,
	"DeleteTags":   (*Service).deleteTags,
	"DescribeTags": (*Service).describeTags,
}

// notFoundCodes is the NotFound code EC2 uses for each resource type.
var notFoundCodes = map[string]string{
	"instance":       ec2err.InvalidInstanceIDNotFound,
	"volume":         ec2err.InvalidVolumeNotFound,
	"snapshot":       ec2err.InvalidSnapshotNotFound,
	"security-group": ec2err.InvalidGroupNotFound,
	"key-pair":       ec2err.InvalidKeyPairNotFound,
	"elastic-ip":     ec2err.InvalidAllocationIDNotFound,

	"launch-template":  ec2err.LaunchTemplateIDNotFound, // launch_templates.go
	"image":            ec2err.InvalidAMIIDNotFound,
	"vpc":              ec2err.InvalidVpcIDNotFound,
	"subnet":           ec2err.InvalidSubnetIDNotFound,
	"internet-gateway": ec2err.InvalidInternetGatewayIDNotFound,
	"route-table":      ec2err.InvalidRouteTableIDNotFound,

	"security-group-rule": ec2err.InvalidSecurityGroupRuleIDNF, // a rule is found in its group's record
	"prefix-list":         ec2err.InvalidPrefixListIDNotFound,  // prefix_lists.go
	"network-interface":   ec2err.InvalidNetworkInterfaceIDNotFound,
}

// resourceIDs returns ResourceId.N, each checked for form.
func resourceIDs(p *query.Params) ([]string, error) {
	ids := p.List("ResourceId")
	if len(ids) == 0 {
		return nil, ec2err.Missing("resourceIdSet") // EC2 names the set, not ResourceId.N
	}
	for _, id := range ids {
		rt, ok := store.ResourceTypeOf(id)
		if !ok || !store.ValidID(strings.TrimSuffix(rt.Prefix, "-"), id) {
			return nil, ec2err.New(ec2err.InvalidIDMalformed, "The ID '%s' is not valid", id)
		}
	}
	return ids, nil
}

// checkOwned fails with the type's NotFound code unless the caller owns id.
func checkOwned(tx store.Tx, owner, id string) error {
	if owned, err := store.Owns(tx, owner, id); owned || err != nil {
		return err
	}
	rt, _ := store.ResourceTypeOf(id)
	if rt.Name == networkInterfaceResource { // an instance's own primary: no record of its own
		if inst, err := derivedPrimary(tx, owner, id); inst != nil || err != nil {
			return err
		}
	}
	return ec2err.New(notFoundCodes[rt.Name], "The %s ID '%s' does not exist", rt.Name, id)
}

// requestTags decodes Tag.N for CreateTags and checks each.
func requestTags(p *query.Params) ([]store.Tag, error) {
	qt, err := p.Tags("Tag")
	if err != nil {
		return nil, err
	}
	if len(qt) == 0 {
		return nil, ec2err.Missing("Tag")
	}
	out := make([]store.Tag, len(qt))
	for i, t := range qt {
		if err := checkTag(t.Key, t.Value); err != nil {
			return nil, err
		}
		out[i] = store.Tag{Key: t.Key, Value: t.Value}
	}
	return out, nil
}

// tagUpdate checks, then (in a writable transaction) applies, a change to
// the tags of every resource. Run in a View first, it is the validation
// that lets DryRun answer without writing.
type tagUpdate func(tx store.Tx, owner, id string) error

func (s *Service) updateTags(r *Request, ids []string, apply tagUpdate) (any, error) {
	owner := r.User.Name
	run := func(tx store.Tx) error {
		for _, id := range ids {
			if err := checkOwned(tx, owner, id); err != nil {
				return err
			}
			if err := apply(tx, owner, id); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.Store.View(run); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	if err := s.Store.Update(run); err != nil {
		return nil, err
	}
	return ok()
}

func (s *Service) createTags(r *Request) (any, error) {
	ids, err := resourceIDs(r.Params)
	if err != nil {
		return nil, err
	}
	tags, err := requestTags(r.Params)
	if err != nil {
		return nil, err
	}
	return s.updateTags(r, ids, func(tx store.Tx, owner, id string) error {
		have, err := store.TagMap(tx, owner, id)
		if err != nil {
			return err
		}
		for _, t := range tags {
			have[t.Key] = t.Value
		}
		for k := range have {
			if reservedTag(k) {
				delete(have, k)
			}
		}
		if len(have) > maxTagsPerResource {
			return ec2err.New(ec2err.TagLimitExceeded, "The maximum number of tags (%d) for resource '%s' would be exceeded.", maxTagsPerResource, id)
		}
		if !tx.Writable() {
			return nil
		}
		return putTags(tx, owner, id, tags)
	})
}

// deleteSpec is one Tag.N of DeleteTags: a key, and a value that must
// match when given (even empty).
type deleteSpec struct {
	key      string
	value    string
	hasValue bool
}

func (d deleteSpec) matches(t store.Tag) bool {
	return t.Key == d.key && (!d.hasValue || t.Value == d.value)
}

func (s *Service) deleteTags(r *Request) (any, error) {
	ids, err := resourceIDs(r.Params)
	if err != nil {
		return nil, err
	}
	var specs []deleteSpec
	for _, t := range r.Params.Structs("Tag") {
		key, err := t.Required("Key")
		if err != nil {
			return nil, err
		}
		if reservedTag(key) {
			return nil, reservedTagError(key)
		}
		specs = append(specs, deleteSpec{key: key, value: t.String("Value"), hasValue: t.Has("Value")})
	}
	return s.updateTags(r, ids, func(tx store.Tx, owner, id string) error {
		if !tx.Writable() {
			return nil
		}
		have, err := store.Tags(tx, owner, id)
		if err != nil {
			return err
		}
		for _, t := range have {
			if reservedTag(t.Key) {
				continue
			}
			if len(specs) == 0 || slices.ContainsFunc(specs, func(d deleteSpec) bool { return d.matches(t) }) {
				if err := store.DeleteTag(tx, owner, id, t.Key); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

type tagDescriptionXML struct {
	Key          string `xml:"key"`
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Value        string `xml:"value"`
}

type describeTagsResponse struct {
	Meta
	NextToken string              `xml:"nextToken,omitempty"`
	Tags      []tagDescriptionXML `xml:"tagSet>item"`
}

func tagDescriptionAttrs(d tagDescriptionXML) Attrs {
	return func(name string) ([]string, bool) {
		switch name {
		case "key":
			return []string{d.Key}, true
		case "value":
			return []string{d.Value}, true
		case "resource-id":
			return []string{d.ResourceID}, true
		case "resource-type":
			return []string{d.ResourceType}, true
		}
		if key, ok := strings.CutPrefix(name, "tag:"); ok {
			if key == d.Key {
				return []string{d.Value}, true
			}
			return nil, true
		}
		return nil, false
	}
}

func (s *Service) describeTags(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, tagDescriptionAttrs(tagDescriptionXML{})); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	var (
		out   []tagDescriptionXML
		insts []*store.Instance // of the tagged instances, to hide expired ones
	)
	err = s.Store.View(func(tx store.Tx) error {
		read := map[string]bool{}
		return store.ScanTags(tx, r.User.Name, func(id string, t store.Tag) error {
			rt, _ := store.ResourceTypeOf(id)
			d := tagDescriptionXML{Key: t.Key, ResourceID: id, ResourceType: rt.Name, Value: t.Value}
			if !matchFilters(filters, tagDescriptionAttrs(d)) {
				return nil
			}
			out = append(out, d)
			if rt.Bucket == store.BucketInstances && !read[id] {
				read[id] = true
				inst, err := store.GetInstance(tx, r.User.Name, id)
				if inst != nil {
					insts = append(insts, inst)
				}
				return err
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// An instance DescribeInstances no longer shows has no tags to show.
	if err := s.refresh(r.Context, insts); err != nil {
		return nil, err
	}
	hidden := map[string]bool{}
	now := s.now()
	for _, inst := range insts {
		hidden[inst.ID] = !s.visible(inst, now)
	}
	out = slices.DeleteFunc(out, func(d tagDescriptionXML) bool { return hidden[d.ResourceID] })
	page, err := paginate(len(out), func(i int) string { return out[i].ResourceID + "/" + out[i].Key }, r.Params, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &describeTagsResponse{NextToken: page.NextToken, Tags: out[page.Start:page.End]}, nil
}

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

const (
	maxTagsPerResource = 50
	maxTagKeyLen       = 128
	maxTagValueLen     = 256
)

// specTags decodes TagSpecification.N of an action that creates resources
// of the given types: a specification naming any other type is refused (as
// EC2 does), every tag is checked, and each type's tags come back sorted.
func specTags(p *query.Params, types ...string) (map[string][]store.Tag, error) {
	specs, err := p.TagSpecifications()
	if err != nil {
		return nil, err
	}
	out := map[string][]store.Tag{}
	for _, spec := range specs {
		if !contains(types, spec.ResourceType) {
			return nil, ec2err.New(ec2err.InvalidParameterValue, "'%s' is not a valid taggable resource type for this operation.", spec.ResourceType)
		}
		for _, t := range spec.Tags {
			if err := checkTag(t.Key, t.Value); err != nil {
				return nil, err
			}
			out[spec.ResourceType] = append(out[spec.ResourceType], store.Tag{Key: t.Key, Value: t.Value})
		}
	}
	for _, tags := range out {
		if len(tags) > maxTagsPerResource {
			return nil, ec2err.New(ec2err.TagLimitExceeded, "A resource can have at most %d tags; the request gives %d.", maxTagsPerResource, len(tags))
		}
		store.SortTags(tags)
	}
	return out, nil
}

// tagSpecTags is specTags for an action that creates one type of resource.
func tagSpecTags(p *query.Params, resourceType string) ([]store.Tag, error) {
	byType, err := specTags(p, resourceType)
	return byType[resourceType], err
}

func checkTag(key, value string) error {
	switch {
	case len(key) > maxTagKeyLen:
		return ec2err.New(ec2err.InvalidParameterValue, "Tag key '%s' is longer than %d characters.", key, maxTagKeyLen)
	case reservedTag(key):
		return reservedTagError(key)
	case len(value) > maxTagValueLen:
		return ec2err.New(ec2err.InvalidParameterValue, "The value of tag '%s' is longer than %d characters.", key, maxTagValueLen)
	}
	return nil
}

// reservedTag reports whether key is one of EC2's own (aws:…, such as
// aws:ec2launchtemplate:id): no student sets or deletes it, and it does
// not count toward a resource's 50.
func reservedTag(key string) bool { return strings.HasPrefix(strings.ToLower(key), "aws:") }

func reservedTagError(key string) error {
	return ec2err.New(ec2err.InvalidParameterValue, "Tag keys starting with 'aws:' are reserved for AWS use: '%s'.", key)
}

func putTags(tx store.Tx, owner, resourceID string, tags []store.Tag) error {
	for _, t := range tags {
		if err := store.SetTag(tx, owner, resourceID, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// tagSetXML is the tagSet of an instance or volume. EC2 leaves the
// element out where the resource has no tags (boto3's Tags key is then
// absent, a resource's .tags None); a "tagSet>item" path would still write
// an empty <tagSet></tagSet>, a nil *tagSetXML writes nothing.
type tagSetXML struct {
	Items []tagXML `xml:"item"`
}

// list is the set's tags, none for an absent set.
func (t *tagSetXML) list() []tagXML {
	if t == nil {
		return nil
	}
	return t.Items
}

func tagSetOf(tags []store.Tag) *tagSetXML {
	if len(tags) == 0 {
		return nil
	}
	return &tagSetXML{tagsXML(tags)}
}

func tagsXML(tags []store.Tag) []tagXML {
	out := make([]tagXML, len(tags))
	for i, t := range tags {
		out[i] = tagXML{t.Key, t.Value}
	}
	return out
}

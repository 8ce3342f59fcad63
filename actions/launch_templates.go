package actions

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Launch templates: a student's named, numbered sets of launch parameters
// (store/launch_templates.go), and RunInstances from one
// (parseTemplateLaunch). The data of a version is kept as sent and read
// by launch_template_data.go.

var launchTemplateActions = map[string]Handler{
	"CreateLaunchTemplate":           (*Service).createLaunchTemplate,
	"DescribeLaunchTemplates":        (*Service).describeLaunchTemplates,
	"ModifyLaunchTemplate":           (*Service).modifyLaunchTemplate,
	"DeleteLaunchTemplate":           (*Service).deleteLaunchTemplate,
	"CreateLaunchTemplateVersion":    (*Service).createLaunchTemplateVersion,
	"DescribeLaunchTemplateVersions": (*Service).describeLaunchTemplateVersions,
	"DeleteLaunchTemplateVersions":   (*Service).deleteLaunchTemplateVersions,
	"GetLaunchTemplateData":          (*Service).getLaunchTemplateData,
}

// EC2's limits: 5,000 launch templates per Region, 10,000 versions per
// template, 200 versions named in one DeleteLaunchTemplateVersions, and
// MaxResults up to 200 in both describes.
const (
	maxLaunchTemplates       = 5000
	maxTemplateVersions      = 10000
	maxVersionsDeletedAtOnce = 200
	maxVersionDescriptionLen = 255
	maxTemplateTokenLen      = 128
	maxTemplatesListed       = 200
)

// The tags EC2 puts on an instance launched from a template.
const (
	templateIDTag      = "aws:ec2launchtemplate:id"
	templateVersionTag = "aws:ec2launchtemplate:version"
)

// DeleteLaunchTemplateVersions' codes for a version it did not delete
// (ResponseError's enumeration has none for the default version).
const (
	versionDoesNotExist    = "launchTemplateVersionDoesNotExist"
	versionUnexpectedError = "unexpectedError"
)

// templateNameRE is EC2's rule for a launch template's name.
var templateNameRE = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

type launchTemplateXML struct {
	ID             string   `xml:"launchTemplateId"`
	Name           string   `xml:"launchTemplateName"`
	CreateTime     string   `xml:"createTime"`
	CreatedBy      string   `xml:"createdBy"`
	DefaultVersion int64    `xml:"defaultVersionNumber"`
	LatestVersion  int64    `xml:"latestVersionNumber"`
	Tags           []tagXML `xml:"tagSet>item"`
}

type launchTemplateVersionXML struct {
	TemplateID     string                `xml:"launchTemplateId"`
	TemplateName   string                `xml:"launchTemplateName"`
	VersionNumber  int64                 `xml:"versionNumber"`
	Description    string                `xml:"versionDescription,omitempty"`
	CreateTime     string                `xml:"createTime"`
	CreatedBy      string                `xml:"createdBy"`
	DefaultVersion bool                  `xml:"defaultVersion"`
	Data           launchTemplateDataXML `xml:"launchTemplateData"`
}

// launchTemplateResponse answers Create, Modify and DeleteLaunchTemplate.
type launchTemplateResponse struct {
	Meta
	Template launchTemplateXML `xml:"launchTemplate"`
}

type describeLaunchTemplatesResponse struct {
	Meta
	Templates []launchTemplateXML `xml:"launchTemplates>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}

type createLaunchTemplateVersionResponse struct {
	Meta
	Version launchTemplateVersionXML `xml:"launchTemplateVersion"`
}

type describeLaunchTemplateVersionsResponse struct {
	Meta
	Versions  []launchTemplateVersionXML `xml:"launchTemplateVersionSet>item"`
	NextToken string                     `xml:"nextToken,omitempty"`
}

type deletedVersionXML struct {
	TemplateID    string `xml:"launchTemplateId"`
	TemplateName  string `xml:"launchTemplateName"`
	VersionNumber int64  `xml:"versionNumber"`
}

type versionErrorXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type undeletedVersionXML struct {
	TemplateID    string          `xml:"launchTemplateId"`
	TemplateName  string          `xml:"launchTemplateName"`
	VersionNumber int64           `xml:"versionNumber"`
	Error         versionErrorXML `xml:"responseError"`
}

type deleteLaunchTemplateVersionsResponse struct {
	Meta
	Deleted []deletedVersionXML   `xml:"successfullyDeletedLaunchTemplateVersionSet>item"`
	Failed  []undeletedVersionXML `xml:"unsuccessfullyDeletedLaunchTemplateVersionSet>item"`
}

type getLaunchTemplateDataResponse struct {
	Meta
	Data launchTemplateDataXML `xml:"launchTemplateData"`
}

func templateXML(lt *store.LaunchTemplate, tags []store.Tag) launchTemplateXML {
	return launchTemplateXML{
		ID: lt.ID, Name: lt.Name, CreateTime: ec2Time(lt.Created), CreatedBy: lt.CreatedBy,
		DefaultVersion: lt.Default, LatestVersion: lt.Latest, Tags: tagsXML(tags),
	}
}

func versionXML(lt *store.LaunchTemplate, v *store.LaunchTemplateVersion) launchTemplateVersionXML {
	return launchTemplateVersionXML{
		TemplateID: lt.ID, TemplateName: lt.Name, VersionNumber: v.Number, Description: v.Description,
		CreateTime: ec2Time(v.Created), CreatedBy: v.CreatedBy, DefaultVersion: v.Number == lt.Default,
		Data: renderTemplateData(v.Data),
	}
}

func checkTemplateName(name string) error {
	if templateNameRE.MatchString(name) {
		return nil
	}
	return ec2err.New(ec2err.LaunchTemplateNameMalformed, "The launch template name '%s' is invalid: it must be 3 to 128 letters, digits and the characters ( ) . - / _.", name)
}

// templateRef is how a request names a launch template: by id or by name.
type templateRef struct{ id, name string }

// templateRefOf reads LaunchTemplateId or LaunchTemplateName (one of them)
// from p and checks its form; verb is what the request does to it, for
// EC2's message.
func templateRefOf(p *query.Params, verb string) (templateRef, error) {
	ref := templateRef{id: p.String("LaunchTemplateId"), name: p.String("LaunchTemplateName")}
	switch {
	case ref.id != "" && ref.name != "":
		return ref, ec2err.New(ec2err.InvalidParameterCombination, "Either provide launch template ID or launch template name to %s the template.", verb)
	case ref.id == "" && ref.name == "":
		return ref, ec2err.New(ec2err.MissingParameter, "The request must contain the parameter launch template ID or launch template name")
	case ref.id != "":
		return ref, checkIDs([]string{ref.id}, "lt", ec2err.LaunchTemplateIDMalformed)
	}
	return ref, checkTemplateName(ref.name)
}

func templateIDNotFound(id string) error {
	return ec2err.New(ec2err.LaunchTemplateIDNotFound, "The specified launch template, with template ID %s, does not exist.", id)
}

func templateNameNotFound(name string) error {
	return ec2err.New(ec2err.LaunchTemplateNameNotFound, "The specified launch template, with template name %s, does not exist.", name)
}

// someNotFound is EC2's answer to a list naming a template that does not
// exist (DescribeLaunchTemplates).
func someNotFound(code string) error {
	return ec2err.New(code, "At least one of the launch templates specified in the request does not exist.")
}

// findTemplate is the owner's template ref names, or its NotFound error.
func findTemplate(tx store.Tx, owner string, ref templateRef) (*store.LaunchTemplate, error) {
	if ref.id != "" {
		lt, err := store.GetLaunchTemplate(tx, owner, ref.id)
		if err == nil && lt == nil {
			err = templateIDNotFound(ref.id)
		}
		return lt, err
	}
	lt, err := store.LaunchTemplateByName(tx, owner, ref.name)
	if err == nil && lt == nil {
		err = templateNameNotFound(ref.name)
	}
	return lt, err
}

// versionNumber resolves a version as requests give it: $Latest, $Default
// or a number.
func versionNumber(lt *store.LaunchTemplate, param, spec string) (int64, error) {
	switch spec {
	case "$Latest":
		return lt.Latest, nil
	case "$Default":
		return lt.Default, nil
	}
	n, err := strconv.ParseInt(spec, 10, 64)
	if err != nil || n < 1 {
		return 0, ec2err.BadValue(param, spec, "A launch template version is a number, $Latest or $Default.")
	}
	return n, nil
}

// templateVersion is version n of lt, or VersionNotFound.
func templateVersion(tx store.Tx, lt *store.LaunchTemplate, n int64) (*store.LaunchTemplateVersion, error) {
	v, err := store.GetLaunchTemplateVersion(tx, lt.Owner, lt.ID, n)
	if err == nil && v == nil {
		err = ec2err.New(ec2err.LaunchTemplateVersionNotFound, "Could not find the specified version %d for the launch template with ID %s.", n, lt.ID)
	}
	return v, err
}

// requestTemplateData is the request's LaunchTemplateData, checked.
func requestTemplateData(p *query.Params) (url.Values, error) {
	s := p.Struct("LaunchTemplateData")
	data := s.Values()
	if len(data) == 0 {
		return nil, ec2err.Missing("LaunchTemplateData")
	}
	_, err := decodeTemplateData(s)
	return data, err
}

func versionDescription(p *query.Params) (string, error) {
	d := p.String("VersionDescription")
	if len(d) > maxVersionDescriptionLen {
		return "", ec2err.BadValue("VersionDescription", d, fmt.Sprintf("It must be at most %d characters.", maxVersionDescriptionLen))
	}
	return d, nil
}

func (s *Service) createLaunchTemplate(r *Request) (any, error) {
	name, err := r.Params.Required("LaunchTemplateName")
	if err != nil {
		return nil, err
	}
	if err := checkTemplateName(name); err != nil {
		return nil, err
	}
	data, err := requestTemplateData(r.Params)
	if err != nil {
		return nil, err
	}
	desc, err := versionDescription(r.Params)
	if err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "launch-template")
	if err != nil {
		return nil, err
	}
	token, err := templateClientToken(r.Params)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner, now, hash := r.User.Name, s.now(), launchHash(r.Params)
	fresh := &store.LaunchTemplate{
		ID: store.NewID("lt"), Owner: owner, Name: name, Created: now, CreatedBy: iamUserArn(r.User),
		Default: 1, Latest: 1, Last: 1, Versions: 1,
	}
	v := &store.LaunchTemplateVersion{Number: 1, Description: desc, Created: now, CreatedBy: fresh.CreatedBy, Data: data}
	var (
		lt    *store.LaunchTemplate
		shown []store.Tag
	)
	err = s.Store.Update(func(tx store.Tx) (err error) {
		if lt, _, err = earlierTemplateVersion(tx, owner, r.Action, token, hash); lt != nil || err != nil {
			if err == nil {
				shown, err = store.Tags(tx, owner, lt.ID)
			}
			return err
		}
		lt, shown = fresh, tags
		all, err := store.ListLaunchTemplates(tx, owner)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(all, func(o *store.LaunchTemplate) bool { return o.Name == name }) {
			return ec2err.New(ec2err.LaunchTemplateNameExists, "Launch template name already in use.")
		}
		if len(all) >= maxLaunchTemplates {
			return ec2err.New(ec2err.ResourceLimitExceeded, "You have reached the limit of %d launch templates; delete one first.", maxLaunchTemplates)
		}
		if err := store.PutLaunchTemplate(tx, lt); err != nil {
			return err
		}
		if err := store.PutLaunchTemplateVersion(tx, owner, lt.ID, v); err != nil {
			return err
		}
		if err := rememberTemplateToken(tx, owner, r.Action, token, hash, lt, v); err != nil {
			return err
		}
		return putTags(tx, owner, lt.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	return &launchTemplateResponse{Template: templateXML(lt, shown)}, nil
}

// templateClientToken is the request's ClientToken (SDKs send one on
// their own), at most 128 characters as EC2 allows.
func templateClientToken(p *query.Params) (string, error) {
	token := p.String("ClientToken")
	if len(token) > maxTemplateTokenLen {
		return "", ec2err.BadValue("ClientToken", token, fmt.Sprintf("It must be at most %d characters.", maxTemplateTokenLen))
	}
	return token, nil
}

// earlierTemplateVersion is the template and version a ClientToken of the
// action already made: nil when it made none, or when they have been
// deleted since; IdempotentParameterMismatch when the token came with
// other parameters (hash, launchHash's fingerprint).
func earlierTemplateVersion(tx store.Tx, owner, action, token, hash string) (*store.LaunchTemplate, *store.LaunchTemplateVersion, error) {
	if token == "" {
		return nil, nil, nil
	}
	raw := tx.Get(store.BucketIdempotency, idempotencyKey(owner, action, token))
	if raw == nil {
		return nil, nil, nil
	}
	var id, fp string
	var n int64
	if _, err := fmt.Sscan(string(raw), &id, &n, &fp); err != nil {
		return nil, nil, fmt.Errorf("idempotency record %q: %w", raw, err)
	}
	if fp != hash {
		return nil, nil, ec2err.New(ec2err.IdempotentParameterMismatch, "The client token %q was already used with different parameters.", token)
	}
	lt, err := store.GetLaunchTemplate(tx, owner, id)
	if lt == nil || err != nil {
		return nil, nil, err
	}
	v, err := store.GetLaunchTemplateVersion(tx, owner, id, n)
	if v == nil || err != nil {
		return nil, nil, err
	}
	return lt, v, nil
}

// rememberTemplateToken records what a ClientToken made, for a retry.
func rememberTemplateToken(tx store.Tx, owner, action, token, hash string, lt *store.LaunchTemplate, v *store.LaunchTemplateVersion) error {
	if token == "" {
		return nil
	}
	return tx.Put(store.BucketIdempotency, idempotencyKey(owner, action, token), []byte(fmt.Sprintf("%s %d %s", lt.ID, v.Number, hash)))
}

func launchTemplateAttrs(lt *store.LaunchTemplate, tags []store.Tag) Attrs {
	return func(name string) ([]string, bool) {
		switch name {
		case "create-time":
			return []string{ec2Time(lt.Created)}, true
		case "launch-template-name":
			return []string{lt.Name}, true
		}
		return tagAttrs(tags, name)
	}
}

func (s *Service) describeLaunchTemplates(r *Request) (any, error) {
	ids, names := r.Params.List("LaunchTemplateId"), r.Params.List("LaunchTemplateName")
	if err := checkIDs(ids, "lt", ec2err.LaunchTemplateIDMalformed); err != nil {
		return nil, err
	}
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, launchTemplateAttrs(&store.LaunchTemplate{}, nil)); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	var (
		out  []launchTemplateXML
		keys []string // what paginate orders them by
	)
	err = s.Store.View(func(tx store.Tx) error {
		chosen, err := chooseTemplates(tx, owner, ids, names)
		if err != nil {
			return err
		}
		for i, lt := range chosen {
			tags, err := store.Tags(tx, owner, lt.ID)
			if err != nil {
				return err
			}
			if !matchFilters(filters, launchTemplateAttrs(lt, tags)) {
				continue
			}
			out = append(out, templateXML(lt, tags))
			if len(ids)+len(names) > 0 {
				keys = append(keys, fmt.Sprintf("%06d", i))
			} else {
				keys = append(keys, fmt.Sprintf("%020d/%s", lt.Created.UnixNano(), lt.ID))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, err := paginate(len(out), func(i int) string { return keys[i] }, r.Params, 1, maxTemplatesListed)
	if err != nil {
		return nil, err
	}
	return &describeLaunchTemplatesResponse{Templates: out[page.Start:page.End], NextToken: page.NextToken}, nil
}

// chooseTemplates is the owner's templates that ids and names name, in
// the order named (ids first), or all of them in the order they were made,
// as EC2 lists them.
func chooseTemplates(tx store.Tx, owner string, ids, names []string) ([]*store.LaunchTemplate, error) {
	all, err := store.ListLaunchTemplates(tx, owner)
	if err != nil || len(ids)+len(names) == 0 {
		slices.SortStableFunc(all, func(a, b *store.LaunchTemplate) int { return a.Created.Compare(b.Created) })
		return all, err
	}
	var chosen []*store.LaunchTemplate
	pick := func(match func(*store.LaunchTemplate) bool, code string) error {
		i := slices.IndexFunc(all, match)
		if i < 0 {
			return someNotFound(code)
		}
		if !slices.Contains(chosen, all[i]) {
			chosen = append(chosen, all[i])
		}
		return nil
	}
	for _, id := range ids {
		if err := pick(func(lt *store.LaunchTemplate) bool { return lt.ID == id }, ec2err.LaunchTemplateIDNotFound); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		if err := pick(func(lt *store.LaunchTemplate) bool { return lt.Name == name }, ec2err.LaunchTemplateNameNotFound); err != nil {
			return nil, err
		}
	}
	return chosen, nil
}

// changeTemplate runs change on the template the request names, in one
// Store.Update, and answers with the template as change leaves it.
func (s *Service) changeTemplate(r *Request, verb string, change func(tx store.Tx, lt *store.LaunchTemplate) error) (any, error) {
	ref, err := templateRefOf(r.Params, verb)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	var (
		lt   *store.LaunchTemplate
		tags []store.Tag
	)
	err = s.Store.Update(func(tx store.Tx) (err error) {
		if lt, err = findTemplate(tx, r.User.Name, ref); err != nil {
			return err
		}
		if tags, err = store.Tags(tx, r.User.Name, lt.ID); err != nil {
			return err
		}
		return change(tx, lt)
	})
	if err != nil {
		return nil, err
	}
	return &launchTemplateResponse{Template: templateXML(lt, tags)}, nil
}

func (s *Service) modifyLaunchTemplate(r *Request) (any, error) {
	def := r.Params.String("SetDefaultVersion")
	var n int64
	if def != "" {
		var err error
		if n, err = strconv.ParseInt(def, 10, 64); err != nil || n < 1 {
			return nil, ec2err.BadValue("SetDefaultVersion", def, "It must be the number of a version of the template.")
		}
	}
	return s.changeTemplate(r, "modify", func(tx store.Tx, lt *store.LaunchTemplate) error {
		if def == "" {
			return nil
		}
		v, err := store.GetLaunchTemplateVersion(tx, lt.Owner, lt.ID, n)
		if err != nil {
			return err
		}
		if v == nil {
			return ec2err.New(ec2err.LaunchTemplateVersionNotFound, "The launch template version %d is not found for the specified launch template.", n)
		}
		lt.Default = n
		return store.PutLaunchTemplate(tx, lt)
	})
}

func (s *Service) deleteLaunchTemplate(r *Request) (any, error) {
	return s.changeTemplate(r, "delete", func(tx store.Tx, lt *store.LaunchTemplate) error {
		return store.DeleteLaunchTemplate(tx, lt.Owner, lt.ID)
	})
}

func (s *Service) createLaunchTemplateVersion(r *Request) (any, error) {
	ref, err := templateRefOf(r.Params, "version")
	if err != nil {
		return nil, err
	}
	given, err := requestTemplateData(r.Params)
	if err != nil {
		return nil, err
	}
	desc, err := versionDescription(r.Params)
	if err != nil {
		return nil, err
	}
	source := r.Params.String("SourceVersion")
	token, err := templateClientToken(r.Params)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner, hash := r.User.Name, launchHash(r.Params)
	var (
		lt *store.LaunchTemplate
		v  *store.LaunchTemplateVersion
	)
	err = s.Store.Update(func(tx store.Tx) (err error) {
		if lt, v, err = earlierTemplateVersion(tx, owner, r.Action, token, hash); lt != nil || err != nil {
			return err
		}
		if lt, err = findTemplate(tx, owner, ref); err != nil {
			return err
		}
		if lt.Versions >= maxTemplateVersions {
			return ec2err.New(ec2err.ResourceLimitExceeded, "Launch template %s has %d versions, the limit; delete some first.", lt.ID, maxTemplateVersions)
		}
		data := given
		if source != "" {
			n, err := versionNumber(lt, "SourceVersion", source)
			if err != nil {
				return err
			}
			src, err := templateVersion(tx, lt, n)
			if err != nil {
				return err
			}
			data = mergeTemplateData(src.Data, given)
		}
		lt.Last++
		lt.Latest, lt.Versions = lt.Last, lt.Versions+1
		v = &store.LaunchTemplateVersion{Number: lt.Last, Description: desc, Created: s.now(), CreatedBy: iamUserArn(r.User), Data: data}
		if err := store.PutLaunchTemplateVersion(tx, lt.Owner, lt.ID, v); err != nil {
			return err
		}
		if err := rememberTemplateToken(tx, owner, r.Action, token, hash, lt, v); err != nil {
			return err
		}
		return store.PutLaunchTemplate(tx, lt)
	})
	if err != nil {
		return nil, err
	}
	return &createLaunchTemplateVersionResponse{Version: versionXML(lt, v)}, nil
}

// versionAttrs answers DescribeLaunchTemplateVersions' filters from the
// version's data as stored.
func versionAttrs(lt *store.LaunchTemplate, v *store.LaunchTemplateVersion) Attrs {
	d := query.New(v.Data)
	values := func(vs ...string) []string { return slices.DeleteFunc(vs, func(s string) bool { return s == "" }) }
	each := func(list, field string) []string {
		var out []string
		for _, m := range d.Structs(list) {
			out = append(out, m.String(field))
		}
		return values(out...)
	}
	return func(name string) ([]string, bool) {
		switch name {
		case "create-time":
			return []string{ec2Time(v.Created)}, true
		case "is-default-version":
			return []string{strconv.FormatBool(v.Number == lt.Default)}, true
		case "ebs-optimized":
			return values(d.String("EbsOptimized")), true
		case "http-endpoint":
			return values(d.String("MetadataOptions.HttpEndpoint")), true
		case "http-tokens":
			return values(d.String("MetadataOptions.HttpTokens")), true
		case "iam-instance-profile":
			return values(d.String("IamInstanceProfile.Arn"), d.String("IamInstanceProfile.Name")), true
		case "image-id":
			return values(d.String("ImageId")), true
		case "instance-type":
			return values(d.String("InstanceType")), true
		case "kernel-id":
			return values(d.String("KernelId")), true
		case "ram-disk-id":
			return values(d.String("RamDiskId")), true
		case "host-resource-group-arn":
			return values(d.String("Placement.HostResourceGroupArn")), true
		case "license-configuration-arn":
			return each("LicenseSpecification", "LicenseConfigurationArn"), true
		case "network-card-index":
			return each("NetworkInterface", "NetworkCardIndex"), true
		}
		return nil, false
	}
}

// optVersion reads MinVersion or MaxVersion (0 when not given).
func optVersion(p *query.Params, name string) (int64, error) {
	v := p.String(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, ec2err.BadValue(name, v, "It must be a version number.")
	}
	return n, nil
}

// allVersionsHelp is EC2's word on what DescribeLaunchTemplateVersions
// takes without a template.
const allVersionsHelp = "To describe the launch template data for all your launch templates, for ‘--versions’ specify ‘$Latest’, ‘$Default’, or both, and omit ‘--launch-template-id’, ‘--launch-template-name’, and version numbers. To describe the launch template data for a specific launch template, specify ‘--launch-template-id’ or ‘--launch-template-name’, and for ‘--versions’ specify one or more of the following values: ‘$Latest’, ‘$Default’, or one or more version numbers."

func (s *Service) describeLaunchTemplateVersions(r *Request) (any, error) {
	p := r.Params
	specs := p.List("LaunchTemplateVersion")
	minV, err := optVersion(p, "MinVersion")
	if err != nil {
		return nil, err
	}
	maxV, err := optVersion(p, "MaxVersion")
	if err != nil {
		return nil, err
	}
	filters, err := p.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, versionAttrs(&store.LaunchTemplate{}, &store.LaunchTemplateVersion{})); err != nil {
		return nil, err
	}
	// Without a template, only $Latest and $Default may be asked for: of
	// every template.
	var ref *templateRef
	if p.Has("LaunchTemplateId") || p.Has("LaunchTemplateName") {
		one, err := templateRefOf(p, "describe")
		if err != nil {
			return nil, err
		}
		ref = &one
	} else {
		if len(specs) == 0 {
			return nil, ec2err.New(ec2err.MissingParameter, allVersionsHelp)
		}
		for _, spec := range specs {
			if spec != "$Latest" && spec != "$Default" {
				return nil, ec2err.New(ec2err.InvalidParameterValue, allVersionsHelp)
			}
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	var out []launchTemplateVersionXML
	err = s.Store.View(func(tx store.Tx) error {
		var templates []*store.LaunchTemplate
		if ref != nil {
			lt, err := findTemplate(tx, owner, *ref)
			if err != nil {
				return err
			}
			templates = []*store.LaunchTemplate{lt}
		} else {
			var err error
			if templates, err = store.ListLaunchTemplates(tx, owner); err != nil {
				return err
			}
		}
		for _, lt := range templates {
			versions, err := selectVersions(tx, lt, specs)
			if err != nil {
				return err
			}
			for _, v := range versions {
				if (minV > 0 && v.Number < minV) || (maxV > 0 && v.Number > maxV) || !matchFilters(filters, versionAttrs(lt, v)) {
					continue
				}
				out = append(out, versionXML(lt, v))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	key := func(i int) string { return out[i].TemplateID + "/" + fmt.Sprintf("%020d", out[i].VersionNumber) }
	page, err := paginate(len(out), key, p, 1, maxTemplatesListed)
	if err != nil {
		return nil, err
	}
	return &describeLaunchTemplateVersionsResponse{Versions: out[page.Start:page.End], NextToken: page.NextToken}, nil
}

// selectVersions is the versions of lt that specs name, in number order,
// each once; all of them when specs is empty.
func selectVersions(tx store.Tx, lt *store.LaunchTemplate, specs []string) ([]*store.LaunchTemplateVersion, error) {
	if len(specs) == 0 {
		return store.ListLaunchTemplateVersions(tx, lt.Owner, lt.ID)
	}
	var nums []int64
	for _, spec := range specs {
		n, err := versionNumber(lt, "LaunchTemplateVersion", spec)
		if err != nil {
			return nil, err
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	var out []*store.LaunchTemplateVersion
	for _, n := range slices.Compact(nums) {
		v, err := templateVersion(tx, lt, n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Service) deleteLaunchTemplateVersions(r *Request) (any, error) {
	ref, err := templateRefOf(r.Params, "delete versions of")
	if err != nil {
		return nil, err
	}
	specs := r.Params.List("LaunchTemplateVersion")
	switch {
	case len(specs) == 0:
		return nil, ec2err.Missing("LaunchTemplateVersion")
	case len(specs) > maxVersionsDeletedAtOnce:
		return nil, ec2err.New(ec2err.InvalidRequest, "At most %d versions can be deleted in one request; this one names %d.", maxVersionsDeletedAtOnce, len(specs))
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	out := &deleteLaunchTemplateVersionsResponse{}
	err = s.Store.Update(func(tx store.Tx) error {
		out.Deleted, out.Failed = nil, nil
		lt, err := findTemplate(tx, r.User.Name, ref)
		if err != nil {
			return err
		}
		fail := func(n int64, code, format string, args ...any) {
			out.Failed = append(out.Failed, undeletedVersionXML{TemplateID: lt.ID, TemplateName: lt.Name, VersionNumber: n,
				Error: versionErrorXML{Code: code, Message: fmt.Sprintf(format, args...)}})
		}
		for _, spec := range specs {
			n, err := versionNumber(lt, "LaunchTemplateVersion", spec)
			if err != nil {
				return err
			}
			v, err := store.GetLaunchTemplateVersion(tx, lt.Owner, lt.ID, n)
			switch {
			case err != nil:
				return err
			case n == lt.Default:
				fail(n, versionUnexpectedError, "Cannot delete the default version of a launch template (version %d). Make another version the default first (ModifyLaunchTemplate), or delete the whole template (DeleteLaunchTemplate).", n)
				continue
			case v == nil:
				fail(n, versionDoesNotExist, "Launch template %s has no version %d.", lt.ID, n)
				continue
			}
			if err := store.DeleteLaunchTemplateVersion(tx, lt.Owner, lt.ID, n); err != nil {
				return err
			}
			lt.Versions--
			out.Deleted = append(out.Deleted, deletedVersionXML{TemplateID: lt.ID, TemplateName: lt.Name, VersionNumber: n})
		}
		if len(out.Deleted) == 0 {
			return nil
		}
		// $Latest is the newest version left (the default at least is).
		left, err := store.ListLaunchTemplateVersions(tx, lt.Owner, lt.ID)
		if err != nil {
			return err
		}
		lt.Latest = left[len(left)-1].Number
		return store.PutLaunchTemplate(tx, lt)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) getLaunchTemplateData(r *Request) (any, error) {
	id, err := requiredID(r.Params, "InstanceId", "i", ec2err.InvalidInstanceIDMalformed)
	if err != nil {
		return nil, err
	}
	insts, tags, err := s.loadInstances(r, []string{id})
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	inst := insts[0]
	vols := map[string]*store.Volume{}
	err = s.Store.View(func(tx store.Tx) error {
		for _, bd := range inst.BlockDevices {
			v, err := store.GetVolume(tx, inst.Owner, bd.VolumeID)
			if err != nil {
				return err
			}
			vols[bd.VolumeID] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	data := renderTemplateData(instanceTemplateData(inst, tags[id], vols))
	if data.TagSpecifications == nil {
		data.TagSpecifications = &ltTagSpecSetXML{} // clients read it back into CreateLaunchTemplate
	}
	return &getLaunchTemplateDataResponse{Data: data}, nil
}

// parseTemplateLaunch is parseLaunch for RunInstances, which may name a
// launch template (LaunchTemplate.LaunchTemplateId or .LaunchTemplateName,
// and .Version: $Latest, $Default or a number; $Default when not given).
// The template's data fills what the request does not give
// (templateLaunchParams), and the instances carry EC2's tags naming the
// template and version.
func (s *Service) parseTemplateLaunch(r *Request) (*launchRequest, error) {
	spec := r.Params.Struct("LaunchTemplate")
	if len(spec.Values()) == 0 {
		return s.parseLaunch(r.Params, r.User)
	}
	ref, err := templateRefOf(spec, "launch from")
	if err != nil {
		return nil, err
	}
	var (
		lt *store.LaunchTemplate
		v  *store.LaunchTemplateVersion
	)
	err = s.Store.View(func(tx store.Tx) (err error) {
		if lt, err = findTemplate(tx, r.User.Name, ref); err != nil {
			return err
		}
		n, err := versionNumber(lt, "LaunchTemplate.Version", cmp.Or(spec.String("Version"), "$Default"))
		if err != nil {
			return err
		}
		v, err = templateVersion(tx, lt, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	p, err := templateLaunchParams(r.Params, v.Data)
	if err != nil {
		return nil, err
	}
	lr, err := s.parseLaunch(p, r.User)
	if err != nil {
		return nil, err
	}
	// After the student's own, as RunInstances answers (moto's order).
	lr.tags = append(lr.tags, store.Tag{Key: templateIDTag, Value: lt.ID}, store.Tag{Key: templateVersionTag, Value: strconv.FormatInt(v.Number, 10)})
	return lr, nil
}

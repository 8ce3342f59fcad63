package actions

import (
	"encoding/xml"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// newTemplate creates a launch template as user and returns its id; kv
// are more parameters (LaunchTemplateData.ImageId is debianAMI unless kv
// gives data).
func newTemplate(t *testing.T, e *testEnv, user, name string, kv ...string) string {
	t.Helper()
	if !slices.ContainsFunc(kv, func(s string) bool { return strings.HasPrefix(s, "LaunchTemplateData.") }) {
		kv = append(kv, "LaunchTemplateData.ImageId", debianAMI)
	}
	resp := e.mustCall(t, user, "CreateLaunchTemplate", append([]string{"LaunchTemplateName", name}, kv...)...)
	return resp.(*launchTemplateResponse).Template.ID
}

func newVersion(t *testing.T, e *testEnv, user, id string, kv ...string) launchTemplateVersionXML {
	t.Helper()
	resp := e.mustCall(t, user, "CreateLaunchTemplateVersion", append([]string{"LaunchTemplateId", id}, kv...)...)
	return resp.(*createLaunchTemplateVersionResponse).Version
}

func versions(t *testing.T, e *testEnv, user string, kv ...string) []launchTemplateVersionXML {
	t.Helper()
	return e.mustCall(t, user, "DescribeLaunchTemplateVersions", kv...).(*describeLaunchTemplateVersionsResponse).Versions
}

func versionNumbers(vs []launchTemplateVersionXML) []int64 {
	var out []int64
	for _, v := range vs {
		out = append(out, v.VersionNumber)
	}
	return out
}

func launchTemplates(t *testing.T, e *testEnv, user string, kv ...string) []launchTemplateXML {
	t.Helper()
	return e.mustCall(t, user, "DescribeLaunchTemplates", kv...).(*describeLaunchTemplatesResponse).Templates
}

func TestLaunchTemplateLifecycle(t *testing.T) {
	e := newTestEnv(t, nil)
	id := newTemplate(t, e, "alice", "web",
		"VersionDescription", "first",
		"LaunchTemplateData.ImageId", debianAMI,
		"LaunchTemplateData.InstanceType", "m1.small",
		"LaunchTemplateData.KeyName", "lab",
		"LaunchTemplateData.SecurityGroupId.1", "sg-0123456789abcdef0",
		"LaunchTemplateData.BlockDeviceMapping.1.DeviceName", "/dev/sdb",
		"LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeSize", "8",
		"LaunchTemplateData.MetadataOptions.HttpTokens", "required",
		"LaunchTemplateData.CreditSpecification.CpuCredits", "unlimited",
		"LaunchTemplateData.TagSpecification.1.ResourceType", "instance",
		"LaunchTemplateData.TagSpecification.1.Tag.1.Key", "Name",
		"LaunchTemplateData.TagSpecification.1.Tag.1.Value", "web",
		"TagSpecification.1.ResourceType", "launch-template",
		"TagSpecification.1.Tag.1.Key", "course",
		"TagSpecification.1.Tag.1.Value", "cs101")

	got := launchTemplates(t, e, "alice", "LaunchTemplateId.1", id)
	if len(got) != 1 || got[0].Name != "web" || got[0].DefaultVersion != 1 || got[0].LatestVersion != 1 ||
		got[0].CreatedBy != "arn:aws:iam::111111111111:user/alice" || !slices.Equal(got[0].Tags, []tagXML{{"course", "cs101"}}) {
		t.Fatalf("describe by id: got %+v, want web, versions 1/1, alice's ARN, tag course", got)
	}
	v1 := versions(t, e, "alice", "LaunchTemplateName", "web")
	if len(v1) != 1 || !v1[0].DefaultVersion || v1[0].Description != "first" {
		t.Fatalf("versions: got %+v, want version 1, default, 'first'", v1)
	}
	d := v1[0].Data
	if d.ImageID != debianAMI || d.InstanceType != "m1.small" || d.KeyName != "lab" ||
		!slices.Equal(d.SecurityGroupIDs.Items, []string{"sg-0123456789abcdef0"}) ||
		len(d.BlockDeviceMappings.Items) != 1 || *d.BlockDeviceMappings.Items[0].Ebs.VolumeSize != 8 ||
		d.MetadataOptions.HTTPTokens != "required" || d.CreditSpecification.CPUCredits != "unlimited" ||
		len(d.TagSpecifications.Items) != 1 || d.TagSpecifications.Items[0].Tags[0] != (tagXML{"Name", "web"}) {
		t.Errorf("version 1 data: got %+v, want what was sent", d)
	}

	// Version 2 from version 1: InstanceType replaced, the rest inherited;
	// version 3 from nothing holds only what it gives.
	v2 := newVersion(t, e, "alice", id, "SourceVersion", "1", "VersionDescription", "bigger",
		"LaunchTemplateData.InstanceType", "m1.large")
	if v2.VersionNumber != 2 || v2.DefaultVersion || v2.Data.InstanceType != "m1.large" || v2.Data.ImageID != debianAMI || v2.Data.KeyName != "lab" {
		t.Errorf("version 2: got %+v, want number 2, m1.large, image and key inherited", v2)
	}
	v3 := newVersion(t, e, "alice", id, "LaunchTemplateData.InstanceType", "m1.medium")
	if v3.VersionNumber != 3 || v3.Data.ImageID != "" {
		t.Errorf("version 3: got number %d image %q, want 3 and no image", v3.VersionNumber, v3.Data.ImageID)
	}

	e.mustCall(t, "alice", "ModifyLaunchTemplate", "LaunchTemplateId", id, "SetDefaultVersion", "2")
	cases := []struct {
		name string
		kv   []string
		want []int64
	}{
		{"all", nil, []int64{1, 2, 3}},
		{"$Latest", []string{"LaunchTemplateVersion.1", "$Latest"}, []int64{3}},
		{"$Default", []string{"LaunchTemplateVersion.1", "$Default"}, []int64{2}},
		{"both and a number", []string{"LaunchTemplateVersion.1", "$Default", "LaunchTemplateVersion.2", "1", "LaunchTemplateVersion.3", "$Latest"}, []int64{1, 2, 3}},
		{"min", []string{"MinVersion", "2"}, []int64{2, 3}},
		{"max", []string{"MaxVersion", "2"}, []int64{1, 2}},
		{"instance-type filter", []string{"Filter.1.Name", "instance-type", "Filter.1.Value.1", "m1.*"}, []int64{1, 2, 3}},
		{"image-id filter", []string{"Filter.1.Name", "image-id", "Filter.1.Value.1", debianAMI}, []int64{1, 2}},
		{"is-default-version filter", []string{"Filter.1.Name", "is-default-version", "Filter.1.Value.1", "true"}, []int64{2}},
	}
	for _, c := range cases {
		got := versionNumbers(versions(t, e, "alice", append([]string{"LaunchTemplateId", id}, c.kv...)...))
		if !slices.Equal(got, c.want) {
			t.Errorf("versions %s: got %v, want %v", c.name, got, c.want)
		}
	}

	page := e.mustCall(t, "alice", "DescribeLaunchTemplateVersions", "LaunchTemplateId", id, "MaxResults", "2").(*describeLaunchTemplateVersionsResponse)
	rest := versions(t, e, "alice", "LaunchTemplateId", id, "MaxResults", "2", "NextToken", page.NextToken)
	if got := versionNumbers(append(page.Versions, rest...)); !slices.Equal(got, []int64{1, 2, 3}) || page.NextToken == "" {
		t.Errorf("versions in pages of 2: got %v (token %q), want 1 2 3 over two pages", got, page.NextToken)
	}

	// The default cannot go; others can, and $Latest follows.
	del := e.mustCall(t, "alice", "DeleteLaunchTemplateVersions", "LaunchTemplateId", id,
		"LaunchTemplateVersion.1", "2", "LaunchTemplateVersion.2", "3", "LaunchTemplateVersion.3", "7").(*deleteLaunchTemplateVersionsResponse)
	if len(del.Deleted) != 1 || del.Deleted[0].VersionNumber != 3 {
		t.Errorf("deleted: got %+v, want version 3", del.Deleted)
	}
	var failed []string
	for _, f := range del.Failed {
		failed = append(failed, f.Error.Code)
	}
	if !slices.Equal(failed, []string{versionUnexpectedError, versionDoesNotExist}) {
		t.Errorf("failed: got %v, want the default (%s) and the missing one (%s)", failed, versionUnexpectedError, versionDoesNotExist)
	}
	if got := launchTemplates(t, e, "alice")[0]; got.LatestVersion != 2 || got.DefaultVersion != 2 {
		t.Errorf("after the delete: got latest %d default %d, want 2 and 2", got.LatestVersion, got.DefaultVersion)
	}
	if v4 := newVersion(t, e, "alice", id, "LaunchTemplateData.InstanceType", "m1.small"); v4.VersionNumber != 4 {
		t.Errorf("next version: got %d, want 4 (a deleted number is not reused)", v4.VersionNumber)
	}

	// Tags through CreateTags and DescribeTags, as for any resource.
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", id, "Tag.1.Key", "env", "Tag.1.Value", "lab")
	tags := e.mustCall(t, "alice", "DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "launch-template").(*describeTagsResponse).Tags
	if len(tags) != 2 || tags[0].ResourceID != id {
		t.Errorf("DescribeTags: got %+v, want the template's two tags", tags)
	}
	if got := launchTemplates(t, e, "alice", "Filter.1.Name", "tag:env", "Filter.1.Value.1", "lab"); len(got) != 1 {
		t.Errorf("describe by tag: got %d templates, want 1", len(got))
	}

	e.mustCall(t, "alice", "DeleteLaunchTemplate", "LaunchTemplateName", "web")
	if got := launchTemplates(t, e, "alice"); len(got) != 0 {
		t.Errorf("after DeleteLaunchTemplate: got %d templates, want none", len(got))
	}
	err := e.svc.Store.View(func(tx store.Tx) error {
		left, err := store.ListLaunchTemplateVersions(tx, "alice", id)
		if len(left) != 0 {
			t.Errorf("after DeleteLaunchTemplate: got %d versions stored, want none", len(left))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The name is free again.
	newTemplate(t, e, "alice", "web")
}

// Another student's template is one that does not exist, by id or by
// name, and names are unique per student only.
func TestLaunchTemplatesAreIsolated(t *testing.T) {
	e := newInstanceEnvT(t)
	id := newTemplate(t, e, "alice", "web")
	bobs := newTemplate(t, e, "bob", "web")
	if bobs == id {
		t.Fatal("bob's template has alice's id")
	}
	if got := launchTemplates(t, e, "bob"); len(got) != 1 || got[0].ID != bobs {
		t.Errorf("bob's describe: got %+v, want only his own", got)
	}
	byID := []string{"LaunchTemplateId", id}
	tests := []struct {
		action string
		kv     []string
		want   string
	}{
		{"DescribeLaunchTemplates", []string{"LaunchTemplateId.1", id}, ec2err.LaunchTemplateIDNotFound},
		{"DescribeLaunchTemplateVersions", byID, ec2err.LaunchTemplateIDNotFound},
		{"ModifyLaunchTemplate", append(byID, "SetDefaultVersion", "1"), ec2err.LaunchTemplateIDNotFound},
		{"CreateLaunchTemplateVersion", append(byID, "LaunchTemplateData.ImageId", debianAMI), ec2err.LaunchTemplateIDNotFound},
		{"DeleteLaunchTemplateVersions", append(byID, "LaunchTemplateVersion.1", "1"), ec2err.LaunchTemplateIDNotFound},
		{"DeleteLaunchTemplate", byID, ec2err.LaunchTemplateIDNotFound},
		{"CreateTags", []string{"ResourceId.1", id, "Tag.1.Key", "k"}, ec2err.LaunchTemplateIDNotFound},
		{"RunInstances", []string{"LaunchTemplate.LaunchTemplateId", id, "MinCount", "1", "MaxCount", "1"}, ec2err.LaunchTemplateIDNotFound},
	}
	for _, c := range tests {
		_, err := e.call(t, "bob", c.action, c.kv...)
		if !ec2err.Is(err, c.want) {
			t.Errorf("bob %s on alice's template: got %v, want %s", c.action, err, c.want)
		}
	}
	// $Latest of every template is of every template of one's own.
	newVersion(t, e, "alice", id, "LaunchTemplateData.InstanceType", "m1.large")
	for user, want := range map[string]string{"alice": id + "/2", "bob": bobs + "/1"} {
		got := versions(t, e, user, "LaunchTemplateVersion.1", "$Latest")
		if len(got) != 1 || got[0].TemplateID+"/"+strconv.FormatInt(got[0].VersionNumber, 10) != want {
			t.Errorf("%s's $Latest of every template: got %+v, want %s", user, got, want)
		}
	}
	e.mustCall(t, "bob", "DeleteLaunchTemplate", "LaunchTemplateName", "web")
	if got := launchTemplates(t, e, "alice"); len(got) != 1 || got[0].ID != id {
		t.Errorf("alice's templates after bob deleted his: got %+v, want hers", got)
	}
}

func newInstanceEnvT(t *testing.T) *testEnv {
	e, _, _ := newInstanceEnv(t, nil)
	return e
}

func TestLaunchTemplateErrors(t *testing.T) {
	e := newInstanceEnvT(t)
	id := newTemplate(t, e, "alice", "web")
	newVersion(t, e, "alice", id, "LaunchTemplateData.InstanceType", "m1.large")
	const missingID = "lt-0123456789abcdef0"
	long := strings.Repeat("x", 256)
	tests := []struct {
		name   string
		action string
		kv     []string
		want   string
	}{
		{"create: no name", "CreateLaunchTemplate", []string{"LaunchTemplateData.ImageId", debianAMI}, ec2err.MissingParameter},
		{"create: short name", "CreateLaunchTemplate", []string{"LaunchTemplateName", "ab", "LaunchTemplateData.ImageId", debianAMI}, ec2err.LaunchTemplateNameMalformed},
		{"create: bad character", "CreateLaunchTemplate", []string{"LaunchTemplateName", "web server", "LaunchTemplateData.ImageId", debianAMI}, ec2err.LaunchTemplateNameMalformed},
		{"create: name taken", "CreateLaunchTemplate", []string{"LaunchTemplateName", "web", "LaunchTemplateData.ImageId", debianAMI}, ec2err.LaunchTemplateNameExists},
		{"create: no data", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs"}, ec2err.MissingParameter},
		{"create: bad boolean", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.EbsOptimized", "maybe"}, ec2err.InvalidParameterValue},
		{"create: bad size", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeSize", "big"}, ec2err.InvalidParameterValue},
		{"create: bad shutdown", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.InstanceInitiatedShutdownBehavior", "halt"}, ec2err.InvalidParameterValue},
		{"create: user data not base64", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.UserData", "not base64!"}, ec2err.InvalidUserDataMalformed},
		{"create: bad tokens", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.MetadataOptions.HttpTokens", "always"}, ec2err.InvalidParameterValue},
		{"create: aws: tag", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.TagSpecification.1.ResourceType", "instance", "LaunchTemplateData.TagSpecification.1.Tag.1.Key", "aws:x"}, ec2err.InvalidParameterValue},
		{"create: tags for an instance", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.ImageId", debianAMI, "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "k"}, ec2err.InvalidParameterValue},
		{"create: long description", "CreateLaunchTemplate", []string{"LaunchTemplateName", "dbs", "LaunchTemplateData.ImageId", debianAMI, "VersionDescription", long}, ec2err.InvalidParameterValue},
		{"describe: malformed id", "DescribeLaunchTemplates", []string{"LaunchTemplateId.1", "lt-xyz"}, ec2err.LaunchTemplateIDMalformed},
		{"describe: unknown id", "DescribeLaunchTemplates", []string{"LaunchTemplateId.1", missingID}, ec2err.LaunchTemplateIDNotFound},
		{"describe: unknown name", "DescribeLaunchTemplates", []string{"LaunchTemplateName.1", "nope"}, ec2err.LaunchTemplateNameNotFound},
		{"describe: unknown filter", "DescribeLaunchTemplates", []string{"Filter.1.Name", "image-id", "Filter.1.Value.1", "x"}, ec2err.InvalidParameterValue},
		{"describe: MaxResults", "DescribeLaunchTemplates", []string{"MaxResults", "201"}, ec2err.InvalidParameterValue},
		{"modify: no template", "ModifyLaunchTemplate", []string{"SetDefaultVersion", "1"}, ec2err.MissingParameter},
		{"modify: id and name", "ModifyLaunchTemplate", []string{"LaunchTemplateId", id, "LaunchTemplateName", "web"}, ec2err.InvalidParameterCombination},
		{"modify: malformed id", "ModifyLaunchTemplate", []string{"LaunchTemplateId", "lt-1", "SetDefaultVersion", "1"}, ec2err.LaunchTemplateIDMalformed},
		{"modify: unknown name", "ModifyLaunchTemplate", []string{"LaunchTemplateName", "nope", "SetDefaultVersion", "1"}, ec2err.LaunchTemplateNameNotFound},
		{"modify: unknown version", "ModifyLaunchTemplate", []string{"LaunchTemplateId", id, "SetDefaultVersion", "9"}, ec2err.LaunchTemplateVersionNotFound},
		{"modify: not a number", "ModifyLaunchTemplate", []string{"LaunchTemplateId", id, "SetDefaultVersion", "$Latest"}, ec2err.InvalidParameterValue},
		{"version: no data", "CreateLaunchTemplateVersion", []string{"LaunchTemplateId", id}, ec2err.MissingParameter},
		{"version: unknown source", "CreateLaunchTemplateVersion", []string{"LaunchTemplateId", id, "SourceVersion", "9", "LaunchTemplateData.ImageId", debianAMI}, ec2err.LaunchTemplateVersionNotFound},
		{"version: bad source", "CreateLaunchTemplateVersion", []string{"LaunchTemplateId", id, "SourceVersion", "latest", "LaunchTemplateData.ImageId", debianAMI}, ec2err.InvalidParameterValue},
		{"version: unknown id", "CreateLaunchTemplateVersion", []string{"LaunchTemplateId", missingID, "LaunchTemplateData.ImageId", debianAMI}, ec2err.LaunchTemplateIDNotFound},
		{"versions: unknown version", "DescribeLaunchTemplateVersions", []string{"LaunchTemplateId", id, "LaunchTemplateVersion.1", "9"}, ec2err.LaunchTemplateVersionNotFound},
		{"versions: bad MinVersion", "DescribeLaunchTemplateVersions", []string{"LaunchTemplateId", id, "MinVersion", "x"}, ec2err.InvalidParameterValue},
		{"versions: no template", "DescribeLaunchTemplateVersions", nil, ec2err.MissingParameter},
		{"versions: a number without a template", "DescribeLaunchTemplateVersions", []string{"LaunchTemplateVersion.1", "1"}, ec2err.InvalidParameterValue},
		{"versions: unknown filter", "DescribeLaunchTemplateVersions", []string{"LaunchTemplateId", id, "Filter.1.Name", "nope", "Filter.1.Value.1", "x"}, ec2err.InvalidParameterValue},
		{"delete versions: none named", "DeleteLaunchTemplateVersions", []string{"LaunchTemplateId", id}, ec2err.MissingParameter},
		{"delete versions: unknown name", "DeleteLaunchTemplateVersions", []string{"LaunchTemplateName", "nope", "LaunchTemplateVersion.1", "2"}, ec2err.LaunchTemplateNameNotFound},
		{"delete: unknown id", "DeleteLaunchTemplate", []string{"LaunchTemplateId", missingID}, ec2err.LaunchTemplateIDNotFound},
		{"data: malformed instance", "GetLaunchTemplateData", []string{"InstanceId", "i-1"}, ec2err.InvalidInstanceIDMalformed},
		{"data: unknown instance", "GetLaunchTemplateData", []string{"InstanceId", "i-0123456789abcdef0"}, ec2err.InvalidInstanceIDNotFound},
		{"run: unknown id", "RunInstances", []string{"LaunchTemplate.LaunchTemplateId", missingID, "MinCount", "1", "MaxCount", "1"}, ec2err.LaunchTemplateIDNotFound},
		{"run: malformed id", "RunInstances", []string{"LaunchTemplate.LaunchTemplateId", "lt-", "MinCount", "1", "MaxCount", "1"}, ec2err.LaunchTemplateIDMalformed},
		{"run: unknown name", "RunInstances", []string{"LaunchTemplate.LaunchTemplateName", "nope", "MinCount", "1", "MaxCount", "1"}, ec2err.LaunchTemplateNameNotFound},
		{"run: unknown version", "RunInstances", []string{"LaunchTemplate.LaunchTemplateId", id, "LaunchTemplate.Version", "9", "MinCount", "1", "MaxCount", "1"}, ec2err.LaunchTemplateVersionNotFound},
		{"run: bad version", "RunInstances", []string{"LaunchTemplate.LaunchTemplateId", id, "LaunchTemplate.Version", "newest", "MinCount", "1", "MaxCount", "1"}, ec2err.InvalidParameterValue},
		{"run: no image in template or request", "RunInstances", []string{"LaunchTemplate.LaunchTemplateId", id, "LaunchTemplate.Version", "2", "MinCount", "1", "MaxCount", "1"}, ec2err.MissingParameter},
	}
	for _, c := range tests {
		_, err := e.call(t, "alice", c.action, c.kv...)
		if !ec2err.Is(err, c.want) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
	if got := launchTemplates(t, e, "alice"); len(got) != 1 || got[0].LatestVersion != 2 || got[0].DefaultVersion != 1 {
		t.Errorf("after the refused calls: got %+v, want the one template unchanged", got)
	}
}

func TestLaunchTemplateLimit(t *testing.T) {
	e := newTestEnv(t, nil)
	err := e.svc.Store.Update(func(tx store.Tx) error {
		for i := 0; i < maxLaunchTemplates; i++ {
			lt := &store.LaunchTemplate{ID: store.NewID("lt"), Owner: "alice", Name: "t" + strings.Repeat("x", 3) + store.NewID("n")}
			if err := store.PutLaunchTemplate(tx, lt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.call(t, "alice", "CreateLaunchTemplate", "LaunchTemplateName", "one-more", "LaunchTemplateData.ImageId", debianAMI)
	wantCode(t, err, ec2err.ResourceLimitExceeded)
	newTemplate(t, e, "bob", "one-more")
}

func TestDryRunCreatesNoTemplate(t *testing.T) {
	e := newTestEnv(t, nil)
	_, err := e.call(t, "alice", "CreateLaunchTemplate", "LaunchTemplateName", "web", "LaunchTemplateData.ImageId", debianAMI, "DryRun", "true")
	wantCode(t, err, ec2err.DryRunOperation)
	if got := launchTemplates(t, e, "alice"); len(got) != 0 {
		t.Errorf("after a dry run: got %d templates, want none", len(got))
	}
}

func TestRunInstancesFromLaunchTemplate(t *testing.T) {
	e := newInstanceEnvT(t)
	e.mustCall(t, "alice", "CreateKeyPair", "KeyName", "lab")
	id := newTemplate(t, e, "alice", "web",
		"LaunchTemplateData.ImageId", debianAMI,
		"LaunchTemplateData.InstanceType", "m1.small",
		"LaunchTemplateData.KeyName", "lab",
		"LaunchTemplateData.Placement.AvailabilityZone", "us-east-1b",
		"LaunchTemplateData.TagSpecification.1.ResourceType", "instance",
		"LaunchTemplateData.TagSpecification.1.Tag.1.Key", "Name",
		"LaunchTemplateData.TagSpecification.1.Tag.1.Value", "from-template",
		"LaunchTemplateData.TagSpecification.1.Tag.2.Key", "tier",
		"LaunchTemplateData.TagSpecification.1.Tag.2.Value", "web",
		"LaunchTemplateData.TagSpecification.2.ResourceType", "network-interface",
		"LaunchTemplateData.TagSpecification.2.Tag.1.Key", "nic",
		"LaunchTemplateData.TagSpecification.2.Tag.1.Value", "x")
	newVersion(t, e, "alice", id, "SourceVersion", "1", "LaunchTemplateData.InstanceType", "m1.large")

	run := func(kv ...string) instanceXML {
		t.Helper()
		resp := e.mustCall(t, "alice", "RunInstances", append([]string{"MinCount", "1", "MaxCount", "1"}, kv...)...)
		inst := resp.(*runInstancesResponse).Instances[0]
		got := describe(t, e, "alice", "InstanceId.1", inst.InstanceID)
		if len(got) != 1 {
			t.Fatalf("describe %s: got %d instances", inst.InstanceID, len(got))
		}
		ranTags := inst.Tags.list()
		if n := len(ranTags); n < 2 || ranTags[n-2].Key != templateIDTag || ranTags[n-1].Key != templateVersionTag {
			t.Errorf("RunInstances tags: got %v, want the template's id and version last", inst.Tags)
		}
		ran := slices.Clone(ranTags)
		slices.SortFunc(ran, func(a, b tagXML) int { return strings.Compare(a.Key, b.Key) })
		if !slices.Equal(got[0].Tags.list(), ran) {
			t.Errorf("tags: RunInstances says %v, DescribeInstances %v", inst.Tags, got[0].Tags)
		}
		return got[0]
	}
	tag := func(inst instanceXML, key string) string {
		for _, t := range inst.Tags.list() {
			if t.Key == key {
				return t.Value
			}
		}
		return "(none)"
	}
	byID, byName := []string{"LaunchTemplate.LaunchTemplateId", id}, []string{"LaunchTemplate.LaunchTemplateName", "web"}
	cases := []struct {
		name        string
		kv          []string
		wantType    string
		wantVersion string
	}{
		{"no version: the default", byID, "m1.small", "1"},
		{"$Default by name", append(byName, "LaunchTemplate.Version", "$Default"), "m1.small", "1"},
		{"$Latest", append(byID, "LaunchTemplate.Version", "$Latest"), "m1.large", "2"},
		{"a number", append(byName, "LaunchTemplate.Version", "2"), "m1.large", "2"},
		{"the request's type wins", append(byID, "LaunchTemplate.Version", "$Latest", "InstanceType", "m1.medium"), "m1.medium", "2"},
	}
	for _, c := range cases {
		inst := run(c.kv...)
		if inst.ImageID != debianAMI || inst.KeyName != "lab" || inst.Placement.AvailabilityZone != "us-east-1b" {
			t.Errorf("%s: got image %s key %q zone %s, want the template's", c.name, inst.ImageID, inst.KeyName, inst.Placement.AvailabilityZone)
		}
		if inst.InstanceType != c.wantType {
			t.Errorf("%s: got type %s, want %s", c.name, inst.InstanceType, c.wantType)
		}
		if got := tag(inst, templateIDTag); got != id {
			t.Errorf("%s: got %s %q, want %s", c.name, templateIDTag, got, id)
		}
		if got := tag(inst, templateVersionTag); got != c.wantVersion {
			t.Errorf("%s: got %s %q, want %s", c.name, templateVersionTag, got, c.wantVersion)
		}
		if got := tag(inst, "Name"); got != "from-template" {
			t.Errorf("%s: got Name %q, want the template's", c.name, got)
		}
	}

	// The request's tags merge with the template's, the request winning.
	inst := run(append(byID, "TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "mine",
		"TagSpecification.1.Tag.2.Key", "owner", "TagSpecification.1.Tag.2.Value", "alice")...)
	for key, want := range map[string]string{"Name": "mine", "owner": "alice", "tier": "web", templateVersionTag: "1"} {
		if got := tag(inst, key); got != want {
			t.Errorf("merged tags: got %s=%q, want %q", key, got, want)
		}
	}
	// The request's image and zone win too.
	inst = run(append(byID, "ImageId", hadoopAMI, "Placement.AvailabilityZone", "us-east-1a")...)
	if inst.ImageID != hadoopAMI || inst.Placement.AvailabilityZone != "us-east-1a" {
		t.Errorf("request's image and zone: got %s in %s, want %s in us-east-1a", inst.ImageID, inst.Placement.AvailabilityZone, hadoopAMI)
	}

	// GetLaunchTemplateData reads the launch back.
	data := e.mustCall(t, "alice", "GetLaunchTemplateData", "InstanceId", inst.InstanceID).(*getLaunchTemplateDataResponse).Data
	if data.ImageID != hadoopAMI || data.InstanceType != "m1.small" || data.KeyName != "lab" || data.Placement.AvailabilityZone != "us-east-1a" {
		t.Errorf("GetLaunchTemplateData: got %+v, want the instance's parameters", data)
	}
	for _, spec := range data.TagSpecifications.Items {
		for _, tg := range spec.Tags {
			if strings.HasPrefix(tg.Key, "aws:") {
				t.Errorf("GetLaunchTemplateData: got tag %s, want no aws: tags", tg.Key)
			}
		}
	}
}

func TestMergeTemplateData(t *testing.T) {
	source := url.Values{
		"ImageId": {debianAMI}, "InstanceType": {"m1.small"},
		"BlockDeviceMapping.1.DeviceName": {"/dev/sdb"}, "BlockDeviceMapping.2.DeviceName": {"/dev/sdc"},
	}
	given := url.Values{"InstanceType": {"m1.large"}, "BlockDeviceMapping.1.DeviceName": {"/dev/sdd"}}
	want := url.Values{"ImageId": {debianAMI}, "InstanceType": {"m1.large"}, "BlockDeviceMapping.1.DeviceName": {"/dev/sdd"}}
	got := mergeTemplateData(source, given)
	if got.Encode() != want.Encode() {
		t.Errorf("got %v, want %v (a member given replaces the source's as a whole)", got, want)
	}
}

func TestTemplateLaunchParams(t *testing.T) {
	data := url.Values{"RamDiskId": {"ari-12345678"}, "SecurityGroup.1": {"web"}, "UserData": {"aGk="}}
	req := query.New(url.Values{"SecurityGroup.1": {"db"}, "SecurityGroup.2": {"ops"}})
	p, err := templateLaunchParams(req, data)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String("RamdiskId"); got != "ari-12345678" {
		t.Errorf("RamDiskId: got RunInstances' RamdiskId %q, want the template's", got)
	}
	if got := p.List("SecurityGroup"); !slices.Equal(got, []string{"db", "ops"}) {
		t.Errorf("SecurityGroup: got %v, want the request's list only", got)
	}
	if got := p.String("UserData"); got != "aGk=" {
		t.Errorf("UserData: got %q, want the template's", got)
	}
}

// A retried create (the same ClientToken, as SDKs send) answers with what
// the first made; the token with other parameters is refused.
func TestLaunchTemplateClientToken(t *testing.T) {
	e := newTestEnv(t, nil)
	create := []string{"LaunchTemplateName", "web", "LaunchTemplateData.ImageId", debianAMI, "ClientToken", "tok-1"}
	first := e.mustCall(t, "alice", "CreateLaunchTemplate", create...).(*launchTemplateResponse).Template
	again := e.mustCall(t, "alice", "CreateLaunchTemplate", create...).(*launchTemplateResponse).Template
	if again.ID != first.ID {
		t.Errorf("retried CreateLaunchTemplate: got %s, want the first's %s", again.ID, first.ID)
	}
	_, err := e.call(t, "alice", "CreateLaunchTemplate", "LaunchTemplateName", "web2", "LaunchTemplateData.ImageId", debianAMI, "ClientToken", "tok-1")
	wantCode(t, err, ec2err.IdempotentParameterMismatch)

	version := []string{"LaunchTemplateData.InstanceType", "m1.large", "ClientToken", "tok-2"}
	v := newVersion(t, e, "alice", first.ID, version...)
	if again := newVersion(t, e, "alice", first.ID, version...); again.VersionNumber != v.VersionNumber {
		t.Errorf("retried CreateLaunchTemplateVersion: got version %d, want the first's %d", again.VersionNumber, v.VersionNumber)
	}
	if got := launchTemplates(t, e, "alice"); len(got) != 1 || got[0].LatestVersion != 2 {
		t.Errorf("after the retries: got %+v, want one template with 2 versions", got)
	}
	// Bob's token is his own.
	if bobs := newTemplate(t, e, "bob", "web", "ClientToken", "tok-1"); bobs == first.ID {
		t.Errorf("bob's create with alice's token: got her template %s", bobs)
	}
	_, err = e.call(t, "alice", "CreateLaunchTemplate", "LaunchTemplateName", "web3", "LaunchTemplateData.ImageId", debianAMI, "ClientToken", strings.Repeat("t", 129))
	wantCode(t, err, ec2err.InvalidParameterValue)
}

// The messages EC2 answers with (as recorded against AWS in moto's
// aws_verified tests), which tools and students match on.
func TestLaunchTemplateMessagesAreEC2s(t *testing.T) {
	e := newTestEnv(t, nil)
	id := newTemplate(t, e, "alice", "web")
	const missingID = "lt-07ff4bb0369cd679c"
	tests := []struct {
		action string
		kv     []string
		want   string
	}{
		{"CreateLaunchTemplate", []string{"LaunchTemplateName", "web", "LaunchTemplateData.ImageId", debianAMI}, "Launch template name already in use."},
		{"DescribeLaunchTemplateVersions", []string{"LaunchTemplateName", "template_name"}, "The specified launch template, with template name template_name, does not exist."},
		{"DescribeLaunchTemplateVersions", []string{"LaunchTemplateId", missingID}, "The specified launch template, with template ID " + missingID + ", does not exist."},
		{"DescribeLaunchTemplateVersions", []string{"LaunchTemplateName", "web", "LaunchTemplateVersion.1", "3"}, "Could not find the specified version 3 for the launch template with ID " + id + "."},
		{"DescribeLaunchTemplateVersions", nil, allVersionsHelp},
		{"DescribeLaunchTemplateVersions", []string{"LaunchTemplateVersion.1", "1"}, allVersionsHelp},
		{"DescribeLaunchTemplates", []string{"LaunchTemplateName.1", "nope"}, "At least one of the launch templates specified in the request does not exist."},
		{"DeleteLaunchTemplate", nil, "The request must contain the parameter launch template ID or launch template name"},
		{"ModifyLaunchTemplate", []string{"LaunchTemplateId", id, "LaunchTemplateName", "web", "SetDefaultVersion", "2"}, "Either provide launch template ID or launch template name to modify the template."},
		{"ModifyLaunchTemplate", []string{"LaunchTemplateName", "web", "SetDefaultVersion", "2"}, "The launch template version 2 is not found for the specified launch template."},
		{"CreateLaunchTemplate", []string{"LaunchTemplateName", "udata", "LaunchTemplateData.UserData", "not base64!"}, "Invalid BASE64 encoding of user data."},
	}
	for _, c := range tests {
		_, err := e.call(t, "alice", c.action, c.kv...)
		if got := ec2err.As(err).Message; err == nil || got != c.want {
			t.Errorf("%s %v: got %v, want message %q", c.action, c.kv, err, c.want)
		}
	}
}

// EC2 lists the templates named in the order named, the others in the
// order they were made.
func TestDescribeLaunchTemplatesOrder(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	var ids []string
	for _, name := range []string{"zeta", "alpha", "mid"} {
		ids = append(ids, newTemplate(t, e, "alice", name))
		clock.Advance(time.Second)
	}
	names := func(lts []launchTemplateXML) string {
		var out []string
		for _, lt := range lts {
			out = append(out, lt.Name)
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"all", nil, "zeta alpha mid"},
		{"by name", []string{"LaunchTemplateName.1", "mid", "LaunchTemplateName.2", "zeta"}, "mid zeta"},
		{"by id", []string{"LaunchTemplateId.1", ids[2], "LaunchTemplateId.2", ids[1]}, "mid alpha"},
	}
	for _, c := range cases {
		if got := names(launchTemplates(t, e, "alice", c.kv...)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

// EC2's own tags on an instance from a template stay: DeleteTags of all
// tags leaves them, naming one is refused, and they do not count toward
// the 50 a student may set.
func TestTemplateTagsAreEC2s(t *testing.T) {
	e := newInstanceEnvT(t)
	id := newTemplate(t, e, "alice", "web")
	inst := launch(t, e, "alice", "LaunchTemplate.LaunchTemplateId", id, "ImageId", debianAMI)[0]
	wantAWS := []tagXML{{templateIDTag, id}, {templateVersionTag, "1"}}
	tagsOf := func() []tagXML { return describe(t, e, "alice", "InstanceId.1", inst)[0].Tags.list() }

	e.mustCall(t, "alice", "DeleteTags", "ResourceId.1", inst)
	if got := tagsOf(); !slices.Equal(got, wantAWS) {
		t.Errorf("after DeleteTags of all: got %v, want EC2's %v", got, wantAWS)
	}
	_, err := e.call(t, "alice", "DeleteTags", "ResourceId.1", inst, "Tag.1.Key", templateIDTag)
	wantCode(t, err, ec2err.InvalidParameterValue)
	kv := []string{"ResourceId.1", inst}
	for i := range maxTagsPerResource {
		kv = append(kv, "Tag."+strconv.Itoa(i+1)+".Key", "k"+strconv.Itoa(i))
	}
	e.mustCall(t, "alice", "CreateTags", kv...)
	if got := tagsOf(); len(got) != maxTagsPerResource+2 {
		t.Errorf("after 50 tags of the student's: got %d tags, want 52", len(got))
	}
}

// EC2 shows only the data a version was given: no empty sets for the
// members it left out (moto's aws_verified test_create_launch_template_version).
func TestTemplateDataOmitsEmptySets(t *testing.T) {
	e := newTestEnv(t, nil)
	id := newTemplate(t, e, "alice", "web")
	v := newVersion(t, e, "alice", id, "LaunchTemplateData.ImageId", debianAMI)
	raw, err := xml.Marshal(v.Data)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"blockDeviceMappingSet", "networkInterfaceSet", "securityGroupIdSet", "securityGroupSet"} {
		if strings.Contains(string(raw), "<"+set) {
			t.Errorf("got %s, want no %s", raw, set)
		}
	}
}

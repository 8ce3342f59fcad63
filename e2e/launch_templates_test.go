package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/econetest"
)

const debianImage = "ami-0a1b2c3d4e5f60001"

func (i cliInstance) tag(key string) string {
	for _, t := range i.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return "(none)"
}

func TestLaunchTemplatesWithAWSCLI(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	bob := e.User(t, "bob")
	var kp struct{ KeyName string }
	cliJSON(t, e, alice, &kp, "ec2", "create-key-pair", "--key-name", "lab")

	var created struct {
		LaunchTemplate struct{ LaunchTemplateId string }
	}
	cliJSON(t, e, alice, &created, "ec2", "create-launch-template", "--launch-template-name", "web",
		"--version-description", "small",
		"--launch-template-data", `{"ImageId":"`+debianImage+`","InstanceType":"t2.micro","KeyName":"lab",
		  "TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"Name","Value":"web"}]}]}`,
		"--tag-specifications", `ResourceType=launch-template,Tags=[{Key=course,Value=cs101}]`)
	id := created.LaunchTemplate.LaunchTemplateId
	var v2 struct{ LaunchTemplateVersion struct{ VersionNumber int64 } }
	cliJSON(t, e, alice, &v2, "ec2", "create-launch-template-version", "--launch-template-id", id,
		"--source-version", "1", "--launch-template-data", `{"InstanceType":"t2.small"}`)
	if v2.LaunchTemplateVersion.VersionNumber != 2 {
		t.Fatalf("create-launch-template-version: got version %d, want 2", v2.LaunchTemplateVersion.VersionNumber)
	}

	run := func(args ...string) cliInstance {
		t.Helper()
		var out struct{ Instances []cliInstance }
		cliJSON(t, e, alice, &out, append([]string{"ec2", "run-instances", "--count", "1"}, args...)...)
		var d struct {
			Reservations []struct{ Instances []cliInstance }
		}
		cliJSON(t, e, alice, &d, "ec2", "describe-instances", "--instance-ids", out.Instances[0].InstanceId)
		return d.Reservations[0].Instances[0]
	}
	cases := []struct {
		name, spec, wantType, wantVersion string
		more                              []string
	}{
		{"$Default", "LaunchTemplateName=web", "t2.micro", "1", nil},
		{"$Latest", "LaunchTemplateId=" + id + ",Version=$Latest", "t2.small", "2", nil},
		{"number", "LaunchTemplateName=web,Version=1", "t2.micro", "1", nil},
		{"request wins", "LaunchTemplateName=web,Version=$Latest", "t3.micro", "2", []string{"--instance-type", "t3.micro"}},
	}
	for _, c := range cases {
		inst := run(append([]string{"--launch-template", c.spec}, c.more...)...)
		if inst.ImageId != debianImage || inst.KeyName != "lab" || inst.InstanceType != c.wantType || inst.tag("Name") != "web" {
			t.Errorf("%s: got %+v, want %s from the template, key lab, tag Name=web", c.name, inst, c.wantType)
		}
		if inst.tag("aws:ec2launchtemplate:id") != id || inst.tag("aws:ec2launchtemplate:version") != c.wantVersion {
			t.Errorf("%s: got tags %+v, want aws:ec2launchtemplate:id %s and version %s", c.name, inst.Tags, id, c.wantVersion)
		}
	}

	// Version 2 becomes the default; the default cannot be deleted.
	cliJSON(t, e, alice, &created, "ec2", "modify-launch-template", "--launch-template-id", id, "--default-version", "2")
	if inst := run("--launch-template", "LaunchTemplateId="+id); inst.InstanceType != "t2.small" {
		t.Errorf("after modify-launch-template: got %s, want the new default's t2.small", inst.InstanceType)
	}
	var del struct {
		SuccessfullyDeletedLaunchTemplateVersions   []struct{ VersionNumber int64 }
		UnsuccessfullyDeletedLaunchTemplateVersions []struct {
			VersionNumber int64
			ResponseError struct{ Code string }
		}
	}
	cliJSON(t, e, alice, &del, "ec2", "delete-launch-template-versions", "--launch-template-id", id, "--versions", "1", "2")
	if len(del.SuccessfullyDeletedLaunchTemplateVersions) != 1 || len(del.UnsuccessfullyDeletedLaunchTemplateVersions) != 1 ||
		del.UnsuccessfullyDeletedLaunchTemplateVersions[0].ResponseError.Code != "unexpectedError" {
		t.Errorf("delete-launch-template-versions 1 2: got %+v, want 1 deleted and the default refused", del)
	}

	var described struct {
		LaunchTemplates []struct {
			LaunchTemplateName                        string
			DefaultVersionNumber, LatestVersionNumber int64
			Tags                                      []struct{ Key, Value string }
		}
	}
	cliJSON(t, e, alice, &described, "ec2", "describe-launch-templates", "--launch-template-names", "web")
	if lt := described.LaunchTemplates; len(lt) != 1 || lt[0].DefaultVersionNumber != 2 || lt[0].LatestVersionNumber != 2 || len(lt[0].Tags) != 1 {
		t.Errorf("describe-launch-templates: got %+v, want web at version 2 with its tag", lt)
	}

	errs := []struct {
		name string
		as   string
		args []string
		want string
	}{
		{"name taken", "alice", []string{"create-launch-template", "--launch-template-name", "web", "--launch-template-data", `{"ImageId":"` + debianImage + `"}`}, "InvalidLaunchTemplateName.AlreadyExistsException"},
		{"unknown name", "alice", []string{"describe-launch-templates", "--launch-template-names", "nope"}, "InvalidLaunchTemplateName.NotFoundException"},
		{"malformed id", "alice", []string{"describe-launch-template-versions", "--launch-template-id", "lt-nope"}, "InvalidLaunchTemplateId.Malformed"},
		{"unknown version", "alice", []string{"run-instances", "--count", "1", "--launch-template", "LaunchTemplateId=" + id + ",Version=7"}, "InvalidLaunchTemplateId.VersionNotFound"},
		{"another student's id", "bob", []string{"describe-launch-templates", "--launch-template-ids", id}, "InvalidLaunchTemplateId.NotFound"},
		{"another student's name", "bob", []string{"run-instances", "--count", "1", "--launch-template", "LaunchTemplateName=web"}, "InvalidLaunchTemplateName.NotFoundException"},
	}
	for _, c := range errs {
		creds := alice
		if c.as == "bob" {
			creds = bob
		}
		_, err := e.CLI(t, creds, append([]string{"ec2"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
	cliJSON(t, e, alice, &created, "ec2", "delete-launch-template", "--launch-template-name", "web")
}

const boto3LaunchTemplateScript = boto3WithCode + `
out = {}
lt = ec2.create_launch_template(LaunchTemplateName="app",
    LaunchTemplateData={"ImageId": "` + debianImage + `", "InstanceType": "t2.micro",
        "BlockDeviceMappings": [{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 2, "DeleteOnTermination": True}}],
        "MetadataOptions": {"HttpTokens": "required"},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "app"}, {"Key": "tier", "Value": "web"}]}]})
lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
ec2.create_launch_template_version(LaunchTemplateId=lt_id, SourceVersion="1", VersionDescription="bigger",
    LaunchTemplateData={"InstanceType": "t2.small"})
ec2.modify_launch_template(LaunchTemplateId=lt_id, DefaultVersion="2")
vs = ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["$Latest", "$Default", "1"])["LaunchTemplateVersions"]
out["versions"] = [[v["VersionNumber"], v["DefaultVersion"], v["LaunchTemplateData"]["InstanceType"]] for v in vs]
out["v2_inherits"] = [vs[1]["LaunchTemplateData"]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"],
    vs[1]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"]]

def run(**kw):
    r = ec2.run_instances(MinCount=1, MaxCount=1, **kw)
    i = ec2.describe_instances(InstanceIds=[r["Instances"][0]["InstanceId"]])["Reservations"][0]["Instances"][0]
    tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
    return [i["InstanceType"], i["ImageId"], tags.get("Name"), tags.get("tier"), tags.get("aws:ec2launchtemplate:version")]

out["default"] = run(LaunchTemplate={"LaunchTemplateId": lt_id})
out["latest"] = run(LaunchTemplate={"LaunchTemplateName": "app", "Version": "$Latest"})
out["number"] = run(LaunchTemplate={"LaunchTemplateName": "app", "Version": "1"})
out["override"] = run(LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"}, InstanceType="t3.micro",
    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "mine"}]}])
d = ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["2"])
out["delete_default"] = [e["ResponseError"]["Code"] for e in d["UnsuccessfullyDeletedLaunchTemplateVersions"]]
out["dup"] = code(ec2.create_launch_template, LaunchTemplateName="app", LaunchTemplateData={"ImageId": "` + debianImage + `"})
out["missing_version"] = code(ec2.describe_launch_template_versions, LaunchTemplateId=lt_id, Versions=["9"])
out["bad_name"] = code(ec2.create_launch_template, LaunchTemplateName="a b", LaunchTemplateData={"ImageId": "` + debianImage + `"})
data = ec2.get_launch_template_data(InstanceId=ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["mine"]}])["Reservations"][0]["Instances"][0]["InstanceId"])
out["from_instance"] = [data["LaunchTemplateData"]["InstanceType"], data["LaunchTemplateData"]["ImageId"]]
out["id"] = lt_id
json.dump(out, sys.stdout)
`

const boto3OtherStudentTemplateScript = boto3WithCode + `
lt_id = sys.argv[1]
json.dump({
    "describe_all": len(ec2.describe_launch_templates()["LaunchTemplates"]),
    "describe_id": code(ec2.describe_launch_templates, LaunchTemplateIds=[lt_id]),
    "versions_name": code(ec2.describe_launch_template_versions, LaunchTemplateName="app"),
    "delete": code(ec2.delete_launch_template, LaunchTemplateId=lt_id),
    "run": code(ec2.run_instances, MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": lt_id}),
    "own": ec2.create_launch_template(LaunchTemplateName="app", LaunchTemplateData={"ImageId": "` + debianImage + `"})["LaunchTemplate"]["LatestVersionNumber"],
}, sys.stdout)
`

func TestLaunchTemplatesWithBoto3(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	out, err := e.Boto3(t, alice, boto3LaunchTemplateScript)
	var got map[string]any
	decodeOutput(t, out, err, &got)
	want := map[string]string{
		"versions":        `[[1 false t2.micro] [2 true t2.small]]`,
		"v2_inherits":     `[2 required]`,
		"default":         `[t2.small ` + debianImage + ` app web 2]`,
		"latest":          `[t2.small ` + debianImage + ` app web 2]`,
		"number":          `[t2.micro ` + debianImage + ` app web 1]`,
		"override":        `[t3.micro ` + debianImage + ` mine web 1]`,
		"delete_default":  `[unexpectedError]`,
		"dup":             `InvalidLaunchTemplateName.AlreadyExistsException 400`,
		"missing_version": `InvalidLaunchTemplateId.VersionNotFound 400`,
		"bad_name":        `InvalidLaunchTemplateName.MalformedException 400`,
		"from_instance":   `[t3.micro ` + debianImage + `]`,
	}
	for key, w := range want {
		if g := fmtAny(got[key]); g != w {
			t.Errorf("%s: got %s, want %s", key, g, w)
		}
	}

	bob := e.User(t, "bob")
	out, err = e.Boto3(t, bob, "import sys; sys.argv = ['x', '"+got["id"].(string)+"']\n"+boto3OtherStudentTemplateScript)
	if err != nil {
		t.Fatal(err)
	}
	wantBob := `{"describe_all": 0, "describe_id": "InvalidLaunchTemplateId.NotFound 400", "versions_name": "InvalidLaunchTemplateName.NotFoundException 400", "delete": "InvalidLaunchTemplateId.NotFound 400", "run": "InvalidLaunchTemplateId.NotFound 400", "own": 1}`
	if strings.TrimSpace(out) != wantBob {
		t.Errorf("bob: got %s, want %s", out, wantBob)
	}
}

// fmtAny prints a decoded JSON value the way the want table spells it.
func fmtAny(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmtAny(x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return "null"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case string:
		return v
	}
	return "?"
}

func TestLaunchTemplateWithSDK(t *testing.T) {
	t.Parallel()
	e, alice := start(t)
	c := e.EC2(alice)
	ctx := econetest.Context(t)
	created, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("sdk"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{
			ImageId: aws.String(debianImage), InstanceType: types.InstanceTypeT2Micro,
			DisableApiTermination: aws.Bool(true),
			Monitoring:            &types.LaunchTemplatesMonitoringRequest{Enabled: aws.Bool(true)},
			Placement:             &types.LaunchTemplatePlacementRequest{AvailabilityZone: aws.String(testZones[1])},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := created.LaunchTemplate.LaunchTemplateId
	vs, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: id})
	if err != nil {
		t.Fatal(err)
	}
	d := vs.LaunchTemplateVersions[0].LaunchTemplateData
	if len(vs.LaunchTemplateVersions) != 1 || !aws.ToBool(d.DisableApiTermination) || !aws.ToBool(d.Monitoring.Enabled) ||
		aws.ToString(d.Placement.AvailabilityZone) != testZones[1] || d.InstanceType != types.InstanceTypeT2Micro {
		t.Errorf("DescribeLaunchTemplateVersions: got %+v, want the data sent", d)
	}
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: id, Version: aws.String("$Latest")},
	})
	if err != nil {
		t.Fatal(err)
	}
	inst := run.Instances[0]
	if aws.ToString(inst.ImageId) != debianImage || aws.ToString(inst.Placement.AvailabilityZone) != testZones[1] || inst.InstanceType != types.InstanceTypeT2Micro {
		t.Errorf("RunInstances from the template: got %s %s in %s, want the template's", aws.ToString(inst.ImageId), inst.InstanceType, aws.ToString(inst.Placement.AvailabilityZone))
	}
	got, err := c.GetLaunchTemplateData(ctx, &ec2.GetLaunchTemplateDataInput{InstanceId: inst.InstanceId})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(got.LaunchTemplateData.DisableApiTermination) || aws.ToString(got.LaunchTemplateData.ImageId) != debianImage {
		t.Errorf("GetLaunchTemplateData: got %+v, want termination protection and the image", got.LaunchTemplateData)
	}
	_, err = c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: id})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{aws.ToString(id)}})
	if code := apiCode(err); code != "InvalidLaunchTemplateId.NotFound" {
		t.Errorf("after delete: got %s, want InvalidLaunchTemplateId.NotFound", code)
	}
}

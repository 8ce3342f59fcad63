package actions

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

func tagList(t *testing.T, e *testEnv, user string, kv ...string) string {
	t.Helper()
	resp := e.mustCall(t, user, "DescribeTags", kv...).(*describeTagsResponse)
	var out []string
	for _, d := range resp.Tags {
		out = append(out, fmt.Sprintf("%s:%s=%s", d.ResourceType, d.Key, d.Value))
	}
	return strings.Join(out, " ")
}

func TestTagsLifecycle(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", id, "Tag.1.Key", "Name", "Tag.1.Value", "web", "Tag.2.Key", "env", "Tag.2.Value", "lab", "Tag.3.Key", "empty")
	steps := []struct {
		name string
		kv   []string // a DeleteTags, or nil
		want string
	}{
		{"created", nil, "instance:Name=web instance:empty= instance:env=lab"},
		{"delete with wrong value keeps it", []string{"Tag.1.Key", "Name", "Tag.1.Value", "db"}, "instance:Name=web instance:empty= instance:env=lab"},
		{"delete with matching value", []string{"Tag.1.Key", "Name", "Tag.1.Value", "web"}, "instance:empty= instance:env=lab"},
		{"delete by key", []string{"Tag.1.Key", "env"}, "instance:empty="},
		{"delete all", []string{}, ""},
	}
	for _, s := range steps {
		if s.kv != nil {
			e.mustCall(t, "alice", "DeleteTags", append([]string{"ResourceId.1", id}, s.kv...)...)
		}
		if got := tagList(t, e, "alice"); got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", id, "Tag.1.Key", "Name", "Tag.1.Value", "web")
	filters := []struct {
		name string
		kv   []string
		want string
	}{
		{"resource-id", []string{"Filter.1.Name", "resource-id", "Filter.1.Value.1", id}, "instance:Name=web"},
		{"resource-type volume", []string{"Filter.1.Name", "resource-type", "Filter.1.Value.1", "volume"}, ""},
		{"key wildcard", []string{"Filter.1.Name", "key", "Filter.1.Value.1", "Na*"}, "instance:Name=web"},
		{"value", []string{"Filter.1.Name", "value", "Filter.1.Value.1", "db"}, ""},
	}
	for _, f := range filters {
		if got := tagList(t, e, "alice", f.kv...); got != f.want {
			t.Errorf("filter %s: got %q, want %q", f.name, got, f.want)
		}
	}
	if got := tagList(t, e, "bob"); got != "" {
		t.Errorf("bob sees alice's tags: %q", got)
	}
}

// Tags go with their instance out of sight: kept while a terminated
// instance is still described, gone once it has expired.
func TestTagsOfExpiredInstances(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	kept := launch(t, e, "alice", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "kept")[0]
	gone := launch(t, e, "alice", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "gone")[0]
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", gone)
	clock.Advance(2 * time.Second) // terminated
	if got, want := tagList(t, e, "alice"), "instance:role=kept instance:role=gone"; !sameWords(got, want) {
		t.Errorf("terminated, not yet expired: got %q, want %q", got, want)
	}
	clock.Advance(time.Hour + time.Second)
	if got, want := tagList(t, e, "alice"), "instance:role=kept"; got != want {
		t.Errorf("after expiration: got %q, want %q (of %s only, not %s)", got, want, kept, gone)
	}
}

func sameWords(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func TestTagErrors(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	many := []string{"ResourceId.1", id}
	for i := 1; i <= 51; i++ {
		many = append(many, fmt.Sprintf("Tag.%d.Key", i), fmt.Sprintf("k%d", i))
	}
	tests := []struct {
		name   string
		action string
		kv     []string
		want   string
	}{
		{"no resource", "CreateTags", []string{"Tag.1.Key", "a"}, ec2err.MissingParameter},
		{"no tags", "CreateTags", []string{"ResourceId.1", id}, ec2err.MissingParameter},
		{"unknown prefix", "CreateTags", []string{"ResourceId.1", "foo-12345678", "Tag.1.Key", "a"}, ec2err.InvalidIDMalformed},
		{"malformed instance id", "CreateTags", []string{"ResourceId.1", "i-xyz", "Tag.1.Key", "a"}, ec2err.InvalidIDMalformed},
		{"unknown volume", "CreateTags", []string{"ResourceId.1", "vol-0123456789abcdef0", "Tag.1.Key", "a"}, ec2err.InvalidVolumeNotFound},
		{"reserved key", "CreateTags", []string{"ResourceId.1", id, "Tag.1.Key", "aws:cloudformation"}, ec2err.InvalidParameterValue},
		{"too many", "CreateTags", many, ec2err.TagLimitExceeded},
		{"dry run", "CreateTags", []string{"ResourceId.1", id, "Tag.1.Key", "a", "DryRun", "true"}, ec2err.DryRunOperation},
		{"unknown filter", "DescribeTags", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, ec2err.InvalidParameterValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", tt.action, tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
	if got := tagList(t, e, "alice"); got != "" {
		t.Errorf("after only failed calls: got tags %q, want none", got)
	}
}

func TestImagesAndTypesErrors(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	tests := []struct {
		name   string
		action string
		kv     []string
		want   string
	}{
		{"malformed image", "DescribeImages", []string{"ImageId.1", "ami-?"}, ec2err.InvalidAMIIDMalformed},
		{"unknown image", "DescribeImages", []string{"ImageId.1", "ami-00000000"}, ec2err.InvalidAMIIDNotFound},
		{"unknown image filter", "DescribeImages", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, ec2err.InvalidParameterValue},
		{"unknown type", "DescribeInstanceTypes", []string{"InstanceType.1", "z9.huge"}, ec2err.InvalidInstanceType},
		{"type page too big", "DescribeInstanceTypes", []string{"MaxResults", "101"}, ec2err.InvalidParameterValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", tt.action, tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
	imgs := e.mustCall(t, "alice", "DescribeImages", "Owner.1", "self").(*describeImagesResponse)
	if len(imgs.Images) != 0 {
		t.Errorf("Owner self: got %d images, want 0 (students register none)", len(imgs.Images))
	}
	hadoop := e.mustCall(t, "alice", "DescribeImages", "ImageId.1", hadoopAMI).(*describeImagesResponse)
	if len(hadoop.Images) != 1 || hadoop.Images[0].RootDeviceType != "instance-store" || len(hadoop.Images[0].BlockDevices) != 0 {
		t.Errorf("hadoop image: got %+v, want one instance-store image without EBS mappings", hadoop.Images)
	}
	types := e.mustCall(t, "alice", "DescribeInstanceTypes", "Filter.1.Name", "processor-info.supported-architecture", "Filter.1.Value.1", "arm64").(*describeInstanceTypesResponse)
	if len(types.InstanceTypes) != 1 || types.InstanceTypes[0].InstanceType != "t4g.micro" {
		t.Errorf("arm64 types: got %+v, want t4g.micro", types.InstanceTypes)
	}
	m1 := e.mustCall(t, "alice", "DescribeInstanceTypes", "InstanceType.1", "m1.small").(*describeInstanceTypesResponse).InstanceTypes[0]
	if m1.CurrentGeneration || m1.VCpuInfo.DefaultVCpus != 1 || m1.MemoryInfo.SizeInMiB != 1740 {
		t.Errorf("m1.small: got %+v, want previous generation, 1 vCPU, 1740 MiB", m1)
	}
}

// TestEveryResourceTypeHasNotFoundCode: a taggable type without its code
// would answer a classmate's id with an empty error code.
func TestEveryResourceTypeHasNotFoundCode(t *testing.T) {
	for _, rt := range store.ResourceTypes {
		if notFoundCodes[rt.Name] == "" {
			t.Errorf("%s: got no NotFound code, want EC2's", rt.Name)
		}
	}
}

package query

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/econe/econe-server/ec2err"
)

func params(kv ...string) *Params {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return New(v)
}

func TestList(t *testing.T) {
	cases := []struct {
		name string
		p    *Params
		want []string
	}{
		{"numbered in order", params("InstanceId.1", "a", "InstanceId.2", "b"), []string{"a", "b"}},
		{"numeric not lexical order", params("InstanceId.10", "j", "InstanceId.2", "b", "InstanceId.1", "a"), []string{"a", "b", "j"}},
		{"gaps kept in order", params("InstanceId.3", "c", "InstanceId.1", "a"), []string{"a", "c"}},
		{"unnumbered legacy form", params("InstanceId", "a"), []string{"a"}},
		{"other names ignored", params("InstanceIdX.1", "z", "Foo", "y"), nil},
		{"absent", params(), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.List("InstanceId"); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	p := params(
		"Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "running", "Filter.1.Value.2", "pending",
		"Filter.2.Name", "tag:Name", "Filter.2.Value.1", "web*",
	)
	got, err := p.Filters()
	if err != nil {
		t.Fatal(err)
	}
	want := []Filter{{"instance-state-name", []string{"running", "pending"}}, {"tag:Name", []string{"web*"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	_, err = params("Filter.1.Value.1", "x").Filters()
	if !ec2err.Is(err, ec2err.MissingParameter) {
		t.Errorf("filter without name: got %v, want MissingParameter", err)
	}
	if e := ec2err.As(err); e.Message != "The request must contain the parameter Filter.1.Name" {
		t.Errorf("got message %q, want it to name Filter.1.Name", e.Message)
	}
}

func TestTagSpecifications(t *testing.T) {
	p := params(
		"TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web",
		"TagSpecification.1.Tag.2.Key", "env", "TagSpecification.1.Tag.2.Value", "",
		"TagSpecification.2.ResourceType", "volume",
		"TagSpecification.2.Tag.1.Key", "v", "TagSpecification.2.Tag.1.Value", "1",
	)
	specs, err := p.TagSpecifications()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := TagsFor(specs, "instance"), []Tag{{"Name", "web"}, {"env", ""}}; !reflect.DeepEqual(got, want) {
		t.Errorf("instance tags: got %v, want %v", got, want)
	}
	if got, want := TagsFor(specs, "volume"), []Tag{{"v", "1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("volume tags: got %v, want %v", got, want)
	}
	_, err = params("TagSpecification.1.Tag.1.Value", "x", "TagSpecification.1.ResourceType", "instance").TagSpecifications()
	if e := ec2err.As(err); e.Code != ec2err.MissingParameter || e.Message != "The request must contain the parameter TagSpecification.1.Tag.1.Key" {
		t.Errorf("got %v, want MissingParameter naming TagSpecification.1.Tag.1.Key", err)
	}
}

func TestScalars(t *testing.T) {
	p := params("MaxCount", "3", "Bad", "x", "DryRun", "TRUE", "No", "maybe", "UserData", "aGVsbG8=", "Raw", "aGVsbG8")
	if n, err := p.Int("MaxCount", 1); err != nil || n != 3 {
		t.Errorf("Int: got %d, %v, want 3", n, err)
	}
	if n, err := p.Int("Absent", 7); err != nil || n != 7 {
		t.Errorf("Int default: got %d, %v, want 7", n, err)
	}
	if _, err := p.Int("Bad", 0); !ec2err.Is(err, ec2err.InvalidParameterValue) {
		t.Errorf("Int bad: got %v, want InvalidParameterValue", err)
	}
	if b, err := p.Bool("DryRun", false); err != nil || !b {
		t.Errorf("Bool: got %v, %v, want true", b, err)
	}
	if _, err := p.Bool("No", false); !ec2err.Is(err, ec2err.InvalidParameterValue) {
		t.Errorf("Bool bad: got %v, want InvalidParameterValue", err)
	}
	for _, name := range []string{"UserData", "Raw"} {
		if b, err := p.Base64(name); err != nil || string(b) != "hello" {
			t.Errorf("Base64 %s: got %q, %v, want hello", name, b, err)
		}
	}
	if _, err := p.Required("ImageId"); !ec2err.Is(err, ec2err.MissingParameter) {
		t.Errorf("Required: got %v, want MissingParameter", err)
	}
	nested := p.Struct("Placement")
	if _, err := nested.Required("AvailabilityZone"); ec2err.As(err).Message != "The request must contain the parameter Placement.AvailabilityZone" {
		t.Errorf("nested names: got %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("Filter.1.Name=a&Filter.1.Value.1=b&InstanceId.1=i-1")
	f.Add("TagSpecification.1.Tag.1.Key=k&TagSpecification.1.ResourceType=instance")
	f.Add("Filter..Name=&Filter.-1.Value.x=1&InstanceId.99999999999999999999=z")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p := New(v)
		_ = p.List("InstanceId")
		_, _ = p.Filters()
		_, _ = p.TagSpecifications()
		_, _ = p.Int("MaxCount", 1)
	})
}

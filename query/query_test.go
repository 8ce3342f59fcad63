package query

import (
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
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
		// Past maxScan children a node is found through its index.
		{"more members than a scan takes", params("InstanceId.12", "l", "InstanceId.3", "c", "InstanceId.11", "k", "InstanceId.1", "a",
			"InstanceId.9", "i", "InstanceId.10", "j", "InstanceId.2", "b", "InstanceId.8", "h", "InstanceId.4", "d", "InstanceId.7", "g",
			"InstanceId.5", "e", "InstanceId.6", "f"), strings.Split("abcdefghijkl", "")},
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
	want := map[string][]string{"instance-state-name": {"running", "pending"}, "tag:Name": {"web*"}}
	if !reflect.DeepEqual(filterValues(got), want) {
		t.Errorf("got %+v, want %+v", filterValues(got), want)
	}
	if !got[1].Match([]string{"db", "webserver"}) || got[1].Match([]string{"db"}) {
		t.Errorf("tag:Name web*: got no match for webserver or a match for db")
	}
	// EC2's answer to a filter without a name (seen by AWS SDK users).
	_, err = params("Filter.1.Value.1", "x").Filters()
	if e := ec2err.As(err); e.Code != ec2err.InvalidParameterValue || e.Message != "The filter 'null' is invalid" {
		t.Errorf("filter without name: got %v, want InvalidParameterValue: The filter 'null' is invalid", err)
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
	// EC2's answer to a specification without a type (quoted by AWS SDK users).
	for _, empty := range [][]string{{"TagSpecification.1.ResourceType", "volume"}, {"TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag", ""}} {
		_, err = params(empty...).TagSpecifications()
		if err == nil || ec2err.As(err).Code != ec2err.InvalidParameterValue || ec2err.As(err).Message != "Tag specification must have at least one tag" {
			t.Errorf("%v: got %v, want InvalidParameterValue: Tag specification must have at least one tag", empty, err)
		}
	}
	_, err = params("TagSpecification.1.Tag.1.Key", "k").TagSpecifications()
	if err == nil || ec2err.As(err).Code != ec2err.InvalidParameterValue || ec2err.As(err).Message != "Tag specification resource type must have a value" {
		t.Errorf("no resource type: got %v, want InvalidParameterValue: Tag specification resource type must have a value", err)
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
	f.Add("InstanceId.01=a&InstanceId.1=b&InstanceId.+2=c&InstanceId.10=j&InstanceId=legacy")
	f.Add("Filter.2.Name=b&Filter.2.Value=legacy&Filter.1.Name=a&Filter.1.Value.3=x&Filter.1.Value.1=y&Filter.1.=z")
	f.Add("A.B=1&A.B=2&A..C=&A.=x")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p := New(v)
		if got, want := p.List("InstanceId"), naiveList(v, "InstanceId"); !reflect.DeepEqual(got, want) {
			t.Errorf("List: got %q, want %q", got, want)
		}
		if fs, err := p.Filters(); err == nil {
			if got, want := filterValues(fs), naiveFilters(v); !reflect.DeepEqual(got, want) {
				t.Errorf("Filters: got %q, want %q", got, want)
			}
		}
		if got := p.Values(); !reflect.DeepEqual(got, v) {
			t.Errorf("Values: got %q, want %q", got, v)
		}
		_, _ = p.TagSpecifications()
		_, _ = p.Int("MaxCount", 1)
		_, _ = Parse(v)
	})
}

func filterValues(fs []Filter) map[string][]string {
	out := map[string][]string{}
	for _, f := range fs {
		out[f.Name] = f.Values
	}
	return out
}

// numbered returns name.1=value1 .. name.n=valuen.
func numbered(v url.Values, name string, n int) url.Values {
	for i := 1; i <= n; i++ {
		v.Set(name+"."+strconv.Itoa(i), "value"+strconv.Itoa(i))
	}
	return v
}

// TestLimits: lists, filter values and their length stop where EC2 stops
// them, with EC2's error, naming the parameter.
func TestLimits(t *testing.T) {
	long := strings.Repeat("é", MaxFilterValueLength)
	cases := []struct {
		name     string
		v        url.Values
		wantCode string // "" for accepted
		wantText string
	}{
		{"1000 instance ids", numbered(url.Values{}, "InstanceId", 1000), "", ""},
		{"1001 instance ids", numbered(url.Values{}, "InstanceId", 1001), ec2err.InvalidRequest,
			"1001 exceeds the maximum number of InstanceId values that can be specified (1000)"},
		{"1001 nested tags", numbered(url.Values{"TagSpecification.1.ResourceType": {"instance"}}, "TagSpecification.1.Tag", 1001), ec2err.InvalidRequest,
			"TagSpecification.1.Tag values"},
		{"10000 filter names", manyFilters(10000), ec2err.InvalidRequest, "10000 exceeds the maximum number of Filter values"},
		{"200 filter values over two filters", numbered(numbered(url.Values{"Filter.1.Name": {"a"}, "Filter.2.Name": {"b"}}, "Filter.1.Value", 100), "Filter.2.Value", 100), "", ""},
		{"201 filter values over two filters", numbered(numbered(url.Values{"Filter.1.Name": {"a"}, "Filter.2.Name": {"b"}}, "Filter.1.Value", 100), "Filter.2.Value", 101), ec2err.FilterLimitExceeded,
			"The maximum number of filter values specified on a single call is 200. Filter.2.Value brings this request to 201."},
		{"value of 255 characters", url.Values{"Filter.1.Name": {"tag-value"}, "Filter.1.Value.1": {long}}, "", ""},
		{"value of 256 characters", url.Values{"Filter.1.Name": {"a"}, "Filter.1.Value.1": {"x"}, "Filter.2.Name": {"tag-value"}, "Filter.2.Value.1": {"*" + long}}, ec2err.FilterLimitExceeded,
			"The maximum length for a filter value is 255 characters. Filter.2.Value has one of 256."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.v)
			if err == nil {
				_, err = p.Filters()
			}
			if c.wantCode == "" {
				if err != nil {
					t.Errorf("got %v, want it accepted", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got it accepted, want %s saying %q", c.wantCode, c.wantText)
			}
			if e := ec2err.As(err); e.Code != c.wantCode || !strings.Contains(e.Message, c.wantText) {
				t.Errorf("got %v, want %s saying %q", err, c.wantCode, c.wantText)
			}
		})
	}
}

// TestValuesRoundTrip: the tree gives back exactly the parameters sent,
// and a structure its own, relative names.
func TestValuesRoundTrip(t *testing.T) {
	v := url.Values{"Action": {"RunInstances"}, "A.B": {"1", "2"}, "A..C": {""}, "A.": {"x"}, "Placement.AvailabilityZone": {"z"}}
	if got := New(v).Values(); !reflect.DeepEqual(got, v) {
		t.Errorf("got %v, want %v", got, v)
	}
	if got, want := New(v).Struct("A").Values(), (url.Values{"B": {"1", "2"}, ".C": {""}, "": {"x"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("Struct(A): got %v, want %v", got, want)
	}
	// More names at a level than a scan takes: the root and A.
	many := url.Values{}
	for i := range 3 * maxScan {
		many.Set("P"+strconv.Itoa(i), strconv.Itoa(i))
		many.Set("A.F"+strconv.Itoa(i), strconv.Itoa(i))
	}
	if got := New(many).Values(); !reflect.DeepEqual(got, many) {
		t.Errorf("got %v, want %v", got, many)
	}
	if got, want := New(many).String("A.F20"), "20"; got != want {
		t.Errorf("A.F20: got %q, want %q", got, want)
	}
}

// naiveList and naiveStructFields are the decoder as it was, scanning
// every parameter per index: the reference the fuzz test holds the tree to.
func naiveIndexes(v url.Values, prefix string) []int {
	seen := map[int]bool{}
	for k := range v {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, ".")
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

func naiveList(v url.Values, prefix string) []string {
	var out []string
	for _, n := range naiveIndexes(v, prefix) {
		if vs, ok := v[prefix+"."+strconv.Itoa(n)]; ok && len(vs) > 0 {
			out = append(out, vs[0])
		}
	}
	if vs, ok := v[prefix]; len(out) == 0 && ok && len(vs) > 0 && vs[0] != "" {
		out = append(out, vs[0])
	}
	return out
}

func naiveFilters(v url.Values) map[string][]string {
	out := map[string][]string{}
	for _, n := range naiveIndexes(v, "Filter") {
		sub := url.Values{}
		for k, vs := range v {
			if rest, ok := strings.CutPrefix(k, "Filter."+strconv.Itoa(n)+"."); ok {
				sub[rest] = vs
			}
		}
		if name := sub.Get("Name"); name != "" {
			out[name] = naiveList(sub, "Value")
		}
	}
	return out
}

// manyFilters is Filter.1..n.Name, the shape that made decoding quadratic.
func manyFilters(n int) url.Values {
	v := url.Values{}
	for i := 1; i <= n; i++ {
		v.Set("Filter."+strconv.Itoa(i)+".Name", "tag:k"+strconv.Itoa(i))
	}
	return v
}

// BenchmarkFilters decodes Filter.1..N.Name: before the tree, each index
// rescanned every parameter.
func BenchmarkFilters(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		v := manyFilters(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := New(v).Filters(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDescribeByID is the parameters of a describe by id, parsed and
// read as the action reads them.
func BenchmarkDescribeByID(b *testing.B) {
	v := url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "InstanceId.1": {"i-0123456789abcdef0"}}
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(v)
		if err != nil {
			b.Fatal(err)
		}
		if ids := p.List("InstanceId"); len(ids) != 1 {
			b.Fatalf("got ids %q, want one", ids)
		}
	}
}

package actions

import (
	"net/url"
	"strings"
	"testing"

	"github.com/econe/econe-server/query"
)

// decodeFilters decodes name/value pairs of Filter.N parameters as a
// request would carry them.
func decodeFilters(t testing.TB, kv ...string) []query.Filter {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	filters, err := query.New(v).Filters()
	if err != nil {
		t.Fatal(err)
	}
	return filters
}

// TestMatchFilters: filters AND together, a filter's values OR.
func TestMatchFilters(t *testing.T) {
	attrs := func(name string) ([]string, bool) {
		switch name {
		case "tag-value":
			return []string{"web-1", "db"}, true
		case "instance-state-name":
			return []string{"running"}, true
		}
		return nil, false
	}
	cases := []struct {
		name string
		kv   []string
		want bool
	}{
		{"no filter", nil, true},
		{"one value of many", []string{"Filter.1.Name", "tag-value", "Filter.1.Value.1", "x", "Filter.1.Value.2", "web-?"}, true},
		{"no value matches", []string{"Filter.1.Name", "tag-value", "Filter.1.Value.1", "web", "Filter.1.Value.2", "d??"}, false},
		{"both filters match", []string{"Filter.1.Name", "tag-value", "Filter.1.Value.1", "*b", "Filter.2.Name", "instance-state-name", "Filter.2.Value.1", "run*"}, true},
		{"one filter fails", []string{"Filter.1.Name", "tag-value", "Filter.1.Value.1", "*b", "Filter.2.Name", "instance-state-name", "Filter.2.Value.1", "stopped"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := matchFilters(decodeFilters(t, c.kv...), attrs); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestMatchFiltersAllocatesNothing: a pattern is compiled once per
// request, not converted again for every value it is compared with.
func TestMatchFiltersAllocatesNothing(t *testing.T) {
	filters := decodeFilters(t, "Filter.1.Name", "tag-value", "Filter.1.Value.1", "*"+strings.Repeat("a", 200)+"?b",
		"Filter.1.Value.2", `w\*b*`)
	values := []string{strings.Repeat("a", 256), "web-1"}
	attrs := func(string) ([]string, bool) { return values, true }
	allocs := testing.AllocsPerRun(10, func() {
		for range 1000 {
			matchFilters(filters, attrs)
		}
	})
	if allocs != 0 {
		t.Errorf("matching 1,000 resources: got %v allocations, want 0", allocs)
	}
}

// BenchmarkMatchFilters matches one tag-value filter against a student's
// 1,000 instances, each with one 256-character tag value (EC2's longest).
func BenchmarkMatchFilters(b *testing.B) {
	value := strings.Repeat("a", 256)
	for _, c := range []struct{ name, pattern string }{
		{"exact", value[:query.MaxFilterValueLength]},
		{"star-255", "*" + strings.Repeat("a", 253) + "b"},
		{"question-255", strings.Repeat("?", 255)},
	} {
		b.Run(c.name, func(b *testing.B) {
			filters := decodeFilters(b, "Filter.1.Name", "tag-value", "Filter.1.Value.1", c.pattern)
			values := []string{value}
			attrs := func(string) ([]string, bool) { return values, true }
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for range 1000 {
					matchFilters(filters, attrs)
				}
			}
		})
	}
}

package actions

import (
	"encoding/base64"
	"sort"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// Attrs returns the values a resource has for a filter name, and whether
// the name is a filter this resource type knows.
type Attrs func(name string) (values []string, known bool)

// one is a known filter's answer for a single-valued attribute: v, or
// no values when it is unset.
func one(v string) ([]string, bool) {
	if v == "" {
		return nil, true
	}
	return []string{v}, true
}

// checkFilterNames rejects unknown filter names up front, so a typo is an
// InvalidParameterValue naming the filter rather than an empty answer.
// probe is the Attrs of any resource of the type (it is asked names only).
func checkFilterNames(filters []query.Filter, probe Attrs) error {
	for _, f := range filters {
		if _, known := probe(f.Name); !known {
			return ec2err.New(ec2err.InvalidParameterValue, "The filter '%s' is invalid", f.Name)
		}
	}
	return nil
}

// describeChecks is what a describe checks before it reads: Filter.N,
// each name known to probe; no MaxResults with a list of ids (combined:
// EC2's message, whose names differ by action); then DryRun.
func describeChecks(r *Request, probe Attrs, ids []string, combined string) ([]query.Filter, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, probe); err != nil {
		return nil, err
	}
	if len(ids) > 0 && r.Params.Has("MaxResults") {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "%s", combined)
	}
	return filters, r.DryRun()
}

// matchFilters is EC2's rule: every filter must match (AND), and a filter
// matches when any of its values matches any of the resource's (OR).
func matchFilters(filters []query.Filter, attrs Attrs) bool {
	for _, f := range filters {
		have, _ := attrs(f.Name)
		if !f.Match(have) {
			return false
		}
	}
	return true
}

// tagAttrs answers the tag filters every taggable resource supports:
// tag:KEY, tag-key and tag-value. known is false for other names.
func tagAttrs(tags []store.Tag, name string) ([]string, bool) {
	switch {
	case strings.HasPrefix(name, "tag:"):
		key := name[len("tag:"):]
		for _, t := range tags {
			if t.Key == key {
				return []string{t.Value}, true
			}
		}
		return nil, true
	case name == "tag-key":
		out := make([]string, len(tags))
		for i, t := range tags {
			out[i] = t.Key
		}
		return out, true
	case name == "tag-value":
		out := make([]string, len(tags))
		for i, t := range tags {
			out[i] = t.Value
		}
		return out, true
	}
	return nil, false
}

// unsetAttrs answers documented filters on a feature the endpoint does not
// have, so that every resource has the same value (or none): EC2 accepts
// such a filter and matches accordingly, where an unknown name would be
// InvalidParameterValue.
func unsetAttrs(values map[string][]string, name string) ([]string, bool) {
	v, ok := values[name]
	return v, ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Page is one page of a listing.
type Page struct {
	Start, End int    // items[Start:End] are on this page
	NextToken  string // "" on the last page
}

// paginate pages a listing sorted by key(i) (ascending, unique). The token
// is an opaque encoding of the last key returned, so pages stay stable when
// items are added or removed between calls. maxResults 0 means all;
// otherwise it must lie in [min, max], as each EC2 action documents.
func paginate(n int, key func(i int) string, p *query.Params, min, max int) (Page, error) {
	maxResults, sent, err := p.OptionalInt("MaxResults")
	if err != nil {
		return Page{}, err
	}
	if sent && (maxResults < min || maxResults > max) {
		return Page{}, ec2err.BadValue("MaxResults", p.String("MaxResults"), "It must be between "+strconv.Itoa(min)+" and "+strconv.Itoa(max)+".")
	}
	start := 0
	if tok := p.String("NextToken"); tok != "" {
		last, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(last) == 0 {
			return Page{}, ec2err.New(ec2err.InvalidNextToken, "The pagination token %q is invalid.", tok)
		}
		start = sort.Search(n, func(i int) bool { return key(i) > string(last) })
	}
	if !sent || start+maxResults >= n {
		return Page{Start: start, End: n}, nil
	}
	end := start + maxResults
	return Page{Start: start, End: end, NextToken: base64.RawURLEncoding.EncodeToString([]byte(key(end - 1)))}, nil
}

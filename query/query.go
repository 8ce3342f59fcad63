// Package query decodes EC2 Query protocol parameters.
//
// EC2 flattens lists and structures into dotted names: InstanceId.1,
// Filter.1.Name, Filter.1.Value.2, TagSpecification.1.Tag.1.Key. One decoder
// serves every action, and every error it returns names the parameter, so a
// student sees exactly which argument was wrong.
package query

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/econe/econe-server/ec2err"
)

// Params is one request's parameters (or a nested structure of them).
type Params struct {
	values url.Values
	prefix string // the dotted path of this structure in the request, for messages
}

// New wraps decoded request parameters.
func New(v url.Values) *Params { return &Params{values: v} }

// Values returns the underlying parameters (read-only by convention).
func (p *Params) Values() url.Values { return p.values }

func (p *Params) full(name string) string { return p.prefix + name }

// Has reports whether the parameter was sent.
func (p *Params) Has(name string) bool {
	_, ok := p.values[name]
	return ok
}

// String returns the parameter's value, "" when absent.
func (p *Params) String(name string) string { return p.values.Get(name) }

// Required returns the parameter's value or MissingParameter.
func (p *Params) Required(name string) (string, error) {
	v := p.values.Get(name)
	if v == "" {
		return "", ec2err.Missing(p.full(name))
	}
	return v, nil
}

// Int returns an integer parameter, or def when absent.
func (p *Params) Int(name string, def int) (int, error) {
	v := p.values.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, ec2err.BadValue(p.full(name), v, "It must be an integer.")
	}
	return n, nil
}

// OptionalInt returns an integer parameter and whether it was sent.
func (p *Params) OptionalInt(name string) (int, bool, error) {
	if !p.Has(name) {
		return 0, false, nil
	}
	n, err := p.Int(name, 0)
	return n, err == nil, err
}

// Bool returns a boolean parameter ("true"/"false", any case), or def.
func (p *Params) Bool(name string, def bool) (bool, error) {
	v := p.values.Get(name)
	if v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, ec2err.BadValue(p.full(name), v, "It must be true or false.")
}

// Time returns an ISO 8601 timestamp parameter; ok is false when absent.
func (p *Params) Time(name string) (t time.Time, ok bool, err error) {
	v := p.values.Get(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true, nil
		}
	}
	return time.Time{}, false, ec2err.BadValue(p.full(name), v, "It must be an ISO 8601 timestamp.")
}

// Base64 decodes a base64 parameter (standard or URL alphabet, padding optional).
func (p *Params) Base64(name string) ([]byte, error) {
	v := p.values.Get(name)
	if v == "" {
		return nil, nil
	}
	v = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' {
			return -1
		}
		return r
	}, v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, ec2err.BadValue(p.full(name), "(redacted)", "It must be base64-encoded.")
}

// indexes returns the numeric suffixes N present as "prefix.N" or
// "prefix.N.<more>", in numeric order. EC2 lists are 1-based, but clients may
// send gaps, so the order is what counts, not contiguity.
func (p *Params) indexes(prefix string) []int {
	seen := map[int]bool{}
	dotted := prefix + "."
	for k := range p.values {
		if !strings.HasPrefix(k, dotted) {
			continue
		}
		rest := k[len(dotted):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
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

// List returns the values of a flattened list prefix.1, prefix.2, ...
// Some old clients send a single unnumbered "prefix"; it is accepted too.
func (p *Params) List(prefix string) []string {
	var out []string
	for _, n := range p.indexes(prefix) {
		if v, ok := p.values[prefix+"."+strconv.Itoa(n)]; ok && len(v) > 0 {
			out = append(out, v[0])
		}
	}
	if len(out) == 0 {
		if v, ok := p.values[prefix]; ok && len(v) > 0 && v[0] != "" {
			out = append(out, v[0])
		}
	}
	return out
}

// Structs returns the members of a list of structures prefix.N.Field, each as
// Params whose names are relative to the member.
func (p *Params) Structs(prefix string) []*Params {
	var out []*Params
	for _, n := range p.indexes(prefix) {
		if s := p.Struct(prefix + "." + strconv.Itoa(n)); len(s.values) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// Struct returns the nested structure prefix.Field as Params.
func (p *Params) Struct(prefix string) *Params {
	dotted := prefix + "."
	sub := url.Values{}
	for k, v := range p.values {
		if strings.HasPrefix(k, dotted) {
			sub[k[len(dotted):]] = v
		}
	}
	return &Params{values: sub, prefix: p.prefix + dotted}
}

// Filter is one Filter.N: a name and the values any of which may match.
type Filter struct {
	Name   string
	Values []string
}

// Filters decodes Filter.N.Name / Filter.N.Value.M.
func (p *Params) Filters() ([]Filter, error) {
	var out []Filter
	for _, s := range p.Structs("Filter") {
		name := s.String("Name")
		if name == "" {
			return nil, ec2err.Missing(s.full("Name"))
		}
		out = append(out, Filter{Name: name, Values: s.List("Value")})
	}
	return out, nil
}

// Tag is a key/value pair.
type Tag struct {
	Key   string
	Value string
}

// Tags decodes prefix.N.Key / prefix.N.Value (e.g. "Tag" or "TagSpecification.1.Tag").
func (p *Params) Tags(prefix string) ([]Tag, error) {
	var out []Tag
	for _, s := range p.Structs(prefix) {
		key := s.String("Key")
		if key == "" {
			return nil, ec2err.Missing(s.full("Key"))
		}
		out = append(out, Tag{Key: key, Value: s.String("Value")})
	}
	return out, nil
}

// TagSpecification is one TagSpecification.N.
type TagSpecification struct {
	ResourceType string
	Tags         []Tag
}

// TagSpecifications decodes TagSpecification.N.ResourceType / .Tag.M.
func (p *Params) TagSpecifications() ([]TagSpecification, error) {
	var out []TagSpecification
	for _, s := range p.Structs("TagSpecification") {
		tags, err := s.Tags("Tag")
		if err != nil {
			return nil, err
		}
		rt := s.String("ResourceType")
		if rt == "" {
			return nil, ec2err.Missing(s.full("ResourceType"))
		}
		out = append(out, TagSpecification{ResourceType: rt, Tags: tags})
	}
	return out, nil
}

// TagsFor returns the tags of every specification for resourceType.
func TagsFor(specs []TagSpecification, resourceType string) []Tag {
	var out []Tag
	for _, s := range specs {
		if s.ResourceType == resourceType {
			out = append(out, s.Tags...)
		}
	}
	return out
}

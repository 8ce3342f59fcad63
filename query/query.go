// Package query decodes EC2 Query protocol parameters.
//
// EC2 flattens lists and structures into dotted names: InstanceId.1,
// Filter.1.Name, Filter.1.Value.2, TagSpecification.1.Tag.1.Key. One decoder
// serves every action, and every error it returns names the parameter, so a
// student sees exactly which argument was wrong.
package query

import (
	"cmp"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/econe/econe-server/ec2err"
)

// Limits EC2 sets on every call. A list longer than any EC2 accepts is
// refused before an action walks it.
const (
	// MaxListMembers is the longest list (InstanceId.N, ResourceId.N, ...)
	// EC2 documents: "Up to 1000 instance IDs" (TerminateInstances) and
	// "Up to 1000 resource IDs" (CreateTags, DeleteTags).
	MaxListMembers = 1000
	// MaxFilterValues is the number of Filter.N.Value.M EC2 takes in one call.
	MaxFilterValues = 200
	// MaxFilterValueLength is the longest filter value EC2 takes, in characters.
	MaxFilterValueLength = 255
)

// Params is one request's parameters (or a nested structure of them).
// The dotted names are split once into a tree, so a list or a structure
// is found without rescanning every parameter.
type Params struct {
	node   *node
	prefix string // the dotted path of this structure in the request, for messages
}

// node is one segment of the dotted names: InstanceId.1 is the child "1"
// of the child "InstanceId" of the root. Most nodes have a few children,
// found by a scan of kids (a map each cost a describe two allocations);
// one with more has an index too.
type node struct {
	values []string
	sent   bool // a parameter of exactly this name was sent
	kids   []kid
	index  map[string]*node // set once kids outgrows maxScan
}

type kid struct {
	seg  string
	node *node
}

// maxScan is the most children a node finds by scanning.
const maxScan = 8

// member is one numbered child of a list: prefix.index.
type member struct {
	index int
	seg   string
	node  *node
}

// New wraps decoded request parameters.
func New(v url.Values) *Params {
	// The nodes come from one array, as many as the names have segments
	// (an upper bound), instead of one allocation each.
	segs := 1
	for k := range v {
		segs += strings.Count(k, ".") + 1
	}
	a := &arena{nodes: make([]node, 1, segs)}
	root := &a.nodes[0]
	root.kids = make([]kid, 0, len(v))
	for k, vs := range v {
		n := root
		for {
			seg, rest, more := strings.Cut(k, ".")
			n = n.child(seg, a)
			if !more {
				break
			}
			k = rest
		}
		n.values, n.sent = vs, true
	}
	return &Params{node: root}
}

// arena hands out the nodes of one New, which sizes it for all of them
// (were an append to move it, the nodes handed out would stay valid where
// they are).
type arena struct{ nodes []node }

func (a *arena) node() *node {
	a.nodes = append(a.nodes, node{})
	return &a.nodes[len(a.nodes)-1]
}

// Parse wraps decoded request parameters and refuses a list longer than
// EC2 accepts, naming it.
func Parse(v url.Values) (*Params, error) {
	p := New(v)
	if name, n := p.node.longestList(""); n > MaxListMembers {
		return nil, ec2err.New(ec2err.InvalidRequest, "%d exceeds the maximum number of %s values that can be specified (%d). Split the request into batches of at most %d.", n, name, MaxListMembers, MaxListMembers)
	}
	return p, nil
}

// child returns the child seg, added from a if it is new.
func (n *node) child(seg string, a *arena) *node {
	if c := n.find(seg); c != nil {
		return c
	}
	c := a.node()
	n.kids = append(n.kids, kid{seg, c})
	switch {
	case n.index != nil:
		n.index[seg] = c
	case len(n.kids) > maxScan:
		n.index = make(map[string]*node, 2*len(n.kids))
		for _, k := range n.kids {
			n.index[k.seg] = k.node
		}
	}
	return c
}

// find returns the child seg, or nil.
func (n *node) find(seg string) *node {
	if n.index != nil {
		return n.index[seg]
	}
	for _, k := range n.kids {
		if k.seg == seg {
			return k.node
		}
	}
	return nil
}

// lookup finds the node of a dotted name, or nil.
func (n *node) lookup(name string) *node {
	for n != nil {
		seg, rest, more := strings.Cut(name, ".")
		n = n.find(seg)
		if !more {
			return n
		}
		name = rest
	}
	return nil
}

// members returns the numbered children, in numeric order. EC2 lists are
// 1-based, but clients may send gaps, so the order is what counts, not
// contiguity. Only the canonical spelling of a number is an index
// (InstanceId.01 is not InstanceId.1).
func (n *node) members() []member {
	var out []member
	for _, k := range n.kids {
		if i, ok := index(k.seg); ok {
			out = append(out, member{i, k.seg, k.node})
		}
	}
	slices.SortFunc(out, func(a, b member) int { return cmp.Compare(a.index, b.index) })
	return out
}

func index(seg string) (int, bool) {
	if seg == "" || seg[0] < '0' || seg[0] > '9' || (seg[0] == '0' && len(seg) > 1) {
		return 0, false
	}
	i, err := strconv.Atoi(seg)
	return i, err == nil
}

// longestList returns the dotted name (name and below) of the list with
// the most members, and how many it has; ties go to the first name in
// order, so an error names the same parameter every time.
func (n *node) longestList(name string) (string, int) {
	best, most := name, 0
	if name != "" {
		for _, k := range n.kids {
			if _, ok := index(k.seg); ok {
				most++
			}
		}
	}
	for _, k := range n.kids {
		seg, c := k.seg, k.node
		sub := seg
		if name != "" {
			sub = name + "." + seg
		}
		if cn, cm := c.longestList(sub); cm > most || (cm == most && cm > 0 && cn < best) {
			best, most = cn, cm
		}
	}
	return best, most
}

// Values returns the parameters as sent, named relative to this structure.
func (p *Params) Values() url.Values {
	out := url.Values{}
	p.node.collect("", out)
	return out
}

func (n *node) collect(path string, out url.Values) {
	for _, k := range n.kids {
		seg, c := k.seg, k.node
		if c.sent {
			out[path+seg] = c.values
		}
		c.collect(path+seg+".", out)
	}
}

func (p *Params) full(name string) string { return p.prefix + name }

// get returns the parameter's node if it was sent.
func (p *Params) get(name string) *node {
	if n := p.node.lookup(name); n != nil && n.sent {
		return n
	}
	return nil
}

// Has reports whether the parameter was sent.
func (p *Params) Has(name string) bool { return p.get(name) != nil }

// String returns the parameter's value, "" when absent.
func (p *Params) String(name string) string {
	if n := p.get(name); n != nil && len(n.values) > 0 {
		return n.values[0]
	}
	return ""
}

// Required returns the parameter's value or MissingParameter.
func (p *Params) Required(name string) (string, error) {
	v := p.String(name)
	if v == "" {
		return "", ec2err.Missing(p.full(name))
	}
	return v, nil
}

// Int returns an integer parameter, or def when absent.
func (p *Params) Int(name string, def int) (int, error) {
	v := p.String(name)
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
	v := p.String(name)
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
	v := p.String(name)
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
	v := p.String(name)
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

// List returns the values of a flattened list prefix.1, prefix.2, ...
// Some old clients send a single unnumbered "prefix"; it is accepted too.
func (p *Params) List(prefix string) []string {
	n := p.node.lookup(prefix)
	if n == nil {
		return nil
	}
	var out []string
	for _, m := range n.members() {
		if m.node.sent && len(m.node.values) > 0 {
			out = append(out, m.node.values[0])
		}
	}
	if len(out) == 0 && n.sent && len(n.values) > 0 && n.values[0] != "" {
		out = append(out, n.values[0])
	}
	return out
}

// Structs returns the members of a list of structures prefix.N.Field, each as
// Params whose names are relative to the member.
func (p *Params) Structs(prefix string) []*Params {
	n := p.node.lookup(prefix)
	if n == nil {
		return nil
	}
	var out []*Params
	for _, m := range n.members() {
		if len(m.node.kids) > 0 {
			out = append(out, &Params{node: m.node, prefix: p.prefix + prefix + "." + m.seg + "."})
		}
	}
	return out
}

// Struct returns the nested structure prefix.Field as Params.
func (p *Params) Struct(prefix string) *Params {
	n := p.node.lookup(prefix)
	if n == nil {
		n = &node{}
	}
	return &Params{node: n, prefix: p.prefix + prefix + "."}
}

// Filter is one Filter.N: a name and the values any of which may match.
type Filter struct {
	Name     string
	Values   []string
	patterns []pattern // Values, compiled once by Filters
}

// Match reports whether any of the filter's values matches any of have.
// Values may hold wildcards: * is any run, ? any one character, and a
// backslash escapes the next character.
func (f Filter) Match(have []string) bool {
	for i := range f.patterns {
		for _, v := range have {
			if f.patterns[i].match(v) {
				return true
			}
		}
	}
	return false
}

// Filters decodes Filter.N.Name / Filter.N.Value.M, within EC2's limits on
// the number and length of values.
func (p *Params) Filters() ([]Filter, error) {
	var out []Filter
	total := 0
	for _, s := range p.Structs("Filter") {
		name := s.String("Name")
		if name == "" { // EC2's words for a filter without a name
			return nil, ec2err.New(ec2err.InvalidParameterValue, "The filter 'null' is invalid")
		}
		f := Filter{Name: name, Values: s.List("Value")}
		if total += len(f.Values); total > MaxFilterValues {
			return nil, ec2err.New(ec2err.FilterLimitExceeded, "The maximum number of filter values specified on a single call is %d. %s brings this request to %d.", MaxFilterValues, s.full("Value"), total)
		}
		f.patterns = make([]pattern, len(f.Values))
		for i, v := range f.Values {
			if n := utf8.RuneCountInString(v); n > MaxFilterValueLength {
				return nil, ec2err.New(ec2err.FilterLimitExceeded, "The maximum length for a filter value is %d characters. %s has one of %d.", MaxFilterValueLength, s.full("Value"), n)
			}
			f.patterns[i] = compilePattern(v)
		}
		out = append(out, f)
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
		if rt == "" { // EC2's words
			return nil, ec2err.New(ec2err.InvalidParameterValue, "Tag specification resource type must have a value")
		}
		if len(tags) == 0 { // EC2's words; SDKs send an empty list as "TagSpecification.N.Tag="
			return nil, ec2err.New(ec2err.InvalidParameterValue, "Tag specification must have at least one tag")
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

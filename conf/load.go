package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one configuration problem. Validate and Load return these,
// joined with errors.Join; use errors.As to inspect one.
type FieldError struct {
	File string // "" when not loaded from a file
	Line int    // 0 when unknown, e.g. for a default value
	Path string // key path such as "backend.sim.boot_delay" or "elastic_ips.pool[2]"; "" for the whole file
	Msg  string
}

// Error formats the problem as "file:line: path: message", leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func joinProblems(ps []*FieldError) error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// Load reads the configuration file at path. An empty path means no file:
// the defaults, validated. A named file must exist.
func Load(path string) (*Config, error) {
	if path == "" {
		c := Default()
		if err := c.Validate(); err != nil {
			return nil, err
		}
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data)
}

// LoadBytes decodes data over the defaults and validates the result. name
// is used in error messages only. All problems, decoding and validation
// alike, are returned together, ordered by line.
func LoadBytes(name string, data []byte) (*Config, error) {
	idx, err := indexYAML(data)
	if err != nil {
		return nil, withFile(name, err)
	}
	c := defaults()
	var probs []*FieldError
	if idx.root != nil {
		// The yaml.Node pass above only gives us lines: Node.Decode has no
		// KnownFields option, so decode the bytes again, strictly.
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && err != io.EOF {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, withFile(name, err)
			}
			// Keep going: the fields that failed kept their defaults, and
			// validating the rest lets us report every problem in one go.
			for _, msg := range te.Errors {
				probs = append(probs, idx.typeError(msg))
			}
		}
	}
	if len(c.AvailabilityZones) == 0 {
		c.AvailabilityZones = defaultAZs(c.Region)
	}
	// EC2 runs where the students think they are unless told otherwise.
	if c.Backend.EC2.Region == "" {
		c.Backend.EC2.Region = c.Region
	}
	// The default pool depends on the backend; "pool: []" is kept as none.
	if !idx.isSet("elastic_ips.pool") {
		c.ElasticIPs.Pool = defaultPool(c.Backend.Name)
	}
	if !idx.isSet("elastic_ips.launch_pool") {
		c.ElasticIPs.LaunchPool = defaultLaunchPool(c.Backend.Name)
	}
	// debug_level (econe's setting) decides only if level was not written.
	if d := c.Log.DebugLevel; d != nil && !idx.isSet("log.level") && *d >= 0 && *d < len(debugLevels) {
		c.Log.Level = debugLevels[*d]
	}
	probs = append(probs, c.problems()...)
	for _, p := range probs {
		p.File = name
		if p.Line == 0 {
			p.Line = idx.lineFor(p.Path)
		}
	}
	sort.SliceStable(probs, func(i, j int) bool {
		li, lj := probs[i].Line, probs[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	return c, nil
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// withFile turns a YAML syntax (or other fatal decoding) error into a
// FieldError carrying the file name and line.
func withFile(name string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.File = name
		return fe
	}
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: name, Line: line, Msg: m[2]}
	}
	return &FieldError{File: name, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// located is a node of the document with its key path.
type located struct {
	path string
	node *yaml.Node
}

// index maps between key paths and lines of a parsed document.
type index struct {
	root  *yaml.Node
	keys  map[int][]located // mapping keys by line
	vals  map[int][]located // values by line
	lines map[string]int    // path -> line of its key (or sequence item)
	nodes map[string]*yaml.Node
}

func indexYAML(data []byte) (*index, error) {
	idx := &index{
		keys:  map[int][]located{},
		vals:  map[int][]located{},
		lines: map[string]int{},
		nodes: map[string]*yaml.Node{},
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); err {
	case nil:
	case io.EOF: // empty or comments only: all defaults
		return idx, nil
	default:
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); err {
	case io.EOF:
	case nil:
		return nil, &FieldError{Line: extra.Line, Msg: "more than one YAML document; put all settings in one"}
	default:
		return nil, err
	}
	if len(doc.Content) == 0 {
		return idx, nil
	}
	idx.root = doc.Content[0]
	idx.vals[idx.root.Line] = append(idx.vals[idx.root.Line], located{"", idx.root})
	idx.walk(idx.root, "")
	return idx, nil
}

func (idx *index) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if _, dup := idx.lines[p]; !dup {
				idx.lines[p] = k.Line
				idx.nodes[p] = v
			}
			idx.keys[k.Line] = append(idx.keys[k.Line], located{p, k})
			idx.vals[v.Line] = append(idx.vals[v.Line], located{p, v})
			idx.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, it := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			idx.lines[p] = it.Line
			idx.nodes[p] = it
			idx.vals[it.Line] = append(idx.vals[it.Line], located{p, it})
			idx.walk(it, p)
		}
	}
	// Aliases are not followed: errors inside them are reported at the
	// anchor, which the walk has already seen.
}

// isSet reports whether the document gives path a non-null value.
func (idx *index) isSet(path string) bool {
	n := idx.nodes[path]
	return n != nil && n.ShortTag() != "!!null"
}

// lineFor is the line of path or, failing that, of its nearest ancestor
// present in the file (a missing tls.key is reported at tls).
func (idx *index) lineFor(path string) int {
	for path != "" {
		if l, ok := idx.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath drops the last ".key" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// pick returns the deepest candidate satisfying ok: on one line a mapping
// value starts together with its first child, and the child is the more
// specific answer.
func pick(cands []located, ok func(*yaml.Node) bool) (located, bool) {
	var best located
	found := false
	for _, c := range cands {
		if ok(c.node) && (!found || len(c.path) > len(best.path)) {
			best, found = c, true
		}
	}
	return best, found
}

var (
	typeErrLineRe = regexp.MustCompile(`^line (\d+): (.*)$`)
	notFoundRe    = regexp.MustCompile(`^field (.+) not found in type \S+$`)
	dupKeyRe      = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	cannotRe      = regexp.MustCompile("(?s)^cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
)

// typeError rewrites one message of a *yaml.TypeError, which knows only
// the line, into a FieldError with the key path and a friendlier text.
func (idx *index) typeError(msg string) *FieldError {
	m := typeErrLineRe.FindStringSubmatch(msg)
	if m == nil {
		return &FieldError{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	fe := &FieldError{Line: line, Msg: rest}

	if m := notFoundRe.FindStringSubmatch(rest); m != nil {
		name := m[1]
		if l, ok := pick(idx.keys[line], func(n *yaml.Node) bool { return n.Value == name }); ok {
			fe.Path = l.path
		}
		fe.Msg = unknownKeyMsg(parentPath(fe.Path), name)
		return fe
	}
	if m := dupKeyRe.FindStringSubmatch(rest); m != nil {
		name, _ := strconv.Unquote(m[1])
		if l, ok := pick(idx.keys[line], func(n *yaml.Node) bool { return n.Value == name }); ok {
			fe.Path = l.path
		}
		fe.Msg = "duplicate key (first set at line " + m[2] + ")"
		return fe
	}
	if m := cannotRe.FindStringSubmatch(rest); m != nil {
		tag, short, into := m[1], strings.TrimSuffix(m[2], "..."), m[3]
		l, ok := pick(idx.vals[line], func(n *yaml.Node) bool {
			return n.ShortTag() == tag && strings.HasPrefix(n.Value, short)
		})
		got := tag + " " + m[2]
		if ok {
			fe.Path = l.path
			got = describe(l.node)
		}
		fe.Msg = "expected " + friendlyType(into) + ", got " + got
		return fe
	}
	if v, ok := strings.CutPrefix(rest, "invalid duration "); ok {
		q, err := strconv.QuotedPrefix(v)
		if err == nil {
			val, _ := strconv.Unquote(q)
			if l, ok := pick(idx.vals[line], func(n *yaml.Node) bool {
				return n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == val
			}); ok {
				fe.Path = l.path
			}
		}
	}
	return fe
}

// describe names what the document holds at n, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return "string " + strconv.Quote(n.Value)
	case "!!int":
		return "integer " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	case "!!null":
		return "null"
	}
	return n.ShortTag() + " " + strconv.Quote(n.Value)
}

func friendlyType(goType string) string {
	switch goType {
	case "int", "int64", "*int":
		return "an integer"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "[]string":
		return "a list of strings"
	case "conf.Duration":
		return `a duration such as "30s" or integer seconds`
	case "quota.Money":
		return "an amount such as 12.50 (at most 6 decimals)"
	}
	if strings.HasPrefix(goType, "map[") || strings.HasPrefix(goType, "conf.") {
		return "a mapping"
	}
	return goType
}

// unknownKeyMsg suggests the intended key for a misspelt one, or lists the
// valid keys at parent.
func unknownKeyMsg(parent, name string) string {
	msg := fmt.Sprintf("unknown key %q", name)
	valid := yamlKeys(typeAt(parent))
	if len(valid) == 0 {
		return msg
	}
	if s := closest(name, valid); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + " (valid keys: " + strings.Join(valid, ", ") + ")"
}

// typeAt is the Go type configured by the key path, or nil.
func typeAt(path string) reflect.Type {
	t := reflect.TypeOf(Config{})
	if path == "" {
		return t
	}
	for _, seg := range strings.Split(path, ".") {
		name, _, _ := strings.Cut(seg, "[")
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, name)
			if !ok {
				return nil
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
		for range strings.Count(seg, "[") {
			if t.Kind() != reflect.Slice {
				return nil
			}
			t = t.Elem()
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	return t
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// isInline reports a field whose keys sit in its parent's mapping (the
// quota limits in groups.NAME and quota).
func isInline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return opts == "inline"
}

// yamlFields lists the keyed fields of a struct type in declaration order,
// those of inline fields in their place.
func yamlFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case !f.IsExported() || yamlName(f) == "-":
		case isInline(f):
			out = append(out, yamlFields(f.Type)...)
		default:
			out = append(out, f)
		}
	}
	return out
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for _, f := range yamlFields(t) {
		if yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlKeys lists the keys a struct type accepts, in declaration order.
func yamlKeys(t reflect.Type) []string {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for _, f := range yamlFields(t) {
		keys = append(keys, yamlName(f))
	}
	return keys
}

// closest returns the candidate name most likely meant, or "": same
// letters ignoring case and separators ("bootDelay", "boot-delay"), else
// within edit distance 2.
func closest(name string, cands []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	for _, c := range cands {
		if norm(c) == norm(name) {
			return c
		}
	}
	best, bestD := "", 3
	for _, c := range cands {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

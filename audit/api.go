package audit

import (
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/econe/econe-server/ec2err"
)

// readOnlyVerbs start the names of the actions that change nothing; every
// other action is audited. TestMutatingClassifiesEveryAction lists each
// action of the table with its class, so a new one is classified on
// purpose.
var readOnlyVerbs = []string{"Describe", "Get", "List"}

// Mutating reports whether an EC2 action can change something.
func Mutating(action string) bool {
	for _, v := range readOnlyVerbs {
		if strings.HasPrefix(action, v) {
			return false
		}
	}
	return true
}

// namedParams name a resource without ending in Id (key pairs and groups
// by name, EC2-Classic addresses).
var namedParams = map[string]bool{"KeyName": true, "GroupName": true, "PublicIp": true}

// authParams carry the signature (SigV2 and presigned requests): never
// resources, and the signature itself stays out of the log.
var authParams = []string{"AWSAccessKeyId", "X-Amz-", "Signature"}

// RequestResources are the resource ids a request names: every parameter
// whose last name part ends in Id or Ids (InstanceId.1, ResourceId.2,
// IpPermissions.1.Groups.1.GroupId, ...) and the few in namedParams.
// Filters, tags and every other value (UserData, key material) are left
// out.
func RequestResources(params url.Values) []string {
	var out []string
	for name, vals := range params {
		if isResourceParam(name) {
			out = append(out, vals...)
		}
	}
	return unique(out)
}

func isResourceParam(name string) bool {
	for _, p := range authParams {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	parts := strings.Split(name, ".")
	if parts[0] == "Filter" {
		return false
	}
	last := ""
	for _, p := range parts {
		if p != "" && (p[0] < '0' || p[0] > '9') {
			last = p
		}
	}
	return strings.HasSuffix(last, "Id") || strings.HasSuffix(last, "Ids") || namedParams[last]
}

// responseIDTags are the response elements that hold the ids of what a
// call created or touched (RunInstances' instanceId, AllocateAddress'
// allocationId, ...). Only these are read: a response also carries
// secrets such as CreateKeyPair's keyMaterial.
var responseIDTags = map[string]bool{
	"instanceId": true, "volumeId": true, "snapshotId": true, "allocationId": true,
	"associationId": true, "groupId": true, "keyPairId": true, "publicIp": true,
	"launchTemplateId": true, "networkInterfaceId": true, "attachmentId": true,
}

// ResponseResources are the ids in resp's responseIDTags elements.
func ResponseResources(resp any) []string {
	var out []string
	collect(reflect.ValueOf(resp), &out)
	return out
}

func collect(v reflect.Value, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collect(v.Elem(), out)
		}
	case reflect.Slice, reflect.Array:
		if t := v.Type().Elem(); t.Kind() == reflect.Struct && len(structPlan(t)) == 0 || t.Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			collect(v.Index(i), out)
		}
	case reflect.Struct:
		for _, f := range structPlan(v.Type()) {
			fv := v.Field(f.index)
			if !f.id {
				collect(fv, out)
			} else if fv.Len() > 0 {
				*out = append(*out, fv.String())
			}
		}
	}
}

// idField is a field of a struct worth visiting: an id element, or a
// value that may hold some.
type idField struct {
	index int
	id    bool
}

// plans caches each struct type's idFields: a response is walked once per
// request, and most of its fields (times, states, names) never hold ids.
var plans sync.Map // reflect.Type -> []idField

func structPlan(t reflect.Type) []idField {
	if p, ok := plans.Load(t); ok {
		return p.([]idField)
	}
	return plan(t, map[reflect.Type]bool{})
}

// plan makes and caches t's idFields; planning holds the struct types
// being planned further up (a recursive type).
func plan(t reflect.Type, planning map[reflect.Type]bool) []idField {
	planning[t] = true
	defer delete(planning, t)
	p := []idField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous { // embedded response parts are unexported types
			continue
		}
		if f.Type.Kind() == reflect.String {
			if responseIDTags[xmlName(f.Tag.Get("xml"))] {
				p = append(p, idField{index: i, id: true})
			}
			continue
		}
		if mayHoldIDs(f.Type, planning) {
			p = append(p, idField{index: i})
		}
	}
	plans.Store(t, p)
	return p
}

// mayHoldIDs reports whether a value of type t can hold an id element. A
// struct being planned further up counts as one that may: a plan visits
// at worst a field too many, never one too few.
func mayHoldIDs(t reflect.Type, planning map[reflect.Type]bool) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return t.Elem().Kind() != reflect.Uint8 && mayHoldIDs(t.Elem(), planning)
	case reflect.Struct:
		if p, ok := plans.Load(t); ok {
			return len(p.([]idField)) > 0
		}
		return planning[t] || len(plan(t, planning)) > 0
	}
	return false
}

// xmlName is the element an xml tag ends in: "instancesSet>item>instanceId,omitempty" -> instanceId.
func xmlName(tag string) string {
	tag, _, _ = strings.Cut(tag, ",")
	return tag[strings.LastIndex(tag, ">")+1:]
}

func unique(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	out := ids[:1]
	for _, id := range ids[1:] {
		if id != out[len(out)-1] && id != "" {
			out = append(out, id)
		}
	}
	if out[0] == "" {
		out = out[1:]
	}
	return out
}

// Call is one audited API request between its two entries.
type Call struct {
	l       *Log
	entry   Entry
	written *batch // the write that carries the request entry
}

// Begin records an API request before it runs, if its action is
// mutating; a nil Call (and no error) means there is nothing to record.
// An error means the request must be refused: it could not be recorded.
func (l *Log) Begin(requestID, user, accessKeyID, source, action string, params url.Values) (*Call, error) {
	c, err := l.Start(requestID, user, accessKeyID, source, action, params)
	if err == nil {
		err = c.Wait()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Start queues the request entry of a mutating action and returns at
// once, so that the request's own work overlaps the write. The caller
// must not let anything of the request take effect before Wait returns
// nil: its store updates go through store.After(st, call.Wait), and it
// answers only after Wait. A nil Call means there is nothing to record.
func (l *Log) Start(requestID, user, accessKeyID, source, action string, params url.Values) (*Call, error) {
	if l == nil || !Mutating(action) {
		return nil, nil
	}
	c := &Call{l: l, entry: Entry{Phase: PhaseRequest, RequestID: requestID, User: user, AccessKeyID: accessKeyID,
		Source: source, Action: action, Resources: RequestResources(params)}}
	b, err := l.queue(&c.entry, false)
	if err != nil {
		return nil, refused(err)
	}
	c.written = b
	return c, nil
}

// Wait returns once the request entry is on disk, or the error that
// refuses the request (auditing failed: nothing may change). It may be
// called any number of times, from any goroutine; a nil Call returns nil.
func (c *Call) Wait() error {
	if c == nil {
		return nil
	}
	<-c.written.done
	if c.written.err != nil {
		return refused(c.written.err)
	}
	return nil
}

// refused is the answer to a request whose entry could not be written.
func refused(err error) error {
	return &ec2err.Error{Code: ec2err.InternalError, Detail: err.Error(),
		Message: "The request was refused because auditing failed: the audit log could not record it. Nothing was changed; tell the course administrator."}
}

// End records the outcome: the result code and the ids in the response.
// The change is already made and durable, so the entry is queued, not
// waited for (the next fsync takes it along), and a failure is only
// logged, loudly.
func (c *Call) End(resp any, err error) {
	if c == nil {
		return
	}
	e := c.entry
	e.Time, e.Phase, e.Result, e.Resources = time.Time{}, PhaseResult, Success, nil
	if err != nil {
		e.Result = ec2err.As(err).Code
	} else {
		e.Resources = unique(ResponseResources(resp))
	}
	c.l.Enqueue(&e)
}

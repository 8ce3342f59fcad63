// Package quota holds what a student may use: the limits (per group in the
// config, overridden per group or per student from the CLI), their
// resolution into one effective set, and the pure check that turns a
// request's demand into the EC2 error a student sees. It reads nothing
// itself: callers pass the limits and the usage counters in, so the check
// runs inside the caller's transaction with the change it allows.
package quota

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Limits is one layer of limits: the defaults, a group's, or a student's
// override. A nil field is unset (the layer below decides); a set field,
// even 0 or an empty list, is a decision. The yaml keys are the config's
// (groups.NAME.max_instances) and, with '-' for '_', the CLI's flags.
type Limits struct {
	// MaxInstances counts instances not terminated (stopped ones only with
	// quota.count_stopped_instances).
	MaxInstances      *int `yaml:"max_instances" json:"max_instances,omitzero"`
	MaxVCPUs          *int `yaml:"max_vcpus" json:"max_vcpus,omitzero"`
	MaxAddresses      *int `yaml:"max_addresses" json:"max_addresses,omitzero"`
	MaxKeyPairs       *int `yaml:"max_key_pairs" json:"max_key_pairs,omitzero"`
	MaxSecurityGroups *int `yaml:"max_security_groups" json:"max_security_groups,omitzero"`
	MaxVolumes        *int `yaml:"max_volumes" json:"max_volumes,omitzero"`
	MaxVolumeGiB      *int `yaml:"max_volume_gib" json:"max_volume_gib,omitzero"`
	MaxSnapshots      *int `yaml:"max_snapshots" json:"max_snapshots,omitzero"`
	// MaxVPCs counts the student's VPCs, their default one included.
	MaxVPCs *int `yaml:"max_vpcs" json:"max_vpcs,omitzero"`
	// MaxPrefixLists counts the student's customer-managed prefix lists.
	MaxPrefixLists *int `yaml:"max_prefix_lists" json:"max_prefix_lists,omitzero"`
	// MaxNetworkInterfaces counts the network interfaces the student
	// created, not their instances' primary ones.
	MaxNetworkInterfaces *int `yaml:"max_network_interfaces" json:"max_network_interfaces,omitzero"`
	// InstanceTypes and Images are the allowed ones; an empty (set) list
	// allows all, which lets an override lift a group's restriction.
	InstanceTypes []string `yaml:"instance_types" json:"instance_types,omitzero"`
	Images        []string `yaml:"images" json:"images,omitzero"`
	// Budget is what the student may spend; once spent, launches and
	// starts are refused.
	Budget *Money `yaml:"budget" json:"budget,omitzero"`
	// MaxRunningHours is how long an instance may run before the
	// guardrails stop it.
	MaxRunningHours *int `yaml:"max_running_hours" json:"max_running_hours,omitzero"`
}

// Int returns a pointer to n, for limits written in Go.
func Int(n int) *int { return &n }

// fields are Limits' fields with their keys, in declaration order.
var fields = func() []fieldInfo {
	t := reflect.TypeOf(Limits{})
	out := make([]fieldInfo, t.NumField())
	for i := range out {
		f := t.Field(i)
		out[i] = fieldInfo{key: f.Tag.Get("yaml"), index: i, typ: f.Type}
	}
	return out
}()

type fieldInfo struct {
	key   string
	index int
	typ   reflect.Type
}

var (
	intPtr   = reflect.TypeOf((*int)(nil))
	moneyPtr = reflect.TypeOf((*Money)(nil))
	strList  = reflect.TypeOf([]string(nil))
)

// Keys lists every limit's key (max_instances, ...) in a fixed order.
func Keys() []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

func lookup(key string) (fieldInfo, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return fieldInfo{}, false
}

// Flag is the CLI flag of a key: max_instances -> max-instances.
func Flag(key string) string { return strings.ReplaceAll(key, "_", "-") }

func (l *Limits) value(f fieldInfo) reflect.Value { return reflect.ValueOf(l).Elem().Field(f.index) }

// IsSet reports whether the layer sets key.
func (l *Limits) IsSet(key string) bool {
	f, ok := lookup(key)
	return ok && !l.value(f).IsNil()
}

// Empty reports whether the layer sets nothing.
func (l *Limits) Empty() bool {
	for _, f := range fields {
		if !l.value(f).IsNil() {
			return false
		}
	}
	return true
}

// Merge sets in l every key that over sets.
func (l *Limits) Merge(over Limits) {
	for _, f := range fields {
		if v := over.value(f); !v.IsNil() {
			l.value(f).Set(v)
		}
	}
}

// Unset clears the given keys; an unknown key is an error naming it.
func (l *Limits) Unset(keys ...string) error {
	for _, k := range keys {
		f, ok := lookup(k)
		if !ok {
			return fmt.Errorf("unknown limit %q (known: %s)", k, strings.Join(Keys(), ", "))
		}
		l.value(f).SetZero()
	}
	return nil
}

// Parse sets key from its command-line form: an integer, a comma-separated
// list ("" for the empty list, which allows everything), or an amount
// such as 12.50. The value is validated as in the config.
func (l *Limits) Parse(key, text string) error {
	f, ok := lookup(key)
	if !ok {
		return fmt.Errorf("unknown limit %q (known: %s)", key, strings.Join(Keys(), ", "))
	}
	var v any
	switch f.typ {
	case intPtr:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", text)
		}
		v = &n
	case moneyPtr:
		m, err := ParseMoney(text)
		if err != nil {
			return err
		}
		v = &m
	case strList:
		list := []string{}
		for _, s := range strings.Split(text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		v = list
	}
	var one Limits
	one.value(f).Set(reflect.ValueOf(v))
	if ps := one.Problems(); len(ps) > 0 {
		return fmt.Errorf("%s", ps[0].Msg)
	}
	l.value(f).Set(reflect.ValueOf(v))
	return nil
}

// Format is key's value for people: "unlimited" (or "any" for a list)
// when unset or empty.
func (l *Limits) Format(key string) string {
	f, ok := lookup(key)
	if !ok {
		return ""
	}
	v := l.value(f)
	switch {
	case f.typ == strList:
		if v.Len() == 0 {
			return "any"
		}
		return strings.Join(v.Interface().([]string), ",")
	case v.IsNil():
		return "unlimited"
	case f.typ == moneyPtr:
		return v.Interface().(*Money).String()
	}
	return strconv.Itoa(int(v.Elem().Int()))
}

// Problem is one invalid limit, by key.
type Problem struct {
	Key string
	Msg string
}

// Problems lists every invalid value of the layer: negative counts or
// amounts, running hours below 1, blank or repeated list entries.
func (l *Limits) Problems() []Problem {
	var ps []Problem
	for _, f := range fields {
		v := l.value(f)
		if v.IsNil() {
			continue
		}
		switch f.typ {
		case intPtr:
			n := v.Elem().Int()
			if f.key == "max_running_hours" && n < 1 {
				ps = append(ps, Problem{f.key, fmt.Sprintf("must be at least 1 (hours), got %d", n)})
			} else if n < 0 {
				ps = append(ps, Problem{f.key, fmt.Sprintf("must be >= 0, got %d", n)})
			}
		case moneyPtr:
			if m := *v.Interface().(*Money); m < 0 {
				ps = append(ps, Problem{f.key, fmt.Sprintf("must be >= 0, got %s", m)})
			}
		case strList:
			seen := map[string]bool{}
			for i, s := range v.Interface().([]string) {
				switch {
				case strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t,"):
					ps = append(ps, Problem{fmt.Sprintf("%s[%d]", f.key, i), fmt.Sprintf("%q is not a name: no blanks or commas", s)})
				case seen[s]:
					ps = append(ps, Problem{fmt.Sprintf("%s[%d]", f.key, i), fmt.Sprintf("%q is listed twice", s)})
				}
				seen[s] = true
			}
		}
	}
	return ps
}

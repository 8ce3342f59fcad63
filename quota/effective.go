package quota

import "reflect"

// Builtin is what a student in no group may use unless the config's quota:
// section says otherwise: the defaults of a new AWS account, so that
// scripts written against EC2 meet the same walls here.
//
//   - 20 running On-Demand instances, the per-account instance limit before
//     vCPU-based limits (DescribeAccountAttributes max-instances; the
//     awslimitchecker table "Running On-Demand EC2 instances: 20").
//   - 32 vCPUs, the "Running On-Demand Standard instances" vCPU limit given
//     to new accounts when EC2 moved to vCPU limits (2019).
//   - 5 elastic IP addresses per Region.
//   - 5,000 key pairs per Region (CreateKeyPair: "You can have up to 5,000
//     key pairs per Amazon Web Services Region").
//   - 2,500 VPC security groups per Region.
//   - 5,000 EBS volumes, 102,400 GiB (100 TiB) of General Purpose SSD
//     storage and 10,000 snapshots (awslimitchecker's EBS defaults: active
//     volumes, gp2 storage, active snapshots).
//   - 5 VPCs per Region, the default VPC included.
//   - 100 customer-managed prefix lists per Region.
//
// One limit is not EC2's: 20 network interfaces, where EC2 allows 5,000
// per Region. An interface holds an address of its subnet, and in the
// default VPC the students share one range, which one student could
// otherwise exhaust; 20 is one interface per instance a student may run.
//
// Every type and image is allowed, and there is no budget and no
// running-hours limit until a group or the admin sets one.
func Builtin() Limits {
	return Limits{
		MaxInstances:      Int(20),
		MaxVCPUs:          Int(32),
		MaxAddresses:      Int(5),
		MaxKeyPairs:       Int(5000),
		MaxSecurityGroups: Int(2500),
		MaxVolumes:        Int(5000),
		MaxVolumeGiB:      Int(102400),
		MaxSnapshots:      Int(10000),
		MaxVPCs:           Int(5),
		MaxPrefixLists:    Int(100),
		InstanceTypes:     []string{},
		Images:            []string{},
		// Not EC2's 5,000: see above.
		MaxNetworkInterfaces: Int(20),
	}
}

// Source says which layer decided a limit.
type Source string

const (
	// SourceDefault is the config's quota: section (Builtin unless changed).
	SourceDefault Source = "default"
	// SourceGroupConfig is the student's group in the config (groups.NAME).
	SourceGroupConfig Source = "group config"
	// SourceGroup is an override of the group set with `quota set --group`.
	SourceGroup Source = "group override"
	// SourceUser is the student's own override (`quota set NAME`).
	SourceUser Source = "user override"
)

// Resolved is a student's effective limits and, per key, who set each.
type Resolved struct {
	Limits  Limits            `json:"limits"`
	Sources map[string]Source `json:"sources"`
}

// Effective resolves the layers, lowest first: each set key of a higher
// layer wins. Keys no layer sets stay unset (unlimited) with the default
// as their source.
func Effective(defaults, groupConfig, groupOverride, user Limits) Resolved {
	r := Resolved{Sources: make(map[string]Source, len(fields))}
	r.Limits = resolve(&defaults, &groupConfig, &groupOverride, &user, r.Sources)
	return r
}

// EffectiveLimits is Effective's limits without their sources: a launch
// checks them inside the store's one committer, and a map of every key's
// source is work for nothing there.
func EffectiveLimits(defaults, groupConfig, groupOverride, user Limits) Limits {
	return resolve(&defaults, &groupConfig, &groupOverride, &user, nil)
}

// layerSources are resolve's layers' sources, highest first.
var layerSources = [...]Source{SourceUser, SourceGroup, SourceGroupConfig, SourceDefault}

// resolve is Effective: each key from its highest layer that sets it,
// and its source in sources unless that is nil.
func resolve(defaults, groupConfig, groupOverride, user *Limits, sources map[string]Source) Limits {
	var out Limits
	o := reflect.ValueOf(&out).Elem()
	layers := [...]reflect.Value{
		reflect.ValueOf(user).Elem(), reflect.ValueOf(groupOverride).Elem(),
		reflect.ValueOf(groupConfig).Elem(), reflect.ValueOf(defaults).Elem(),
	}
	for _, f := range fields {
		src := SourceDefault
		for i, l := range layers {
			if v := l.Field(f.index); !v.IsNil() {
				o.Field(f.index).Set(v)
				src = layerSources[i]
				break
			}
		}
		if sources != nil {
			sources[f.key] = src
		}
	}
	return out
}

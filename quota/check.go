package quota

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
)

// Usage is what a student holds, as the store's usage counters record it
// (store.Counters has the same fields), plus what they have spent.
type Usage struct {
	// Instances counts instances by EC2 state name; terminated ones are
	// not counted.
	Instances map[string]int `json:"instances"`
	// VCPUs of the instances that count toward max_vcpus.
	VCPUs          int `json:"vcpus"`
	Addresses      int `json:"addresses"`
	Volumes        int `json:"volumes"`
	VolumeGiB      int `json:"volume_gib"`
	Snapshots      int `json:"snapshots"`
	KeyPairs       int `json:"key_pairs"`
	SecurityGroups int `json:"security_groups"`
	VPCs           int `json:"vpcs"`
	PrefixLists    int `json:"prefix_lists"`
	// NetworkInterfaces are the ones the student created (an instance's
	// own primary interface is not counted).
	NetworkInterfaces int `json:"network_interfaces"`
	// Spent is the cost so far, from the usage ledger.
	Spent Money `json:"spent"`
	// CountStopped is the config's quota.count_stopped_instances: stopped
	// (and stopping) instances count toward max_instances.
	CountStopped bool `json:"count_stopped"`
}

// Used is what u holds against the limit key, for people ("" for limits
// that are not amounts: the allowed lists and max_running_hours).
func (u Usage) Used(key string) string {
	n, ok := map[string]int{
		"max_instances": u.CountedInstances(), "max_vcpus": u.VCPUs, "max_addresses": u.Addresses,
		"max_key_pairs": u.KeyPairs, "max_security_groups": u.SecurityGroups, "max_volumes": u.Volumes,
		"max_volume_gib": u.VolumeGiB, "max_snapshots": u.Snapshots, "max_vpcs": u.VPCs,
		"max_prefix_lists": u.PrefixLists, "max_network_interfaces": u.NetworkInterfaces,
	}[key]
	switch {
	case ok:
		return strconv.Itoa(n)
	case key == "budget":
		return u.Spent.String()
	}
	return ""
}

// CountedInstances is the number of instances that count toward
// max_instances. Shutting-down instances are on their way out and never
// count, so terminating one makes room at once.
func (u Usage) CountedInstances() int {
	n := 0
	for state, c := range u.Instances {
		switch state {
		case "terminated", "shutting-down":
		case "stopped", "stopping":
			if u.CountStopped {
				n += c
			}
		default:
			n += c
		}
	}
	return n
}

// Delta is what one request adds: new or restarted instances with their
// vCPUs (and the type and image they use, when launching), or other
// resources. Zero fields are not checked, so a student above a lowered
// limit can still release and delete.
type Delta struct {
	Instances                                                          int
	VCPUs                                                              int
	InstanceType                                                       string // checked against instance_types when not ""
	ImageID                                                            string // checked against images when not ""
	Addresses, Volumes, VolumeGiB, Snapshots, KeyPairs, SecurityGroups int
	VPCs                                                               int
	PrefixLists                                                        int
	NetworkInterfaces                                                  int
}

// Check returns the EC2 error a student gets when d does not fit in l
// given u, or nil. Messages name the course limit (its config key) so a
// student knows what to free or whom to ask.
func Check(l Limits, u Usage, d Delta) error {
	if d.InstanceType != "" && !l.AllowsType(d.InstanceType) {
		return ec2err.BadValue("InstanceType", d.InstanceType, "Your course does not allow this instance type (instance_types); you may use: "+strings.Join(l.InstanceTypes, ", ")+".")
	}
	if d.ImageID != "" && !l.AllowsImage(d.ImageID) {
		return ec2err.BadValue("ImageId", d.ImageID, "Your course does not allow this image (images); you may use: "+strings.Join(l.Images, ", ")+".")
	}
	if d.Instances > 0 && l.Budget != nil && u.Spent >= *l.Budget {
		return ec2err.New(ec2err.ResourceLimitExceeded,
			"Your course budget of %s is spent (%s used), so no instance may be launched or started. Your running instances are not affected; ask your instructor to raise the budget.",
			*l.Budget, u.Spent)
	}
	if d.Instances > 0 && l.MaxInstances != nil {
		if held := u.CountedInstances(); held+d.Instances > *l.MaxInstances {
			return ec2err.New(ec2err.InstanceLimitExceeded,
				"You have requested more instances (%d) than your current instance limit of %d allows for the specified instance type. Your course limit max_instances is %d and %s; stop or terminate one first, or ask your instructor.",
				d.Instances, *l.MaxInstances, *l.MaxInstances, plural(held, "instance counts", "instances count")+" toward it")
		}
	}
	if d.VCPUs > 0 && l.MaxVCPUs != nil && u.VCPUs+d.VCPUs > *l.MaxVCPUs {
		return ec2err.New(ec2err.VcpuLimitExceeded,
			"You have requested more vCPU capacity (%d) than your current vCPU limit of %d allows. Your course limit max_vcpus is %d and your instances use %d; stop or terminate one, choose a smaller instance type, or ask your instructor.",
			d.VCPUs, *l.MaxVCPUs, *l.MaxVCPUs, u.VCPUs)
	}
	for _, r := range []struct {
		want, held int
		limit      *int
		code, key  string
		what       string
	}{
		{d.Addresses, u.Addresses, l.MaxAddresses, ec2err.AddressLimitExceeded, "max_addresses", "elastic IP addresses"},
		{d.Volumes, u.Volumes, l.MaxVolumes, ec2err.VolumeLimitExceeded, "max_volumes", "volumes"},
		{d.VolumeGiB, u.VolumeGiB, l.MaxVolumeGiB, ec2err.VolumeLimitExceeded, "max_volume_gib", "GiB of volume storage"},
		{d.Snapshots, u.Snapshots, l.MaxSnapshots, ec2err.ResourceLimitExceeded, "max_snapshots", "snapshots"},
		{d.KeyPairs, u.KeyPairs, l.MaxKeyPairs, ec2err.ResourceLimitExceeded, "max_key_pairs", "key pairs"},
		{d.SecurityGroups, u.SecurityGroups, l.MaxSecurityGroups, ec2err.SecurityGroupLimitExceeded, "max_security_groups", "security groups"},
		{d.VPCs, u.VPCs, l.MaxVPCs, ec2err.VpcLimitExceeded, "max_vpcs", "VPCs"},
		{d.PrefixLists, u.PrefixLists, l.MaxPrefixLists, ec2err.ResourceLimitExceeded, "max_prefix_lists", "managed prefix lists"},
		{d.NetworkInterfaces, u.NetworkInterfaces, l.MaxNetworkInterfaces, ec2err.NetworkInterfaceLimitExceeded, "max_network_interfaces", "network interfaces"},
	} {
		if r.want > 0 && r.limit != nil && r.held+r.want > *r.limit {
			return ec2err.New(r.code,
				"The maximum number of %s has been reached: your course limit %s is %d, you have %d and asked for %d more. Delete or release some first, or ask your instructor.",
				r.what, r.key, *r.limit, r.held, r.want)
		}
	}
	return nil
}

// AllowsType reports whether instance type name may be launched.
func (l Limits) AllowsType(name string) bool {
	return len(l.InstanceTypes) == 0 || slices.Contains(l.InstanceTypes, name)
}

// AllowsImage reports whether image id may be launched.
func (l Limits) AllowsImage(id string) bool {
	return len(l.Images) == 0 || slices.Contains(l.Images, id)
}

// Fit is how many instances of a launch asking for minCount..maxCount fit,
// each adding one (the Instances of each are ignored). It is as many as fit
// up to maxCount; if fewer than minCount fit, it is 0 and the error Check
// gives for minCount of them.
func Fit(l Limits, u Usage, each Delta, minCount, maxCount int) (int, error) {
	each.Instances = 1
	if err := Check(l, u, times(each, minCount)); err != nil {
		return 0, err
	}
	n := maxCount
	if l.MaxInstances != nil {
		n = min(n, *l.MaxInstances-u.CountedInstances())
	}
	if l.MaxVCPUs != nil && each.VCPUs > 0 {
		n = min(n, (*l.MaxVCPUs-u.VCPUs)/each.VCPUs)
	}
	for _, r := range []struct {
		each, held int
		limit      *int
	}{
		{each.Volumes, u.Volumes, l.MaxVolumes},
		{each.VolumeGiB, u.VolumeGiB, l.MaxVolumeGiB},
	} {
		if r.limit != nil && r.each > 0 {
			n = min(n, (*r.limit-r.held)/r.each)
		}
	}
	return n, nil // at least minCount: Check let minCount of them through
}

// times is d for n instances.
func times(d Delta, n int) Delta {
	d.Instances *= n
	d.VCPUs *= n
	d.Addresses *= n
	d.Volumes *= n
	d.VolumeGiB *= n
	d.Snapshots *= n
	d.KeyPairs *= n
	d.SecurityGroups *= n
	d.VPCs *= n
	d.PrefixLists *= n
	d.NetworkInterfaces *= n
	return d
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

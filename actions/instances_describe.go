package actions

import (
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// The instance describes: DescribeInstances, DescribeInstanceStatus and
// GetConsoleOutput.

func (s *Service) describeInstances(r *Request) (any, error) {
	ids, err := instanceIDs(r.Params)
	if err != nil {
		return nil, err
	}
	filters, err := describeChecks(r, s.instanceAttrs(r, &store.Instance{}, nil), ids, "The parameter instancesSet cannot be used with the parameter maxResults")
	if err != nil {
		return nil, err
	}
	insts, tags, err := s.describedInstances(r, ids)
	if err != nil {
		return nil, err
	}
	if len(filters) > 0 {
		matched := insts[:0]
		for _, inst := range insts {
			if matchFilters(filters, s.instanceAttrs(r, inst, tags[inst.ID])) {
				matched = append(matched, inst)
			}
		}
		insts = matched
	}
	page, err := paginate(len(insts), func(i int) string { return insts[i].ID }, r.Params, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &describeInstancesResponse{
		NextToken:    page.NextToken,
		Reservations: s.reservations(r, insts[page.Start:page.End], tags),
	}, nil
}

// instanceAttrs answers DescribeInstances filters for one instance.
func (s *Service) instanceAttrs(r *Request, inst *store.Instance, tags []store.Tag) Attrs {
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-id":
			return one(inst.ID)
		case "instance-state-name":
			return one(inst.State)
		case "instance-state-code":
			return one(strconv.Itoa(backend.State(inst.State).Code()))
		case "instance-type":
			return one(inst.InstanceType)
		case "image-id":
			return one(inst.ImageID)
		case "key-name":
			return one(inst.KeyName)
		case "availability-zone":
			return one(inst.Zone)
		case "private-ip-address":
			return one(inst.PrivateIP)
		case "ip-address":
			return one(publicIP(inst))
		case "dns-name":
			return one(publicName(inst))
		case "private-dns-name":
			return one(inst.PrivateDNSName)
		case "reservation-id":
			return one(inst.ReservationID)
		case "launch-time":
			return one(ec2Second(inst.LaunchTime))
		case "owner-id":
			return one(r.User.AccountID)
		case "client-token":
			return one(inst.ClientToken)
		case "ami-launch-index":
			return one(strconv.Itoa(inst.LaunchIndex))
		case "root-device-name":
			return one(inst.RootDeviceName)
		case "state-reason-code":
			return one(inst.StateReason)
		case "architecture", "root-device-type", "platform":
			img, _ := s.catalog().Image(baseImageOf(inst))
			return one(map[string]string{"architecture": img.Architecture, "root-device-type": img.RootDeviceType, "platform": img.Platform}[name])
		case "tenancy":
			return one("default")
		case "hypervisor":
			return one("xen")
		case "virtualization-type":
			return one("hvm")
		case "instance.group-name", "group-name":
			return groupValues(inst.Groups, func(g store.GroupRef) string { return g.Name }), true
		case "instance.group-id", "group-id":
			return groupValues(inst.Groups, func(g store.GroupRef) string { return g.ID }), true
		case "block-device-mapping.device-name":
			return deviceValues(inst.BlockDevices, func(b store.BlockDevice) string { return b.DeviceName }), true
		case "block-device-mapping.volume-id":
			return deviceValues(inst.BlockDevices, func(b store.BlockDevice) string { return b.VolumeID }), true
		}
		if v, ok := optionFilter(inst, name); ok {
			return one(v)
		}
		if v, known := networkAttrs(inst, name); known {
			return v, true
		}
		if vals, ok := s.moreInstanceAttrs(inst, name); ok {
			return vals, true
		}
		return tagAttrs(tags, name)
	}
}

// moreInstanceAttrs answers the rest of DescribeInstances' documented
// filters that have a meaning here.
func (s *Service) moreInstanceAttrs(inst *store.Instance, name string) ([]string, bool) {
	nonEmpty := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	switch name {
	case "launch-index":
		return []string{strconv.Itoa(inst.LaunchIndex)}, true
	case "availability-zone-id":
		return nonEmpty(s.zoneID(inst.Zone)), true
	case "reason":
		return nonEmpty(inst.TransitionReason), true
	case "state-reason-message":
		return nonEmpty(stateReasonMessages[inst.StateReason]), true
	case "platform-details":
		return []string{"Linux/UNIX"}, true
	case "block-device-mapping.attach-time":
		return deviceValues(inst.BlockDevices, func(b store.BlockDevice) string { return ec2Second(b.AttachTime) }), true
	case "block-device-mapping.delete-on-termination":
		return deviceValues(inst.BlockDevices, func(b store.BlockDevice) string { return strconv.FormatBool(b.DeleteOnTermination) }), true
	case "block-device-mapping.status":
		return deviceValues(inst.BlockDevices, func(b store.BlockDevice) string { return b.Status }), true
	}
	return unsetAttrs(unsetInstanceAttrs, name)
}

// unsetInstanceAttrs: on-demand instances on shared hosts, with no
// kernel, product codes, placement group, capacity reservation, IAM
// instance profile or IPv6 address, none managed by a service.
var unsetInstanceAttrs = map[string][]string{
	"instance-lifecycle": nil, "spot-instance-request-id": nil, "host-id": nil, "affinity": nil,
	"kernel-id": nil, "ramdisk-id": nil, "product-code": nil, "product-code.type": nil,
	"placement-group-name": nil, "placement-partition-number": nil, "capacity-reservation-id": nil,
	"outpost-arn": nil, "requester-id": nil, "iam-instance-profile.arn": nil, "iam-instance-profile.id": nil,
	"ipv6-address": nil, "operator.managed": {"false"}, "operator.principal": nil,
}

func groupValues(gs []store.GroupRef, f func(store.GroupRef) string) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = f(g)
	}
	return out
}

func deviceValues(bs []store.BlockDevice, f func(store.BlockDevice) string) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = f(b)
	}
	return out
}

// ---- DescribeInstanceStatus ----

type statusDetailXML struct {
	Name   string `xml:"name"`
	Status string `xml:"status"`
}

type statusSummaryXML struct {
	Details []statusDetailXML `xml:"details>item"`
	Status  string            `xml:"status"`
}

type instanceStatusXML struct {
	AvailabilityZone string           `xml:"availabilityZone"`
	InstanceID       string           `xml:"instanceId"`
	InstanceState    instanceStateXML `xml:"instanceState"`
	InstanceStatus   statusSummaryXML `xml:"instanceStatus"`
	SystemStatus     statusSummaryXML `xml:"systemStatus"`
}

type describeInstanceStatusResponse struct {
	Meta
	Statuses  []instanceStatusXML `xml:"instanceStatusSet>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}

// instanceStatus is what the simulated checks report: a running machine
// passes them (boot is the only thing that can go wrong in the sim).
func instanceStatus(inst *store.Instance) instanceStatusXML {
	summary := statusSummaryXML{Status: "not-applicable"}
	if inst.State == string(backend.Running) {
		summary = statusSummaryXML{Status: "ok", Details: []statusDetailXML{{Name: "reachability", Status: "passed"}}}
	}
	return instanceStatusXML{AvailabilityZone: inst.Zone, InstanceID: inst.ID, InstanceState: stateXML(inst.State),
		InstanceStatus: summary, SystemStatus: summary}
}

func (s *Service) statusAttrs(st instanceStatusXML) Attrs {
	detail := func(s statusSummaryXML) []string {
		if len(s.Details) == 0 {
			return nil
		}
		return []string{s.Details[0].Status}
	}
	return func(name string) ([]string, bool) {
		switch name {
		case "availability-zone":
			return []string{st.AvailabilityZone}, true
		case "availability-zone-id":
			return []string{s.zoneID(st.AvailabilityZone)}, true
		case "instance-state-name":
			return []string{st.InstanceState.Name}, true
		case "instance-state-code":
			return []string{strconv.Itoa(st.InstanceState.Code)}, true
		case "instance-status.status":
			return []string{st.InstanceStatus.Status}, true
		case "system-status.status":
			return []string{st.SystemStatus.Status}, true
		case "instance-status.reachability":
			return detail(st.InstanceStatus), true
		case "system-status.reachability":
			return detail(st.SystemStatus), true
		}
		return unsetAttrs(unsetStatusAttrs, name)
	}
}

// unsetStatusAttrs: no scheduled events, no EBS status checks, no
// managed instances.
var unsetStatusAttrs = map[string][]string{
	"event.code": nil, "event.description": nil, "event.instance-event-id": nil, "event.not-after": nil,
	"event.not-before": nil, "event.not-before-deadline": nil, "attached-ebs-status.status": nil,
	"operator.managed": {"false"}, "operator.principal": nil,
}

func (s *Service) describeInstanceStatus(r *Request) (any, error) {
	ids, err := instanceIDs(r.Params)
	if err != nil {
		return nil, err
	}
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, s.statusAttrs(instanceStatusXML{})); err != nil {
		return nil, err
	}
	all, err := r.Params.Bool("IncludeAllInstances", false)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 && r.Params.Has("MaxResults") {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	insts, _, err := s.describedInstances(r, ids)
	if err != nil {
		return nil, err
	}
	out, next, err := instancePage(r, insts, filters, func(inst *store.Instance) (instanceStatusXML, bool) {
		return instanceStatus(inst), all || inst.State == string(backend.Running)
	}, s.statusAttrs)
	if err != nil {
		return nil, err
	}
	return &describeInstanceStatusResponse{Statuses: out, NextToken: next}, nil
}

// instancePage is a describe's page (MaxResults, NextToken) of one item
// per instance, in instance id order: those item keeps and the filters
// match over attrs.
func instancePage[X any](r *Request, insts []*store.Instance, filters []query.Filter, item func(*store.Instance) (X, bool), attrs func(X) Attrs) ([]X, string, error) {
	var out []X
	var ids []string
	for _, inst := range insts {
		if x, keep := item(inst); keep && matchFilters(filters, attrs(x)) {
			out = append(out, x)
			ids = append(ids, inst.ID)
		}
	}
	page, err := paginate(len(out), func(i int) string { return ids[i] }, r.Params, 5, 1000)
	if err != nil {
		return nil, "", err
	}
	return out[page.Start:page.End], page.NextToken, nil
}

// ---- GetConsoleOutput ----

type consoleOutputResponse struct {
	Meta
	InstanceID string `xml:"instanceId"`
	Timestamp  string `xml:"timestamp"`
	Output     string `xml:"output"`
}

// oneInstance loads the caller's instance named by the InstanceId parameter.
func (s *Service) oneInstance(r *Request) (*store.Instance, error) {
	id, err := requiredID(r.Params, "InstanceId", "i", ec2err.InvalidInstanceIDMalformed)
	if err != nil {
		return nil, err
	}
	return s.currentInstance(r, id)
}

func (s *Service) getConsoleOutput(r *Request) (any, error) {
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	var text string
	if inst.BackendID != "" {
		text, err = s.Backend.ConsoleOutput(r.Context, inst.BackendID)
		if err != nil && !errors.Is(err, backend.ErrNotFound) {
			return nil, backendError(err, refusals{}, inst)
		}
	}
	return &consoleOutputResponse{InstanceID: inst.ID, Timestamp: ec2Time(s.now()), Output: base64.StdEncoding.EncodeToString([]byte(text))}, nil
}

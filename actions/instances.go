package actions

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
)

var instanceActions = map[string]Handler{
	"RunInstances":              (*Service).runInstances,
	"DescribeInstances":         (*Service).describeInstances,
	"TerminateInstances":        (*Service).terminateInstances,
	"StopInstances":             (*Service).stopInstances,
	"StartInstances":            (*Service).startInstances,
	"RebootInstances":           (*Service).rebootInstances,
	"DescribeInstanceStatus":    (*Service).describeInstanceStatus,
	"GetConsoleOutput":          (*Service).getConsoleOutput,
	"DescribeInstanceAttribute": (*Service).describeInstanceAttribute,
	"ModifyInstanceAttribute":   (*Service).modifyInstanceAttribute,
	"GetInstanceUefiData":       (*Service).getInstanceUefiData, // instance_uefi.go
}

const (
	maxUserData = 16 << 10 // EC2's limit on decoded user data
	// maxLaunch caps one RunInstances: MaxCount above it launches this many
	// (EC2 launches "as many as possible"); MinCount above it is refused.
	maxLaunch      = 1000
	launchParallel = 16 // backend Runs in flight per request
	maxTokenLen    = 64
)

// ec2TimeLayout is EC2's timestamp format.
const ec2TimeLayout = "2006-01-02T15:04:05.000Z"

// ec2Time is t in EC2's timestamp format, written digit by digit:
// time.Format reads its layout at every call, and a describe formats a
// few times per instance.
func ec2Time(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(ec2TimeLayout)
	}
	hour, minute, sec := t.Clock()
	b := []byte(ec2TimeLayout)
	digits := func(at, n, v int) {
		for i := at + n - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	digits(0, 4, year)
	digits(5, 2, int(month))
	digits(8, 2, day)
	digits(11, 2, hour)
	digits(14, 2, minute)
	digits(17, 2, sec)
	digits(20, 3, t.Nanosecond()/int(time.Millisecond))
	return string(b)
}

// ec2Second is t as EC2 shows an instance's launch time and an
// attachment's attach time: whole seconds (".000Z"), where creation and
// start times keep their milliseconds. Clients match the attach-time and
// launch-time filters against the value they were shown.
func ec2Second(t time.Time) string { return ec2Time(t.Truncate(time.Second)) }

func (s *Service) catalog() *templates.Catalog {
	if s.Templates == nil {
		return templates.Default()
	}
	return s.Templates
}

// ---- wire shapes (botocore service-2.json, 2016-11-15) ----

type instanceStateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func stateXML(name string) instanceStateXML {
	return instanceStateXML{Code: backend.State(name).Code(), Name: name}
}

type groupItemXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName,omitempty"`
}

type groupSetXML struct {
	Items []groupItemXML `xml:"item"`
}

type ebsInstanceXML struct {
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	Status              string `xml:"status"`
	VolumeID            string `xml:"volumeId"`
}

type instanceBlockDeviceXML struct {
	DeviceName string         `xml:"deviceName"`
	Ebs        ebsInstanceXML `xml:"ebs"`
}

type stateReasonXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type placementXML struct {
	GroupName        string `xml:"groupName"`
	Tenancy          string `xml:"tenancy"`
	AvailabilityZone string `xml:"availabilityZone"`
}

type monitoringXML struct {
	State string `xml:"state"`
}

// instanceXML is one instance item. Groups is nil for old API versions:
// boto 2.0b3 ends an instance at the first nested list it does not know.
type instanceXML struct {
	Architecture       string                   `xml:"architecture"`
	BlockDevices       []instanceBlockDeviceXML `xml:"blockDeviceMapping>item"`
	ClientToken        string                   `xml:"clientToken"`
	EbsOptimized       bool                     `xml:"ebsOptimized"`
	Hypervisor         string                   `xml:"hypervisor"`
	NetworkInterfaces  *instanceENISetXML       `xml:"networkInterfaceSet"`
	RootDeviceName     string                   `xml:"rootDeviceName"`
	RootDeviceType     string                   `xml:"rootDeviceType"`
	Groups             *groupSetXML             `xml:"groupSet"`
	SourceDestCheck    *bool                    `xml:"sourceDestCheck"`
	StateReason        *stateReasonXML          `xml:"stateReason"`
	Tags               *tagSetXML               `xml:"tagSet"`
	VirtualizationType string                   `xml:"virtualizationType"`
	Hibernation        *hibernationXML          `xml:"hibernationOptions"`
	Metadata           *metadataOptionsXML      `xml:"metadataOptions"`
	Enclave            *enclaveXML              `xml:"enclaveOptions"`
	PlatformDetails    string                   `xml:"platformDetails"`
	InstanceID         string                   `xml:"instanceId"`
	ImageID            string                   `xml:"imageId"`
	State              instanceStateXML         `xml:"instanceState"`
	PrivateDNSName     string                   `xml:"privateDnsName"`
	DNSName            string                   `xml:"dnsName"`
	Reason             string                   `xml:"reason"`
	KeyName            string                   `xml:"keyName,omitempty"`
	AmiLaunchIndex     int                      `xml:"amiLaunchIndex"`
	ProductCodes       string                   `xml:"productCodes"`
	InstanceType       string                   `xml:"instanceType"`
	LaunchTime         string                   `xml:"launchTime"`
	Placement          placementXML             `xml:"placement"`
	KernelID           string                   `xml:"kernelId,omitempty"`
	RamdiskID          string                   `xml:"ramdiskId,omitempty"`
	Platform           string                   `xml:"platform,omitempty"`
	Monitoring         monitoringXML            `xml:"monitoring"`
	SubnetID           string                   `xml:"subnetId,omitempty"`
	VpcID              string                   `xml:"vpcId,omitempty"`
	PrivateIPAddress   string                   `xml:"privateIpAddress,omitempty"`
	IPAddress          string                   `xml:"ipAddress,omitempty"`
}

type reservationXML struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Groups        groupSetXML   `xml:"groupSet"`
	Instances     []instanceXML `xml:"instancesSet>item"`
}

type runInstancesResponse struct {
	Meta
	reservationXML
}

type describeInstancesResponse struct {
	Meta
	NextToken    string           `xml:"nextToken,omitempty"`
	Reservations []reservationXML `xml:"reservationSet>item"`
}

// stateReasonMessages are EC2's fixed messages for its state reason codes.
var stateReasonMessages = map[string]string{
	"Client.UserInitiatedShutdown":        "Client.UserInitiatedShutdown: User initiated shutdown",
	"Client.InstanceInitiatedShutdown":    "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
	"Server.ScheduledStop":                "Server.ScheduledStop: Stopped due to scheduled retirement",
	"Server.InternalError":                "Server.InternalError: Internal error on launch",
	"Server.InsufficientInstanceCapacity": "Server.InsufficientInstanceCapacity: Insufficient capacity to satisfy launch request",
}

// publicName is what dnsName shows: the public DNS name or address once an
// elastic IP is associated, else the private address. The simulated cloud
// has no public network, and legacy scripts resolve dnsName and connect to
// it (compat item 5), so an address they can use beats an empty string.
func publicName(inst *store.Instance) string {
	switch {
	case inst.State == string(backend.Terminated):
		return ""
	case inst.PublicDNSName != "":
		return inst.PublicDNSName
	case publicIP(inst) != "":
		return publicIP(inst)
	}
	return inst.PrivateIP
}

// publicIP is the public address inst shows: its elastic IP, else its
// launch address. The public DNS name of a launch address is the address
// itself, as an elastic IP's (setBinding says why).
func publicIP(inst *store.Instance) string {
	return cmp.Or(inst.PublicIP, inst.LaunchIP)
}

// render is one instance in the shape the request's API version expects.
func (s *Service) render(r *Request, inst *store.Instance, tags []store.Tag) instanceXML {
	img, _ := s.catalog().Image(baseImageOf(inst))
	x := instanceXML{
		Architecture: img.Architecture, ClientToken: inst.ClientToken, Hypervisor: "xen",
		RootDeviceName: inst.RootDeviceName, RootDeviceType: img.RootDeviceType,
		Tags: tagSetOf(tags), VirtualizationType: "hvm", PlatformDetails: "Linux/UNIX",
		InstanceID: inst.ID, ImageID: inst.ImageID, State: stateXML(inst.State),
		PrivateDNSName: inst.PrivateDNSName, DNSName: publicName(inst), Reason: inst.TransitionReason,
		KeyName: inst.KeyName, AmiLaunchIndex: inst.LaunchIndex, InstanceType: inst.InstanceType,
		LaunchTime: ec2Second(inst.LaunchTime), Placement: placementXML{Tenancy: "default", AvailabilityZone: inst.Zone},
		Platform: img.Platform, Monitoring: monitoringXML{State: "disabled"},
		PrivateIPAddress: inst.PrivateIP, IPAddress: publicIP(inst),
	}
	if img.Platform == "windows" {
		x.PlatformDetails = "Windows"
	}
	if inst.State == string(backend.Terminated) {
		x.PrivateDNSName, x.PrivateIPAddress, x.IPAddress = "", "", ""
	}
	if inst.StateReason != "" {
		msg := stateReasonMessages[inst.StateReason]
		if msg == "" {
			msg = inst.StateReason
		}
		x.StateReason = &stateReasonXML{Code: inst.StateReason, Message: msg}
	}
	for _, bd := range inst.BlockDevices {
		x.BlockDevices = append(x.BlockDevices, instanceBlockDeviceXML{DeviceName: bd.DeviceName, Ebs: ebsInstanceXML{
			AttachTime: ec2Second(bd.AttachTime), DeleteOnTermination: bd.DeleteOnTermination, Status: bd.Status, VolumeID: bd.VolumeID,
		}})
	}
	if !oldShape(r) {
		x.Groups = &groupSetXML{Items: groupItems(inst.Groups, false)}
		renderNetwork(&x, inst, r.User.AccountID)
	}
	renderOptions(&x, inst, oldShape(r))
	return x
}

// oldShape reports whether the client speaks an API version from before
// VPC-era instance items (2010-08-31, boto 2.49's 2014-10-01).
func oldShape(r *Request) bool { return r.Before("2016-11-15") }

// groupItems renders groups; byName puts names in groupId, as the old API
// versions did for a reservation's groups (compat item 1).
func groupItems(groups []store.GroupRef, byName bool) []groupItemXML {
	out := make([]groupItemXML, len(groups))
	for i, g := range groups {
		out[i] = groupItemXML{GroupID: g.ID, GroupName: g.Name}
		if byName {
			out[i] = groupItemXML{GroupID: g.Name}
		}
	}
	return out
}

// reservations groups rendered instances by reservation, in order of first
// appearance. Old versions list the groups by name at reservation level;
// new ones at instance level only.
func (s *Service) reservations(r *Request, insts []*store.Instance, tags map[string][]store.Tag) []reservationXML {
	var groups [][]*store.Instance
	at := map[string]int{}
	for _, inst := range insts {
		i, ok := at[inst.ReservationID]
		if !ok {
			i = len(groups)
			at[inst.ReservationID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], inst)
	}
	var out []reservationXML
	for _, group := range groups {
		// A reservation lists its instances by launch index, as RunInstances
		// answered them (the scan found them in id order, which is random).
		// The records are sorted, not the rendered items: those are large.
		slices.SortStableFunc(group, func(a, b *store.Instance) int { return cmp.Compare(a.LaunchIndex, b.LaunchIndex) })
		res := reservationXML{ReservationID: group[0].ReservationID, OwnerID: r.User.AccountID, Instances: make([]instanceXML, len(group))}
		if oldShape(r) {
			res.Groups.Items = groupItems(group[0].Groups, true)
		}
		for j, inst := range group {
			res.Instances[j] = s.render(r, inst, tags[inst.ID])
		}
		out = append(out, res)
	}
	return out
}

// ---- reading the caller's instances ----

// instanceIDs returns InstanceId.N, each checked for form.
func instanceIDs(p *query.Params) ([]string, error) {
	ids := p.List("InstanceId")
	return ids, checkIDs(ids, "i", ec2err.InvalidInstanceIDMalformed)
}

func notFound(missing []string) error {
	if len(missing) == 1 {
		return ec2err.New(ec2err.InvalidInstanceIDNotFound, "The instance ID '%s' does not exist", missing[0])
	}
	return ec2err.New(ec2err.InvalidInstanceIDNotFound, "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
}

// visible reports whether describes still show the instance: terminated
// ones stay for terminated_instances_expiration_time when configured.
func (s *Service) visible(inst *store.Instance, now time.Time) bool {
	if inst.State != string(backend.Terminated) {
		return true
	}
	return s.Config.DescribeWithTerminatedInstances && now.Sub(inst.StateChanged) <= s.Config.TerminatedInstancesExpirationTime.D()
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// applyMachine copies what the backend reports into inst; it reports
// whether anything changed (and so needs writing).
func (s *Service) applyMachine(inst *store.Instance, m backend.Machine) bool {
	changed := false
	if string(m.State) != inst.State {
		inst.State = string(m.State)
		inst.StateChanged = m.Changed
		if m.Changed.IsZero() {
			inst.StateChanged = s.now()
		}
		if m.Reason != "" {
			inst.StateReason = m.Reason
		}
		if m.State == backend.Running {
			inst.StateReason = ""
		}
		changed = true
	}
	if m.PrivateIP != "" && (m.PrivateIP != inst.PrivateIP || m.PrivateDNSName != inst.PrivateDNSName) {
		inst.PrivateIP, inst.PrivateDNSName = m.PrivateIP, m.PrivateDNSName
		changed = true
	}
	// The backend's own public address, unless it is the elastic IP.
	if m.PublicIP != "" && m.PublicIP != inst.LaunchIP && m.PublicIP != inst.PublicIP {
		inst.LaunchIP = m.PublicIP
		changed = true
	}
	return changed
}

package actions

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
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
}

const (
	maxUserData = 16 << 10 // EC2's limit on decoded user data
	// maxLaunch caps one RunInstances: MaxCount above it launches this many
	// (EC2 launches "as many as possible"); MinCount above it is refused.
	maxLaunch      = 1000
	launchParallel = 16 // backend Runs in flight per request
	maxTokenLen    = 64
)

// ec2Time is EC2's timestamp format.
func ec2Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

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
	RootDeviceName     string                   `xml:"rootDeviceName"`
	RootDeviceType     string                   `xml:"rootDeviceType"`
	Groups             *groupSetXML             `xml:"groupSet"`
	StateReason        *stateReasonXML          `xml:"stateReason"`
	Tags               []tagXML                 `xml:"tagSet>item"`
	VirtualizationType string                   `xml:"virtualizationType"`
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
	Platform           string                   `xml:"platform,omitempty"`
	Monitoring         monitoringXML            `xml:"monitoring"`
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
	case inst.PublicIP != "":
		return inst.PublicIP
	}
	return inst.PrivateIP
}

// render is one instance in the shape the request's API version expects.
func (s *Service) render(r *Request, inst *store.Instance, tags []store.Tag) instanceXML {
	img, _ := s.catalog().Image(inst.ImageID)
	x := instanceXML{
		Architecture: img.Architecture, ClientToken: inst.ClientToken, Hypervisor: "xen",
		RootDeviceName: inst.RootDeviceName, RootDeviceType: img.RootDeviceType,
		Tags: tagsXML(tags), VirtualizationType: "hvm", PlatformDetails: "Linux/UNIX",
		InstanceID: inst.ID, ImageID: inst.ImageID, State: stateXML(inst.State),
		PrivateDNSName: inst.PrivateDNSName, DNSName: publicName(inst), Reason: inst.TransitionReason,
		KeyName: inst.KeyName, AmiLaunchIndex: inst.LaunchIndex, InstanceType: inst.InstanceType,
		LaunchTime: ec2Time(inst.LaunchTime), Placement: placementXML{Tenancy: "default", AvailabilityZone: inst.Zone},
		Platform: img.Platform, Monitoring: monitoringXML{State: "disabled"},
		PrivateIPAddress: inst.PrivateIP, IPAddress: inst.PublicIP,
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
			AttachTime: ec2Time(bd.AttachTime), DeleteOnTermination: bd.DeleteOnTermination, Status: bd.Status, VolumeID: bd.VolumeID,
		}})
	}
	if !oldShape(r) {
		x.Groups = &groupSetXML{Items: groupItems(inst.Groups, false)}
	}
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
	var out []reservationXML
	at := map[string]int{}
	for _, inst := range insts {
		i, ok := at[inst.ReservationID]
		if !ok {
			i = len(out)
			at[inst.ReservationID] = i
			res := reservationXML{ReservationID: inst.ReservationID, OwnerID: r.User.AccountID}
			if oldShape(r) {
				res.Groups.Items = groupItems(inst.Groups, true)
			}
			out = append(out, res)
		}
		out[i].Instances = append(out[i].Instances, s.render(r, inst, tags[inst.ID]))
	}
	return out
}

// ---- reading the caller's instances ----

// instanceIDs returns InstanceId.N, each checked for form.
func instanceIDs(p *query.Params) ([]string, error) {
	ids := p.List("InstanceId")
	for _, id := range ids {
		if !store.ValidID("i", id) {
			return nil, ec2err.New(ec2err.InvalidInstanceIDMalformed, "Invalid id: \"%s\" (expecting \"i-...\")", id)
		}
	}
	return ids, nil
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
	return changed
}

// ---- DescribeInstances ----

func (s *Service) describeInstances(r *Request) (any, error) {
	ids, err := instanceIDs(r.Params)
	if err != nil {
		return nil, err
	}
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, s.instanceAttrs(r, &store.Instance{}, nil)); err != nil {
		return nil, err
	}
	if len(ids) > 0 && r.Params.Has("MaxResults") {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	insts, tags, err := s.loadInstances(r, ids)
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
	one := func(v string) ([]string, bool) {
		if v == "" {
			return nil, true
		}
		return []string{v}, true
	}
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
			return one(inst.PublicIP)
		case "dns-name":
			return one(publicName(inst))
		case "private-dns-name":
			return one(inst.PrivateDNSName)
		case "reservation-id":
			return one(inst.ReservationID)
		case "launch-time":
			return one(ec2Time(inst.LaunchTime))
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
			img, _ := s.catalog().Image(inst.ImageID)
			return one(map[string]string{"architecture": img.Architecture, "root-device-type": img.RootDeviceType, "platform": img.Platform}[name])
		case "tenancy":
			return one("default")
		case "monitoring-state":
			return one("disabled")
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
		return tagAttrs(tags, name)
	}
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

// ---- RunInstances ----

// launchRequest is a validated RunInstances.
type launchRequest struct {
	image              templates.Image
	itype              templates.InstanceType
	zone               string
	min, max           int
	keyName            string
	groupNames         []string
	groupIDs           []string
	userData           []byte
	shutdown           string
	disableTermination bool
	token              string
	tags, volumeTags   []store.Tag
	mappings           []blockDeviceRequest
}

func (s *Service) parseLaunch(p *query.Params) (*launchRequest, error) {
	lr := &launchRequest{keyName: p.String("KeyName"), groupNames: p.List("SecurityGroup"), groupIDs: p.List("SecurityGroupId"), token: p.String("ClientToken")}
	imageID, err := p.Required("ImageId")
	if err != nil {
		return nil, err
	}
	if !store.ValidID("ami", imageID) {
		return nil, ec2err.New(ec2err.InvalidAMIIDMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", imageID)
	}
	var ok bool
	if lr.image, ok = s.catalog().Image(imageID); !ok {
		return nil, ec2err.New(ec2err.InvalidAMIIDNotFound, "The image id '[%s]' does not exist", imageID)
	}
	lr.itype = s.catalog().DefaultInstanceType()
	if name := p.String("InstanceType"); name != "" {
		if lr.itype, ok = s.catalog().InstanceType(name); !ok {
			return nil, ec2err.BadValue("InstanceType", name, "Invalid instance type. DescribeInstanceTypes lists the types this endpoint offers.")
		}
	}
	if lr.zone, err = s.launchZone(p.String("Placement.AvailabilityZone")); err != nil {
		return nil, err
	}
	if lr.min, lr.max, err = launchCounts(p); err != nil {
		return nil, err
	}
	if lr.userData, err = userData(p, "UserData"); err != nil {
		return nil, err
	}
	if lr.shutdown, err = shutdownBehavior("InstanceInitiatedShutdownBehavior", p.String("InstanceInitiatedShutdownBehavior")); err != nil {
		return nil, err
	}
	if lr.disableTermination, err = p.Bool("DisableApiTermination", false); err != nil {
		return nil, err
	}
	if len(lr.token) > maxTokenLen {
		return nil, ec2err.BadValue("ClientToken", lr.token, "It must be at most 64 characters.")
	}
	tags, err := specTags(p, "instance", "volume")
	if err != nil {
		return nil, err
	}
	lr.tags, lr.volumeTags = tags["instance"], tags["volume"]
	if lr.mappings, err = blockDeviceMappings(p); err != nil {
		return nil, err
	}
	return lr, nil
}

func (s *Service) launchZone(zone string) (string, error) {
	if zone == "" {
		return s.Config.AvailabilityZones[0], nil
	}
	if !s.validZone(zone) {
		return "", ec2err.New(ec2err.InvalidParameterValue, "Invalid availability zone: [%s]. Zones here: %s", zone, strings.Join(s.Config.AvailabilityZones, ", "))
	}
	return zone, nil
}

// launchCounts applies EC2's rule: 1 <= MinCount <= MaxCount.
func launchCounts(p *query.Params) (min, max int, err error) {
	for _, name := range []string{"MinCount", "MaxCount"} {
		if !p.Has(name) {
			return 0, 0, ec2err.Missing(name)
		}
	}
	if min, err = p.Int("MinCount", 1); err != nil {
		return 0, 0, err
	}
	if max, err = p.Int("MaxCount", 1); err != nil {
		return 0, 0, err
	}
	switch {
	case min < 1:
		return 0, 0, ec2err.BadValue("MinCount", strconv.Itoa(min), "It must be at least 1.")
	case max < min:
		return 0, 0, ec2err.BadValue("MaxCount", strconv.Itoa(max), "It must be at least MinCount ("+strconv.Itoa(min)+").")
	case min > maxLaunch:
		return 0, 0, ec2err.New(ec2err.InstanceLimitExceeded, "You have requested more instances (%d) than one request can launch (%d).", min, maxLaunch)
	}
	return min, minInt(max, maxLaunch), nil
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// userData decodes a base64 user data parameter and enforces EC2's limit.
func userData(p *query.Params, name string) ([]byte, error) {
	data, err := p.Base64(name)
	if err != nil {
		return nil, err
	}
	if len(data) > maxUserData {
		return nil, ec2err.BadValue(name, "(redacted)", "User data is limited to 16384 bytes; this is "+strconv.Itoa(len(data))+".")
	}
	return data, nil
}

func shutdownBehavior(param, v string) (string, error) {
	switch v {
	case "":
		return "stop", nil
	case "stop", "terminate":
		return v, nil
	}
	return "", ec2err.BadValue(param, v, "It must be stop or terminate.")
}

// blockDeviceMappings decodes BlockDeviceMapping.N.
func blockDeviceMappings(p *query.Params) ([]blockDeviceRequest, error) {
	var out []blockDeviceRequest
	for _, m := range p.Structs("BlockDeviceMapping") {
		dev, err := m.Required("DeviceName")
		if err != nil {
			return nil, err
		}
		bd := blockDeviceRequest{DeviceName: dev, VolumeType: m.String("Ebs.VolumeType"), SnapshotID: m.String("Ebs.SnapshotId"), NoDevice: m.Has("NoDevice")}
		if bd.VolumeSize, err = m.Int("Ebs.VolumeSize", 0); err != nil {
			return nil, err
		}
		if bd.Iops, err = m.Int("Ebs.Iops", 0); err != nil {
			return nil, err
		}
		if m.Has("Ebs.DeleteOnTermination") {
			v, err := m.Bool("Ebs.DeleteOnTermination", true)
			if err != nil {
				return nil, err
			}
			bd.DeleteOnTermination = &v
		}
		if bd.VolumeSize < 0 || bd.Iops < 0 {
			return nil, ec2err.BadValue("BlockDeviceMapping.Ebs", strconv.Itoa(bd.VolumeSize), "Sizes and IOPS must be positive.")
		}
		out = append(out, bd)
	}
	return out, nil
}

// launchHash fingerprints the parameters that define a launch, for
// ClientToken idempotency: everything except signing, token and DryRun.
func launchHash(p *query.Params) string {
	skip := map[string]bool{"ClientToken": true, "DryRun": true, "Signature": true, "SignatureMethod": true,
		"SignatureVersion": true, "AWSAccessKeyId": true, "Timestamp": true, "Expires": true, "Version": true}
	vals := p.Values()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		if !skip[k] && !strings.HasPrefix(k, "X-Amz-") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "=" + strings.Join(vals[k], ",") + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func reservationInstances(tx store.Tx, owner, reservationID string) ([]*store.Instance, error) {
	all, err := store.ListInstances(tx, owner)
	var out []*store.Instance
	for _, inst := range all {
		if inst.ReservationID == reservationID {
			out = append(out, inst)
		}
	}
	return out, err
}

func (s *Service) runInstances(r *Request) (any, error) {
	lr, err := s.parseLaunch(r.Params)
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner, now, hash := r.User.Name, s.now(), launchHash(r.Params)
	tokenHash := ""
	if lr.token != "" {
		tokenHash = hash
	}
	// Ids are drawn outside the transaction, which may run more than once.
	resID := store.NewID("r")
	ids := make([]string, lr.max)
	for i := range ids {
		ids[i] = store.NewID("i")
	}
	// A ClientToken names the reservation's first instance, so a retry
	// finds it with one read and a launch writes no separate token record.
	if lr.token != "" {
		ids[0] = store.DerivedID("i", owner, lr.token)
	}
	var (
		replay   []*store.Instance
		created  []*store.Instance
		contexts []*backend.LaunchContext
		count    = lr.max
	)
	// A backend that keeps its machines in this store launches inside the
	// transaction: records and machines commit together, once.
	inTx, _ := s.Backend.(backend.TxLauncher)
	launchTx := func(tx store.Tx) error {
		replay, created, contexts = nil, nil, nil
		if lr.token != "" {
			first, err := store.GetInstance(tx, owner, ids[0])
			switch {
			case err != nil:
				return err
			case first == nil:
			case first.ClientToken != lr.token:
				// Another launch holds the id (a hash collision): this one
				// gets an id of its own and cannot be replayed.
				ids[0] = store.NewID("i")
			case first.LaunchHash != hash:
				return ec2err.New(ec2err.IdempotentParameterMismatch, "The client token '%s' was already used with different parameters.", lr.token)
			default:
				replay, err = reservationInstances(tx, owner, first.ReservationID)
				return err
			}
		}
		publicKey, err := s.launchKey(tx, owner, lr.keyName)
		if err != nil {
			return err
		}
		groups, sgs, err := s.launchGroups(tx, owner, lr.groupNames, lr.groupIDs)
		if err != nil {
			return err
		}
		for i, id := range ids[:count] {
			inst := &store.Instance{
				ID: id, Owner: owner, ReservationID: resID, ImageID: lr.image.ID, InstanceType: lr.itype.Name,
				KeyName: lr.keyName, LaunchIndex: i, Zone: lr.zone, ClientToken: lr.token, LaunchHash: tokenHash,
				State: string(backend.Pending), StateChanged: now, LaunchTime: now, Groups: groups,
				UserData: lr.userData, ShutdownBehavior: lr.shutdown, DisableAPITermination: lr.disableTermination,
				RootDeviceName: lr.image.RootDeviceName,
			}
			vols, err := s.launchVolumes(tx, inst, lr.image.Backend(), lr.mappings)
			if err != nil {
				return err
			}
			if err := s.tagNewInstance(tx, inst, lr); err != nil {
				return err
			}
			lc := &backend.LaunchContext{
				InstanceID: id, Owner: owner, InstanceType: lr.itype.Backend(), Image: lr.image.Backend(),
				Zone: lr.zone, KeyName: lr.keyName, PublicKey: publicKey, UserData: lr.userData,
				Groups: sgs, Tags: tagMap(lr.tags), Volumes: vols, ShutdownBehavior: lr.shutdown,
			}
			if inTx != nil {
				m, err := inTx.RunInTx(tx, lc)
				if errors.Is(err, backend.ErrCapacity) && i >= lr.min {
					return launchFewer(i)
				}
				if err != nil {
					return launchError(err, lr.min)
				}
				inst.BackendID = m.ID
				s.applyMachine(inst, m)
			}
			if err := store.PutInstance(tx, inst); err != nil {
				return err
			}
			created = append(created, inst)
			contexts = append(contexts, lc)
		}
		return nil
	}
	// EC2 launches as many as it can, at least MinCount: when the backend
	// runs out of capacity part-way, the transaction is rolled back and
	// redone for the instances it could take.
	for {
		err = s.Store.Update(launchTx)
		var fewer launchFewer
		if !errors.As(err, &fewer) {
			break
		}
		count = int(fewer)
	}
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return s.replayReservation(r, replay)
	}
	if inTx == nil {
		if err := s.launch(r, lr, created, contexts); err != nil {
			return nil, err
		}
	}
	return s.reservationResponse(r, created, lr.tags)
}

// launchFewer rolls a launch transaction back to redo it with this many
// instances.
type launchFewer int

func (n launchFewer) Error() string {
	return fmt.Sprintf("backend capacity: launch %d instances", int(n))
}

func tagMap(tags []store.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// tagNewInstance applies the launch's tags to the instance and its volumes.
func (s *Service) tagNewInstance(tx store.Tx, inst *store.Instance, lr *launchRequest) error {
	if err := putTags(tx, inst.Owner, inst.ID, lr.tags); err != nil {
		return err
	}
	for _, bd := range inst.BlockDevices {
		if err := putTags(tx, inst.Owner, bd.VolumeID, lr.volumeTags); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) reservationResponse(r *Request, insts []*store.Instance, tags []store.Tag) (any, error) {
	byID := make(map[string][]store.Tag, len(insts))
	for _, inst := range insts {
		byID[inst.ID] = tags
	}
	res := s.reservations(r, insts, byID)
	return &runInstancesResponse{reservationXML: res[0]}, nil
}

// replayReservation answers a repeated ClientToken with the original
// reservation as it is now.
func (s *Service) replayReservation(r *Request, insts []*store.Instance) (any, error) {
	ids := make([]string, len(insts))
	for i, inst := range insts {
		ids[i] = inst.ID
	}
	current, tags, err := s.loadInstancesAnyState(r, ids)
	if err != nil {
		return nil, err
	}
	sort.Slice(current, func(i, j int) bool { return current[i].LaunchIndex < current[j].LaunchIndex })
	res := s.reservations(r, current, tags)
	return &runInstancesResponse{reservationXML: res[0]}, nil
}

// launch runs the recorded instances on the backend (in parallel, outside
// any transaction) and records the outcome in one transaction. Instances
// the backend refused are marked terminated; fewer than MinCount launched
// fails the request and terminates the rest.
func (s *Service) launch(r *Request, lr *launchRequest, insts []*store.Instance, contexts []*backend.LaunchContext) error {
	machines := make([]backend.Machine, len(insts))
	errs := make([]error, len(insts))
	sem := make(chan struct{}, launchParallel)
	var wg sync.WaitGroup
	for i := range insts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			machines[i], errs[i] = s.Backend.Run(r.Context, contexts[i])
		}()
	}
	wg.Wait()
	launched := 0
	var firstErr error
	for _, err := range errs {
		if err == nil {
			launched++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	failed := launched < lr.min
	if failed {
		var unused []string
		for i, err := range errs {
			if err == nil {
				unused = append(unused, machines[i].ID)
				errs[i] = firstErr
			}
		}
		s.terminateMachines(r.Context, unused)
	}
	now := s.now()
	for i, inst := range insts {
		if errs[i] != nil {
			r.Log.Error().Err(errs[i]).Str("instance", inst.ID).Msg("backend refused launch")
			markLaunchFailed(inst, errs[i], now)
			continue
		}
		inst.BackendID = machines[i].ID
		s.applyMachine(inst, machines[i])
	}
	if err := s.recordLaunch(r.Context, insts); err != nil {
		return err
	}
	if failed {
		return launchError(firstErr, lr.min)
	}
	return nil
}

func markLaunchFailed(inst *store.Instance, err error, now time.Time) {
	inst.State, inst.StateChanged, inst.StateReason = string(backend.Terminated), now, "Server.InternalError"
	if errors.Is(err, backend.ErrCapacity) {
		inst.StateReason = "Server.InsufficientInstanceCapacity"
	}
}

func launchError(err error, min int) error {
	if errors.Is(err, backend.ErrCapacity) {
		return ec2err.New(ec2err.InsufficientInstanceCapacity, "There is not enough capacity to launch %d instance(s). Try fewer, another instance type or later.", min)
	}
	return err
}

// recordLaunch writes the backend's answers over the intent records,
// keeping fields other families may have changed meanwhile. An instance
// the student terminated while its launch was in flight stays terminated,
// and its new machine is terminated too.
func (s *Service) recordLaunch(ctx context.Context, insts []*store.Instance) error {
	var orphans []string
	err := s.Store.Update(func(tx store.Tx) error {
		orphans = nil
		for _, inst := range insts {
			cur, err := store.GetInstance(tx, inst.Owner, inst.ID)
			if err != nil {
				return err
			}
			if cur == nil {
				continue
			}
			cur.BackendID = inst.BackendID
			if cur.State == string(backend.Terminated) {
				if inst.BackendID != "" {
					orphans = append(orphans, inst.BackendID)
				}
			} else {
				cur.State, cur.StateChanged, cur.StateReason = inst.State, inst.StateChanged, inst.StateReason
			}
			cur.PrivateIP, cur.PrivateDNSName = inst.PrivateIP, inst.PrivateDNSName
			if err := store.PutInstance(tx, cur); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.terminateMachines(ctx, orphans)
	return nil
}

// terminateMachines cleans up machines nobody will use; a failure is only
// logged (the instance records already say terminated).
func (s *Service) terminateMachines(ctx context.Context, ids []string) {
	for _, id := range ids {
		if _, err := s.Backend.Terminate(context.WithoutCancel(ctx), id); err != nil {
			s.Log.Error().Err(err).Str("machine", id).Msg("terminating an unused machine")
		}
	}
}

// RecoverLaunches finishes what a crash interrupted: instances recorded
// (intent) but never given a backend machine. When the backend can find
// the machine a Run created (backend.LaunchFinder) the launch is
// completed; otherwise it is rolled back, marked terminated with
// Server.InternalError. app.Open calls it before serving.
func (s *Service) RecoverLaunches(ctx context.Context) error {
	var stranded []*store.Instance
	err := s.Store.View(func(tx store.Tx) error {
		return store.ScanJSON(tx, store.BucketInstances, "", func(_ string, inst *store.Instance) error {
			if inst.BackendID == "" && inst.State != string(backend.Terminated) {
				stranded = append(stranded, inst)
			}
			return nil
		})
	})
	if err != nil || len(stranded) == 0 {
		return err
	}
	finder, _ := s.Backend.(backend.LaunchFinder)
	now := s.now()
	for _, inst := range stranded {
		if finder != nil {
			m, found, err := finder.FindLaunch(ctx, inst.ID)
			if err != nil {
				return err
			}
			if found {
				inst.BackendID = m.ID
				s.applyMachine(inst, m)
				continue
			}
		}
		markLaunchFailed(inst, errors.New("launch interrupted by a restart"), now)
	}
	s.Log.Warn().Int("instances", len(stranded)).Msg("recovered launches interrupted by a restart")
	return s.recordLaunch(ctx, stranded)
}

// ---- Terminate, Stop, Start, Reboot ----

type stateChangeXML struct {
	InstanceID string           `xml:"instanceId"`
	Current    instanceStateXML `xml:"currentState"`
	Previous   instanceStateXML `xml:"previousState"`
}

type stateChangesResponse struct {
	Meta
	Items []stateChangeXML `xml:"instancesSet>item"`
}

// transition describes one state-changing action.
type transition struct {
	// check refuses an instance before anything changes (all are checked first).
	check func(inst *store.Instance) error
	// act changes the machine; ok=false means there is nothing to do.
	act func(ctx context.Context, inst *store.Instance) (m backend.Machine, ok bool, err error)
	// reason is the state reason code recorded with the change ("" keeps none).
	reason string
}

func incorrectState(inst *store.Instance, verb string) error {
	return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is not in a state from which it can be %s (it is %s).", inst.ID, verb, inst.State)
}

// applyTransition runs t on every InstanceId.N of the caller, then
// records every change in one transaction. It returns the state changes
// in request order.
func (s *Service) applyTransition(r *Request, t transition) ([]stateChangeXML, []*store.Instance, error) {
	ids, err := instanceIDs(r.Params)
	if err != nil {
		return nil, nil, err
	}
	if len(ids) == 0 {
		return nil, nil, ec2err.Missing("InstanceId")
	}
	insts, _, err := s.loadInstances(r, ids)
	if err != nil {
		return nil, nil, err
	}
	for _, inst := range insts {
		if err := t.check(inst); err != nil {
			return nil, nil, err
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, nil, err
	}
	byID := map[string]*store.Instance{}
	for _, inst := range insts {
		byID[inst.ID] = inst
	}
	var changes []stateChangeXML
	var changed []*store.Instance
	var actErr error
	now := s.now()
	for _, id := range dedupe(ids) {
		inst := byID[id]
		prev := inst.State
		m, ok, err := t.act(r.Context, inst)
		if err != nil {
			actErr = s.backendError(inst, err)
			break
		}
		if ok && s.applyMachine(inst, m) {
			inst.StateReason = t.reason
			inst.TransitionReason = ""
			if t.reason != "" {
				inst.TransitionReason = "User initiated (" + now.Format("2006-01-02 15:04:05 MST") + ")"
			}
			changed = append(changed, inst)
		}
		changes = append(changes, stateChangeXML{InstanceID: id, Current: stateXML(inst.State), Previous: stateXML(prev)})
	}
	if err := s.recordStates(changed); err != nil {
		return nil, nil, err
	}
	return changes, changed, actErr
}

func (s *Service) backendError(inst *store.Instance, err error) error {
	switch {
	case errors.Is(err, backend.ErrIncorrectState):
		return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is not in a state that allows this (it is %s).", inst.ID, inst.State)
	case errors.Is(err, backend.ErrCapacity):
		return ec2err.New(ec2err.InsufficientInstanceCapacity, "There is not enough capacity to start instance '%s' now. Try again later.", inst.ID)
	}
	return err
}

// recordStates writes the state fields of changed instances.
func (s *Service) recordStates(changed []*store.Instance) error {
	if len(changed) == 0 {
		return nil
	}
	return s.Store.Update(func(tx store.Tx) error {
		for _, inst := range changed {
			cur, err := store.GetInstance(tx, inst.Owner, inst.ID)
			if err != nil {
				return err
			}
			if cur == nil {
				continue
			}
			cur.State, cur.StateChanged, cur.StateReason, cur.TransitionReason = inst.State, inst.StateChanged, inst.StateReason, inst.TransitionReason
			cur.PrivateIP, cur.PrivateDNSName = inst.PrivateIP, inst.PrivateDNSName
			if err := store.PutInstance(tx, cur); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) terminateInstances(r *Request) (any, error) {
	changes, changed, err := s.applyTransition(r, transition{
		reason: "Client.UserInitiatedShutdown",
		check: func(inst *store.Instance) error {
			if inst.DisableAPITermination {
				return ec2err.New(ec2err.OperationNotPermitted, "The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", inst.ID)
			}
			return nil
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			switch {
			case inst.State == string(backend.Terminated):
				return backend.Machine{}, false, nil
			case inst.BackendID == "":
				// Its launch is still in flight or failed: nothing runs yet.
				return backend.Machine{State: backend.Terminated, Changed: s.now()}, true, nil
			}
			m, err := s.Backend.Terminate(ctx, inst.BackendID)
			return m, true, err
		},
	})
	if len(changed) > 0 {
		ids := make([]string, len(changed))
		for i, inst := range changed {
			ids[i] = inst.ID
		}
		if herr := s.onTerminate(r, ids); herr != nil && err == nil {
			err = herr
		}
	}
	if err != nil {
		return nil, err
	}
	return &stateChangesResponse{Items: changes}, nil
}

func (s *Service) stopInstances(r *Request) (any, error) {
	force, err := r.Params.Bool("Force", false)
	if err != nil {
		return nil, err
	}
	changes, _, err := s.applyTransition(r, transition{
		reason: "Client.UserInitiatedShutdown",
		check: func(inst *store.Instance) error {
			switch backend.State(inst.State) {
			case backend.Running, backend.Stopping, backend.Stopped:
				return nil
			}
			return incorrectState(inst, "stopped")
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			if inst.State != string(backend.Running) {
				return backend.Machine{}, false, nil
			}
			m, err := s.Backend.Stop(ctx, inst.BackendID, force)
			return m, true, err
		},
	})
	if err != nil {
		return nil, err
	}
	return &stateChangesResponse{Items: changes}, nil
}

func (s *Service) startInstances(r *Request) (any, error) {
	changes, _, err := s.applyTransition(r, transition{
		check: func(inst *store.Instance) error {
			switch backend.State(inst.State) {
			case backend.Pending, backend.Running, backend.Stopped:
				return nil
			}
			return incorrectState(inst, "started")
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			if inst.State != string(backend.Stopped) {
				return backend.Machine{}, false, nil
			}
			m, err := s.Backend.Start(ctx, inst.BackendID)
			return m, true, err
		},
	})
	if err != nil {
		return nil, err
	}
	return &stateChangesResponse{Items: changes}, nil
}

func (s *Service) rebootInstances(r *Request) (any, error) {
	_, _, err := s.applyTransition(r, transition{
		check: func(inst *store.Instance) error {
			if inst.State != string(backend.Running) {
				return incorrectState(inst, "rebooted")
			}
			return nil
		},
		act: func(ctx context.Context, inst *store.Instance) (backend.Machine, bool, error) {
			return backend.Machine{}, false, s.Backend.Reboot(ctx, inst.BackendID)
		},
	})
	if err != nil {
		return nil, err
	}
	return ok()
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

func statusAttrs(st instanceStatusXML) Attrs {
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
		return nil, false
	}
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
	if err := checkFilterNames(filters, statusAttrs(instanceStatusXML{})); err != nil {
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
	insts, _, err := s.loadInstances(r, ids)
	if err != nil {
		return nil, err
	}
	var out []instanceStatusXML
	for _, inst := range insts {
		st := instanceStatus(inst)
		if (all || inst.State == string(backend.Running)) && matchFilters(filters, statusAttrs(st)) {
			out = append(out, st)
		}
	}
	page, err := paginate(len(out), func(i int) string { return out[i].InstanceID }, r.Params, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &describeInstanceStatusResponse{Statuses: out[page.Start:page.End], NextToken: page.NextToken}, nil
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
	id, err := r.Params.Required("InstanceId")
	if err != nil {
		return nil, err
	}
	if !store.ValidID("i", id) {
		return nil, ec2err.New(ec2err.InvalidInstanceIDMalformed, "Invalid id: \"%s\" (expecting \"i-...\")", id)
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
			return nil, err
		}
	}
	return &consoleOutputResponse{InstanceID: inst.ID, Timestamp: ec2Time(s.now()), Output: base64.StdEncoding.EncodeToString([]byte(text))}, nil
}

// ---- DescribeInstanceAttribute / ModifyInstanceAttribute ----

type attrValueXML struct {
	Value string `xml:"value,omitempty"`
}

type attrBoolXML struct {
	Value bool `xml:"value"`
}

type blockDevicesXML struct {
	Items []instanceBlockDeviceXML `xml:"item"`
}

type instanceAttributeResponse struct {
	Meta
	BlockDevices          *blockDevicesXML `xml:"blockDeviceMapping"`
	DisableAPITermination *attrBoolXML     `xml:"disableApiTermination"`
	EbsOptimized          *attrBoolXML     `xml:"ebsOptimized"`
	InstanceID            string           `xml:"instanceId"`
	ShutdownBehavior      *attrValueXML    `xml:"instanceInitiatedShutdownBehavior"`
	InstanceType          *attrValueXML    `xml:"instanceType"`
	Kernel                *attrValueXML    `xml:"kernel"`
	ProductCodes          *struct{}        `xml:"productCodes"`
	Ramdisk               *attrValueXML    `xml:"ramdisk"`
	RootDeviceName        *attrValueXML    `xml:"rootDeviceName"`
	SourceDestCheck       *attrBoolXML     `xml:"sourceDestCheck"`
	UserData              *attrValueXML    `xml:"userData"`
	Groups                *groupSetXML     `xml:"groupSet"`
}

// instanceAttribute fills the one attribute asked for; false when the name
// is not an attribute EC2 knows.
func (s *Service) instanceAttribute(r *Request, inst *store.Instance, name string, out *instanceAttributeResponse) bool {
	switch name {
	case "instanceType":
		out.InstanceType = &attrValueXML{inst.InstanceType}
	case "userData":
		out.UserData = &attrValueXML{}
		if len(inst.UserData) > 0 {
			out.UserData.Value = base64.StdEncoding.EncodeToString(inst.UserData)
		}
	case "disableApiTermination":
		out.DisableAPITermination = &attrBoolXML{inst.DisableAPITermination}
	case "instanceInitiatedShutdownBehavior":
		out.ShutdownBehavior = &attrValueXML{inst.ShutdownBehavior}
	case "rootDeviceName":
		out.RootDeviceName = &attrValueXML{inst.RootDeviceName}
	case "blockDeviceMapping":
		out.BlockDevices = &blockDevicesXML{Items: s.render(r, inst, nil).BlockDevices}
	case "groupSet":
		out.Groups = &groupSetXML{Items: groupItems(inst.Groups, false)}
	case "kernel":
		out.Kernel = &attrValueXML{}
	case "ramdisk":
		out.Ramdisk = &attrValueXML{}
	case "productCodes":
		out.ProductCodes = &struct{}{}
	case "ebsOptimized":
		out.EbsOptimized = &attrBoolXML{}
	case "sourceDestCheck":
		out.SourceDestCheck = &attrBoolXML{true}
	default:
		return false
	}
	return true
}

func (s *Service) describeInstanceAttribute(r *Request) (any, error) {
	name, err := r.Params.Required("Attribute")
	if err != nil {
		return nil, err
	}
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	out := &instanceAttributeResponse{InstanceID: inst.ID}
	if !s.instanceAttribute(r, inst, name, out) {
		return nil, ec2err.BadValue("Attribute", name, "Valid attributes: instanceType, userData, disableApiTermination, instanceInitiatedShutdownBehavior, rootDeviceName, blockDeviceMapping, groupSet, kernel, ramdisk, productCodes, ebsOptimized, sourceDestCheck.")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	return out, nil
}

// modifiable are the attributes ModifyInstanceAttribute changes, each
// settable as Attribute=NAME&Value=V or as NAME.Value=V.
var modifiable = map[string]string{
	"instanceType":                      "InstanceType",
	"userData":                          "UserData",
	"disableApiTermination":             "DisableApiTermination",
	"instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
}

// modification decodes which attribute to change and its new value.
func modification(p *query.Params) (attr string, value *query.Params, err error) {
	if a := p.String("Attribute"); a != "" {
		if _, ok := modifiable[a]; !ok {
			return "", nil, ec2err.New(ec2err.UnsupportedOperation, "Modifying the attribute '%s' is not supported here; supported: instanceType, userData, disableApiTermination, instanceInitiatedShutdownBehavior.", a)
		}
		return a, query.New(map[string][]string{"Value": {p.String("Value")}}), nil
	}
	var found []string
	for a, param := range modifiable {
		if p.Has(param + ".Value") {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		return "", nil, ec2err.New(ec2err.InvalidParameterCombination, "Give exactly one attribute to modify (for example InstanceType.Value); got %d.", len(found))
	}
	return found[0], p.Struct(modifiable[found[0]]), nil
}

// modify returns the change to apply to an instance record.
func (s *Service) modify(attr string, v *query.Params) (func(inst *store.Instance) error, error) {
	needStopped := func(inst *store.Instance) error {
		if inst.State != string(backend.Stopped) {
			return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is not in the 'stopped' state; stop it before changing its %s.", inst.ID, attr)
		}
		return nil
	}
	switch attr {
	case "instanceType":
		t, ok := s.catalog().InstanceType(v.String("Value"))
		if !ok {
			return nil, ec2err.New(ec2err.InvalidInstanceAttributeValue, "The instanceType '%s' is invalid. DescribeInstanceTypes lists the types this endpoint offers.", v.String("Value"))
		}
		return func(inst *store.Instance) error {
			if err := needStopped(inst); err != nil {
				return err
			}
			inst.InstanceType = t.Name
			return nil
		}, nil
	case "userData":
		data, err := userData(v, "Value")
		if err != nil {
			return nil, err
		}
		return func(inst *store.Instance) error {
			if err := needStopped(inst); err != nil {
				return err
			}
			inst.UserData = data
			return nil
		}, nil
	case "disableApiTermination":
		b, err := v.Bool("Value", false)
		if err != nil {
			return nil, err
		}
		return func(inst *store.Instance) error { inst.DisableAPITermination = b; return nil }, nil
	default: // instanceInitiatedShutdownBehavior
		behavior, err := shutdownBehavior("Value", v.String("Value"))
		if err != nil {
			return nil, err
		}
		return func(inst *store.Instance) error { inst.ShutdownBehavior = behavior; return nil }, nil
	}
}

func (s *Service) modifyInstanceAttribute(r *Request) (any, error) {
	attr, value, err := modification(r.Params)
	if err != nil {
		return nil, err
	}
	change, err := s.modify(attr, value)
	if err != nil {
		return nil, err
	}
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	if err := change(inst); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	err = s.Store.Update(func(tx store.Tx) error {
		cur, err := s.reread(tx, inst)
		if err != nil {
			return err
		}
		if err := change(cur); err != nil {
			return err
		}
		return store.PutInstance(tx, cur)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

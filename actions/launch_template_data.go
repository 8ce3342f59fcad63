package actions

import (
	"cmp"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// A launch template's data is kept as sent (store.LaunchTemplateVersion.Data:
// the LaunchTemplateData.* parameters, named relative to it). It is read
// three ways: decoded into ResponseLaunchTemplateData to be shown (the
// members below; any other member EC2 knows is kept and passed on to a
// launch, but not shown), merged member by member with a source version,
// and overlaid on a RunInstances request.

// launchTemplateDataXML is botocore's ResponseLaunchTemplateData, in its
// member order, for the members econe shows.
type launchTemplateDataXML struct {
	KernelID              string                          `xml:"kernelId,omitempty"`
	EbsOptimized          *bool                           `xml:"ebsOptimized"`
	IamInstanceProfile    *ltIamProfileXML                `xml:"iamInstanceProfile"`
	BlockDeviceMappings   *itemSet[ltBlockDeviceXML]      `xml:"blockDeviceMappingSet"`
	NetworkInterfaces     *itemSet[ltNetworkInterfaceXML] `xml:"networkInterfaceSet"`
	ImageID               string                          `xml:"imageId,omitempty"`
	InstanceType          string                          `xml:"instanceType,omitempty"`
	KeyName               string                          `xml:"keyName,omitempty"`
	Monitoring            *ltMonitoringXML                `xml:"monitoring"`
	Placement             *ltPlacementXML                 `xml:"placement"`
	RamDiskID             string                          `xml:"ramDiskId,omitempty"`
	DisableAPITermination *bool                           `xml:"disableApiTermination"`
	ShutdownBehavior      string                          `xml:"instanceInitiatedShutdownBehavior,omitempty"`
	UserData              string                          `xml:"userData,omitempty"`
	TagSpecifications     *ltTagSpecSetXML                `xml:"tagSpecificationSet"`
	SecurityGroupIDs      *itemSet[string]                `xml:"securityGroupIdSet"`
	SecurityGroups        *itemSet[string]                `xml:"securityGroupSet"`
	CreditSpecification   *ltCreditXML                    `xml:"creditSpecification"`
	CPUOptions            *ltCPUOptionsXML                `xml:"cpuOptions"`
	HibernationOptions    *ltHibernationXML               `xml:"hibernationOptions"`
	MetadataOptions       *ltMetadataXML                  `xml:"metadataOptions"`
	DisableAPIStop        *bool                           `xml:"disableApiStop"`
}

// setOf is a set EC2 leaves out when the data has none of it (botocore
// reads an empty element as an empty list, not an absent one).
func setOf[T any](items []T) *itemSet[T] {
	if len(items) == 0 {
		return nil
	}
	return &itemSet[T]{items}
}

type ltIamProfileXML struct {
	Arn  string `xml:"arn,omitempty"`
	Name string `xml:"name,omitempty"`
}

type ltBlockDeviceXML struct {
	DeviceName  string    `xml:"deviceName,omitempty"`
	VirtualName string    `xml:"virtualName,omitempty"`
	Ebs         *ltEbsXML `xml:"ebs"`
	NoDevice    *string   `xml:"noDevice"`
}

type ltEbsXML struct {
	Encrypted           *bool  `xml:"encrypted"`
	DeleteOnTermination *bool  `xml:"deleteOnTermination"`
	Iops                *int   `xml:"iops"`
	KmsKeyID            string `xml:"kmsKeyId,omitempty"`
	SnapshotID          string `xml:"snapshotId,omitempty"`
	VolumeSize          *int   `xml:"volumeSize"`
	VolumeType          string `xml:"volumeType,omitempty"`
	Throughput          *int   `xml:"throughput"`
}

type ltNetworkInterfaceXML struct {
	AssociatePublicIP              *bool    `xml:"associatePublicIpAddress"`
	DeleteOnTermination            *bool    `xml:"deleteOnTermination"`
	Description                    string   `xml:"description,omitempty"`
	DeviceIndex                    *int     `xml:"deviceIndex"`
	Groups                         []string `xml:"groupSet>groupId"`
	InterfaceType                  string   `xml:"interfaceType,omitempty"`
	Ipv6AddressCount               *int     `xml:"ipv6AddressCount"`
	NetworkInterfaceID             string   `xml:"networkInterfaceId,omitempty"`
	PrivateIPAddress               string   `xml:"privateIpAddress,omitempty"`
	SecondaryPrivateIPAddressCount *int     `xml:"secondaryPrivateIpAddressCount"`
	SubnetID                       string   `xml:"subnetId,omitempty"`
	NetworkCardIndex               *int     `xml:"networkCardIndex"`
}

type ltMonitoringXML struct {
	Enabled bool `xml:"enabled"`
}

type ltPlacementXML struct {
	AvailabilityZone   string `xml:"availabilityZone,omitempty"`
	AvailabilityZoneID string `xml:"availabilityZoneId,omitempty"`
	Affinity           string `xml:"affinity,omitempty"`
	GroupName          string `xml:"groupName,omitempty"`
	HostID             string `xml:"hostId,omitempty"`
	Tenancy            string `xml:"tenancy,omitempty"`
	SpreadDomain       string `xml:"spreadDomain,omitempty"`
	PartitionNumber    *int   `xml:"partitionNumber"`
	GroupID            string `xml:"groupId,omitempty"`
}

// ltTagSpecSetXML is a set that GetLaunchTemplateData shows even empty.
type ltTagSpecSetXML struct {
	Items []ltTagSpecXML `xml:"item"`
}

type ltTagSpecXML struct {
	ResourceType string   `xml:"resourceType"`
	Tags         []tagXML `xml:"tagSet>item"`
}

type ltCreditXML struct {
	CPUCredits string `xml:"cpuCredits"`
}

type ltCPUOptionsXML struct {
	CoreCount      *int `xml:"coreCount"`
	ThreadsPerCore *int `xml:"threadsPerCore"`
}

type ltHibernationXML struct {
	Configured bool `xml:"configured"`
}

type ltMetadataXML struct {
	HTTPTokens              string `xml:"httpTokens,omitempty"`
	HTTPPutResponseHopLimit *int   `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint            string `xml:"httpEndpoint,omitempty"`
	HTTPProtocolIpv6        string `xml:"httpProtocolIpv6,omitempty"`
	InstanceMetadataTags    string `xml:"instanceMetadataTags,omitempty"`
}

// optBool is a boolean parameter, nil when not sent.
func optBool(p *query.Params, name string) (*bool, error) {
	if !p.Has(name) {
		return nil, nil
	}
	v, err := p.Bool(name, false)
	return &v, err
}

// optInt is an integer parameter, nil when not sent.
func optInt(p *query.Params, name string) (*int, error) {
	v, sent, err := p.OptionalInt(name)
	if !sent || err != nil {
		return nil, err
	}
	return &v, nil
}

// oneOf checks an enumerated parameter ("" when not sent).
func oneOf(p *query.Params, name string, allowed ...string) (string, error) {
	v := p.String(name)
	if v == "" || contains(allowed, v) {
		return v, nil
	}
	return "", ec2err.BadValue(name, v, "It must be one of: "+strings.Join(allowed, ", ")+".")
}

// fieldDecoder decodes its fields one by one and keeps the first error,
// so a decoding reads as a list of fields.
type fieldDecoder struct {
	p   *query.Params
	err error
}

func (d *fieldDecoder) bool(name string) *bool {
	v, err := optBool(d.p, name)
	d.keep(err)
	return v
}

func (d *fieldDecoder) int(name string) *int {
	v, err := optInt(d.p, name)
	d.keep(err)
	return v
}

func (d *fieldDecoder) enum(name string, allowed ...string) string {
	v, err := oneOf(d.p, name, allowed...)
	d.keep(err)
	return v
}

func (d *fieldDecoder) keep(err error) {
	if d.err == nil {
		d.err = err
	}
}

// decodeTemplateData checks a LaunchTemplateData (p is the structure) and
// decodes what is shown of it.
func decodeTemplateData(p *query.Params) (*launchTemplateDataXML, error) {
	d := &fieldDecoder{p: p}
	out := &launchTemplateDataXML{
		KernelID: p.String("KernelId"), EbsOptimized: d.bool("EbsOptimized"),
		ImageID: p.String("ImageId"), InstanceType: p.String("InstanceType"), KeyName: p.String("KeyName"),
		RamDiskID: p.String("RamDiskId"), DisableAPITermination: d.bool("DisableApiTermination"),
		ShutdownBehavior: d.enum("InstanceInitiatedShutdownBehavior", "stop", "terminate"),
		UserData:         p.String("UserData"),
		SecurityGroupIDs: setOf(p.List("SecurityGroupId")), SecurityGroups: setOf(p.List("SecurityGroup")),
		DisableAPIStop: d.bool("DisableApiStop"),
	}
	if _, err := p.Base64("UserData"); err != nil {
		return nil, ec2err.New(ec2err.InvalidUserDataMalformed, "Invalid BASE64 encoding of user data.")
	}
	if _, err := userData(p, "UserData"); err != nil {
		return nil, err
	}
	if s := p.Struct("IamInstanceProfile"); s.Has("Arn") || s.Has("Name") {
		out.IamInstanceProfile = &ltIamProfileXML{Arn: s.String("Arn"), Name: s.String("Name")}
	}
	var disks []ltBlockDeviceXML
	for _, m := range p.Structs("BlockDeviceMapping") {
		bd := ltBlockDeviceXML{DeviceName: m.String("DeviceName"), VirtualName: m.String("VirtualName")}
		if m.Has("NoDevice") {
			nd := m.String("NoDevice")
			bd.NoDevice = &nd
		}
		if e := m.Struct("Ebs"); len(e.Values()) > 0 {
			ed := &fieldDecoder{p: e}
			bd.Ebs = &ltEbsXML{
				Encrypted: ed.bool("Encrypted"), DeleteOnTermination: ed.bool("DeleteOnTermination"),
				Iops: ed.int("Iops"), KmsKeyID: e.String("KmsKeyId"), SnapshotID: e.String("SnapshotId"),
				VolumeSize: ed.int("VolumeSize"), VolumeType: e.String("VolumeType"), Throughput: ed.int("Throughput"),
			}
			d.keep(ed.err)
		}
		disks = append(disks, bd)
	}
	out.BlockDeviceMappings = setOf(disks)
	var nics []ltNetworkInterfaceXML
	for _, m := range p.Structs("NetworkInterface") {
		nd := &fieldDecoder{p: m}
		nics = append(nics, ltNetworkInterfaceXML{
			AssociatePublicIP: nd.bool("AssociatePublicIpAddress"), DeleteOnTermination: nd.bool("DeleteOnTermination"),
			Description: m.String("Description"), DeviceIndex: nd.int("DeviceIndex"), Groups: m.List("SecurityGroupId"),
			InterfaceType: m.String("InterfaceType"), Ipv6AddressCount: nd.int("Ipv6AddressCount"),
			NetworkInterfaceID: m.String("NetworkInterfaceId"), PrivateIPAddress: m.String("PrivateIpAddress"),
			SecondaryPrivateIPAddressCount: nd.int("SecondaryPrivateIpAddressCount"), SubnetID: m.String("SubnetId"),
			NetworkCardIndex: nd.int("NetworkCardIndex"),
		})
		d.keep(nd.err)
	}
	out.NetworkInterfaces = setOf(nics)
	if p.Has("Monitoring.Enabled") {
		out.Monitoring = &ltMonitoringXML{Enabled: *d.bool("Monitoring.Enabled")}
	}
	if s := p.Struct("Placement"); len(s.Values()) > 0 {
		pd := &fieldDecoder{p: s}
		out.Placement = &ltPlacementXML{
			AvailabilityZone: s.String("AvailabilityZone"), AvailabilityZoneID: s.String("AvailabilityZoneId"),
			Affinity: s.String("Affinity"), GroupName: s.String("GroupName"), HostID: s.String("HostId"),
			Tenancy: pd.enum("Tenancy", "default", "dedicated", "host"), SpreadDomain: s.String("SpreadDomain"),
			PartitionNumber: pd.int("PartitionNumber"), GroupID: s.String("GroupId"),
		}
		d.keep(pd.err)
	}
	specs, err := p.TagSpecifications()
	d.keep(err)
	if len(specs) > 0 {
		out.TagSpecifications = &ltTagSpecSetXML{}
	}
	for _, spec := range specs {
		ts := ltTagSpecXML{ResourceType: spec.ResourceType}
		for _, t := range spec.Tags {
			d.keep(checkTag(t.Key, t.Value))
			ts.Tags = append(ts.Tags, tagXML{t.Key, t.Value})
		}
		out.TagSpecifications.Items = append(out.TagSpecifications.Items, ts)
	}
	if p.Has("CreditSpecification.CpuCredits") {
		out.CreditSpecification = &ltCreditXML{CPUCredits: d.enum("CreditSpecification.CpuCredits", "standard", "unlimited")}
	}
	if s := p.Struct("CpuOptions"); s.Has("CoreCount") || s.Has("ThreadsPerCore") {
		cd := &fieldDecoder{p: s}
		out.CPUOptions = &ltCPUOptionsXML{CoreCount: cd.int("CoreCount"), ThreadsPerCore: cd.int("ThreadsPerCore")}
		d.keep(cd.err)
	}
	if p.Has("HibernationOptions.Configured") {
		out.HibernationOptions = &ltHibernationXML{Configured: *d.bool("HibernationOptions.Configured")}
	}
	if s := p.Struct("MetadataOptions"); len(s.Values()) > 0 {
		md := &fieldDecoder{p: s}
		out.MetadataOptions = &ltMetadataXML{
			HTTPTokens: md.enum("HttpTokens", "optional", "required"), HTTPPutResponseHopLimit: md.int("HttpPutResponseHopLimit"),
			HTTPEndpoint: md.enum("HttpEndpoint", "enabled", "disabled"), HTTPProtocolIpv6: md.enum("HttpProtocolIpv6", "enabled", "disabled"),
			InstanceMetadataTags: md.enum("InstanceMetadataTags", "enabled", "disabled"),
		}
		d.keep(md.err)
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// renderTemplateData is stored data as ResponseLaunchTemplateData. The
// data was checked when it was stored.
func renderTemplateData(data url.Values) launchTemplateDataXML {
	out, err := decodeTemplateData(query.New(data))
	if err != nil {
		return launchTemplateDataXML{}
	}
	return *out
}

// member is the top-level member a flattened name belongs to:
// BlockDeviceMapping.1.Ebs.VolumeSize is BlockDeviceMapping's.
func member(name string) string {
	top, _, _ := strings.Cut(name, ".")
	return top
}

// mergeTemplateData is a new version's data: the source version's members
// that the request does not give, and the request's (EC2 replaces a member
// as a whole: a request's BlockDeviceMapping.1 drops the source's list).
func mergeTemplateData(source, given url.Values) url.Values {
	out := url.Values{}
	sent := members(given)
	for k, vs := range source {
		if !sent[member(k)] {
			out[k] = vs
		}
	}
	for k, vs := range given {
		out[k] = vs
	}
	return out
}

func members(v url.Values) map[string]bool {
	out := make(map[string]bool, len(v))
	for k := range v {
		out[member(k)] = true
	}
	return out
}

// runInstancesName is RunInstances' name for a RequestLaunchTemplateData
// member where the two differ; the others, and every nested name, are the
// same in both.
var runInstancesName = map[string]string{"RamDiskId": "RamdiskId"}

// templateLaunchParams is the RunInstances request with the template's
// data filling what it does not give: the request's own members win, as
// a whole, and the tags of each resource type are merged by key, the
// request's value winning. The template's tags for resources RunInstances
// does not make here (network interfaces, spot requests) are left out.
func templateLaunchParams(p *query.Params, data url.Values) (*query.Params, error) {
	out := p.Values()
	sent := members(out)
	for k, vs := range data {
		top := member(k)
		name := top
		if n, ok := runInstancesName[top]; ok {
			name = n
		}
		if top != "TagSpecification" && !sent[name] {
			out[name+k[len(top):]] = vs
		}
	}
	template, err := query.New(data).TagSpecifications()
	if err != nil {
		return nil, err
	}
	request, err := p.TagSpecifications()
	if err != nil {
		return nil, err
	}
	var specs []query.TagSpecification
	for _, rt := range runTagTypes {
		if tags := mergeTags(query.TagsFor(template, rt), query.TagsFor(request, rt)); len(tags) > 0 {
			specs = append(specs, query.TagSpecification{ResourceType: rt, Tags: tags})
		}
	}
	// The request's other types stay, for RunInstances to refuse.
	for _, spec := range request {
		if !contains(runTagTypes, spec.ResourceType) {
			specs = append(specs, spec)
		}
	}
	for k := range out {
		if member(k) == "TagSpecification" {
			delete(out, k)
		}
	}
	for i, spec := range specs {
		prefix := "TagSpecification." + strconv.Itoa(i+1) + "."
		out.Set(prefix+"ResourceType", spec.ResourceType)
		for j, t := range spec.Tags {
			tp := prefix + "Tag." + strconv.Itoa(j+1) + "."
			out.Set(tp+"Key", t.Key)
			out.Set(tp+"Value", t.Value)
		}
	}
	return query.Parse(out)
}

// mergeTags is base with over's tags added, over's tag replacing base's in
// place for a key both have.
func mergeTags[T query.Tag | store.Tag](base, over []T) []T {
	at := map[string]int{}
	var out []T
	for _, t := range append(slices.Clip(base), over...) {
		key := query.Tag(t).Key // both tag types convert
		if i, ok := at[key]; ok {
			out[i] = t
			continue
		}
		at[key] = len(out)
		out = append(out, t)
	}
	return out
}

// instanceTemplateData is what GetLaunchTemplateData reads from an
// instance, as LaunchTemplateData parameters: the launch parameters the
// instance keeps, its volumes as block device mappings (vols by id), and
// its tags.
func instanceTemplateData(inst *store.Instance, tags []store.Tag, vols map[string]*store.Volume) url.Values {
	v := url.Values{}
	set := func(name, value string) {
		if value != "" {
			v.Set(name, value)
		}
	}
	set("ImageId", inst.ImageID)
	set("InstanceType", inst.InstanceType)
	set("KeyName", inst.KeyName)
	set("Placement.AvailabilityZone", inst.Zone)
	set("Placement.Tenancy", "default")
	set("Monitoring.Enabled", "false")
	set("DisableApiTermination", strconv.FormatBool(inst.DisableAPITermination))
	set("InstanceInitiatedShutdownBehavior", cmp.Or(inst.ShutdownBehavior, "stop"))
	if len(inst.UserData) > 0 {
		set("UserData", base64.StdEncoding.EncodeToString(inst.UserData))
	}
	for i, g := range inst.Groups {
		set("SecurityGroupId."+strconv.Itoa(i+1), g.ID)
	}
	for i, bd := range inst.BlockDevices {
		prefix := "BlockDeviceMapping." + strconv.Itoa(i+1) + "."
		set(prefix+"DeviceName", bd.DeviceName)
		set(prefix+"Ebs.DeleteOnTermination", strconv.FormatBool(bd.DeleteOnTermination))
		if vol := vols[bd.VolumeID]; vol != nil {
			set(prefix+"Ebs.Encrypted", strconv.FormatBool(vol.Encrypted))
			set(prefix+"Ebs.SnapshotId", vol.SnapshotID)
			set(prefix+"Ebs.VolumeSize", strconv.Itoa(vol.SizeGiB))
			set(prefix+"Ebs.VolumeType", vol.Type)
		}
	}
	n := 0
	for _, t := range tags {
		if strings.HasPrefix(t.Key, "aws:") {
			continue // EC2's own, which no template may set
		}
		n++
		set("TagSpecification.1.ResourceType", "instance")
		prefix := "TagSpecification.1.Tag." + strconv.Itoa(n) + "."
		v.Set(prefix+"Key", t.Key)
		v.Set(prefix+"Value", t.Value)
	}
	return v
}

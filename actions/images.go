package actions

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
)

var imageActions = map[string]Handler{
	"DescribeImages":         (*Service).describeImages,
	"DescribeInstanceTypes":  (*Service).describeInstanceTypes,
	"CreateImage":            (*Service).createImage,
	"DeregisterImage":        (*Service).deregisterImage,
	"DescribeImageAttribute": (*Service).describeImageAttribute,
	"ModifyImageAttribute":   (*Service).modifyImageAttribute,
	"ResetImageAttribute":    (*Service).resetImageAttribute,
	"CopyImage":              (*Service).copyImage,
	"RegisterImage":          (*Service).registerImage,
}

// ---- DescribeImages ----

type ebsBlockDeviceXML struct {
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	Iops                int    `xml:"iops,omitempty"`
	SnapshotID          string `xml:"snapshotId,omitempty"`
	VolumeSize          int    `xml:"volumeSize"`
	VolumeType          string `xml:"volumeType"`
	Throughput          int    `xml:"throughput,omitempty"`
	Encrypted           bool   `xml:"encrypted"`
}

type imageBlockDeviceXML struct {
	Ebs        ebsBlockDeviceXML `xml:"ebs"`
	DeviceName string            `xml:"deviceName"`
}

type imageXML struct {
	PlatformDetails    string                `xml:"platformDetails"`
	UsageOperation     string                `xml:"usageOperation"`
	BlockDevices       []imageBlockDeviceXML `xml:"blockDeviceMapping>item"`
	Description        string                `xml:"description"`
	EnaSupport         bool                  `xml:"enaSupport"`
	Hypervisor         string                `xml:"hypervisor"`
	ImageOwnerAlias    string                `xml:"imageOwnerAlias,omitempty"`
	Name               string                `xml:"name"`
	RootDeviceName     string                `xml:"rootDeviceName"`
	RootDeviceType     string                `xml:"rootDeviceType"`
	Tags               []tagXML              `xml:"tagSet>item,omitempty"`
	VirtualizationType string                `xml:"virtualizationType"`
	SourceInstanceID   string                `xml:"sourceInstanceId,omitempty"`
	SourceImageID      string                `xml:"sourceImageId,omitempty"`
	SourceImageRegion  string                `xml:"sourceImageRegion,omitempty"`
	ImageID            string                `xml:"imageId"`
	ImageLocation      string                `xml:"imageLocation"`
	State              string                `xml:"imageState"`
	OwnerID            string                `xml:"imageOwnerId"`
	CreationDate       string                `xml:"creationDate"`
	Public             bool                  `xml:"isPublic"`
	Architecture       string                `xml:"architecture"`
	ImageType          string                `xml:"imageType"`
	Platform           string                `xml:"platform,omitempty"`
}

type describeImagesResponse struct {
	Meta
	NextToken string     `xml:"nextToken,omitempty"`
	Images    []imageXML `xml:"imagesSet>item"`
}

func imageItem(im templates.Image) imageXML {
	x := imageXML{
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances", Description: im.Description,
		EnaSupport: true, Hypervisor: "xen", ImageOwnerAlias: im.OwnerAlias, Name: im.Name,
		RootDeviceName: im.RootDeviceName, RootDeviceType: im.RootDeviceType, VirtualizationType: "hvm",
		ImageID: im.ID, ImageLocation: im.OwnerAlias + "/" + im.Name, State: "available",
		OwnerID: im.OwnerID, CreationDate: im.CreationDate, Public: true,
		Architecture: im.Architecture, ImageType: "machine", Platform: im.Platform,
	}
	if im.Platform == "windows" {
		x.PlatformDetails, x.UsageOperation = "Windows", "RunInstances:0002"
	}
	if im.RootDeviceType == "ebs" {
		x.BlockDevices = []imageBlockDeviceXML{{DeviceName: im.RootDeviceName, Ebs: ebsBlockDeviceXML{
			DeleteOnTermination: true, VolumeSize: im.RootSizeGiB, VolumeType: "gp2", SnapshotID: im.SnapshotID,
		}}}
	}
	return x
}

// imageAttrs answers DescribeImages' filters for an image with its tags.
func imageAttrs(x imageXML, tags []store.Tag) Attrs {
	return func(name string) ([]string, bool) {
		if vals, ok := deviceAttrs(x, name); ok {
			return vals, true
		}
		v, ok := map[string]string{
			"image-id": x.ImageID, "name": x.Name, "description": x.Description, "architecture": x.Architecture,
			"platform": x.Platform, "root-device-type": x.RootDeviceType, "root-device-name": x.RootDeviceName,
			"owner-alias": x.ImageOwnerAlias, "owner-id": x.OwnerID, "state": x.State, "is-public": strconv.FormatBool(x.Public),
			"image-type": x.ImageType, "virtualization-type": x.VirtualizationType, "hypervisor": x.Hypervisor,
			"manifest-location": x.ImageLocation, "creation-date": x.CreationDate, "source-instance-id": x.SourceInstanceID,
		}[name]
		if !ok {
			return tagAttrs(tags, name)
		}
		if v == "" {
			return nil, true
		}
		return []string{v}, true
	}
}

// listedImage is one image a student may see, with what the Owner.N and
// ExecutableBy.N scopes need.
type listedImage struct {
	x    imageXML
	tags []store.Tag
	// executableBy reports whether the image is launchable by the
	// ExecutableBy value e (all, self, or an account id).
	executableBy func(e string) bool
}

// ownedBy applies Owner.N: self or the caller's account is their own
// images, an account id that account's images (a classmate's, where
// shared), amazon or an alias the admin's.
func ownedBy(x imageXML, owners []string, self string) bool {
	if len(owners) == 0 {
		return true
	}
	for _, o := range owners {
		if o == x.OwnerID || (x.ImageOwnerAlias != "" && o == x.ImageOwnerAlias) || (o == "self" && x.OwnerID == self) || (o == "amazon" && x.ImageOwnerAlias == "econe") {
			return true
		}
	}
	return false
}

func executable(im listedImage, by []string) bool {
	if len(by) == 0 {
		return true
	}
	for _, e := range by {
		if im.executableBy(e) {
			return true
		}
	}
	return false
}

// visibleImages lists, in id order, the catalog's images the course
// allows, the caller's own images and those shared with them.
func (s *Service) visibleImages(r *Request) ([]listedImage, error) {
	lim, err := s.readLimits(r)
	if err != nil {
		return nil, err
	}
	u, now := r.User, s.now()
	var out []listedImage
	// ExecutableBy scopes by explicit launch permission: all for the
	// admin's images, which are public; the accounts a student's own image
	// is shared with; self (or the caller's account) for those shared
	// with the caller.
	for _, im := range s.catalog().Images() {
		if lim.AllowsImage(im.ID) {
			out = append(out, listedImage{x: imageItem(im), executableBy: func(e string) bool { return e == "all" }})
		}
	}
	err = s.Store.View(func(tx store.Tx) error {
		own, err := store.ListImages(tx, u.Name)
		if err != nil {
			return err
		}
		for _, im := range own {
			tags, err := store.Tags(tx, u.Name, im.ID)
			if err != nil {
				return err
			}
			base, _ := s.catalog().Image(im.BaseImageID)
			out = append(out, listedImage{x: ownedImageItem(im, base, tags, now), tags: tags, executableBy: im.SharedWith})
		}
		// A classmate's tags are theirs: a shared image shows none.
		shared, err := store.ImagesSharedWith(tx, u.AccountID)
		for _, im := range shared {
			base, _ := s.catalog().Image(im.BaseImageID)
			out = append(out, listedImage{x: ownedImageItem(im, base, nil, now), executableBy: func(e string) bool {
				return e == "self" || e == u.AccountID
			}})
		}
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].x.ImageID < out[j].x.ImageID })
	return out, err
}

func (s *Service) describeImages(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, imageAttrs(imageXML{}, nil)); err != nil {
		return nil, err
	}
	ids := r.Params.List("ImageId")
	if err := checkIDs(ids, "ami", ec2err.InvalidAMIIDMalformed); err != nil {
		return nil, err
	}
	if len(ids) > 0 && r.Params.Has("MaxResults") {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "The parameter ImageId cannot be used with the parameter MaxResults")
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	all, err := s.visibleImages(r)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		_, admin := s.catalog().Image(id) // one the course does not allow is left out, not missing
		if !admin && !slices.ContainsFunc(all, func(im listedImage) bool { return im.x.ImageID == id }) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		if missing, err = s.unreferenced(r, missing); err != nil { // images_deregistered.go
			return nil, err
		}
	}
	if len(missing) > 0 {
		if len(missing) > 1 {
			return nil, ec2err.New(ec2err.InvalidAMIIDNotFound, "The image ids '[%s]' do not exist", strings.Join(missing, ", "))
		}
		return nil, ec2err.New(ec2err.InvalidAMIIDNotFound, "The image id '[%s]' does not exist", missing[0])
	}
	owners, by := r.Params.List("Owner"), r.Params.List("ExecutableBy")
	var out []imageXML
	for _, im := range all {
		if len(ids) > 0 && !contains(ids, im.x.ImageID) || !ownedBy(im.x, owners, r.User.AccountID) || !executable(im, by) {
			continue
		}
		if matchFilters(filters, imageAttrs(im.x, im.tags)) {
			out = append(out, im.x)
		}
	}
	page, err := paginate(len(out), func(i int) string { return out[i].ImageID }, r.Params, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &describeImagesResponse{NextToken: page.NextToken, Images: out[page.Start:page.End]}, nil
}

// ---- DescribeInstanceTypes ----

type itemsXML struct {
	Items []string `xml:"item"`
}

type processorInfoXML struct {
	SupportedArchitectures itemsXML `xml:"supportedArchitectures"`
}

type vcpuInfoXML struct {
	DefaultVCpus          int              `xml:"defaultVCpus"`
	DefaultCores          int              `xml:"defaultCores"`
	DefaultThreadsPerCore int              `xml:"defaultThreadsPerCore"`
	ValidThreadsPerCore   *itemSet[string] `xml:"validThreadsPerCore"` // 1 up to the default: SMT may be turned off
}

type memoryInfoXML struct {
	SizeInMiB int `xml:"sizeInMiB"`
}

type instanceTypeXML struct {
	InstanceType                  string           `xml:"instanceType"`
	CurrentGeneration             bool             `xml:"currentGeneration"`
	FreeTierEligible              bool             `xml:"freeTierEligible"`
	SupportedUsageClasses         itemsXML         `xml:"supportedUsageClasses"`
	SupportedRootDeviceTypes      itemsXML         `xml:"supportedRootDeviceTypes"`
	SupportedVirtualizationTypes  itemsXML         `xml:"supportedVirtualizationTypes"`
	BareMetal                     bool             `xml:"bareMetal"`
	Hypervisor                    string           `xml:"hypervisor"`
	ProcessorInfo                 processorInfoXML `xml:"processorInfo"`
	VCpuInfo                      vcpuInfoXML      `xml:"vCpuInfo"`
	MemoryInfo                    memoryInfoXML    `xml:"memoryInfo"`
	InstanceStorageSupported      bool             `xml:"instanceStorageSupported"`
	HibernationSupported          bool             `xml:"hibernationSupported"`
	BurstablePerformanceSupported bool             `xml:"burstablePerformanceSupported"`
	DedicatedHostsSupported       bool             `xml:"dedicatedHostsSupported"`
	AutoRecoverySupported         bool             `xml:"autoRecoverySupported"`
	SupportedBootModes            itemsXML         `xml:"supportedBootModes"`
}

type describeInstanceTypesResponse struct {
	Meta
	InstanceTypes []instanceTypeXML `xml:"instanceTypeSet>item"`
	NextToken     string            `xml:"nextToken,omitempty"`
}

// previousGeneration are the families EC2 lists as not current.
var previousGeneration = []string{"m1.", "m2.", "m3.", "c1.", "c3.", "t1."}

func instanceTypeItem(t templates.InstanceType) instanceTypeXML {
	current := true
	for _, p := range previousGeneration {
		current = current && !strings.HasPrefix(t.Name, p)
	}
	threads := 1
	if t.VCPUs > 1 && t.Architecture == "x86_64" {
		threads = 2
	}
	return instanceTypeXML{
		InstanceType: t.Name, CurrentGeneration: current, FreeTierEligible: t.FreeTier,
		SupportedUsageClasses:         itemsXML{[]string{"on-demand"}},
		SupportedRootDeviceTypes:      itemsXML{[]string{"ebs"}},
		SupportedVirtualizationTypes:  itemsXML{[]string{"hvm"}},
		Hypervisor:                    "xen",
		ProcessorInfo:                 processorInfoXML{itemsXML{[]string{t.Architecture}}},
		VCpuInfo:                      vcpuInfoXML{DefaultVCpus: t.VCPUs, DefaultCores: t.VCPUs / threads, DefaultThreadsPerCore: threads, ValidThreadsPerCore: setOf(validThreads(t.Name, current, threads))},
		MemoryInfo:                    memoryInfoXML{t.MemoryMiB},
		BurstablePerformanceSupported: strings.HasPrefix(t.Name, "t") && !strings.HasPrefix(t.Name, "t1."), // t1 predates CPU credits
		SupportedBootModes:            itemsXML{[]string{"legacy-bios", "uefi"}},
	}
}

// validThreads is 1 … threads per core, for the types whose CPU options
// may be set (EC2 lists none for T2 and the previous generation).
func validThreads(name string, current bool, threads int) []string {
	if !current || strings.HasPrefix(name, "t2.") {
		return nil
	}
	var out []string
	for n := 1; n <= threads; n++ {
		out = append(out, strconv.Itoa(n))
	}
	return out
}

func instanceTypeAttrs(x instanceTypeXML) Attrs {
	b := strconv.FormatBool
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-type":
			return []string{x.InstanceType}, true
		case "current-generation":
			return []string{b(x.CurrentGeneration)}, true
		case "free-tier-eligible":
			return []string{b(x.FreeTierEligible)}, true
		case "bare-metal":
			return []string{b(x.BareMetal)}, true
		case "burstable-performance-supported":
			return []string{b(x.BurstablePerformanceSupported)}, true
		case "hypervisor":
			return []string{x.Hypervisor}, true
		case "vcpu-info.default-vcpus":
			return []string{strconv.Itoa(x.VCpuInfo.DefaultVCpus)}, true
		case "vcpu-info.default-cores":
			return []string{strconv.Itoa(x.VCpuInfo.DefaultCores)}, true
		case "vcpu-info.default-threads-per-core":
			return []string{strconv.Itoa(x.VCpuInfo.DefaultThreadsPerCore)}, true
		case "vcpu-info.valid-threads-per-core":
			if x.VCpuInfo.ValidThreadsPerCore == nil {
				return nil, true
			}
			return x.VCpuInfo.ValidThreadsPerCore.Items, true
		case "memory-info.size-in-mib":
			return []string{strconv.Itoa(x.MemoryInfo.SizeInMiB)}, true
		case "processor-info.supported-architecture":
			return x.ProcessorInfo.SupportedArchitectures.Items, true
		case "supported-usage-class":
			return x.SupportedUsageClasses.Items, true
		case "supported-root-device-type":
			return x.SupportedRootDeviceTypes.Items, true
		case "supported-virtualization-type":
			return x.SupportedVirtualizationTypes.Items, true
		}
		return nil, false
	}
}

func (s *Service) describeInstanceTypes(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, instanceTypeAttrs(instanceTypeXML{})); err != nil {
		return nil, err
	}
	names := r.Params.List("InstanceType")
	var missing []string
	for _, n := range names {
		if _, ok := s.catalog().InstanceType(n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, ec2err.New(ec2err.InvalidInstanceType, "The following supplied instance types do not exist: [%s]", strings.Join(missing, ", "))
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	lim, err := s.readLimits(r)
	if err != nil {
		return nil, err
	}
	var out []instanceTypeXML
	for _, t := range s.catalog().InstanceTypes() {
		if len(names) > 0 && !contains(names, t.Name) || !lim.AllowsType(t.Name) {
			continue
		}
		if x := instanceTypeItem(t); matchFilters(filters, instanceTypeAttrs(x)) {
			out = append(out, x)
		}
	}
	page, err := paginate(len(out), func(i int) string { return out[i].InstanceType }, r.Params, 5, 100)
	if err != nil {
		return nil, err
	}
	return &describeInstanceTypesResponse{InstanceTypes: out[page.Start:page.End], NextToken: page.NextToken}, nil
}
